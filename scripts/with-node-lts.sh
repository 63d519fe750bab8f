#!/usr/bin/env bash
# Runs a command with the current Node LTS first on PATH, e.g.
#   bash scripts/with-node-lts.sh npm test
# The LTS comes from the npm registry's `node` package, installed under .cache/node-lts/ (its own
# prefix: the project's node_modules and package-lock.json are not touched). The version is the
# one the images are built on (deploy/docker/Dockerfile, ARG NODE_IMAGE); OUTBOUND_NODE_LTS
# overrides it (a major, e.g. 24, or an exact version).
set -euo pipefail
cd "$(dirname "$0")/.."

image=$(sed -nE 's/^ARG NODE_IMAGE=node:([0-9]+)[-.].*/\1/p' deploy/docker/Dockerfile)
want=${OUTBOUND_NODE_LTS:-$image}
[ -n "$want" ] || { echo "[node-lts] no Node major in deploy/docker/Dockerfile's ARG NODE_IMAGE" >&2; exit 1; }
prefix=.cache/node-lts/$want
bin=$prefix/node_modules/.bin

if ! "$bin/node" -v >/dev/null 2>&1; then
  echo "[node-lts] installing node@$want into $prefix"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --no-save --loglevel=error "node@$want" >/dev/null
fi
export PATH="$PWD/$bin:$PATH"
echo "[node-lts] $(node -v): $*"
exec "$@"
