/* Optimizer API: exact first steps, bad calls, the non-finite guard, parameter groups,
   caller memory, checkpoints, hyper-parameter changes, gradient clipping, threads. */
#include "harness.h"
#include "quadratic.h"
#include "checkpoint_cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#  include <omp.h>
#endif

/* A few settings of every kind, covering its state buffers (momentum, amsgrad, centered). */
static int all_settings(nnopt_hparams *out)
{
    int n = 0, kind;
    for (kind = 0; kind < NNOPT_KIND_COUNT; kind++) {
        nnopt_hparams h = nnopt_defaults((nnopt_kind)kind);
        h.lr = kind == NNOPT_LARS ? 2.0 : kind == NNOPT_ADADELTA ? 1.0 : 0.01;
        out[n++] = h;
        h.weight_decay = 0.05;
        h.maximize = 1;
        h.momentum = 0.9; h.amsgrad = 1; h.centered = 1;   /* each read only by the kinds that have it */
        if (kind == NNOPT_ASGD) h.t0 = 5;                 /* averaging from step 5 */
        if (kind % 3 == 0) { h.lookahead_k = 4; h.lookahead_alpha = 0.7; }
        if (kind % 3 == 1) { h.average = NNOPT_AVERAGE_SWA; h.average_start = 3; }
        if (kind % 3 == 2) { h.average = NNOPT_AVERAGE_EMA; h.average_warmup = 1; }
        out[n++] = h;
    }
    return n;
}

static void fill_grad(float *g, const float *p, size_t n, int t)
{
    quadratic_grad(g, p, n, (uint32_t)t);
}

/* ---- Exact first steps and refused calls ---------------------------------------------- */

/* The first momentum step copies the gradient into the buffer, undamped (torch semantics):
   p1 = p0 - lr g exactly; the second step damps: b = mu g1 + (1-d) g2. */
static void test_sgd_first_step_copies_gradient(void)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
    float p[19], g1[19], g2[19];
    nnopt_optimizer *opt;
    int i;
    h.lr = 0.125; h.momentum = 0.5; h.dampening = 0.75;
    opt = nnopt_create(&h, 19);
    if (!CHECK(opt != NULL)) return;
    for (i = 0; i < 19; i++) { p[i] = (float)i; g1[i] = 2.0f + (float)i; g2[i] = 1.0f; }
    CHECK(nnopt_step(opt, p, g1) == NNOPT_OK);
    for (i = 0; i < 19; i++)
        CHECKF(p[i] == (float)i - 0.125f * g1[i], "element %d: %.9g", i, (double)p[i]);
    CHECK(nnopt_step(opt, p, g2) == NNOPT_OK);
    for (i = 0; i < 19; i++) {
        float b = 0.5f * g1[i] + 0.25f * g2[i];   /* exact in float for these values */
        CHECKF(p[i] == (float)i - 0.125f * g1[i] - 0.125f * b, "element %d: %.9g", i, (double)p[i]);
    }
    CHECK(nnopt_step_count(opt) == 2);
    nnopt_destroy(opt);
}

/* Bad calls return NNOPT_ERR_INVALID and change neither parameters nor state: the next good
   step gives exactly what an optimizer that never saw the bad calls gives. */
static void test_invalid_step_writes_nothing(void)
{
    enum { N = 37 };
    nnopt_hparams settings[2 * NNOPT_KIND_COUNT];
    int count = all_settings(settings), s, i;
    float *buf = th_alloc_floats(4 * N, 0), *p = buf, *g = buf + N, *saved = buf + 2 * N, *q = buf + 3 * N;
    for (s = 0; s < count; s++) {
        nnopt_optimizer *opt = nnopt_create(&settings[s], N), *ref = nnopt_create(&settings[s], N);
        const char *name = nnopt_kind_name(settings[s].kind);
        if (!CHECKF(opt && ref, "%s", name)) continue;
        for (i = 0; i < N; i++) { p[i] = q[i] = (float)i * 0.5f; }
        fill_grad(g, p, N, 1);
        CHECK(nnopt_step(opt, p, g) == NNOPT_OK);
        CHECK(nnopt_step(ref, q, g) == NNOPT_OK);
        memcpy(saved, p, N * sizeof(float));
        CHECK(nnopt_step(NULL, p, g) == NNOPT_ERR_INVALID);
        CHECK(nnopt_step(opt, NULL, g) == NNOPT_ERR_INVALID);
        CHECK(nnopt_step(opt, p, NULL) == NNOPT_ERR_INVALID);
        CHECK(nnopt_step(opt, p, p) == NNOPT_ERR_INVALID);                  /* aliasing */
        CHECK(nnopt_step(opt, p + 1, p) == NNOPT_ERR_INVALID);              /* partial overlap */
        CHECK(nnopt_step(opt, g, g + N - 1) == NNOPT_ERR_INVALID);
        CHECK(nnopt_step(opt, (float *)((char *)p + 1), g) == NNOPT_ERR_INVALID);   /* misaligned */
        CHECK(nnopt_step(opt, p, (const float *)((char *)g + 2)) == NNOPT_ERR_INVALID);
        CHECK(nnopt_step_groups(opt, NULL, NULL) == NNOPT_ERR_INVALID);
        CHECK(nnopt_set_lr(opt, -1) == NNOPT_ERR_INVALID);
        CHECK(nnopt_set_lr(opt, NAN) == NNOPT_ERR_INVALID);
        CHECK(nnopt_set_lr(NULL, 0.1) == NNOPT_ERR_INVALID);
        CHECKF(th_same_bits(p, saved, N, "parameters after refused calls"), "%s", name);
        CHECK(nnopt_step_count(opt) == 1);
        fill_grad(g, p, N, 2);
        CHECK(nnopt_step(opt, p, g) == NNOPT_OK);
        CHECK(nnopt_step(ref, q, g) == NNOPT_OK);
        CHECKF(th_same_bits(p, q, N, "the next good step"), "%s", name);
        nnopt_destroy(opt);
        nnopt_destroy(ref);
    }
    th_free_floats(buf, 0);
}

static void test_zero_length(void)
{
    nnopt_hparams settings[2 * NNOPT_KIND_COUNT];
    int count = all_settings(settings), s;
    for (s = 0; s < count; s++) {
        nnopt_optimizer *opt = nnopt_create(&settings[s], 0);
        float x = 3.0f;
        if (!CHECKF(opt != NULL, "%s", nnopt_kind_name(settings[s].kind))) continue;
        CHECK(nnopt_step(opt, NULL, NULL) == NNOPT_OK);
        CHECK(nnopt_step(opt, &x, &x) == NNOPT_OK);   /* nothing to read or write */
        CHECK(x == 3.0f);
        CHECK(nnopt_step_count(opt) == 2);
        nnopt_destroy(opt);
    }
}

/* With the guard on, a gradient holding NaN or +-Inf anywhere (first element, middle, the
   vector tail) is refused and nothing changes; without it the step goes through. */
static void test_nonfinite_guard(void)
{
    static const size_t lengths[] = { 1, 7, 8, 15, 16, 17, 63, 1000 };
    const float bad[] = { NAN, INFINITY, -INFINITY };
    nnopt_hparams h = nnopt_defaults(NNOPT_ADAM);
    size_t L, where, b;
    h.amsgrad = 1; h.nonfinite_guard = 1;
    for (L = 0; L < sizeof lengths / sizeof lengths[0]; L++) {
        size_t n = lengths[L], i;
        float *p = th_alloc_floats(n, 1), *g = th_alloc_floats(n, 2), *saved = th_alloc_floats(n, 0);
        float *q = th_alloc_floats(n, 0);
        nnopt_optimizer *opt = nnopt_create(&h, n), *ref = nnopt_create(&h, n);
        if (!CHECK(opt && ref)) continue;
        for (i = 0; i < n; i++) { p[i] = q[i] = (float)i; g[i] = 0.5f; }
        CHECK(nnopt_step(opt, p, g) == NNOPT_OK);
        CHECK(nnopt_step(ref, q, g) == NNOPT_OK);
        memcpy(saved, p, n * sizeof(float));
        for (where = 0; where < 3; where++) {
            size_t at = where == 0 ? 0 : where == 1 ? n / 2 : n - 1;
            for (b = 0; b < 3; b++) {
                g[at] = bad[b];
                CHECKF(nnopt_step(opt, p, g) == NNOPT_ERR_NONFINITE, "n=%zu at %zu", n, at);
                g[at] = 0.25f;
            }
        }
        th_same_bits(p, saved, n, "parameters after refused steps");
        CHECK(nnopt_step_count(opt) == 1);
        for (i = 0; i < n; i++) g[i] = 0.25f;
        CHECK(nnopt_step(opt, p, g) == NNOPT_OK);
        CHECK(nnopt_step(ref, q, g) == NNOPT_OK);
        th_same_bits(p, q, n, "state untouched by refused steps");
        nnopt_destroy(opt); nnopt_destroy(ref);
        th_free_floats(p, 1); th_free_floats(g, 2); th_free_floats(saved, 0); th_free_floats(q, 0);
    }
    {   /* guard off: NaN goes through, as in torch */
        float p1[3] = { 1, 2, 3 }, g1[3] = { 0, NAN, 0 };
        nnopt_optimizer *opt;
        h = nnopt_defaults(NNOPT_SGD);
        opt = nnopt_create(&h, 3);
        CHECK(nnopt_step(opt, p1, g1) == NNOPT_OK);
        CHECK(p1[1] != p1[1] && p1[0] == 1.0f);
        nnopt_destroy(opt);
    }
}

/* ---- Parameter groups ------------------------------------------------------------------ */

/* Groups with unit scales over a split vector behave exactly as one flat optimizer (for
   every kind whose update is per element), through nnopt_step and nnopt_step_groups. */
static void test_groups_match_flat(void)
{
    enum { N = 1001 };
    const size_t sizes[3] = { 17, 500, 484 };
    nnopt_hparams settings[2 * NNOPT_KIND_COUNT];
    int count = all_settings(settings), s, t;
    float *p = th_alloc_floats(N, 1), *q = th_alloc_floats(N, 0), *r = th_alloc_floats(N, 2);
    float *g = th_alloc_floats(N, 3);
    for (s = 0; s < count; s++) {
        nnopt_group groups[3];
        nnopt_optimizer *flat, *grouped, *split;
        float *ps[3], *rs[3];
        const float *gs[3];
        size_t i, off = 0;
        int k;
        if (settings[s].kind == NNOPT_LAMB || settings[s].kind == NNOPT_LARS) continue;
        for (k = 0; k < 3; k++) {
            groups[k] = nnopt_group_default(sizes[k]);
            ps[k] = r + off; rs[k] = r + off; gs[k] = g + off;
            off += sizes[k];
        }
        (void)ps;
        flat = nnopt_create(&settings[s], N);
        grouped = nnopt_create_groups(&settings[s], groups, 3);
        split = nnopt_create_groups(&settings[s], groups, 3);
        if (!CHECK(flat && grouped && split)) continue;
        CHECK(nnopt_group_count(grouped) == 3 && nnopt_param_count(grouped) == N);
        for (i = 0; i < N; i++) p[i] = q[i] = r[i] = (float)quadratic_start(i);
        for (t = 1; t <= 10; t++) {
            fill_grad(g, p, N, t);
            CHECK(nnopt_step(flat, p, g) == NNOPT_OK);
            CHECK(nnopt_step(grouped, q, g) == NNOPT_OK);
            CHECK(nnopt_step_groups(split, rs, gs) == NNOPT_OK);
        }
        CHECKF(th_same_bits(q, p, N, "groups via nnopt_step"), "%s", nnopt_kind_name(settings[s].kind));
        CHECKF(th_same_bits(r, p, N, "groups via nnopt_step_groups"), "%s", nnopt_kind_name(settings[s].kind));
        nnopt_destroy(flat); nnopt_destroy(grouped); nnopt_destroy(split);
    }
    th_free_floats(p, 1); th_free_floats(q, 0); th_free_floats(r, 2); th_free_floats(g, 3);
}

/* Transfer learning: a frozen backbone keeps its parameters and state while the head trains
   at 10x the lr, exactly as a separate optimizer over the head alone with that lr; after
   unfreezing at a lower lr the backbone starts its own first step (torch's per-parameter
   step count). */
static void test_groups_freeze_and_scale(void)
{
    enum { BACKBONE = 300, HEAD = 45, N = BACKBONE + HEAD };
    nnopt_hparams h = nnopt_defaults(NNOPT_ADAM), hh;
    nnopt_group groups[2];
    nnopt_optimizer *opt, *head_only, *backbone_only;
    float *p = th_alloc_floats(N, 0), *g = th_alloc_floats(N, 0), *head = th_alloc_floats(HEAD, 1);
    float *back = th_alloc_floats(BACKBONE, 1), *start = th_alloc_floats(N, 0);
    size_t i;
    int t;
    h.lr = 1e-3; h.weight_decay = 0.01;
    groups[0] = nnopt_group_default(BACKBONE); groups[0].frozen = 1;
    groups[1] = nnopt_group_default(HEAD); groups[1].lr_scale = 10; groups[1].weight_decay_scale = 0;
    opt = nnopt_create_groups(&h, groups, 2);
    hh = h; hh.lr = 1e-2; hh.weight_decay = 0;
    head_only = nnopt_create(&hh, HEAD);
    if (!CHECK(opt && head_only)) return;
    for (i = 0; i < N; i++) p[i] = start[i] = (float)quadratic_start(i);
    for (i = 0; i < HEAD; i++) head[i] = p[BACKBONE + i];
    for (t = 1; t <= 5; t++) {
        fill_grad(g, p, N, t);
        CHECK(nnopt_step(opt, p, g) == NNOPT_OK);
        CHECK(nnopt_step(head_only, head, g + BACKBONE) == NNOPT_OK);
    }
    th_same_bits(p, start, BACKBONE, "frozen backbone");
    th_same_bits(p + BACKBONE, head, HEAD, "head at 10x lr vs a separate optimizer");

    /* Unfreeze the backbone at a tenth of the lr. */
    groups[0].frozen = 0; groups[0].lr_scale = 0.1;
    CHECK(nnopt_set_group(opt, 0, &groups[0]) == NNOPT_OK);
    hh = h; hh.lr = 1e-4;
    backbone_only = nnopt_create(&hh, BACKBONE);
    for (i = 0; i < BACKBONE; i++) back[i] = p[i];
    fill_grad(g, p, N, 6);
    CHECK(nnopt_step(opt, p, g) == NNOPT_OK);
    CHECK(nnopt_step(backbone_only, back, g) == NNOPT_OK);
    th_same_bits(p, back, BACKBONE, "unfrozen backbone's first step");

    {   /* group queries and refusals */
        nnopt_group got;
        CHECK(nnopt_get_group(opt, 1, &got) == NNOPT_OK && got.n == HEAD && got.lr_scale == 10);
        CHECK(nnopt_get_group(opt, 2, &got) == NNOPT_ERR_INVALID);
        got.n = HEAD + 1;
        CHECK(nnopt_set_group(opt, 1, &got) == NNOPT_ERR_INVALID);
        got.n = HEAD; got.lr_scale = -1;
        CHECK(nnopt_set_group(opt, 1, &got) == NNOPT_ERR_INVALID);
        got.lr_scale = NAN;
        CHECK(nnopt_set_group(opt, 1, &got) == NNOPT_ERR_INVALID);
        CHECK(nnopt_get_group(opt, 1, &got) == NNOPT_OK && got.lr_scale == 10);
    }
    {   /* invalid group tables */
        nnopt_group bad = nnopt_group_default(10);
        bad.weight_decay_scale = -1;
        CHECK(nnopt_create_groups(&h, &bad, 1) == NULL);
        CHECK(nnopt_create_groups(&h, NULL, 1) == NULL);
        CHECK(nnopt_create_groups(&h, groups, 0) == NULL);
        groups[0].n = SIZE_MAX / 2; groups[1].n = SIZE_MAX / 2;
        CHECK(nnopt_create_groups(&h, groups, 2) == NULL);
    }
    nnopt_destroy(opt); nnopt_destroy(head_only); nnopt_destroy(backbone_only);
    th_free_floats(p, 0); th_free_floats(g, 0); th_free_floats(head, 1); th_free_floats(back, 1);
    th_free_floats(start, 0);
}

/* LAMB and LARS take their trust ratio per group: two groups equal two separate optimizers. */
static void test_groups_trust_ratio_per_group(void)
{
    enum { A = 100, B = 77 };
    int kinds[2] = { NNOPT_LAMB, NNOPT_LARS }, k, t;
    for (k = 0; k < 2; k++) {
        nnopt_hparams h = nnopt_defaults((nnopt_kind)kinds[k]);
        nnopt_group groups[2];
        nnopt_optimizer *both, *first, *second;
        float p[A + B], g[A + B], pa[A], pb[B];
        size_t i;
        h.weight_decay = 0.1;
        groups[0] = nnopt_group_default(A); groups[1] = nnopt_group_default(B);
        both = nnopt_create_groups(&h, groups, 2);
        first = nnopt_create(&h, A);
        second = nnopt_create(&h, B);
        if (!CHECK(both && first && second)) continue;
        for (i = 0; i < A + B; i++) p[i] = (float)quadratic_start(i) * (i < A ? 1.0f : 3.0f);
        memcpy(pa, p, sizeof pa); memcpy(pb, p + A, sizeof pb);
        for (t = 1; t <= 5; t++) {
            fill_grad(g, p, A + B, t);
            CHECK(nnopt_step(both, p, g) == NNOPT_OK);
            CHECK(nnopt_step(first, pa, g) == NNOPT_OK);
            CHECK(nnopt_step(second, pb, g + A) == NNOPT_OK);
        }
        th_same_bits(p, pa, A, "first group");
        th_same_bits(p + A, pb, B, "second group");
        nnopt_destroy(both); nnopt_destroy(first); nnopt_destroy(second);
    }
}

/* ---- Caller memory -------------------------------------------------------------------- */

static void test_caller_memory(void)
{
    enum { N = 333 };
    nnopt_hparams h = nnopt_defaults(NNOPT_RMSPROP);
    nnopt_group groups[2];
    size_t bytes, i;
    char *memory;
    nnopt_optimizer *placed, *heap;
    float p[N], q[N], g[N];
    int t;
    h.momentum = 0.9; h.centered = 1;
    groups[0] = nnopt_group_default(100); groups[1] = nnopt_group_default(N - 100);
    groups[1].lr_scale = 2;
    bytes = nnopt_memory_size(&h, groups, 2);
    CHECK(bytes >= 3 * N * sizeof(float));
    CHECK(nnopt_memory_size(NULL, groups, 2) == 0);
    memory = (char *)malloc(bytes + 3);
    CHECK(nnopt_init(memory + 3, bytes - 1, &h, groups, 2) == NULL);    /* too small */
    CHECK(nnopt_init(NULL, bytes, &h, groups, 2) == NULL);
    placed = nnopt_init(memory + 3, bytes, &h, groups, 2);              /* odd alignment */
    heap = nnopt_create_groups(&h, groups, 2);
    if (!CHECK(placed && heap)) { free(memory); return; }
    CHECK((char *)placed >= memory + 3 && (char *)placed < memory + 3 + bytes);
    for (i = 0; i < N; i++) p[i] = q[i] = (float)quadratic_start(i);
    for (t = 1; t <= 5; t++) {
        fill_grad(g, p, N, t);
        CHECK(nnopt_step(placed, p, g) == NNOPT_OK);
        CHECK(nnopt_step(heap, q, g) == NNOPT_OK);
    }
    th_same_bits(p, q, N, "optimizer in caller memory vs heap");
    nnopt_destroy(placed);      /* frees nothing: the memory is the caller's */
    nnopt_destroy(heap);
    free(memory);
}

/* ---- Checkpoints ---------------------------------------------------------------------- */

/* 100 steps equal 50 steps, a save, a load into a fresh optimizer and 50 more, bit for bit,
   for every kind and setting. */
static void test_checkpoint_resume(void)
{
    enum { N = 203 };
    nnopt_hparams settings[2 * NNOPT_KIND_COUNT];
    int count = all_settings(settings), s, t;
    float p[N], q[N], g[N];
    for (s = 0; s < count; s++) {
        nnopt_optimizer *straight = nnopt_create(&settings[s], N), *first = nnopt_create(&settings[s], N);
        nnopt_optimizer *resumed = nnopt_create(&settings[s], N);
        const char *name = nnopt_kind_name(settings[s].kind);
        size_t size, i;
        unsigned char *buf;
        if (!CHECKF(straight && first && resumed, "%s", name)) continue;
        for (i = 0; i < N; i++) p[i] = q[i] = (float)quadratic_start(i);
        for (t = 1; t <= 100; t++) {
            fill_grad(g, p, N, t);
            CHECK(nnopt_step(straight, p, g) == NNOPT_OK);
        }
        for (t = 1; t <= 50; t++) {
            fill_grad(g, q, N, t);
            CHECK(nnopt_step(first, q, g) == NNOPT_OK);
        }
        size = nnopt_save_size(first);
        buf = (unsigned char *)malloc(size);
        CHECK(nnopt_save(first, buf, size - 1) == NNOPT_ERR_INVALID);
        CHECK(nnopt_save(first, buf, size) == NNOPT_OK);
        CHECK(nnopt_load(resumed, buf, size) == NNOPT_OK);
        CHECK(nnopt_step_count(resumed) == 50);
        nnopt_destroy(first);
        for (t = 51; t <= 100; t++) {
            fill_grad(g, q, N, t);
            CHECK(nnopt_step(resumed, q, g) == NNOPT_OK);
        }
        CHECKF(th_same_bits(q, p, N, "resumed vs straight"), "%s", name);
        if (nnopt_averaged_params(straight))
            CHECKF(th_same_bits(nnopt_averaged_params(resumed), nnopt_averaged_params(straight), N,
                                "averaged parameters"), "%s", name);
        free(buf);
        nnopt_destroy(straight); nnopt_destroy(resumed);
    }
}

/* Checkpoints written by every format so far (tests/golden/checkpoints, by
   tests/golden/make_checkpoints.c) load into a fresh optimizer of the same settings, and the
   result saves exactly as the same run made now: every hyper-parameter, group field, kind
   scalar and state buffer migrated. */
static unsigned checkpoint_format(void)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
    nnopt_optimizer *opt = nnopt_create(&h, 1);
    unsigned char buf[4096];
    unsigned version = 0;
    if (opt && nnopt_save_size(opt) <= sizeof buf && nnopt_save(opt, buf, sizeof buf) == NNOPT_OK)
        version = buf[8] | (unsigned)buf[9] << 8 | (unsigned)buf[10] << 16 | (unsigned)buf[11] << 24;
    nnopt_destroy(opt);
    return version;
}

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    unsigned char *bytes = NULL;
    long length;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (length = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (bytes = (unsigned char *)malloc((size_t)length)) != NULL &&
        fread(bytes, 1, (size_t)length, f) != (size_t)length) {
        free(bytes);
        bytes = NULL;
    }
    *size = bytes ? (size_t)length : 0;
    fclose(f);
    return bytes;
}

static void test_checkpoint_golden_formats(void)
{
    unsigned current = checkpoint_format(), version;
    int kind;
    CHECK(current >= 2);
    for (kind = 0; kind < NNOPT_KIND_COUNT; kind++) {
        const char *name = nnopt_kind_name((nnopt_kind)kind);
        nnopt_hparams h = ckcase_hparams((nnopt_kind)kind);
        nnopt_group g[2];
        float p[CKCASE_N];
        nnopt_optimizer *ran = ckcase_run((nnopt_kind)kind, p), *loaded;
        size_t want_size = ran ? nnopt_save_size(ran) : 0;
        unsigned char *want = (unsigned char *)malloc(want_size + 1), *got = (unsigned char *)malloc(want_size + 1);
        ckcase_groups(g);
        loaded = nnopt_create_groups(&h, g, 2);
        if (!CHECKF(ran && loaded && want && got && nnopt_save(ran, want, want_size) == NNOPT_OK, "%s", name))
            current = 0;
        for (version = 1; version <= current; version++) {
            char path[1024];
            size_t size = 0;
            unsigned char *bytes;
            snprintf(path, sizeof path, "%s/checkpoints/v%u_%s.ckpt", th_golden_dir(), version, name);
            bytes = read_file(path, &size);
            if (!CHECKF(bytes != NULL, "cannot read %s", path)) continue;
            CHECKF(nnopt_load(loaded, bytes, size) == NNOPT_OK, "%s does not load", path);
            CHECKF(nnopt_save_size(loaded) == want_size && nnopt_save(loaded, got, want_size) == NNOPT_OK &&
                   memcmp(got, want, want_size) == 0, "%s loads to another state than the run", path);
            free(bytes);
        }
        current = checkpoint_format();
        free(want); free(got);
        nnopt_destroy(ran); nnopt_destroy(loaded);
    }
}

/* A checkpoint of a newer format, or one whose records are not those of this optimizer
   (one missing, renamed or in another order), is refused and changes nothing. */
static void rehash(unsigned char *b, size_t size)
{
    uint64_t h = 0xCBF29CE484222325u;
    size_t i;
    for (i = 0; i + 8 < size; i++) { h ^= b[i]; h *= 0x100000001B3u; }
    for (i = 0; i < 8; i++) b[size - 8 + i] = (unsigned char)(h >> (8 * i));
}

static void test_checkpoint_newer_format_refused(void)
{
    float p[CKCASE_N];
    nnopt_optimizer *opt = ckcase_run(NNOPT_ADAM, p);
    size_t size = opt ? nnopt_save_size(opt) : 0, at;
    unsigned char *good = (unsigned char *)malloc(size + 1), *bad = (unsigned char *)malloc(size + 1);
    unsigned char *now = (unsigned char *)malloc(size + 1);
    if (!CHECK(opt && good && bad && now && nnopt_save(opt, good, size) == NNOPT_OK)) goto done;
    memcpy(bad, good, size);
    bad[8] = (unsigned char)(checkpoint_format() + 1);            /* the next format */
    rehash(bad, size);
    CHECK(nnopt_load(opt, bad, size) == NNOPT_ERR_FORMAT);
    bad[8] = 0;                                                   /* no format 0 */
    rehash(bad, size);
    CHECK(nnopt_load(opt, bad, size) == NNOPT_ERR_FORMAT);
    /* The first record is "kind": its name renamed, then the record cut out. */
    memcpy(bad, good, size);
    CHECK(bad[12] == 4 && memcmp(bad + 13, "kind", 4) == 0);
    bad[13] = 'K';
    rehash(bad, size);
    CHECK(nnopt_load(opt, bad, size) == NNOPT_ERR_FORMAT);
    at = 12 + 1 + 4 + 1 + 8 + 4;                                   /* past "kind" = "adam" */
    memcpy(bad, good, 12);
    memcpy(bad + 12, good + at, size - at);
    rehash(bad, size - (at - 12));
    CHECK(nnopt_load(opt, bad, size - (at - 12)) == NNOPT_ERR_FORMAT);
    CHECK(nnopt_save(opt, now, size) == NNOPT_OK && memcmp(now, good, size) == 0);
    CHECK(nnopt_load(opt, good, size) == NNOPT_OK);
done:
    free(good); free(bad); free(now);
    nnopt_destroy(opt);
}

/* The state an optimizer reports (nnopt_traits) is the state it keeps: every named buffer is
   reachable with nnopt_state and holds what its name says. */
static void test_traits_and_named_state(void)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_ADAM);
    nnopt_kind_traits t;
    nnopt_optimizer *opt;
    float p[3] = { 1, 2, 3 }, g[3] = { 0.5f, -1, 2 };
    int kind, b;
    CHECK(nnopt_traits(NULL, &t) == NNOPT_ERR_INVALID && nnopt_traits(&h, NULL) == NNOPT_ERR_INVALID);
    h.beta1 = 1.5;
    CHECK(nnopt_traits(&h, &t) == NNOPT_ERR_INVALID);
    h = nnopt_defaults(NNOPT_ADAM);
    CHECK(nnopt_traits(&h, &t) == NNOPT_OK && t.buffers == 2 && t.passes == 1 && t.reads[0] == 4 &&
          t.writes[0] == 3 && strcmp(t.buffer_name[0], "exp_avg") == 0 && strcmp(t.buffer_name[1], "exp_avg_sq") == 0);
    h.amsgrad = 1; h.average = NNOPT_AVERAGE_EMA;
    CHECK(nnopt_traits(&h, &t) == NNOPT_OK && t.buffers == 4 && strcmp(t.buffer_name[2], "max_exp_avg_sq") == 0 &&
          strcmp(t.buffer_name[3], "average") == 0 && t.reads[0] == 5 && t.writes[0] == 4);
    h = nnopt_defaults(NNOPT_LAMB);
    CHECK(nnopt_traits(&h, &t) == NNOPT_OK && t.passes == 2 && t.reads[1] == 2 && t.writes[1] == 1);
    h = nnopt_defaults(NNOPT_ADAM);
    opt = nnopt_create(&h, 3);
    if (CHECK(opt != NULL) && CHECK(nnopt_step(opt, p, g) == NNOPT_OK)) {
        const float *m = nnopt_state(opt, "exp_avg"), *v = nnopt_state(opt, "exp_avg_sq");
        CHECK(m && v && m[2] == 0.1f * 2 && v[1] == 0.001f * 1);   /* (1 - beta) g, (1 - beta2) g^2 */
        CHECK(nnopt_state(opt, "max_exp_avg_sq") == NULL && nnopt_state(opt, NULL) == NULL &&
              nnopt_state(NULL, "exp_avg") == NULL);
    }
    nnopt_destroy(opt);
    for (kind = 0; kind < NNOPT_KIND_COUNT; kind++) {
        h = ckcase_hparams((nnopt_kind)kind);
        opt = nnopt_create(&h, 5);
        if (!CHECK(opt != NULL && nnopt_traits(&h, &t) == NNOPT_OK)) { nnopt_destroy(opt); continue; }
        CHECKF(nnopt_memory_size(&h, NULL, 0) == 0 && t.buffers >= 1 && t.passes >= 1, "%s", nnopt_kind_name(h.kind));
        for (b = 0; b < t.buffers; b++) {
            int other;
            CHECKF(nnopt_state(opt, t.buffer_name[b]) != NULL, "%s: %s", nnopt_kind_name(h.kind), t.buffer_name[b]);
            for (other = 0; other < b; other++)
                CHECKF(strcmp(t.buffer_name[b], t.buffer_name[other]) != 0, "%s: two buffers named %s",
                       nnopt_kind_name(h.kind), t.buffer_name[b]);
        }
        nnopt_destroy(opt);
    }
}

/* Error detail: each failure says which function, which argument and why; nnopt_try_create
   tells invalid input from a failed allocation (tests/alloc_fail.c covers the latter); the
   NNOPT_ON_ERROR hook sees every failure (tests/impl.c counts them). */
extern size_t th_error_hook_calls;
static void test_error_detail(void)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_ADAM);
    nnopt_group g = nnopt_group_default(4);
    nnopt_optimizer *opt = NULL;
    float p[4] = { 0 }, gr[4] = { 0 };
    size_t hooked = th_error_hook_calls;
    nnopt_clear_error();
    CHECK(strcmp(nnopt_last_error(), "") == 0);
    h.beta2 = 1.0;
    CHECK(nnopt_create(&h, 4) == NULL);
    CHECKF(strcmp(nnopt_last_error(), "nnopt_create: beta2: must lie in [0, 1)") == 0, "%s", nnopt_last_error());
    CHECK(nnopt_try_create(&opt, &h, &g, 1) == NNOPT_ERR_INVALID && opt == NULL);
    CHECKF(strcmp(nnopt_last_error(), "nnopt_try_create: beta2: must lie in [0, 1)") == 0, "%s", nnopt_last_error());
    h = nnopt_defaults(NNOPT_ADAM); h.lr = NAN;
    CHECK(nnopt_memory_size(&h, &g, 1) == 0);
    CHECKF(strcmp(nnopt_last_error(), "nnopt_memory_size: lr: is not finite") == 0, "%s", nnopt_last_error());
    h = nnopt_defaults(NNOPT_SGD); h.nesterov = 1;
    CHECK(nnopt_create_groups(&h, &g, 1) == NULL);
    CHECKF(strcmp(nnopt_last_error(), "nnopt_create_groups: nesterov: needs momentum > 0 and dampening 0") == 0,
           "%s", nnopt_last_error());
    h = nnopt_defaults(NNOPT_ADAM);
    if (!CHECK(nnopt_try_create(&opt, &h, &g, 1) == NNOPT_OK && opt != NULL)) return;
    CHECK(nnopt_step(opt, p, p + 1) == NNOPT_ERR_INVALID);
    CHECKF(strcmp(nnopt_last_error(), "nnopt_step: grad: overlaps param") == 0, "%s", nnopt_last_error());
    CHECK(nnopt_step(opt, p, gr) == NNOPT_OK);           /* success leaves the last failure */
    CHECK(strcmp(nnopt_last_error(), "nnopt_step: grad: overlaps param") == 0);
    h.amsgrad = 1;
    CHECK(nnopt_set_hparams(opt, &h) == NNOPT_ERR_INVALID);
    CHECKF(strstr(nnopt_last_error(), "nnopt_set_hparams: h: needs state buffers") == nnopt_last_error(), "%s",
           nnopt_last_error());
    CHECK(nnopt_load(opt, p, sizeof p) == NNOPT_ERR_FORMAT);
    CHECKF(strcmp(nnopt_last_error(), "nnopt_load: buffer: is not an nnopt checkpoint") == 0, "%s", nnopt_last_error());
    CHECK(nnopt_clip_grad_value(gr, 4, -1) == NNOPT_ERR_INVALID);
    CHECKF(strcmp(nnopt_last_error(), "nnopt_clip_grad_value: clip_value: must be finite and >= 0") == 0, "%s",
           nnopt_last_error());
    CHECK(th_error_hook_calls - hooked == 8);
    nnopt_clear_error();
    CHECK(strcmp(nnopt_last_error(), "") == 0);
    nnopt_destroy(opt);
}

/* Truncated, corrupted and mismatched checkpoints: NNOPT_ERR_FORMAT, and the optimizer keeps
   exactly its state (its next step equals an untouched twin's). */
static void test_checkpoint_rejects_bad_data(void)
{
    enum { N = 41 };
    nnopt_hparams h = nnopt_defaults(NNOPT_ADAM), other;
    nnopt_optimizer *source, *target, *twin, *wrong;
    nnopt_group groups[2];
    float p[N], q[N], g[N];
    size_t size, i, cut;
    unsigned char *buf, *bad;
    int t;
    h.amsgrad = 1;
    source = nnopt_create(&h, N);
    h.lr = 0.05;                               /* target differs from the checkpoint */
    target = nnopt_create(&h, N);
    twin = nnopt_create(&h, N);
    if (!CHECK(source && target && twin)) return;
    for (i = 0; i < N; i++) p[i] = q[i] = (float)quadratic_start(i);
    for (t = 1; t <= 3; t++) {
        fill_grad(g, p, N, t);
        CHECK(nnopt_step(source, p, g) == NNOPT_OK);
        CHECK(nnopt_step(target, q, g) == NNOPT_OK);
        CHECK(nnopt_step(twin, q, g) == NNOPT_OK);   /* same grads, so twin == target */
    }
    size = nnopt_save_size(source);
    buf = (unsigned char *)malloc(size);
    bad = (unsigned char *)malloc(size);
    CHECK(nnopt_save(source, buf, size) == NNOPT_OK);
    for (cut = 0; cut < size; cut += (cut < 200 ? 1 : 97))
        CHECKF(nnopt_load(target, buf, cut) == NNOPT_ERR_FORMAT, "truncated to %zu bytes", cut);
    for (i = 0; i < size; i += (i < 400 ? 1 : 13)) {
        memcpy(bad, buf, size);
        bad[i] ^= 0x10;
        CHECKF(nnopt_load(target, bad, size) == NNOPT_ERR_FORMAT, "byte %zu flipped", i);
    }
    CHECK(nnopt_load(target, NULL, size) == NNOPT_ERR_INVALID);
    CHECK(nnopt_load(NULL, buf, size) == NNOPT_ERR_INVALID);
    /* Mismatches: another kind, another length, another state layout, other groups. */
    other = nnopt_defaults(NNOPT_ADAMW); other.amsgrad = 1;
    wrong = nnopt_create(&other, N);
    CHECK(nnopt_load(wrong, buf, size) == NNOPT_ERR_FORMAT);
    nnopt_destroy(wrong);
    other = nnopt_defaults(NNOPT_ADAM); other.amsgrad = 1;
    wrong = nnopt_create(&other, N + 1);
    CHECK(nnopt_load(wrong, buf, size) == NNOPT_ERR_FORMAT);
    nnopt_destroy(wrong);
    other.amsgrad = 0;
    wrong = nnopt_create(&other, N);
    CHECK(nnopt_load(wrong, buf, size) == NNOPT_ERR_FORMAT);
    nnopt_destroy(wrong);
    other.amsgrad = 1;
    groups[0] = nnopt_group_default(20); groups[1] = nnopt_group_default(N - 20);
    wrong = nnopt_create_groups(&other, groups, 2);
    CHECK(nnopt_load(wrong, buf, size) == NNOPT_ERR_FORMAT);
    nnopt_destroy(wrong);

    /* The target is untouched: its hyper-parameters and its next step equal the twin's. */
    CHECK(nnopt_get_hparams(target)->lr == 0.05);
    CHECK(nnopt_step_count(target) == 3);
    memcpy(p, q, sizeof p);
    fill_grad(g, q, N, 4);
    CHECK(nnopt_step(target, q, g) == NNOPT_OK);
    CHECK(nnopt_step(twin, p, g) == NNOPT_OK);
    th_same_bits(q, p, N, "target after refused loads vs twin");
    free(buf); free(bad);
    nnopt_destroy(source); nnopt_destroy(target); nnopt_destroy(twin);
}

/* ---- Changing hyper-parameters ---------------------------------------------------------- */

static void test_set_hparams(void)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD), changed;
    nnopt_optimizer *opt;
    float p[4] = { 1, 1, 1, 1 }, g[4] = { 1, 1, 1, 1 };
    h.lr = 0.5; h.momentum = 0.9;
    opt = nnopt_create(&h, 4);
    if (!CHECK(opt != NULL)) return;
    CHECK(nnopt_set_lr(opt, 0.25) == NNOPT_OK);
    CHECK(nnopt_get_hparams(opt)->lr == 0.25);
    CHECK(nnopt_step(opt, p, g) == NNOPT_OK);
    CHECK(p[0] == 0.75f);
    changed = *nnopt_get_hparams(opt);
    changed.momentum = 0.5;                          /* same state layout: accepted */
    CHECK(nnopt_set_hparams(opt, &changed) == NNOPT_OK);
    changed.momentum = 0;                            /* would drop the buffer */
    CHECK(nnopt_set_hparams(opt, &changed) == NNOPT_ERR_INVALID);
    changed = *nnopt_get_hparams(opt);
    changed.kind = NNOPT_ADAM;
    CHECK(nnopt_set_hparams(opt, &changed) == NNOPT_ERR_INVALID);
    changed = *nnopt_get_hparams(opt);
    changed.dampening = NAN;
    CHECK(nnopt_set_hparams(opt, &changed) == NNOPT_ERR_INVALID);
    CHECK(nnopt_set_hparams(opt, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_get_hparams(opt)->momentum == 0.5);
    nnopt_destroy(opt);
    h = nnopt_defaults(NNOPT_ADAM);
    opt = nnopt_create(&h, 4);
    changed = h; changed.amsgrad = 1;                /* needs a buffer it was not made with */
    CHECK(nnopt_set_hparams(opt, &changed) == NNOPT_ERR_INVALID);
    changed = h; changed.beta1 = 0.8;                /* beta cycling (one-cycle) */
    CHECK(nnopt_set_hparams(opt, &changed) == NNOPT_OK);
    nnopt_destroy(opt);
}

/* ---- Gradient clipping ------------------------------------------------------------------- */

static double ref_norm(const float *g, size_t n, double type)
{
    double s = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double a = fabs((double)g[i]);
        if (type == 2.0) s += a * a;
        else if (type == 1.0) s += a;
        else if (a > s) s = a;
    }
    return type == 2.0 ? sqrt(s) : s;
}

static void test_clip_grad_norm(void)
{
    static const size_t lengths[] = { 0, 1, 7, 16, 17, 1000, 100003 };
    const double types[] = { 2.0, 1.0, INFINITY };
    size_t L, T, i;
    for (L = 0; L < sizeof lengths / sizeof lengths[0]; L++)
        for (T = 0; T < 3; T++) {
            size_t n = lengths[L];
            float *g = th_alloc_floats(n, 1), *orig = th_alloc_floats(n, 0);
            double norm = -1, expect, coef;
            for (i = 0; i < n; i++) g[i] = orig[i] = (float)quadratic_noise(7, i) * (float)(1 + i % 5);
            expect = ref_norm(g, n, types[T]);
            CHECK(nnopt_clip_grad_norm(g, n, 1e9, types[T], 1, &norm) == NNOPT_OK);
            CHECKF(fabs(norm - expect) <= 1e-12 * expect, "n=%zu p=%g norm %.17g vs %.17g", n, types[T], norm, expect);
            th_same_bits(g, orig, n, "under the limit nothing changes");
            CHECK(nnopt_clip_grad_norm(g, n, 0.01, types[T], 0, &norm) == NNOPT_OK);
            coef = 0.01 / (expect + 1e-6);
            for (i = 0; i < n; i++)
                if (!CHECKF(g[i] == orig[i] * (float)coef, "n=%zu p=%g element %zu", n, types[T], i)) break;
            th_free_floats(g, 1); th_free_floats(orig, 0);
        }
    {   /* several tensors: one norm over all of them */
        float a[5] = { 3, 0, 0, 0, 0 }, b[3] = { 0, 4, 0 };
        float *grads[2]; size_t sizes[2] = { 5, 3 };
        double norm;
        grads[0] = a; grads[1] = b;
        CHECK(nnopt_clip_grad_norm_groups(grads, sizes, 2, 1.0, 2.0, 0, &norm) == NNOPT_OK);
        CHECK(norm == 5.0);
        CHECK(a[0] == (float)(3.0 * (1.0 / (5.0 + 1e-6))) && b[1] == (float)(4.0 * (1.0 / (5.0 + 1e-6))));
    }
    {   /* non-finite norms */
        float g[4] = { 1, NAN, 2, 3 }, h[4] = { 1, INFINITY, 2, 3 };
        double norm = 7;
        CHECK(nnopt_clip_grad_norm(g, 4, 1.0, 2.0, 1, &norm) == NNOPT_ERR_NONFINITE);
        CHECK(norm == 7 && g[0] == 1 && g[2] == 2);   /* nothing written */
        CHECK(nnopt_clip_grad_norm(h, 4, 1.0, INFINITY, 1, &norm) == NNOPT_ERR_NONFINITE);
        CHECK(nnopt_clip_grad_norm(g, 4, 1.0, INFINITY, 0, &norm) == NNOPT_OK);
        CHECK(norm != norm && g[0] != g[0]);          /* torch: NaN norm, NaN gradients */
        CHECK(nnopt_clip_grad_norm(h, 4, 1.0, 2.0, 0, &norm) == NNOPT_OK);
        CHECK(norm == INFINITY && h[0] == 0.0f);      /* scaled by 1/inf = 0 */
    }
    {   /* bad arguments */
        float g[3] = { 1, 2, 3 };
        CHECK(nnopt_clip_grad_norm(g, 3, -1, 2.0, 0, NULL) == NNOPT_ERR_INVALID);
        CHECK(nnopt_clip_grad_norm(g, 3, NAN, 2.0, 0, NULL) == NNOPT_ERR_INVALID);
        CHECK(nnopt_clip_grad_norm(g, 3, 1, 3.0, 0, NULL) == NNOPT_ERR_INVALID);
        CHECK(nnopt_clip_grad_norm(NULL, 3, 1, 2.0, 0, NULL) == NNOPT_ERR_INVALID);
        CHECK(nnopt_clip_grad_norm((float *)((char *)g + 1), 2, 1, 2.0, 0, NULL) == NNOPT_ERR_INVALID);
        CHECK(nnopt_clip_grad_norm_groups(NULL, NULL, 1, 1, 2.0, 0, NULL) == NNOPT_ERR_INVALID);
        CHECK(g[0] == 1 && g[1] == 2 && g[2] == 3);
    }
}

static void test_clip_grad_value(void)
{
    float g[19];
    int i;
    for (i = 0; i < 19; i++) g[i] = (float)(i - 9) * 0.5f;
    g[18] = NAN;
    CHECK(nnopt_clip_grad_value(g, 19, 2.0) == NNOPT_OK);
    for (i = 0; i < 18; i++) {
        float expect = (float)(i - 9) * 0.5f;
        expect = expect > 2.0f ? 2.0f : expect < -2.0f ? -2.0f : expect;
        CHECKF(g[i] == expect, "element %d: %g", i, (double)g[i]);
    }
    CHECK(g[18] != g[18]);                             /* NaN passes through */
    CHECK(nnopt_clip_grad_value(g, 19, -1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_clip_grad_value(g, 19, INFINITY) == NNOPT_ERR_INVALID);
    CHECK(nnopt_clip_grad_value(NULL, 19, 1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_clip_grad_value(NULL, 0, 1) == NNOPT_OK);
}

/* ---- Threads --------------------------------------------------------------------------- */

/* Built with OpenMP: results do not depend on the thread count (reductions included). */
static void test_thread_count_independent(void)
{
#ifdef _OPENMP
    enum { N = 400009 };
    static const size_t lengths[] = { 20011, N };      /* split per thread; chunked reductions */
    const nnopt_kind kinds[] = { NNOPT_ADAM, NNOPT_LAMB, NNOPT_LARS };
    float *one = th_alloc_floats(N, 0), *many = th_alloc_floats(N, 1), *g = th_alloc_floats(N, 2);
    size_t k, L;
    int saved = omp_get_max_threads(), threads;
    for (L = 0; L < 2; L++)
        for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            for (threads = 2; threads <= 4; threads++) {
                size_t n = lengths[L];
                nnopt_hparams h = nnopt_defaults(kinds[k]);
                double n1, nt;
                h.weight_decay = 0.01;
                omp_set_num_threads(1);
                CHECK(quadratic_run(&h, one, g, n, 3, NULL) == NNOPT_OK);
                CHECK(nnopt_clip_grad_norm(g, n, 1e-3, 2.0, 0, &n1) == NNOPT_OK);
                omp_set_num_threads(threads);
                CHECK(quadratic_run(&h, many, g, n, 3, NULL) == NNOPT_OK);
                CHECK(nnopt_clip_grad_norm(g, n, 1e-3, 2.0, 0, &nt) == NNOPT_OK);
                th_same_bits(many, one, n, nnopt_kind_name(kinds[k]));
                CHECK(memcmp(&n1, &nt, sizeof n1) == 0);
            }
    omp_set_num_threads(saved);
    th_free_floats(one, 0); th_free_floats(many, 1); th_free_floats(g, 2);
#endif
}

void register_optim_api_tests(void)
{
    th_register("sgd_first_step_copies_gradient", test_sgd_first_step_copies_gradient, TH_EACH_ISA);
    th_register("invalid_step_writes_nothing", test_invalid_step_writes_nothing, TH_EACH_ISA);
    th_register("zero_length", test_zero_length, TH_EACH_ISA);
    th_register("nonfinite_guard", test_nonfinite_guard, TH_EACH_ISA);
    th_register("groups_match_flat", test_groups_match_flat, TH_EACH_ISA);
    th_register("groups_freeze_and_scale", test_groups_freeze_and_scale, TH_EACH_ISA);
    th_register("groups_trust_ratio_per_group", test_groups_trust_ratio_per_group, TH_EACH_ISA);
    th_register("caller_memory", test_caller_memory, TH_ONCE);
    th_register("checkpoint_resume", test_checkpoint_resume, TH_EACH_ISA);
    th_register("checkpoint_rejects_bad_data", test_checkpoint_rejects_bad_data, TH_ONCE);
    th_register("error_detail", test_error_detail, TH_ONCE);
    th_register("traits_and_named_state", test_traits_and_named_state, TH_ONCE);
    th_register("checkpoint_golden_formats", test_checkpoint_golden_formats, TH_ONCE);
    th_register("checkpoint_newer_format_refused", test_checkpoint_newer_format_refused, TH_ONCE);
    th_register("set_hparams", test_set_hparams, TH_ONCE);
    th_register("clip_grad_norm", test_clip_grad_norm, TH_EACH_ISA);
    th_register("clip_grad_value", test_clip_grad_value, TH_EACH_ISA);
    th_register("thread_count_independent", test_thread_count_independent, TH_ONCE);
}
