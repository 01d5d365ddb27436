/* Optimizers: conformance to PyTorch goldens, bit identity of every path at every length,
   exact first steps, and refusal of bad input. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-4   /* golden comparison: |x - ref| <= RTOL*|ref| + ATOL */
#define ATOL 1e-6

/* ---- The deterministic noisy quadratic of tests/golden/make_golden.py ---------------- */

static uint32_t hash32(uint32_t x)
{
    x ^= x >> 16; x *= 0x7FEB352Du;
    x ^= x >> 15; x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

static float curvature(size_t i) { return (float)(0.5 + (double)(i % 7) / 4.0); }
static float center(size_t i)    { return (float)((double)((37 * i) % 101) / 50.0 - 1.0); }
static float start(size_t i)     { return (float)((double)((53 * i) % 97) / 48.0 - 1.0); }
static float noise(uint32_t t, size_t i)
{
    uint32_t h = hash32((uint32_t)i * 2654435761u + t * 40503u + 12345u);
    return (float)(0.1 * ((double)h / 4294967296.0 - 0.5));
}

static void quadratic_grad(float *g, const float *p, size_t n, uint32_t t)
{
    size_t i;
    for (i = 0; i < n; i++) {
        float d = p[i] - center(i);
        float m = curvature(i) * d;
        g[i] = m + noise(t, i);
    }
}

/* Runs `steps` optimizer steps on the quadratic from its start point; keeps the parameters
   after step 1 in after1 (if not NULL). Returns the first non-OK status. */
static nnopt_status run_quadratic(const nnopt_hparams *h, float *p, float *g, size_t n, int steps,
                                  float *after1)
{
    nnopt_optimizer *opt = nnopt_create(h, n);
    nnopt_status s = NNOPT_OK;
    size_t i;
    int t;
    if (!opt) return NNOPT_ERR_INVALID;
    for (i = 0; i < n; i++) p[i] = start(i);
    for (t = 1; t <= steps && s == NNOPT_OK; t++) {
        quadratic_grad(g, p, n, (uint32_t)t);
        s = nnopt_step(opt, p, g);
        if (t == 1 && after1) memcpy(after1, p, n * sizeof(float));
    }
    nnopt_destroy(opt);
    return s;
}

/* ---- Golden files ---------------------------------------------------------------------
   "case LABEL key=value ...", then "step1 v..." and "stepN v..." (N = steps). */

#define GOLDEN_MAX_CASES 32
#define GOLDEN_N 301

typedef struct {
    char label[64];
    nnopt_hparams h;
    int steps;
    float after1[GOLDEN_N], after_last[GOLDEN_N];
} golden_case;

static int set_hparam(nnopt_hparams *h, const char *key, const char *value)
{
    struct { const char *name; double *d; int *i; } fields[] = {
        { "lr", &h->lr, NULL }, { "weight_decay", &h->weight_decay, NULL },
        { "decoupled_weight_decay", NULL, &h->decoupled_weight_decay },
        { "maximize", NULL, &h->maximize }, { "momentum", &h->momentum, NULL },
        { "dampening", &h->dampening, NULL }, { "nesterov", NULL, &h->nesterov },
        { "beta1", &h->beta1, NULL }, { "beta2", &h->beta2, NULL }, { "eps", &h->eps, NULL },
        { "amsgrad", NULL, &h->amsgrad }, { "alpha", &h->alpha, NULL },
        { "centered", NULL, &h->centered }, { "rho", &h->rho, NULL },
        { "lr_decay", &h->lr_decay, NULL },
        { "initial_accumulator_value", &h->initial_accumulator_value, NULL },
        { "momentum_decay", &h->momentum_decay, NULL },
    };
    size_t k;
    for (k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        if (strcmp(key, fields[k].name) != 0) continue;
        if (fields[k].d) *fields[k].d = strtod(value, NULL);
        else *fields[k].i = atoi(value);
        return 1;
    }
    return 0;
}

static int parse_floats(char *text, float *out, int count)
{
    int k;
    for (k = 0; k < count; k++) {
        char *end;
        double v = strtod(text, &end);
        if (end == text) return 0;
        out[k] = (float)v;
        text = end;
    }
    return 1;
}

/* Loads every case of tests/golden/<file>; returns the count, or -1 (reported) on error. */
static int golden_load(const char *file, nnopt_kind kind, golden_case *cases, int max)
{
    static char line[1 << 16];
    char path[512];
    int count = 0;
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", th_golden_dir(), file);
    f = fopen(path, "r");
    if (!CHECKF(f != NULL, "cannot open %s", path)) return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "case ", 5) == 0) {
            golden_case *c;
            char *tok;
            if (!CHECKF(count < max, "%s: too many cases", path)) break;
            c = &cases[count++];
            c->h = nnopt_defaults(kind);
            c->steps = 0;
            tok = strtok(line + 5, " \n");
            snprintf(c->label, sizeof c->label, "%s", tok ? tok : "?");
            while ((tok = strtok(NULL, " \n")) != NULL) {
                char *eq = strchr(tok, '=');
                if (!CHECKF(eq != NULL, "%s: bad parameter %s", path, tok)) continue;
                *eq = '\0';
                CHECKF(set_hparam(&c->h, tok, eq + 1), "%s: unknown parameter %s", path, tok);
            }
        } else if (strncmp(line, "step", 4) == 0 && count > 0) {
            golden_case *c = &cases[count - 1];
            char *end;
            long step = strtol(line + 4, &end, 10);
            float *dst = step == 1 ? c->after1 : c->after_last;
            if (step != 1) c->steps = (int)step;
            CHECKF(parse_floats(end, dst, GOLDEN_N), "%s: short data line in case %s", path, c->label);
        }
    }
    fclose(f);
    CHECKF(count > 0, "%s: no cases", path);
    return count;
}

static void check_close(const float *x, const float *ref, size_t n, const char *what, const char *label)
{
    size_t i;
    double worst = 0;
    size_t worst_i = 0;
    for (i = 0; i < n; i++) {
        double err = fabs((double)x[i] - (double)ref[i]) / (RTOL * fabs((double)ref[i]) + ATOL);
        if (!(err <= worst)) { worst = err; worst_i = i; }   /* NaN counts as worst */
    }
    CHECKF(worst <= 1.0, "%s %s: element %zu is %.9g, reference %.9g (%.3g of the tolerance)",
           label, what, worst_i, (double)x[worst_i], (double)ref[worst_i], worst);
}

/* Every case of one golden file, on the current path, at n = 301 with unaligned pointers. */
static void check_golden_file(const char *file, nnopt_kind kind)
{
    static golden_case cases[GOLDEN_MAX_CASES];
    int count = golden_load(file, kind, cases, GOLDEN_MAX_CASES), c;
    float *p = th_alloc_floats(GOLDEN_N, 1), *g = th_alloc_floats(GOLDEN_N, 3);
    float after1[GOLDEN_N];
    for (c = 0; c < count; c++) {
        nnopt_status s = run_quadratic(&cases[c].h, p, g, GOLDEN_N, cases[c].steps, after1);
        if (!CHECKF(s == NNOPT_OK, "%s: %s", cases[c].label, nnopt_status_str(s))) continue;
        CHECKF(cases[c].steps > 1, "%s: no final step recorded", cases[c].label);
        check_close(after1, cases[c].after1, GOLDEN_N, "after step 1", cases[c].label);
        check_close(p, cases[c].after_last, GOLDEN_N, "after the last step", cases[c].label);
    }
    th_free_floats(p, 1);
    th_free_floats(g, 3);
}

/* Every case of a golden file on every path, at every test length, with unaligned pointers:
   the parameters must agree bit for bit with the portable path. */
static void check_paths_identical(const char *file, nnopt_kind kind, int steps)
{
    static const size_t lengths[] = { 0, 1, 7, 8, 15, 16, 17, 63, 1000, 100003 };
    static golden_case cases[GOLDEN_MAX_CASES];
    int count = golden_load(file, kind, cases, GOLDEN_MAX_CASES), c;
    nnopt_isa initial = nnopt_isa_get(), isa;
    size_t L;
    for (L = 0; L < sizeof lengths / sizeof lengths[0]; L++) {
        size_t n = lengths[L];
        float *ref = th_alloc_floats(n, 0), *p = th_alloc_floats(n, 1), *g = th_alloc_floats(n, 3);
        for (c = 0; c < count; c++) {
            char what[128];
            nnopt_isa_set(NNOPT_ISA_SCALAR);
            CHECK(run_quadratic(&cases[c].h, ref, g, n, steps, NULL) == NNOPT_OK);
            for (isa = NNOPT_ISA_AVX2; isa <= nnopt_isa_best(); isa = (nnopt_isa)(isa + 1)) {
                nnopt_isa_set(isa);
                CHECK(run_quadratic(&cases[c].h, p, g, n, steps, NULL) == NNOPT_OK);
                snprintf(what, sizeof what, "%s %s n=%zu %s vs scalar", file, cases[c].label, n,
                         nnopt_isa_name(isa));
                th_same_bits(p, ref, n, what);
            }
        }
        th_free_floats(ref, 0); th_free_floats(p, 1); th_free_floats(g, 3);
    }
    nnopt_isa_set(initial);
}

/* ---- SGD ----------------------------------------------------------------------------- */

static void test_sgd_golden(void) { check_golden_file("sgd.txt", NNOPT_SGD); }
static void test_sgd_paths_identical(void) { check_paths_identical("sgd.txt", NNOPT_SGD, 20); }

static void test_sgd_defaults(void)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
    CHECK(h.kind == NNOPT_SGD);
    CHECK(h.lr == 1e-3);
    CHECK(h.momentum == 0 && h.dampening == 0 && h.nesterov == 0);
    CHECK(h.weight_decay == 0 && h.decoupled_weight_decay == 0 && h.maximize == 0);
    CHECK(h.nonfinite_guard == 0);
    CHECK(strcmp(nnopt_kind_name(NNOPT_SGD), "sgd") == 0);
    CHECK(strcmp(nnopt_kind_name(NNOPT_KIND_COUNT), "unknown") == 0);
}

/* The first momentum step copies the gradient into the buffer, undamped (torch semantics):
   p1 = p0 - lr*g exactly; the second step then damps: b = mu*g1 + (1-d)*g2. */
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

static void test_sgd_invalid_hparams(void)
{
    nnopt_hparams base = nnopt_defaults(NNOPT_SGD), h;
    double *fields[] = { &h.lr, &h.weight_decay, &h.momentum, &h.dampening, &h.beta1, &h.beta2,
                         &h.eps, &h.alpha, &h.rho, &h.lr_decay, &h.initial_accumulator_value,
                         &h.momentum_decay };
    const double bad_values[] = { NAN, INFINITY, -INFINITY };
    size_t f, v;
    nnopt_optimizer *opt;

    CHECK(nnopt_create(NULL, 10) == NULL);
    h = base; h.lr = -1e-3;                       CHECK(nnopt_create(&h, 10) == NULL);
    h = base; h.weight_decay = -0.1;              CHECK(nnopt_create(&h, 10) == NULL);
    h = base; h.momentum = -0.5;                  CHECK(nnopt_create(&h, 10) == NULL);
    h = base; h.nesterov = 1;                     CHECK(nnopt_create(&h, 10) == NULL);
    h = base; h.nesterov = 1; h.momentum = 0.9; h.dampening = 0.1;
    CHECK(nnopt_create(&h, 10) == NULL);
    h = base; h.kind = NNOPT_KIND_COUNT;          CHECK(nnopt_create(&h, 10) == NULL);
    h = base; h.kind = (nnopt_kind)-1;            CHECK(nnopt_create(&h, 10) == NULL);
    for (f = 0; f < sizeof fields / sizeof fields[0]; f++)
        for (v = 0; v < 3; v++) {
            h = base;
            *fields[f] = bad_values[v];
            CHECKF(nnopt_create(&h, 10) == NULL, "field %zu = %g accepted", f, bad_values[v]);
        }
    /* State sizes that overflow. */
    h = base; h.momentum = 0.9;
    CHECK(nnopt_create(&h, SIZE_MAX) == NULL);
    CHECK(nnopt_create(&h, SIZE_MAX / 4) == NULL);
    h = base;
    CHECK(nnopt_create(&h, SIZE_MAX) == NULL);
    /* The valid edges are accepted. */
    h = base; h.lr = 0; h.nesterov = 1; h.momentum = 0.9;
    opt = nnopt_create(&h, 10);
    CHECK(opt != NULL);
    nnopt_destroy(opt);
    nnopt_destroy(NULL);
}

/* Bad calls return NNOPT_ERR_INVALID and change neither the parameters nor the state: a
   later good step gives exactly what a fresh optimizer's first... second step gives. */
static void test_sgd_invalid_step_writes_nothing(void)
{
    enum { N = 37 };
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
    nnopt_optimizer *opt, *ref;
    float *buf = th_alloc_floats(3 * N, 0), *p = buf, *g = buf + N, *saved = buf + 2 * N;
    float expect[N];
    int i;
    h.lr = 0.1; h.momentum = 0.9;
    opt = nnopt_create(&h, N);
    ref = nnopt_create(&h, N);
    if (!CHECK(opt && ref)) return;
    for (i = 0; i < N; i++) { p[i] = (float)i * 0.5f; g[i] = 1.0f - (float)i * 0.25f; }
    CHECK(nnopt_step(opt, p, g) == NNOPT_OK);
    memcpy(saved, p, sizeof expect);

    CHECK(nnopt_step(NULL, p, g) == NNOPT_ERR_INVALID);
    CHECK(nnopt_step(opt, NULL, g) == NNOPT_ERR_INVALID);
    CHECK(nnopt_step(opt, p, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_step(opt, p, p) == NNOPT_ERR_INVALID);              /* aliasing */
    CHECK(nnopt_step(opt, p + 1, p) == NNOPT_ERR_INVALID);          /* partial overlap */
    CHECK(nnopt_step(opt, g, g + N - 1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_step(opt, (float *)((char *)p + 1), g) == NNOPT_ERR_INVALID);   /* misaligned */
    CHECK(nnopt_step(opt, p, (const float *)((char *)g + 2)) == NNOPT_ERR_INVALID);
    CHECK(nnopt_set_lr(opt, -1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_set_lr(opt, NAN) == NNOPT_ERR_INVALID);
    CHECK(nnopt_set_lr(NULL, 0.1) == NNOPT_ERR_INVALID);
    th_same_bits(p, saved, N, "parameters after refused calls");
    CHECK(nnopt_step_count(opt) == 1);

    /* Same two steps on a fresh optimizer: identical bits, so the state was untouched. */
    CHECK(nnopt_step(opt, p, g) == NNOPT_OK);
    for (i = 0; i < N; i++) expect[i] = (float)i * 0.5f;
    CHECK(nnopt_step(ref, expect, g) == NNOPT_OK);
    CHECK(nnopt_step(ref, expect, g) == NNOPT_OK);
    th_same_bits(p, expect, N, "parameters after the next good step");
    nnopt_destroy(opt);
    nnopt_destroy(ref);
    th_free_floats(buf, 0);
}

static void test_sgd_zero_length(void)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
    nnopt_optimizer *opt;
    float x = 3.0f;
    h.momentum = 0.9;
    opt = nnopt_create(&h, 0);
    if (!CHECK(opt != NULL)) return;
    CHECK(nnopt_step(opt, NULL, NULL) == NNOPT_OK);
    CHECK(nnopt_step(opt, &x, &x) == NNOPT_OK);   /* nothing to read or write */
    CHECK(x == 3.0f);
    CHECK(nnopt_step_count(opt) == 2);
    nnopt_destroy(opt);
}

/* With the guard on, a gradient holding NaN or +-Inf anywhere (first element, middle, the
   vector tail) is refused and nothing changes; without it the step goes through. */
static void test_nonfinite_guard(void)
{
    static const size_t lengths[] = { 1, 7, 8, 15, 16, 17, 63, 1000 };
    const float bad[] = { NAN, INFINITY, -INFINITY };
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
    size_t L, where, b;
    h.momentum = 0.9; h.lr = 0.1; h.nonfinite_guard = 1;
    for (L = 0; L < sizeof lengths / sizeof lengths[0]; L++) {
        size_t n = lengths[L], i;
        float *p = th_alloc_floats(n, 1), *g = th_alloc_floats(n, 2), *saved = th_alloc_floats(n, 0);
        nnopt_optimizer *opt = nnopt_create(&h, n);
        if (!CHECK(opt != NULL)) continue;
        for (i = 0; i < n; i++) { p[i] = (float)i; g[i] = 0.5f; }
        CHECK(nnopt_step(opt, p, g) == NNOPT_OK);
        memcpy(saved, p, n * sizeof(float));
        for (where = 0; where < 3; where++) {
            size_t at = where == 0 ? 0 : where == 1 ? n / 2 : n - 1;
            for (b = 0; b < 3; b++) {
                g[at] = bad[b];
                CHECKF(nnopt_step(opt, p, g) == NNOPT_ERR_NONFINITE, "n=%zu at %zu", n, at);
                g[at] = 0.5f;
            }
        }
        th_same_bits(p, saved, n, "parameters after refused steps");
        CHECK(nnopt_step_count(opt) == 1);
        CHECK(nnopt_step(opt, p, g) == NNOPT_OK);
        nnopt_destroy(opt);
        th_free_floats(p, 1); th_free_floats(g, 2); th_free_floats(saved, 0);
    }
    {   /* guard off: NaN goes through, as in torch */
        float p1[3] = { 1, 2, 3 }, g1[3] = { 0, NAN, 0 };
        nnopt_optimizer *opt;
        h.nonfinite_guard = 0;
        opt = nnopt_create(&h, 3);
        CHECK(nnopt_step(opt, p1, g1) == NNOPT_OK);
        CHECK(p1[1] != p1[1] && p1[0] == 1.0f);
        nnopt_destroy(opt);
    }
}

void register_optim_tests(void)
{
    th_register("sgd_defaults", test_sgd_defaults, TH_ONCE);
    th_register("sgd_golden_torch", test_sgd_golden, TH_EACH_ISA);
    th_register("sgd_paths_identical", test_sgd_paths_identical, TH_ONCE);
    th_register("sgd_first_step_copies_gradient", test_sgd_first_step_copies_gradient, TH_EACH_ISA);
    th_register("sgd_invalid_hparams", test_sgd_invalid_hparams, TH_ONCE);
    th_register("sgd_invalid_step_writes_nothing", test_sgd_invalid_step_writes_nothing, TH_EACH_ISA);
    th_register("sgd_zero_length", test_sgd_zero_length, TH_EACH_ISA);
    th_register("nonfinite_guard", test_nonfinite_guard, TH_EACH_ISA);
}
