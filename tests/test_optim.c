/* Optimizer conformance: PyTorch goldens for every torch optimizer, double-precision
   references for the others, bit identity of every path at every length, the defaults,
   and refusal of invalid hyper-parameters. */
#include "harness.h"
#include "quadratic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-4   /* |x - ref| <= RTOL*|ref| + ATOL */
#define ATOL 1e-6
#define N_GOLDEN 301
#define MAX_CASES 32

typedef struct {
    char label[64];
    nnopt_hparams h;
    int steps;
    int has_avg;
    float after1[N_GOLDEN], after_last[N_GOLDEN], avg_last[N_GOLDEN];
} golden_case;

/* ---- Golden files: "case LABEL key=value ...", then "step1 v...", "stepN v...", and for
   ASGD "avgN v..." (the averaged parameters). ------------------------------------------ */

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
        { "eta_minus", &h->eta_minus, NULL }, { "eta_plus", &h->eta_plus, NULL },
        { "step_size_min", &h->step_size_min, NULL }, { "step_size_max", &h->step_size_max, NULL },
        { "lambd", &h->lambd, NULL }, { "t0", &h->t0, NULL },
        { "average", NULL, &h->average }, { "average_start", NULL, &h->average_start },
        { "average_decay", &h->average_decay, NULL },
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

/* Loads every case of tests/golden/<kind name>.txt; returns the count (0 on error, reported). */
static int golden_load(nnopt_kind kind, golden_case *cases, int max)
{
    static char line[1 << 16];
    char path[512];
    int count = 0;
    FILE *f;
    snprintf(path, sizeof path, "%s/%s.txt", th_golden_dir(), nnopt_kind_name(kind));
    f = fopen(path, "r");
    if (!CHECKF(f != NULL, "cannot open %s", path)) return 0;
    while (fgets(line, sizeof line, f)) {
        golden_case *c = count ? &cases[count - 1] : NULL;
        if (strncmp(line, "case ", 5) == 0) {
            char *tok;
            if (!CHECKF(count < max, "%s: too many cases", path)) break;
            c = &cases[count++];
            c->h = nnopt_defaults(kind);
            c->steps = 0;
            c->has_avg = 0;
            tok = strtok(line + 5, " \n");
            snprintf(c->label, sizeof c->label, "%s/%s", nnopt_kind_name(kind), tok ? tok : "?");
            while ((tok = strtok(NULL, " \n")) != NULL) {
                char *eq = strchr(tok, '=');
                if (!CHECKF(eq != NULL, "%s: bad parameter %s", path, tok)) continue;
                *eq = '\0';
                CHECKF(set_hparam(&c->h, tok, eq + 1), "%s: unknown parameter %s", path, tok);
            }
        } else if (c && (strncmp(line, "step", 4) == 0 || strncmp(line, "avg", 3) == 0)) {
            int avg = line[0] == 'a';
            char *end;
            long step = strtol(line + (avg ? 3 : 4), &end, 10);
            float *dst = avg ? c->avg_last : step == 1 ? c->after1 : c->after_last;
            if (avg) c->has_avg = 1;
            else if (step != 1) c->steps = (int)step;
            CHECKF(th_parse_floats(end, dst, N_GOLDEN), "%s: short data line in case %s", path, c->label);
        }
    }
    fclose(f);
    CHECKF(count > 0, "%s: no cases", path);
    return count;
}

static void check_close(const float *x, const float *ref, size_t n, const char *what, const char *label)
{
    size_t i, worst_i = 0;
    double worst = 0;
    for (i = 0; i < n; i++) {
        double err = fabs((double)x[i] - (double)ref[i]) / (RTOL * fabs((double)ref[i]) + ATOL);
        if (!(err <= worst)) { worst = err; worst_i = i; }   /* NaN counts as worst */
    }
    CHECKF(worst <= 1.0, "%s %s: element %zu is %.9g, reference %.9g (%.3g of the tolerance)",
           label, what, worst_i, (double)x[worst_i], (double)ref[worst_i], worst);
}

/* Every case of a kind's golden file on the current path, at n = 301, unaligned pointers. */
static void check_golden(nnopt_kind kind)
{
    static golden_case cases[MAX_CASES];
    int count = golden_load(kind, cases, MAX_CASES), c;
    float *p = th_alloc_floats(N_GOLDEN, 1), *g = th_alloc_floats(N_GOLDEN, 3);
    float after1[N_GOLDEN];
    for (c = 0; c < count; c++) {
        const golden_case *gc = &cases[c];
        nnopt_optimizer *opt = nnopt_create(&gc->h, N_GOLDEN);
        int t;
        size_t i;
        if (!CHECKF(opt != NULL, "%s %s: not created", nnopt_kind_name(kind), gc->label)) continue;
        CHECKF(gc->steps > 1, "%s: no final step recorded", gc->label);
        for (i = 0; i < N_GOLDEN; i++) p[i] = (float)quadratic_start(i);
        for (t = 1; t <= gc->steps; t++) {
            quadratic_grad(g, p, N_GOLDEN, (uint32_t)t);
            CHECK(nnopt_step(opt, p, g) == NNOPT_OK);
            if (t == 1) memcpy(after1, p, sizeof after1);
        }
        check_close(after1, gc->after1, N_GOLDEN, "after step 1", gc->label);
        check_close(p, gc->after_last, N_GOLDEN, "after the last step", gc->label);
        if (gc->has_avg) {
            const float *avg = nnopt_averaged_params(opt);
            if (CHECK(avg != NULL))
                check_close(avg, gc->avg_last, N_GOLDEN, "averaged parameters", gc->label);
        }
        nnopt_destroy(opt);
    }
    th_free_floats(p, 1);
    th_free_floats(g, 3);
}

/* Whether a kind has torch goldens (tests/golden/<kind name>.txt). */
static int golden_exists(nnopt_kind kind)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s.txt", th_golden_dir(), nnopt_kind_name(kind));
    f = fopen(path, "r");
    if (f) fclose(f);
    return f != NULL;
}

/* Every kind torch has, against its goldens. */
static void test_golden_torch(void)
{
    int kind, checked = 0;
    for (kind = 0; kind < NNOPT_KIND_COUNT; kind++)
        if (golden_exists((nnopt_kind)kind)) { check_golden((nnopt_kind)kind); checked++; }
    CHECKF(checked == 11, "%d kinds with torch goldens (torch 1.13 has 11)", checked);
}

/* ---- Double-precision references for the optimizers torch does not have ---------------
   Written from the published algorithms (Lion: google/automl; AdaBelief: adabelief-pytorch
   0.2; Yogi, LAMB, LARS: optax), run in double on the same quadratic. */

typedef struct { const char *label; nnopt_hparams h; } ref_case;

static void reference_run(const nnopt_hparams *h, double *p, size_t n, int steps)
{
    double *m = (double *)calloc(n, sizeof(double)), *v = (double *)calloc(n, sizeof(double));
    double *vmax = (double *)calloc(n, sizeof(double)), *u = (double *)calloc(n, sizeof(double));
    const double b1 = h->beta1, b2 = h->beta2, lr = h->lr, wd = h->weight_decay;
    size_t i;
    int t;
    for (i = 0; i < n; i++) {
        p[i] = quadratic_start(i);
        if (h->kind == NNOPT_YOGI) m[i] = v[i] = h->initial_accumulator_value;
    }
    for (t = 1; t <= steps; t++) {
        double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t), pn = 0, un = 0, ratio;
        for (i = 0; i < n; i++) {
            double g = quadratic_curvature(i) * (p[i] - quadratic_center(i)) + quadratic_noise((uint32_t)t, i);
            if (h->maximize) g = -g;
            switch (h->kind) {
            case NNOPT_LION: {
                double c;
                if (h->decoupled_weight_decay) p[i] *= 1 - lr * wd; else g += wd * p[i];
                c = b1 * m[i] + (1 - b1) * g;
                p[i] -= lr * (c > 0 ? 1 : c < 0 ? -1 : 0);
                m[i] = b2 * m[i] + (1 - b2) * g;
                break;
            }
            case NNOPT_ADABELIEF: {
                double d, n_inf = 2 / (1 - b2) - 1, n_t = n_inf - 2 * t * pow(b2, t) / bc2;
                if (h->decoupled_weight_decay) p[i] *= 1 - lr * wd; else g += wd * p[i];
                m[i] = b1 * m[i] + (1 - b1) * g;
                d = g - m[i];
                v[i] = b2 * v[i] + (1 - b2) * d * d + h->eps;
                if (h->amsgrad) vmax[i] = vmax[i] > v[i] ? vmax[i] : v[i];
                if (!h->rectify) {
                    double s = h->amsgrad ? vmax[i] : v[i];
                    p[i] -= lr / bc1 * m[i] / (sqrt(s) / sqrt(bc2) + h->eps);
                } else if (n_t >= 5) {
                    double step = sqrt(bc2 * (n_t - 4) / (n_inf - 4) * (n_t - 2) / n_t * n_inf / (n_inf - 2)) / bc1;
                    p[i] -= lr * step * m[i] / (sqrt(v[i]) + h->eps);
                } else {
                    p[i] -= lr / bc1 * m[i];
                }
                break;
            }
            case NNOPT_YOGI: {
                double g2;
                if (h->decoupled_weight_decay) p[i] *= 1 - lr * wd; else g += wd * p[i];
                g2 = g * g;
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] -= (1 - b2) * (v[i] - g2 > 0 ? 1 : v[i] - g2 < 0 ? -1 : 0) * g2;
                p[i] -= lr * (m[i] / bc1) / (sqrt(v[i] / bc2) + h->eps);
                break;
            }
            case NNOPT_LAMB:
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                u[i] = (m[i] / bc1) / (sqrt(v[i] / bc2) + h->eps) + wd * p[i];
                pn += p[i] * p[i]; un += u[i] * u[i];
                break;
            case NNOPT_LARS:
                u[i] = g + wd * p[i];
                pn += p[i] * p[i]; un += u[i] * u[i];
                break;
            default:
                break;
            }
        }
        pn = sqrt(pn); un = sqrt(un);
        if (h->kind == NNOPT_LAMB) {
            ratio = (pn == 0 || un == 0) ? 1 : pn / un;
            for (i = 0; i < n; i++) p[i] -= lr * ratio * u[i];
        } else if (h->kind == NNOPT_LARS) {
            ratio = (pn == 0 || un == 0) ? 1 : h->trust_coefficient * pn / (un + h->eps);
            for (i = 0; i < n; i++) {
                double step = -lr * ratio * u[i];
                m[i] = step + h->momentum * m[i];
                p[i] += h->nesterov ? step + h->momentum * m[i] : m[i];
            }
        }
    }
    free(m); free(v); free(vmax); free(u);
}

/* The cases checked against the references and across paths. */
static int reference_cases(ref_case *out)
{
    int n = 0;
#define CASE(name, kind_, ...) do { nnopt_hparams h_ = nnopt_defaults(kind_); \
        __VA_ARGS__; out[n].label = name; out[n].h = h_; n++; } while (0)
    CASE("lion", NNOPT_LION, h_.lr = 1e-3);
    CASE("lion_wd_betas", NNOPT_LION, h_.lr = 2e-3; h_.weight_decay = 0.1; h_.beta1 = 0.95; h_.beta2 = 0.98);
    CASE("lion_coupled_maximize", NNOPT_LION, h_.lr = 1e-3; h_.weight_decay = 0.05; h_.decoupled_weight_decay = 0; h_.maximize = 1);
    CASE("adabelief", NNOPT_ADABELIEF, h_.lr = 1e-2);
    CASE("adabelief_plain_wd", NNOPT_ADABELIEF, h_.lr = 1e-2; h_.rectify = 0; h_.eps = 1e-8; h_.weight_decay = 0.1);
    CASE("adabelief_amsgrad_coupled", NNOPT_ADABELIEF, h_.lr = 1e-2; h_.rectify = 0; h_.amsgrad = 1; h_.weight_decay = 0.1; h_.decoupled_weight_decay = 0);
    CASE("adabelief_rectify_amsgrad_maximize", NNOPT_ADABELIEF, h_.lr = 1e-2; h_.amsgrad = 1; h_.maximize = 1; h_.beta2 = 0.99);
    CASE("yogi", NNOPT_YOGI, (void)0);
    CASE("yogi_wd_large_eps", NNOPT_YOGI, h_.lr = 0.05; h_.weight_decay = 0.1; h_.eps = 0.1);
    CASE("yogi_maximize", NNOPT_YOGI, h_.maximize = 1; h_.beta1 = 0.8);
    CASE("lamb", NNOPT_LAMB, h_.lr = 1e-2);
    CASE("lamb_wd", NNOPT_LAMB, h_.lr = 1e-2; h_.weight_decay = 0.1);
    CASE("lamb_large_eps_maximize", NNOPT_LAMB, h_.lr = 1e-2; h_.eps = 0.1; h_.maximize = 1);
    CASE("lars", NNOPT_LARS, (void)0);
    CASE("lars_nesterov_wd", NNOPT_LARS, h_.lr = 5.0; h_.nesterov = 1; h_.weight_decay = 0.1);
    CASE("lars_no_momentum_eps", NNOPT_LARS, h_.lr = 10.0; h_.momentum = 0; h_.eps = 1e-3);
    CASE("lars_maximize", NNOPT_LARS, h_.lr = 2.0; h_.maximize = 1; h_.trust_coefficient = 0.01);
#undef CASE
    return n;
}

static void test_reference_beyond_torch(void)
{
    ref_case cases[32];
    int count = reference_cases(cases), c;
    float *p = th_alloc_floats(N_GOLDEN, 1), *g = th_alloc_floats(N_GOLDEN, 2);
    double ref[N_GOLDEN];
    float ref_f[N_GOLDEN];
    size_t i;
    for (c = 0; c < count; c++) {
        CHECKF(quadratic_run(&cases[c].h, p, g, N_GOLDEN, 60, NULL) == NNOPT_OK, "%s", cases[c].label);
        reference_run(&cases[c].h, ref, N_GOLDEN, 60);
        for (i = 0; i < N_GOLDEN; i++) ref_f[i] = (float)ref[i];
        check_close(p, ref_f, N_GOLDEN, "after 60 steps", cases[c].label);
    }
    th_free_floats(p, 1);
    th_free_floats(g, 2);
}

/* Every kind is checked against a reference: torch's goldens or a case of the
   double-precision references above. */
static void test_every_kind_has_a_reference(void)
{
    ref_case cases[32];
    int count = reference_cases(cases), kind, c;
    for (kind = 0; kind < NNOPT_KIND_COUNT; kind++) {
        int found = golden_exists((nnopt_kind)kind);
        for (c = 0; c < count && !found; c++) found = cases[c].h.kind == (nnopt_kind)kind;
        CHECKF(found, "%s has neither torch goldens nor a reference case", nnopt_kind_name((nnopt_kind)kind));
    }
}

/* ---- Bit identity across paths ---------------------------------------------------------
   Every golden and reference case, at every test length, with unaligned pointers: each path
   must give exactly the portable path's bits. */
static void check_paths(const nnopt_hparams *h, const char *label, float *ref, float *p, float *g)
{
    static const size_t lengths[] = { 0, 1, 7, 8, 15, 16, 17, 63, 1000, 100003 };
    nnopt_isa isa;
    size_t L;
    for (L = 0; L < sizeof lengths / sizeof lengths[0]; L++) {
        size_t n = lengths[L];
        int steps = n > 1000 ? 3 : 20;
        char what[160];
        nnopt_isa_set(NNOPT_ISA_SCALAR);
        CHECKF(quadratic_run(h, ref, g, n, steps, NULL) == NNOPT_OK, "%s", label);
        for (isa = NNOPT_ISA_AVX2; isa <= nnopt_isa_best(); isa = (nnopt_isa)(isa + 1)) {
            nnopt_isa_set(isa);
            CHECKF(quadratic_run(h, p, g, n, steps, NULL) == NNOPT_OK, "%s", label);
            snprintf(what, sizeof what, "%s %s n=%zu %s vs scalar", nnopt_kind_name(h->kind), label, n,
                     nnopt_isa_name(isa));
            th_same_bits(p, ref, n, what);
        }
    }
}

static void test_paths_identical(void)
{
    static golden_case cases[MAX_CASES];
    ref_case refs[32];
    nnopt_isa initial = nnopt_isa_get();
    float *ref = th_alloc_floats(100003, 0), *p = th_alloc_floats(100003, 1), *g = th_alloc_floats(100003, 3);
    int kind, c, count;
    if (nnopt_isa_best() == NNOPT_ISA_SCALAR) {   /* one path: nothing to compare */
        th_free_floats(ref, 0); th_free_floats(p, 1); th_free_floats(g, 3);
        return;
    }
    for (kind = 0; kind < NNOPT_KIND_COUNT; kind++) {
        count = golden_exists((nnopt_kind)kind) ? golden_load((nnopt_kind)kind, cases, MAX_CASES) : 0;
        for (c = 0; c < count; c++) check_paths(&cases[c].h, cases[c].label, ref, p, g);
    }
    count = reference_cases(refs);
    for (c = 0; c < count; c++) check_paths(&refs[c].h, refs[c].label, ref, p, g);
    {   /* Lookahead and averaging around other kinds */
        nnopt_hparams h = nnopt_defaults(NNOPT_ADAM);
        h.lr = 0.01; h.lookahead_k = 3; h.lookahead_alpha = 0.6; h.average = NNOPT_AVERAGE_EMA;
        h.average_warmup = 1;
        check_paths(&h, "lookahead_ema", ref, p, g);
        h = nnopt_defaults(NNOPT_LAMB);
        h.lr = 0.01; h.lookahead_k = 4; h.average = NNOPT_AVERAGE_SWA; h.average_start = 2;
        check_paths(&h, "lookahead_swa", ref, p, g);
    }
    nnopt_isa_set(initial);
    th_free_floats(ref, 0); th_free_floats(p, 1); th_free_floats(g, 3);
}

/* ---- Defaults ----------------------------------------------------------------------- */

static void test_defaults(void)
{
    static const struct { nnopt_kind kind; const char *name; double lr, beta1, beta2, eps, weight_decay; int decoupled; } table[] = {
        { NNOPT_SGD, "sgd", 1e-3, 0.9, 0.999, 1e-8, 0, 0 },
        { NNOPT_ADAM, "adam", 1e-3, 0.9, 0.999, 1e-8, 0, 0 },
        { NNOPT_ADAMW, "adamw", 1e-3, 0.9, 0.999, 1e-8, 1e-2, 1 },
        { NNOPT_ADAGRAD, "adagrad", 1e-2, 0.9, 0.999, 1e-10, 0, 0 },
        { NNOPT_RMSPROP, "rmsprop", 1e-2, 0.9, 0.999, 1e-8, 0, 0 },
        { NNOPT_ADADELTA, "adadelta", 1.0, 0.9, 0.999, 1e-6, 0, 0 },
        { NNOPT_ADAMAX, "adamax", 2e-3, 0.9, 0.999, 1e-8, 0, 0 },
        { NNOPT_NADAM, "nadam", 2e-3, 0.9, 0.999, 1e-8, 0, 0 },
        { NNOPT_RADAM, "radam", 1e-3, 0.9, 0.999, 1e-8, 0, 0 },
        { NNOPT_RPROP, "rprop", 1e-2, 0.9, 0.999, 1e-8, 0, 0 },
        { NNOPT_ASGD, "asgd", 1e-2, 0.9, 0.999, 1e-8, 0, 0 },
        { NNOPT_LION, "lion", 1e-4, 0.9, 0.99, 1e-8, 0, 1 },
        { NNOPT_ADABELIEF, "adabelief", 1e-3, 0.9, 0.999, 1e-16, 0, 1 },
        { NNOPT_YOGI, "yogi", 1e-2, 0.9, 0.999, 1e-3, 0, 0 },
        { NNOPT_LAMB, "lamb", 1e-3, 0.9, 0.999, 1e-6, 0, 0 },
        { NNOPT_LARS, "lars", 1.0, 0.9, 0.999, 0.0, 0, 0 },
    };
    size_t i;
    nnopt_hparams h;
    CHECK(sizeof table / sizeof table[0] == NNOPT_KIND_COUNT);
    for (i = 0; i < sizeof table / sizeof table[0]; i++) {
        nnopt_optimizer *opt;
        h = nnopt_defaults(table[i].kind);
        CHECKF(h.kind == table[i].kind && strcmp(nnopt_kind_name(h.kind), table[i].name) == 0, "%s", table[i].name);
        CHECKF(h.lr == table[i].lr, "%s lr %g", table[i].name, h.lr);
        CHECKF(h.beta1 == table[i].beta1 && h.beta2 == table[i].beta2, "%s betas", table[i].name);
        CHECKF(h.eps == table[i].eps, "%s eps %g", table[i].name, h.eps);
        CHECKF(h.weight_decay == table[i].weight_decay && h.decoupled_weight_decay == table[i].decoupled,
               "%s weight decay", table[i].name);
        CHECKF(h.maximize == 0 && h.nonfinite_guard == 0 && h.amsgrad == 0, "%s flags", table[i].name);
        opt = nnopt_create(&h, 5);
        CHECKF(opt != NULL, "%s defaults are not accepted", table[i].name);
        nnopt_destroy(opt);
    }
    h = nnopt_defaults(NNOPT_SGD);
    CHECK(h.momentum == 0 && h.dampening == 0 && h.nesterov == 0);
    h = nnopt_defaults(NNOPT_ADAGRAD);
    CHECK(h.lr_decay == 0 && h.initial_accumulator_value == 0);
    h = nnopt_defaults(NNOPT_RMSPROP);
    CHECK(h.alpha == 0.99 && h.momentum == 0 && h.centered == 0);
    h = nnopt_defaults(NNOPT_ADADELTA);
    CHECK(h.rho == 0.9);
    h = nnopt_defaults(NNOPT_NADAM);
    CHECK(h.momentum_decay == 4e-3);
    h = nnopt_defaults(NNOPT_RPROP);
    CHECK(h.eta_minus == 0.5 && h.eta_plus == 1.2 && h.step_size_min == 1e-6 && h.step_size_max == 50);
    h = nnopt_defaults(NNOPT_ASGD);
    CHECK(h.lambd == 1e-4 && h.alpha == 0.75 && h.t0 == 1e6);
    h = nnopt_defaults(NNOPT_ADABELIEF);
    CHECK(h.rectify == 1);
    h = nnopt_defaults(NNOPT_YOGI);
    CHECK(h.initial_accumulator_value == 1e-6);
    h = nnopt_defaults(NNOPT_LARS);
    CHECK(h.momentum == 0.9 && h.trust_coefficient == 1e-3 && h.nesterov == 0);
    CHECK(strcmp(nnopt_kind_name(NNOPT_KIND_COUNT), "unknown") == 0);
}

/* ---- Invalid hyper-parameters --------------------------------------------------------- */

static void test_invalid_hparams(void)
{
    const double bad_values[] = { NAN, INFINITY, -INFINITY };
    nnopt_hparams h;
    int kind;
    size_t v;
    CHECK(nnopt_create(NULL, 10) == NULL);
    h = nnopt_defaults(NNOPT_SGD); h.kind = NNOPT_KIND_COUNT; CHECK(nnopt_create(&h, 10) == NULL);
    h = nnopt_defaults(NNOPT_SGD); h.kind = (nnopt_kind)-1;   CHECK(nnopt_create(&h, 10) == NULL);
    for (kind = 0; kind < NNOPT_KIND_COUNT; kind++) {
        const nnopt_hparams base = nnopt_defaults((nnopt_kind)kind);
        double *fields[] = { &h.lr, &h.weight_decay, &h.momentum, &h.dampening, &h.beta1, &h.beta2,
                             &h.eps, &h.alpha, &h.rho, &h.lr_decay, &h.initial_accumulator_value,
                             &h.momentum_decay, &h.eta_minus, &h.eta_plus, &h.step_size_min,
                             &h.step_size_max, &h.lambd, &h.t0, &h.trust_coefficient,
                             &h.average_decay, &h.lookahead_alpha };
        size_t f;
        const char *name = nnopt_kind_name((nnopt_kind)kind);
        for (f = 0; f < sizeof fields / sizeof fields[0]; f++)
            for (v = 0; v < 3; v++) {
                h = base;
                *fields[f] = bad_values[v];
                CHECKF(nnopt_create(&h, 10) == NULL, "%s: field %zu = %g accepted", name, f, bad_values[v]);
            }
        h = base; h.lr = -1e-3;         CHECKF(nnopt_create(&h, 10) == NULL, "%s: lr < 0", name);
        h = base; h.weight_decay = -1;  CHECKF(nnopt_create(&h, 10) == NULL, "%s: weight_decay < 0", name);
        h = base; h.eps = -1e-8;        CHECKF(nnopt_create(&h, 10) == NULL, "%s: eps < 0", name);
    }
#define REFUSED(kind_, ...) do { h = nnopt_defaults(kind_); __VA_ARGS__; \
        CHECKF(nnopt_create(&h, 10) == NULL, "accepted: %s", #__VA_ARGS__); } while (0)
    REFUSED(NNOPT_SGD, h.momentum = -0.5);
    REFUSED(NNOPT_SGD, h.nesterov = 1);
    REFUSED(NNOPT_SGD, h.nesterov = 1; h.momentum = 0.9; h.dampening = 0.1);
    REFUSED(NNOPT_ADAM, h.beta1 = 1.0);
    REFUSED(NNOPT_ADAM, h.beta2 = -0.1);
    REFUSED(NNOPT_ADAMW, h.beta2 = 1.5);
    REFUSED(NNOPT_NADAM, h.momentum_decay = -1);
    REFUSED(NNOPT_RADAM, h.beta1 = 1.0);
    REFUSED(NNOPT_ADAMAX, h.beta2 = 1.0);
    REFUSED(NNOPT_ADAGRAD, h.lr_decay = -0.1);
    REFUSED(NNOPT_ADAGRAD, h.initial_accumulator_value = -0.1);
    REFUSED(NNOPT_RMSPROP, h.alpha = -0.1);
    REFUSED(NNOPT_RMSPROP, h.momentum = -0.1);
    REFUSED(NNOPT_ADADELTA, h.rho = 1.1);
    REFUSED(NNOPT_ADADELTA, h.rho = -0.1);
    REFUSED(NNOPT_RPROP, h.eta_minus = 1.0);
    REFUSED(NNOPT_RPROP, h.eta_minus = 0.0);
    REFUSED(NNOPT_RPROP, h.eta_plus = 1.0);
    REFUSED(NNOPT_RPROP, h.step_size_min = 100);
    REFUSED(NNOPT_RPROP, h.step_size_min = -1);
    REFUSED(NNOPT_ASGD, h.lambd = -1);
    REFUSED(NNOPT_ASGD, h.t0 = -1);
    REFUSED(NNOPT_LION, h.beta1 = 1.0);
    REFUSED(NNOPT_ADABELIEF, h.beta2 = 1.0);
    REFUSED(NNOPT_YOGI, h.initial_accumulator_value = -1);
    REFUSED(NNOPT_LAMB, h.decoupled_weight_decay = 1);
    REFUSED(NNOPT_LARS, h.decoupled_weight_decay = 1);
    REFUSED(NNOPT_LARS, h.trust_coefficient = -1);
    REFUSED(NNOPT_LARS, h.momentum = 0; h.nesterov = 1);
#undef REFUSED
    /* The valid edges are accepted. */
    h = nnopt_defaults(NNOPT_ADADELTA); h.rho = 1.0;
    {
        nnopt_optimizer *opt = nnopt_create(&h, 10);
        CHECK(opt != NULL);
        nnopt_destroy(opt);
    }
    /* State sizes that overflow. */
    h = nnopt_defaults(NNOPT_ADAM); h.amsgrad = 1;
    CHECK(nnopt_create(&h, SIZE_MAX) == NULL);
    CHECK(nnopt_create(&h, SIZE_MAX / 4) == NULL);
    CHECK(nnopt_create(&h, SIZE_MAX / 12 + 1) == NULL);
    h = nnopt_defaults(NNOPT_SGD);
    CHECK(nnopt_create(&h, SIZE_MAX) == NULL);
}

void register_optim_tests(void)
{
    th_register("defaults", test_defaults, TH_ONCE);
    th_register("invalid_hparams", test_invalid_hparams, TH_ONCE);
    th_register("golden_torch", test_golden_torch, TH_EACH_ISA);
    th_register("every_kind_has_a_reference", test_every_kind_has_a_reference, TH_ONCE);
    th_register("reference_lion_adabelief_yogi_lamb_lars", test_reference_beyond_torch, TH_EACH_ISA);
    th_register("paths_identical_all_optimizers", test_paths_identical, TH_ONCE);
}
