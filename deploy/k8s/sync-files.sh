#!/bin/sh
# Copy the files the overlays put into ConfigMaps from their one source (the
# repository's contracts/ and migrations/) into the kustomize tree, so that
# `kubectl kustomize` and Argo CD render with kustomize's default load
# restrictor (a kustomization may only read files under its own directory).
# tests/appliance/test_k8s_manifests.py fails, naming this script, when a copy
# differs from its source. Run from anywhere: sh deploy/k8s/sync-files.sh
set -eu
k8s=$(cd "$(dirname "$0")" && pwd)
repository=$(cd "$k8s/../.." && pwd)

copy() {
    mkdir -p "$(dirname "$k8s/$2")"
    cp "$repository/$1" "$k8s/$2"
}

copy contracts/runtime/infra_runtime_host.yaml base/contracts/runtime/infra_runtime_host.yaml
for node in vault_adapter consul_adapter postgres_adapter; do
    copy "contracts/nodes/$node.yaml" "base/contracts/nodes/$node.yaml"
done
rm -f "$k8s"/overlays/production/migrations/postgres/*
for file in "$repository"/migrations/postgres/*; do
    copy "migrations/postgres/$(basename "$file")" "overlays/production/migrations/postgres/$(basename "$file")"
done
