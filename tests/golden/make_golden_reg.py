#!/usr/bin/python3
"""Goldens of the regularization section from torch 1.13 (float32):
   penalties (value and gradient by autograd), torch.renorm (max-norm), softshrink (the
   soft threshold of the proximal L1 step). Writes tests/golden/reg_torch.txt.

   Format, one record per case:
     penalty LABEL n l1 l2 value      then lines "w ...", "g ...", "out ..." (g + dP/dw)
     renorm LABEL rows cols maxnorm   then lines "w ...", "out ..."
     softshrink LABEL n lambd         then lines "w ...", "out ..."
"""
import os
import torch

torch.manual_seed(1234)
out = []


def floats(name, t):
    out.append(name + " " + " ".join("%.9g" % v for v in t.reshape(-1).tolist()))


def weights(n, scale=1.0):
    w = torch.randn(n) * scale
    w[::17] = 0.0                      # exact zeros: the L1 gradient there is 0
    return w


for label, n, l1, l2 in [("l1", 301, 0.01, 0.0), ("l2", 301, 0.0, 0.1),
                         ("elastic", 301, 0.003, 0.05), ("elastic_big", 301, 0.5, 2.0)]:
    w = weights(n).requires_grad_(True)
    g = torch.randn(n) * 0.1
    loss = l1 * w.abs().sum() + 0.5 * l2 * (w * w).sum()
    loss.backward()
    out.append("penalty %s %d %.17g %.17g %.9g" % (label, n, l1, l2, loss.item()))
    floats("w", w.detach())
    floats("g", g)
    floats("out", g + w.grad)

for label, rows, cols, c in [("small", 5, 37, 3.0), ("wide", 3, 1000, 20.0),
                             ("tall", 40, 7, 1.5), ("none_clipped", 4, 9, 100.0),
                             ("zero_max", 3, 5, 0.0)]:
    w = torch.randn(rows, cols) * torch.linspace(0.2, 2.0, rows).unsqueeze(1)
    out.append("renorm %s %d %d %.17g" % (label, rows, cols, c))
    floats("w", w)
    floats("out", torch.renorm(w, 2, 0, c))

for label, n, lambd in [("soft", 301, 0.3), ("soft_small", 301, 0.01)]:
    w = weights(n)
    out.append("softshrink %s %d %.17g" % (label, n, lambd))
    floats("w", w)
    floats("out", torch.nn.functional.softshrink(w, lambd))

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reg_torch.txt")
with open(path, "w") as f:
    f.write("\n".join(out) + "\n")
print("wrote", path, "torch", torch.__version__)
