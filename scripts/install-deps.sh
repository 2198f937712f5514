#!/bin/sh
# Installs everything qsearch needs on a fresh Debian 12 machine: the build tool chain and
# libraries, the ONNX schema and conformance data used by the tests, and (unless
# --no-bench) what the benchmarks need (python3 venv/pip for onnxruntime, oneDNN).
# Non-interactive; uses sudo only when not run as root.
#
#   scripts/install-deps.sh            # build + tests + bench
#   scripts/install-deps.sh --no-bench # build + tests only
set -eu

bench=1
for arg in "$@"; do
    case "$arg" in
        --no-bench) bench=0 ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install-deps.sh: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done

packages="build-essential cmake pkg-config libgsl-dev libyaml-dev libopenblas-dev
    libhwloc-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata
    zlib1g-dev libcairo2-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
if [ "$bench" = 1 ]; then
    packages="$packages python3 python3-venv python3-pip libdnnl-dev"
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "install-deps.sh: not root and sudo is not installed" >&2
    exit 1
fi

# Skip apt entirely when everything is already there (CI images, repeated runs).
missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "install-deps.sh: all packages already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
