/* Learning-rate schedules against torch 1.13's lr sequences, their bad input, and how they
   drive an optimizer; weight averaging, Lookahead and prediction averaging. */
#include "harness.h"
#include "quadratic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHED_STEPS 300
#define MAX_SCHED_CASES 48

typedef struct {
    char label[64];
    int composition;                     /* 0, 1 sequential, 2 chained */
    nnopt_sched_params p[NNOPT_SCHED_MAX_CHILDREN];
    int count;
    int milestones[NNOPT_SCHED_MAX_CHILDREN];
    double initial_lr;
    int has_metric, has_momentum;
    double metric[SCHED_STEPS], lr[SCHED_STEPS + 1], momentum[SCHED_STEPS + 1];
} sched_case;

static const char *const sched_kind_names[] = {
    "constant", "step", "multistep", "exponential", "inverse_time", "cosine", "cosine_restarts",
    "linear", "polynomial", "one_cycle", "plateau", "swa"
};

static int parse_ints(const char *text, int *out, int max)
{
    int n = 0;
    while (*text && n < max) {
        char *end;
        long v = strtol(text, &end, 10);
        if (end == text) break;
        out[n++] = (int)v;
        text = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* "kind=NAME:key=value:..." into params (or a composition's own milestones). */
static int parse_sched(char *spec, nnopt_sched_params *p, int *composition, int *milestones, int *count)
{
    char *field = strtok(spec, ":");
    int ok = 1;
    for (; field; field = strtok(NULL, ":")) {
        char *eq = strchr(field, '=');
        const char *key = field, *val;
        if (!eq) return 0;
        *eq = '\0';
        val = eq + 1;
#define D(name) else if (strcmp(key, #name) == 0) p->name = strtod(val, NULL)
#define I(name) else if (strcmp(key, #name) == 0) p->name = atoi(val)
        if (strcmp(key, "kind") == 0) {
            size_t k;
            if (strcmp(val, "sequential") == 0) { *composition = 1; continue; }
            if (strcmp(val, "chained") == 0) { *composition = 2; continue; }
            for (k = 0; k < sizeof sched_kind_names / sizeof sched_kind_names[0]; k++)
                if (strcmp(val, sched_kind_names[k]) == 0) *p = nnopt_sched_defaults((nnopt_sched_kind)k);
        } else if (strcmp(key, "milestones") == 0) {
            if (composition && *composition == 1) *count = parse_ints(val, milestones, NNOPT_SCHED_MAX_CHILDREN);
            else p->milestone_count = parse_ints(val, p->milestones, NNOPT_SCHED_MAX_MILESTONES);
        }
        D(gamma); I(step_size); I(T_max); D(eta_min); I(T_0); I(T_mult); D(factor); D(start_factor);
        D(end_factor); D(power); I(total_iters); D(max_lr); I(total_steps); D(pct_start);
        D(div_factor); D(final_div_factor); D(base_momentum); D(max_momentum); I(anneal_linear);
        I(cycle_momentum); I(three_phase); I(mode_max); I(threshold_abs); D(threshold); D(min_lr);
        D(eps); I(patience); I(cooldown); D(swa_lr); I(anneal_epochs);
        else ok = 0;
#undef D
#undef I
    }
    return ok;
}

/* Splits a line at spaces, in place (parse_sched uses strtok, so this cannot). */
static int split_words(char *line, char **words, int max)
{
    int n = 0;
    while (*line && n < max) {
        while (*line == ' ' || *line == '\n') *line++ = '\0';
        if (!*line) break;
        words[n++] = line;
        while (*line && *line != ' ' && *line != '\n') line++;
    }
    return n;
}

static int parse_doubles(char *text, double *out, int count)
{
    int k;
    for (k = 0; k < count; k++) {
        char *end;
        out[k] = strtod(text, &end);
        if (end == text) return 0;
        text = end;
    }
    return 1;
}

static int load_schedules(sched_case *cases, int max)
{
    static char line[1 << 16];
    char path[512];
    int count = 0;
    FILE *f;
    snprintf(path, sizeof path, "%s/schedules.txt", th_golden_dir());
    f = fopen(path, "r");
    if (!CHECKF(f != NULL, "cannot open %s", path)) return 0;
    while (fgets(line, sizeof line, f)) {
        sched_case *c = count ? &cases[count - 1] : NULL;
        if (strncmp(line, "case ", 5) == 0) {
            char *words[3 + NNOPT_SCHED_MAX_CHILDREN];
            int nwords, w, ms = 0;
            if (!CHECKF(count < max, "too many schedule cases")) break;
            c = &cases[count++];
            memset(c, 0, sizeof *c);
            nwords = split_words(line + 5, words, 3 + NNOPT_SCHED_MAX_CHILDREN);
            if (!CHECKF(nwords >= 3, "short case line")) { count--; continue; }
            snprintf(c->label, sizeof c->label, "%s", words[0]);
            c->initial_lr = strtod(strchr(words[1], '=') + 1, NULL);
            CHECKF(parse_sched(words[2], &c->p[0], &c->composition, c->milestones, &ms), "%s", c->label);
            c->count = 1;
            if (c->composition) {
                c->count = 0;
                for (w = 3; w < nwords; w++) {
                    int dummy = 0, unused = 0;
                    CHECKF(strncmp(words[w], "child=", 6) == 0 &&
                           parse_sched(words[w] + 6, &c->p[c->count], &dummy, NULL, &unused), "%s child", c->label);
                    c->count++;
                }
                CHECKF(c->composition != 1 || ms == c->count - 1, "%s milestones", c->label);
            }
        } else if (c && strncmp(line, "metric ", 7) == 0) {
            c->has_metric = parse_doubles(line + 7, c->metric, SCHED_STEPS);
        } else if (c && strncmp(line, "lr ", 3) == 0) {
            CHECKF(parse_doubles(line + 3, c->lr, SCHED_STEPS + 1), "%s lr line", c->label);
        } else if (c && strncmp(line, "momentum ", 9) == 0) {
            c->has_momentum = parse_doubles(line + 9, c->momentum, SCHED_STEPS + 1);
        }
    }
    fclose(f);
    CHECKF(count > 0, "%s: no cases", path);
    return count;
}

static nnopt_status init_case(nnopt_scheduler *s, const sched_case *c)
{
    if (c->composition == 1) return nnopt_sched_init_sequential(s, c->p, c->count, c->milestones, c->initial_lr);
    if (c->composition == 2) return nnopt_sched_init_chained(s, c->p, c->count, c->initial_lr);
    return nnopt_sched_init(s, &c->p[0], c->initial_lr);
}

static int close12(double x, double ref) { return fabs(x - ref) <= 1e-12 * fabs(ref) + 1e-300; }

/* Every schedule, 300 steps: lr (and one-cycle's momentum) within 1e-12 relative of torch. */
static void test_schedules_golden(void)
{
    static sched_case cases[MAX_SCHED_CASES];
    int count = load_schedules(cases, MAX_SCHED_CASES), c, t, kinds_seen[NNOPT_SCHED_KIND_COUNT] = { 0 };
    int compositions_seen[3] = { 0 };
    for (c = 0; c < count; c++) {
        const sched_case *sc = &cases[c];
        nnopt_scheduler s;
        double m;
        int k;
        if (!CHECKF(init_case(&s, sc) == NNOPT_OK, "%s: init", sc->label)) continue;
        for (k = 0; k < sc->count; k++) kinds_seen[sc->p[k].kind]++;
        compositions_seen[sc->composition]++;
        for (t = 0; t <= SCHED_STEPS; t++) {
            if (t > 0) {
                nnopt_status st = sc->has_metric ? nnopt_sched_step_metric(&s, sc->metric[t - 1])
                                                 : nnopt_sched_step(&s);
                if (!CHECKF(st == NNOPT_OK, "%s: step %d refused", sc->label, t)) break;
            }
            if (!CHECKF(close12(nnopt_sched_lr(&s), sc->lr[t]), "%s: step %d lr %.17g, torch %.17g",
                        sc->label, t, nnopt_sched_lr(&s), sc->lr[t]))
                break;
            if (sc->has_momentum &&
                !CHECKF(nnopt_sched_momentum(&s, &m) && close12(m, sc->momentum[t]),
                        "%s: step %d momentum %.17g, torch %.17g", sc->label, t, m, sc->momentum[t]))
                break;
        }
    }
    for (c = 0; c < NNOPT_SCHED_KIND_COUNT; c++)
        CHECKF(kinds_seen[c] >= 2, "schedule %s has %d golden settings", sched_kind_names[c], kinds_seen[c]);
    CHECK(compositions_seen[1] >= 2 && compositions_seen[2] >= 2);
}

/* Bad parameters are refused and leave the scheduler as it was. */
static void test_schedules_refuse_bad_input(void)
{
    nnopt_scheduler s, before;
    nnopt_sched_params p, kids[2];
    int ms[1] = { 5 };
    memset(&s, 0x5A, sizeof s);
    before = s;
#define REFUSED(kind_, ...) do { p = nnopt_sched_defaults(kind_); __VA_ARGS__; \
        CHECKF(nnopt_sched_init(&s, &p, 0.1) == NNOPT_ERR_INVALID, "accepted: %s", #__VA_ARGS__); } while (0)
    REFUSED(NNOPT_SCHED_STEP, p.step_size = 0);
    REFUSED(NNOPT_SCHED_STEP, p.step_size = 5; p.gamma = 0);
    REFUSED(NNOPT_SCHED_STEP, p.step_size = 5; p.gamma = -0.5);
    REFUSED(NNOPT_SCHED_MULTISTEP, p.milestone_count = 2; p.milestones[0] = 50; p.milestones[1] = 10);
    REFUSED(NNOPT_SCHED_MULTISTEP, p.milestone_count = NNOPT_SCHED_MAX_MILESTONES + 1);
    REFUSED(NNOPT_SCHED_EXPONENTIAL, (void)0);               /* gamma is required */
    REFUSED(NNOPT_SCHED_EXPONENTIAL, p.gamma = NAN);
    REFUSED(NNOPT_SCHED_COSINE, p.T_max = 0);
    REFUSED(NNOPT_SCHED_COSINE, p.T_max = -3);
    REFUSED(NNOPT_SCHED_COSINE_RESTARTS, p.T_0 = 0);
    REFUSED(NNOPT_SCHED_COSINE_RESTARTS, p.T_0 = 5; p.T_mult = 0);
    REFUSED(NNOPT_SCHED_CONSTANT, p.factor = 1.5);
    REFUSED(NNOPT_SCHED_LINEAR, p.start_factor = 0);
    REFUSED(NNOPT_SCHED_LINEAR, p.total_iters = 0);
    REFUSED(NNOPT_SCHED_POLYNOMIAL, p.total_iters = 0);
    REFUSED(NNOPT_SCHED_ONE_CYCLE, p.max_lr = 1; p.total_steps = 0);
    REFUSED(NNOPT_SCHED_ONE_CYCLE, p.max_lr = 1; p.total_steps = 100; p.pct_start = 0);
    REFUSED(NNOPT_SCHED_ONE_CYCLE, p.max_lr = 1; p.total_steps = 100; p.pct_start = 1);
    REFUSED(NNOPT_SCHED_PLATEAU, p.factor = 1.0);
    REFUSED(NNOPT_SCHED_PLATEAU, p.factor = 2.0);
    REFUSED(NNOPT_SCHED_PLATEAU, p.patience = -1);
    REFUSED(NNOPT_SCHED_SWA, p.swa_lr = -1);
    REFUSED(NNOPT_SCHED_SWA, p.swa_lr = 0.1; p.anneal_epochs = -1);
#undef REFUSED
    p = nnopt_sched_defaults(NNOPT_SCHED_STEP); p.step_size = 3;
    CHECK(nnopt_sched_init(&s, &p, -1.0) == NNOPT_ERR_INVALID);
    CHECK(nnopt_sched_init(&s, &p, INFINITY) == NNOPT_ERR_INVALID);
    CHECK(nnopt_sched_init(NULL, &p, 0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_sched_init(&s, NULL, 0.1) == NNOPT_ERR_INVALID);
    kids[0] = p; kids[1] = nnopt_sched_defaults(NNOPT_SCHED_PLATEAU);
    CHECK(nnopt_sched_init_chained(&s, kids, 2, 0.1) == NNOPT_ERR_INVALID);   /* plateau needs a metric */
    kids[1] = p;
    ms[0] = 0;
    CHECK(nnopt_sched_init_sequential(&s, kids, 2, ms, 0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_sched_init_sequential(&s, kids, 2, NULL, 0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_sched_init_chained(&s, kids, 0, 0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_sched_init_chained(&s, kids, NNOPT_SCHED_MAX_CHILDREN + 1, 0.1) == NNOPT_ERR_INVALID);
    CHECK(memcmp(&s, &before, sizeof s) == 0);                      /* nothing written */

    {   /* one-cycle past total_steps, a metric for a non-plateau schedule, NaN metrics */
        nnopt_scheduler oc;
        int t;
        p = nnopt_sched_defaults(NNOPT_SCHED_ONE_CYCLE); p.max_lr = 1; p.total_steps = 10;
        CHECK(nnopt_sched_init(&oc, &p, 0.1) == NNOPT_OK);
        for (t = 0; t < 10; t++) CHECK(nnopt_sched_step(&oc) == NNOPT_OK);
        before = oc;
        CHECK(nnopt_sched_step(&oc) == NNOPT_ERR_INVALID);
        CHECK(nnopt_sched_step_metric(&oc, 1.0) == NNOPT_ERR_INVALID);
        CHECK(memcmp(&oc, &before, sizeof oc) == 0);
        p = nnopt_sched_defaults(NNOPT_SCHED_PLATEAU);
        CHECK(nnopt_sched_init(&oc, &p, 0.1) == NNOPT_OK);
        before = oc;
        CHECK(nnopt_sched_step(&oc) == NNOPT_ERR_INVALID);
        CHECK(nnopt_sched_step_metric(&oc, NAN) == NNOPT_ERR_INVALID);
        CHECK(memcmp(&oc, &before, sizeof oc) == 0);
    }
}

/* Snapshot ensembles: the restart flag rises exactly when a cosine cycle ends
   (T_0 = 4, T_mult = 2: after steps 4, 12, 28, 60). */
static void test_restart_snapshots(void)
{
    nnopt_scheduler s;
    nnopt_sched_params p = nnopt_sched_defaults(NNOPT_SCHED_COSINE_RESTARTS);
    int t, expected_next = 4, cycle = 4;
    p.T_0 = 4; p.T_mult = 2;
    CHECK(nnopt_sched_init(&s, &p, 0.1) == NNOPT_OK);
    CHECK(!nnopt_sched_restarted(&s));
    for (t = 1; t <= 60; t++) {
        CHECK(nnopt_sched_step(&s) == NNOPT_OK);
        if (t == expected_next) {
            CHECKF(nnopt_sched_restarted(&s) && nnopt_sched_lr(&s) == 0.1, "step %d", t);
            cycle *= 2;
            expected_next += cycle;
        } else {
            CHECKF(!nnopt_sched_restarted(&s), "step %d", t);
        }
    }
}

/* The schedule drives the optimizer: lr for every group (through lr_scale), one-cycle's beta1
   for Adam and momentum for SGD, and a single group on its own. */
static void test_schedule_drives_optimizer(void)
{
    nnopt_sched_params p = nnopt_sched_defaults(NNOPT_SCHED_ONE_CYCLE);
    nnopt_scheduler s;
    nnopt_hparams h = nnopt_defaults(NNOPT_ADAM);
    nnopt_group groups[2], g;
    nnopt_optimizer *opt;
    double m;
    int t;
    p.max_lr = 0.01; p.total_steps = 50;
    groups[0] = nnopt_group_default(10); groups[1] = nnopt_group_default(10);
    groups[1].lr_scale = 2;
    opt = nnopt_create_groups(&h, groups, 2);
    CHECK(nnopt_sched_init(&s, &p, h.lr) == NNOPT_OK);
    for (t = 0; t < 20; t++) CHECK(nnopt_sched_step(&s) == NNOPT_OK);
    CHECK(nnopt_sched_apply(&s, opt) == NNOPT_OK);
    CHECK(nnopt_sched_momentum(&s, &m));
    CHECK(nnopt_get_hparams(opt)->lr == nnopt_sched_lr(&s) && nnopt_get_hparams(opt)->beta1 == m);
    CHECK(m > 0.85 && m < 0.95);
    nnopt_destroy(opt);

    h = nnopt_defaults(NNOPT_SGD); h.momentum = 0.9;
    opt = nnopt_create(&h, 10);
    CHECK(nnopt_sched_apply(&s, opt) == NNOPT_OK);
    CHECK(nnopt_get_hparams(opt)->momentum == m);
    nnopt_destroy(opt);
    h = nnopt_defaults(NNOPT_SGD);                         /* made without momentum: no buffer */
    opt = nnopt_create(&h, 10);
    CHECK(nnopt_sched_apply(&s, opt) == NNOPT_ERR_INVALID);
    CHECK(nnopt_get_hparams(opt)->lr == h.lr);
    nnopt_destroy(opt);
    h = nnopt_defaults(NNOPT_ADAGRAD);
    opt = nnopt_create(&h, 10);
    CHECK(nnopt_sched_apply(&s, opt) == NNOPT_ERR_INVALID);
    nnopt_destroy(opt);

    /* per group: a cosine schedule on group 1 only */
    p = nnopt_sched_defaults(NNOPT_SCHED_COSINE); p.T_max = 10;
    h = nnopt_defaults(NNOPT_ADAM); h.lr = 0.01;
    opt = nnopt_create_groups(&h, groups, 2);
    CHECK(nnopt_sched_init(&s, &p, 0.02) == NNOPT_OK);
    for (t = 0; t < 3; t++) CHECK(nnopt_sched_step(&s) == NNOPT_OK);
    CHECK(nnopt_sched_apply_group(&s, opt, 1) == NNOPT_OK);
    CHECK(nnopt_get_group(opt, 1, &g) == NNOPT_OK && fabs(g.lr_scale * 0.01 - nnopt_sched_lr(&s)) < 1e-15);
    CHECK(nnopt_get_group(opt, 0, &g) == NNOPT_OK && g.lr_scale == 1);
    CHECK(nnopt_sched_apply_group(&s, opt, 2) == NNOPT_ERR_INVALID);
    nnopt_destroy(opt);
}

/* ---- Averaging and Lookahead ------------------------------------------------------------- */

/* Lookahead around SGD equals SGD plus the sync written out by hand; an EMA with warm-up
   equals its formula; both bit for bit. */
static void test_lookahead_and_ema_exact(void)
{
    enum { N = 53 };
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD), plain;
    nnopt_optimizer *wrapped, *inner;
    float p[N], q[N], slow[N], ema[N], g[N];
    size_t i;
    int t;
    h.lr = 0.05; h.momentum = 0.9; h.lookahead_k = 5; h.lookahead_alpha = 0.5;
    h.average = NNOPT_AVERAGE_EMA; h.average_decay = 0.99; h.average_warmup = 1;
    plain = h; plain.lookahead_k = 0; plain.average = NNOPT_AVERAGE_NONE;
    wrapped = nnopt_create(&h, N);
    inner = nnopt_create(&plain, N);
    if (!CHECK(wrapped && inner)) return;
    for (i = 0; i < N; i++) p[i] = q[i] = slow[i] = (float)quadratic_start(i);
    for (t = 1; t <= 23; t++) {
        double decay = fmin(0.99, (1.0 + (t - 1)) / (10.0 + (t - 1)));
        quadratic_grad(g, p, N, (uint32_t)t);
        CHECK(nnopt_step(wrapped, p, g) == NNOPT_OK);
        CHECK(nnopt_step(inner, q, g) == NNOPT_OK);
        for (i = 0; i < N; i++) {
            if (t % 5 == 0) q[i] = slow[i] = fmaf(q[i] - slow[i], 0.5f, slow[i]);
            float kept = ema[i] * (float)decay, added = q[i] * (float)(1.0 - decay);
            ema[i] = t == 1 ? q[i] : kept + added;   /* two statements: no contraction */
        }
    }
    th_same_bits(p, q, N, "Lookahead vs SGD with the sync by hand");
    th_same_bits(nnopt_averaged_params(wrapped), ema, N, "EMA with warm-up vs its formula");
    nnopt_destroy(wrapped); nnopt_destroy(inner);
}

/* The averaging kernels on their own: exact formulas, every length, every path the same. */
static void test_average_kernels(void)
{
    static const size_t lengths[] = { 0, 1, 7, 16, 17, 1000, 100003 };
    size_t L, i;
    for (L = 0; L < sizeof lengths / sizeof lengths[0]; L++) {
        size_t n = lengths[L];
        float *avg = th_alloc_floats(n, 1), *ema = th_alloc_floats(n, 2), *p = th_alloc_floats(n, 3);
        uint64_t count;
        for (count = 0; count < 4; count++) {
            for (i = 0; i < n; i++) p[i] = (float)quadratic_noise((uint32_t)count, i) * 10.0f;
            if (count == 0) for (i = 0; i < n; i++) avg[i] = ema[i] = 12345.0f;
            {
                float *want_a = th_alloc_floats(n, 0), *want_e = th_alloc_floats(n, 0);
                for (i = 0; i < n; i++) {
                    want_a[i] = count == 0 ? p[i] : avg[i] + (p[i] - avg[i]) / (float)(count + 1);
                    float kept = ema[i] * 0.75f, added = p[i] * 0.25f;   /* apart: no contraction */
                    want_e[i] = count == 0 ? p[i] : kept + added;
                }
                CHECK(nnopt_swa_update(avg, p, n, count) == NNOPT_OK);
                CHECK(nnopt_ema_update(ema, p, n, 0.75, count) == NNOPT_OK);
                th_same_bits(avg, want_a, n, "SWA update");
                th_same_bits(ema, want_e, n, "EMA update");
                th_free_floats(want_a, 0); th_free_floats(want_e, 0);
            }
        }
        th_free_floats(avg, 1); th_free_floats(ema, 2); th_free_floats(p, 3);
    }
    {
        float a[4] = { 0 }, b[4] = { 1, 2, 3, 4 };
        CHECK(nnopt_swa_update(NULL, b, 4, 0) == NNOPT_ERR_INVALID);
        CHECK(nnopt_swa_update(a, a, 4, 1) == NNOPT_ERR_INVALID);
        CHECK(nnopt_ema_update(a, b, 4, 1.5, 1) == NNOPT_ERR_INVALID);
        CHECK(nnopt_ema_update(a, b, 4, NAN, 1) == NNOPT_ERR_INVALID);
        CHECK(a[0] == 0 && a[3] == 0);
    }
    {   /* invalid averaging and Lookahead settings */
        nnopt_hparams h = nnopt_defaults(NNOPT_ADAM);
        h.average = 3;              CHECK(nnopt_create(&h, 4) == NULL);
        h.average = 2; h.average_decay = 1.5;  CHECK(nnopt_create(&h, 4) == NULL);
        h = nnopt_defaults(NNOPT_ADAM); h.lookahead_k = -1;  CHECK(nnopt_create(&h, 4) == NULL);
        h.lookahead_k = 5; h.lookahead_alpha = 2;            CHECK(nnopt_create(&h, 4) == NULL);
        h.lookahead_alpha = NAN;                             CHECK(nnopt_create(&h, 4) == NULL);
        h = nnopt_defaults(NNOPT_ADAM); h.average_start = -1; CHECK(nnopt_create(&h, 4) == NULL);
    }
}

/* Prediction averaging against a double-precision softmax. */
static void test_ensemble_softmax(void)
{
    enum { MODELS = 3, ROWS = 4, CLASSES = 5 };
    float logits[MODELS][ROWS * CLASSES], probs[ROWS * CLASSES];
    const float *ptrs[MODELS];
    int m, r, c;
    for (m = 0; m < MODELS; m++) {
        ptrs[m] = logits[m];
        for (c = 0; c < ROWS * CLASSES; c++) logits[m][c] = (float)quadratic_noise((uint32_t)m, (size_t)c) * 40.0f;
    }
    logits[1][3] = 80.0f;                                  /* large logits must not overflow */
    CHECK(nnopt_ensemble_softmax(ptrs, MODELS, ROWS, CLASSES, probs) == NNOPT_OK);
    for (r = 0; r < ROWS; r++) {
        double total = 0;
        for (c = 0; c < CLASSES; c++) {
            double want = 0;
            for (m = 0; m < MODELS; m++) {
                double top = -INFINITY, sum = 0;
                int k;
                for (k = 0; k < CLASSES; k++) top = fmax(top, logits[m][r * CLASSES + k]);
                for (k = 0; k < CLASSES; k++) sum += exp(logits[m][r * CLASSES + k] - top);
                want += exp(logits[m][r * CLASSES + c] - top) / sum / MODELS;
            }
            CHECKF(fabs(probs[r * CLASSES + c] - want) <= 1e-6 * want + 1e-12, "row %d class %d", r, c);
            total += probs[r * CLASSES + c];
        }
        CHECK(fabs(total - 1.0) < 1e-6);
    }
    CHECK(nnopt_ensemble_softmax(ptrs, 0, ROWS, CLASSES, probs) == NNOPT_ERR_INVALID);
    CHECK(nnopt_ensemble_softmax(NULL, MODELS, ROWS, CLASSES, probs) == NNOPT_ERR_INVALID);
    CHECK(nnopt_ensemble_softmax(ptrs, MODELS, ROWS, CLASSES, logits[0]) == NNOPT_ERR_INVALID);  /* aliasing */
}

void register_sched_tests(void)
{
    th_register("schedules_golden_torch", test_schedules_golden, TH_ONCE);
    th_register("schedules_refuse_bad_input", test_schedules_refuse_bad_input, TH_ONCE);
    th_register("schedule_restart_snapshots", test_restart_snapshots, TH_ONCE);
    th_register("schedule_drives_optimizer", test_schedule_drives_optimizer, TH_ONCE);
    th_register("lookahead_and_ema_exact", test_lookahead_and_ema_exact, TH_EACH_ISA);
    th_register("average_kernels", test_average_kernels, TH_EACH_ISA);
    th_register("ensemble_softmax", test_ensemble_softmax, TH_ONCE);
}
