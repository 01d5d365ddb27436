"""Targets of the augmentation benchmarks: each pipeline at least 10x torchvision's transforms
on tensors (bench/torch_augment.py), one thread, in images per second. The ratio comes from
the paired measurement (both timed alternately in one process) when the torch run made one,
else from this run's images/s over the torch run's."""

TITLE = "augmentation"
UNIT = "images"   # items per second are images per second
KERNELS = ("augment_cifar", "augment_imagenet")
LABELS = {"augment_cifar": "b256", "augment_imagenet": "b16"}
TEXT = {"augment_cifar": "CIFAR pipeline (reflect-pad 4, crop 32, flip, normalize)",
        "augment_imagenet": "ImageNet pipeline (random resized crop 500x375 -> 224, flip, normalize)"}


def targets(get, best, torch, row):
    paired = (torch or {}).get("_augment_paired", {})
    for kernel in KERNELS:
        label = LABELS[kernel]
        pair = paired.get(kernel)
        if pair:
            ratio, how = pair["nnopt"] / pair["torchvision"], "paired in one process"
        else:
            ours = get(kernel, label, best, "items_per_second")
            theirs = (torch or {}).get(kernel, {}).get(label)
            ratio, how = (ours / theirs if ours and theirs else None), "separate runs"
        row("%s: at least 10x torchvision on tensors (images/s, one thread; %s)" % (TEXT[kernel], how), ratio,
            lambda v: v >= 10, "%.1f")
