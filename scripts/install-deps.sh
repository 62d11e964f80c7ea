#!/usr/bin/env bash
# Installs the Debian 12 packages hami needs to build and test. Idempotent: packages already
# present are skipped, and nothing is downloaded from outside Debian's archive.
set -euo pipefail
packages=(
  cmake make g++ pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev
  libcurl4-openssl-dev libcpp-httplib-dev libssl-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  python3 openssl
  prometheus  # /usr/bin/prometheus: tests scrape /metrics with the real server (skipped without)
  etcd-server  # the real control plane of tests/e2e (../shared/k8s runs kube-apiserver on it)
)
# tests/deploy renders deploy/ with `kubectl kustomize`: Debian's kubectl (1.20, kustomize
# v2.0.3) only where no kubectl is installed, so a newer one is never replaced.
command -v kubectl > /dev/null 2>&1 || packages+=(kubernetes-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}" ||
  { "${sudo_cmd[@]}" apt-get update && "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; }
