"""torchvision baselines of the augmentation benchmarks (bench/bench_augment.c): the same
pipelines with torchvision.transforms on uint8 CHW tensors, one image at a time as a
DataLoader worker runs them, on one thread. measure(only) -> {kernel: {size: images/s}}."""
import time

import torch

try:
    import torchvision.transforms as T
except ImportError:      # torchvision not installed: no baselines
    T = None


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


def _rate(transform, shape, min_time):
    g = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, shape, dtype=torch.uint8, generator=g) for _ in range(16)]
    for img in images[:4]:
        transform(img)                                   # warm up
    best = 0.0
    for _ in range(3):
        count, start = 0, time.perf_counter()
        while True:
            for img in images:
                transform(img)
            count += len(images)
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = max(best, count / elapsed)
    return best


def measure(only=None):
    if T is None:
        return {}
    torch.set_num_threads(1)
    out = {}
    for kernel, (label, transform, shape) in _pipelines().items():
        if only and kernel not in only:
            continue
        out[kernel] = {label: _rate(transform, shape, 0.5)}
        print("torchvision %-18s %.0f images/s" % (kernel, out[kernel][label]), flush=True)
    return out


if __name__ == "__main__":
    measure()
