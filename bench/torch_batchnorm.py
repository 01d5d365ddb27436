"""torch 1.13 BatchNorm2d on one thread, for the batch-norm rows of bench/compare_torch.py:
training forward (module call in train mode) and backward (autograd of the output, input
gradient plus weight and bias gradients, as in training), NCHW and channels_last, at the
benchmark's shapes. Kernel and size names match bench/bench_batchnorm.c."""
import time

import torch

SHAPES = {"3M": (64, 256, 14, 14), "49K": (16, 64, 7, 7)}


def _rate(fn, elements, min_time):
    fn()                                            # warm-up outside the timing
    best = None
    for _ in range(3):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time and calls >= 3:
                break
        rate = elements * calls / elapsed
        best = rate if best is None or rate > best else best
    return best


def measure(only=None, min_time=0.3):
    torch.set_num_threads(1)
    out = {}
    for layout, fmt in (("nchw", torch.contiguous_format), ("nhwc", torch.channels_last)):
        fwd, bwd = "bn_fwd_train_" + layout, "bn_bwd_train_" + layout
        for label, shape in SHAPES.items():
            x = torch.randn(*shape).contiguous(memory_format=fmt)
            bn = torch.nn.BatchNorm2d(shape[1]).train()
            n = x.numel()
            if not only or fwd in only:
                with torch.no_grad():
                    out.setdefault(fwd, {})[label] = _rate(lambda: bn(x), n, min_time)
            if not only or bwd in only:
                xg = x.clone().requires_grad_(True)
                y = bn(xg)
                dy = torch.randn_like(y)
                params = [xg, bn.weight, bn.bias]
                out.setdefault(bwd, {})[label] = _rate(
                    lambda: torch.autograd.grad(y, params, dy, retain_graph=True), n, min_time)
            for k in (fwd, bwd):
                if label in out.get(k, {}):
                    print("torch %-18s %4s %.3f G elem/s" % (k, label, out[k][label] / 1e9), flush=True)
    return out


if __name__ == "__main__":
    measure(min_time=0.1)
