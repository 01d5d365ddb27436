#!/usr/bin/python3
"""torch 1.13 on one thread, same kernels and sizes as bench/nnopt_bench, for the ratio table
in docs/performance.md. Writes JSON {kernel: {size: elements_per_second}}.

    /usr/bin/python3 bench/compare_torch.py OUT.json

Skips (exit 0, no file) when torch is not installed. Each optimizer runs its torch default
single-tensor (for-loop) path on one float32 tensor, as a user's training loop would.
"""
import json
import sys

from sections import load_modules

try:
    import torch
    from torchrate import rate
except ImportError:
    print("compare_torch.py: torch is not installed; skipping")
    sys.exit(0)

SIZES = {"4K": 4096, "16K": 16384, "64K": 65536, "1M": 1 << 20, "16M": 1 << 24}
OPTIMIZERS = {
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p),
    "adamw": lambda p: torch.optim.AdamW(p),
    "adagrad": lambda p: torch.optim.Adagrad(p),
    "rmsprop": lambda p: torch.optim.RMSprop(p),
    "adadelta": lambda p: torch.optim.Adadelta(p),
    "adamax": lambda p: torch.optim.Adamax(p),
    "nadam": lambda p: torch.optim.NAdam(p),
    "radam": lambda p: torch.optim.RAdam(p),
    "rprop": lambda p: torch.optim.Rprop(p),
    "asgd": lambda p: torch.optim.ASGD(p),
}


def measure(make, n, min_time):
    p = torch.ones(n, requires_grad=True)
    p.grad = torch.full((n,), 1e-3)
    opt = make([p])
    opt.step()                                      # lazy state creation outside the timing
    return rate(opt.step, n, min_time)


def section_modules():
    """bench/torch_<section>.py: each section's torch baselines; measure(only) returns
    {kernel: {size: elements_per_second}} (only: kernel names to run, or None for all)."""
    return load_modules("torch_")


def main():
    torch.set_num_threads(1)
    out = {"_version": torch.__version__}
    only = sys.argv[2:] if len(sys.argv) > 2 else None
    for name, make in OPTIMIZERS.items():
        if only and name not in only:
            continue
        out[name] = {}
        for label, n in SIZES.items():
            out[name][label] = measure(make, n, 0.3 if n < (1 << 24) else 1.0)
            print("torch %-12s %4s %.3f G elem/s" % (name, label, out[name][label] / 1e9), flush=True)
    for mod in section_modules():
        out.update(mod.measure(only))
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
