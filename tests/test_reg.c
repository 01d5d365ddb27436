/* Regularization: penalties, proximal steps and max-norm against torch 1.13 goldens and
   double-precision references, bit identity of every path, and refusal of bad input. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REG_RTOL 1e-6   /* |x - ref| <= RTOL*|ref| + ATOL (a few float roundings apart) */
#define REG_ATOL 1e-7
#define REG_MAX_N 3000

/* ---- Golden file (tests/golden/reg_torch.txt, see make_golden_reg.py) ------------------ */

typedef struct {
    char kind[16], label[32];
    size_t n, rows, cols;
    double c1, c2, value;
    float w[REG_MAX_N], g[REG_MAX_N], out[REG_MAX_N];
} reg_case;

static int read_floats(FILE *f, const char *name, float *out, size_t n)
{
    static char line[1 << 17];
    char *text;
    if (!fgets(line, sizeof line, f) || strncmp(line, name, strlen(name)) != 0) return 0;
    text = line + strlen(name);
    return th_parse_floats(text, out, n);
}

/* Loads every case; returns the count (0 on error, reported). */
static int reg_load(reg_case *cases, int max)
{
    char path[512], head[256];
    int count = 0;
    FILE *f;
    snprintf(path, sizeof path, "%s/reg_torch.txt", th_golden_dir());
    f = fopen(path, "r");
    if (!CHECKF(f != NULL, "cannot open %s", path)) return 0;
    while (count < max && fgets(head, sizeof head, f)) {
        reg_case *c = &cases[count];
        int ok;
        memset(c, 0, sizeof *c);
        if (sscanf(head, "%15s %31s", c->kind, c->label) != 2) break;
        if (strcmp(c->kind, "penalty") == 0) {
            ok = sscanf(head, "%*s %*s %zu %lf %lf %lf", &c->n, &c->c1, &c->c2, &c->value) == 4 &&
                 c->n <= REG_MAX_N && read_floats(f, "w ", c->w, c->n) &&
                 read_floats(f, "g ", c->g, c->n) && read_floats(f, "out ", c->out, c->n);
        } else if (strcmp(c->kind, "renorm") == 0) {
            ok = sscanf(head, "%*s %*s %zu %zu %lf", &c->rows, &c->cols, &c->c1) == 3 &&
                 (c->n = c->rows * c->cols) <= REG_MAX_N && read_floats(f, "w ", c->w, c->n) &&
                 read_floats(f, "out ", c->out, c->n);
        } else {
            ok = sscanf(head, "%*s %*s %zu %lf", &c->n, &c->c1) == 2 && c->n <= REG_MAX_N &&
                 read_floats(f, "w ", c->w, c->n) && read_floats(f, "out ", c->out, c->n);
        }
        if (!CHECKF(ok, "malformed case %s in %s", head, path)) break;
        count++;
    }
    fclose(f);
    CHECKF(count > 0, "no cases in %s", path);
    return count;
}

static reg_case reg_cases[16];
static int reg_case_count = -1;

static int reg_cases_loaded(void)
{
    if (reg_case_count < 0) reg_case_count = reg_load(reg_cases, 16);
    return reg_case_count;
}

static int close_to(double x, double ref, double rtol, double atol)
{
    return fabs(x - ref) <= rtol * fabs(ref) + atol;
}

static void check_close(const float *x, const float *ref, size_t n, const char *what, const char *label)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!CHECKF(close_to(x[i], ref[i], REG_RTOL, REG_ATOL), "%s %s: element %zu: %.9g vs torch %.9g",
                    what, label, i, (double)x[i], (double)ref[i]))
            return;
}

/* ---- Conformance ------------------------------------------------------------------------ */

static void test_penalties_torch(void)
{
    int c, count = reg_cases_loaded();
    float *w = th_alloc_floats(REG_MAX_N, 1), *g = th_alloc_floats(REG_MAX_N, 3);
    for (c = 0; c < count; c++) {
        const reg_case *rc = &reg_cases[c];
        double value = -1, only = -2;
        if (strcmp(rc->kind, "penalty") != 0) continue;
        memcpy(w, rc->w, rc->n * sizeof(float));
        memcpy(g, rc->g, rc->n * sizeof(float));
        if (rc->c2 == 0)
            CHECK(nnopt_penalty_l1(w, g, rc->n, rc->c1, &value) == NNOPT_OK);
        else if (rc->c1 == 0)
            CHECK(nnopt_penalty_l2(w, g, rc->n, rc->c2, &value) == NNOPT_OK);
        else
            CHECK(nnopt_penalty_elastic_net(w, g, rc->n, rc->c1, rc->c2, &value) == NNOPT_OK);
        check_close(g, rc->out, rc->n, "penalty gradient", rc->label);
        CHECKF(close_to(value, rc->value, 1e-5, 0), "penalty %s: value %.9g vs torch %.9g",
               rc->label, value, rc->value);
        /* the value alone, without a gradient, is the same number */
        CHECK(nnopt_penalty_elastic_net(w, NULL, rc->n, rc->c1, rc->c2, &only) == NNOPT_OK);
        CHECKF(only == value, "penalty %s: value without gradient %.17g vs %.17g", rc->label, only, value);
        CHECK(memcmp(w, rc->w, rc->n * sizeof(float)) == 0);    /* w is read only */
    }
    th_free_floats(w, 1); th_free_floats(g, 3);
}

static void test_max_norm_torch(void)
{
    int c, count = reg_cases_loaded();
    float *w = th_alloc_floats(REG_MAX_N, 1);
    for (c = 0; c < count; c++) {
        const reg_case *rc = &reg_cases[c];
        size_t clipped = 99, expect = 0, r, j;
        if (strcmp(rc->kind, "renorm") != 0) continue;
        for (r = 0; r < rc->rows; r++) {
            double s = 0;
            for (j = 0; j < rc->cols; j++) s += (double)rc->w[r * rc->cols + j] * rc->w[r * rc->cols + j];
            expect += sqrt(s) > rc->c1;
        }
        memcpy(w, rc->w, rc->n * sizeof(float));
        CHECK(nnopt_max_norm(w, rc->rows, rc->cols, rc->c1, &clipped) == NNOPT_OK);
        check_close(w, rc->out, rc->n, "max_norm", rc->label);
        CHECKF(clipped == expect, "max_norm %s: %zu rows clipped, expected %zu", rc->label, clipped, expect);
        for (r = 0; r < rc->rows; r++) {     /* rows within the bound are untouched, bit for bit */
            if (memcmp(rc->w + r * rc->cols, rc->out + r * rc->cols, rc->cols * sizeof(float)) == 0)
                CHECK(memcmp(w + r * rc->cols, rc->w + r * rc->cols, rc->cols * sizeof(float)) == 0);
        }
    }
    th_free_floats(w, 1);
}

/* softshrink is the soft threshold in the same float operations: exactly equal. */
static void test_soft_threshold_torch(void)
{
    int c, count = reg_cases_loaded();
    float *w = th_alloc_floats(REG_MAX_N, 2);
    for (c = 0; c < count; c++) {
        const reg_case *rc = &reg_cases[c];
        size_t i, zeros = 0;
        if (strcmp(rc->kind, "softshrink") != 0) continue;
        memcpy(w, rc->w, rc->n * sizeof(float));
        CHECK(nnopt_prox_l1(w, rc->n, rc->c1) == NNOPT_OK);
        for (i = 0; i < rc->n; i++) {
            if (!CHECKF(w[i] == rc->out[i], "prox_l1 %s: element %zu: %.9g vs torch %.9g", rc->label, i,
                        (double)w[i], (double)rc->out[i]))
                break;
            if (rc->out[i] == 0.0f) {
                zeros++;
                CHECKF(!signbit(w[i]), "prox_l1 %s: element %zu is -0", rc->label, i);
            }
        }
        CHECKF(zeros > 10, "prox_l1 %s: only %zu zeros", rc->label, zeros);
    }
    th_free_floats(w, 2);
}

/* The proximal gradient step against the same formula in double: sign(v) max(|v| - lr l1, 0) /
   (1 + lr l2) with v = w - lr g. Far from the threshold the results agree to float rounding;
   everything clearly inside it is exactly zero. */
static void test_proximal_step_reference(void)
{
    static const double params[][3] = { { 0.1, 0.5, 0.0 }, { 0.05, 1.0, 0.3 }, { 1.0, 0.0, 0.2 },
                                        { 0.01, 20.0, 1.0 } };
    size_t n = 1001, i, p;
    float *w = th_alloc_floats(n, 1), *g = th_alloc_floats(n, 2), *w0 = th_alloc_floats(n, 0);
    for (i = 0; i < n; i++) {
        w0[i] = (float)sin(0.37 * (double)i + 0.1) * 0.8f;
        g[i] = (float)cos(0.91 * (double)i) * 0.5f;
    }
    for (p = 0; p < sizeof params / sizeof params[0]; p++) {
        double lr = params[p][0], l1 = params[p][1], l2 = params[p][2], thr = lr * l1;
        int with_grad;
        for (with_grad = 0; with_grad < 2; with_grad++) {
            memcpy(w, w0, n * sizeof(float));
            if (with_grad) CHECK(nnopt_proximal_sgd_step(w, g, n, lr, l1, l2) == NNOPT_OK);
            else CHECK(nnopt_prox_elastic_net(w, n, lr, l1, l2) == NNOPT_OK);
            for (i = 0; i < n; i++) {
                double v = (double)w0[i] - (with_grad ? lr * (double)g[i] : 0.0);
                double t = fabs(v) - thr, ref = t > 0 ? (v < 0 ? -t : t) / (1.0 + lr * l2) : 0.0;
                if (!CHECKF(close_to(w[i], ref, REG_RTOL, 1e-6 * (thr + fabs(v)) + REG_ATOL),
                            "proximal lr=%g l1=%g l2=%g grad=%d: element %zu: %.9g vs %.9g", lr, l1, l2,
                            with_grad, i, (double)w[i], ref))
                    break;
                if (t < -1e-5 * (thr + 1)) CHECKF(w[i] == 0.0f && !signbit(w[i]), "element %zu not +0", i);
            }
        }
    }
    {   /* NaN stays NaN; zero threshold and no l2 leave w unchanged */
        float x[3] = { NAN, -0.25f, 3.0f };
        CHECK(nnopt_prox_elastic_net(x, 3, 1.0, 0.5, 0.0) == NNOPT_OK);
        CHECK(x[0] != x[0] && x[1] == 0.0f && x[2] == 2.5f);
        memcpy(w, w0, n * sizeof(float));
        CHECK(nnopt_prox_l1(w, n, 0.0) == NNOPT_OK);
        th_same_bits(w, w0, n, "prox_l1 with threshold 0");
    }
    th_free_floats(w, 1); th_free_floats(g, 2); th_free_floats(w0, 0);
}

static void test_penalty_details(void)
{
    float w[4] = { 0.0f, -0.0f, 2.0f, -3.0f }, g[4] = { 1, 1, 1, 1 };
    double value = -1;
    CHECK(nnopt_penalty_l1(w, g, 4, 0.5, &value) == NNOPT_OK);
    CHECK(g[0] == 1.0f && g[1] == 1.0f && g[2] == 1.5f && g[3] == 0.5f);   /* sign(0) = 0 */
    CHECK(value == 2.5);
    CHECK(nnopt_penalty_l2(w, NULL, 4, 0.5, &value) == NNOPT_OK);
    CHECK(value == 0.25 * 13.0);
    CHECK(nnopt_penalty_l2(w, g, 0, 0.5, &value) == NNOPT_OK && value == 0.0);
    CHECK(nnopt_penalty_l2(NULL, NULL, 0, 0.5, &value) == NNOPT_OK && value == 0.0);
    CHECK(nnopt_penalty_l2(w, g, 4, 0.5, NULL) == NNOPT_OK);
    CHECK(g[2] == 2.5f && g[3] == -1.0f);
}

/* ---- Bit identity across paths -------------------------------------------------------- */

typedef struct { float *w, *g; double value; } reg_outputs;

/* Every function of the section on the current path, at length n, into out. */
static void reg_run_all(size_t n, const float *w0, const float *g0, reg_outputs out[6])
{
    int f;
    for (f = 0; f < 6; f++) {
        memcpy(out[f].w, w0, n * sizeof(float));
        memcpy(out[f].g, g0, n * sizeof(float));
        out[f].value = 0;
    }
    CHECK(nnopt_penalty_l1(out[0].w, out[0].g, n, 0.01, &out[0].value) == NNOPT_OK);
    CHECK(nnopt_penalty_l2(out[1].w, out[1].g, n, 0.3, &out[1].value) == NNOPT_OK);
    CHECK(nnopt_penalty_elastic_net(out[2].w, out[2].g, n, 0.02, 0.7, &out[2].value) == NNOPT_OK);
    CHECK(nnopt_proximal_sgd_step(out[3].w, out[3].g, n, 0.1, 0.3, 0.2) == NNOPT_OK);
    CHECK(nnopt_prox_l1(out[4].w, n, 0.2) == NNOPT_OK);
    if (n) {
        size_t cols = n > 17 ? 17 : n;
        CHECK(nnopt_max_norm(out[5].w, n / cols, cols, 1.1, NULL) == NNOPT_OK);
        CHECK(nnopt_max_norm(out[5].g, 1, n, 2.0, NULL) == NNOPT_OK);
    }
}

static void test_paths_identical(void)
{
    static const size_t lengths[] = { 0, 1, 7, 8, 15, 16, 17, 63, 1000, 100003 };
    const size_t nmax = 100003;
    nnopt_isa initial = nnopt_isa_get(), isa;
    reg_outputs ref[6], got[6];
    float *w0 = th_alloc_floats(nmax, 1), *g0 = th_alloc_floats(nmax, 2);
    size_t i, L;
    int f;
    for (f = 0; f < 6; f++) {
        ref[f].w = th_alloc_floats(nmax, 3); ref[f].g = th_alloc_floats(nmax, 5);
        got[f].w = th_alloc_floats(nmax, 1); got[f].g = th_alloc_floats(nmax, 7);
    }
    for (i = 0; i < nmax; i++) {
        w0[i] = (float)sin(1.3 * (double)i) * (i % 5 == 0 ? 0.1f : 1.0f);
        g0[i] = (float)cos(0.7 * (double)i);
        if (i % 11 == 0) w0[i] = 0.0f;
    }
    for (L = 0; L < sizeof lengths / sizeof lengths[0]; L++) {
        size_t n = lengths[L];
        nnopt_isa_set(NNOPT_ISA_SCALAR);
        reg_run_all(n, w0, g0, ref);
        for (isa = NNOPT_ISA_AVX2; isa <= nnopt_isa_best(); isa = (nnopt_isa)(isa + 1)) {
            char what[96];
            nnopt_isa_set(isa);
            reg_run_all(n, w0, g0, got);
            for (f = 0; f < 6; f++) {
                snprintf(what, sizeof what, "function %d n=%zu %s vs scalar", f, n, nnopt_isa_name(isa));
                th_same_bits(got[f].w, ref[f].w, n, what);
                th_same_bits(got[f].g, ref[f].g, n, what);
                CHECKF(memcmp(&got[f].value, &ref[f].value, sizeof(double)) == 0, "%s: value %.17g vs %.17g",
                       what, got[f].value, ref[f].value);
            }
        }
    }
    nnopt_isa_set(initial);
    for (f = 0; f < 6; f++) {
        th_free_floats(ref[f].w, 3); th_free_floats(ref[f].g, 5);
        th_free_floats(got[f].w, 1); th_free_floats(got[f].g, 7);
    }
    th_free_floats(w0, 1); th_free_floats(g0, 2);
}

/* ---- Bad input: an error status, and nothing written ---------------------------------- */

static void test_bad_input(void)
{
    float buf[40], w[8], g[8], save_w[8], save_g[8];
    float *odd = (float *)(void *)((char *)buf + 2);     /* not float-aligned */
    double value = 123.0;
    size_t clipped = 77, i;
    const double bad[] = { -1.0, NAN, INFINITY };
    for (i = 0; i < 8; i++) { w[i] = (float)i - 3.5f; g[i] = 0.5f * (float)i; }
    memcpy(save_w, w, sizeof w); memcpy(save_g, g, sizeof g);
#define UNTOUCHED() CHECK(memcmp(w, save_w, sizeof w) == 0 && memcmp(g, save_g, sizeof g) == 0 && \
                          value == 123.0 && clipped == 77)
    for (i = 0; i < 3; i++) {
        CHECK(nnopt_penalty_l1(w, g, 8, bad[i], &value) == NNOPT_ERR_INVALID);
        CHECK(nnopt_penalty_l2(w, g, 8, bad[i], &value) == NNOPT_ERR_INVALID);
        CHECK(nnopt_penalty_elastic_net(w, g, 8, 0.1, bad[i], &value) == NNOPT_ERR_INVALID);
        CHECK(nnopt_penalty_elastic_net(w, g, 8, bad[i], 0.1, &value) == NNOPT_ERR_INVALID);
        CHECK(nnopt_prox_l1(w, 8, bad[i]) == NNOPT_ERR_INVALID);
        CHECK(nnopt_prox_elastic_net(w, 8, bad[i], 0.1, 0.1) == NNOPT_ERR_INVALID);
        CHECK(nnopt_prox_elastic_net(w, 8, 0.1, bad[i], 0.1) == NNOPT_ERR_INVALID);
        CHECK(nnopt_proximal_sgd_step(w, g, 8, 0.1, 0.1, bad[i]) == NNOPT_ERR_INVALID);
        CHECK(nnopt_max_norm(w, 2, 4, bad[i], &clipped) == NNOPT_ERR_INVALID);
    }
    CHECK(nnopt_proximal_sgd_step(w, g, 8, 1e300, 1e300, 0.0) == NNOPT_ERR_INVALID);  /* lr*l1 overflows */
    CHECK(nnopt_penalty_l1(NULL, g, 8, 0.1, &value) == NNOPT_ERR_INVALID);
    CHECK(nnopt_penalty_l1(w, g, 8, 0.1, NULL) == NNOPT_OK);   /* grad only is fine ... */
    memcpy(g, save_g, sizeof g);
    CHECK(nnopt_penalty_l1(odd, g, 8, 0.1, &value) == NNOPT_ERR_INVALID);
    CHECK(nnopt_penalty_l1(w, odd, 8, 0.1, &value) == NNOPT_ERR_INVALID);
    CHECK(nnopt_penalty_l2(w, w + 1, 7, 0.1, &value) == NNOPT_ERR_INVALID);            /* overlap */
    CHECK(nnopt_penalty_l2(w, g, (size_t)-1 / 2, 0.1, &value) == NNOPT_ERR_INVALID);   /* size overflow */
    CHECK(nnopt_prox_l1(NULL, 8, 0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_prox_l1(odd, 8, 0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_proximal_sgd_step(w, w + 2, 6, 0.1, 0.1, 0.0) == NNOPT_ERR_INVALID);   /* overlap */
    CHECK(nnopt_proximal_sgd_step(w, odd, 8, 0.1, 0.1, 0.0) == NNOPT_ERR_INVALID);
    CHECK(nnopt_max_norm(NULL, 2, 4, 1.0, &clipped) == NNOPT_ERR_INVALID);
    CHECK(nnopt_max_norm(odd, 2, 4, 1.0, &clipped) == NNOPT_ERR_INVALID);
    CHECK(nnopt_max_norm(w, (size_t)1 << 40, (size_t)1 << 40, 1.0, &clipped) == NNOPT_ERR_INVALID);
    UNTOUCHED();
#undef UNTOUCHED
    CHECK(nnopt_max_norm(NULL, 0, 5, 1.0, &clipped) == NNOPT_OK && clipped == 0);
}

void register_reg_tests(void)
{
    th_register("reg_penalties_torch", test_penalties_torch, TH_EACH_ISA);
    th_register("reg_max_norm_torch", test_max_norm_torch, TH_EACH_ISA);
    th_register("reg_soft_threshold_torch", test_soft_threshold_torch, TH_EACH_ISA);
    th_register("reg_proximal_step_reference", test_proximal_step_reference, TH_EACH_ISA);
    th_register("reg_penalty_details", test_penalty_details, TH_EACH_ISA);
    th_register("reg_paths_identical", test_paths_identical, TH_ONCE);
    th_register("reg_bad_input", test_bad_input, TH_ONCE);
}
