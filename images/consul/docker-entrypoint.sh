#!/bin/sh
# hashicorp/consul's rule: a consul subcommand (or a flag) runs consul, and an
# agent also reads /consul/config (here: no update checks, no calls home).
set -eu
case "${1:-}" in
agent) shift; exec consul agent -config-dir=/consul/config "$@" ;;
members | version | kv | catalog | -*) exec consul "$@" ;;
*) exec "$@" ;;
esac
