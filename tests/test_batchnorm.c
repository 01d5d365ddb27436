/* Batch normalization: conformance to PyTorch 1.13 goldens in every layout, bit identity of
   every path (and thread count), accuracy of the statistics on data with a large mean, in-place
   use, folding, and bad input (status, nothing written). */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#  include <omp.h>
#endif

#define RTOL 1e-5

/* ---- Inputs, made the way tests/golden/make_golden_batchnorm.py makes them ------------- */

static uint32_t hash32(uint32_t x)
{
    x ^= x >> 16; x *= 0x7FEB352Du; x ^= x >> 15; x *= 0x846CA68Bu; x ^= x >> 16;
    return x;
}

/* Logical NCHW value i of input `seed` (exact in double, rounded once to float). */
static float input_value(int seed, size_t i, size_t c, size_t hw, int centred)
{
    size_t ch = (i / hw) % c;
    uint32_t h = hash32((uint32_t)((uint64_t)i * 2654435761u + (uint64_t)seed * 40503u + 12345u));
    double u = (double)(h >> 9) / 8388608.0;
    double mean = centred ? 0.0 : (double)((int)((37 * ch) % 11) - 5) / 4.0;
    double scale = centred ? 1.0 : (double)(2 + ch % 5) / 4.0;
    return (float)(mean + scale * (2.0 * u - 1.0));
}

/* Memory index of logical (n, c, s) in a layout. */
static size_t at_layout(nnopt_bn_layout layout, size_t C, size_t HW, size_t logical)
{
    size_t s = logical % HW, c = (logical / HW) % C, n = logical / (HW * C);
    return layout == NNOPT_BN_NHWC ? (n * HW + s) * C + c : logical;
}

static void fill_input(float *dst, int seed, nnopt_bn_layout layout, size_t N, size_t C, size_t HW, int centred)
{
    size_t i;
    for (i = 0; i < N * C * HW; i++) dst[at_layout(layout, C, HW, i)] = input_value(seed, i, C, HW, centred);
}

static const char *layout_name(nnopt_bn_layout l)
{
    return l == NNOPT_BN_NC ? "NC" : l == NNOPT_BN_NCHW ? "NCHW" : "NHWC";
}

/* ---- One run of the golden sequence ----------------------------------------------------- */

enum { V_SAVE_MEAN, V_SAVE_INVSTD, V_RUN_MEAN, V_RUN_VAR, V_DGAMMA, V_DBETA, V_DGAMMA_INF,
       V_DBETA_INF, V_COUNT };
enum { T_Y, T_DX, T_Y_INF, T_DX_INF, T_COUNT };
static const char *const vector_names[V_COUNT] = { "save_mean", "save_invstd", "running_mean",
    "running_var", "dgamma", "dbeta", "dgamma_infer", "dbeta_infer" };
static const char *const tensor_names[T_COUNT] = { "y", "dx", "y_infer", "dx_infer" };

typedef struct bn_case {
    size_t n, c, h, w;
    int affine, relu, cumulative;
    double momentum;
    float *vec[V_COUNT];        /* c floats each (dgamma... only when affine) */
    size_t samples, *index;     /* logical indices of the sampled tensor values */
    float *ten[T_COUNT];
} bn_case;

typedef struct bn_result {
    float *vec[V_COUNT];        /* c floats */
    float *ten[T_COUNT];        /* n*c*hw floats, in the layout's memory order */
    uint64_t tracked;
} bn_result;

static void result_alloc(bn_result *r, size_t c, size_t total)
{
    int v;
    for (v = 0; v < V_COUNT; v++) r->vec[v] = th_alloc_floats(c, (size_t)v % 3);
    for (v = 0; v < T_COUNT; v++) r->ten[v] = th_alloc_floats(total, 1 + (size_t)v % 3);
}

static void result_free(bn_result *r)
{
    int v;
    for (v = 0; v < V_COUNT; v++) th_free_floats(r->vec[v], (size_t)v % 3);
    for (v = 0; v < T_COUNT; v++) th_free_floats(r->ten[v], 1 + (size_t)v % 3);
}

/* The sequence of make_golden_batchnorm.py: two training forwards, the training backward of
   the second, then inference forward and backward with the updated running statistics. */
static int run_sequence(const nnopt_bn_params *p, bn_result *r)
{
    size_t N = p->n, C = p->c, HW = p->hw, total = N * C * HW, ch;
    float *x1 = th_alloc_floats(total, 1), *x2 = th_alloc_floats(total, 2), *dy = th_alloc_floats(total, 3);
    float *gamma = th_alloc_floats(C, 1), *beta = th_alloc_floats(C, 2);
    int ok = 1;
    fill_input(x1, 1, p->layout, N, C, HW, 0);
    fill_input(x2, 2, p->layout, N, C, HW, 0);
    fill_input(dy, 3, p->layout, N, C, HW, 1);
    for (ch = 0; ch < C; ch++) {
        gamma[ch] = (float)(2 + ch % 7) / 4.0f;
        beta[ch] = ((float)(ch % 5) - 2.0f) / 4.0f;
        r->vec[V_RUN_MEAN][ch] = ((float)(ch % 3) - 1.0f) / 8.0f;
        r->vec[V_RUN_VAR][ch] = (float)(2 + ch % 4) / 4.0f;
        r->vec[V_DGAMMA][ch] = r->vec[V_DBETA][ch] = r->vec[V_DGAMMA_INF][ch] = r->vec[V_DBETA_INF][ch] = 0.0f;
    }
    r->tracked = 0;
    ok &= nnopt_bn_forward_train(p, x1, r->ten[T_Y], gamma, beta, r->vec[V_RUN_MEAN], r->vec[V_RUN_VAR],
                                 &r->tracked, NULL, NULL) == NNOPT_OK;
    ok &= nnopt_bn_forward_train(p, x2, r->ten[T_Y], gamma, beta, r->vec[V_RUN_MEAN], r->vec[V_RUN_VAR],
                                 &r->tracked, r->vec[V_SAVE_MEAN], r->vec[V_SAVE_INVSTD]) == NNOPT_OK;
    ok &= nnopt_bn_backward_train(p, x2, dy, gamma, beta, r->vec[V_SAVE_MEAN], r->vec[V_SAVE_INVSTD],
                                  r->ten[T_DX], r->vec[V_DGAMMA], r->vec[V_DBETA]) == NNOPT_OK;
    ok &= nnopt_bn_forward_infer(p, x2, r->ten[T_Y_INF], gamma, beta, r->vec[V_RUN_MEAN],
                                 r->vec[V_RUN_VAR]) == NNOPT_OK;
    ok &= nnopt_bn_backward_infer(p, x2, dy, gamma, beta, r->vec[V_RUN_MEAN], r->vec[V_RUN_VAR],
                                  r->ten[T_DX_INF], r->vec[V_DGAMMA_INF], r->vec[V_DBETA_INF]) == NNOPT_OK;
    th_free_floats(x1, 1); th_free_floats(x2, 2); th_free_floats(dy, 3);
    th_free_floats(gamma, 1); th_free_floats(beta, 2);
    return ok;
}

static nnopt_bn_params case_params(const bn_case *k, nnopt_bn_layout layout)
{
    nnopt_bn_params p = nnopt_bn_defaults(layout, k->n, k->c, k->h * k->w);
    p.affine = k->affine; p.fuse_relu = k->relu;
    p.cumulative_average = k->cumulative;
    if (!k->cumulative) p.momentum = k->momentum;
    return p;
}

/* ---- Golden file ------------------------------------------------------------------------ */

#define MAX_CASES 32
static bn_case golden[MAX_CASES];
static int golden_count = -1;

static float *parse_floats(const char *text, size_t count)
{
    float *out = (float *)malloc((count ? count : 1) * sizeof(float));
    if (out && !th_parse_floats(text, out, count)) { free(out); return NULL; }
    return out;
}

static int golden_load(void)
{
    static char line[1 << 20];
    char path[512];
    FILE *f;
    bn_case *k = NULL;
    if (golden_count >= 0) return golden_count;
    golden_count = 0;
    snprintf(path, sizeof path, "%s/batchnorm_cases.txt", th_golden_dir());
    f = fopen(path, "r");
    if (!CHECKF(f != NULL, "cannot open %s", path)) return 0;
    while (fgets(line, sizeof line, f)) {
        char *sp = strchr(line, ' ');
        int v;
        if (strncmp(line, "case ", 5) == 0) {
            double mom;
            if (!CHECKF(golden_count < MAX_CASES, "too many cases")) break;
            k = &golden[golden_count++];
            memset(k, 0, sizeof *k);
            CHECK(sscanf(line + 5, "%zu %zu %zu %zu %d %d %lf", &k->n, &k->c, &k->h, &k->w,
                         &k->affine, &k->relu, &mom) == 7);
            k->cumulative = mom < 0;
            k->momentum = mom < 0 ? 0.1 : mom;
            continue;
        }
        if (!k || !sp) continue;
        *sp = '\0';
        if (strcmp(line, "samples") == 0) {
            k->samples = (size_t)strtoul(sp + 1, NULL, 10);
            continue;
        }
        if (strcmp(line, "index") == 0) {
            float *idx = parse_floats(sp + 1, k->samples);
            size_t s;
            k->index = (size_t *)malloc((k->samples ? k->samples : 1) * sizeof(size_t));
            CHECKF(idx != NULL, "short index line");
            for (s = 0; idx && s < k->samples; s++) k->index[s] = (size_t)idx[s];
            free(idx);
            continue;
        }
        for (v = 0; v < V_COUNT; v++)
            if (strcmp(line, vector_names[v]) == 0) CHECKF((k->vec[v] = parse_floats(sp + 1, k->c)) != NULL, "short %s", line);
        for (v = 0; v < T_COUNT; v++)
            if (strcmp(line, tensor_names[v]) == 0) CHECKF((k->ten[v] = parse_floats(sp + 1, k->samples)) != NULL, "short %s", line);
    }
    fclose(f);
    CHECKF(golden_count > 0, "%s: no cases", path);
    return golden_count;
}

/* |x - ref| <= RTOL (|ref| + rms(ref) + floor): relative, with the vector's own scale as the
   floor. The training dx cancels terms of size gamma invstd dy (entirely when N*HW = 2), so its
   floor is the scale of those terms. */
static void check_close(const float *x, const float *ref, size_t n, const char *what, const char *label,
                        double floor)
{
    size_t i, worst_i = 0;
    double worst = 0, rms = 0;
    for (i = 0; i < n; i++) rms += (double)ref[i] * ref[i];
    rms = sqrt(rms / (double)(n ? n : 1)) + floor + 1e-30;
    for (i = 0; i < n; i++) {
        double err = fabs((double)x[i] - (double)ref[i]) / (RTOL * (fabs((double)ref[i]) + rms));
        if (!(err <= worst)) { worst = err; worst_i = i; }
    }
    CHECKF(worst <= 1.0, "%s %s: element %zu is %.9g, reference %.9g (%.3g of the tolerance)",
           label, what, worst_i, (double)x[worst_i], (double)ref[worst_i], worst);
}

static void check_golden_layout(const bn_case *k, nnopt_bn_layout layout)
{
    nnopt_bn_params p = case_params(k, layout);
    size_t total = k->n * k->c * k->h * k->w, s;
    bn_result r;
    char label[128];
    int v;
    snprintf(label, sizeof label, "%s (%zu,%zu,%zu,%zu) affine=%d relu=%d %s", layout_name(layout),
             k->n, k->c, k->h, k->w, k->affine, k->relu, nnopt_isa_name(nnopt_isa_get()));
    result_alloc(&r, k->c, total);
    if (CHECKF(run_sequence(&p, &r), "%s: a call failed", label)) {
        float *got = (float *)malloc((k->samples ? k->samples : 1) * sizeof(float));
        double term_scale = 0;   /* rms of gamma invstd, times rms(dy) = 1/sqrt(3) */
        size_t ch;
        for (ch = 0; ch < k->c; ch++) {
            double b = (k->affine ? (double)(2 + ch % 7) / 4.0 : 1.0) * k->vec[V_SAVE_INVSTD][ch];
            term_scale += b * b / (double)k->c;
        }
        term_scale = sqrt(term_scale / 3.0);
        for (v = 0; v < V_COUNT; v++)
            if (k->vec[v]) check_close(r.vec[v], k->vec[v], k->c, vector_names[v], label, 0.0);
        for (v = 0; v < T_COUNT; v++) {
            if (!k->ten[v] || !k->index) continue;
            for (s = 0; s < k->samples; s++) got[s] = r.ten[v][at_layout(layout, k->c, k->h * k->w, k->index[s])];
            check_close(got, k->ten[v], k->samples, tensor_names[v], label, v == T_DX ? term_scale : 0.0);
        }
        CHECKF(r.tracked == 2, "%s: num_batches_tracked %llu", label, (unsigned long long)r.tracked);
        if (!k->affine)   /* not affine: dgamma and dbeta are not written */
            for (v = V_DGAMMA; v <= V_DBETA_INF; v++) CHECKF(r.vec[v][0] == 0.0f, "%s: %s written", label, vector_names[v]);
        free(got);
    }
    result_free(&r);
}

static void test_golden(void)
{
    int count = golden_load(), c;
    for (c = 0; c < count; c++) {
        check_golden_layout(&golden[c], NNOPT_BN_NCHW);
        check_golden_layout(&golden[c], NNOPT_BN_NHWC);
        if (golden[c].h * golden[c].w == 1) check_golden_layout(&golden[c], NNOPT_BN_NC);
    }
}

/* ---- Bit identity across paths and thread counts --------------------------------------- */

static void compare_results(const bn_result *a, const bn_result *b, size_t c, size_t total, const char *what)
{
    char label[200];
    int v;
    for (v = 0; v < V_COUNT; v++) {
        snprintf(label, sizeof label, "%s %s", what, vector_names[v]);
        th_same_bits(a->vec[v], b->vec[v], c, label);
    }
    for (v = 0; v < T_COUNT; v++) {
        snprintf(label, sizeof label, "%s %s", what, tensor_names[v]);
        th_same_bits(a->ten[v], b->ten[v], total, label);
    }
}

static void check_identical(nnopt_bn_layout layout, size_t N, size_t C, size_t HW, int relu, int affine)
{
    bn_case k;
    nnopt_bn_params p;
    bn_result ref, got;
    size_t total = N * C * HW;
    nnopt_isa isa, initial = nnopt_isa_get();
    char what[160];
    memset(&k, 0, sizeof k);
    k.n = N; k.c = C; k.h = HW; k.w = 1; k.affine = affine; k.relu = relu; k.momentum = 0.1;
    p = case_params(&k, layout);
    result_alloc(&ref, C, total);
    result_alloc(&got, C, total);
    nnopt_isa_set(NNOPT_ISA_SCALAR);
    CHECK(run_sequence(&p, &ref));
    for (isa = NNOPT_ISA_AVX2; isa <= nnopt_isa_best(); isa = (nnopt_isa)(isa + 1)) {
        nnopt_isa_set(isa);
        CHECK(run_sequence(&p, &got));
        snprintf(what, sizeof what, "%s (%zu,%zu,%zu) relu=%d %s vs scalar", layout_name(layout), N, C, HW,
                 relu, nnopt_isa_name(isa));
        compare_results(&got, &ref, C, total, what);
    }
#ifdef _OPENMP
    {
        int threads;
        for (threads = 1; threads <= 3; threads++) {
            int saved = omp_get_max_threads();
            omp_set_num_threads(threads);
            nnopt_isa_set(nnopt_isa_best());
            CHECK(run_sequence(&p, &got));
            omp_set_num_threads(saved);
            snprintf(what, sizeof what, "%s (%zu,%zu,%zu) %d threads vs scalar", layout_name(layout), N, C, HW, threads);
            compare_results(&got, &ref, C, total, what);
        }
    }
#endif
    nnopt_isa_set(initial);
    result_free(&ref);
    result_free(&got);
}

/* The test lengths run along the vectorized dimension of each layout: the plane (NCHW) or
   the channels (NHWC, NC); then large odd shapes (an NHWC strip boundary at 512 channels). */
static void test_paths_identical(void)
{
    static const size_t lengths[] = { 1, 7, 8, 15, 16, 17, 63, 1000 };
    size_t L;
    for (L = 0; L < sizeof lengths / sizeof lengths[0]; L++) {
        size_t n = lengths[L];
        check_identical(NNOPT_BN_NCHW, 3, 5, n, (int)(L % 2), 1);
        check_identical(NNOPT_BN_NHWC, 3, n, 5, (int)(L % 2), (int)((L + 1) % 2));
        check_identical(NNOPT_BN_NC, 7, n, 1, (int)((L + 1) % 2), 1);
    }
    check_identical(NNOPT_BN_NCHW, 5, 37, 1001, 1, 1);
    check_identical(NNOPT_BN_NHWC, 3, 601, 111, 1, 1);
    check_identical(NNOPT_BN_NC, 1001, 33, 1, 0, 1);
}

/* ---- Against a double-precision reference -----------------------------------------------
   Shapes the goldens do not reach (NHWC across the 512-channel strip, long planes), training
   forward and backward with fused ReLU, against the formulas evaluated in double. */
static void check_reference(nnopt_bn_layout layout, size_t N, size_t C, size_t HW)
{
    size_t total = N * C * HW, c, i;
    float *x = th_alloc_floats(total, 1), *y = th_alloc_floats(total, 2), *dy = th_alloc_floats(total, 3);
    float *dx = th_alloc_floats(total, 1);
    float *g = th_alloc_floats(C, 0), *b = th_alloc_floats(C, 1), *rm = th_alloc_floats(C, 2), *rv = th_alloc_floats(C, 3);
    float *sm = th_alloc_floats(C, 0), *si = th_alloc_floats(C, 1), *dg = th_alloc_floats(C, 2), *db = th_alloc_floats(C, 3);
    nnopt_bn_params p = nnopt_bn_defaults(layout, N, C, HW);
    double m = (double)(N * HW), worst = 0;
    p.fuse_relu = 1;
    fill_input(x, 7, layout, N, C, HW, 0);
    fill_input(dy, 8, layout, N, C, HW, 1);
    for (c = 0; c < C; c++) { g[c] = 0.5f + (float)(c % 9) / 8; b[c] = (float)(c % 5) / 4 - 0.5f; rm[c] = 0; rv[c] = 1; }
    CHECK(nnopt_bn_forward_train(&p, x, y, g, b, rm, rv, NULL, sm, si) == NNOPT_OK);
    CHECK(nnopt_bn_backward_train(&p, x, dy, g, b, sm, si, dx, dg, db) == NNOPT_OK);
    for (c = 0; c < C; c++) {
        double mean = 0, dev = 0, invstd, sg = 0, sp = 0, e;
        for (i = c * HW; i < total; i += (i % HW == HW - 1) ? (C - 1) * HW + 1 : 1) mean += x[at_layout(layout, C, HW, i)];
        mean /= m;
        for (i = c * HW; i < total; i += (i % HW == HW - 1) ? (C - 1) * HW + 1 : 1) {
            double d = x[at_layout(layout, C, HW, i)] - mean;
            dev += d * d;
        }
        invstd = 1.0 / sqrt(dev / m + 1e-5);
        e = fabs(rv[c] - (0.9 + 0.1 * dev / (m - 1))) / (0.9 + 0.1 * dev / (m - 1));
        if (e > worst) worst = e;
        for (i = c * HW; i < total; i += (i % HW == HW - 1) ? (C - 1) * HW + 1 : 1) {
            size_t at = at_layout(layout, C, HW, i);
            double yr, gr;
            yr = (x[at] - mean) * invstd * g[c] + b[c];
            if (yr < 0) yr = 0;
            e = fabs(y[at] - yr) / (1 + fabs(yr));
            if (e > worst) worst = e;
            gr = yr > 0 ? dy[at] : 0;
            sg += gr; sp += gr * (x[at] - mean);
        }
        e = fabs(dg[c] - sp * invstd) / (1 + fabs(sp * invstd)) + fabs(db[c] - sg) / (1 + fabs(sg));
        if (e > worst) worst = e;
        for (i = c * HW; i < total; i += (i % HW == HW - 1) ? (C - 1) * HW + 1 : 1) {
            size_t at = at_layout(layout, C, HW, i);
            double gr, xhat, dxr;
            xhat = (x[at] - mean) * invstd;
            gr = xhat * g[c] + b[c] > 0 ? dy[at] : 0;
            dxr = g[c] * invstd * (gr - sg / m - xhat * sp * invstd / m);
            e = fabs(dx[at] - dxr) / (g[c] * invstd);   /* relative to the scale of its terms */
            if (e > worst) worst = e;
        }
    }
    CHECKF(worst <= 1e-5, "%s (%zu,%zu,%zu): worst relative error %.3g", layout_name(layout), N, C, HW, worst);
    th_free_floats(x, 1); th_free_floats(y, 2); th_free_floats(dy, 3); th_free_floats(dx, 1);
    th_free_floats(g, 0); th_free_floats(b, 1); th_free_floats(rm, 2); th_free_floats(rv, 3);
    th_free_floats(sm, 0); th_free_floats(si, 1); th_free_floats(dg, 2); th_free_floats(db, 3);
}

static void test_reference(void)
{
    check_reference(NNOPT_BN_NHWC, 3, 601, 7);
    check_reference(NNOPT_BN_NCHW, 2, 5, 1001);
    check_reference(NNOPT_BN_NC, 40, 1030, 1);
}

/* ---- Large mean --------------------------------------------------------------------------
   Mean 1e4, standard deviation 1e-2 (the values sit 10 float steps apart): the variance must
   come out within 1e-3 relative of the exact variance of the stored floats. */
static void check_large_mean(nnopt_bn_layout layout)
{
    const size_t N = 16, C = 3, HW = 49, total = N * C * HW;
    float *x = th_alloc_floats(total, 1), *y = th_alloc_floats(total, 0);
    float rm[3] = { 0, 0, 0 }, rv[3] = { 1, 1, 1 }, sm[3], si[3];
    nnopt_bn_params p = nnopt_bn_defaults(layout, N, C, HW);
    size_t i, c;
    p.momentum = 1.0;      /* running_var becomes the batch's unbiased variance */
    p.affine = 0;
    for (i = 0; i < total; i++) {
        double u = (double)(hash32((uint32_t)i * 2654435761u + 777u) >> 9) / 8388608.0;
        x[at_layout(layout, C, HW, i)] = (float)(1e4 + (double)((i / HW) % C) + 1.7320508e-2 * (2.0 * u - 1.0));
    }
    CHECK(nnopt_bn_forward_train(&p, x, y, NULL, NULL, rm, rv, NULL, sm, si) == NNOPT_OK);
    for (c = 0; c < C; c++) {
        double mean = 0, dev = 0, var;
        for (i = 0; i < total; i++)
            if ((i / HW) % C == c) mean += x[at_layout(layout, C, HW, i)];
        mean /= (double)(N * HW);
        for (i = 0; i < total; i++)
            if ((i / HW) % C == c) { double d = x[at_layout(layout, C, HW, i)] - mean; dev += d * d; }
        var = dev / (double)(N * HW - 1);
        CHECKF(fabs(rv[c] - var) <= 1e-3 * var, "%s channel %zu: variance %.9g, exact %.9g",
               layout_name(layout), c, (double)rv[c], var);
        CHECKF(fabs(sm[c] - mean) <= 1e-3, "%s channel %zu: mean %.9g, exact %.9g", layout_name(layout), c,
               (double)sm[c], mean);
    }
    th_free_floats(x, 1); th_free_floats(y, 0);
}

static void test_large_mean(void)
{
    check_large_mean(NNOPT_BN_NCHW);
    check_large_mean(NNOPT_BN_NHWC);
}

/* ---- In place, no tracking, folding ------------------------------------------------------ */

static void test_in_place(void)
{
    const size_t N = 4, C = 19, HW = 23, total = N * C * HW;
    nnopt_bn_layout layouts[2] = { NNOPT_BN_NCHW, NNOPT_BN_NHWC };
    int l;
    for (l = 0; l < 2; l++) {
        nnopt_bn_params p = nnopt_bn_defaults(layouts[l], N, C, HW);
        float *x = th_alloc_floats(total, 1), *y = th_alloc_floats(total, 0), *io = th_alloc_floats(total, 2);
        float *dy = th_alloc_floats(total, 3), *dx = th_alloc_floats(total, 1);
        float g[19], b[19], rm[19], rv[19], rm2[19], rv2[19], sm[19], si[19], dg[19], db[19], dg2[19], db2[19];
        size_t c;
        p.fuse_relu = 1;
        for (c = 0; c < C; c++) { g[c] = 1.0f + (float)c / 8; b[c] = (float)c / 16 - 0.5f; rm[c] = rm2[c] = 0; rv[c] = rv2[c] = 1; }
        fill_input(x, 5, layouts[l], N, C, HW, 0);
        fill_input(dy, 6, layouts[l], N, C, HW, 1);
        memcpy(io, x, total * sizeof(float));
        CHECK(nnopt_bn_forward_train(&p, x, y, g, b, rm, rv, NULL, sm, si) == NNOPT_OK);
        CHECK(nnopt_bn_forward_train(&p, io, io, g, b, rm2, rv2, NULL, sm, si) == NNOPT_OK);
        th_same_bits(io, y, total, "forward in place");
        th_same_bits(rm2, rm, C, "running mean in place");
        CHECK(nnopt_bn_backward_train(&p, x, dy, g, b, sm, si, dx, dg, db) == NNOPT_OK);
        memcpy(io, dy, total * sizeof(float));
        CHECK(nnopt_bn_backward_train(&p, x, io, g, b, sm, si, io, dg2, db2) == NNOPT_OK);
        th_same_bits(io, dx, total, "backward in place (dx = dy)");
        th_same_bits(dg2, dg, C, "dgamma in place");
        {   /* the recomputed ReLU mask is the forward's: same as masking dy by y > 0 first */
            size_t e;
            nnopt_bn_params plain = p;
            plain.fuse_relu = 0;
            for (e = 0; e < total; e++) io[e] = y[e] > 0 ? dy[e] : 0.0f;
            CHECK(nnopt_bn_backward_train(&plain, x, io, g, b, sm, si, io, dg2, db2) == NNOPT_OK);
            th_same_bits(io, dx, total, "fused ReLU backward vs masked dy");
            th_same_bits(dg2, dg, C, "fused ReLU dgamma vs masked dy");
        }
        memcpy(io, x, total * sizeof(float));
        CHECK(nnopt_bn_forward_infer(&p, x, y, g, b, rm, rv) == NNOPT_OK);
        CHECK(nnopt_bn_forward_infer(&p, io, io, g, b, rm, rv) == NNOPT_OK);
        th_same_bits(io, y, total, "inference in place");
        /* Not tracking: the running statistics are neither needed nor touched. */
        p.track_running_stats = 0;
        memcpy(rm2, rm, sizeof rm);
        CHECK(nnopt_bn_forward_train(&p, x, io, g, b, NULL, NULL, NULL, NULL, NULL) == NNOPT_OK);
        CHECK(nnopt_bn_forward_train(&p, x, io, g, b, rm2, rv2, NULL, NULL, NULL) == NNOPT_OK);
        CHECK(memcmp(rm2, rm, sizeof rm) == 0);
        th_free_floats(x, 1); th_free_floats(y, 0); th_free_floats(io, 2); th_free_floats(dy, 3); th_free_floats(dx, 1);
    }
}

/* Folded scale and shift reproduce the inference forward (to rounding) and torch's formula. */
static void test_fold(void)
{
    const size_t N = 3, C = 7, HW = 5, total = N * C * HW;
    nnopt_bn_params p = nnopt_bn_defaults(NNOPT_BN_NCHW, N, C, HW);
    float x[105], y[105], g[7], b[7], rm[7], rv[7], scale[7], shift[7];
    size_t i, c;
    for (c = 0; c < C; c++) { g[c] = 0.5f + (float)c; b[c] = (float)c - 3; rm[c] = (float)c / 3; rv[c] = 0.25f + (float)c; }
    fill_input(x, 9, NNOPT_BN_NCHW, N, C, HW, 0);
    CHECK(nnopt_bn_fold(C, 1e-5, g, b, rm, rv, scale, shift) == NNOPT_OK);
    CHECK(nnopt_bn_forward_infer(&p, x, y, g, b, rm, rv) == NNOPT_OK);
    for (c = 0; c < C; c++) {
        double s = g[c] / sqrt((double)rv[c] + 1e-5);
        CHECKF(fabs(scale[c] - s) <= 1e-7 * fabs(s), "scale %zu", c);
        CHECKF(fabs(shift[c] - (b[c] - rm[c] * s)) <= 1e-6 * (1 + fabs(b[c] - rm[c] * s)), "shift %zu", c);
    }
    for (i = 0; i < total; i++) {
        double folded = (double)x[i] * scale[(i / HW) % C] + shift[(i / HW) % C];
        CHECKF(fabs(y[i] - folded) <= 1e-5 * (1 + fabs(folded)), "element %zu: %.9g vs folded %.9g", i, (double)y[i], folded);
    }
    CHECK(nnopt_bn_fold(C, 1e-5, NULL, NULL, rm, rv, scale, shift) == NNOPT_OK);
    CHECKF(fabs(scale[2] - 1.0 / sqrt(rv[2] + 1e-5)) <= 1e-7, "scale without affine");
}

/* ---- Bad input ---------------------------------------------------------------------------- */

#define SENTINEL 12345.0f

static int untouched(const float *a, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) if (a[i] != SENTINEL) return 0;
    return 1;
}

static void test_bad_input(void)
{
    enum { N = 2, C = 3, HW = 4, T = N * C * HW };
    float x[T], y[T], dy[T], dx[T], g[C], b[C], rm[C], rv[C], sm[C], si[C], dg[C], db[C], sc[C], sh[C];
    float *outs[] = { y, dx, rm, rv, sm, si, dg, db, sc, sh };
    size_t sizes[] = { T, T, C, C, C, C, C, C, C, C };
    uint64_t tracked = 7;
    nnopt_bn_params good = nnopt_bn_defaults(NNOPT_BN_NCHW, N, C, HW), p;
    int i, o;
    /* Each bad variant: the params to use (and which call). */
    for (i = 0; i < T; i++) { x[i] = (float)(i % 5); dy[i] = (float)(i % 3) - 1; }
    for (i = 0; i < C; i++) { g[i] = 1; b[i] = 0; }
#define RESET() do { for (o = 0; o < 10; o++) { size_t e_; for (e_ = 0; e_ < sizes[o]; e_++) outs[o][e_] = SENTINEL; } \
                     tracked = 7; } while (0)
#define NOTHING_WRITTEN(what) do { int w_ = 1; for (o = 0; o < 10; o++) w_ &= untouched(outs[o], sizes[o]); \
                     CHECKF(w_ && tracked == 7, "%s: something was written", what); } while (0)
#define BAD_TRAIN(pp, what, ...) do { RESET(); CHECKF(nnopt_bn_forward_train(pp, __VA_ARGS__) == NNOPT_ERR_INVALID, "%s", what); NOTHING_WRITTEN(what); } while (0)
    /* Bad parameters, every function. */
    for (i = 0; i < 11; i++) {
        const char *what[] = { "NULL params", "C = 0", "N = 0", "HW = 0", "eps = 0", "eps < 0", "eps NaN",
                               "momentum < 0", "momentum > 1", "momentum NaN", "bad layout" };
        p = good;
        switch (i) {
        case 1: p.c = 0; break;
        case 2: p.n = 0; break;
        case 3: p.hw = 0; break;
        case 4: p.eps = 0; break;
        case 5: p.eps = -1e-5; break;
        case 6: p.eps = NAN; break;
        case 7: p.momentum = -0.1; break;
        case 8: p.momentum = 1.5; break;
        case 9: p.momentum = NAN; break;
        case 10: p.layout = (nnopt_bn_layout)7; break;
        }
        BAD_TRAIN(i ? &p : NULL, what[i], x, y, g, b, rm, rv, &tracked, sm, si);
        RESET();
        CHECKF(nnopt_bn_forward_infer(i ? &p : NULL, x, y, g, b, g, g) == NNOPT_ERR_INVALID, "infer %s", what[i]);
        CHECKF(nnopt_bn_backward_train(i ? &p : NULL, x, dy, g, b, g, g, dx, dg, db) == NNOPT_ERR_INVALID, "backward %s", what[i]);
        CHECKF(nnopt_bn_backward_infer(i ? &p : NULL, x, dy, g, b, g, g, dx, dg, db) == NNOPT_ERR_INVALID, "backward infer %s", what[i]);
        NOTHING_WRITTEN(what[i]);
    }
    /* Shapes. */
    p = good; p.n = 1; p.hw = 1;
    BAD_TRAIN(&p, "N*HW = 1 in training", x, y, g, b, rm, rv, &tracked, sm, si);
    RESET();
    CHECK(nnopt_bn_backward_train(&p, x, dy, g, b, g, g, dx, dg, db) == NNOPT_ERR_INVALID);
    NOTHING_WRITTEN("N*HW = 1 in training backward");
    CHECK(nnopt_bn_forward_infer(&p, x, y, g, b, g, g) == NNOPT_OK);   /* allowed at inference */
    p = good; p.layout = NNOPT_BN_NC;
    BAD_TRAIN(&p, "NC with HW > 1", x, y, g, b, rm, rv, &tracked, sm, si);
    p = good; p.n = (size_t)-1 / 2;
    BAD_TRAIN(&p, "size overflow", x, y, g, b, rm, rv, &tracked, sm, si);
    /* Missing or misaligned buffers. */
    BAD_TRAIN(&good, "NULL x", NULL, y, g, b, rm, rv, &tracked, sm, si);
    BAD_TRAIN(&good, "NULL y", x, NULL, g, b, rm, rv, &tracked, sm, si);
    BAD_TRAIN(&good, "NULL gamma", x, y, NULL, b, rm, rv, &tracked, sm, si);
    BAD_TRAIN(&good, "NULL beta", x, y, g, NULL, rm, rv, &tracked, sm, si);
    BAD_TRAIN(&good, "NULL running mean", x, y, g, b, NULL, rv, &tracked, sm, si);
    BAD_TRAIN(&good, "NULL running var", x, y, g, b, rm, NULL, &tracked, sm, si);
    BAD_TRAIN(&good, "misaligned x", (const float *)((const char *)x + 1), y, g, b, rm, rv, &tracked, sm, si);
    p = good; p.cumulative_average = 1;
    BAD_TRAIN(&p, "cumulative average without a counter", x, y, g, b, rm, rv, NULL, sm, si);
    /* Forbidden overlaps. */
    BAD_TRAIN(&good, "y overlaps x partly", x, x + 1, g, b, rm, rv, &tracked, sm, si);
    BAD_TRAIN(&good, "save_mean is running_mean", x, y, g, b, rm, rv, &tracked, rm, si);
    BAD_TRAIN(&good, "running_var inside y", x, y, g, b, rm, y + 2, &tracked, sm, si);
    RESET();
    CHECK(nnopt_bn_forward_infer(&good, x, y, g, b, NULL, rv) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_forward_infer(&good, x, y, g, b, rm, y + 1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_backward_train(&good, x, dy, g, b, sm, NULL, dx, dg, db) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_backward_train(&good, x, NULL, g, b, g, g, dx, dg, db) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_backward_train(&good, x, dy, NULL, b, g, g, dx, dg, db) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_backward_train(&good, x, dy, g, b, g, g, NULL, dg, db) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_backward_train(&good, x, dy, g, b, g, g, dx, dg, dg) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_backward_train(&good, x, dy, g, b, g, g, dy + 1, dg, db) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_backward_infer(&good, x, dy, g, b, g, g, dx, dx + 3, db) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_backward_infer(&good, x, dy, g, b, NULL, g, dx, dg, db) == NNOPT_ERR_INVALID);
    p = good; p.fuse_relu = 1;   /* the ReLU mask needs beta */
    CHECK(nnopt_bn_backward_train(&p, x, dy, g, NULL, g, g, dx, dg, db) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_fold(0, 1e-5, g, b, g, g, sc, sh) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_fold(C, 0.0, g, b, g, g, sc, sh) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_fold(C, NAN, g, b, g, g, sc, sh) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_fold(C, 1e-5, g, NULL, g, g, sc, sh) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_fold(C, 1e-5, g, b, NULL, g, sc, sh) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_fold(C, 1e-5, g, b, g, g, sc, sc) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_fold(C, 1e-5, g, b, g, g, sc, NULL) == NNOPT_ERR_INVALID);
    NOTHING_WRITTEN("inference, backward and fold bad buffers");
    /* Optional outputs may be NULL; gamma and beta are not read without affine. */
    p = good; p.affine = 0;
    CHECK(nnopt_bn_forward_train(&p, x, y, NULL, NULL, rm, rv, NULL, NULL, NULL) == NNOPT_OK);
    CHECK(nnopt_bn_backward_train(&good, x, dy, g, NULL, rm, rv, dx, NULL, NULL) == NNOPT_OK);
    CHECK(nnopt_bn_backward_train(&p, x, dy, NULL, NULL, rm, rv, dx, dg, db) == NNOPT_OK);
#undef RESET
#undef NOTHING_WRITTEN
#undef BAD_TRAIN
}

/* Each failure names the function, the argument and the rule it broke (nnopt_last_error), and
   replaces whatever an earlier failure, in any section, left there. */
static void test_error_detail(void)
{
    enum { N = 2, C = 3, HW = 4, T = N * C * HW };
    float x[T + 1], y[T], dy[T], dx[T], g[C + 1], b[C], rm[C], rv[C], sm[C], si[C], sc[C], sh[C];
    uint64_t tracked = UINT64_MAX;
    uint32_t words[4];
    const float *odd_gamma = (const float *)(const void *)((const char *)g + 1);   /* not float-aligned */
    nnopt_bn_params good = nnopt_bn_defaults(NNOPT_BN_NCHW, N, C, HW), p;
    int i;
    for (i = 0; i < T + 1; i++) x[i] = (float)(i % 5);
    for (i = 0; i < T; i++) dy[i] = (float)(i % 3) - 1;
    for (i = 0; i < C; i++) { g[i] = 1; b[i] = 0; rm[i] = 0; rv[i] = 1; }
#define EXPECT_ERROR(call, text) \
    do { CHECK((call) == NNOPT_ERR_INVALID); \
         CHECKF(strcmp(nnopt_last_error(), text) == 0, "%s", nnopt_last_error()); } while (0)
    /* another section's failure first: the batch-norm failure must replace its message */
    EXPECT_ERROR(nnopt_random_u32(NULL, words, 4), "nnopt_random_u32: rng: is NULL");
    p = good; p.momentum = 1.5;
    EXPECT_ERROR(nnopt_bn_forward_infer(&p, x, y, g, b, rm, rv),
                 "nnopt_bn_forward_infer: momentum: must lie in [0, 1]");
    EXPECT_ERROR(nnopt_bn_forward_train(NULL, x, y, g, b, rm, rv, NULL, sm, si),
                 "nnopt_bn_forward_train: p: is NULL");
    p = good; p.layout = NNOPT_BN_NC;
    EXPECT_ERROR(nnopt_bn_forward_train(&p, x, y, g, b, rm, rv, NULL, sm, si),
                 "nnopt_bn_forward_train: hw: must be 1 in the NNOPT_BN_NC layout");
    p = good; p.n = 1; p.hw = 1;
    EXPECT_ERROR(nnopt_bn_backward_train(&p, x, dy, g, b, sm, si, dx, NULL, NULL),
                 "nnopt_bn_backward_train: n, hw: n * hw must be > 1 in training");
    p = good; p.cumulative_average = 1;
    EXPECT_ERROR(nnopt_bn_forward_train(&p, x, y, g, b, rm, rv, NULL, sm, si),
                 "nnopt_bn_forward_train: num_batches_tracked: is NULL (cumulative_average needs it)");
    EXPECT_ERROR(nnopt_bn_forward_train(&good, x, y, g, b, rm, rv, &tracked, sm, si),
                 "nnopt_bn_forward_train: num_batches_tracked: is UINT64_MAX and cannot count another batch");
    EXPECT_ERROR(nnopt_bn_forward_train(&good, x, y, g, b, rm, NULL, NULL, sm, si),
                 "nnopt_bn_forward_train: running_var: is NULL");
    EXPECT_ERROR(nnopt_bn_forward_infer(&good, x, y, odd_gamma, b, rm, rv),
                 "nnopt_bn_forward_infer: gamma: is not aligned to float");
    EXPECT_ERROR(nnopt_bn_forward_train(&good, x, x + 1, g, b, rm, rv, NULL, sm, si),
                 "nnopt_bn_forward_train: y: overlaps x");
    EXPECT_ERROR(nnopt_bn_forward_train(&good, x, y, g, b, rm, rv, NULL, rm, si),
                 "nnopt_bn_forward_train: running_mean: overlaps save_mean");
    /* the backward forms name their own statistics */
    EXPECT_ERROR(nnopt_bn_backward_train(&good, x, dy, g, b, sm, NULL, dx, NULL, NULL),
                 "nnopt_bn_backward_train: save_invstd: is NULL");
    EXPECT_ERROR(nnopt_bn_backward_infer(&good, x, dy, g, b, NULL, rv, dx, NULL, NULL),
                 "nnopt_bn_backward_infer: running_mean: is NULL");
    EXPECT_ERROR(nnopt_bn_backward_infer(&good, x, dy, g, b, rm, rv, dx, dx + 1, NULL),
                 "nnopt_bn_backward_infer: dx: overlaps dgamma");
    EXPECT_ERROR(nnopt_bn_fold(C, 0.0, g, b, rm, rv, sc, sh), "nnopt_bn_fold: eps: must be finite and > 0");
    EXPECT_ERROR(nnopt_bn_fold(C, 1e-5, g, NULL, rm, rv, sc, sh),
                 "nnopt_bn_fold: gamma, beta: must both be NULL or both be given");
    EXPECT_ERROR(nnopt_bn_fold(C, 1e-5, g, b, rm, rv, sc, sc), "nnopt_bn_fold: scale: overlaps shift");
    /* a call that succeeds leaves the last failure's message */
    CHECK(nnopt_bn_forward_infer(&good, x, y, g, b, rm, rv) == NNOPT_OK);
    CHECKF(strcmp(nnopt_last_error(), "nnopt_bn_fold: scale: overlaps shift") == 0, "%s", nnopt_last_error());
#undef EXPECT_ERROR
}

static void test_defaults(void)
{
    nnopt_bn_params p = nnopt_bn_defaults(NNOPT_BN_NHWC, 2, 3, 4);
    CHECK(p.layout == NNOPT_BN_NHWC && p.n == 2 && p.c == 3 && p.hw == 4);
    CHECK(p.eps == 1e-5 && p.momentum == 0.1 && !p.cumulative_average);
    CHECK(p.affine == 1 && p.track_running_stats == 1 && p.fuse_relu == 0);
}

void register_batchnorm_tests(void)
{
    th_register("bn_defaults", test_defaults, TH_ONCE);
    th_register("bn_golden_torch", test_golden, TH_EACH_ISA);
    th_register("bn_paths_identical", test_paths_identical, TH_ONCE);
    th_register("bn_reference_double", test_reference, TH_EACH_ISA);
    th_register("bn_large_mean", test_large_mean, TH_EACH_ISA);
    th_register("bn_in_place", test_in_place, TH_EACH_ISA);
    th_register("bn_fold", test_fold, TH_EACH_ISA);
    th_register("bn_bad_input", test_bad_input, TH_ONCE);
    th_register("batchnorm_error_detail", test_error_detail, TH_ONCE);
}
