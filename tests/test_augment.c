/* Image augmentation: torchvision 0.14 goldens for every functional op (uint8 HWC and float
   CHW, 1 and 3 channels), bit identity of the vector paths, pipelines that replay exactly from
   their records and do not depend on the batch split, box and event statistics, random erasing
   with normal values, MixUp and CutMix on float and uint8 batches, bilinear passes at width 1
   and 2^20 + 3 against a reference, the caller-memory (_scratch) forms against the allocating
   ones, and bad input (status, nothing written). */
#define _POSIX_C_SOURCE 200112L   /* posix_memalign, for tight_memory */
#include "harness.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW 13
#define GH 11

/* The test image of make_golden_augment.py. */
static void source_u8(uint8_t *out, int w, int h, int c)
{
    int x, y, k;
    for (y = 0; y < h; y++)
        for (x = 0; x < w; x++)
            for (k = 0; k < c; k++)
                out[((size_t)y * w + x) * c + k] =
                    (uint8_t)((x * 37 + y * 91 + k * 53 + (x * y * 7) % 23 + (x ^ y) * 11) % 256);
}

/* The same image as float CHW, byte / 255. */
static void source_f32(float *out, int w, int h, int c)
{
    uint8_t *u = (uint8_t *)malloc((size_t)w * h * c);
    int p, k;
    source_u8(u, w, h, c);
    for (k = 0; k < c; k++)
        for (p = 0; p < w * h; p++) out[(size_t)k * w * h + p] = (float)u[(size_t)p * c + k] / 255.0f;
    free(u);
}

/* ---- Golden file -------------------------------------------------------------------- */
static char *golden_text;

static const char *golden_find(const char *name)
{
    size_t len = strlen(name);
    const char *s;
    if (!golden_text) {
        char path[512];
        FILE *f;
        long size;
        snprintf(path, sizeof path, "%s/augment_ops.txt", th_golden_dir());
        f = fopen(path, "rb");
        if (!f) return NULL;
        fseek(f, 0, SEEK_END); size = ftell(f); fseek(f, 0, SEEK_SET);
        golden_text = (char *)malloc((size_t)size + 1);
        if (fread(golden_text, 1, (size_t)size, f) != (size_t)size) size = 0;
        golden_text[size] = 0;
        fclose(f);
    }
    for (s = golden_text; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL)
        if (strncmp(s, name, len) == 0 && s[len] == ' ') return s + len + 1;
    return NULL;
}

/* Values of case `name` into a new array; *n their count. */
static double *golden(const char *name, size_t *n)
{
    const char *s = golden_find(name);
    char *end;
    double *v;
    size_t i;
    if (!CHECKF(s != NULL, "golden case %s missing", name)) return NULL;
    *n = (size_t)strtoul(s, &end, 10);
    v = (double *)malloc((*n + 1) * sizeof(double));
    for (i = 0; i < *n; i++) v[i] = strtod(end, &end);
    return v;
}

/* Compares an image's values (its own layout) with golden `name` within tol. */
static void check_golden(const char *name, const nnopt_image *img, double tol)
{
    size_t n, i, bad = 0, count = nnopt_image_bytes(img) / (img->format == NNOPT_IMAGE_U8_HWC ? 1 : 4);
    double *g = golden(name, &n), worst = 0.0;
    if (!g) return;
    if (CHECKF(n == count, "%s: %zu values, golden has %zu", name, count, n)) {
        for (i = 0; i < n; i++) {
            double v = img->format == NNOPT_IMAGE_U8_HWC ? (double)((uint8_t *)img->data)[i] : (double)((float *)img->data)[i];
            /* 9 digits give back the float exactly once rounded to float */
            double want = img->format == NNOPT_IMAGE_U8_HWC ? g[i] : (double)(float)g[i];
            double d = fabs(v - want);
            if (d > worst) worst = d;
            if (d > tol) bad++;
        }
        CHECKF(bad == 0, "%s: %zu values off by more than %g (worst %g)", name, bad, tol, worst);
        if (getenv("NNOPT_AUG_STATS")) {          /* how close: for docs/augmentation.md */
            size_t inexact = 0;
            for (i = 0; i < n; i++) {
                double v = img->format == NNOPT_IMAGE_U8_HWC ? (double)((uint8_t *)img->data)[i] : (double)((float *)img->data)[i];
                if (v != (img->format == NNOPT_IMAGE_U8_HWC ? g[i] : (double)(float)g[i])) inexact++;
            }
            printf("  %-28s %5zu values, %4zu not bit-exact, worst %.3g\n", name, n, inexact, worst);
        }
    }
    free(g);
}

/* ---- Functional ops against torchvision --------------------------------------------- */
typedef enum { OP_HFLIP, OP_VFLIP, OP_CROP, OP_CENTER, OP_CENTER_BIG, OP_PAD_CONST, OP_PAD_EDGE,
               OP_PAD_REFLECT, OP_PAD_SYM, OP_RESIZE_DOWN, OP_RESIZE_UP, OP_NEAR_DOWN, OP_NEAR_UP,
               OP_NEAR_DOUBLE, OP_RESIZED_CROP, OP_BRIGHT07, OP_BRIGHT14, OP_CONTRAST06,
               OP_CONTRAST15, OP_SAT03, OP_SAT18, OP_HUEM03, OP_HUE02, OP_HUE045, OP_GRAY1, OP_GRAY3,
               OP_ERASE, OP_COUNT } op_id;

static const struct { const char *name; int w, h, exact; } op_table[OP_COUNT] = {
    { "hflip", GW, GH, 1 }, { "vflip", GW, GH, 1 }, { "crop", 7, 5, 1 }, { "center_crop", 5, 6, 1 },
    { "center_crop_big", 16, 14, 1 }, { "pad_constant", GW + 4, GH + 6, 1 }, { "pad_edge", GW + 4, GH + 6, 1 },
    { "pad_reflect", GW + 4, GH + 6, 1 }, { "pad_symmetric", GW + 4, GH + 6, 1 },
    { "resize_down", 9, 7, 0 }, { "resize_up", 23, 20, 0 }, { "resize_nearest_down", 9, 7, 1 },
    { "resize_nearest_up", 23, 20, 1 }, { "resize_nearest_double", 26, 22, 1 }, { "resized_crop", 5, 6, 0 },
    { "brightness_07", GW, GH, 0 }, { "brightness_14", GW, GH, 0 }, { "contrast_06", GW, GH, 0 },
    { "contrast_15", GW, GH, 0 }, { "saturation_03", GW, GH, 0 }, { "saturation_18", GW, GH, 0 },
    { "hue_m03", GW, GH, 0 }, { "hue_02", GW, GH, 0 }, { "hue_045", GW, GH, 0 }, { "gray1", GW, GH, 0 },
    { "gray3", GW, GH, 0 }, { "erase", GW, GH, 1 },
};

static nnopt_status run_op(op_id op, const nnopt_image *src, const nnopt_image *dst)
{
    float fill[3] = { 7.0f, 7.0f, 7.0f }, value[3] = { 5.0f, 200.0f, 77.0f };
    int k;
    if (src->format == NNOPT_IMAGE_F32_CHW) { for (k = 0; k < 3; k++) { fill[k] /= 255.0f; value[k] /= 255.0f; } }
    if (src->format == NNOPT_IMAGE_F32_CHW) for (k = 0; k < 3; k++) fill[k] = 7.0f;   /* torch fills the number as given */
    switch (op) {
    case OP_HFLIP: return nnopt_aug_hflip(src, dst);
    case OP_VFLIP: return nnopt_aug_vflip(src, dst);
    case OP_CROP: return nnopt_aug_crop(src, dst, 2, 3);
    case OP_CENTER: case OP_CENTER_BIG: return nnopt_aug_center_crop(src, dst);
    case OP_PAD_CONST: return nnopt_aug_pad(src, dst, 1, 2, 3, 4, NNOPT_PAD_CONSTANT, fill);
    case OP_PAD_EDGE: return nnopt_aug_pad(src, dst, 1, 2, 3, 4, NNOPT_PAD_EDGE, NULL);
    case OP_PAD_REFLECT: return nnopt_aug_pad(src, dst, 1, 2, 3, 4, NNOPT_PAD_REFLECT, NULL);
    case OP_PAD_SYM: return nnopt_aug_pad(src, dst, 1, 2, 3, 4, NNOPT_PAD_SYMMETRIC, NULL);
    case OP_RESIZE_DOWN: case OP_RESIZE_UP: return nnopt_aug_resize(src, dst, NNOPT_INTERP_BILINEAR);
    case OP_NEAR_DOWN: case OP_NEAR_UP: case OP_NEAR_DOUBLE: return nnopt_aug_resize(src, dst, NNOPT_INTERP_NEAREST);
    case OP_RESIZED_CROP: return nnopt_aug_resized_crop(src, dst, 1, 2, 8, 9, NNOPT_INTERP_BILINEAR);
    case OP_BRIGHT07: return nnopt_aug_brightness(src, dst, 0.7);
    case OP_BRIGHT14: return nnopt_aug_brightness(src, dst, 1.4);
    case OP_CONTRAST06: return nnopt_aug_contrast(src, dst, 0.6);
    case OP_CONTRAST15: return nnopt_aug_contrast(src, dst, 1.5);
    case OP_SAT03: return nnopt_aug_saturation(src, dst, 0.3);
    case OP_SAT18: return nnopt_aug_saturation(src, dst, 1.8);
    case OP_HUEM03: return nnopt_aug_hue(src, dst, -0.3);
    case OP_HUE02: return nnopt_aug_hue(src, dst, 0.2);
    case OP_HUE045: return nnopt_aug_hue(src, dst, 0.45);
    case OP_GRAY1: case OP_GRAY3: return nnopt_aug_grayscale(src, dst);
    case OP_ERASE: {
        nnopt_status s;
        memcpy(dst->data, src->data, nnopt_image_bytes(src));
        s = nnopt_aug_erase(dst, 3, 4, 5, 6, value);
        return s;
    }
    default: return NNOPT_ERR_INVALID;
    }
}

static void test_ops_golden(void)
{
    int c, fmt, op;
    for (c = 1; c <= 3; c += 2)
        for (fmt = 0; fmt < 2; fmt++) {
            uint8_t su[GW * GH * 3];
            float sf[GW * GH * 3], df[64 * 64 * 3];
            uint8_t du[64 * 64 * 3];
            nnopt_image src = fmt ? nnopt_image_f32(sf, GW, GH, c) : nnopt_image_u8(su, GW, GH, c);
            source_u8(su, GW, GH, c);
            source_f32(sf, GW, GH, c);
            for (op = 0; op < OP_COUNT; op++) {
                int oc = op == OP_GRAY1 ? 1 : c;
                nnopt_image dst = fmt ? nnopt_image_f32(df, op_table[op].w, op_table[op].h, oc)
                                      : nnopt_image_u8(du, op_table[op].w, op_table[op].h, oc);
                char name[64];
                double tol = op_table[op].exact ? 0.0 : fmt ? 1e-5 : 1.0;
                nnopt_status s = run_op((op_id)op, &src, &dst);
                snprintf(name, sizeof name, "%s_%sc%d", op_table[op].name, fmt ? "f32" : "u8", c);
                if (!CHECKF(s == NNOPT_OK, "%s: status %d", name, (int)s)) continue;
                check_golden(name, &dst, tol);
            }
        }
}

/* Normalize is exact: the same two divisions as torch. */
static void test_normalize_golden(void)
{
    static const float mean[3] = { 0.4914f, 0.4822f, 0.4465f }, std[3] = { 0.2470f, 0.2435f, 0.2616f };
    int c;
    for (c = 1; c <= 3; c += 2) {
        uint8_t su[GW * GH * 3];
        float sf[GW * GH * 3], out[GW * GH * 3];
        nnopt_image u = nnopt_image_u8(su, GW, GH, c), f = nnopt_image_f32(sf, GW, GH, c);
        nnopt_image o = nnopt_image_f32(out, GW, GH, c);
        char name[64];
        source_u8(su, GW, GH, c);
        source_f32(sf, GW, GH, c);
        CHECK(nnopt_aug_normalize(&u, &o, mean, std) == NNOPT_OK);
        snprintf(name, sizeof name, "normalize_u8c%d", c);
        check_golden(name, &o, 1e-6);
        CHECK(nnopt_aug_normalize(&f, &o, mean, std) == NNOPT_OK);
        snprintf(name, sizeof name, "normalize_f32c%d", c);
        check_golden(name, &o, 1e-6);
    }
}

/* ---- Bit identity of the paths ------------------------------------------------------- */

/* Normalize over images 1 pixel high and n wide (1 and 3 channels), unaligned output. */
static void test_normalize_paths(void)
{
    static const size_t lengths[] = { 1, 7, 8, 15, 16, 17, 63, 1000, 100003 };
    static const float mean[3] = { 0.5f, 0.25f, 0.125f }, std[3] = { 0.3f, 0.7f, 1.9f };
    nnopt_isa saved = nnopt_isa_get();
    size_t t, i;
    int c;
    for (t = 0; t < sizeof lengths / sizeof *lengths; t++)
        for (c = 1; c <= 3; c += 2) {
            size_t n = lengths[t], len = n * (size_t)c;
            uint8_t *bytes = (uint8_t *)malloc(len + 1);
            float *ref = th_alloc_floats(len, 1), *got = th_alloc_floats(len, 1);
            nnopt_image src = nnopt_image_u8(bytes + 1, (int)n, 1, c), a = nnopt_image_f32(ref, (int)n, 1, c);
            nnopt_image b = nnopt_image_f32(got, (int)n, 1, c);
            int isa;
            for (i = 0; i < len; i++) bytes[i + 1] = (uint8_t)(i * 7919u >> 3);
            nnopt_isa_set(NNOPT_ISA_SCALAR);
            CHECK(nnopt_aug_normalize(&src, &a, mean, std) == NNOPT_OK);
            CHECK(nnopt_aug_normalize(&src, &b, mean, std) == NNOPT_OK);
            for (isa = 1; isa <= (int)nnopt_isa_best(); isa++) {
                nnopt_isa_set((nnopt_isa)isa);
                CHECK(nnopt_aug_normalize(&src, &b, mean, std) == NNOPT_OK);
                th_same_bits(ref, got, len, "normalize across paths");
            }
            /* and the float input */
            nnopt_isa_set(NNOPT_ISA_SCALAR);
            CHECK(nnopt_aug_normalize(&b, &a, mean, std) == NNOPT_OK);
            for (i = 0; i < len; i++)
                if (!CHECKF(a.format == NNOPT_IMAGE_F32_CHW && ref[i] == (got[i] - mean[i / n]) / std[i / n],
                            "float normalize element %zu", i)) break;
            th_free_floats(ref, 1); th_free_floats(got, 1); free(bytes);
        }
    nnopt_isa_set(saved);
}

/* The bilinear kernels (row gathers, column pass, rounding) at output widths around the
   vector widths, from uint8 (1, 3, 4 channels) and float images, into unaligned floats. */
/* Upscales and downscales of a narrow and a wide source: on AVX512-VBMI, 16 pixels whose
   taps span at most 128 bytes permute a window of bytes, wider ones gather, both here. */
static void test_resize_paths(void)
{
    static const int widths[] = { 1, 7, 8, 15, 16, 17, 63, 1000, 4099 };
    nnopt_isa saved = nnopt_isa_get();
    size_t t;
    int c, fmt, wide;
    for (wide = 0; wide < 2; wide++)
    for (t = 0; t < sizeof widths / sizeof *widths; t++)
        for (c = 1; c <= 4; c++)
            for (fmt = 0; fmt < 2; fmt++) {
                int w = widths[t], sw = wide ? 1200 : 37, sh = 5, isa, cw = sw - 4;
                size_t n = (size_t)w * 3 * (size_t)c, in_n = (size_t)sw * sh * (size_t)c;
                uint8_t *su = (uint8_t *)malloc(in_n + 1), *ou = (uint8_t *)malloc(2 * n + 2);
                float *sf = th_alloc_floats(in_n, 1), *a = th_alloc_floats(n, 1), *b = th_alloc_floats(n, 1);
                nnopt_image src, d0, d1;
                if (c == 2) { free(su); free(ou); th_free_floats(sf, 1); th_free_floats(a, 1); th_free_floats(b, 1); continue; }
                source_u8(su + 1, sw, sh, c);
                source_f32(sf, sw, sh, c);
                src = fmt ? nnopt_image_f32(sf, sw, sh, c) : nnopt_image_u8(su + 1, sw, sh, c);
                d0 = fmt ? nnopt_image_f32(a, w, 3, c) : nnopt_image_u8(ou + 1, w, 3, c);
                d1 = fmt ? nnopt_image_f32(b, w, 3, c) : nnopt_image_u8(ou + 1 + n, w, 3, c);
                nnopt_isa_set(NNOPT_ISA_SCALAR);
                CHECK(nnopt_aug_resized_crop(&src, &d0, 1, 2, 4, cw, NNOPT_INTERP_BILINEAR) == NNOPT_OK);
                for (isa = 1; isa <= (int)nnopt_isa_best(); isa++) {
                    nnopt_isa_set((nnopt_isa)isa);
                    CHECK(nnopt_aug_resized_crop(&src, &d1, 1, 2, 4, cw, NNOPT_INTERP_BILINEAR) == NNOPT_OK);
                    if (fmt) th_same_bits(a, b, n, "bilinear float across paths");
                    else CHECKF(memcmp(ou + 1, ou + 1 + n, n) == 0, "bilinear uint8 width %d channels %d differs", w, c);
                }
                free(su); free(ou); th_free_floats(sf, 1); th_free_floats(a, 1); th_free_floats(b, 1);
            }
    nnopt_isa_set(saved);
}

/* ---- Bilinear at the extreme widths ---------------------------------------------------- */

/* `bytes` bytes of scratch (filled with 0xCD) 1 byte past a 64-byte boundary, ending where
   its allocation ends: the library skips exactly the 63 bytes its size allows for alignment,
   so under AddressSanitizer any access past the memory it asked for is past the allocation.
   *block: what to free. */
static uint8_t *tight_memory(size_t bytes, void **block)
{
#if defined(__unix__) || defined(__APPLE__)
    if (posix_memalign(block, 64, bytes + 1) != 0) *block = NULL;
#else
    *block = NULL;
#endif
    if (!*block) *block = malloc(bytes + 1);
    memset(*block, 0xCD, bytes + 1);
    return (uint8_t *)*block + 1;
}

/* One axis of torch's bilinear map (docs/augmentation.md): scale = in / out in float,
   x = scale (o + 0.5) - 0.5 clamped at 0, taps floor(x) and the next (not past the end),
   l1 = x - floor(x), l0 = 1 - l1. One operation per statement: no compiler may contract a
   product and a sum into an fma. */
static void ref_axis(int in, int out, int *a, int *b, float *l0, float *l1)
{
    float scale = (float)in / (float)out;
    int o;
    for (o = 0; o < out; o++) {
        float centre = (float)o + 0.5f, x = scale * centre;
        int i0;
        x = x - 0.5f;
        if (x < 0.0f) x = 0.0f;
        i0 = (int)x;
        l1[o] = x - (float)i0;
        if (l1[o] > 1.0f) l1[o] = 1.0f;
        l0[o] = 1.0f - l1[o];
        a[o] = i0;
        b[o] = i0 + (i0 < in - 1 ? 1 : 0);
    }
}

/* A 1-channel uint8 resize as torch evaluates it: t = x_a l0 + x_b l1 along the rows, then
   t_a l0 + t_b l1 down the columns, rounded half to even. */
static void ref_resize_u8(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    int *xa = (int *)malloc((size_t)dw * sizeof(int)), *xb = (int *)malloc((size_t)dw * sizeof(int)), ya[8], yb[8];
    float *x0 = (float *)malloc((size_t)dw * sizeof(float)), *x1 = (float *)malloc((size_t)dw * sizeof(float));
    float y0[8], y1[8];
    int x, y;
    ref_axis(sw, dw, xa, xb, x0, x1);
    ref_axis(sh, dh, ya, yb, y0, y1);
    for (y = 0; y < dh; y++)
        for (x = 0; x < dw; x++) {
            const uint8_t *ra = src + (size_t)ya[y] * (size_t)sw, *rb = src + (size_t)yb[y] * (size_t)sw;
            float p = (float)ra[xa[x]] * x0[x], q = (float)ra[xb[x]] * x1[x], ta = p + q, tb, v;
            p = (float)rb[xa[x]] * x0[x]; q = (float)rb[xb[x]] * x1[x]; tb = p + q;
            p = ta * y0[y]; q = tb * y1[y]; v = p + q;
            dst[(size_t)y * (size_t)dw + (size_t)x] = (uint8_t)nearbyintf(v);
        }
    free(xa); free(xb); free(x0); free(x1);
}

/* 1-channel uint8 resizes from and to width 1 and a very wide image (2^20 + 3 pixels: every
   vector width and 16-pixel block boundary passed, an odd tail, and the last source row's
   4-byte reads at the end of the image), on every path, against the reference above; also in
   caller memory of exactly nnopt_aug_scratch_size bytes, so that under AddressSanitizer a
   read or write past the bilinear pass's memory is caught. */
static void test_bilinear_widths(void)
{
    enum { WIDE = (1 << 20) + 3, SH = 3, DH = 2 };
    static const int cases[][2] = { { 1, 1 }, { 37, 1 }, { WIDE, 1 }, { 1, WIDE }, { 37, WIDE }, { WIDE, WIDE } };
    nnopt_isa saved = nnopt_isa_get();
    uint8_t *src = (uint8_t *)malloc((size_t)WIDE * SH), *ref = (uint8_t *)malloc((size_t)WIDE * DH);
    uint8_t *got = (uint8_t *)malloc((size_t)WIDE * DH);
    size_t i, t;
    int isa;
    for (i = 0; i < (size_t)WIDE * SH; i++) src[i] = (uint8_t)((i * 2654435761u) >> 13);
    for (t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        int sw = cases[t][0], dw = cases[t][1];
        nnopt_image s = nnopt_image_u8(src, sw, SH, 1), d = nnopt_image_u8(got, dw, DH, 1);
        size_t n = (size_t)dw * DH, bytes = nnopt_aug_scratch_size(&d);
        void *block;
        uint8_t *scratch = tight_memory(bytes, &block);
        ref_resize_u8(src, sw, SH, ref, dw, DH);
        for (isa = 0; isa <= (int)nnopt_isa_best(); isa++) {
            nnopt_isa_set((nnopt_isa)isa);
            memset(got, 0xAB, n);
            CHECK(nnopt_aug_resize(&s, &d, NNOPT_INTERP_BILINEAR) == NNOPT_OK);
            CHECKF(memcmp(got, ref, n) == 0, "%s: width %d -> %d differs from the reference",
                   nnopt_isa_name((nnopt_isa)isa), sw, dw);
            memset(got, 0xAB, n);
            CHECK(nnopt_aug_resize_scratch(&s, &d, NNOPT_INTERP_BILINEAR, scratch, bytes) == NNOPT_OK);
            CHECKF(memcmp(got, ref, n) == 0, "%s: width %d -> %d in caller memory differs from the reference",
                   nnopt_isa_name((nnopt_isa)isa), sw, dw);
        }
        free(block);
    }
    nnopt_isa_set(saved);
    free(src); free(ref); free(got);
}

/* ---- Pipelines ----------------------------------------------------------------------- */

static nnopt_aug_pipeline cifar_pipeline(void)
{
    nnopt_aug_op ops[3];
    nnopt_aug_pipeline pl;
    int c;
    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_CROP);
    ops[0].width = ops[0].height = 32;
    for (c = 0; c < 4; c++) ops[0].pad[c] = 4;
    ops[0].pad_mode = NNOPT_PAD_REFLECT;
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_HFLIP);
    ops[2] = nnopt_aug_op_defaults(NNOPT_AUG_NORMALIZE);
    ops[2].mean[0] = 0.4914f; ops[2].mean[1] = 0.4822f; ops[2].mean[2] = 0.4465f;
    ops[2].std[0] = 0.2470f; ops[2].std[1] = 0.2435f; ops[2].std[2] = 0.2616f;
    CHECK(nnopt_aug_pipeline_init(&pl, ops, 3, NNOPT_IMAGE_U8_HWC, 32, 32, 3) == NNOPT_OK);
    return pl;
}

static nnopt_aug_pipeline imagenet_pipeline(int w, int h, int size)
{
    nnopt_aug_op ops[3];
    nnopt_aug_pipeline pl;
    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_RESIZED_CROP);
    ops[0].width = ops[0].height = size;
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_HFLIP);
    ops[2] = nnopt_aug_op_defaults(NNOPT_AUG_NORMALIZE);
    ops[2].mean[0] = 0.485f; ops[2].mean[1] = 0.456f; ops[2].mean[2] = 0.406f;
    ops[2].std[0] = 0.229f; ops[2].std[1] = 0.224f; ops[2].std[2] = 0.225f;
    CHECK(nnopt_aug_pipeline_init(&pl, ops, 3, NNOPT_IMAGE_U8_HWC, w, h, 3) == NNOPT_OK);
    return pl;
}

/* Each sample replayed with the functional ops and its record gives the same bits. */
static void test_cifar_replay(void)
{
    enum { N = 6 };
    nnopt_aug_pipeline pl = cifar_pipeline();
    uint8_t *in = (uint8_t *)malloc(N * 32 * 32 * 3), pad[40 * 40 * 3], crop[32 * 32 * 3], flip[32 * 32 * 3];
    float *out = (float *)malloc(N * 32 * 32 * 3 * sizeof(float)), ref[32 * 32 * 3];
    nnopt_aug_record rec[N];
    int k, flips = 0;
    for (k = 0; k < N; k++) source_u8(in + k * 3072, 32, 32, 3), in[k * 3072] = (uint8_t)k;
    CHECK(pl.out_width == 32 && pl.out_height == 32 && pl.out_format == NNOPT_IMAGE_F32_CHW);
    CHECK(nnopt_aug_apply(&pl, in, out, N, 42, 1000, rec) == NNOPT_OK);
    for (k = 0; k < N; k++) {
        nnopt_image s = nnopt_image_u8(in + k * 3072, 32, 32, 3), p = nnopt_image_u8(pad, 40, 40, 3);
        nnopt_image c = nnopt_image_u8(crop, 32, 32, 3), f = nnopt_image_u8(flip, 32, 32, 3);
        nnopt_image r = nnopt_image_f32(ref, 32, 32, 3);
        CHECK(nnopt_aug_pad(&s, &p, 4, 4, 4, 4, NNOPT_PAD_REFLECT, NULL) == NNOPT_OK);
        CHECK(rec[k].op[0].top >= 0 && rec[k].op[0].top <= 8 && rec[k].op[0].left >= 0 && rec[k].op[0].left <= 8);
        CHECK(nnopt_aug_crop(&p, &c, rec[k].op[0].top, rec[k].op[0].left) == NNOPT_OK);
        if (rec[k].op[1].applied) { CHECK(nnopt_aug_hflip(&c, &f) == NNOPT_OK); flips++; }
        else memcpy(flip, crop, sizeof crop);
        CHECK(nnopt_aug_normalize(&f, &r, pl.op[2].mean, pl.op[2].std) == NNOPT_OK);
        th_same_bits(ref, out + k * 3072, 3072, "cifar sample replayed from its record");
    }
    CHECK(flips > 0 && flips < N);   /* seed 42: both cases occur */
    free(in); free(out);
}

static void test_imagenet_replay(void)
{
    enum { N = 4, IW = 50, IH = 37, S = 24 };
    nnopt_aug_pipeline pl = imagenet_pipeline(IW, IH, S);
    uint8_t *in = (uint8_t *)malloc(N * IW * IH * 3), rc[S * S * 3], fl[S * S * 3];
    float *out = (float *)malloc(N * S * S * 3 * sizeof(float)), ref[S * S * 3];
    nnopt_aug_record rec[N];
    int k;
    for (k = 0; k < N; k++) source_u8(in + k * IW * IH * 3, IW, IH, 3);
    CHECK(nnopt_aug_apply(&pl, in, out, N, 7, 0, rec) == NNOPT_OK);
    for (k = 0; k < N; k++) {
        const nnopt_aug_choice *b = &rec[k].op[0];
        nnopt_image s = nnopt_image_u8(in + k * IW * IH * 3, IW, IH, 3), r = nnopt_image_u8(rc, S, S, 3);
        nnopt_image f = nnopt_image_u8(fl, S, S, 3), o = nnopt_image_f32(ref, S, S, 3);
        CHECK(nnopt_aug_resized_crop(&s, &r, b->top, b->left, b->height, b->width, NNOPT_INTERP_BILINEAR) == NNOPT_OK);
        if (rec[k].op[1].applied) CHECK(nnopt_aug_hflip(&r, &f) == NNOPT_OK);
        else memcpy(fl, rc, sizeof rc);
        CHECK(nnopt_aug_normalize(&f, &o, pl.op[2].mean, pl.op[2].std) == NNOPT_OK);
        th_same_bits(ref, out + k * S * S * 3, S * S * 3, "imagenet sample replayed from its record");
    }
    free(in); free(out);
}

/* RandomCrop with pad_if_needed on a float image: torchvision pads (crop - size) on both
   sides, then crops; replayed with nnopt_aug_pad and nnopt_aug_crop. Color jitter on the float
   image is replayed from its record (order and factors). */
static void test_random_crop_pad_if_needed_replay(void)
{
    enum { N = 4, IW = 9, IH = 7, CW = 12, CH = 8 };
    nnopt_aug_op ops[2];
    nnopt_aug_pipeline pl;
    nnopt_aug_record rec[N];
    float in[N * IW * IH * 3], out[N * CW * CH * 3], pad[(IW + 6) * (IH + 2) * 3], crop[CW * CH * 3];
    float fill[3] = { 0.25f, 0.5f, 0.75f };
    int k, j;
    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_CROP);
    ops[0].width = CW; ops[0].height = CH; ops[0].pad_if_needed = 1;
    for (j = 0; j < 3; j++) ops[0].fill[j] = fill[j];
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_COLOR_JITTER);
    ops[1].brightness[0] = 0.5; ops[1].brightness[1] = 1.5; ops[1].contrast[0] = 0.7; ops[1].contrast[1] = 1.2;
    ops[1].saturation[0] = 0.0; ops[1].saturation[1] = 2.0; ops[1].hue[0] = -0.5; ops[1].hue[1] = 0.5;
    CHECK(nnopt_aug_pipeline_init(&pl, ops, 2, NNOPT_IMAGE_F32_CHW, IW, IH, 3) == NNOPT_OK);
    for (k = 0; k < N; k++) source_f32(in + k * IW * IH * 3, IW, IH, 3);
    CHECK(nnopt_aug_apply(&pl, in, out, N, 3, 77, rec) == NNOPT_OK);
    for (k = 0; k < N; k++) {
        nnopt_image s = nnopt_image_f32(in + k * IW * IH * 3, IW, IH, 3);
        nnopt_image p = nnopt_image_f32(pad, IW + 6, IH + 2, 3), c = nnopt_image_f32(crop, CW, CH, 3);
        const nnopt_aug_choice *jc = &rec[k].op[1];
        CHECK(nnopt_aug_pad(&s, &p, 3, 1, 3, 1, NNOPT_PAD_CONSTANT, fill) == NNOPT_OK);
        CHECK(nnopt_aug_crop(&p, &c, rec[k].op[0].top, rec[k].op[0].left) == NNOPT_OK);
        for (j = 0; j < 4; j++) {
            float tmp[CW * CH * 3];
            nnopt_image t = nnopt_image_f32(tmp, CW, CH, 3);
            double f = jc->factor[jc->order[j]];
            nnopt_status st = jc->order[j] == 0 ? nnopt_aug_brightness(&c, &t, f) : jc->order[j] == 1 ? nnopt_aug_contrast(&c, &t, f)
                            : jc->order[j] == 2 ? nnopt_aug_saturation(&c, &t, f) : nnopt_aug_hue(&c, &t, f);
            CHECK(st == NNOPT_OK);
            memcpy(crop, tmp, sizeof tmp);
        }
        th_same_bits(crop, out + k * CW * CH * 3, CW * CH * 3, "random crop + jitter replayed");
    }
}

/* RandomCrop pads twice as torchvision does: reflecting the already padded image differs
   from one wider reflection (1 2 3 4 5 padded by 1 then 1: 2 1 2 ..., not 3 2 1 ...). */
static void test_random_crop_two_step_reflect(void)
{
    enum { N = 3, IW = 5, IH = 4, CW = 9, CH = 8 };
    nnopt_aug_op op = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_CROP);
    nnopt_aug_pipeline pl;
    nnopt_aug_record rec[N];
    uint8_t in[N * IW * IH * 3], out[N * CW * CH * 3], p1[7 * 6 * 3], p2[11 * 10 * 3], crop[CW * CH * 3];
    int k;
    op.width = CW; op.height = CH; op.pad[0] = op.pad[1] = op.pad[2] = op.pad[3] = 1;
    op.pad_mode = NNOPT_PAD_REFLECT; op.pad_if_needed = 1;
    CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, IW, IH, 3) == NNOPT_OK);
    for (k = 0; k < N; k++) source_u8(in + k * IW * IH * 3, IW, IH, 3), in[k * IW * IH * 3] = (uint8_t)(k * 50);
    CHECK(nnopt_aug_apply(&pl, in, out, N, 8, 0, rec) == NNOPT_OK);
    for (k = 0; k < N; k++) {
        nnopt_image s = nnopt_image_u8(in + k * IW * IH * 3, IW, IH, 3), a = nnopt_image_u8(p1, 7, 6, 3);
        nnopt_image b = nnopt_image_u8(p2, 11, 10, 3), c = nnopt_image_u8(crop, CW, CH, 3);
        CHECK(nnopt_aug_pad(&s, &a, 1, 1, 1, 1, NNOPT_PAD_REFLECT, NULL) == NNOPT_OK);
        CHECK(nnopt_aug_pad(&a, &b, 2, 2, 2, 2, NNOPT_PAD_REFLECT, NULL) == NNOPT_OK);
        CHECK(nnopt_aug_crop(&b, &c, rec[k].op[0].top, rec[k].op[0].left) == NNOPT_OK);
        CHECKF(memcmp(crop, out + k * CW * CH * 3, sizeof crop) == 0, "sample %d: two-step reflect padding", k);
    }
}

/* A long pipeline (every op) on every path and split into two calls: the same bits. */
static void test_pipeline_paths_and_split(void)
{
    enum { N = 5, IW = 21, IH = 17 };
    nnopt_aug_op ops[12];
    nnopt_aug_pipeline pl;
    nnopt_isa saved = nnopt_isa_get();
    uint8_t *in = (uint8_t *)malloc(N * IW * IH * 3);
    size_t out_n;
    float *ref, *got;
    int k = 0, isa;
    ops[k] = nnopt_aug_op_defaults(NNOPT_AUG_PAD); ops[k].pad[0] = 2; ops[k].pad[3] = 3;
    ops[k].pad_mode = NNOPT_PAD_SYMMETRIC; k++;
    ops[k] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_CROP); ops[k].width = 26; ops[k].height = 16;
    ops[k].pad_if_needed = 1; ops[k].fill[0] = 9; ops[k].fill[1] = 99; ops[k].fill[2] = 199; k++;
    ops[k] = nnopt_aug_op_defaults(NNOPT_AUG_VFLIP); ops[k].p = 0.5; k++;
    ops[k] = nnopt_aug_op_defaults(NNOPT_AUG_COLOR_JITTER);
    ops[k].brightness[0] = 0.6; ops[k].brightness[1] = 1.4; ops[k].contrast[0] = 0.6; ops[k].contrast[1] = 1.4;
    ops[k].saturation[0] = 0.5; ops[k].saturation[1] = 1.5; ops[k].hue[0] = -0.1; ops[k].hue[1] = 0.1; k++;
    ops[k] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_RESIZED_CROP); ops[k].width = 19; ops[k].height = 15; k++;
    ops[k] = nnopt_aug_op_defaults(NNOPT_AUG_HFLIP); k++;
    ops[k] = nnopt_aug_op_defaults(NNOPT_AUG_GRAYSCALE); ops[k].p = 0.3; k++;
    ops[k] = nnopt_aug_op_defaults(NNOPT_AUG_CENTER_CROP); ops[k].width = 17; ops[k].height = 16; k++;
    ops[k] = nnopt_aug_op_defaults(NNOPT_AUG_NORMALIZE); ops[k].mean[0] = 0.5f; ops[k].std[1] = 0.5f; k++;
    ops[k] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_ERASING); ops[k].p = 0.7; ops[k].value[1] = -1.0f; k++;
    ops[k] = nnopt_aug_op_defaults(NNOPT_AUG_GAUSSIAN_NOISE); ops[k].clip = 0; k++;
    ops[k] = nnopt_aug_op_defaults(NNOPT_AUG_RESIZE); ops[k].width = 11; ops[k].height = 9; k++;
    CHECK(nnopt_aug_pipeline_init(&pl, ops, k, NNOPT_IMAGE_U8_HWC, IW, IH, 3) == NNOPT_OK);
    CHECK(pl.out_width == 11 && pl.out_height == 9 && pl.out_format == NNOPT_IMAGE_F32_CHW);
    out_n = (size_t)N * 11 * 9 * 3;
    ref = th_alloc_floats(out_n, 1); got = th_alloc_floats(out_n, 1);
    for (k = 0; k < N; k++) source_u8(in + k * IW * IH * 3, IW, IH, 3), in[k * IW * IH * 3 + 5] = (uint8_t)(k * 40);
    nnopt_isa_set(NNOPT_ISA_SCALAR);
    CHECK(nnopt_aug_apply(&pl, in, ref, N, 99, 10, NULL) == NNOPT_OK);
    for (isa = 0; isa <= (int)nnopt_isa_best(); isa++) {
        nnopt_isa_set((nnopt_isa)isa);
        memset(got, 0, out_n * sizeof(float));
        CHECK(nnopt_aug_apply(&pl, in, got, 2, 99, 10, NULL) == NNOPT_OK);
        CHECK(nnopt_aug_apply(&pl, in + 2 * IW * IH * 3, got + 2 * 11 * 9 * 3, N - 2, 99, 12, NULL) == NNOPT_OK);
        th_same_bits(ref, got, out_n, "pipeline across paths and batch splits");
    }
    nnopt_isa_set(saved);
    th_free_floats(ref, 1); th_free_floats(got, 1); free(in);
}

/* ---- Random erasing with normal values ------------------------------------------------ */

/* Every byte still 0xAB (the fill of buffers that bad input must not touch). */
static int untouched(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) if (p[i] != 0xAB) return 0;
    return 1;
}

/* Window values are the documented normal numbers (so chunks of the draw join up), the rest is
   untouched, the fill is standard normal, and every path gives the same bits. */
static void test_erase_normal(void)
{
    enum { W = 223, H = 211, C = 3, TOP = 5, LEFT = 7, BH = 200, BW = 201 };
    const size_t n = (size_t)W * H * C, total = (size_t)C * BH * BW;
    const uint64_t seed = 0x1234567890ull, stream = 77, offset = 1000003;
    float *src = th_alloc_floats(n, 1), *img = th_alloc_floats(n, 1), *ref = th_alloc_floats(n, 1);
    nnopt_image m = nnopt_image_f32(img, W, H, C), u;
    nnopt_isa saved = nnopt_isa_get();
    double s = 0.0, s2 = 0.0, tails = 0.0, p2 = 0.04550026389635842;   /* P(|Z| > 2) */
    size_t i, bad_in = 0, bad_out = 0;
    int c, x, y, isa;
    uint8_t bytes[3 * 4 * 4];
    for (i = 0; i < n; i++) src[i] = (float)i * 0.001f - 7.0f;
    memcpy(img, src, n * sizeof(float));
    nnopt_isa_set(NNOPT_ISA_SCALAR);
    CHECK(nnopt_aug_erase_normal(&m, TOP, LEFT, BH, BW, seed, stream, offset) == NNOPT_OK);
    for (c = 0; c < C; c++)
        for (y = 0; y < H; y++)
            for (x = 0; x < W; x++) {
                size_t at = ((size_t)c * H + y) * W + x;
                if (y >= TOP && y < TOP + BH && x >= LEFT && x < LEFT + BW) {
                    uint64_t e = ((uint64_t)c * BH + (uint64_t)(y - TOP)) * BW + (uint64_t)(x - LEFT);
                    bad_in += img[at] != nnopt_random_normal_at(seed, stream, offset + e);
                    s += img[at]; s2 += (double)img[at] * img[at]; tails += fabs(img[at]) > 2.0f;
                } else {
                    bad_out += memcmp(&img[at], &src[at], sizeof(float)) != 0;
                }
            }
    CHECKF(bad_in == 0, "%zu window values are not normal number offset + (c h + y) w + x", bad_in);
    CHECKF(bad_out == 0, "%zu values outside the window changed", bad_out);
    /* N(0, 1): mean sd 1/sqrt(N), mean square sd sqrt(2/N), tail fraction binomial */
    CHECKF(fabs(s / total) < 6.2 / sqrt((double)total), "mean %g", s / total);
    CHECKF(fabs(s2 / total - 1.0) < 6.5 * sqrt(2.0 / total), "mean square %g", s2 / total);
    CHECKF(fabs(tails / total - p2) < 6.2 * sqrt(p2 * (1 - p2) / total), "P(|z| > 2) %g", tails / total);
    memcpy(ref, img, n * sizeof(float));
    for (isa = 1; isa <= (int)nnopt_isa_best(); isa++) {
        nnopt_isa_set((nnopt_isa)isa);
        memcpy(img, src, n * sizeof(float));
        CHECK(nnopt_aug_erase_normal(&m, TOP, LEFT, BH, BW, seed, stream, offset) == NNOPT_OK);
        th_same_bits(ref, img, n, "erase_normal across paths");
    }
    nnopt_isa_set(saved);
    /* the last index of the stream is reachable, one past it is not; empty windows are fine */
    memcpy(img, src, n * sizeof(float));
    CHECK(nnopt_aug_erase_normal(&m, 0, 0, 2, 3, seed, stream, UINT64_MAX - 3 * 6 + 1) == NNOPT_OK);
    CHECK(img[0] == nnopt_random_normal_at(seed, stream, UINT64_MAX - 17) &&
          img[2 * W * H + W + 2] == nnopt_random_normal_at(seed, stream, UINT64_MAX));
    memcpy(img, src, n * sizeof(float));
    CHECK(nnopt_aug_erase_normal(&m, 0, 0, 2, 3, seed, stream, UINT64_MAX - 3 * 6 + 2) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_erase_normal(&m, 3, 4, 0, 5, seed, stream, 0) == NNOPT_OK);
    CHECK(nnopt_aug_erase_normal(&m, H, W, 0, 0, seed, stream, 0) == NNOPT_OK);
    /* bad input: window outside, negative sizes, NULL, uint8 (normals do not fit in bytes) */
    CHECK(nnopt_aug_erase_normal(&m, H - BH + 1, 0, BH, 1, seed, stream, 0) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_erase_normal(&m, 0, W - 1, 1, 2, seed, stream, 0) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_erase_normal(&m, -1, 0, 1, 1, seed, stream, 0) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_erase_normal(&m, 0, 0, 1, -1, seed, stream, 0) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_erase_normal(NULL, 0, 0, 1, 1, seed, stream, 0) == NNOPT_ERR_INVALID);
    u = m; u.channels = 2; CHECK(nnopt_aug_erase_normal(&u, 0, 0, 1, 1, seed, stream, 0) == NNOPT_ERR_INVALID);
    u = m; u.data = (char *)img + 2; CHECK(nnopt_aug_erase_normal(&u, 0, 0, 1, 1, seed, stream, 0) == NNOPT_ERR_INVALID);
    th_same_bits(src, img, n, "nothing written on bad input");
    memset(bytes, 0xAB, sizeof bytes);
    u = nnopt_image_u8(bytes, 4, 4, 3);
    CHECK(nnopt_aug_erase_normal(&u, 0, 0, 2, 2, seed, stream, 0) == NNOPT_ERR_INVALID);
    CHECK(untouched(bytes, sizeof bytes));
    th_free_floats(src, 1); th_free_floats(img, 1); th_free_floats(ref, 1);
}

/* RANDOM_ERASING with random_value after NORMALIZE (op 1): each sample's window holds the normals
   at (2 << 32) + window index of its own stream, the rest is the normalized image; the same bits
   for any split of the batch and on every path; uint8 images are refused at init. */
static void test_pipeline_random_erasing(void)
{
    enum { N = 12, IW = 37, IH = 29, S = IW * IH * 3 };
    nnopt_aug_op ops[2];
    nnopt_aug_pipeline pl;
    nnopt_aug_record rec[N];
    nnopt_isa saved = nnopt_isa_get();
    uint8_t *in = (uint8_t *)malloc((size_t)N * S);
    float *ref = th_alloc_floats((size_t)N * S, 1), *got = th_alloc_floats((size_t)N * S, 1);
    float *norm = th_alloc_floats(S, 1);
    const uint64_t seed = 31337, first = 1000;
    int k, c, x, y, isa, applied = 0;
    size_t bad_in = 0, bad_out = 0;
    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_NORMALIZE);
    ops[0].mean[0] = 0.485f; ops[0].mean[1] = 0.456f; ops[0].mean[2] = 0.406f;
    ops[0].std[0] = 0.229f; ops[0].std[1] = 0.224f; ops[0].std[2] = 0.225f;
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_ERASING);
    ops[1].p = 0.8; ops[1].random_value = 1;
    CHECK(nnopt_aug_pipeline_init(&pl, ops + 1, 1, NNOPT_IMAGE_U8_HWC, IW, IH, 3) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pipeline_init(&pl, ops + 1, 1, NNOPT_IMAGE_F32_CHW, 65536, 65536, 1) == NNOPT_OK);
    CHECK(nnopt_aug_pipeline_init(&pl, ops + 1, 1, NNOPT_IMAGE_F32_CHW, 65536, 65537, 1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pipeline_init(&pl, ops, 2, NNOPT_IMAGE_U8_HWC, IW, IH, 3) == NNOPT_OK);
    for (k = 0; k < N; k++) {
        source_u8(in + (size_t)k * S, IW, IH, 3);
        in[(size_t)k * S + (size_t)k] = (uint8_t)(k * 19);
    }
    nnopt_isa_set(NNOPT_ISA_SCALAR);
    CHECK(nnopt_aug_apply(&pl, in, ref, N, seed, first, rec) == NNOPT_OK);
    for (k = 0; k < N; k++) {
        const nnopt_aug_choice *b = &rec[k].op[1];
        nnopt_image s = nnopt_image_u8(in + (size_t)k * S, IW, IH, 3), d = nnopt_image_f32(norm, IW, IH, 3);
        const float *o = ref + (size_t)k * S;
        CHECK(nnopt_aug_normalize(&s, &d, ops[0].mean, ops[0].std) == NNOPT_OK);
        applied += b->applied;
        for (c = 0; c < 3; c++)
            for (y = 0; y < IH; y++)
                for (x = 0; x < IW; x++) {
                    size_t at = ((size_t)c * IH + y) * IW + x;
                    if (b->applied && y >= b->top && y < b->top + b->height && x >= b->left && x < b->left + b->width) {
                        uint64_t e = ((uint64_t)c * b->height + (uint64_t)(y - b->top)) * b->width + (uint64_t)(x - b->left);
                        bad_in += o[at] != nnopt_random_normal_at(seed, first + k, ((uint64_t)2 << 32) + e);
                    } else {
                        bad_out += memcmp(&o[at], &norm[at], sizeof(float)) != 0;
                    }
                }
        if (b->applied) {   /* replay with the functional form */
            CHECK(nnopt_aug_erase_normal(&d, b->top, b->left, b->height, b->width, seed, first + k,
                                         (uint64_t)2 << 32) == NNOPT_OK);
            th_same_bits(o, norm, S, "pipeline erasing replayed by nnopt_aug_erase_normal");
        }
    }
    CHECKF(applied > 0 && applied < N, "%d of %d samples erased", applied, N);   /* this seed checks both cases */
    CHECKF(bad_in == 0, "%zu erased values are not the sample's normals", bad_in);
    CHECKF(bad_out == 0, "%zu values outside the window changed", bad_out);
    for (isa = 0; isa <= (int)nnopt_isa_best(); isa++) {
        nnopt_isa_set((nnopt_isa)isa);
        memset(got, 0, (size_t)N * S * sizeof(float));
        CHECK(nnopt_aug_apply(&pl, in, got, 5, seed, first, NULL) == NNOPT_OK);
        for (k = 5; k < N; k++)         /* the rest one at a time, in reverse */
            CHECK(nnopt_aug_apply(&pl, in + (size_t)(N - 1 - k + 5) * S, got + (size_t)(N - 1 - k + 5) * S, 1, seed,
                                  first + (uint64_t)(N - 1 - k + 5), NULL) == NNOPT_OK);
        th_same_bits(ref, got, (size_t)N * S, "random erasing across paths and batch splits");
    }
    nnopt_isa_set(saved);
    free(in); th_free_floats(ref, 1); th_free_floats(got, 1); th_free_floats(norm, 1);
}

/* Statistics (bounds exceeded with probability < 1e-9 by a correct implementation). */
static void test_pipeline_statistics(void)
{
    enum { N = 20000 };
    nnopt_aug_pipeline pl = imagenet_pipeline(500, 375, 8);
    nnopt_aug_record *rec = (nnopt_aug_record *)malloc(N * sizeof *rec);
    uint8_t *in = (uint8_t *)calloc(500 * 375 * 3, 1);
    float out[8 * 8 * 3];
    size_t n, k;
    double *mean = golden("rrc_area_mean", &n), *sd = golden("rrc_area_sd", &n);
    double s_area = 0.0, s_left = 0.0, n_left = 0.0, bound;
    long flips = 0;
    for (k = 0; k < N && mean && sd; k++) {
        const nnopt_aug_choice *b = &rec[k].op[0];
        CHECK(nnopt_aug_apply(&pl, in, out, 1, 2024, k, &rec[k]) == NNOPT_OK);
        if (!CHECK(b->width > 0 && b->width <= 500 && b->height > 0 && b->height <= 375 &&
                   b->top >= 0 && b->top + b->height <= 375 && b->left >= 0 && b->left + b->width <= 500))
            break;
        s_area += (double)b->width * b->height / (500.0 * 375.0);
        if (b->width < 500) { s_left += (double)b->left / (500 - b->width); n_left += 1.0; }
        flips += rec[k].op[1].applied;
    }
    if (mean && sd) {
        /* mean box area against torchvision's get_params (200000 draws) */
        bound = 6.2 * sqrt(sd[0] * sd[0] / N + mean[1] * mean[1]);
        CHECKF(fabs(s_area / N - mean[0]) < bound, "mean area %g, torchvision %g (bound %g)", s_area / N, mean[0], bound);
        /* left offset uniform over its range: mean 1/2, sd < 0.3 */
        CHECKF(fabs(s_left / n_left - 0.5) < 6.2 * 0.3 / sqrt(n_left), "left offset mean %g", s_left / n_left);
        CHECKF(labs(flips - N / 2) < (long)(6.2 * sqrt(N * 0.25)), "%ld flips of %d", flips, (int)N);
    }
    free(mean); free(sd); free(rec); free(in);
}

/* ---- MixUp, CutMix, Beta ------------------------------------------------------------- */
static void make_batch(float *batch)
{
    int k, e;
    float one[GW * GH * 3];
    source_f32(one, GW, GH, 3);
    for (k = 0; k < 4; k++)
        for (e = 0; e < GW * GH * 3; e++) batch[k * GW * GH * 3 + e] = one[e] * (float)(k + 1) / 4.0f;
}

static void test_mixing_golden(void)
{
    static const int labels[4] = { 2, 0, 3, 1 };
    float batch[4 * GW * GH * 3], out[4 * GW * GH * 3], soft[20];
    nnopt_image img = nnopt_image_f32(out, GW, GH * 4, 3);   /* 4 images back to back: the same floats */
    nnopt_image lab = nnopt_image_f32(soft, 5, 4, 1);
    double lam = 0.0, params[6];
    size_t i;
    make_batch(batch);
    CHECK(nnopt_aug_mixup(batch, out, 4, GW * GH * 3, labels, 5, soft, 0.3125) == NNOPT_OK);
    check_golden("mixup_images", &img, 0.0);
    check_golden("mixup_labels", &lab, 0.0);
    CHECK(nnopt_aug_cutmix(batch, out, 4, 3, GH, GW, labels, 5, soft, 3, 2, 10, 7, &lam) == NNOPT_OK);
    check_golden("cutmix_images", &img, 0.0);
    check_golden("cutmix_labels", &lab, 0.0);
    CHECK(fabs(lam - (1.0 - 35.0 / 143.0)) < 1e-15);
    /* random forms: the box follows the drawn lambda, the labels the adjusted one */
    CHECK(nnopt_aug_cutmix_random(batch, out, 4, 3, GH, GW, labels, 5, soft, 1.0, 5, 6, params) == NNOPT_OK);
    CHECK(params[0] > 0.0 && params[0] < 1.0 && params[1] >= 0 && params[3] <= GW && params[2] >= 0 && params[4] <= GH);
    CHECK(params[5] == 1.0 - (params[3] - params[1]) * (params[4] - params[2]) / (GW * GH));
    for (i = 0; i < 4; i++) CHECK(fabs(soft[i * 5 + labels[i]] - params[5]) < 1e-6 || labels[i] == labels[(i + 3) % 4]);
    CHECK(nnopt_aug_mixup_random(batch, out, 4, GW * GH * 3, labels, 5, soft, 0.4, 5, 6, &lam) == NNOPT_OK);
    CHECK(lam >= 0.0 && lam <= 1.0 && fabs(soft[labels[0]] - (float)lam) < 1e-6);
}

/* uint8 batches of 4 images, 3 channels: bytes covering 0..255 with ties at lam = 1/2. */
static void make_batch_u8(uint8_t *batch, int w, int h)
{
    int k;
    for (k = 0; k < 4; k++) source_u8(batch + (size_t)k * w * h * 3, w, h, 3);
    for (k = 0; k < w * h * 3; k++) batch[(size_t)w * h * 3 + k] = (uint8_t)(255 - batch[k]);   /* extremes */
}

/* MixUp on bytes against a reference written here: the float form's value, then rounded half to
   even and clamped; within 1/2 (+ float error) of the exact mix; soft labels those of the float
   form with the same draw. */
static void test_mixup_u8(void)
{
    enum { W = 9, H = 7, S = W * H * 3 };
    static const int labels[4] = { 1, 4, 1, 0 };
    static const double lams[5] = { 0.0, 0.5, 0.3125, 0.77, 1.0 };
    uint8_t batch[4 * S], out[4 * S];
    float fbatch[4 * S], fout[4 * S], soft[20], soft_f[20];
    int t, i, e, bad = 0, ties = 0;
    double lam = -1.0, lam_f = -2.0;
    make_batch_u8(batch, W, H);
    batch[0] = 1; batch[3 * S] = 2;     /* sample 0 mixes byte 0 with sample 3's: 1.5 -> 2 at lam 1/2 */
    batch[1] = 3; batch[3 * S + 1] = 2; /* 2.5 -> 2 */
    for (e = 0; e < 4 * S; e++) fbatch[e] = (float)batch[e];
    for (t = 0; t < 5; t++) {
        float l = (float)lams[t], oml = (float)(1.0 - lams[t]);
        CHECK(nnopt_aug_mixup_u8(batch, out, 4, S, labels, 5, soft, lams[t]) == NNOPT_OK);
        CHECK(nnopt_aug_mixup(fbatch, fout, 4, S, labels, 5, soft_f, lams[t]) == NNOPT_OK);
        CHECK(memcmp(soft, soft_f, sizeof soft) == 0);
        for (i = 0; i < 4; i++)
            for (e = 0; e < S; e++) {
                int x = batch[i * S + e], p = batch[((i + 3) % 4) * S + e];
                float a = (float)p * oml, b = (float)x * l, v = a + b;   /* separate steps: no fma */
                double exact = (1.0 - lams[t]) * p + lams[t] * x, r = nearbyint(v);   /* ties to even */
                r = r < 0.0 ? 0.0 : r > 255.0 ? 255.0 : r;
                if (out[i * S + e] != (uint8_t)r || fabs(out[i * S + e] - exact) > 0.5 + 1e-4 ||
                    fout[i * S + e] != v)
                    bad++;
                ties += v - floorf(v) == 0.5f;
            }
        CHECKF(bad == 0, "lam %g: %d bytes differ from the reference", lams[t], bad);
    }
    CHECK(ties > 0 && out[0] != 0);     /* the ties above were exercised (lam 1 leaves the batch) */
    CHECK(nnopt_aug_mixup_u8(batch, out, 4, S, labels, 5, soft, 0.5) == NNOPT_OK);
    CHECK(out[0] == 2 && out[1] == 2);
    /* random form: the float form's lambda and labels for the same seed and stream */
    CHECK(nnopt_aug_mixup_random_u8(batch, out, 4, S, labels, 5, soft, 0.4, 77, 3, &lam) == NNOPT_OK);
    CHECK(nnopt_aug_mixup_random(fbatch, fout, 4, S, labels, 5, soft_f, 0.4, 77, 3, &lam_f) == NNOPT_OK);
    CHECK(lam == lam_f && memcmp(soft, soft_f, sizeof soft) == 0);
    for (e = 0, bad = 0; e < 4 * S; e++) bad += out[e] != (uint8_t)nearbyintf(fout[e] < 255.0f ? fout[e] : 255.0f);
    CHECKF(bad == 0, "random MixUp: %d bytes are not the float form's rounded", bad);
}

/* CutMix on bytes: outside the box each image is itself, inside its predecessor, exactly; the box
   and labels are the float form's for the same seed. */
static void test_cutmix_u8(void)
{
    static const int labels[4] = { 2, 0, 3, 1 }, channels[3] = { 1, 3, 4 };
    enum { W = 13, H = 11 };
    uint8_t batch[4 * W * H * 4], out[4 * W * H * 4];
    float fbatch[4 * W * H * 4], fout[4 * W * H * 4], soft[20], soft_f[20];
    double params[6], params_f[6], lam;
    int ci, i, x, y, c, bad = 0;
    uint64_t seed;
    for (ci = 0; ci < 3; ci++) {
        int C = channels[ci], S = W * H * C;
        for (i = 0; i < 4; i++) source_u8(batch + i * S, W, H, C);
        for (i = 0; i < 4 * S; i++) batch[i] = (uint8_t)(batch[i] + (i / S) * 61);   /* images differ */
        for (i = 0; i < 4; i++)            /* the same images as float CHW */
            for (c = 0; c < C; c++)
                for (x = 0; x < W * H; x++) fbatch[i * S + c * W * H + x] = (float)batch[i * S + x * C + c];
        bad = 0;
        CHECK(nnopt_aug_cutmix_u8(batch, out, 4, C, H, W, labels, 5, soft, 3, 2, 10, 7, &lam) == NNOPT_OK);
        CHECK(fabs(lam - (1.0 - 35.0 / 143.0)) < 1e-15);
        for (i = 0; i < 4; i++)
            for (y = 0; y < H; y++)
                for (x = 0; x < W; x++)
                    for (c = 0; c < C; c++) {
                        int inside = x >= 3 && x < 10 && y >= 2 && y < 7, from = inside ? (i + 3) % 4 : i;
                        size_t at = ((size_t)y * W + x) * C + c;
                        bad += out[i * S + at] != batch[from * S + at];
                    }
        CHECKF(bad == 0, "%d channels: %d bytes not from the right image", C, bad);
        /* random forms: the same draws as the float form (box, lambdas, labels), the same values */
        bad = 0;
        for (seed = 1; seed < 20; seed++) {
            CHECK(nnopt_aug_cutmix_random_u8(batch, out, 4, C, H, W, labels, 5, soft, 1.0, seed, 9, params) == NNOPT_OK);
            CHECK(nnopt_aug_cutmix_random(fbatch, fout, 4, C, H, W, labels, 5, soft_f, 1.0, seed, 9, params_f) == NNOPT_OK);
            CHECK(memcmp(params, params_f, sizeof params) == 0 && memcmp(soft, soft_f, sizeof soft) == 0);
            for (i = 0; i < 4; i++)        /* float CHW value (c, y, x) against byte (y, x, c) */
                for (c = 0; c < C; c++)
                    for (y = 0; y < H; y++)
                        for (x = 0; x < W; x++)
                            bad += (float)out[i * S + (y * W + x) * C + c] != fout[i * S + (c * H + y) * W + x];
        }
        CHECKF(bad == 0, "%d channels: random CutMix differs from the float form in %d values", C, bad);
    }
}

static void test_beta_statistics(void)
{
    static const double alphas[3] = { 0.2, 1.0, 2.5 };
    int a, k;
    enum { N = 20000 };
    for (a = 0; a < 3; a++) {
        double s = 0.0, s2 = 0.0, al = alphas[a], var = 1.0 / (4.0 * (2.0 * al + 1.0));
        for (k = 0; k < N; k++) {
            double x = nnopt_random_beta_at(11, (uint64_t)a, (uint64_t)k, al, al);
            if (!CHECKF(x >= 0.0 && x <= 1.0, "beta draw %g", x)) return;
            s += x; s2 += x * x;
        }
        CHECKF(fabs(s / N - 0.5) < 6.2 * sqrt(var / N), "Beta(%g) mean %g", al, s / N);
        /* variance: the fourth central moment of a Beta is below var, so sd(s2/N) < sqrt(var/N) */
        CHECKF(fabs((s2 / N - (s / N) * (s / N)) - var) < 6.2 * sqrt(var / N) + 1e-3, "Beta(%g) variance %g, expected %g",
               al, s2 / N - (s / N) * (s / N), var);
    }
    CHECK(isnan(nnopt_random_beta_at(1, 1, 1, 0.0, 1.0)));
}

/* ---- Caller memory ------------------------------------------------------------------- */

enum { GEO_HFLIP, GEO_VFLIP, GEO_CROP, GEO_CENTER, GEO_PAD_FILL, GEO_PAD_REFLECT, GEO_RESIZE,
       GEO_RESIZE_NEAREST, GEO_RESIZED_CROP, GEO_COUNT };
static const struct { const char *name; int w, h; } geo_table[GEO_COUNT] = {
    { "hflip", GW, GH }, { "vflip", GW, GH }, { "crop", 7, 5 }, { "center_crop", 16, 6 },
    { "pad constant", GW + 4, GH + 6 }, { "pad reflect", GW + 4, GH + 6 }, { "resize", 23, 4 },
    { "resize nearest", 5, 20 }, { "resized_crop", 17, 9 },
};

/* Geometric op `op`, allocating (scratch NULL and bytes 0) or in the caller's memory. */
static nnopt_status geo_call(int op, const nnopt_image *s, const nnopt_image *d, void *scratch, size_t bytes,
                             int caller_memory)
{
    static const float fill[3] = { 7.0f, 100.0f, 250.0f };
    if (!caller_memory) switch (op) {
    case GEO_HFLIP: return nnopt_aug_hflip(s, d);
    case GEO_VFLIP: return nnopt_aug_vflip(s, d);
    case GEO_CROP: return nnopt_aug_crop(s, d, 2, 3);
    case GEO_CENTER: return nnopt_aug_center_crop(s, d);
    case GEO_PAD_FILL: return nnopt_aug_pad(s, d, 1, 2, 3, 4, NNOPT_PAD_CONSTANT, fill);
    case GEO_PAD_REFLECT: return nnopt_aug_pad(s, d, 1, 2, 3, 4, NNOPT_PAD_REFLECT, NULL);
    case GEO_RESIZE: return nnopt_aug_resize(s, d, NNOPT_INTERP_BILINEAR);
    case GEO_RESIZE_NEAREST: return nnopt_aug_resize(s, d, NNOPT_INTERP_NEAREST);
    default: return nnopt_aug_resized_crop(s, d, 1, 2, 8, 9, NNOPT_INTERP_BILINEAR);
    }
    switch (op) {
    case GEO_HFLIP: return nnopt_aug_hflip_scratch(s, d, scratch, bytes);
    case GEO_VFLIP: return nnopt_aug_vflip_scratch(s, d, scratch, bytes);
    case GEO_CROP: return nnopt_aug_crop_scratch(s, d, 2, 3, scratch, bytes);
    case GEO_CENTER: return nnopt_aug_center_crop_scratch(s, d, scratch, bytes);
    case GEO_PAD_FILL: return nnopt_aug_pad_scratch(s, d, 1, 2, 3, 4, NNOPT_PAD_CONSTANT, fill, scratch, bytes);
    case GEO_PAD_REFLECT: return nnopt_aug_pad_scratch(s, d, 1, 2, 3, 4, NNOPT_PAD_REFLECT, NULL, scratch, bytes);
    case GEO_RESIZE: return nnopt_aug_resize_scratch(s, d, NNOPT_INTERP_BILINEAR, scratch, bytes);
    case GEO_RESIZE_NEAREST: return nnopt_aug_resize_scratch(s, d, NNOPT_INTERP_NEAREST, scratch, bytes);
    default: return nnopt_aug_resized_crop_scratch(s, d, 1, 2, 8, 9, NNOPT_INTERP_BILINEAR, scratch, bytes);
    }
}

/* Every geometric op in caller memory of exactly nnopt_aug_scratch_size bytes gives the
   allocating form's bits; one byte less, NULL, or memory overlapping the destination is
   refused with nothing written. */
static void test_geometric_caller_memory(void)
{
    int c, fmt, op;
    for (c = 1; c <= 3; c += 2)
        for (fmt = 0; fmt < 2; fmt++) {
            uint8_t su[GW * GH * 3], ref[32 * 32 * 3 * 4], got[32 * 32 * 3 * 4];
            float sf[GW * GH * 3];
            nnopt_image src = fmt ? nnopt_image_f32(sf, GW, GH, c) : nnopt_image_u8(su, GW, GH, c);
            source_u8(su, GW, GH, c);
            source_f32(sf, GW, GH, c);
            for (op = 0; op < GEO_COUNT; op++) {
                int w = geo_table[op].w, h = geo_table[op].h;
                nnopt_image r = fmt ? nnopt_image_f32((float *)(void *)ref, w, h, c) : nnopt_image_u8(ref, w, h, c);
                nnopt_image d = r;
                size_t bytes = nnopt_aug_scratch_size(&r), n = nnopt_image_bytes(&r);
                void *block;
                uint8_t *scratch = tight_memory(bytes, &block);
                d.data = got;
                CHECK(bytes > 0);
                CHECK(geo_call(op, &src, &r, NULL, 0, 0) == NNOPT_OK);
                memset(got, 0xAB, sizeof got);
                CHECKF(geo_call(op, &src, &d, scratch, bytes - 1, 1) == NNOPT_ERR_INVALID &&
                       geo_call(op, &src, &d, NULL, bytes, 1) == NNOPT_ERR_INVALID &&
                       geo_call(op, &src, &d, got, sizeof got, 1) == NNOPT_ERR_INVALID &&
                       untouched(got, sizeof got), "%s, %d channels: bad scratch accepted or written", geo_table[op].name, c);
                CHECK(geo_call(op, &src, &d, scratch, bytes, 1) == NNOPT_OK);
                CHECKF(memcmp(ref, got, n) == 0, "%s, %d channels, %s: caller memory differs", geo_table[op].name, c,
                       fmt ? "float" : "uint8");
                free(block);
            }
        }
    CHECK(nnopt_aug_scratch_size(NULL) == 0);
    {
        nnopt_image bad = nnopt_image_u8(NULL, 4, 4, 2);
        CHECK(nnopt_aug_scratch_size(&bad) == 0);
        bad.channels = 3;                    /* the size needs the shape only */
        CHECK(nnopt_aug_scratch_size(&bad) > 0);
    }
}

/* Pipelines: nnopt_aug_apply_scratch in memory of exactly nnopt_aug_pipeline_scratch_size
   bytes, reused across calls, gives nnopt_aug_apply's output and records on every path;
   one byte less, NULL, or memory overlapping the output or the records is refused with
   nothing written. */
static void test_pipeline_caller_memory(void)
{
    enum { N = 3, IW = 50, IH = 37 };
    nnopt_aug_pipeline pipelines[3];
    nnopt_aug_op ops[4];
    nnopt_isa saved = nnopt_isa_get();
    uint8_t *in8 = (uint8_t *)malloc(N * IW * IH * 3);
    float *inf = th_alloc_floats(N * IW * IH * 3, 0);
    float *ref = th_alloc_floats(N * IW * IH * 3, 1), *got = th_alloc_floats(N * IW * IH * 3, 1);
    nnopt_aug_record rec_ref[N], rec_got[N];
    int p, isa, k;
    for (k = 0; k < N; k++) source_u8(in8 + k * IW * IH * 3, IW, IH, 3), source_f32(inf + k * IW * IH * 3, IW, IH, 3);
    pipelines[0] = imagenet_pipeline(IW, IH, 24);               /* resize + normalize fused */
    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_CROP); ops[0].width = 40; ops[0].height = 30;
    ops[0].pad[0] = ops[0].pad[3] = 3; ops[0].pad_mode = NNOPT_PAD_SYMMETRIC;
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_COLOR_JITTER); ops[1].contrast[0] = 0.5; ops[1].contrast[1] = 1.5;
    ops[2] = nnopt_aug_op_defaults(NNOPT_AUG_RESIZE); ops[2].width = 61; ops[2].height = 11;
    ops[3] = nnopt_aug_op_defaults(NNOPT_AUG_NORMALIZE); ops[3].std[0] = 0.3f;
    CHECK(nnopt_aug_pipeline_init(&pipelines[1], ops, 4, NNOPT_IMAGE_U8_HWC, IW, IH, 3) == NNOPT_OK);
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_GAUSSIAN_NOISE);
    ops[2] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_ERASING); ops[2].p = 1.0; ops[2].random_value = 1;
    CHECK(nnopt_aug_pipeline_init(&pipelines[2], ops, 3, NNOPT_IMAGE_F32_CHW, IW, IH, 3) == NNOPT_OK);
    for (p = 0; p < 3; p++) {
        const nnopt_aug_pipeline *pl = &pipelines[p];
        const uint8_t *in = pl->in_format == NNOPT_IMAGE_U8_HWC ? in8 : (const uint8_t *)inf;
        size_t bytes = nnopt_aug_pipeline_scratch_size(pl), in_one, out_one;
        void *block;
        uint8_t *scratch = tight_memory(bytes, &block);
        nnopt_image i = nnopt_image_u8(NULL, pl->in_width, pl->in_height, pl->channels), o = i;
        i.format = pl->in_format;
        o.format = pl->out_format; o.width = pl->out_width; o.height = pl->out_height;
        in_one = nnopt_image_bytes(&i); out_one = nnopt_image_bytes(&o);
        CHECK(bytes > 0 && bytes == pl->scratch_bytes);
        for (isa = 0; isa <= (int)nnopt_isa_best(); isa++) {
            nnopt_isa_set((nnopt_isa)isa);
            memset(rec_ref, 0xAB, sizeof rec_ref);   /* the ops past count are not written */
            CHECK(nnopt_aug_apply(pl, in, ref, N, 5, 100, rec_ref) == NNOPT_OK);
            memset(got, 0xAB, N * out_one); memset(rec_got, 0xAB, sizeof rec_got);
            CHECKF(nnopt_aug_apply_scratch(pl, in, got, N, 5, 100, rec_got, scratch, bytes - 1) == NNOPT_ERR_INVALID &&
                   nnopt_aug_apply_scratch(pl, in, got, N, 5, 100, rec_got, NULL, bytes) == NNOPT_ERR_INVALID &&
                   nnopt_aug_apply_scratch(pl, in, got, N, 5, 100, rec_got, got, N * out_one) == NNOPT_ERR_INVALID &&
                   nnopt_aug_apply_scratch(pl, in, got, N, 5, 100, rec_got, rec_got, sizeof rec_got) == NNOPT_ERR_INVALID &&
                   nnopt_aug_apply_scratch(pl, in, got, 0, 5, 100, rec_got, NULL, 0) == NNOPT_ERR_INVALID &&
                   untouched((const uint8_t *)got, N * out_one) && untouched((const uint8_t *)rec_got, sizeof rec_got),
                   "pipeline %d: bad scratch accepted or written", p);
            /* one sample, then the others in the same (now used) memory */
            CHECK(nnopt_aug_apply_scratch(pl, in, got, 1, 5, 100, rec_got, scratch, bytes) == NNOPT_OK);
            CHECK(nnopt_aug_apply_scratch(pl, in + in_one, (uint8_t *)got + out_one, N - 1, 5, 101, rec_got + 1,
                                          scratch, bytes) == NNOPT_OK);
            CHECKF(memcmp(ref, got, N * out_one) == 0 && memcmp(rec_ref, rec_got, sizeof rec_ref) == 0,
                   "pipeline %d, %s: caller memory differs", p, nnopt_isa_name((nnopt_isa)isa));
        }
        free(block);
    }
    CHECK(nnopt_aug_pipeline_scratch_size(NULL) == 0);
    nnopt_isa_set(saved);
    th_free_floats(inf, 0); th_free_floats(ref, 1); th_free_floats(got, 1); free(in8);
}

/* ---- Bad input: status, nothing written ---------------------------------------------- */

static void test_bad_input(void)
{
    uint8_t src[GW * GH * 4], dst[64 * 64 * 16];
    float mean[3] = { 0, 0, 0 }, std[3] = { 1, 1, 1 }, batch[2 * 12], out[2 * 12], soft[4];
    int labels[2] = { 0, 1 };
    nnopt_image s = nnopt_image_u8(src, GW, GH, 3), d = nnopt_image_u8(dst, GW, GH, 3), f;
    nnopt_aug_op op;
    nnopt_aug_pipeline pl;
    source_u8(src, GW, GH, 4);
    memset(dst, 0xAB, sizeof dst);
    /* zero sizes, channels outside {1, 3, 4}, NULL data */
    d.width = 0; CHECK(nnopt_aug_hflip(&s, &d) == NNOPT_ERR_INVALID); d.width = GW;
    s.channels = 2; d.channels = 2; CHECK(nnopt_aug_hflip(&s, &d) == NNOPT_ERR_INVALID);
    s.channels = 5; d.channels = 5; CHECK(nnopt_aug_vflip(&s, &d) == NNOPT_ERR_INVALID);
    s.channels = d.channels = 3;
    s.data = NULL; CHECK(nnopt_aug_hflip(&s, &d) == NNOPT_ERR_INVALID); s.data = src;
    CHECK(nnopt_aug_hflip(NULL, &d) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_hflip(&s, &s) == NNOPT_ERR_INVALID);                       /* overlap */
    d.width = GW + 1; CHECK(nnopt_aug_hflip(&s, &d) == NNOPT_ERR_INVALID);     /* size mismatch */
    d.width = 8; d.height = 8;
    CHECK(nnopt_aug_crop(&s, &d, 4, 0) == NNOPT_ERR_INVALID);                  /* past the bottom */
    CHECK(nnopt_aug_crop(&s, &d, 0, -1) == NNOPT_ERR_INVALID);
    d.width = GW; d.height = 3 * GH;
    CHECK(nnopt_aug_pad(&s, &d, 0, GH, 0, GH, NNOPT_PAD_REFLECT, NULL) == NNOPT_ERR_INVALID); /* pad >= size */
    d.width = GW; d.height = GH;
    CHECK(nnopt_aug_brightness(&s, &d, -0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_contrast(&s, &d, NAN) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_hue(&s, &d, 0.51) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_resized_crop(&s, &d, 0, 0, GH + 1, 4, NNOPT_INTERP_BILINEAR) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_erase(&d, 0, 0, GH + 1, 1, NULL) == NNOPT_ERR_INVALID);
    f = nnopt_image_f32((float *)(void *)dst, GW, GH, 3);
    std[1] = 0.0f; CHECK(nnopt_aug_normalize(&s, &f, mean, std) == NNOPT_ERR_INVALID);
    std[1] = NAN; CHECK(nnopt_aug_normalize(&s, &f, mean, std) == NNOPT_ERR_INVALID);
    std[1] = 1.0f; mean[2] = INFINITY; CHECK(nnopt_aug_normalize(&s, &f, mean, std) == NNOPT_ERR_INVALID);
    mean[2] = 0.0f;
    f.data = dst + 1; CHECK(nnopt_aug_normalize(&s, &f, mean, std) == NNOPT_ERR_INVALID);   /* misaligned */
    CHECK(nnopt_aug_gaussian_noise(&s, &d, 0.0, -1.0, 1, 1, 1, 0) == NNOPT_ERR_INVALID);
    CHECK(untouched(dst, sizeof dst));
    /* mixing: alpha <= 0, bad label, lambda outside [0, 1], box outside */
    memset(batch, 0, sizeof batch); memset(out, 0xAB, sizeof out); memset(soft, 0xAB, sizeof soft);
    CHECK(nnopt_aug_mixup_random(batch, out, 2, 12, labels, 2, soft, 0.0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup_random(batch, out, 2, 12, labels, 2, soft, -1.0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix_random(batch, out, 2, 3, 2, 2, labels, 2, soft, NAN, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(batch, out, 2, 12, labels, 2, soft, 1.5) == NNOPT_ERR_INVALID);
    labels[1] = 2; CHECK(nnopt_aug_mixup(batch, out, 2, 12, labels, 2, soft, 0.5) == NNOPT_ERR_INVALID);
    labels[1] = 1;
    CHECK(nnopt_aug_cutmix(batch, out, 2, 3, 2, 2, labels, 2, soft, 0, 0, 3, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(batch, out, 0, 12, labels, 2, soft, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(batch, batch + 1, 2, 12, labels, 2, soft, 0.5) == NNOPT_ERR_INVALID);
    CHECK(untouched((const uint8_t *)out, sizeof out) && untouched((const uint8_t *)soft, sizeof soft));
    /* uint8 mixing: the same rules, and channels outside {1, 3, 4}, NULL, aliasing */
    memset(src, 7, sizeof src); memset(dst, 0xAB, sizeof dst);
    CHECK(nnopt_aug_mixup_random_u8(src, dst, 2, 12, labels, 2, soft, 0.0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup_random_u8(src, dst, 2, 12, labels, 2, soft, -1.0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix_random_u8(src, dst, 2, 3, 2, 2, labels, 2, soft, 0.0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix_random_u8(src, dst, 2, 2, 2, 2, labels, 2, soft, 1.0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix_u8(src, dst, 2, 5, 2, 2, labels, 2, soft, 0, 0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix_u8(src, dst, 2, 3, 2, 2, labels, 2, soft, 0, 0, 3, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix_u8(src, dst, 2, 3, 2, 2, labels, 2, soft, 1, 0, 0, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup_u8(src, dst, 2, 12, labels, 2, soft, NAN) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup_u8(NULL, dst, 2, 12, labels, 2, soft, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup_u8(src, NULL, 2, 12, labels, 2, soft, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup_u8(src, dst, 2, 12, NULL, 2, soft, 0.5) == NNOPT_ERR_INVALID);   /* labels without soft */
    CHECK(nnopt_aug_mixup_u8(src, dst, 2, 0, labels, 2, soft, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup_u8(src, src + 23, 2, 12, labels, 2, soft, 0.5) == NNOPT_ERR_INVALID);   /* aliasing */
    CHECK(nnopt_aug_cutmix_u8(src, src, 2, 3, 2, 2, labels, 2, soft, 0, 0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup_u8(src, dst, 2, 12, labels, 2, (float *)(void *)(dst + 8), 0.5) == NNOPT_ERR_INVALID);
    labels[0] = -1; CHECK(nnopt_aug_mixup_u8(src, dst, 2, 12, labels, 2, soft, 0.5) == NNOPT_ERR_INVALID);
    labels[0] = 0;
    CHECK(untouched(dst, sizeof dst) && untouched((const uint8_t *)soft, sizeof soft));
    /* pipelines: a crop larger than the padded image, std 0, bad probability, too many ops */
    op = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_CROP); op.width = 40; op.height = 40; op.pad[0] = op.pad[2] = 4;
    CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 32, 32, 3) == NNOPT_ERR_INVALID);
    op.pad[1] = op.pad[3] = 4; CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 32, 32, 3) == NNOPT_OK);
    op.width = 0; CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 32, 32, 3) == NNOPT_ERR_INVALID);
    op = nnopt_aug_op_defaults(NNOPT_AUG_NORMALIZE); op.std[2] = 0.0f;
    CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 32, 32, 3) == NNOPT_ERR_INVALID);
    op.std[2] = 1.0f; CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 32, 32, 2) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 0, 32, 3) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pipeline_init(&pl, &op, NNOPT_AUG_MAX_OPS + 1, NNOPT_IMAGE_U8_HWC, 32, 32, 3) == NNOPT_ERR_INVALID);
    op = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_CROP);     /* sides above 2^24, even with pad_if_needed */
    op.width = 23; op.height = (1 << 24) + 1; op.pad_if_needed = 1;
    CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 32, 32, 3) == NNOPT_ERR_INVALID);
    op.height = 1 << 24;
    CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 32, 32, 3) == NNOPT_OK);
    op = nnopt_aug_op_defaults(NNOPT_AUG_HFLIP); op.p = 1.5;
    CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 32, 32, 3) == NNOPT_ERR_INVALID);
    op.p = 1.0;
    CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, GW, GH, 3) == NNOPT_OK);
    memset(dst, 0xAB, sizeof dst);
    CHECK(nnopt_aug_apply(&pl, src, dst, 1, 1, 0, NULL) == NNOPT_OK);
    CHECK(nnopt_aug_apply(&pl, src, src + 1, 1, 1, 0, NULL) == NNOPT_ERR_INVALID);   /* overlap */
    CHECK(nnopt_aug_apply(&pl, NULL, dst, 1, 1, 0, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_apply(NULL, src, dst, 1, 1, 0, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_apply(&pl, src, dst, 0, 1, 0, NULL) == NNOPT_OK);
}

/* A NaN or infinite value in a float image has no hue: adjust_hue makes that pixel's colors
   NaN (the conversion of a NaN sector to an integer was undefined), keeps its alpha, and
   leaves the other pixels as they are. */
static void test_hue_nonfinite(void)
{
    static const float bad[3] = { NAN, INFINITY, -INFINITY };
    float src[4 * 2], dst[4 * 2], ref[4 * 2];
    nnopt_image s = nnopt_image_f32(src, 2, 1, 4), d = nnopt_image_f32(dst, 2, 1, 4), r = nnopt_image_f32(ref, 2, 1, 4);
    int b, c;
    for (b = 0; b < 3; b++) {
        for (c = 0; c < 4; c++) { src[c * 2] = 0.25f * (float)c + 0.1f; src[c * 2 + 1] = 0.7f - 0.15f * (float)c; }
        CHECK(nnopt_aug_hue(&s, &r, 0.2) == NNOPT_OK);
        src[1 * 2] = bad[b];                        /* green of pixel 0 */
        CHECK(nnopt_aug_hue(&s, &d, 0.2) == NNOPT_OK);
        for (c = 0; c < 3; c++) CHECKF(dst[c * 2] != dst[c * 2], "value %d, channel %d: %g", b, c, (double)dst[c * 2]);
        CHECK(dst[3 * 2] == src[3 * 2]);            /* alpha */
        for (c = 0; c < 4; c++) CHECK(memcmp(&dst[c * 2 + 1], &ref[c * 2 + 1], sizeof(float)) == 0);
    }
}

/* Noise uses normal numbers offset .. offset + values - 1: a call that would run past the end
   of the stream is refused before anything is written; one that ends exactly there works. */
static void test_noise_stream_end(void)
{
    float src[2 * 3], dst[2 * 3], z[2 * 3];
    nnopt_image s = nnopt_image_f32(src, 2, 1, 3), d = nnopt_image_f32(dst, 2, 1, 3);
    nnopt_rng rng;
    int e;
    for (e = 0; e < 6; e++) src[e] = 0.1f * (float)e;
    memset(dst, 0xAB, sizeof dst);
    CHECK(nnopt_aug_gaussian_noise(&s, &d, 0.0, 1.0, 0, 5, 9, UINT64_MAX - 2) == NNOPT_ERR_INVALID);
    CHECK(untouched((const uint8_t *)dst, sizeof dst));
    rng.seed = 5; rng.stream = 9; rng.offset = UINT64_MAX - 5;
    CHECK(nnopt_random_normal(&rng, z, 6, 0.0, 1.0) == NNOPT_OK);
    CHECK(nnopt_aug_gaussian_noise(&s, &d, 0.0, 1.0, 0, 5, 9, UINT64_MAX - 5) == NNOPT_OK);
    for (e = 0; e < 6; e++) CHECKF(dst[e] == src[e] + z[e], "value %d: %g, want %g", e, (double)dst[e], (double)(src[e] + z[e]));
}

/* Each failure names the function, the argument and the rule it broke (nnopt_last_error), and
   replaces whatever an earlier failure, in any section, left there. */
static void test_error_detail(void)
{
    static uint8_t src[GW * GH * 3], dst[3 * GW * GH * 4], scratch[1 << 16];
    static float fdst[GW * GH * 3];
    float mean[3] = { 0, 0, 0 }, std[3] = { 1, 0, 1 }, batch[2 * 12], out[2 * 12], soft[4];
    int labels[2] = { 0, 1 };
    uint32_t words[2];
    nnopt_image s = nnopt_image_u8(src, GW, GH, 3), d = nnopt_image_u8(dst, GW, GH, 3);
    nnopt_image f = nnopt_image_f32(fdst, GW, GH, 3), in_scratch = nnopt_image_u8(scratch, GW, GH, 3);
    nnopt_aug_op op;
    nnopt_aug_pipeline pl;
    source_u8(src, GW, GH, 3);
    memset(batch, 0, sizeof batch);
#define EXPECT_ERROR(call, text) \
    do { CHECK((call) == NNOPT_ERR_INVALID); \
         CHECKF(strcmp(nnopt_last_error(), text) == 0, "%s", nnopt_last_error()); } while (0)
    /* another section's failure first: the augmentation failure must replace its message */
    EXPECT_ERROR(nnopt_random_u32(NULL, words, 2), "nnopt_random_u32: rng: is NULL");
    EXPECT_ERROR(nnopt_aug_hflip(&s, &s), "nnopt_aug_hflip: dst: overlaps src");
    EXPECT_ERROR(nnopt_aug_crop(NULL, &d, 0, 0), "nnopt_aug_crop: src: is NULL");
    d.channels = 2;
    EXPECT_ERROR(nnopt_aug_vflip(&s, &d), "nnopt_aug_vflip: dst: channels must be 1, 3 or 4");
    d.channels = 4;
    EXPECT_ERROR(nnopt_aug_vflip(&s, &d), "nnopt_aug_vflip: dst: channels differ from src's");
    EXPECT_ERROR(nnopt_aug_grayscale(&s, &d),
                 "nnopt_aug_grayscale: dst: channels must be 1 or 3 (4 only when src has 4)");
    d.channels = 3; d.width = GW - 1;
    EXPECT_ERROR(nnopt_aug_brightness(&s, &d, 1.0),
                 "nnopt_aug_brightness: dst: width and height differ from src's");
    d.width = GW;
    EXPECT_ERROR(nnopt_aug_hue(&s, &d, 0.75), "nnopt_aug_hue: factor: must lie in [-0.5, 0.5]");
    EXPECT_ERROR(nnopt_aug_crop(&s, &d, 1, 0),
                 "nnopt_aug_crop: top, left: put dst's window past the edge of src");
    d.width = GW + 2 * GW;
    EXPECT_ERROR(nnopt_aug_pad(&s, &d, GW, 0, GW, 0, NNOPT_PAD_REFLECT, NULL),
                 "nnopt_aug_pad: left, right: a reflect pad must be smaller than the side it mirrors");
    d.width = GW;
    EXPECT_ERROR(nnopt_aug_resize(&s, &d, (nnopt_interp)7),
                 "nnopt_aug_resize: interp: is not NNOPT_INTERP_BILINEAR or NNOPT_INTERP_NEAREST");
    /* caller memory */
    EXPECT_ERROR(nnopt_aug_hflip_scratch(&s, &d, NULL, 0), "nnopt_aug_hflip_scratch: scratch: is NULL");
    EXPECT_ERROR(nnopt_aug_hflip_scratch(&s, &d, scratch, 1),
                 "nnopt_aug_hflip_scratch: bytes: is too small: see nnopt_aug_scratch_size()");
    EXPECT_ERROR(nnopt_aug_resize_scratch(&s, &in_scratch, NNOPT_INTERP_BILINEAR, scratch, sizeof scratch),
                 "nnopt_aug_resize_scratch: scratch: overlaps dst");
    /* normalize, erase, noise */
    EXPECT_ERROR(nnopt_aug_normalize(&s, &d, mean, std), "nnopt_aug_normalize: dst: is not a float CHW image");
    EXPECT_ERROR(nnopt_aug_normalize(&s, &f, mean, std),
                 "nnopt_aug_normalize: std: has a value that is 0 or not finite");
    EXPECT_ERROR(nnopt_aug_erase(&d, 0, 0, GH + 1, 1, NULL),
                 "nnopt_aug_erase: top, left, height, width: the window does not fit in the image");
    EXPECT_ERROR(nnopt_aug_erase_normal(&d, 0, 0, 1, 1, 1, 1, 0),
                 "nnopt_aug_erase_normal: img: is not a float CHW image");
    EXPECT_ERROR(nnopt_aug_gaussian_noise(&s, &d, 0.0, -1.0, 1, 1, 1, 0),
                 "nnopt_aug_gaussian_noise: sigma: must be finite and >= 0");
    /* mixing */
    EXPECT_ERROR(nnopt_aug_mixup(batch, out, 2, 12, labels, 2, soft, 1.5),
                 "nnopt_aug_mixup: lam: must lie in [0, 1]");
    labels[1] = 2;
    EXPECT_ERROR(nnopt_aug_mixup_u8(src, dst, 2, 12, labels, 2, soft, 0.5),
                 "nnopt_aug_mixup_u8: labels: a label is outside [0, classes)");
    labels[1] = 1;
    EXPECT_ERROR(nnopt_aug_mixup(batch, batch + 1, 2, 12, labels, 2, soft, 0.5),
                 "nnopt_aug_mixup: out: overlaps images");
    EXPECT_ERROR(nnopt_aug_cutmix(batch, out, 2, 3, 2, 2, labels, 2, soft, 0, 0, 3, 1, NULL),
                 "nnopt_aug_cutmix: x2, y2: must be <= width, height");
    EXPECT_ERROR(nnopt_aug_cutmix_u8(src, dst, 2, 5, 2, 2, labels, 2, soft, 0, 0, 1, 1, NULL),
                 "nnopt_aug_cutmix_u8: channels: must be 1, 3 or 4");
    EXPECT_ERROR(nnopt_aug_mixup_random(batch, out, 2, 12, labels, 2, soft, 0.0, 1, 1, NULL),
                 "nnopt_aug_mixup_random: alpha: must be finite and > 0");
    /* pipelines: the op's rule under "ops" */
    op = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_CROP); op.width = 40; op.height = 40; op.pad[0] = op.pad[2] = 4;
    EXPECT_ERROR(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 32, 32, 3),
                 "nnopt_aug_pipeline_init: ops: a random crop is larger than its padded input");
    op = nnopt_aug_op_defaults(NNOPT_AUG_NORMALIZE); op.std[2] = 0.0f;
    EXPECT_ERROR(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 32, 32, 3),
                 "nnopt_aug_pipeline_init: ops: a normalize std is 0 or not finite");
    op = nnopt_aug_op_defaults(NNOPT_AUG_KIND_COUNT);
    EXPECT_ERROR(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 32, 32, 3),
                 "nnopt_aug_pipeline_init: ops: a kind is not a nnopt_aug_kind");
    op = nnopt_aug_op_defaults(NNOPT_AUG_HFLIP);
    EXPECT_ERROR(nnopt_aug_pipeline_init(&pl, &op, NNOPT_AUG_MAX_OPS + 1, NNOPT_IMAGE_U8_HWC, 32, 32, 3),
                 "nnopt_aug_pipeline_init: count: must lie in [0, NNOPT_AUG_MAX_OPS]");
    EXPECT_ERROR(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, 32, 32, 2),
                 "nnopt_aug_pipeline_init: channels: must be 1, 3 or 4");
    CHECK(nnopt_aug_pipeline_init(&pl, &op, 1, NNOPT_IMAGE_U8_HWC, GW, GH, 3) == NNOPT_OK);
    EXPECT_ERROR(nnopt_aug_apply(NULL, src, dst, 1, 1, 0, NULL), "nnopt_aug_apply: pl: is NULL");
    EXPECT_ERROR(nnopt_aug_apply(&pl, src, src + 1, 1, 1, 0, NULL), "nnopt_aug_apply: out: overlaps in");
    EXPECT_ERROR(nnopt_aug_apply_scratch(&pl, src, dst, 1, 1, 0, NULL, scratch, 1),
                 "nnopt_aug_apply_scratch: bytes: is too small: see nnopt_aug_pipeline_scratch_size()");
    /* a call that succeeds leaves the last failure's message */
    CHECK(nnopt_aug_apply(&pl, src, dst, 1, 1, 0, NULL) == NNOPT_OK);
    CHECKF(strcmp(nnopt_last_error(),
                  "nnopt_aug_apply_scratch: bytes: is too small: see nnopt_aug_pipeline_scratch_size()") == 0,
           "%s", nnopt_last_error());
#undef EXPECT_ERROR
}

void register_augment_tests(void)
{
    th_register("augment_noise_stream_end", test_noise_stream_end, TH_ONCE);
    th_register("augment_hue_nonfinite", test_hue_nonfinite, TH_ONCE);
    th_register("augment_ops_torchvision", test_ops_golden, TH_EACH_ISA);
    th_register("augment_normalize_torchvision", test_normalize_golden, TH_EACH_ISA);
    th_register("augment_normalize_paths", test_normalize_paths, TH_ONCE);
    th_register("augment_resize_paths", test_resize_paths, TH_ONCE);
    th_register("augment_bilinear_widths", test_bilinear_widths, TH_ONCE);
    th_register("augment_cifar_replay", test_cifar_replay, TH_EACH_ISA);
    th_register("augment_imagenet_replay", test_imagenet_replay, TH_EACH_ISA);
    th_register("augment_crop_jitter_replay", test_random_crop_pad_if_needed_replay, TH_EACH_ISA);
    th_register("augment_random_crop_two_step_pad", test_random_crop_two_step_reflect, TH_EACH_ISA);
    th_register("augment_pipeline_paths_split", test_pipeline_paths_and_split, TH_ONCE);
    th_register("augment_pipeline_statistics", test_pipeline_statistics, TH_ONCE);
    th_register("augment_mixing_torchvision", test_mixing_golden, TH_EACH_ISA);
    th_register("augment_erase_normal", test_erase_normal, TH_ONCE);
    th_register("augment_pipeline_random_erasing", test_pipeline_random_erasing, TH_ONCE);
    th_register("augment_mixup_u8", test_mixup_u8, TH_EACH_ISA);
    th_register("augment_cutmix_u8", test_cutmix_u8, TH_EACH_ISA);
    th_register("augment_beta_statistics", test_beta_statistics, TH_ONCE);
    th_register("augment_geometric_caller_memory", test_geometric_caller_memory, TH_EACH_ISA);
    th_register("augment_pipeline_caller_memory", test_pipeline_caller_memory, TH_ONCE);
    th_register("augment_bad_input", test_bad_input, TH_EACH_ISA);
    th_register("augment_error_detail", test_error_detail, TH_ONCE);
}
