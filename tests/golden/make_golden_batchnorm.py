#!/usr/bin/python3
"""Batch-normalization references for tests/test_batchnorm.c, computed with PyTorch 1.13.

Run with Debian's interpreter and torch (apt-get install python3-torch):
    /usr/bin/python3 tests/golden/make_golden_batchnorm.py
It rewrites tests/golden/batchnorm_cases.txt. The tests read it; they never run this script.

Each case is a logical NCHW shape (N, C, H, W) with options (affine, fused ReLU, momentum or
the cumulative average). Inputs are made by a hash that the test computes the same way, in
arithmetic that is exact in double (23-bit uniforms times dyadic scales), so both sides see
the same floats:
    u(seed, i) = (hash32(i * 2654435761 + seed * 40503 + 12345) >> 9) / 2^23
    x[seed](n, c, s) = mean_c + scale_c * (2 u(seed, i) - 1),  i = (n * C + c) * HW + s
    mean_c = ((37 c) % 11 - 5) / 4, scale_c = (2 + c % 5) / 4; dy: seed 3, mean 0, scale 1
    gamma_c = (2 + c % 7) / 4, beta_c = (c % 5 - 2) / 4,
    running_mean_c = (c % 3 - 1) / 8, running_var_c = (2 + c % 4) / 4, num_batches_tracked = 0.
The sequence: two training forwards (x[1] then x[2]) that update the running statistics, the
training backward of the second (autograd through F.batch_norm and ReLU, upstream gradient
dy), then the inference forward and backward of x[2] with the updated running statistics.
Recorded: per-channel vectors in full, tensors at up to 257 sampled logical indices.
"""
import os
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
EPS = 1e-5

# (N, C, H, W, affine, relu, momentum; None = cumulative average)
CASES = [
    (2, 1, 1, 1, 1, 0, 0.1),
    (1, 3, 2, 2, 1, 1, 0.1),
    (4, 5, 3, 3, 0, 0, None),
    (7, 16, 1, 1, 1, 1, 0.3),
    (8, 17, 5, 5, 1, 0, 0.1),
    (3, 33, 7, 7, 1, 1, None),
    (16, 64, 2, 3, 0, 1, 0.1),
    (64, 8, 7, 7, 1, 0, 0.1),
    (5, 256, 1, 1, 1, 0, None),
    (2, 256, 3, 3, 1, 1, 0.1),
    (13, 19, 4, 7, 1, 0, 0.0),
    (2, 3, 15, 17, 0, 0, 1.0),
    (64, 32, 1, 1, 1, 1, 0.1),
    (1, 2, 1, 2, 1, 0, 0.1),
]


def hash32(x):
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    x ^= x >> 16
    return x


def tensor(seed, n, c, hw, centred):
    vals = []
    for i in range(n * c * hw):
        ch = (i // hw) % c
        u = (hash32(i * 2654435761 + seed * 40503 + 12345) >> 9) / 8388608.0
        mean = 0.0 if centred else ((37 * ch) % 11 - 5) / 4.0
        scale = 1.0 if centred else (2 + ch % 5) / 4.0
        vals.append(mean + scale * (2.0 * u - 1.0))
    return torch.tensor(vals, dtype=torch.float32).reshape(n, c, hw)


def samples(total):
    if total <= 257:
        return list(range(total))
    return sorted(set([k * total // 256 for k in range(256)] + [total - 1]))


def fmt(name, t):
    return name + " " + " ".join("%.9g" % v for v in t.reshape(-1).tolist())


def run_case(n, c, h, w, affine, relu, momentum):
    hw = h * w
    shape = (n, c, h, w)
    x1 = tensor(1, n, c, hw, False).reshape(shape)
    x2 = tensor(2, n, c, hw, False).reshape(shape)
    dy = tensor(3, n, c, hw, True).reshape(shape)
    gamma = torch.tensor([(2 + ch % 7) / 4.0 for ch in range(c)]) if affine else None
    beta = torch.tensor([(ch % 5 - 2) / 4.0 for ch in range(c)]) if affine else None
    rm = torch.tensor([(ch % 3 - 1) / 8.0 for ch in range(c)])
    rv = torch.tensor([(2 + ch % 4) / 4.0 for ch in range(c)])
    tracked = 0
    for xb in (x1, x2):
        tracked += 1
        factor = momentum if momentum is not None else 1.0 / tracked
        with torch.no_grad():
            F.batch_norm(xb, rm, rv, gamma, beta, training=True, momentum=factor, eps=EPS)
    _, save_mean, save_invstd = torch.native_batch_norm(x2, gamma, beta, None, None, True, 0.1, EPS)

    def forward_backward(training):
        xg = x2.clone().requires_grad_(True)
        g = gamma.clone().requires_grad_(True) if affine else None
        b = beta.clone().requires_grad_(True) if affine else None
        y = F.batch_norm(xg, None if training else rm, None if training else rv, g, b,
                         training=training, eps=EPS)
        if relu:
            y = F.relu(y)
        y.backward(dy)
        return y.detach(), xg.grad, (g.grad if affine else None), (b.grad if affine else None)

    y, dx, dg, db = forward_backward(True)
    yi, dxi, dgi, dbi = forward_backward(False)
    idx = torch.tensor(samples(n * c * hw))
    lines = ["case %d %d %d %d %d %d %s" % (n, c, h, w, affine, relu,
                                           "-1" if momentum is None else repr(momentum)),
             fmt("save_mean", save_mean), fmt("save_invstd", save_invstd),
             fmt("running_mean", rm), fmt("running_var", rv)]
    if affine:
        lines += [fmt("dgamma", dg), fmt("dbeta", db), fmt("dgamma_infer", dgi), fmt("dbeta_infer", dbi)]
    lines.append("samples %d" % len(idx))
    for name, t in (("index", idx), ("y", y), ("dx", dx), ("y_infer", yi), ("dx_infer", dxi)):
        flat = t.reshape(-1)
        lines.append(fmt(name, flat[idx] if name != "index" else idx))
    return lines


def main():
    torch.set_num_threads(1)
    out = ["# batch norm goldens, torch %s; see make_golden_batchnorm.py" % torch.__version__]
    for case in CASES:
        out += run_case(*case)
    out.append("end")
    with open(os.path.join(HERE, "batchnorm_cases.txt"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
