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
  libhdf5-dev             # HDF5 C API for reading the Keras .h5
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

packages=("${run_packages[@]}")
case "${1:-}" in
  --test) packages+=("${test_packages[@]}") ;;
  "") ;;
  *) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install_deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
