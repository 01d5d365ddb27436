"""The dropout section's rows of the targets table in docs/performance.md (bench/report.py)."""

TITLE = "dropout and random numbers"
KERNELS = ("dropout_forward", "dropout_forward_nomask", "dropout_backward", "dropout_backward_mask",
           "philox", "dropconnect_forward", "dropconnect_backward")


def targets(get, best, torch, row):
    row("dropout forward 16M (writing the bit mask): at least 0.80 of its roof",
        get("dropout_forward", "16M", best, "roof"), lambda v: v >= 0.80)
    ours = get("dropout_forward", "16M", best, "items_per_second")
    theirs = (torch or {}).get("dropout_forward", {}).get("16M")
    row("dropout forward 16M: at least 20x torch 1.13 nn.Dropout in training mode (one thread)",
        ours / theirs if ours and theirs else None, lambda v: v >= 20)
    for size in ("64K", "16M"):
        words = get("philox", size, "avx512", "items_per_second")
        row("Philox4x32-10 %s (avx512): at least 1e9 32-bit words/s per core (value in 1e9/s)" % size,
            words / 1e9 if words else None, lambda v: v >= 1.0)
