#!/bin/sh
# All-int8 PTQ top-1 of the CIFAR-10 ResNets 20/32/44/56: fp32, qsearch int8 for every
# calibration method, onnxruntime quantize_static (MinMax, Entropy, Percentile); calibrated
# on the 1,000 images of cifar10-calib-train-1000, evaluated on the 10,000 of
# cifar10-test-jpeg. Prints one table (see bench/quant/README.md).
#
#   bench/quant/accuracy.sh [--models 20,56] [--methods kl,mse] [--jobs 2] [--reuse] ...
#
# Options go to accuracy.py (--help lists them). Environment: see common.sh.
set -eu
. "$(dirname "$0")/common.sh"
exec "$python" "$root/bench/quant/accuracy.py" --qsearch "$qsearch" --data "$data" \
    --out "$out/accuracy" "$@"
