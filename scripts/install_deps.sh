#!/usr/bin/env bash
# Installs the project's dependencies from Debian 12 packages, in two sets:
#
#   scripts/install_deps.sh          # what building and running need (scripts/evaluate.sh)
#   scripts/install_deps.sh --test   # that, plus what the tests add (scripts/test.sh)
#
# Idempotent: packages already present are skipped, and apt is not touched at
# all when nothing is missing.
set -euo pipefail

run_packages=(
  build-essential cmake pkg-config git ca-certificates
  libtorch-dev            # LibTorch (CPU) for the converted model
  libdnnl-dev             # oneDNN, under LibTorch's convolutions: fused residual sums
  libhdf5-dev             # HDF5 C API for reading the Keras .h5
  zlib1g-dev              # inflating the members of Keras 3 .keras archives (zip)
  nlohmann-json3-dev      # parser for the model_config JSON: header-only, strict, good errors
  libabsl-dev             # Status/StatusOr, flags, strings
  libgoogle-glog-dev      # the server's logging (LibTorch already brings it)
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libssl-dev              # sha256 of model and data files
  libpng-dev              # client `classify` of PNG images, HTML report thumbnails
  libjpeg-dev             # client `classify` of JPEG images
  libcpp-httplib-dev      # the server's Prometheus /metrics endpoint
)
test_packages=(
  libgtest-dev libgmock-dev
  ccache                  # the sanitizer trees rebuild only what changed
  python3-torch           # Python loads the converted state dict and TorchScript module
  python3-h5py            # writes .h5 fixtures the ways other Keras versions store them
  python3-numpy python3-sklearn  # the AUC checked against scikit-learn's roc_auc_score
  python3-grpcio python3-grpc-tools  # a client that shares no code with ours
  clang-14 libclang-rt-14-dev llvm-14  # ASan/UBSan build and libFuzzer (scripts/sanitize.sh)
  clang-format-14         # the format check in scripts/test.sh
  openssl                 # test certificates for the TLS tests
  yamllint python3-yaml   # validation of the Kubernetes manifest (deploy/k8s/validate.sh)
  chromium                # renders the HTML report in a test (headless)
)

# tfjs-layers, Google's JavaScript implementation of the Keras layers: the
# independent reference of tests/e2e/layer_fixtures_test.sh, from the npm registry
# into .deps/tfjs (pinned versions; not part of the build).
tfjs_packages=(@tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-layers@4.22.0 @tensorflow/tfjs-backend-cpu@4.22.0)
# buf, a generic gRPC client that learns the API from server reflection (buf
# curl): tests/e2e/inference_protocol_test.sh calls the server with it, into .deps/buf.
buf_packages=(@bufbuild/buf@1.75.0)

# ONNX Runtime, the speed peer of scripts/benchmark.sh (not used by any test),
# into .deps/ort; ONNXRUNTIME_NODE_INSTALL=skip keeps its installer from
# downloading GPU libraries: the package carries the CPU build.
ort_packages=(onnxruntime-node@1.30.0)

packages=("${run_packages[@]}")
with_tests=false with_peer=false
case "${1:-}" in
  --test) packages+=("${test_packages[@]}"); with_tests=true ;;
  --bench) packages+=("${test_packages[@]}"); with_tests=true with_peer=true ;;
  "") ;;
  *) echo "usage: $0 [--test | --bench]" >&2; exit 2 ;;
esac
# Node.js runs tfjs-layers; a machine that has it (from any source) keeps it.
if $with_tests && ! command -v node > /dev/null; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "install_deps: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm_install DIR PACKAGE VERSION PACKAGES...: installs PACKAGES into DIR
# unless PACKAGE is there at VERSION already.
npm_install() {
  local dir=$1 package=$2 version=$3
  shift 3
  if [[ ! -f "$dir/node_modules/$package/package.json" ]] ||
     ! grep -q "\"version\": \"$version\"" "$dir/node_modules/$package/package.json"; then
    echo "install_deps: npm install $* into $dir" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$@"
  fi
}

if $with_tests; then
  deps="$(cd "$(dirname "$0")/.." && pwd)/.deps"
  npm_install "$deps/tfjs" @tensorflow/tfjs-layers 4.22.0 "${tfjs_packages[@]}"
  npm_install "$deps/buf" @bufbuild/buf 1.75.0 "${buf_packages[@]}"
fi
# The peer is optional: without it the benchmark says "peer skipped" and
# measures our paths alone, so a failed install is reported, not fatal.
if $with_peer; then
  export ONNXRUNTIME_NODE_INSTALL=skip
  npm_install "$deps/ort" onnxruntime-node 1.30.0 "${ort_packages[@]}" \
    || echo "install_deps: could not install onnxruntime-node; the benchmark will skip the peer" >&2
fi
