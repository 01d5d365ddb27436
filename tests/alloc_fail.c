/* Allocation-failure injection. nnopt allocates through NNOPT_MALLOC, here a counting
   allocator that fails its k-th call. Every creating function in `creators` is driven through
   every k, from the first allocation until one past its last: each run must either succeed
   or report the failure (NULL or NNOPT_ERR_NOMEM, with nothing written), leave no allocation behind (the
   allocator's own count; build.sh also runs this under LeakSanitizer), and leave an unrelated
   optimizer made earlier exactly as it was. A new creating function is one line in
   `creators` and a small function. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long alloc_calls;       /* NNOPT_MALLOC calls since the counters were reset */
static long alloc_fail_at;     /* the call that fails (0: none) */
static long alloc_live;        /* allocations not yet freed */

static void *test_malloc(size_t size)
{
    void *p;
    if (++alloc_calls == alloc_fail_at) return NULL;
    p = malloc(size);
    if (p) alloc_live++;
    return p;
}

static void test_free(void *p)
{
    if (p) { alloc_live--; free(p); }
}

#define NNOPT_MALLOC(sz) test_malloc(sz)
#define NNOPT_FREE(p)    test_free(p)
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"

static int failures;
#define EXPECT(cond, ...) \
    do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

/* ---- Creating functions ----------------------------------------------------------------
   run() makes the object and returns NNOPT_OK, or the failure it reported (NNOPT_ERR_NOMEM,
   or NNOPT_ERR_NOMEM for a NULL from a function that returns a pointer); use() exercises a
   successfully made object; destroy() frees it. */
typedef struct creator {
    const char *name;
    nnopt_status (*run)(int variant, void **made);
    void (*use)(void *made);
    void (*destroy)(void *made);
    int variants;
} creator;

/* Optimizers of every kind, plain and with averaging and Lookahead (more buffers). */
static nnopt_hparams optimizer_hparams(int variant)
{
    nnopt_hparams h = nnopt_defaults((nnopt_kind)(variant % NNOPT_KIND_COUNT));
    if (variant >= NNOPT_KIND_COUNT) {
        h.average = NNOPT_AVERAGE_EMA;
        h.lookahead_k = 3;
        if (h.kind == NNOPT_SGD) h.momentum = 0.9;
        if (h.kind == NNOPT_ADAM) h.amsgrad = 1;
    }
    return h;
}

static nnopt_status run_create(int variant, void **made)
{
    nnopt_hparams h = optimizer_hparams(variant);
    *made = nnopt_create(&h, 37);
    return *made ? NNOPT_OK : NNOPT_ERR_NOMEM;
}

static nnopt_status run_create_groups(int variant, void **made)
{
    nnopt_hparams h = optimizer_hparams(variant);
    nnopt_group g[3];
    g[0] = nnopt_group_default(20);
    g[1] = nnopt_group_default(0);
    g[2] = nnopt_group_default(17);
    g[2].lr_scale = 0.5;
    *made = nnopt_create_groups(&h, g, 3);
    return *made ? NNOPT_OK : NNOPT_ERR_NOMEM;
}

/* The form with a status: a failed allocation is NNOPT_ERR_NOMEM itself, and says so. */
static nnopt_status run_try_create(int variant, void **made)
{
    nnopt_hparams h = optimizer_hparams(variant);
    nnopt_group g = nnopt_group_default(37);
    nnopt_optimizer *opt = NULL;
    nnopt_status st = nnopt_try_create(&opt, &h, &g, 1);
    EXPECT(st != NNOPT_ERR_NOMEM || strcmp(nnopt_last_error(), "nnopt_try_create: out of memory") == 0,
           "nnopt_try_create: %s", nnopt_last_error());
    *made = opt;
    return st;
}

static void use_optimizer(void *made)
{
    float p[37], g[37];
    int i;
    for (i = 0; i < 37; i++) { p[i] = 0.1f * (float)i; g[i] = 0.5f - 0.03f * (float)i; }
    EXPECT(nnopt_param_count((nnopt_optimizer *)made) == 37, "wrong size");
    EXPECT(nnopt_step((nnopt_optimizer *)made, p, g) == NNOPT_OK, "step failed");
}

static void destroy_optimizer(void *made) { nnopt_destroy((nnopt_optimizer *)made); }

#ifndef NNOPT_NO_AUGMENT
/* Image operations allocate scratch memory for one call (no object is made): every geometric
   op and a pipeline's apply. A failed allocation must give NNOPT_ERR_NOMEM with the
   destination (and the records) untouched: both are filled with a sentinel first. Their
   caller-memory forms (_scratch), normalize and nnopt_aug_pipeline_init allocate nothing:
   each such run must make no allocation at all, so no failure can reach it. */
#define SENTINEL 0xA5

static int unwritten(const void *p, size_t bytes)
{
    size_t i;
    for (i = 0; i < bytes; i++) if (((const uint8_t *)p)[i] != SENTINEL) return 0;
    return 1;
}

/* One call from a 9 x 7 image, 3 channels, uint8 or float; with scratch (not NULL) the
   caller-memory form in `bytes` bytes of it. */
typedef nnopt_status (*image_call)(const nnopt_image *src, const nnopt_image *dst, void *scratch, size_t bytes);
static nnopt_status call_hflip(const nnopt_image *s, const nnopt_image *d, void *scratch, size_t bytes)
{
    return scratch ? nnopt_aug_hflip_scratch(s, d, scratch, bytes) : nnopt_aug_hflip(s, d);
}
static nnopt_status call_vflip(const nnopt_image *s, const nnopt_image *d, void *scratch, size_t bytes)
{
    return scratch ? nnopt_aug_vflip_scratch(s, d, scratch, bytes) : nnopt_aug_vflip(s, d);
}
static nnopt_status call_crop(const nnopt_image *s, const nnopt_image *d, void *scratch, size_t bytes)
{
    return scratch ? nnopt_aug_crop_scratch(s, d, 1, 2, scratch, bytes) : nnopt_aug_crop(s, d, 1, 2);
}
static nnopt_status call_center_crop(const nnopt_image *s, const nnopt_image *d, void *scratch, size_t bytes)
{
    return scratch ? nnopt_aug_center_crop_scratch(s, d, scratch, bytes) : nnopt_aug_center_crop(s, d);
}
static nnopt_status call_pad(const nnopt_image *s, const nnopt_image *d, void *scratch, size_t bytes)
{
    return scratch ? nnopt_aug_pad_scratch(s, d, 2, 1, 0, 3, NNOPT_PAD_REFLECT, NULL, scratch, bytes)
                   : nnopt_aug_pad(s, d, 2, 1, 0, 3, NNOPT_PAD_REFLECT, NULL);
}
static nnopt_status call_resize_bilinear(const nnopt_image *s, const nnopt_image *d, void *scratch, size_t bytes)
{
    return scratch ? nnopt_aug_resize_scratch(s, d, NNOPT_INTERP_BILINEAR, scratch, bytes)
                   : nnopt_aug_resize(s, d, NNOPT_INTERP_BILINEAR);
}
static nnopt_status call_resize_nearest(const nnopt_image *s, const nnopt_image *d, void *scratch, size_t bytes)
{
    return scratch ? nnopt_aug_resize_scratch(s, d, NNOPT_INTERP_NEAREST, scratch, bytes)
                   : nnopt_aug_resize(s, d, NNOPT_INTERP_NEAREST);
}
static nnopt_status call_resized_crop(const nnopt_image *s, const nnopt_image *d, void *scratch, size_t bytes)
{
    return scratch ? nnopt_aug_resized_crop_scratch(s, d, 1, 1, 5, 6, NNOPT_INTERP_BILINEAR, scratch, bytes)
                   : nnopt_aug_resized_crop(s, d, 1, 1, 5, 6, NNOPT_INTERP_BILINEAR);
}
static nnopt_status call_normalize(const nnopt_image *s, const nnopt_image *d, void *scratch, size_t bytes)
{
    static const float mean[4] = { 0.485f, 0.456f, 0.406f, 0.0f }, std[4] = { 0.229f, 0.224f, 0.225f, 1.0f };
    (void)scratch; (void)bytes;                    /* no working memory */
    return nnopt_aug_normalize(s, d, mean, std);   /* 4 values: the analyzer cannot see channels is 3 */
}

static const struct image_op {
    const char *name;
    image_call call;
    int dst_width, dst_height, dst_float;   /* dst_float: always a float image (normalize) */
    int allocates;                          /* the allocating form makes one allocation */
} image_ops[] = {
    { "nnopt_aug_hflip",              call_hflip,           9, 7, 0, 1 },
    { "nnopt_aug_vflip",              call_vflip,           9, 7, 0, 1 },
    { "nnopt_aug_crop",               call_crop,            5, 4, 0, 1 },
    { "nnopt_aug_center_crop",        call_center_crop,    11, 4, 0, 1 },
    { "nnopt_aug_pad",                call_pad,            11, 11, 0, 1 },
    { "nnopt_aug_resize (bilinear)",  call_resize_bilinear, 5, 4, 0, 1 },
    { "nnopt_aug_resize (nearest)",   call_resize_nearest,  5, 4, 0, 1 },
    { "nnopt_aug_resized_crop",       call_resized_crop,   13, 3, 0, 1 },
    { "nnopt_aug_normalize",          call_normalize,       9, 7, 1, 0 },
};
#define IMAGE_OPS (sizeof image_ops / sizeof image_ops[0])

/* variant: op variant / 4; uint8 (variant even) or float source; the allocating form
   (variant / 2 even) or the caller-memory form, in scratch from plain malloc. */
static nnopt_status run_image_op(int variant, void **made)
{
    static float src[9 * 7 * 3], dst[13 * 11 * 3];
    const struct image_op *op = &image_ops[variant / 4];
    int as_float = variant % 2, caller_memory = variant / 2 % 2;
    nnopt_image s = as_float ? nnopt_image_f32(src, 9, 7, 3) : nnopt_image_u8((uint8_t *)src, 9, 7, 3);
    nnopt_image d = as_float || op->dst_float ? nnopt_image_f32(dst, op->dst_width, op->dst_height, 3)
                                              : nnopt_image_u8((uint8_t *)dst, op->dst_width, op->dst_height, 3);
    size_t bytes = nnopt_aug_scratch_size(&d);
    void *scratch = NULL;
    nnopt_status st;
    size_t i;
    if (caller_memory && (!bytes || !(scratch = malloc(bytes)))) { printf("cannot allocate scratch\n"); exit(2); }
    for (i = 0; i < sizeof src / sizeof src[0]; i++) src[i] = (float)(i % 17) * 0.0625f;
    memset(dst, SENTINEL, sizeof dst);
    *made = NULL;
    st = op->call(&s, &d, scratch, bytes);
    EXPECT(st == NNOPT_OK || unwritten(dst, sizeof dst), "%s failed but wrote", op->name);
    {   /* the failure says which function ran out of memory */
        char expected[64];
        snprintf(expected, sizeof expected, "%.*s: out of memory", (int)strcspn(op->name, " "), op->name);
        EXPECT(st != NNOPT_ERR_NOMEM || strcmp(nnopt_last_error(), expected) == 0, "%s: %s", op->name,
               nnopt_last_error());
    }
    EXPECT(alloc_calls == (caller_memory ? 0 : op->allocates), "%s%s: %ld allocations", op->name,
           caller_memory ? " in caller memory" : "", alloc_calls);
    free(scratch);
    return st;
}

/* Pipelines: uint8 crop, flip, jitter and normalize (the fused resize + normalize stage), and
   float pad, random crop, noise and erasing; two images with records. Variants 0 and 1 with
   nnopt_aug_apply, 2 and 3 with nnopt_aug_apply_scratch in scratch from plain malloc. */
static nnopt_status run_aug_apply(int variant, void **made)
{
    static float in[2 * 12 * 10 * 3], out[2 * 8 * 8 * 3];
    static nnopt_aug_record records[2];
    nnopt_aug_op ops[4];
    nnopt_aug_pipeline pl;
    nnopt_status st;
    size_t i, bytes;
    void *scratch = NULL;
    int caller_memory = variant >= 2;
    *made = NULL;
    if (variant % 2 == 0) {
        ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_RESIZED_CROP); ops[0].width = 8; ops[0].height = 8;
        ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_HFLIP);
        ops[2] = nnopt_aug_op_defaults(NNOPT_AUG_COLOR_JITTER); ops[2].brightness[0] = 0.6; ops[2].brightness[1] = 1.4;
        ops[3] = nnopt_aug_op_defaults(NNOPT_AUG_NORMALIZE);
        st = nnopt_aug_pipeline_init(&pl, ops, 4, NNOPT_IMAGE_U8_HWC, 12, 10, 3);
    } else {
        ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_CROP); ops[0].width = 8; ops[0].height = 8;
        ops[0].pad[0] = ops[0].pad[1] = ops[0].pad[2] = ops[0].pad[3] = 2; ops[0].pad_mode = NNOPT_PAD_REFLECT;
        ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_GAUSSIAN_NOISE);
        ops[2] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_ERASING); ops[2].p = 1.0;
        st = nnopt_aug_pipeline_init(&pl, ops, 3, NNOPT_IMAGE_F32_CHW, 12, 10, 3);
    }
    EXPECT(st == NNOPT_OK && alloc_calls == 0, "nnopt_aug_pipeline_init failed or allocated");
    if (st != NNOPT_OK) return st;
    bytes = nnopt_aug_pipeline_scratch_size(&pl);
    if (caller_memory && (!bytes || !(scratch = malloc(bytes)))) { printf("cannot allocate scratch\n"); exit(2); }
    for (i = 0; i < sizeof in / sizeof in[0]; i++) in[i] = (float)(i % 13) * 0.0625f;
    memset(out, SENTINEL, sizeof out);
    memset(records, SENTINEL, sizeof records);
    st = caller_memory ? nnopt_aug_apply_scratch(&pl, in, out, 2, 7, 0, records, scratch, bytes)
                       : nnopt_aug_apply(&pl, in, out, 2, 7, 0, records);
    EXPECT(st == NNOPT_OK || (unwritten(out, sizeof out) && unwritten(records, sizeof records)),
           "nnopt_aug_apply failed but wrote");
    EXPECT(st != NNOPT_ERR_NOMEM || strcmp(nnopt_last_error(), "nnopt_aug_apply: out of memory") == 0,
           "nnopt_aug_apply: %s", nnopt_last_error());
    EXPECT(alloc_calls == (caller_memory ? 0 : 1), "nnopt_aug_apply%s: %ld allocations",
           caller_memory ? "_scratch" : "", alloc_calls);
    free(scratch);
    return st;
}

static void use_nothing(void *made) { (void)made; }
#endif

static const creator creators[] = {
    { "nnopt_create",        run_create,        use_optimizer, destroy_optimizer, 2 * NNOPT_KIND_COUNT },
    { "nnopt_create_groups", run_create_groups, use_optimizer, destroy_optimizer, 2 * NNOPT_KIND_COUNT },
    { "nnopt_try_create",    run_try_create,    use_optimizer, destroy_optimizer, 2 * NNOPT_KIND_COUNT },
#ifndef NNOPT_NO_AUGMENT
    { "image ops",           run_image_op,      use_nothing,   use_nothing,       4 * (int)IMAGE_OPS },
    { "nnopt_aug_apply",     run_aug_apply,     use_nothing,   use_nothing,       4 },
#endif
};

/* ---- The driver --------------------------------------------------------------------------- */

static unsigned char *checkpoint(const nnopt_optimizer *opt, size_t *size)
{
    unsigned char *b;
    *size = nnopt_save_size(opt);
    b = (unsigned char *)malloc(*size + 1);
    if (!b || nnopt_save(opt, b, *size) != NNOPT_OK) { printf("cannot save\n"); exit(2); }
    return b;
}

int main(void)
{
    size_t c;
    long runs = 0, injected = 0;
    nnopt_hparams ph = nnopt_defaults(NNOPT_ADAM);
    nnopt_optimizer *prior;
    float pp[11] = { 0 }, pg[11] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
    unsigned char *prior_bytes;
    size_t prior_size;

    /* state made before the failures, which they must not touch */
    prior = nnopt_create(&ph, 11);
    if (!prior || nnopt_step(prior, pp, pg) != NNOPT_OK) { printf("cannot make the prior optimizer\n"); return 2; }
    prior_bytes = checkpoint(prior, &prior_size);

    for (c = 0; c < sizeof creators / sizeof creators[0]; c++) {
        const creator *cr = &creators[c];
        int v;
        for (v = 0; v < cr->variants; v++) {
            long k;
            for (k = 1;; k++) {
                long live_before = alloc_live;
                void *made = NULL;
                nnopt_status st;
                alloc_calls = 0;
                alloc_fail_at = k;
                st = cr->run(v, &made);
                alloc_fail_at = 0;
                runs++;
                if (alloc_calls >= k) {            /* allocation k was made, and failed */
                    injected++;
                    EXPECT(st == NNOPT_ERR_NOMEM && made == NULL,
                           "%s variant %d, allocation %ld failed: status %d, object %p", cr->name, v, k,
                           (int)st, made);
                    EXPECT(alloc_live == live_before, "%s variant %d, allocation %ld failed: %ld leaked",
                           cr->name, v, k, alloc_live - live_before);
                    if (made) cr->destroy(made);
                } else {                           /* fewer than k allocations: no failure */
                    EXPECT(st == NNOPT_OK, "%s variant %d: failed without a failed allocation", cr->name, v);
                    if (made) { cr->use(made); cr->destroy(made); }
                    EXPECT(alloc_live == live_before, "%s variant %d: %ld leaked after destroy", cr->name, v,
                           alloc_live - live_before);
                    break;
                }
                {
                    size_t size;
                    unsigned char *now = checkpoint(prior, &size);
                    EXPECT(size == prior_size && memcmp(now, prior_bytes, size) == 0,
                           "%s variant %d, allocation %ld failed: an unrelated optimizer changed", cr->name, v, k);
                    free(now);
                }
            }
        }
    }
    nnopt_destroy(prior);
    free(prior_bytes);
    EXPECT(alloc_live == 0, "%ld allocations never freed", alloc_live);
    printf("allocation failures: %ld runs, %ld with a failed allocation, %d problems\n", runs, injected, failures);
    return failures ? 1 : 0;
}
