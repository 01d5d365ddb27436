/* Edge cases of the later sections that the section tests leave out: every argument check
   rejects its case with NNOPT_ERR_INVALID and writes nothing, and the rarely taken paths
   (layouts, padding modes, fallbacks, clipping) give what a reference computed here, or an
   invariant, says they must. */
#include "harness.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define POISON 0xAB

static void poison(void *p, size_t n) { memset(p, POISON, n); }

static int untouched(const void *p, size_t n)
{
    const uint8_t *b = (const uint8_t *)p;
    size_t i;
    for (i = 0; i < n; i++) if (b[i] != POISON) return 0;
    return 1;
}

/* A deterministic test image: every byte differs from its neighbours. */
static void pattern_u8(uint8_t *out, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) out[i] = (uint8_t)((i * 37 + (i / 7) * 11 + 5) % 256);
}

static void pattern_f32(float *out, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) out[i] = (float)((i * 37 + (i / 7) * 11 + 5) % 256) / 255.0f;
}

/* ==== Augmentation ================================================================== */

enum { EW = 12, EH = 10 };   /* the edge tests' image size */

/* Pipeline checks: one field of a valid op made bad per case; init must refuse it and leave
   the pipeline as it was. */
typedef struct bad_op_case {
    const char *what;
    nnopt_aug_kind kind;
    void (*spoil)(nnopt_aug_op *op);
} bad_op_case;

static void spoil_crop_height(nnopt_aug_op *op) { op->width = 4; op->height = 0; }
static void spoil_pad_negative(nnopt_aug_op *op) { op->pad[2] = -1; }
static void spoil_pad_huge(nnopt_aug_op *op) { op->pad[3] = (1 << 24) + 1; }
static void spoil_pad_reflect_width(nnopt_aug_op *op) { op->pad_mode = NNOPT_PAD_REFLECT; op->pad[0] = EW; }
static void spoil_pad_reflect_height(nnopt_aug_op *op) { op->pad_mode = NNOPT_PAD_REFLECT; op->pad[3] = EH; }
static void spoil_pad_fill(nnopt_aug_op *op) { op->pad[0] = 1; op->fill[2] = NAN; }
static void spoil_rcrop_reflect_extra_w(nnopt_aug_op *op)
{   /* pad_if_needed pads by 2 * EW - EW = EW: too much for reflect */
    op->width = 2 * EW; op->height = EH; op->pad_if_needed = 1; op->pad_mode = NNOPT_PAD_REFLECT;
}
static void spoil_rcrop_reflect_extra_h(nnopt_aug_op *op)
{
    op->width = EW; op->height = 2 * EH; op->pad_if_needed = 1; op->pad_mode = NNOPT_PAD_REFLECT;
}
static void spoil_rcrop_too_wide(nnopt_aug_op *op) { op->width = EW + 1; op->height = EH; }
static void spoil_crop_w0(nnopt_aug_op *op) { op->width = 0; op->height = 2; }
static void spoil_crop_h0(nnopt_aug_op *op) { op->width = 2; op->height = 0; }
static void spoil_crop_top(nnopt_aug_op *op) { op->width = 2; op->height = 2; op->top = -1; }
static void spoil_crop_left(nnopt_aug_op *op) { op->width = 2; op->height = 2; op->left = -1; }
static void spoil_crop_bottom(nnopt_aug_op *op) { op->width = 2; op->height = 2; op->top = EH - 1; }
static void spoil_crop_right(nnopt_aug_op *op) { op->width = 2; op->height = 2; op->left = EW - 1; }
static void spoil_size_w0(nnopt_aug_op *op) { op->width = 0; op->height = 4; }
static void spoil_size_h0(nnopt_aug_op *op) { op->width = 4; op->height = 0; }
static void spoil_size_w_huge(nnopt_aug_op *op) { op->width = (1 << 24) + 1; op->height = 4; }
static void spoil_size_h_huge(nnopt_aug_op *op) { op->width = 4; op->height = (1 << 24) + 1; }
static void spoil_interp(nnopt_aug_op *op) { op->width = op->height = 4; op->interp = (nnopt_interp)7; }
static void spoil_rrc_scale(nnopt_aug_op *op) { op->width = op->height = 4; op->scale[0] = NAN; }
static void spoil_rrc_ratio(nnopt_aug_op *op) { op->width = op->height = 4; op->ratio[0] = 0.0; }
static void spoil_p_nan(nnopt_aug_op *op) { op->p = NAN; }
static void spoil_p_negative(nnopt_aug_op *op) { op->p = -0.1; }
static void spoil_p_above(nnopt_aug_op *op) { op->p = 1.1; }
static void spoil_brightness(nnopt_aug_op *op) { op->brightness[0] = -0.1; }
static void spoil_contrast(nnopt_aug_op *op) { op->contrast[1] = INFINITY; }
static void spoil_saturation(nnopt_aug_op *op) { op->saturation[0] = 2.0; op->saturation[1] = 1.0; }
static void spoil_hue(nnopt_aug_op *op) { op->hue[1] = 0.6; }
static void spoil_erasing_scale(nnopt_aug_op *op) { op->scale[1] = 1.5; }
static void spoil_erasing_ratio(nnopt_aug_op *op) { op->ratio[1] = NAN; }
static void spoil_erasing_value(nnopt_aug_op *op) { op->value[1] = INFINITY; }
static void spoil_noise_mean(nnopt_aug_op *op) { op->noise_mean = NAN; }
static void spoil_noise_sigma_inf(nnopt_aug_op *op) { op->noise_sigma = INFINITY; }
static void spoil_noise_sigma_neg(nnopt_aug_op *op) { op->noise_sigma = -0.5; }
static void spoil_kind(nnopt_aug_op *op) { op->kind = NNOPT_AUG_KIND_COUNT; }

static void test_pipeline_init_rejects(void)
{
    static const bad_op_case cases[] = {
        { "random crop height 0", NNOPT_AUG_RANDOM_CROP, spoil_crop_height },
        { "negative pad", NNOPT_AUG_PAD, spoil_pad_negative },
        { "pad over 2^24", NNOPT_AUG_PAD, spoil_pad_huge },
        { "reflect pad = width", NNOPT_AUG_PAD, spoil_pad_reflect_width },
        { "reflect pad = height", NNOPT_AUG_PAD, spoil_pad_reflect_height },
        { "fill NaN", NNOPT_AUG_PAD, spoil_pad_fill },
        { "reflect pad_if_needed, width", NNOPT_AUG_RANDOM_CROP, spoil_rcrop_reflect_extra_w },
        { "reflect pad_if_needed, height", NNOPT_AUG_RANDOM_CROP, spoil_rcrop_reflect_extra_h },
        { "random crop wider than image", NNOPT_AUG_RANDOM_CROP, spoil_rcrop_too_wide },
        { "crop width 0", NNOPT_AUG_CROP, spoil_crop_w0 },
        { "crop height 0", NNOPT_AUG_CROP, spoil_crop_h0 },
        { "crop top < 0", NNOPT_AUG_CROP, spoil_crop_top },
        { "crop left < 0", NNOPT_AUG_CROP, spoil_crop_left },
        { "crop past bottom", NNOPT_AUG_CROP, spoil_crop_bottom },
        { "crop past right", NNOPT_AUG_CROP, spoil_crop_right },
        { "resize width 0", NNOPT_AUG_RESIZE, spoil_size_w0 },
        { "center crop height 0", NNOPT_AUG_CENTER_CROP, spoil_size_h0 },
        { "resize width over 2^24", NNOPT_AUG_RESIZE, spoil_size_w_huge },
        { "rrc height over 2^24", NNOPT_AUG_RANDOM_RESIZED_CROP, spoil_size_h_huge },
        { "resize interp", NNOPT_AUG_RESIZE, spoil_interp },
        { "rrc scale NaN", NNOPT_AUG_RANDOM_RESIZED_CROP, spoil_rrc_scale },
        { "rrc ratio 0", NNOPT_AUG_RANDOM_RESIZED_CROP, spoil_rrc_ratio },
        { "vflip p NaN", NNOPT_AUG_VFLIP, spoil_p_nan },
        { "grayscale p < 0", NNOPT_AUG_GRAYSCALE, spoil_p_negative },
        { "jitter brightness < 0", NNOPT_AUG_COLOR_JITTER, spoil_brightness },
        { "jitter contrast Inf", NNOPT_AUG_COLOR_JITTER, spoil_contrast },
        { "jitter saturation reversed", NNOPT_AUG_COLOR_JITTER, spoil_saturation },
        { "jitter hue > 0.5", NNOPT_AUG_COLOR_JITTER, spoil_hue },
        { "erasing p NaN", NNOPT_AUG_RANDOM_ERASING, spoil_p_nan },
        { "erasing p < 0", NNOPT_AUG_RANDOM_ERASING, spoil_p_negative },
        { "erasing p > 1", NNOPT_AUG_RANDOM_ERASING, spoil_p_above },
        { "erasing scale > 1", NNOPT_AUG_RANDOM_ERASING, spoil_erasing_scale },
        { "erasing ratio NaN", NNOPT_AUG_RANDOM_ERASING, spoil_erasing_ratio },
        { "erasing value Inf", NNOPT_AUG_RANDOM_ERASING, spoil_erasing_value },
        { "noise mean NaN", NNOPT_AUG_GAUSSIAN_NOISE, spoil_noise_mean },
        { "noise sigma Inf", NNOPT_AUG_GAUSSIAN_NOISE, spoil_noise_sigma_inf },
        { "noise sigma < 0", NNOPT_AUG_GAUSSIAN_NOISE, spoil_noise_sigma_neg },
        { "unknown kind", NNOPT_AUG_HFLIP, spoil_kind },
    };
    nnopt_aug_pipeline pl;
    nnopt_aug_op op;
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        op = nnopt_aug_op_defaults(cases[i].kind);
        if (cases[i].kind == NNOPT_AUG_RANDOM_CROP) { op.width = EW; op.height = EH; }
        cases[i].spoil(&op);
        poison(&pl, sizeof pl);
        CHECKF(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, EW, EH, 3) == NNOPT_ERR_INVALID &&
               untouched(&pl, sizeof pl), "pipeline op check: %s", cases[i].what);
    }
    /* the arguments themselves */
    op = nnopt_aug_op_defaults(NNOPT_AUG_HFLIP);
    CHECK(nnopt_aug_pipeline_init(NULL, &op, 1, NNOPT_IMAGE_U8_HWC, EW, EH, 3) == NNOPT_ERR_INVALID);
    poison(&pl, sizeof pl);
    CHECK(nnopt_aug_pipeline_init(&pl, &op, -1, NNOPT_IMAGE_U8_HWC, EW, EH, 3) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pipeline_init(&pl, NULL, 1, NNOPT_IMAGE_U8_HWC, EW, EH, 3) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, (nnopt_image_format)2, EW, EH, 3) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, EW, -3, 3) == NNOPT_ERR_INVALID);
    /* an input of 2^30 x 1.25 * 2^28 x 3 bytes is describable, the same padded by 2^24 above and
       below is not (its byte count would pass SIZE_MAX / 16) */
    CHECK(untouched(&pl, sizeof pl));
    op = nnopt_aug_op_defaults(NNOPT_AUG_PAD); op.pad[1] = op.pad[3] = 1 << 24;
    if (sizeof(size_t) >= 8) {
        const int tall = (1 << 28) + (1 << 26);
        CHECK(nnopt_aug_pipeline_init(&pl, &op, 0, NNOPT_IMAGE_U8_HWC, 1 << 30, tall, 3) == NNOPT_OK);
        poison(&pl, sizeof pl);
        CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 1 << 30, tall, 3) == NNOPT_ERR_INVALID);
        CHECK(untouched(&pl, sizeof pl));
        CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 1 << 30, 1 << 30, 4) == NNOPT_ERR_INVALID);
        CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 1 << 30, 1 << 29, 4) == NNOPT_ERR_INVALID);
    }
}

/* nnopt_aug_apply's argument checks, each on a pipeline that would otherwise run. */
static void test_pipeline_apply_rejects(void)
{
    uint8_t in[2 * EW * EH * 3];
    float fin[EW * EH * 3 + 1], fout[EW * EH * 3 + 1];
    uint8_t out[2 * EW * EH * 3];
    nnopt_aug_record rec[2];
    nnopt_aug_pipeline pl, bad;
    nnopt_aug_op op = nnopt_aug_op_defaults(NNOPT_AUG_HFLIP);
    op.p = 1.0;
    pattern_u8(in, sizeof in);
    CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, EW, EH, 3) == NNOPT_OK);
    poison(out, sizeof out);
    bad = pl; bad.count = -1;
    CHECK(nnopt_aug_apply(&bad, in, out, 1, 1, 0, NULL) == NNOPT_ERR_INVALID);
    bad = pl; bad.count = NNOPT_AUG_MAX_OPS + 1;
    CHECK(nnopt_aug_apply(&bad, in, out, 1, 1, 0, NULL) == NNOPT_ERR_INVALID);
    bad = pl; bad.in_width = 0;
    CHECK(nnopt_aug_apply(&bad, in, out, 1, 1, 0, NULL) == NNOPT_ERR_INVALID);
    bad = pl; bad.out_height = 0;
    CHECK(nnopt_aug_apply(&bad, in, out, 1, 1, 0, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_apply(&pl, in, NULL, 1, 1, 0, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_apply(&pl, in, out, (size_t)-1 / 2, 1, 0, NULL) == NNOPT_ERR_INVALID);   /* bytes overflow */
    CHECK(nnopt_aug_apply(&pl, in, out, 1, 1, 0, (nnopt_aug_record *)(void *)out) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_apply(&pl, in, out, 1, 1, 0, (nnopt_aug_record *)(void *)in) == NNOPT_ERR_INVALID);
    CHECK(untouched(out, sizeof out));
    (void)rec;
    /* float images must be float-aligned, in and out */
    CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_F32_CHW, EW, EH, 3) == NNOPT_OK);
    pattern_f32(fin, EW * EH * 3);
    poison(fout, sizeof fout);
    CHECK(nnopt_aug_apply(&pl, (char *)fin + 1, fout, 1, 1, 0, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_apply(&pl, fin, (char *)fout + 1, 1, 1, 0, NULL) == NNOPT_ERR_INVALID);
    CHECK(untouched(fout, sizeof fout));
    /* a pipeline of no ops copies its input */
    CHECK(nnopt_aug_pipeline_init(&pl, NULL, 0, NNOPT_IMAGE_U8_HWC, EW, EH, 3) == NNOPT_OK);
    CHECK(nnopt_aug_apply(&pl, in, out, 2, 1, 0, rec) == NNOPT_OK);
    CHECK(memcmp(in, out, sizeof in) == 0);
}

/* Runs a pipeline of `count` ops on one image and compares its output with `expected`. */
static int pipeline_gives(const nnopt_aug_op *ops, int count, nnopt_image_format format, int w, int h,
                          int c, const void *in, const void *expected, size_t expected_bytes,
                          nnopt_aug_record *rec)
{
    nnopt_aug_pipeline pl;
    void *out;
    int ok;
    if (nnopt_aug_pipeline_init(&pl, ops, count, format, w, h, c) != NNOPT_OK) return 0;
    out = malloc(expected_bytes + 64);
    ok = nnopt_aug_apply(&pl, in, out, 1, 7, 3, rec) == NNOPT_OK &&
         memcmp(out, expected, expected_bytes) == 0;
    free(out);
    return ok;
}

/* Reference pad of a uint8 HWC image, value by value, following the mode's definition. */
static int pad_index(int i, int n, nnopt_pad_mode mode)
{
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case NNOPT_PAD_EDGE: return i < 0 ? 0 : n - 1;
    case NNOPT_PAD_REFLECT: return i < 0 ? -i : 2 * (n - 1) - i;
    case NNOPT_PAD_SYMMETRIC: return i < 0 ? -i - 1 : 2 * n - 1 - i;
    default: return -1;
    }
}

static void pad_reference(const uint8_t *src, int w, int h, int c, int left, int top, int right, int bottom,
                          nnopt_pad_mode mode, const float *fill, uint8_t *dst)
{
    int ow = w + left + right, oh = h + top + bottom, x, y, k;
    for (y = 0; y < oh; y++)
        for (x = 0; x < ow; x++)
            for (k = 0; k < c; k++) {
                int sx = pad_index(x - left, w, mode), sy = pad_index(y - top, h, mode);
                dst[((size_t)y * ow + x) * c + k] = sx < 0 || sy < 0 ? (uint8_t)(fill ? fill[k] : 0.0f)
                                                   : src[((size_t)sy * w + sx) * c + k];
            }
}

/* Geometric ops in a pipeline: fixed crop, one-sided pads, pads that differ in fill, a resize
   before a pad, a resize after a resize, nearest resize; each against the functional ops. */
static void test_pipeline_geometry_compositions(void)
{
    enum { C = 3 };
    uint8_t src[EW * EH * C], a[64 * 64 * C], b[64 * 64 * C];
    static const float fill_a[4] = { 10, 20, 30, 0 }, fill_b[4] = { 200, 100, 50, 0 };
    nnopt_image s = nnopt_image_u8(src, EW, EH, C), ia, ib;
    nnopt_aug_op ops[3];
    nnopt_aug_record rec;
    pattern_u8(src, sizeof src);

    /* CROP (fixed window) then HFLIP */
    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_CROP);
    ops[0].top = 2; ops[0].left = 3; ops[0].width = 5; ops[0].height = 6;
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_HFLIP); ops[1].p = 1.0;
    ia = nnopt_image_u8(a, 5, 6, C); ib = nnopt_image_u8(b, 5, 6, C);
    CHECK(nnopt_aug_crop(&s, &ia, 2, 3) == NNOPT_OK && nnopt_aug_hflip(&ia, &ib) == NNOPT_OK);
    CHECK(pipeline_gives(ops, 2, NNOPT_IMAGE_U8_HWC, EW, EH, C, src, b, 5 * 6 * C, &rec));
    CHECK(rec.op[0].applied && rec.op[0].top == 2 && rec.op[0].left == 3 && rec.op[1].applied);

    /* two PADs with different fills: the second pad's border keeps its own fill */
    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_PAD); ops[0].pad[1] = 2; memcpy(ops[0].fill, fill_a, sizeof fill_a);
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_PAD); ops[1].pad[2] = 3; memcpy(ops[1].fill, fill_b, sizeof fill_b);
    pad_reference(src, EW, EH, C, 0, 2, 0, 0, NNOPT_PAD_CONSTANT, fill_a, a);
    pad_reference(a, EW, EH + 2, C, 0, 0, 3, 0, NNOPT_PAD_CONSTANT, fill_b, b);
    CHECK(pipeline_gives(ops, 2, NNOPT_IMAGE_U8_HWC, EW, EH, C, src, b, (size_t)(EW + 3) * (EH + 2) * C, NULL));

    /* RANDOM_CROP padded at the bottom only, then by pad_if_needed on top and bottom */
    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_CROP);
    ops[0].width = EW; ops[0].height = EH + 6; ops[0].pad[3] = 2; ops[0].pad_if_needed = 1;
    ops[0].pad_mode = NNOPT_PAD_EDGE;
    {
        uint8_t *padded = (uint8_t *)malloc((size_t)EW * (EH + 10) * C), *win = (uint8_t *)malloc((size_t)EW * (EH + 6) * C);
        int y;
        nnopt_aug_pipeline pl;
        uint8_t *out = (uint8_t *)malloc((size_t)EW * (EH + 6) * C);
        /* edge padding twice is edge padding once by the total */
        pad_reference(src, EW, EH, C, 0, 4, 0, 6, NNOPT_PAD_EDGE, NULL, padded);
        CHECK(nnopt_aug_pipeline_init(&pl, ops, 1, NNOPT_IMAGE_U8_HWC, EW, EH, C) == NNOPT_OK);
        CHECK(pl.out_width == EW && pl.out_height == EH + 6);
        CHECK(nnopt_aug_apply(&pl, src, out, 1, 5, 9, &rec) == NNOPT_OK);
        CHECK(rec.op[0].top >= 0 && rec.op[0].top <= 4 && rec.op[0].left == 0);
        for (y = 0; y < EH + 6; y++)
            memcpy(win + (size_t)y * EW * C, padded + (size_t)(y + rec.op[0].top) * EW * C, (size_t)EW * C);
        CHECK(memcmp(out, win, (size_t)EW * (EH + 6) * C) == 0);
        free(padded); free(win); free(out);
    }

    /* RESIZE (bilinear) then PAD: the padded border is the fill, the inside the resize */
    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RESIZE); ops[0].width = 7; ops[0].height = 9;
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_PAD); ops[1].pad[0] = 2; ops[1].pad[1] = 1; ops[1].pad[2] = 1;
    memcpy(ops[1].fill, fill_b, sizeof fill_b);
    ia = nnopt_image_u8(a, 7, 9, C); ib = nnopt_image_u8(b, 10, 10, C);
    CHECK(nnopt_aug_resize(&s, &ia, NNOPT_INTERP_BILINEAR) == NNOPT_OK);
    CHECK(nnopt_aug_pad(&ia, &ib, 2, 1, 1, 0, NNOPT_PAD_CONSTANT, fill_b) == NNOPT_OK);
    CHECK(pipeline_gives(ops, 2, NNOPT_IMAGE_U8_HWC, EW, EH, C, src, b, 10 * 10 * C, NULL));

    /* PAD (fill) then RESIZE: the fill takes part in the interpolation */
    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_PAD); ops[0].pad[0] = 3; memcpy(ops[0].fill, fill_a, sizeof fill_a);
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_RESIZE); ops[1].width = 8; ops[1].height = 6;
    ia = nnopt_image_u8(a, EW + 3, EH, C); ib = nnopt_image_u8(b, 8, 6, C);
    CHECK(nnopt_aug_pad(&s, &ia, 3, 0, 0, 0, NNOPT_PAD_CONSTANT, fill_a) == NNOPT_OK);
    CHECK(nnopt_aug_resize(&ia, &ib, NNOPT_INTERP_BILINEAR) == NNOPT_OK);
    CHECK(pipeline_gives(ops, 2, NNOPT_IMAGE_U8_HWC, EW, EH, C, src, b, 8 * 6 * C, NULL));

    /* RESIZE then RESIZE (taller than any earlier image): two interpolations, not one */
    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RESIZE); ops[0].width = 5; ops[0].height = 7;
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_RESIZE); ops[1].width = 6; ops[1].height = 17;
    ia = nnopt_image_u8(a, 5, 7, C); ib = nnopt_image_u8(b, 6, 17, C);
    CHECK(nnopt_aug_resize(&s, &ia, NNOPT_INTERP_BILINEAR) == NNOPT_OK);
    CHECK(nnopt_aug_resize(&ia, &ib, NNOPT_INTERP_BILINEAR) == NNOPT_OK);
    CHECK(pipeline_gives(ops, 2, NNOPT_IMAGE_U8_HWC, EW, EH, C, src, b, 6 * 17 * C, NULL));

    /* nearest RESIZE: out(x, y) = src(floor(x * W / w), floor(y * H / h)) */
    {
        int x, y, k;
        ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RESIZE); ops[0].width = 5; ops[0].height = 4;
        ops[0].interp = NNOPT_INTERP_NEAREST;
        for (y = 0; y < 4; y++)
            for (x = 0; x < 5; x++)
                for (k = 0; k < C; k++)
                    b[(y * 5 + x) * C + k] = src[((y * EH / 4) * EW + x * EW / 5) * C + k];
        CHECK(pipeline_gives(ops, 1, NNOPT_IMAGE_U8_HWC, EW, EH, C, src, b, 5 * 4 * C, NULL));
    }
}

/* RandomResizedCrop when no attempt fits (scale above 1): torchvision's central fallback,
   the whole image clamped to the ratio range. */
static void test_rrc_fallback(void)
{
    enum { S = 20, C = 1 };
    uint8_t src[S * S * C], ref[8 * 8 * C];
    nnopt_image s = nnopt_image_u8(src, S, S, C), r = nnopt_image_u8(ref, 8, 8, C);
    nnopt_aug_op op = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_RESIZED_CROP);
    nnopt_aug_record rec;
    pattern_u8(src, sizeof src);
    op.width = op.height = 8; op.scale[0] = 5.0; op.scale[1] = 6.0;
    /* ratio [4, 5] on a square: in_ratio 1 < 4, so w = 20, h = round(20 / 4) = 5, centred */
    op.ratio[0] = 4.0; op.ratio[1] = 5.0;
    CHECK(nnopt_aug_resized_crop(&s, &r, (S - 5) / 2, 0, 5, S, NNOPT_INTERP_BILINEAR) == NNOPT_OK);
    CHECK(pipeline_gives(&op, 1, NNOPT_IMAGE_U8_HWC, S, S, C, src, ref, sizeof ref, &rec));
    CHECK(rec.op[0].width == S && rec.op[0].height == 5 && rec.op[0].top == (S - 5) / 2 && rec.op[0].left == 0);
    /* ratio [0.1, 0.2]: in_ratio 1 > 0.2, so h = 20, w = round(20 * 0.2) = 4 */
    op.ratio[0] = 0.1; op.ratio[1] = 0.2;
    CHECK(nnopt_aug_resized_crop(&s, &r, 0, (S - 4) / 2, S, 4, NNOPT_INTERP_BILINEAR) == NNOPT_OK);
    CHECK(pipeline_gives(&op, 1, NNOPT_IMAGE_U8_HWC, S, S, C, src, ref, sizeof ref, &rec));
    CHECK(rec.op[0].width == 4 && rec.op[0].height == S && rec.op[0].left == (S - 4) / 2 && rec.op[0].top == 0);
}

/* RandomErasing whose box can never fit (scale 1 on ratio 1 is the whole image, and torchvision
   requires h < H and w < W): after ten attempts nothing is erased. */
static void test_erasing_never_fits(void)
{
    enum { C = 3 };
    float src[EW * EW * C];
    nnopt_aug_op op = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_ERASING);
    nnopt_aug_record rec;
    pattern_f32(src, EW * EW * C);
    op.p = 1.0; op.scale[0] = op.scale[1] = 1.0; op.ratio[0] = op.ratio[1] = 1.0;
    CHECK(pipeline_gives(&op, 1, NNOPT_IMAGE_F32_CHW, EW, EW, C, src, src, sizeof src, &rec));
    CHECK(!rec.op[0].applied);
}

/* ColorJitter with only brightness on: the other factors stay at their identity (1, 1, 0)
   and the output is the functional brightness with the recorded factor. */
static void test_jitter_brightness_only(void)
{
    enum { C = 3 };
    uint8_t src[EW * EH * C], ref[EW * EH * C];
    nnopt_image s = nnopt_image_u8(src, EW, EH, C), r = nnopt_image_u8(ref, EW, EH, C);
    nnopt_aug_op op = nnopt_aug_op_defaults(NNOPT_AUG_COLOR_JITTER);
    nnopt_aug_pipeline pl;
    nnopt_aug_record rec;
    uint8_t out[EW * EH * C];
    pattern_u8(src, sizeof src);
    op.brightness[0] = 0.5; op.brightness[1] = 1.5;
    CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, EW, EH, C) == NNOPT_OK);
    CHECK(nnopt_aug_apply(&pl, src, out, 1, 11, 0, &rec) == NNOPT_OK);
    CHECK(rec.op[0].factor[1] == 1.0 && rec.op[0].factor[2] == 1.0 && rec.op[0].factor[3] == 0.0);
    CHECK(rec.op[0].factor[0] >= 0.5 && rec.op[0].factor[0] <= 1.5);
    CHECK(nnopt_aug_brightness(&s, &r, rec.op[0].factor[0]) == NNOPT_OK);
    CHECK(memcmp(out, ref, sizeof ref) == 0);
}

/* NORMALIZE where it cannot be fused with a bilinear stage: first op, after a flip, after a
   bilinear resize of a float image. Each equals the functional ops in sequence. */
static void test_normalize_unfused(void)
{
    enum { C = 3 };
    uint8_t src[EW * EH * C], flipped[EW * EH * C];
    float fsrc[EW * EH * C], fres[6 * 5 * C], ref[EW * EH * C];
    nnopt_image s = nnopt_image_u8(src, EW, EH, C), fl = nnopt_image_u8(flipped, EW, EH, C);
    nnopt_image fs = nnopt_image_f32(fsrc, EW, EH, C), fr = nnopt_image_f32(fres, 6, 5, C);
    nnopt_image r = nnopt_image_f32(ref, EW, EH, C), r2 = nnopt_image_f32(ref, 6, 5, C);
    nnopt_aug_op ops[2];
    static const float mean[3] = { 0.485f, 0.456f, 0.406f }, std[3] = { 0.229f, 0.224f, 0.225f };
    pattern_u8(src, sizeof src);
    pattern_f32(fsrc, EW * EH * C);
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_NORMALIZE);
    memcpy(ops[1].mean, mean, sizeof mean); memcpy(ops[1].std, std, sizeof std);
    CHECK(nnopt_aug_normalize(&s, &r, mean, std) == NNOPT_OK);
    CHECK(pipeline_gives(ops + 1, 1, NNOPT_IMAGE_U8_HWC, EW, EH, C, src, ref, sizeof ref, NULL));
    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_HFLIP); ops[0].p = 1.0;
    CHECK(nnopt_aug_hflip(&s, &fl) == NNOPT_OK && nnopt_aug_normalize(&fl, &r, mean, std) == NNOPT_OK);
    CHECK(pipeline_gives(ops, 2, NNOPT_IMAGE_U8_HWC, EW, EH, C, src, ref, sizeof ref, NULL));
    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RESIZE); ops[0].width = 6; ops[0].height = 5;
    CHECK(nnopt_aug_resize(&fs, &fr, NNOPT_INTERP_BILINEAR) == NNOPT_OK);
    CHECK(nnopt_aug_normalize(&fr, &r2, mean, std) == NNOPT_OK);
    CHECK(pipeline_gives(ops, 2, NNOPT_IMAGE_F32_CHW, EW, EH, C, fsrc, ref, 6 * 5 * C * sizeof(float), NULL));
}

/* The functional ops' argument checks: each case must fail and leave dst as it was. */
static void test_functional_rejects(void)
{
    enum { C = 3 };
    uint8_t src[EW * EH * C], dst[4 * EW * EH * C];
    float mean[C] = { 0, 0, 0 }, std[C] = { 1, 1, 1 }, fill[C] = { 1, 2, NAN };
    nnopt_image s = nnopt_image_u8(src, EW, EH, C), d = nnopt_image_u8(dst, EW, EH, C), bad = s, f;
    nnopt_image small = nnopt_image_u8(dst, 4, 4, C), g4 = nnopt_image_u8(dst, EW, EH, 4);
    pattern_u8(src, sizeof src);
    poison(dst, sizeof dst);
    bad.data = NULL;
    /* flips: size mismatch on either axis */
    d.height = EH - 1; CHECK(nnopt_aug_hflip(&s, &d) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_vflip(&s, &d) == NNOPT_ERR_INVALID);
    d.height = EH; d.width = EW - 1; CHECK(nnopt_aug_vflip(&s, &d) == NNOPT_ERR_INVALID);
    d.width = EW;
    /* crops */
    CHECK(nnopt_aug_crop(&bad, &small, 0, 0) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_crop(&s, &small, -1, 0) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_crop(&s, &small, 0, EW - 3) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_center_crop(&bad, &small) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_resized_crop(&bad, &small, 0, 0, 4, 4, NNOPT_INTERP_BILINEAR) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_resized_crop(&s, &small, -1, 0, 4, 4, NNOPT_INTERP_BILINEAR) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_resized_crop(&s, &small, 0, -1, 4, 4, NNOPT_INTERP_BILINEAR) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_resized_crop(&s, &small, 0, 0, 0, 4, NNOPT_INTERP_BILINEAR) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_resized_crop(&s, &small, 0, 0, 4, 0, NNOPT_INTERP_BILINEAR) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_resized_crop(&s, &small, 0, EW - 3, 4, 4, NNOPT_INTERP_BILINEAR) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_resized_crop(&s, &small, 0, 0, 4, 4, (nnopt_interp)2) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_resize(&bad, &small, NNOPT_INTERP_BILINEAR) == NNOPT_ERR_INVALID);
    /* pads: bad image, a negative pad on either side, symmetric pads over the size, reflect
       pad on the far side, unknown mode, NaN fill, size mismatch on either axis */
    d = nnopt_image_u8(dst, EW + 2, EH + 2, C);
    CHECK(nnopt_aug_pad(&bad, &d, 1, 1, 1, 1, NNOPT_PAD_CONSTANT, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pad(&s, &d, -1, 1, 3, 1, NNOPT_PAD_CONSTANT, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pad(&s, &d, 3, 1, -1, 1, NNOPT_PAD_CONSTANT, NULL) == NNOPT_ERR_INVALID);
    d = nnopt_image_u8(dst, EW, 2 * EH + 3, C);
    CHECK(nnopt_aug_pad(&s, &d, 0, EH + 1, 0, 2, NNOPT_PAD_SYMMETRIC, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pad(&s, &d, 0, 2, 0, EH + 1, NNOPT_PAD_SYMMETRIC, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pad(&s, &d, 0, 3, 0, EH, NNOPT_PAD_REFLECT, NULL) == NNOPT_ERR_INVALID);
    d = nnopt_image_u8(dst, EW + 2, EH + 2, C);
    CHECK(nnopt_aug_pad(&s, &d, 1, 1, 1, 1, (nnopt_pad_mode)9, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pad(&s, &d, 1, 1, 1, 1, NNOPT_PAD_CONSTANT, fill) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pad(&s, &d, 1, 1, 1, 0, NNOPT_PAD_EDGE, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pad(&s, &d, 1, 1, 0, 1, NNOPT_PAD_EDGE, NULL) == NNOPT_ERR_INVALID);
    /* color: bad pair, size mismatch, hue below -0.5 */
    d = nnopt_image_u8(dst, EW, EH, C);
    CHECK(nnopt_aug_brightness(&bad, &d, 1.0) == NNOPT_ERR_INVALID);
    d.width = EW - 1; CHECK(nnopt_aug_saturation(&s, &d, 1.0) == NNOPT_ERR_INVALID); d.width = EW;
    d.height = EH - 1; CHECK(nnopt_aug_contrast(&s, &d, 1.0) == NNOPT_ERR_INVALID); d.height = EH;
    CHECK(nnopt_aug_hue(&s, &d, -0.6) == NNOPT_ERR_INVALID);
    /* grayscale: bad src, bad dst, formats differ, sizes differ, overlap, alpha into 4 channels
       from 3 */
    CHECK(nnopt_aug_grayscale(&bad, &d) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_grayscale(&s, &bad) == NNOPT_ERR_INVALID);
    f = nnopt_image_f32((float *)(void *)dst, EW, EH, C);
    CHECK(nnopt_aug_grayscale(&s, &f) == NNOPT_ERR_INVALID);
    d.width = EW - 1; CHECK(nnopt_aug_grayscale(&s, &d) == NNOPT_ERR_INVALID); d.width = EW;
    d.height = EH - 1; CHECK(nnopt_aug_grayscale(&s, &d) == NNOPT_ERR_INVALID); d.height = EH;
    CHECK(nnopt_aug_grayscale(&s, &s) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_grayscale(&s, &g4) == NNOPT_ERR_INVALID);
    /* normalize: bad src, uint8 dst, channel or size mismatch, overlap, NULL mean or std */
    CHECK(nnopt_aug_normalize(&bad, &f, mean, std) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_normalize(&s, &d, mean, std) == NNOPT_ERR_INVALID);
    f.channels = 1; CHECK(nnopt_aug_normalize(&s, &f, mean, std) == NNOPT_ERR_INVALID); f.channels = C;
    f.width = EW - 1; CHECK(nnopt_aug_normalize(&s, &f, mean, std) == NNOPT_ERR_INVALID); f.width = EW;
    f.height = EH - 1; CHECK(nnopt_aug_normalize(&s, &f, mean, std) == NNOPT_ERR_INVALID); f.height = EH;
    {
        float *fs = (float *)malloc(sizeof(float) * EW * EH * C);
        nnopt_image fsrc = nnopt_image_f32(fs, EW, EH, C);
        pattern_f32(fs, EW * EH * C);
        CHECK(nnopt_aug_normalize(&fsrc, &fsrc, mean, std) == NNOPT_ERR_INVALID);
        free(fs);
    }
    CHECK(nnopt_aug_normalize(&s, &f, NULL, std) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_normalize(&s, &f, mean, NULL) == NNOPT_ERR_INVALID);
    /* noise: bad pair, size mismatch, mean NaN, sigma Inf */
    CHECK(nnopt_aug_gaussian_noise(&bad, &d, 0.0, 0.1, 0, 1, 1, 0) == NNOPT_ERR_INVALID);
    d.width = EW - 1; CHECK(nnopt_aug_gaussian_noise(&s, &d, 0.0, 0.1, 0, 1, 1, 0) == NNOPT_ERR_INVALID); d.width = EW;
    d.height = EH - 1; CHECK(nnopt_aug_gaussian_noise(&s, &d, 0.0, 0.1, 0, 1, 1, 0) == NNOPT_ERR_INVALID); d.height = EH;
    CHECK(nnopt_aug_gaussian_noise(&s, &d, NAN, 0.1, 0, 1, 1, 0) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_gaussian_noise(&s, &d, 0.0, INFINITY, 0, 1, 1, 0) == NNOPT_ERR_INVALID);
    CHECK(untouched(dst, sizeof dst));
    /* erase (in place): bad image, negative corner or size, past the right, NaN value */
    memcpy(dst, src, sizeof src);
    CHECK(nnopt_aug_erase(&bad, 0, 0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_erase(&d, -1, 0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_erase(&d, 0, -1, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_erase(&d, 0, 0, -1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_erase(&d, 0, 0, 1, -1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_erase(&d, 0, EW - 1, 1, 2, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_erase(&d, 0, 0, 1, 1, fill) == NNOPT_ERR_INVALID);
    CHECK(memcmp(dst, src, sizeof src) == 0);
    CHECK(nnopt_image_bytes(NULL) == 0);
}

/* Rare valid paths of the functional ops, each against a reference computed here. */
static void test_functional_rare_paths(void)
{
    enum { C = 4 };
    uint8_t src[EW * EH * C], out[EW * EH * C], g1[EW * EH], g3[EW * EH * 3], noisy[EW * EH * C];
    float fsrc[EW * EH * 3], fout[EW * EH * 3];
    nnopt_image s = nnopt_image_u8(src, EW, EH, C), o = nnopt_image_u8(out, EW, EH, C);
    nnopt_image i1 = nnopt_image_u8(g1, EW, EH, 1), i3 = nnopt_image_u8(g3, EW, EH, 3);
    nnopt_image fs = nnopt_image_f32(fsrc, EW, EH, 3), fo = nnopt_image_f32(fout, EW, EH, 3);
    nnopt_image no = nnopt_image_u8(noisy, EW, EH, C);
    size_t p, i;
    int x, y, k;
    pattern_u8(src, sizeof src);
    /* grayscale of an RGBA image into 4 channels: gray in 0..2 (the 1- and 3-channel results),
       alpha kept */
    CHECK(nnopt_aug_grayscale(&s, &o) == NNOPT_OK);
    CHECK(nnopt_aug_grayscale(&s, &i1) == NNOPT_OK && nnopt_aug_grayscale(&s, &i3) == NNOPT_OK);
    for (p = 0, i = 0; p < (size_t)EW * EH; p++) {
        i += out[p * C] == g1[p] && out[p * C + 1] == g1[p] && out[p * C + 2] == g1[p] &&
             g3[p * 3] == g1[p] && out[p * C + 3] == src[p * C + 3];
    }
    CHECK(i == (size_t)EW * EH);
    /* erase with value NULL: zeros in the window, the rest untouched */
    memcpy(out, src, sizeof src);
    CHECK(nnopt_aug_erase(&o, 2, 3, 4, 5, NULL) == NNOPT_OK);
    for (y = 0, i = 0; y < EH; y++)
        for (x = 0; x < EW; x++)
            for (k = 0; k < C; k++) {
                size_t at = ((size_t)y * EW + x) * C + k;
                int inside = y >= 2 && y < 6 && x >= 3 && x < 8;
                i += inside ? out[at] == 0 : out[at] == src[at];
            }
    CHECK(i == sizeof src);
    /* uint8 noise with sigma 0: v + 255 * 0.25 = v + 63.75, rounded to nearest (v + 64) and
       clamped to 255; with mean -0.25 it is v - 64 clamped to 0 (v - 63.75 < 0.5 for v <= 64) */
    CHECK(nnopt_aug_gaussian_noise(&s, &no, 0.25, 0.0, 0, 3, 4, 5) == NNOPT_OK);
    for (i = 0, p = 0; i < sizeof src; i++) p += noisy[i] == (src[i] + 64 > 255 ? 255 : src[i] + 64);
    CHECK(p == sizeof src);
    CHECK(nnopt_aug_gaussian_noise(&s, &no, -0.25, 0.0, 0, 3, 4, 5) == NNOPT_OK);
    for (i = 0, p = 0; i < sizeof src; i++) p += noisy[i] == (src[i] < 64 ? 0 : src[i] - 64);
    CHECK(p == sizeof src);
    /* float noise with clip: a mean far above or below the range pins every value */
    pattern_f32(fsrc, EW * EH * 3);
    CHECK(nnopt_aug_gaussian_noise(&fs, &fo, 3.0, 0.1, 1, 3, 4, 5) == NNOPT_OK);
    for (i = 0, p = 0; i < (size_t)EW * EH * 3; i++) p += fout[i] == 1.0f;
    CHECK(p == (size_t)EW * EH * 3);
    CHECK(nnopt_aug_gaussian_noise(&fs, &fo, -3.0, 0.1, 1, 3, 4, 5) == NNOPT_OK);
    for (i = 0, p = 0; i < (size_t)EW * EH * 3; i++) p += fout[i] == 0.0f;
    CHECK(p == (size_t)EW * EH * 3);
    /* symmetric and reflect pads against the definition, on both sides of both axes */
    {
        static const nnopt_pad_mode modes[] = { NNOPT_PAD_SYMMETRIC, NNOPT_PAD_REFLECT, NNOPT_PAD_EDGE };
        uint8_t *ref = (uint8_t *)malloc((size_t)(EW + 9) * (EH + 7) * 3), *got = (uint8_t *)malloc((size_t)(EW + 9) * (EH + 7) * 3);
        nnopt_image src3 = nnopt_image_u8(g3, EW, EH, 3), d3 = nnopt_image_u8(got, EW + 9, EH + 7, 3);
        for (k = 0; k < 3; k++) {
            pad_reference(g3, EW, EH, 3, 5, 3, 4, 4, modes[k], NULL, ref);
            CHECK(nnopt_aug_pad(&src3, &d3, 5, 3, 4, 4, modes[k], NULL) == NNOPT_OK);
            CHECKF(memcmp(ref, got, (size_t)(EW + 9) * (EH + 7) * 3) == 0, "pad mode %d", (int)modes[k]);
        }
        free(ref); free(got);
    }
}

/* MixUp / CutMix argument checks and the label-free and clipped-box paths. */
static void test_mixing_edges(void)
{
    enum { N = 3, CH = 3, H = 4, W = 5, IMG = CH * H * W, K = 3 };
    float images[N * IMG], out[N * IMG + 1], soft[N * K];
    int labels[N] = { 0, 2, 1 };
    double params[6], lam;
    size_t i, e;
    int seed, clipped_left = 0, clipped_right = 0, clipped_top = 0, clipped_bottom = 0;
    pattern_f32(images, N * IMG);
    poison(out, sizeof out); poison(soft, sizeof soft);
    CHECK(nnopt_aug_mixup(images, out, N, 0, labels, K, soft, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(NULL, out, N, IMG, labels, K, soft, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(images, NULL, N, IMG, labels, K, soft, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup((const float *)(const void *)((const char *)images + 1), out, N, IMG, labels, K, soft, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(images, (float *)(void *)((char *)out + 1), N, IMG, labels, K, soft, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(images, out, N, (size_t)-1 / 4, labels, K, soft, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(images, out, N, IMG, labels, K, NULL, 0.5) == NNOPT_ERR_INVALID);    /* labels, no soft */
    CHECK(nnopt_aug_mixup(images, out, N, IMG, labels, 0, soft, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(images, out, N, IMG, labels, K, (float *)(void *)((char *)soft + 1), 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(images, out, N, IMG, labels, (size_t)-1 / 4, soft, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(images, out, N, IMG, labels, K, out, 0.5) == NNOPT_ERR_INVALID);     /* soft = out */
    CHECK(nnopt_aug_mixup(images, out, N, IMG, labels, K, images, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(images, out, N, IMG, labels, K, (float *)(void *)labels, 0.5) == NNOPT_ERR_INVALID);
    labels[1] = -1;
    CHECK(nnopt_aug_mixup(images, out, N, IMG, labels, K, soft, 0.5) == NNOPT_ERR_INVALID);
    labels[1] = 2;
    CHECK(nnopt_aug_mixup(images, out, N, IMG, labels, K, soft, NAN) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(images, out, N, IMG, labels, K, soft, -0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup_random(images, out, N, IMG, labels, K, soft, INFINITY, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix(images, out, N, CH, H, 0, labels, K, soft, 0, 0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix(images, out, N, CH, H, W, labels, K, soft, -1, 0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix(images, out, N, CH, H, W, labels, K, soft, 0, -1, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix(images, out, N, CH, H, W, labels, K, soft, 2, 0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix(images, out, N, CH, H, W, labels, K, soft, 0, 2, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix(images, out, N, CH, H, W, labels, K, soft, 0, 0, 1, H + 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix(NULL, out, N, CH, H, W, labels, K, soft, 0, 0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix_random(images, out, N, CH, H, W, labels, K, soft, -1.0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix_random(images, out, N, CH, H, 0, labels, K, soft, 1.0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix_random(images, out, N, CH, 0, W, labels, K, soft, 1.0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(untouched(out, sizeof out) && untouched(soft, sizeof soft));
    /* without labels: lam 1 keeps each image, lam 0 gives the previous one */
    CHECK(nnopt_aug_mixup(images, out, N, IMG, NULL, 0, NULL, 1.0) == NNOPT_OK);
    CHECK(memcmp(out, images, sizeof images) == 0);
    CHECK(nnopt_aug_mixup(images, out, N, IMG, NULL, 0, NULL, 0.0) == NNOPT_OK);
    CHECK(memcmp(out, images + (N - 1) * IMG, IMG * sizeof(float)) == 0 &&
          memcmp(out + IMG, images, (N - 1) * IMG * sizeof(float)) == 0);
    CHECK(nnopt_aug_mixup_random(images, out, N, IMG, NULL, 0, NULL, 0.5, 1, 1, NULL) == NNOPT_OK);
    CHECK(nnopt_aug_cutmix(images, out, N, CH, H, W, NULL, 0, NULL, 1, 1, 3, 2, NULL) == NNOPT_OK);
    /* random CutMix with a small alpha (lam near 0 or 1: large or tiny boxes): the box is the
       clipped one, the output is the previous image inside it and this one outside, and lam
       is 1 - box area / image area */
    for (seed = 1; seed <= 40; seed++) {
        int x1, y1, x2, y2, c, y, x, bad = 0;
        CHECK(nnopt_aug_cutmix_random(images, out, N, CH, H, W, labels, K, soft, 0.3, (uint64_t)seed, 2, params) == NNOPT_OK);
        x1 = (int)params[1]; y1 = (int)params[2]; x2 = (int)params[3]; y2 = (int)params[4];
        CHECK(x1 >= 0 && y1 >= 0 && x1 <= x2 && y1 <= y2 && x2 <= W && y2 <= H);
        CHECK(params[5] == 1.0 - (double)(x2 - x1) * (y2 - y1) / (W * H));
        clipped_left += x1 == 0; clipped_right += x2 == W; clipped_top += y1 == 0; clipped_bottom += y2 == H;
        for (i = 0; i < N; i++)
            for (c = 0; c < CH; c++)
                for (y = 0; y < H; y++)
                    for (x = 0; x < W; x++) {
                        size_t prev = i == 0 ? N - 1 : i - 1, at = ((size_t)c * H + y) * W + x;
                        int inside = x >= x1 && x < x2 && y >= y1 && y < y2;
                        bad += out[i * IMG + at] != images[(inside ? prev : i) * IMG + at];
                    }
        CHECK(bad == 0);
        CHECK(nnopt_aug_cutmix_random(images, out, N, CH, H, W, labels, K, soft, 0.3, (uint64_t)seed, 2, NULL) == NNOPT_OK);
    }
    CHECK(clipped_left && clipped_right && clipped_top && clipped_bottom);
    /* soft labels sum to 1 per sample */
    for (i = 0; i < N; i++) {
        double sum = 0;
        for (e = 0; e < K; e++) sum += soft[i * K + e];
        CHECK(fabs(sum - 1.0) < 1e-6);
    }
    (void)lam;
}

/* Beta draws: bad parameters give NaN; with tiny alpha and beta both gammas underflow to 0
   and the draw is exactly 0 or 1 (the limit distribution), both occurring. */
static void test_beta_edges(void)
{
    int zeros = 0, ones = 0, other = 0;
    uint64_t i;
    CHECK(isnan(nnopt_random_beta_at(1, 1, 0, INFINITY, 1.0)));
    CHECK(isnan(nnopt_random_beta_at(1, 1, 0, 1.0, NAN)));
    CHECK(isnan(nnopt_random_beta_at(1, 1, 0, 1.0, 0.0)));
    for (i = 0; i < 64; i++) {
        double b = nnopt_random_beta_at(9, 4, i, 1e-300, 1e-300);
        zeros += b == 0.0; ones += b == 1.0; other += b != 0.0 && b != 1.0;
    }
    CHECK(other == 0 && zeros > 0 && ones > 0);
}

void register_edges_tests(void)
{
    /* augmentation */
    th_register("edges_aug_pipeline_init_rejects", test_pipeline_init_rejects, TH_ONCE);
    th_register("edges_aug_pipeline_apply_rejects", test_pipeline_apply_rejects, TH_ONCE);
    th_register("edges_aug_pipeline_geometry", test_pipeline_geometry_compositions, TH_EACH_ISA);
    th_register("edges_aug_rrc_fallback", test_rrc_fallback, TH_ONCE);
    th_register("edges_aug_erasing_never_fits", test_erasing_never_fits, TH_ONCE);
    th_register("edges_aug_jitter_brightness_only", test_jitter_brightness_only, TH_ONCE);
    th_register("edges_aug_normalize_unfused", test_normalize_unfused, TH_EACH_ISA);
    th_register("edges_aug_functional_rejects", test_functional_rejects, TH_ONCE);
    th_register("edges_aug_functional_rare_paths", test_functional_rare_paths, TH_EACH_ISA);
    th_register("edges_aug_mixing", test_mixing_edges, TH_ONCE);
    th_register("edges_aug_beta", test_beta_edges, TH_ONCE);
}
