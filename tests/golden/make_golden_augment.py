#!/usr/bin/env python3
"""Reference outputs of torchvision 0.14's functional ops on tensors for the augmentation tests.

Run with /usr/bin/python3 (Debian python3-torch, python3-torchvision) from the repository root:
    python3 tests/golden/make_golden_augment.py
Writes tests/golden/augment_ops.txt: one line per case, `name count v0 v1 ...`, values in the
output's own layout (uint8 HWC, float CHW). The inputs are made by the formula in
source_u8() below, which tests/test_augment.c repeats.
"""
import math
import os
import torch
import torchvision
import torchvision.transforms.functional as F

torch.set_num_threads(1)
W, H = 13, 11


def source_u8(w, h, c):
    """uint8 HWC test image (same formula as test_augment.c)."""
    v = [[[(x * 37 + y * 91 + ch * 53 + (x * y * 7) % 23 + (x ^ y) * 11) % 256 for ch in range(c)]
          for x in range(w)] for y in range(h)]
    return torch.tensor(v, dtype=torch.uint8)


def chw(u8_hwc):
    return u8_hwc.permute(2, 0, 1).contiguous()


def hwc(t):
    return t.permute(1, 2, 0).contiguous()


lines = []


def emit(name, t):
    """uint8 results stored in HWC, float results in CHW."""
    if t.dtype == torch.uint8:
        vals = [str(int(v)) for v in hwc(t).flatten().tolist()]
    else:
        vals = ['%.9g' % v for v in t.flatten().tolist()]
    lines.append('%s %d %s' % (name, len(vals), ' '.join(vals)))


def both(name, fn, channels=3):
    u8 = chw(source_u8(W, H, channels))
    f32 = u8.float() / 255.0
    emit(name + '_u8c%d' % channels, fn(u8))
    emit(name + '_f32c%d' % channels, fn(f32))


for c in (1, 3):
    both('hflip', F.hflip, c)
    both('vflip', F.vflip, c)
    both('crop', lambda t: F.crop(t, 2, 3, 5, 7), c)
    both('center_crop', lambda t: F.center_crop(t, [6, 5]), c)
    both('center_crop_big', lambda t: F.center_crop(t, [14, 16]), c)
    both('pad_constant', lambda t: F.pad(t, [1, 2, 3, 4], fill=7, padding_mode='constant'), c)
    both('pad_edge', lambda t: F.pad(t, [1, 2, 3, 4], padding_mode='edge'), c)
    both('pad_reflect', lambda t: F.pad(t, [1, 2, 3, 4], padding_mode='reflect'), c)
    both('pad_symmetric', lambda t: F.pad(t, [1, 2, 3, 4], padding_mode='symmetric'), c)
    both('resize_down', lambda t: F.resize(t, [7, 9], antialias=False), c)
    both('resize_up', lambda t: F.resize(t, [20, 23], antialias=False), c)
    both('resize_nearest_down', lambda t: F.resize(t, [7, 9], interpolation=F.InterpolationMode.NEAREST), c)
    both('resize_nearest_up', lambda t: F.resize(t, [20, 23], interpolation=F.InterpolationMode.NEAREST), c)
    both('resize_nearest_double', lambda t: F.resize(t, [22, 26], interpolation=F.InterpolationMode.NEAREST), c)
    both('resized_crop', lambda t: F.resized_crop(t, 1, 2, 8, 9, [6, 5], antialias=False), c)
    both('brightness_07', lambda t: F.adjust_brightness(t, 0.7), c)
    both('brightness_14', lambda t: F.adjust_brightness(t, 1.4), c)
    both('contrast_06', lambda t: F.adjust_contrast(t, 0.6), c)
    both('contrast_15', lambda t: F.adjust_contrast(t, 1.5), c)
    both('saturation_03', lambda t: F.adjust_saturation(t, 0.3), c)
    both('saturation_18', lambda t: F.adjust_saturation(t, 1.8), c)
    both('hue_m03', lambda t: F.adjust_hue(t, -0.3), c)
    both('hue_02', lambda t: F.adjust_hue(t, 0.2), c)
    both('hue_045', lambda t: F.adjust_hue(t, 0.45), c)
    both('gray1', lambda t: F.rgb_to_grayscale(t, 1), c)
    both('gray3', lambda t: F.rgb_to_grayscale(t, 3), c)

    def erase(t):
        v = torch.tensor([5.0, 200.0, 77.0][:c]).view(-1, 1, 1)
        return F.erase(t, 3, 4, 5, 6, v.to(t.dtype) if t.dtype == torch.uint8 else v / 255.0)
    both('erase', erase, c)

MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.2470, 0.2435, 0.2616]
for c in (1, 3):
    u8 = chw(source_u8(W, H, c))
    emit('normalize_u8c%d' % c, F.normalize(F.convert_image_dtype(u8, torch.float), MEAN[:c], STD[:c]))
    emit('normalize_f32c%d' % c, F.normalize(u8.float() / 255.0, MEAN[:c], STD[:c]))

# MixUp / CutMix (torchvision v2's formulas; v2 is not in 0.14): batch of 4 float images.
batch = torch.stack([chw(source_u8(W, H, 3)).float() / 255.0 * (k + 1) / 4.0 for k in range(4)])
labels = torch.tensor([2, 0, 3, 1])
onehot = torch.nn.functional.one_hot(labels, num_classes=5).float()
lam = 0.3125
mixed = batch.roll(1, 0).mul_(1.0 - lam).add_(batch.clone().mul_(lam))
soft = onehot.roll(1, 0).mul_(1.0 - lam).add_(onehot.clone().mul_(lam))
emit('mixup_images', mixed)
emit('mixup_labels', soft)
x1, y1, x2, y2 = 3, 2, 10, 7
cut = batch.clone()
cut[..., y1:y2, x1:x2] = batch.roll(1, 0)[..., y1:y2, x1:x2]
lam_adj = float(1.0 - (x2 - x1) * (y2 - y1) / (W * H))
soft = onehot.roll(1, 0).mul_(1.0 - lam_adj).add_(onehot.clone().mul_(lam_adj))
emit('cutmix_images', cut)
emit('cutmix_labels', soft)

# RandomResizedCrop box statistics from torchvision's own get_params on a 500 x 375 image.
torch.manual_seed(0)
img = torch.zeros(3, 375, 500)
N = 200000
s_area = s_area2 = s_left = s_left2 = 0.0
n_left = 0
for _ in range(N):
    i, j, h, w = torchvision.transforms.RandomResizedCrop.get_params(img, [0.08, 1.0], [3 / 4, 4 / 3])
    a = h * w / (500.0 * 375.0)
    s_area += a
    s_area2 += a * a
    if w < 500:
        u = j / (500.0 - w)
        s_left += u
        s_left2 += u * u
        n_left += 1
mean_area = s_area / N
var_area = s_area2 / N - mean_area ** 2
lines.append('rrc_area_mean 2 %.9g %.9g' % (mean_area, math.sqrt(var_area / N)))
lines.append('rrc_area_sd 1 %.9g' % math.sqrt(var_area))

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'augment_ops.txt')
with open(path, 'w') as f:
    f.write('# torchvision %s, torch %s: tests/golden/make_golden_augment.py\n' % (torchvision.__version__, torch.__version__))
    f.write('\n'.join(lines) + '\n')
print('wrote', path, len(lines), 'cases')
