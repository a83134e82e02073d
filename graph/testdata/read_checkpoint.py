"""Reads a g2g checkpoint with numpy alone and prints what a user would check.

Usage: python3 read_checkpoint.py CHECKPOINT.npz

Prints one JSON object: the metadata's epoch and step, and for every
parameter its shape, the sum of its values, its number of nonzero entries and,
for masked ones, the number of active edges and whether every masked weight is
exactly zero.
"""
import json
import sys

import numpy as np

ck = np.load(sys.argv[1])
meta = json.loads(bytes(ck["g2g_meta"]).decode("utf-8"))
out = {"epoch": meta["epoch"], "step": meta["step"], "params": {}}
for p in meta["params"]:
    w = ck["param/" + p["name"]]
    assert w.dtype == np.float32 and list(w.shape) == p["shape"], p
    info = {"shape": list(w.shape), "sum": float(w.astype(np.float64).sum()), "nonzero": int(np.count_nonzero(w))}
    if p["masked"]:
        m = ck["mask/" + p["name"]]
        info["active"] = int(m.sum())
        info["masked_zero"] = bool(np.all(w[m == 0] == 0))
    out["params"][p["name"]] = info
print(json.dumps(out))
