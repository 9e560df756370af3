#!/bin/sh
# openbao/openbao's rule: a first argument that is a bao subcommand runs bao.
set -eu
case "${1:-}" in
server | version | status | operator | -*) exec bao "$@" ;;
*) exec "$@" ;;
esac
