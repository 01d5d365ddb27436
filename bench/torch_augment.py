"""torchvision baselines of the augmentation benchmarks (bench/bench_augment.c): the same
pipelines with torchvision.transforms on uint8 CHW tensors, one image at a time as a
DataLoader worker runs them, on one thread. measure(only) -> {kernel: {size: images/s}}.

When the benchmarks' shared library is built (build/bench/libnnopt_aug.so, or the path in
NNOPT_AUG_LIB), the same pipelines also run through nnopt in this process, alternately with
torchvision in short rounds, so both see the machine at the same speed; the best round of each
goes to out["_augment_paired"][kernel] = {"torchvision": images/s, "nnopt": images/s}."""
import ctypes
import os
import time

import torch

try:
    import numpy as np
    import torchvision.transforms as T
except ImportError:      # torchvision not installed: no baselines
    T = None

ROUNDS = 6               # paired rounds (each side at least ROUND_TIME seconds per round)
ROUND_TIME = 0.3


def _pipelines():
    cifar = T.Compose([
        T.RandomCrop(32, padding=4, padding_mode="reflect"),
        T.RandomHorizontalFlip(),
        T.ConvertImageDtype(torch.float),
        T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    ])
    imagenet = T.Compose([
        T.RandomResizedCrop(224, antialias=False),
        T.RandomHorizontalFlip(),
        T.ConvertImageDtype(torch.float),
        T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])
    return {
        "augment_cifar": ("b256", cifar, (3, 32, 32)),
        "augment_imagenet": ("b16", imagenet, (3, 375, 500)),
    }


def _images(shape):
    g = torch.Generator().manual_seed(0)
    return [torch.randint(0, 256, shape, dtype=torch.uint8, generator=g) for _ in range(16)]


def _rounds(fn, items, rounds, min_time):
    """Best images/s of `rounds` timed runs of fn (each at least min_time seconds)."""
    best = 0.0
    for _ in range(rounds):
        count, start = 0, time.perf_counter()
        while True:
            fn()
            count += items
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = max(best, count / elapsed)
    return best


def _torchvision(transform, images):
    def run():
        for img in images:
            transform(img)
    for img in images[:4]:
        transform(img)                                   # warm up
    return run


def _library():
    path = os.environ.get("NNOPT_AUG_LIB") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "build", "bench", "libnnopt_aug.so")
    if not os.path.exists(path):
        return None
    lib = ctypes.CDLL(path)
    lib.nnopt_bench_aug_batch.restype = ctypes.c_size_t
    lib.nnopt_bench_aug_batch.argtypes = [ctypes.c_char_p]
    lib.nnopt_bench_aug_run.restype = ctypes.c_size_t
    lib.nnopt_bench_aug_run.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
    return lib


def _nnopt(lib, kernel, images, out_shape):
    """One batch per call through the library, on the same images (as uint8 HWC), a new first
    sample index each call as the Google Benchmark run does."""
    name = kernel.encode()
    batch = lib.nnopt_bench_aug_batch(name)
    hwc = np.ascontiguousarray(np.stack([images[i % len(images)].permute(1, 2, 0).numpy() for i in range(batch)]))
    out = np.empty((batch,) + out_shape, dtype=np.float32)
    state = {"first": 0}

    def run():
        if lib.nnopt_bench_aug_run(name, hwc.ctypes.data, out.ctypes.data, state["first"]) != batch:
            raise RuntimeError("nnopt_bench_aug_run failed for " + kernel)
        state["first"] += batch
    run()                                                # warm up
    return run, batch


def measure(only=None):
    if T is None:
        return {}
    torch.set_num_threads(1)
    lib = _library()
    out, paired = {}, {}
    for kernel, (label, transform, shape) in _pipelines().items():
        if only and kernel not in only:
            continue
        images = _images(shape)
        theirs = _torchvision(transform, images)
        if lib is None:
            out[kernel] = {label: _rounds(theirs, len(images), 3, 0.5)}
            print("torchvision %-18s %.0f images/s" % (kernel, out[kernel][label]), flush=True)
            continue
        ours, batch = _nnopt(lib, kernel, images, tuple(transform(images[0]).shape))
        best_theirs = best_ours = 0.0
        for _ in range(ROUNDS):
            best_theirs = max(best_theirs, _rounds(theirs, len(images), 1, ROUND_TIME))
            best_ours = max(best_ours, _rounds(ours, batch, 1, ROUND_TIME))
        out[kernel] = {label: best_theirs}
        paired[kernel] = {"torchvision": best_theirs, "nnopt": best_ours}
        print("torchvision %-18s %.0f images/s; nnopt in the same process %.0f images/s (%.1fx)"
              % (kernel, best_theirs, best_ours, best_ours / best_theirs), flush=True)
    if paired:
        out["_augment_paired"] = paired
    return out


if __name__ == "__main__":
    measure()
