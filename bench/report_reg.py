"""The regularization section's rows of the targets table in docs/performance.md (bench/report.py)."""

TITLE = "regularization"
KERNELS = ("penalty", "penalty_value", "proximal_sgd", "max_norm")


def targets(get, best, torch, row):
    for kernel in ("penalty", "penalty_value", "proximal_sgd"):   # the penalty kernels
        row("%s 16M: at least 0.90 of its roof" % kernel, get(kernel, "16M", best, "roof"),
            lambda v: v >= 0.90)
    ours = get("penalty", "16M", best, "items_per_second")
    theirs = (torch or {}).get("penalty", {}).get("16M")
    row("penalty 16M: faster than the same in torch 1.13 (one thread)",
        ours / theirs if ours and theirs else None, lambda v: v >= 1)
