"""torch 1.13 baseline of the regularization section, one thread (loaded by
bench/compare_torch.py): the elastic-net penalty value with its gradient added into an
existing gradient, written the way a torch user would without autograd
(grad.add_(w.sign(), alpha=l1).add_(w, alpha=l2); the value from two reductions).
measure(only) returns {kernel: {size_label: elements_per_second}} under the benchmark names
of bench/bench_reg.c."""
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
        if not only or "penalty" in only:
            out["penalty"] = {}
            for label, n in SIZES.items():
                w, g = torch.randn(n), torch.zeros(n)

                def step():
                    g.add_(w.sign(), alpha=1e-7).add_(w, alpha=1e-7)
                    return 1e-7 * w.abs().sum() + 0.5e-7 * w.dot(w)
                out["penalty"][label] = _rate(step, n, 0.3 if n < (1 << 24) else 1.0)
                print("torch %-16s %4s %.3f G elem/s" % ("penalty", label, out["penalty"][label] / 1e9), flush=True)
    return out


if __name__ == "__main__":
    import json
    import sys
    print(json.dumps(measure(sys.argv[1:] or None), indent=1))
