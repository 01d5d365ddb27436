"""torch 1.13 baseline of the dropout section, one thread (loaded by bench/compare_torch.py):
nn.Dropout(p=0.5) in training mode, forward only (no autograd). measure(only) returns
{kernel: {size_label: elements_per_second}} under the benchmark names of bench/bench_dropout.c."""
import time

import torch

SIZES = {"4K": 4096, "64K": 65536, "1M": 1 << 20, "16M": 1 << 24}


def _rate(fn, n, min_time):
    fn()                                            # warm up (allocations, first-touch)
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time and calls >= 3:
            return n * calls / elapsed


def measure(only=None):
    torch.set_num_threads(1)
    out = {}
    with torch.no_grad():
        if not only or "dropout_forward" in only:
            drop = torch.nn.Dropout(p=0.5)
            drop.train()
            out["dropout_forward"] = {}
            for label, n in SIZES.items():
                x = torch.ones(n)
                out["dropout_forward"][label] = _rate(lambda: drop(x), n, 0.3 if n < (1 << 24) else 1.0)
                print("torch %-16s %4s %.3f G elem/s" % ("dropout_forward", label,
                                                         out["dropout_forward"][label] / 1e9), flush=True)
    return out


if __name__ == "__main__":
    import json
    import sys
    print(json.dumps(measure(sys.argv[1:] or None), indent=1))
