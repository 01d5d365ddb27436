"""Targets of the augmentation benchmarks: each pipeline at least 10x torchvision's transforms
on tensors (bench/torch_augment.py), one thread, in images per second."""

KERNELS = ("augment_cifar", "augment_imagenet")
LABELS = {"augment_cifar": "b256", "augment_imagenet": "b16"}
TEXT = {"augment_cifar": "CIFAR pipeline (reflect-pad 4, crop 32, flip, normalize)",
        "augment_imagenet": "ImageNet pipeline (random resized crop 500x375 -> 224, flip, normalize)"}


def targets(get, best, torch, row):
    for kernel in KERNELS:
        label = LABELS[kernel]
        ours = get(kernel, label, best, "items_per_second")
        theirs = (torch or {}).get(kernel, {}).get(label)
        ratio = ours / theirs if ours and theirs else None
        row("%s: at least 10x torchvision on tensors (images/s, one thread)" % TEXT[kernel], ratio,
            lambda v: v >= 10, "%.1f")
