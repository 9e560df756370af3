#!/usr/bin/env bash
# Installs the static-check tools of the deployment appliance (tests/appliance)
# from Debian's archive: nix-instantiate (package nix-bin) parses flake.nix, and
# docker-compose v1 validates deploy/compose without a container engine.
# kubectl, kubernetes-validate and checkov come from uv.lock (appliance group).
#
# Then runs observability.sh beside it (the observability tests' tools).
#
# Idempotent: a tool already on PATH is left alone, so a second run makes no
# network call. Needs root (or sudo) only when something is missing.
set -euo pipefail

declare -A package_of_tool=(
    [nix-instantiate]=nix-bin
    [docker-compose]=docker-compose
)

missing_packages=()
for tool in "${!package_of_tool[@]}"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        missing_packages+=("${package_of_tool[$tool]}")
    fi
done

if [ "${#missing_packages[@]}" -eq 0 ]; then
    echo ">> appliance check tools present: ${!package_of_tool[*]}"
    # The observability tests' tools (promtool, prometheus, chromium, the AsyncAPI parser) too, so every
    # caller of this script (make tools, `dagger call test`) gets them.
    exec bash "$(dirname "${BASH_SOURCE[0]}")/observability.sh"
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: missing ${missing_packages[*]} and no apt-get here; install them with your package manager" >&2
    exit 1
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    as_root=(sudo)
fi

echo ">> installing appliance check tools from Debian: ${missing_packages[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing_packages[@]}" >/dev/null

for tool in "${!package_of_tool[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool still missing after install" >&2; exit 1; }
done
echo ">> appliance check tools installed"
exec bash "$(dirname "${BASH_SOURCE[0]}")/observability.sh"
