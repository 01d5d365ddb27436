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
    /* four interleaved channels (whole-pixel copies): edge pad of the RGBA image */
    {
        uint8_t *ref = (uint8_t *)malloc((size_t)(EW + 5) * (EH + 3) * C), *got = (uint8_t *)malloc((size_t)(EW + 5) * (EH + 3) * C);
        nnopt_image d4 = nnopt_image_u8(got, EW + 5, EH + 3, C);
        pad_reference(src, EW, EH, C, 2, 1, 3, 2, NNOPT_PAD_EDGE, NULL, ref);
        CHECK(nnopt_aug_pad(&s, &d4, 2, 1, 3, 2, NNOPT_PAD_EDGE, NULL) == NNOPT_OK);
        CHECK(memcmp(ref, got, (size_t)(EW + 5) * (EH + 3) * C) == 0);
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

/* ==== Batch normalization ========================================================== */

/* Shape overflow, a batch counter at its limit, an output overlapping gamma, fold of too many
   channels: each refused with nothing written. */
static void test_bn_rejects(void)
{
    enum { N = 2, C = 3, HW = 4, T = N * C * HW };
    float x[T], y[T], gamma[C] = { 1, 1, 1 }, beta[C] = { 0, 0, 0 }, rm[C] = { 0, 0, 0 }, rv[C] = { 1, 1, 1 };
    float sm[C], si[C], scale[C], shift[C];
    uint64_t tracked = UINT64_MAX;
    nnopt_bn_params p = nnopt_bn_defaults(NNOPT_BN_NCHW, N, C, HW), big = p;
    pattern_f32(x, T);
    poison(y, sizeof y); poison(sm, sizeof sm); poison(si, sizeof si);
    big.n = (size_t)1 << 20; big.c = (size_t)1 << 20; big.hw = (size_t)-1 >> 30;
    CHECK(nnopt_bn_forward_infer(&big, x, y, gamma, beta, rm, rv) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_forward_train(&p, x, y, gamma, beta, rm, rv, &tracked, sm, si) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_forward_infer(&p, x, gamma, gamma, beta, rm, rv) == NNOPT_ERR_INVALID);   /* y on gamma */
    CHECK(untouched(y, sizeof y) && untouched(sm, sizeof sm) && untouched(si, sizeof si));
    CHECK(gamma[0] == 1 && gamma[1] == 1 && gamma[2] == 1 && tracked == UINT64_MAX);
    poison(scale, sizeof scale); poison(shift, sizeof shift);
    CHECK(nnopt_bn_fold((size_t)-1 / 2, 1e-5, gamma, beta, rm, rv, scale, shift) == NNOPT_ERR_INVALID);
    CHECK(untouched(scale, sizeof scale) && untouched(shift, sizeof shift));
}

/* A constant channel has variance exactly 0 (the sums may round to a tiny negative value,
   which must not reach the square root): invstd = 1 / sqrt(eps) and y = beta. */
static void test_bn_constant_channel(void)
{
    static const float values[] = { 0.1f, 1.0f / 3.0f, 7.77f, -123.456f, 1e-3f, 3.3333333f };
    enum { N = 7, C = 1, HW = 3, T = N * C * HW };
    float x[T], y[T], gamma[1] = { 2.0f }, beta[1] = { 0.25f }, rm[1] = { 0 }, rv[1] = { 1 }, sm[1], si[1];
    nnopt_bn_params p = nnopt_bn_defaults(NNOPT_BN_NHWC, N, C, HW);
    size_t v, i;
    p.track_running_stats = 0;
    for (v = 0; v < sizeof values / sizeof values[0]; v++) {
        int bad = 0;
        for (i = 0; i < T; i++) x[i] = values[v];
        CHECK(nnopt_bn_forward_train(&p, x, y, gamma, beta, rm, rv, NULL, sm, si) == NNOPT_OK);
        CHECKF(si[0] == (float)(1.0 / sqrt(p.eps)) && sm[0] == values[v], "constant %g: invstd %g", values[v], si[0]);
        for (i = 0; i < T; i++) bad += y[i] != beta[0];
        CHECK(bad == 0);
    }
}

/* Inference backward with only some of dgamma, dbeta requested gives the same values as the
   full call. */
static void test_bn_backward_partial_outputs(void)
{
    enum { N = 3, C = 2, HW = 5, T = N * C * HW };
    float x[T], dy[T], gamma[C] = { 1.5f, -0.5f }, beta[C] = { 0.1f, 0.2f }, rm[C] = { 0.3f, 0.4f };
    float rv[C] = { 0.9f, 1.7f }, dx_all[T], dx[T], dg_all[C], db_all[C], db[C];
    nnopt_bn_params p = nnopt_bn_defaults(NNOPT_BN_NCHW, N, C, HW);
    pattern_f32(x, T);
    pattern_f32(dy, T);
    CHECK(nnopt_bn_backward_infer(&p, x, dy, gamma, beta, rm, rv, dx_all, dg_all, db_all) == NNOPT_OK);
    CHECK(nnopt_bn_backward_infer(&p, x, dy, gamma, beta, rm, rv, dx, NULL, db) == NNOPT_OK);
    CHECK(memcmp(dx, dx_all, sizeof dx) == 0 && memcmp(db, db_all, sizeof db) == 0);
    CHECK(nnopt_bn_backward_infer(&p, x, dy, gamma, beta, rm, rv, dx, NULL, NULL) == NNOPT_OK);
    CHECK(memcmp(dx, dx_all, sizeof dx) == 0);
}

/* ==== Dropout and DropConnect ======================================================= */

static void test_dropout_rejects(void)
{
    enum { N = 40 };
    float x[N], y[N + 8], dy[N];
    uint8_t bits[16];
    nnopt_rng rng = { 5, 6, 7 };
    pattern_f32(x, N); pattern_f32(dy, N);
    poison(y, sizeof y); poison(bits, sizeof bits);
    /* mask bits inside x; unknown scaling in each call; NULL dy; mask inside dx */
    CHECK(nnopt_dropout_forward(&rng, 0.5, NNOPT_DROPOUT_INVERTED, x, y, (uint8_t *)(void *)x, N) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_backward(&rng, 0.5, (nnopt_dropout_scaling)2, dy, y, N) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_backward_mask(bits, 0.5, (nnopt_dropout_scaling)2, dy, y, N) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_backward_mask(bits, 0.5, NNOPT_DROPOUT_INVERTED, NULL, y, N) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_backward_mask((const uint8_t *)(void *)y, 0.5, NNOPT_DROPOUT_INVERTED, dy, y, N) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_inference(0.5, (nnopt_dropout_scaling)-1, x, y, N) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_inference(0.5, NNOPT_DROPOUT_CLASSIC, NULL, y, N) == NNOPT_ERR_INVALID);
    /* channel dropout: element count overflow, NULL x, bits inside x or y */
    CHECK(nnopt_dropout_channels(&rng, 0.5, NNOPT_DROPOUT_NCHW, x, y, (size_t)-1 / 2, 2, 4, bits) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_channels(&rng, 0.5, NNOPT_DROPOUT_NCHW, NULL, y, 2, 4, 5, bits) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_channels(&rng, 0.5, NNOPT_DROPOUT_NCHW, x, y, 2, 4, 5, (uint8_t *)(void *)x) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_channels(&rng, 0.5, NNOPT_DROPOUT_NHWC, x, y, 2, 4, 5, (uint8_t *)(void *)(y + 2)) == NNOPT_ERR_INVALID);
    CHECK(untouched(y, sizeof y) && untouched(bits, sizeof bits));
    /* empty calls succeed and write nothing */
    CHECK(nnopt_dropout_backward_mask(NULL, 0.5, NNOPT_DROPOUT_INVERTED, dy, y, 0) == NNOPT_OK);
    CHECK(nnopt_dropout_inference(0.5, NNOPT_DROPOUT_INVERTED, x, y, 0) == NNOPT_OK);
    CHECK(nnopt_dropout_channels(&rng, 0.5, NNOPT_DROPOUT_NCHW, x, y, 0, 4, 5, bits) == NNOPT_OK);
    CHECK(untouched(y, sizeof y) && untouched(bits, sizeof bits));
}

/* In-place inference: inverted is the identity, classic scales by 1 - p (one float multiply). */
static void test_dropout_inference_in_place(void)
{
    enum { N = 37 };
    float x[N], ref[N];
    size_t i, bad = 0;
    pattern_f32(x, N);
    memcpy(ref, x, sizeof x);
    CHECK(nnopt_dropout_inference(0.3, NNOPT_DROPOUT_INVERTED, x, x, N) == NNOPT_OK);
    CHECK(memcmp(x, ref, sizeof x) == 0);
    CHECK(nnopt_dropout_inference(0.25, NNOPT_DROPOUT_CLASSIC, x, x, N) == NNOPT_OK);
    for (i = 0; i < N; i++) bad += x[i] != ref[i] * 0.75f;
    CHECK(bad == 0);
}

/* DropConnect reference: weight (o, i) of sample s kept iff its uniform is >= p. */
static int dc_kept(const nnopt_rng *rng, double p, size_t s, size_t o, size_t i, size_t in, size_t out)
{
    return nnopt_random_uniform_at(rng->seed, rng->stream, rng->offset + s * out * (in + 1) + o * (in + 1) + i) >= p;
}

static void test_dropconnect_rejects(void)
{
    enum { B = 2, I = 3, O = 4 };
    float W[O * I], b[O], x[B * I], dy[B * O], y[B * O + I], dW[O * I + 4], dx[B * I], db[O];
    nnopt_rng rng = { 1, 2, 3 };
    size_t big = (size_t)-1 / 8;
    pattern_f32(W, O * I); pattern_f32(b, O); pattern_f32(x, B * I); pattern_f32(dy, B * O);
    poison(y, sizeof y); poison(dW, sizeof dW); poison(dx, sizeof dx); poison(db, sizeof db);
    /* shapes: batch * in, batch * out overflow; misaligned W, x, b; y past SIZE_MAX / 4;
       in = SIZE_MAX; a Bernoulli count past the stream */
    CHECK(nnopt_dropconnect_forward(&rng, 0.5, 1, W, b, x, y, (size_t)-1, 2, 0) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_forward(&rng, 0.5, 1, W, b, x, y, (size_t)-1, 0, 2) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_forward(&rng, 0.5, 1, (const float *)(const void *)((const char *)W + 1), b, x, y, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_forward(&rng, 0.5, 1, W, b, (const float *)(const void *)((const char *)x + 1), y, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_forward(&rng, 0.5, 1, W, (const float *)(const void *)((const char *)b + 2), x, y, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_forward(&rng, 0.5, 1, W, NULL, x, y, 4, 1, big) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_forward(&rng, 0.5, 1, W, NULL, x, y, 0, (size_t)-1, 0) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_forward(&rng, 0.5, 1, W, NULL, x, y, (size_t)1 << 10, 4, ((size_t)1 << 52) - 1) == NNOPT_ERR_INVALID);
    /* outputs: misaligned y; y on b, on x */
    CHECK(nnopt_dropconnect_forward(&rng, 0.5, 1, W, b, x, (float *)(void *)((char *)y + 1), B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_forward(&rng, 0.5, 1, W, b, x, b, 1, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_forward(&rng, 0.5, 1, W, b, x, x, 1, I, 1) == NNOPT_ERR_INVALID);
    /* backward: NULL x, NULL rng, NULL dy, dW on W, dx on x, db on dy, outputs overlapping
       one another */
    CHECK(nnopt_dropconnect_backward(&rng, 0.5, 1, W, NULL, dy, dW, dx, db, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_backward(NULL, 0.5, 1, W, x, dy, dW, dx, db, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_backward(&rng, 0.5, 1, W, x, NULL, dW, dx, db, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_backward(&rng, 0.5, 1, W, x, dy, W, dx, db, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_backward(&rng, 0.5, 1, W, x, dy, dW, x, db, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_backward(&rng, 0.5, 1, W, x, dy, dW, dx, dy, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_backward(&rng, 0.5, 1, W, x, dy, dW, dW + 2, db, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_backward(&rng, 0.5, 1, W, x, dy, dW, dx, dW + 1, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_backward(&rng, 0.5, 1, W, x, dy, NULL, dx, dx + 1, B, I, O) == NNOPT_ERR_INVALID);
    /* inference: unknown activation, NULL W, y on x, NULL y, samples * units overflow */
    CHECK(nnopt_dropconnect_inference_mean(0.5, (nnopt_dropconnect_activation)-1, W, b, x, y, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_inference_mean(0.5, NNOPT_DROPCONNECT_RELU, NULL, b, x, y, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_inference_mean(0.5, NNOPT_DROPCONNECT_RELU, W, b, x, x, 1, I, 1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_inference_mean(0.5, NNOPT_DROPCONNECT_RELU, W, b, x, NULL, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_inference_gaussian(&rng, 0.5, NNOPT_DROPCONNECT_TANH, (size_t)-1 / 2, W, b, x, y, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_inference_gaussian(NULL, 0.5, NNOPT_DROPCONNECT_TANH, 4, W, b, x, y, B, I, O) == NNOPT_ERR_INVALID);
    CHECK(untouched(y, sizeof y) && untouched(dW, sizeof dW) && untouched(dx, sizeof dx) && untouched(db, sizeof db));
    /* empty shapes: nothing to compute, y may be NULL; no gradient wanted: nothing written */
    CHECK(nnopt_dropconnect_forward(&rng, 0.5, 1, W, b, x, NULL, 0, I, O) == NNOPT_OK);
    CHECK(nnopt_dropconnect_forward(&rng, 0.5, 1, W, NULL, x, NULL, B, I, 0) == NNOPT_OK);
    CHECK(nnopt_dropconnect_inference_mean(0.5, NNOPT_DROPCONNECT_RELU, W, b, x, NULL, 0, I, O) == NNOPT_OK);
    CHECK(nnopt_dropconnect_backward(&rng, 0.5, 1, W, x, dy, NULL, NULL, NULL, B, I, O) == NNOPT_OK);
}

/* Rare DropConnect paths against references computed from the Bernoulli definition: no bias,
   gradients requested one at a time, empty input and batch dimensions. */
static void test_dropconnect_paths(void)
{
    enum { B = 3, I = 5, O = 4 };
    float W[O * I], x[B * I], dy[B * O], y[B * O], dW[O * I], dx[B * I], db[O];
    float dW1[O * I], dx1[B * I], db1[O];
    nnopt_rng rng = { 11, 12, 13 };
    const double p = 0.4;
    size_t s, o, i;
    int bad = 0;
    pattern_f32(W, O * I); pattern_f32(x, B * I); pattern_f32(dy, B * O);
    for (i = 0; i < O * I; i++) W[i] -= 0.5f;
    /* forward without bias: y = sum over kept weights of W x, in double */
    CHECK(nnopt_dropconnect_forward(&rng, p, 1, W, NULL, x, y, B, I, O) == NNOPT_OK);
    for (s = 0; s < B; s++)
        for (o = 0; o < O; o++) {
            double ref = 0;
            for (i = 0; i < I; i++) if (dc_kept(&rng, p, s, o, i, I, O)) ref += (double)W[o * I + i] * x[s * I + i];
            bad += fabs(y[s * O + o] - ref) > 1e-6 * (1 + fabs(ref));
        }
    CHECK(bad == 0);
    /* mean inference without bias: (1 - p) W x */
    CHECK(nnopt_dropconnect_inference_mean(p, NNOPT_DROPCONNECT_IDENTITY, W, NULL, x, y, B, I, O) == NNOPT_OK);
    for (s = 0, bad = 0; s < B; s++)
        for (o = 0; o < O; o++) {
            double ref = 0;
            for (i = 0; i < I; i++) ref += (double)W[o * I + i] * x[s * I + i];
            ref *= 1 - p;
            bad += fabs(y[s * O + o] - ref) > 1e-6 * (1 + fabs(ref));
        }
    CHECK(bad == 0);
    /* Gaussian inference without bias and with variance zero (p = 0): act(W x) exactly as mean */
    {
        float ym[B * O];
        CHECK(nnopt_dropconnect_inference_mean(0.0, NNOPT_DROPCONNECT_SIGMOID, W, NULL, x, ym, B, I, O) == NNOPT_OK);
        CHECK(nnopt_dropconnect_inference_gaussian(&rng, 0.0, NNOPT_DROPCONNECT_SIGMOID, 3, W, NULL, x, y, B, I, O) == NNOPT_OK);
        for (i = 0, bad = 0; i < B * O; i++) bad += fabs(y[i] - ym[i]) > 1e-6;
        CHECK(bad == 0);
    }
    /* each gradient alone equals the same gradient of the full call */
    CHECK(nnopt_dropconnect_backward(&rng, p, 0, W, x, dy, dW, dx, db, B, I, O) == NNOPT_OK);
    CHECK(nnopt_dropconnect_backward(&rng, p, 0, W, x, dy, dW1, NULL, NULL, B, I, O) == NNOPT_OK);
    CHECK(nnopt_dropconnect_backward(&rng, p, 0, W, x, dy, NULL, dx1, NULL, B, I, O) == NNOPT_OK);
    CHECK(nnopt_dropconnect_backward(&rng, p, 0, W, x, dy, NULL, NULL, db1, B, I, O) == NNOPT_OK);
    CHECK(memcmp(dW, dW1, sizeof dW) == 0 && memcmp(dx, dx1, sizeof dx) == 0 && memcmp(db, db1, sizeof db) == 0);
    /* in = 0: only the biases; db = sum over samples of the kept bias' dy (shared mask) */
    CHECK(nnopt_dropconnect_backward(&rng, p, 0, W, x, dy, dW, dx, db, B, 0, O) == NNOPT_OK);
    for (o = 0, bad = 0; o < O; o++) {
        double ref = 0;
        for (s = 0; s < B; s++) if (dc_kept(&rng, p, 0, o, 0, 0, O)) ref += dy[s * O + o];
        bad += fabs(db[o] - ref) > 1e-6 * (1 + fabs(ref));
    }
    CHECK(bad == 0);
    /* batch = 0: dW and db are zero, dx has no elements */
    poison(dx, sizeof dx);
    CHECK(nnopt_dropconnect_backward(&rng, p, 1, W, x, dy, dW, dx, db, 0, I, O) == NNOPT_OK);
    for (i = 0, bad = 0; i < O * I; i++) bad += dW[i] != 0.0f;
    for (o = 0; o < O; o++) bad += db[o] != 0.0f;
    CHECK(bad == 0 && untouched(dx, sizeof dx));
    /* out = 0: nothing at all */
    poison(db, sizeof db);
    CHECK(nnopt_dropconnect_backward(&rng, p, 1, W, x, dy, dW, dx, db, B, I, 0) == NNOPT_OK);
    CHECK(untouched(db, sizeof db));
}

/* ==== Random numbers and regularization ============================================ */

static void test_random_reg_rejects(void)
{
    float out[8], w[6] = { 1, -2, 3, -4, 5, -6 }, w0[6];
    nnopt_rng rng = { 1, 2, 0 };
    size_t clipped = 99;
    double value = -1;
    poison(out, sizeof out);
    /* more floats than memory can hold */
    CHECK(nnopt_random_uniform(&rng, out, (size_t)-1 / 2) == NNOPT_ERR_INVALID);
    CHECK(untouched(out, sizeof out));
    memcpy(w0, w, sizeof w);
    /* lr * l2 overflows to Inf */
    CHECK(nnopt_proximal_sgd_step(w, NULL, 6, 1e300, 0.0, 1e300) == NNOPT_ERR_INVALID);
    CHECK(nnopt_max_norm(w, (size_t)-1 / 4, 2, 1.0, &clipped) == NNOPT_ERR_INVALID);
    CHECK(memcmp(w, w0, sizeof w) == 0 && clipped == 99);
    /* nothing asked for: no-op */
    CHECK(nnopt_penalty_elastic_net(w, NULL, 6, 0.1, 0.2, NULL) == NNOPT_OK);
    CHECK(memcmp(w, w0, sizeof w) == 0);
    /* empty matrices: no row is clipped */
    CHECK(nnopt_max_norm(w, 0, 6, 1.0, &clipped) == NNOPT_OK && clipped == 0);
    clipped = 99;
    CHECK(nnopt_max_norm(w, 6, 0, 1.0, &clipped) == NNOPT_OK && clipped == 0);
    CHECK(memcmp(w, w0, sizeof w) == 0);
    (void)value;
}

/* ==== Optimizers and averaging ====================================================== */

static void test_optimizer_rejects(void)
{
    static const nnopt_kind betas[] = { NNOPT_NADAM, NNOPT_YOGI, NNOPT_LAMB };
    nnopt_hparams h;
    nnopt_optimizer *opt;
    nnopt_group g;
    float a[8], b[8], probs[8];
    const float *logits[2];
    size_t k, sizes[1] = { 8 };
    double total = -1;
    for (k = 0; k < 3; k++) {
        h = nnopt_defaults(betas[k]); h.beta1 = 1.0;
        CHECKF(nnopt_create(&h, 4) == NULL, "kind %d beta1 1", (int)betas[k]);
        h = nnopt_defaults(betas[k]); h.beta2 = -0.1;
        CHECKF(nnopt_create(&h, 4) == NULL, "kind %d beta2 < 0", (int)betas[k]);
    }
    h = nnopt_defaults(NNOPT_LARS); h.momentum = -0.1; CHECK(nnopt_create(&h, 4) == NULL);
    h = nnopt_defaults(NNOPT_SGD); h.average_decay = -0.1; CHECK(nnopt_create(&h, 4) == NULL);
    h = nnopt_defaults(NNOPT_SGD); h.lookahead_alpha = -0.1; CHECK(nnopt_create(&h, 4) == NULL);
    h = nnopt_defaults(NNOPT_SGD);
    opt = nnopt_create(&h, 8);
    CHECK(opt != NULL);
    if (opt) {
        float *params[1], *grads[1];
        pattern_f32(a, 8); memcpy(b, a, sizeof a);
        params[0] = a; grads[0] = NULL;
        CHECK(nnopt_step(opt, a, (const float *)(const void *)((const char *)b + 1)) == NNOPT_ERR_INVALID);
        CHECK(nnopt_step_groups(opt, params, NULL) == NNOPT_ERR_INVALID);
        CHECK(nnopt_get_group(opt, 0, NULL) == NNOPT_ERR_INVALID);
        g = nnopt_group_default(8);
        CHECK(nnopt_set_group(opt, 0, NULL) == NNOPT_ERR_INVALID);
        CHECK(nnopt_set_group(opt, 1, &g) == NNOPT_ERR_INVALID);
        CHECK(nnopt_save(opt, NULL, 1 << 20) == NNOPT_ERR_INVALID);
        CHECK(memcmp(a, b, sizeof a) == 0);
        (void)grads;
        nnopt_destroy(opt);
    }
    /* averaging and ensembles */
    pattern_f32(a, 8); memcpy(b, a, sizeof a);
    CHECK(nnopt_ema_update(a, NULL, 8, 0.5, 1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_ema_update(a, b, 8, -0.5, 1) == NNOPT_ERR_INVALID);
    logits[0] = b; logits[1] = NULL;
    poison(probs, sizeof probs);
    CHECK(nnopt_ensemble_softmax(logits, 1, 2, 4, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_ensemble_softmax(logits, 1, 2, 0, probs) == NNOPT_ERR_INVALID);
    CHECK(nnopt_ensemble_softmax(logits, 1, (size_t)-1, 4, probs) == NNOPT_ERR_INVALID);
    CHECK(nnopt_ensemble_softmax(logits, 1, 2, 4, (float *)(void *)((char *)probs + 1)) == NNOPT_ERR_INVALID);
    CHECK(nnopt_ensemble_softmax(logits, 2, 2, 4, probs) == NNOPT_ERR_INVALID);
    CHECK(untouched(probs, sizeof probs));
    /* gradient clipping: NULL arrays with groups; no groups at all is a norm of 0 */
    CHECK(nnopt_clip_grad_norm_groups(NULL, sizes, 1, 1.0, 2.0, 0, &total) == NNOPT_ERR_INVALID);
    CHECK(total == -1);
    CHECK(nnopt_clip_grad_norm_groups(NULL, NULL, 0, 1.0, 2.0, 0, &total) == NNOPT_OK && total == 0.0);
    {
        float *gr[1];
        float gv[8];
        double scale;
        size_t i;
        int bad = 0;
        pattern_f32(gv, 8); memcpy(b, gv, sizeof gv); gr[0] = gv;
        CHECK(nnopt_clip_grad_norm_groups(gr, sizes, 1, 1e-3, 2.0, 0, NULL) == NNOPT_OK);
        for (i = 0, scale = 0; i < 8; i++) scale += (double)b[i] * b[i];
        scale = 1e-3 / (sqrt(scale) + 1e-6);
        for (i = 0; i < 8; i++) bad += fabs(gv[i] - b[i] * scale) > 1e-6 * fabs(b[i] * scale) + 1e-12;
        CHECK(bad == 0);
    }
}

/* LAMB and LARS with a zero gradient and no decay: the update norm is 0, the trust ratio
   falls back to 1 and the parameters stay exactly as they were. */
static void test_trust_ratio_zero_update(void)
{
    static const nnopt_kind kinds[] = { NNOPT_LAMB, NNOPT_LARS };
    float p[16], p0[16], g[16];
    size_t k;
    pattern_f32(p, 16); memcpy(p0, p, sizeof p); memset(g, 0, sizeof g);
    for (k = 0; k < 2; k++) {
        nnopt_hparams h = nnopt_defaults(kinds[k]);
        nnopt_optimizer *opt;
        h.weight_decay = 0.0;
        opt = nnopt_create(&h, 16);
        CHECK(opt != NULL);
        if (!opt) continue;
        CHECK(nnopt_step(opt, p, g) == NNOPT_OK && nnopt_step(opt, p, g) == NNOPT_OK);
        CHECKF(memcmp(p, p0, sizeof p) == 0, "kind %d moved with a zero gradient", (int)kinds[k]);
        nnopt_destroy(opt);
    }
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
    /* batch normalization */
    th_register("edges_bn_rejects", test_bn_rejects, TH_ONCE);
    th_register("edges_bn_constant_channel", test_bn_constant_channel, TH_EACH_ISA);
    th_register("edges_bn_backward_partial", test_bn_backward_partial_outputs, TH_ONCE);
    /* dropout and DropConnect */
    th_register("edges_dropout_rejects", test_dropout_rejects, TH_ONCE);
    th_register("edges_dropout_inference_in_place", test_dropout_inference_in_place, TH_EACH_ISA);
    th_register("edges_dropconnect_rejects", test_dropconnect_rejects, TH_ONCE);
    th_register("edges_dropconnect_paths", test_dropconnect_paths, TH_EACH_ISA);
    /* random numbers, regularization */
    th_register("edges_random_reg_rejects", test_random_reg_rejects, TH_ONCE);
    /* optimizers */
    th_register("edges_optimizer_rejects", test_optimizer_rejects, TH_ONCE);
    th_register("edges_trust_ratio_zero_update", test_trust_ratio_zero_update, TH_EACH_ISA);
}
