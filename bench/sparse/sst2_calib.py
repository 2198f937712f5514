#!/usr/bin/env python3
"""Tokenises the first N sentences of SST-2 train.tsv as the sst2-tiny-transformer README
says (lower-case, split on spaces, vocab line numbers, unknown = 1, pad/truncate to 64) and
writes ids (int64) and mask (float32) .npy files: calibration data that is not the dev set.

    sst2_calib.py DATA_DIR N OUT_PREFIX
"""
import sys

import numpy as np

data, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
vocab = {w: i for i, w in enumerate(open(f"{data}/sst2-tiny-transformer/vocab.txt",
                                         encoding="utf-8").read().split("\n"))}
ids = np.zeros((n, 64), np.int64)
mask = np.zeros((n, 64), np.float32)
with open(f"{data}/sst2/train.tsv", encoding="utf-8") as f:
    next(f)
    for i, line in zip(range(n), f):
        toks = [vocab.get(t, 1) for t in line.split("\t")[0].lower().split(" ") if t][:64]
        ids[i, :len(toks)] = toks
        mask[i, :len(toks)] = 1.0
np.save(out + "_ids.npy", ids)
np.save(out + "_mask.npy", mask)
