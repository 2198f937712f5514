#!/bin/sh
# Creates bench/.venv (gitignored) with onnxruntime, onnx and numpy, used by
# bench/ort_bench.py as the reference runtime for bench/run-fp32.sh. Needs network access
# to PyPI once. Re-running is cheap: an existing venv is only checked.
#
#   bench/setup.sh
#   QS_PYTHON=/usr/bin/python3 bench/setup.sh   # pick the interpreter
set -eu

here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"
# Pinned so timings stay comparable between runs; override with QS_ORT_VERSION.
ort_version=${QS_ORT_VERSION:-1.31.1}
python=${QS_PYTHON:-python3}

ready() {
    "$venv/bin/python" -c \
        "import onnxruntime as o, onnx, numpy; print('bench/.venv ready: onnxruntime', o.__version__)"
}
if [ -x "$venv/bin/python" ] && ready 2>/dev/null; then
    exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "onnxruntime==$ort_version" onnx numpy
ready
