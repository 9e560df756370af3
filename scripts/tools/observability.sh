#!/usr/bin/env bash
# Installs what the AsyncAPI and observability tests (tests/unit/infra/test_asyncapi.py,
# tests/observability) run for real:
#   * promtool and prometheus (Debian's prometheus package): rule checks, rule unit
#     tests, and a real server that scrapes a real host;
#   * chromium (Debian): headless screenshots of the rendered AsyncAPI page, read back
#     with tesseract (Debian's tesseract-ocr, English data);
#   * the AsyncAPI parser (@asyncapi/parser, pinned in tools/asyncapi/package-lock.json),
#     installed with `npm ci` into .cache/asyncapi-parser and run with Debian's node.
#
# Idempotent: present tools are left alone, and the parser is reinstalled only
# when the lock file changed (its hash is stamped in the cache), so a second run
# makes no network call. Needs root (or sudo) only when a Debian package is missing.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

declare -A package_of_tool=(
    [promtool]=prometheus
    [prometheus]=prometheus
    [chromium]=chromium
    [tesseract]="tesseract-ocr tesseract-ocr-eng"
    # Debian's nodejs has no npm of its own; a nodejs that bundles npm (NodeSource) conflicts with Debian's npm,
    # so npm is only ever installed together with nodejs.
    [node]="nodejs npm"
)

missing_packages=()
for tool in "${!package_of_tool[@]}"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        # shellcheck disable=SC2206 # a tool may need two packages (tesseract and its English data, node and npm)
        missing_packages+=(${package_of_tool[$tool]})
    fi
done

if [ "${#missing_packages[@]}" -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: missing ${missing_packages[*]} and no apt-get here; install them with your package manager" >&2
        exit 1
    fi
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        as_root=(sudo)
    fi
    # One package can serve two tools (promtool, prometheus).
    mapfile -t missing_packages < <(printf '%s\n' "${missing_packages[@]}" | sort -u)
    echo ">> installing observability tools from Debian: ${missing_packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing_packages[@]}" >/dev/null
    # Debian starts the packaged Prometheus as a service on :9090; the tests start
    # their own on a free loopback port and the host's metrics default to 9090.
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        "${as_root[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
    for tool in "${!package_of_tool[@]}"; do
        command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool still missing after install" >&2; exit 1; }
    done
fi
command -v npm >/dev/null 2>&1 || { echo "error: node is here but npm is not: install npm for this node" >&2; exit 1; }
echo ">> observability tools present: ${!package_of_tool[*]} npm"

lock="$repo/tools/asyncapi/package-lock.json"
cache="$repo/.cache/asyncapi-parser"
stamp="$cache/.lock-sha256"
want="$(sha256sum "$lock" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$cache/node_modules/@asyncapi/parser" ]; then
    echo ">> AsyncAPI parser present: $cache"
    exit 0
fi
echo ">> installing the AsyncAPI parser (npm ci) into $cache"
rm -rf "$cache"
mkdir -p "$cache"
cp "$repo/tools/asyncapi/package.json" "$lock" "$cache/"
(cd "$cache" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
echo "$want" >"$stamp"
echo ">> AsyncAPI parser installed"
