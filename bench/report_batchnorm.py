"""Batch-norm rows of the targets table (loaded by bench/report.py).

Targets of the issue at (64, 256, 14, 14) fp32, one thread ("3M"): training forward and
backward at least 4x torch 1.13 BatchNorm2d (its default NCHW layout) and at least 0.70 of
the memory roof of the passes they need. Beside them: the ratio over torch in the same
layout (channels_last for NHWC) and over oneDNN's batch normalization when it was built in.
"""

TITLE = "batch norm"
KERNELS = ("bn_fwd_train_nchw", "bn_fwd_train_nhwc", "bn_bwd_train_nchw", "bn_bwd_train_nhwc")


def targets(get, best, torch, row):
    for kernel in KERNELS:
        pass_name = "forward" if "_fwd_" in kernel else "backward"
        layout = kernel.rsplit("_", 1)[1].upper()
        ours = get(kernel, "3M", best, "items_per_second")
        row("batch norm %s %s 3M: at least 0.70 of the roof of its passes" % (pass_name, layout),
            get(kernel, "3M", best, "roof"), lambda v: v >= 0.70)
        default = kernel.rsplit("_", 1)[0] + "_nchw"
        if torch and ours and torch.get(default, {}).get("3M"):
            row("batch norm %s %s 3M: at least 4x torch BatchNorm2d (NCHW, one thread)" % (pass_name, layout),
                ours / torch[default]["3M"], lambda v: v >= 4)
        if torch and ours and torch.get(kernel, {}).get("3M") and layout == "NHWC":
            row("batch norm %s NHWC 3M: faster than torch channels_last (one thread)" % pass_name,
                ours / torch[kernel]["3M"], lambda v: v >= 1)
        dnnl = get(kernel, "3M", "onednn", "items_per_second")
        if ours and dnnl:
            row("batch norm %s %s 3M: faster than oneDNN (one thread)" % (pass_name, layout),
                ours / dnnl, lambda v: v >= 1)
