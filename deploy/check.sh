#!/usr/bin/env bash
# Offline checks of everything under deploy/ and docker-compose.yml: no Docker engine, no
# cluster, no network beyond the npm registry and Debian's packages. Called by .ci/run before
# `npm test`; the schema, env-name and real-Prometheus checks are jest tests in deploy/test/.
#
#   promtool      check config, check rules, test rules   (Debian package prometheus)
#   dclint        docker-compose.yml against the Compose Specification schema + lint rules
#   dockerfile-utils lint deploy/docker/Dockerfile        (the VS Code Dockerfile validator)
#   kubectl kustomize  base and the overlays render      (kustomize v5, deploy/scripts/ensure-kubectl.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '[deploy] %s\n' "$*"; }

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "[deploy] promtool/prometheus missing; run as root: apt-get install -y prometheus" >&2
    exit 1
  fi
  step "installing prometheus (for promtool and the scrape test)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

step "promtool check config"
promtool check config deploy/prometheus/prometheus.yml
step "promtool check rules"
promtool check rules deploy/prometheus/rules/*.yml
step "promtool test rules"
promtool test rules deploy/prometheus/tests/*.yml

step "dclint docker-compose.yml"
npx --no-install dclint -c deploy/dclint.json --max-warnings 0 docker-compose.yml

step "dockerfile-utils lint deploy/docker/Dockerfile"
npx --no-install dockerfile-utils lint deploy/docker/Dockerfile

kubectl=$(bash deploy/scripts/ensure-kubectl.sh)
for dir in deploy/k8s/base deploy/k8s/overlays/dev deploy/k8s/overlays/prod deploy/k8s/overlays/prod-keda; do
  step "kubectl kustomize $dir"
  "$kubectl" kustomize "$dir" >/dev/null
done

step "ok (schema, env-name and live Prometheus checks run in npm test: deploy/test/)"
