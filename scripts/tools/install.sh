#!/usr/bin/env bash
# Installs the static-check tools of the deployment appliance (tests/appliance)
# from Debian's archive: nix-instantiate and nix (package nix-bin) evaluate the
# flake's uv2nix part and hash its inputs, docker-compose v1 validates
# deploy/compose without a container engine, psql applies migrations/postgres.
# kubectl, kubernetes-validate and checkov come from uv.lock (appliance group).
# Go (>= 1.24) builds Compose v2's loader and downloads the upstream CRDs (Go
# modules): when none is found, the Go toolchain module golang.org/toolchain is
# fetched from the Go module proxy into ~/.cache/onex-host/go (as `go` itself
# fetches toolchains) and tests/appliance finds it there.
#
# Then runs observability.sh beside it (the observability tests' tools).
#
# Idempotent: a tool already on PATH is left alone, so a second run makes no
# network call. Needs root (or sudo) only when a Debian package is missing.
set -euo pipefail

GO_VERSION="1.26.8"
GO_DIR="${ONEX_GO_DIR:-$HOME/.cache/onex-host/go}"

go_is_recent() {
    local version
    version=$("$1" env GOVERSION 2>/dev/null) || return 1
    version=${version#go}
    [[ $(printf '%s\n' "1.24" "$version" | sort -V | head -n1) == "1.24" ]]
}

install_go() {
    local candidate
    for candidate in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go "$GO_DIR/bin/go"; do
        if [[ -n $candidate && -x $candidate ]] && go_is_recent "$candidate"; then
            echo ">> go present: $candidate"
            return
        fi
    done
    local arch
    case "$(uname -m)" in
        x86_64) arch=amd64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) echo "error: no Go toolchain for $(uname -m); install Go >= 1.24" >&2; exit 1 ;;
    esac
    local module="v0.0.1-go${GO_VERSION}.linux-${arch}"
    echo ">> installing Go ${GO_VERSION} (module golang.org/toolchain@${module}) into $GO_DIR"
    local scratch
    scratch=$(mktemp -d)
    curl -fsSL -o "$scratch/go.zip" "https://proxy.golang.org/golang.org/toolchain/@v/${module}.zip"
    python3 - "$scratch/go.zip" "$scratch/unpacked" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as archive:
    for member in archive.infolist():
        path = archive.extract(member, sys.argv[2])
        mode = member.external_attr >> 16
        if mode:
            import os
            os.chmod(path, mode)
PY
    rm -rf "$GO_DIR"
    mkdir -p "$(dirname "$GO_DIR")"
    mv "$scratch/unpacked/golang.org/toolchain@${module}" "$GO_DIR"
    rm -rf "$scratch"
    go_is_recent "$GO_DIR/bin/go" || { echo "error: $GO_DIR/bin/go does not run" >&2; exit 1; }
}

declare -A package_of_tool=(
    [nix-instantiate]=nix-bin
    [nix]=nix-bin
    [docker-compose]=docker-compose
    [psql]=postgresql-client
    [curl]=curl
)

missing_packages=()
for tool in "${!package_of_tool[@]}"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        missing_packages+=("${package_of_tool[$tool]}")
    fi
done

if [ "${#missing_packages[@]}" -eq 0 ]; then
    echo ">> appliance check tools present: ${!package_of_tool[*]}"
    install_go
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
install_go
exec bash "$(dirname "${BASH_SOURCE[0]}")/observability.sh"
