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
/* Image operations that allocate scratch memory for one call: NNOPT_ERR_NOMEM must leave the
   destination untouched (it is filled with a sentinel first). No object is made. */
static int unwritten(const float *dst, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) if (dst[i] != -7.0f) return 0;
    return 1;
}

static nnopt_status run_aug_resize(int variant, void **made)
{
    static float src[9 * 7 * 3], dst[5 * 4 * 3];
    nnopt_image s = nnopt_image_f32(src, 9, 7, 3), d = nnopt_image_f32(dst, 5, 4, 3);
    nnopt_status st;
    size_t i;
    for (i = 0; i < sizeof src / sizeof src[0]; i++) src[i] = (float)(i % 17) * 0.125f;
    for (i = 0; i < sizeof dst / sizeof dst[0]; i++) dst[i] = -7.0f;
    *made = NULL;
    st = nnopt_aug_resize(&s, &d, variant ? NNOPT_INTERP_NEAREST : NNOPT_INTERP_BILINEAR);
    if (st != NNOPT_OK) EXPECT(unwritten(dst, sizeof dst / sizeof dst[0]), "nnopt_aug_resize failed but wrote");
    return st;
}

static nnopt_status run_aug_normalize(int variant, void **made)
{
    static uint8_t src[6 * 5 * 3];
    static float dst[6 * 5 * 3];
    static const float mean[3] = { 0.485f, 0.456f, 0.406f }, std[3] = { 0.229f, 0.224f, 0.225f };
    nnopt_image s = nnopt_image_u8(src, 6, 5, 3), d = nnopt_image_f32(dst, 6, 5, 3);
    nnopt_status st;
    size_t i;
    (void)variant;
    for (i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i * 37);
    for (i = 0; i < sizeof dst / sizeof dst[0]; i++) dst[i] = -7.0f;
    *made = NULL;
    st = nnopt_aug_normalize(&s, &d, mean, std);
    if (st != NNOPT_OK) EXPECT(unwritten(dst, sizeof dst / sizeof dst[0]), "nnopt_aug_normalize failed but wrote");
    return st;
}

static void use_nothing(void *made) { (void)made; }
#endif

static const creator creators[] = {
    { "nnopt_create",        run_create,        use_optimizer, destroy_optimizer, 2 * NNOPT_KIND_COUNT },
    { "nnopt_create_groups", run_create_groups, use_optimizer, destroy_optimizer, 2 * NNOPT_KIND_COUNT },
#ifndef NNOPT_NO_AUGMENT
    { "nnopt_aug_resize",    run_aug_resize,    use_nothing,   use_nothing,       2 },
    { "nnopt_aug_normalize", run_aug_normalize, use_nothing,   use_nothing,       1 },
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
