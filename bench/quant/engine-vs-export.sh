#!/bin/sh
# Engine = export: the all-int8 model run by qsearch's integer engine vs the QDQ model that
# `qsearch quantize` exports, run by onnxruntime, on mnist-8, the CIFAR-10 ResNets and
# SqueezeNet 1.1. Prints one table (see bench/quant/README.md); exits 1 when a goal is missed.
#
#   bench/quant/engine-vs-export.sh [--models mnist-8,resnet20] [--calib-method kl,mse] ...
#
# Options go to engine_vs_export.py (--help lists them). Environment: see common.sh.
set -eu
. "$(dirname "$0")/common.sh"
exec "$python" "$root/bench/quant/engine_vs_export.py" --qsearch "$qsearch" --data "$data" \
    --out "$out/engine-vs-export" "$@"
