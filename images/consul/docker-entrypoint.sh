#!/bin/sh
set -eu
case "${1:-}" in
agent | members | version | kv | catalog | -*) exec consul "$@" ;;
*) exec "$@" ;;
esac
