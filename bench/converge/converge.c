/* The convergence suite: every nnopt optimizer on standard problems, with its defaults and with
   the best of a small learning-rate grid, deterministic and stochastic; the claims of the
   optimization literature the project's docs repeat, each measured; SVG figures.

     converge DOCS_DIR [TIMES_FILE]

   writes DOCS_DIR/convergence.md and DOCS_DIR/figures/convergence_*.svg. Everything written
   there depends only on the code and the fixed seeds (two runs give identical files); CPU times
   vary, so they go to TIMES_FILE (and stdout) only. Exit status 1 when an asserted claim fails. */
#define NNOPT_IMPLEMENTATION
#include "../../nnopt.h"
#include "problems.h"
#include "../svg.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#define SEED 20240611u
#define MAX_LR 10

/* ---- The optimizers: every kind with its defaults, plus SGD with momentum and Nesterov ---- */

typedef struct roster_entry { const char *name; nnopt_kind kind; double momentum; int nesterov; } roster_entry;

/* SGD plain, with momentum and with Nesterov, then every other kind (nnopt_kind order). */
#define NOPT (NNOPT_KIND_COUNT + 2)
static roster_entry roster[NOPT];

static void roster_fill(void)
{
    static const roster_entry sgd[3] = {
        {"sgd", NNOPT_SGD, 0, 0}, {"sgd+momentum", NNOPT_SGD, 0.9, 0}, {"sgd+nesterov", NNOPT_SGD, 0.9, 1}
    };
    int o, kind;
    for (o = 0; o < 3; o++) roster[o] = sgd[o];
    for (kind = 0; kind < NNOPT_KIND_COUNT; kind++) {
        if (kind == NNOPT_SGD) continue;
        roster[o].name = nnopt_kind_name((nnopt_kind)kind);
        roster[o].kind = (nnopt_kind)kind;
        roster[o].momentum = 0; roster[o].nesterov = 0;
        o++;
    }
}


static nnopt_hparams roster_hparams(int o, double lr)
{
    nnopt_hparams h = nnopt_defaults(roster[o].kind);
    if (roster[o].momentum > 0) { h.momentum = roster[o].momentum; h.nesterov = roster[o].nesterov; }
    if (lr > 0) h.lr = lr;
    return h;
}

/* ---- Output helpers ---- */

static FILE *md, *times;
static int claims_failed;
static double cpu_total;

static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(md, fmt, ap);
    va_end(ap);
}

static double cpu_now(void) { return (double)clock() / CLOCKS_PER_SEC; }

static const char *fmt_steps(char *buf, long steps, int diverged)
{
    if (steps >= 0) sprintf(buf, "%ld", steps);
    else strcpy(buf, diverged ? "div." : "—");
    return buf;
}

static const char *fmt_loss(char *buf, const cv_result *r)
{
    if (r->diverged) strcpy(buf, "diverged");
    else sprintf(buf, "%.3g", r->final_loss);
    return buf;
}

static const char *fmt_tail(char *buf, const cv_result *r)
{
    if (r->diverged) strcpy(buf, "diverged");
    else if (r->tail_loss != r->tail_loss) strcpy(buf, "(stopped)");
    else sprintf(buf, "%.3g", r->tail_loss);
    return buf;
}

static void claim(int asserted, int ok, const char *text)
{
    out("- **%s** %s\n", asserted ? (ok ? "Holds (asserted)." : "FAILS (asserted).") : (ok ? "Holds." : "Does not hold here."), text);
    if (asserted && !ok) { claims_failed++; fprintf(stderr, "converge: claim failed: %s\n", text); }
}

/* ---- The grid runs ---- */

typedef struct suite_problem {
    cv_problem pb;
    const char *title, *note;
    long budget;
    const double *grid; int ngrid;
    int figure;                 /* contour figure with trajectories */
    double box[4];              /* x0 x1 y0 y1 */
    double minimum[2];          /* marked on the figure */
    double fcurve_min;          /* loss-curve floor for the log plot */
    /* results per optimizer: [0] default det, [1] default sto, [2] best det, [3] best sto */
    cv_result res[NOPT][4];
    double best_lr[NOPT][2];
    double cpu[NOPT][4];        /* CPU seconds of each reported run */
} suite_problem;

static const double grid_full[] = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1, 3};
static const double grid_data[] = {1e-3, 1e-2, 1e-1, 1};

/* A result is better when it reaches the target in fewer steps, or, when neither does, ends
   lower; diverged runs lose. */
static int better(const cv_result *a, const cv_result *b)
{
    if (a->diverged != b->diverged) return !a->diverged;
    if (a->diverged) return 0;
    if ((a->steps >= 0) != (b->steps >= 0)) return a->steps >= 0;
    if (a->steps >= 0 && a->steps != b->steps) return a->steps < b->steps;
    return a->final_loss < b->final_loss;
}

/* Stochastic runs: the first step under the target is partly luck, so the lower mean loss over
   the last tenth of the budget wins. */
static int better_noisy(const cv_result *a, const cv_result *b)
{
    if (a->diverged != b->diverged) return !a->diverged;
    if (a->diverged) return 0;
    return a->tail_loss < b->tail_loss;
}

static void run_problem(suite_problem *sp)
{
    int o, v, i;
    for (o = 0; o < NOPT; o++) {
        double c0 = cpu_now(), c1;
        for (v = 0; v < 2; v++) {
            nnopt_hparams h = roster_hparams(o, 0);
            c1 = cpu_now();
            sp->res[o][v] = cv_run(&sp->pb, &h, sp->budget, v, SEED, NULL, 0, NULL);
            sp->cpu[o][v] = cpu_now() - c1;
            sp->best_lr[o][v] = -1;
            for (i = 0; i < sp->ngrid; i++) {
                cv_result r;
                h = roster_hparams(o, sp->grid[i]);
                c1 = cpu_now();
                r = cv_run(&sp->pb, &h, sp->budget, v, SEED, NULL, 0, NULL);
                c1 = cpu_now() - c1;
                if (sp->best_lr[o][v] < 0 || (v ? better_noisy(&r, &sp->res[o][3]) : better(&r, &sp->res[o][2]))) {
                    sp->res[o][2 + v] = r;
                    sp->best_lr[o][v] = sp->grid[i];
                    sp->cpu[o][2 + v] = c1;
                }
            }
        }
        cpu_total += cpu_now() - c0;
        fprintf(times, "%-18s %-13s CPU ms per run of %6ld steps: default %8.2f  best %8.2f  stoch. default %8.2f  best %8.2f\n",
                sp->pb.name, roster[o].name, sp->budget, 1e3 * sp->cpu[o][0], 1e3 * sp->cpu[o][2],
                1e3 * sp->cpu[o][1], 1e3 * sp->cpu[o][3]);
    }
    fflush(times);
}

static void table(const suite_problem *sp)
{
    int o;
    char a[32], b[32], c[32], d[32], e[32], f[32], g[32], hh[32];
    out("\n### %s\n\n%s\n\n", sp->title, sp->note);
    out("| optimizer | default lr | steps | final | best lr | steps | final | stoch.: steps | mean final | best lr | steps | mean final |\n");
    out("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (o = 0; o < NOPT; o++) {
        nnopt_hparams h = roster_hparams(o, 0);
        const cv_result *r = sp->res[o];
        out("| %s | %g | %s | %s | %g | %s | %s | %s | %s | %g | %s | %s |\n", roster[o].name, h.lr,
            fmt_steps(a, r[0].steps, r[0].diverged), fmt_loss(b, &r[0]),
            sp->best_lr[o][0], fmt_steps(c, r[2].steps, r[2].diverged), fmt_loss(d, &r[2]),
            fmt_steps(e, r[1].steps, r[1].diverged), sp->pb.stop_at_target ? fmt_loss(f, &r[1]) : fmt_tail(f, &r[1]),
            sp->best_lr[o][1], fmt_steps(g, r[3].steps, r[3].diverged), sp->pb.stop_at_target ? fmt_loss(hh, &r[3]) : fmt_tail(hh, &r[3]));
    }
}

/* ---- Figures ---- */

static const char *figdir;

static void figure_path(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/figures/convergence_%s.svg", figdir, name);
}

static const char *roster_names[NOPT];

/* Contours of a 2-D problem and every optimizer's path at its best deterministic lr. */
static void contour_figure(const suite_problem *sp, const char *file, long steps, int default_lr)
{
    enum { G = 97 };
    static double fgrid[G * G], xs[200001], ys[200001];
    double levels[16], lo = 1e300, hi = -1e300;
    char path[512], title[160];
    svg_plot p;
    int i, j, o, nl = 0;
    float *trace_path = (float *)malloc(sizeof(float) * 2 * (size_t)(steps + 1));
    cv_trace tr;
    if (!trace_path) return;
    figure_path(path, sizeof path, file);
    memset(&p, 0, sizeof p);
    p.width = 560; p.height = 440; p.left = 40; p.top = 22; p.right = 400; p.bottom = 410;
    p.x0 = sp->box[0]; p.x1 = sp->box[1]; p.y0 = sp->box[2]; p.y1 = sp->box[3];
    p.f = svg_begin(path, p.width, p.height);
    if (!p.f) { free(trace_path); return; }
    for (j = 0; j < G; j++)
        for (i = 0; i < G; i++) {
            double x = p.x0 + (p.x1 - p.x0) * i / (G - 1), y = p.y0 + (p.y1 - p.y0) * j / (G - 1);
            double v = cv_eval2(&sp->pb, x, y, NULL, NULL) - sp->pb.fstar;
            fgrid[j * G + i] = v;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    if (sp->pb.kind == CV_SADDLE) {          /* signed values: evenly spaced levels */
        for (i = 0; i < 13; i++) levels[nl++] = lo + (hi - lo) * (i + 0.5) / 13;
    } else {                                 /* positive: levels spaced evenly in log */
        double a = log10(lo > 1e-3 * hi ? lo : hi * 1e-5), b = log10(hi);
        if (lo <= 0) a = log10(hi) - 5;
        for (i = 0; i < 14; i++) levels[nl++] = pow(10, a + (b - a) * (i + 0.5) / 14);
    }
    svg_contours(&p, fgrid, G, G, levels, nl, "#c8c8c8");
    snprintf(title, sizeof title, "%s: first %ld steps, %s lr", sp->title, steps, default_lr ? "default" : "best grid");
    svg_axes(&p, title, "x", "y");
    memset(&tr, 0, sizeof tr);
    tr.path = trace_path;
    for (o = 0; o < NOPT; o++) {
        nnopt_hparams h = roster_hparams(o, default_lr ? 0 : sp->best_lr[o][0]);
        long t;
        cv_run(&sp->pb, &h, steps, 0, SEED, NULL, 0, &tr);
        for (t = 0; t <= steps; t++) { xs[t] = trace_path[2 * t]; ys[t] = trace_path[2 * t + 1]; }
        svg_series(&p, xs, ys, (size_t)steps + 1, svg_color(o), 1.2, NULL);
    }
    svg_marker(&p, sp->pb.start[0], sp->pb.start[1], "black", 3);
    fprintf(p.f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"none\" stroke=\"black\"/>\n",
            svg_px(&p, sp->minimum[0]), svg_py(&p, sp->minimum[1]));
    svg_legend(p.f, 410, 30, NOPT, 140, roster_names, NOPT);
    svg_end(p.f);
    free(trace_path);
}

/* Loss minus the minimum against step (both log scales), every optimizer at its best lr. */
static void loss_figure(const suite_problem *sp, const char *file, int stochastic)
{
    long n = sp->budget / sp->pb.eval_every + 1, t;
    double *loss = (double *)malloc(sizeof(double) * (size_t)n * 3), *xs = loss + n, *ys = loss + 2 * n;
    double top = 0;
    char path[512], title[160];
    svg_plot p;
    cv_trace tr;
    int o;
    if (!loss) return;
    figure_path(path, sizeof path, file);
    memset(&p, 0, sizeof p);
    p.width = 560; p.height = 300; p.left = 46; p.top = 22; p.right = 400; p.bottom = 270;
    p.xlog = 1; p.ylog = 1; p.thin_x = 1;
    p.x0 = sp->pb.eval_every; p.x1 = (double)sp->budget;
    memset(&tr, 0, sizeof tr);
    tr.loss = loss;
    for (o = 0; o < NOPT; o++) {   /* the top of the scale: the start value */
        nnopt_hparams h = roster_hparams(o, sp->best_lr[o][stochastic]);
        cv_run(&sp->pb, &h, 0, stochastic, SEED, NULL, 0, &tr);
        if (loss[0] - sp->pb.fstar > top) top = loss[0] - sp->pb.fstar;
    }
    p.y1 = pow(10, ceil(log10(top * 10)));
    p.y0 = sp->fcurve_min;
    p.f = svg_begin(path, p.width, p.height);
    if (!p.f) { free(loss); return; }
    snprintf(title, sizeof title, "%s, %s: loss - min, best lr of the grid", sp->title,
             stochastic ? "stochastic" : "deterministic");
    svg_axes(&p, title, "step", NULL);
    for (o = 0; o < NOPT; o++) {
        nnopt_hparams h = roster_hparams(o, sp->best_lr[o][stochastic]);
        cv_run(&sp->pb, &h, sp->budget, stochastic, SEED, NULL, 0, &tr);
        for (t = 0; t < n; t++) {
            double v = loss[t] - sp->pb.fstar;
            xs[t] = t ? (double)t * sp->pb.eval_every : NAN;   /* step 0 is off the log axis */
            ys[t] = v != v ? NAN : v < p.y0 ? p.y0 : v;   /* below the floor: drawn on it */
        }
        svg_series(&p, xs + 1, ys + 1, (size_t)n - 1, svg_color(o), 1, NULL);
    }
    svg_legend(p.f, 410, 30, NOPT, 140, roster_names, NOPT);
    svg_end(p.f);
    free(loss);
}

/* ---- Reference minima of the convex data problems: long full-batch gradient descent ---- */

static double reference_minimum(const cv_problem *pb, double lr, long steps)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
    cv_problem copy = *pb;
    cv_result r;
    h.lr = lr; h.momentum = 0.9; h.nesterov = 1;
    copy.target = -1e300; copy.eval_every = (int)steps;
    r = cv_run(&copy, &h, steps, 0, SEED, NULL, 0, NULL);
    return r.final_loss;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    static suite_problem sp[13];
    int np = 0, i, o;
    char path[512];
    const char *times_path = argc > 2 ? argv[2] : NULL;
    figdir = argc > 1 ? argv[1] : "docs";
    roster_fill();
    for (o = 0; o < NOPT; o++) roster_names[o] = roster[o].name;
    snprintf(path, sizeof path, "%s/convergence.md", figdir);
    md = fopen(path, "w");
    times = times_path ? fopen(times_path, "w") : stdout;
    if (!md || !times) { perror(!md ? path : times_path); return 2; }

#define P2(kind_, name_, title_, x0, y0, fstar_, target_, budget_, note_) do { \
        suite_problem *s_ = &sp[np++]; cv_problem_2d(&s_->pb, kind_, name_, x0, y0, fstar_, target_); \
        s_->title = title_; s_->budget = budget_; s_->grid = grid_full; s_->ngrid = 10; s_->note = note_; \
        s_->fcurve_min = 1e-12; } while (0)
    P2(CV_ROSENBROCK, "rosenbrock", "Rosenbrock from (-1.2, 1)", -1.2, 1, 0, 1e-6, 20000,
       "f = 100(y - x²)² + (1 - x)², minimum 0 at (1, 1); target f ≤ 1e-6; 20000 steps.");
    sp[np - 1].figure = 1; sp[np - 1].box[0] = -2; sp[np - 1].box[1] = 2; sp[np - 1].box[2] = -1; sp[np - 1].box[3] = 3;
    sp[np - 1].minimum[0] = 1; sp[np - 1].minimum[1] = 1;
    P2(CV_BEALE, "beale_1_1.5", "Beale from (1, 1.5)", 1, 1.5, 0, 1e-6, 20000,
       "f = (1.5 - x + xy)² + (2.25 - x + xy²)² + (2.625 - x + xy³)², minimum 0 at (3, 0.5); target f ≤ 1e-6; 20000 steps.");
    sp[np - 1].figure = 1; sp[np - 1].box[0] = -1; sp[np - 1].box[1] = 4.5; sp[np - 1].box[2] = -1.5; sp[np - 1].box[3] = 2.5;
    sp[np - 1].minimum[0] = 3; sp[np - 1].minimum[1] = 0.5;
    P2(CV_BEALE, "beale_2.8_0.35", "Beale from (2.8, 0.35)", 2.8, 0.35, 0, 1e-6, 20000,
       "As above from ensmallen's start (2.8, 0.35).");
    P2(CV_SADDLE, "saddle", "Saddle x² - y² from (1, 1e-3)", 1, 1e-3, 0, -1, 5000,
       "Started just off the ridge y = 0; the target is escaping: f ≤ -1 (then the run stops); 5000 steps. "
       "\"final\" is f when the run ended: near 0 means it sat at the saddle.");
    sp[np - 1].pb.stop_at_target = 1;
    sp[np - 1].figure = 1; sp[np - 1].box[0] = -1.5; sp[np - 1].box[1] = 1.5; sp[np - 1].box[2] = -1.5; sp[np - 1].box[3] = 1.5;
    {
        static const double kappas[3] = {10, 100, 1e4};
        static const char *names[3] = {"quadratic_k10", "quadratic_k100", "quadratic_k1e4"};
        static const char *titles[3] = {"Rotated quadratic, κ = 10", "Rotated quadratic, κ = 100", "Rotated quadratic, κ = 1e4"};
        for (i = 0; i < 3; i++) {
            suite_problem *s = &sp[np++];
            cv_problem_quadratic2(&s->pb, names[i], kappas[i]);
            s->title = titles[i]; s->budget = i == 2 ? 50000 : 20000; s->grid = grid_full; s->ngrid = 10;
            s->fcurve_min = 1e-12;
            s->note = i == 2 ? "As above with κ = 1e4; 50000 steps."
                             : "f = ½(u²/κ + v²) in coordinates rotated by 30°, start (1, 1) in (u, v): f₀ = (1 + 1/κ)/2; "
                               "target f ≤ 1e-6 f₀; 20000 steps. Eigenvalues 1/κ and 1, so gradient descent is stable for lr < 2.";
            if (i == 1) { s->figure = 1; s->box[0] = -2; s->box[1] = 2; s->box[2] = -2; s->box[3] = 2; }
        }
    }
    P2(CV_RASTRIGIN, "rastrigin", "Rastrigin from (-2, 3.5)", -2, 3.5, 0, 1e-6, 5000,
       "f = 20 + Σ x² - 10 cos 2πx (2-D, A = 10), global minimum 0 at the origin, a local minimum near every "
       "integer point; start (-2, 3.5) of pytorch-optimizer's visualisation; target f ≤ 1e-6; 5000 steps.");
    {
        suite_problem *s = &sp[np++];
        cv_problem_noisy_quadratic(&s->pb, "noisy_quadratic", SEED, 0.3);
        s->pb.eval_every = 10;
        s->title = "100-D noisy quadratic (DeepOBS quadratic_deep)"; s->budget = 2000; s->grid = grid_full; s->ngrid = 10;
        s->fcurve_min = 1e-8;
        s->note = "f = ½ pᵀQp, Q = Rᵀ diag(λ) R with 90 eigenvalues from U(0, 1) and 10 from U(30, 60), R a random "
                  "rotation; start p = 1; the stochastic gradient is Q(p - ξ), ξ ~ N(0, 0.3² I) (about the mean of "
                  "a batch of 11 unit-normal samples). Target f ≤ 1e-3 f₀; 2000 steps, f evaluated every 10.";
    }
    {
        suite_problem *s = &sp[np++];
        cv_problem_data(&s->pb, CV_LOGISTIC, "logistic", 0, 1e-3, SEED);
        s->pb.eval_every = 10;
        s->pb.fstar = reference_minimum(&s->pb, 1.0, 5000);
        s->pb.target = s->pb.fstar + 1e-4;
        s->title = "Logistic regression on synthetic data"; s->budget = 1000; s->grid = grid_data; s->ngrid = 4;
        s->fcurve_min = 1e-8;
        s->note = "10 features x ~ N(0, I), labels y ~ Bernoulli(sigmoid(x·w* + 0.5)), w* ~ N(0, I); 1000 training and 1000 "
                  "held-out rows; loss = mean log-loss + ½·1e-3·|w|². Minimum f* from 5000 steps of full-batch Nesterov "
                  "(lr 1); target f ≤ f* + 1e-4; 1000 steps, f evaluated every 10; stochastic: batches of 32 drawn with "
                  "replacement.";
    }
    {
        suite_problem *s = &sp[np++];
        cv_problem_data(&s->pb, CV_SOFTMAX, "softmax_spiral", 0, 1e-3, SEED);
        s->pb.eval_every = 10;
        s->pb.fstar = reference_minimum(&s->pb, 1.0, 20000);
        s->pb.target = s->pb.fstar + 1e-4;
        s->title = "Softmax classifier on the spiral"; s->budget = 2000; s->grid = grid_data; s->ngrid = 4;
        s->fcurve_min = 1e-8;
        s->note = "CS231n's spiral (3 classes, 100 points each; held out: 1000 points per class of the same recipe); "
                  "linear softmax, W = 0.01·randn, loss = mean cross-entropy + ½·1e-3·|W|². Minimum from 20000 steps of "
                  "full-batch Nesterov (lr 1); target f ≤ f* + 1e-4; 2000 steps, f every 10; stochastic: batches of 32.";
    }
    {
        suite_problem *s = &sp[np++];
        cv_problem_data(&s->pb, CV_MLP, "mlp_spiral", 100, 1e-3, SEED);
        s->pb.eval_every = 20;
        s->pb.fstar = 0;
        s->pb.target = 0.3;
        s->title = "2-layer ReLU network on the spiral"; s->budget = 1000; s->grid = grid_data; s->ngrid = 4;
        s->fcurve_min = 1e-2;
        s->note = "2 → 100 ReLU → 3, He initialisation, loss = mean cross-entropy + ½·1e-3·(|W1|² + |W2|²) as CS231n's "
                  "(which reaches 0.245 after 10000 steps of lr 1). Target f ≤ 0.3; 1000 steps, f every 20; stochastic: "
                  "batches of 32.";
    }

    /* ---- run everything ---- */
    for (i = 0; i < np; i++) run_problem(&sp[i]);

    out("# Convergence suite\n\n");
    out("Every nnopt optimizer on standard problems, trained in C with nnopt (`bench/converge/`); regenerate "
        "this page and its figures with `./build.sh converge` (two runs give identical files: CPU times, which "
        "vary, are printed to the terminal and to `build/converge/times.txt` only). The run fails when an "
        "asserted claim below fails; the quick ones are also asserted by `tests/test_converge.c`.\n\n");
    out("## Protocol\n\n");
    out("- **Optimizers**: the 16 kinds with `nnopt_defaults()` (torch's defaults), plus SGD with momentum 0.9 "
        "and with Nesterov momentum 0.9: %d rows.\n", NOPT);
    out("- **Runs**: each optimizer with its default lr, and with every lr of a grid, keeping the best: "
        "deterministic, the fewest steps to the target, or, if no lr reaches it, the lowest final loss; "
        "stochastic, the lowest mean loss over the last tenth of the budget (a noisy run's first step under "
        "the target is partly luck); diverged runs never win. "
        "Grid for the 2-D problems and the quadratics: 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3; "
        "for the data problems 1e-3, 1e-2, 0.1, 1. The budget (steps) is given per problem.\n");
    out("- **Variants**: deterministic (exact gradients) and stochastic: the 2-D problems add N(0, 0.1²) noise "
        "to each gradient component, the noisy quadratic draws its ξ, the data problems use mini-batches of "
        "32 rows drawn with replacement. The best lr is chosen separately for each variant.\n");
    out("- **Seeds**: all data, initial weights, noise, mini-batches and dropout masks are drawn from nnopt's "
        "Philox4x32-10 (`nnopt_random_uniform_at`, `nnopt_random_normal_at`) with seed %u, one stream per use "
        "(listed in `bench/converge/problems.h`), so number i of stream s is the same in every run and on "
        "every machine.\n", (unsigned)SEED);
    out("- **Reported**: steps to reach the target (the first evaluated step at or under it; \"—\" never, "
        "\"div.\" diverged: a non-finite loss or one 10⁶ times the start) and the loss after the budget; for the "
        "stochastic variant the mean loss over the last tenth of the budget, the level its noise lets it hold "
        "(the saddle, whose runs stop on escaping, shows f at the end). Losses are evaluated in double from the float "
        "parameters. CPU times per cell are in `build/converge/times.txt`.\n");

    out("\n## Claims, measured\n\n");
    /* ---- claim 1: momentum and Nesterov on kappa = 100 ---- */
    {
        const suite_problem *q = &sp[5];   /* quadratic_k100 */
        double kappa = 100, l1 = 0.01, ln = 1, f0ratio = log(1e6);
        double gd_alpha = 2 / (l1 + ln), gd_rate = (kappa - 1) / (kappa + 1);
        double hb_alpha = pow(2 / (sqrt(l1) + sqrt(ln)), 2), hb_beta = pow((sqrt(kappa) - 1) / (sqrt(kappa) + 1), 2);
        double hb_rate = (sqrt(kappa) - 1) / (sqrt(kappa) + 1);
        long gd_pred = (long)ceil(f0ratio / (2 * log(1 / gd_rate))), hb_pred = (long)ceil(f0ratio / (2 * log(1 / hb_rate)));
        nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
        cv_result gd, hb, sgd1, mom1, nes1;
        int ok;
        h.lr = gd_alpha; gd = cv_run(&q->pb, &h, q->budget, 0, SEED, NULL, 0, NULL);
        h.lr = hb_alpha; h.momentum = hb_beta; hb = cv_run(&q->pb, &h, q->budget, 0, SEED, NULL, 0, NULL);
        h = roster_hparams(0, 1.0); sgd1 = cv_run(&q->pb, &h, q->budget, 0, SEED, NULL, 0, NULL);
        h = roster_hparams(1, 1.0); mom1 = cv_run(&q->pb, &h, q->budget, 0, SEED, NULL, 0, NULL);
        h = roster_hparams(2, 1.0); nes1 = cv_run(&q->pb, &h, q->budget, 0, SEED, NULL, 0, NULL);
        out("### Momentum and Nesterov on the κ = 100 quadratic\n\n");
        out("Steps to f ≤ 1e-6 f₀ (deterministic). Theory (Goh, *Why Momentum Really Works*): the error of gradient "
            "descent with the optimal lr 2/(λ₁+λₙ) shrinks by (κ-1)/(κ+1) per step, heavy-ball momentum with the optimal "
            "lr (2/(√λ₁+√λₙ))² and β = ((√κ-1)/(√κ+1))² by (√κ-1)/(√κ+1); f shrinks by the square, so the predicted "
            "count is ln(10⁶)/(2 ln(1/rate)).\n\n");
        out("| method | lr | momentum | rate per step | predicted steps | measured steps |\n|---|---|---|---|---|---|\n");
        out("| gradient descent, optimal lr | %.4f | 0 | %.4f | %ld | %ld |\n", gd_alpha, gd_rate, gd_pred, gd.steps);
        out("| heavy ball, optimal lr and β | %.4f | %.4f | %.4f | %ld | %ld |\n", hb_alpha, hb_beta, hb_rate, hb_pred, hb.steps);
        out("| sgd, lr 1 | 1 | 0 | | | %ld |\n", sgd1.steps);
        out("| sgd+momentum, lr 1 | 1 | 0.9 | | | %ld |\n", mom1.steps);
        out("| sgd+nesterov, lr 1 | 1 | 0.9 | | | %ld |\n", nes1.steps);
        out("| sgd, best lr of the grid (%g) | | 0 | | | %ld |\n", q->best_lr[0][0], q->res[0][2].steps);
        out("| sgd+momentum, best lr (%g) | | 0.9 | | | %ld |\n", q->best_lr[1][0], q->res[1][2].steps);
        out("| sgd+nesterov, best lr (%g) | | 0.9 | | | %ld |\n\n", q->best_lr[2][0], q->res[2][2].steps);
        ok = q->res[1][2].steps > 0 && q->res[2][2].steps > 0 && q->res[0][2].steps > 0 &&
             3 * q->res[1][2].steps < q->res[0][2].steps && 3 * q->res[2][2].steps < q->res[0][2].steps &&
             3 * mom1.steps < sgd1.steps && 3 * nes1.steps < sgd1.steps && hb.steps * 3 < gd.steps;
        claim(1, ok, "Momentum and Nesterov need far fewer steps than SGD on the κ = 100 quadratic (asserted: fewer "
                     "than a third, at the best grid lr, at lr 1, and for the theoretical optima). Gradient descent "
                     "at its optimal lr takes the predicted count; heavy ball at its optimum takes more than the "
                     "rate alone predicts because there its iteration matrix has a repeated eigenvalue, whose error "
                     "decays as k·rate^k, not rate^k.");
    }
    /* ---- claim 2: the saddle's ridge ---- */
    {
        cv_problem ridge;
        cv_result r[2][2];
        int m, s, ok;
        cv_problem_2d(&ridge, CV_SADDLE, "saddle_ridge", 1, 0, 0, -1);
        ridge.stop_at_target = 1;
        for (m = 0; m < 2; m++)
            for (s = 0; s < 2; s++) {
                nnopt_hparams h = roster_hparams(m, 0.01);
                r[m][s] = cv_run(&ridge, &h, 5000, s, SEED, NULL, 0, NULL);
            }
        out("\n### The saddle's ridge\n\nx² - y² started exactly on the ridge at (1, 0), lr 0.01, 5000 steps; escaped = f ≤ -1. "
            "On the ridge the y-gradient is exactly 0, so exact gradients never leave it.\n\n");
        out("| method | gradient | escaped at step | f at the end |\n|---|---|---|---|\n");
        for (m = 0; m < 2; m++)
            for (s = 0; s < 2; s++) {
                char a[32], b[32];
                out("| %s | %s | %s | %s |\n", roster[m].name, s ? "noisy (σ 0.1)" : "exact",
                    fmt_steps(a, r[m][s].steps, r[m][s].diverged), fmt_loss(b, &r[m][s]));
            }
        ok = r[0][0].steps < 0 && fabs(r[0][0].final_loss) < 1e-6 && r[1][1].steps > 0;
        out("\n");
        claim(1, ok, "SGD started exactly on the ridge stalls at the saddle (f → 0) while momentum with noise escapes. "
                     "Noise is what escapes: plain SGD with the same noise escapes too, only later; momentum without "
                     "noise stays on the ridge.");
    }
    /* ---- claim 3: AdaGrad stalls, RMSProp keeps moving ---- */
    {
        cv_problem far;
        cv_result ag, rp;
        nnopt_hparams h;
        int ok;
        cv_problem_quadratic2(&far, "quadratic_k100_far", 100);
        far.start[0] *= 100; far.start[1] *= 100;
        h = nnopt_defaults(NNOPT_ADAGRAD); ag = cv_run(&far, &h, 20000, 0, SEED, NULL, 0, NULL);
        h = nnopt_defaults(NNOPT_RMSPROP); rp = cv_run(&far, &h, 20000, 0, SEED, NULL, 0, NULL);
        out("\n### AdaGrad against RMSProp on a long run\n\nThe κ = 100 quadratic started 100 times farther out "
            "(f₀ = %.4g), default lr 0.01 for both, 20000 steps. Mean step length |Δp| over the first and the last "
            "100 steps:\n\n", cv_loss(&far, far.start));
        out("| method | |Δp| first 100 | |Δp| last 100 | final f |\n|---|---|---|---|\n");
        out("| adagrad | %.3g | %.3g | %.4g |\n| rmsprop | %.3g | %.3g | %.3g |\n\n", ag.step_norm_first, ag.step_norm_last,
            ag.final_loss, rp.step_norm_first, rp.step_norm_last, rp.final_loss);
        ok = ag.step_norm_last < 0.1 * ag.step_norm_first && rp.step_norm_last > 0.3 * rp.step_norm_first &&
             ag.final_loss > 1000 * rp.final_loss;
        claim(1, ok, "AdaGrad's step shrinks (its accumulated squared gradients only grow) until it stalls far from the "
                     "minimum, while RMSProp's moving average lets it keep moving and arrive (asserted: AdaGrad's late "
                     "steps < 1/10 of its early ones, RMSProp's > 0.3, final losses 1000× apart).");
    }
    /* ---- claim 4: Adam on ill-conditioning and saddles ---- */
    {
        const suite_problem *k4 = &sp[6], *sad = &sp[3];
        int rank_k = 1, rank_s = 1, ok;
        for (o = 0; o < NOPT; o++) {
            if (better(&k4->res[o][2], &k4->res[3][2])) rank_k++;
            if (better(&sad->res[o][2], &sad->res[3][2])) rank_s++;
        }
        out("\n### Adam on ill-conditioning and saddles\n\n");
        out("Steps to the target (\"—\": not within the budget), deterministic; the rank compares the best-lr runs.\n\n");
        out("| problem | adam, default lr | adam, best lr | steps | sgd, default lr | sgd, best lr | steps | adam's rank of %d |\n"
            "|---|---|---|---|---|---|---|---|\n", NOPT);
        {
            char a[32], b[32], c[32], d[32];
            out("| κ = 1e4 quadratic | %s | %g | %s | %s | %g | %s | %d |\n", fmt_steps(a, k4->res[3][0].steps, k4->res[3][0].diverged),
                k4->best_lr[3][0], fmt_steps(b, k4->res[3][2].steps, 0), fmt_steps(c, k4->res[0][0].steps, k4->res[0][0].diverged),
                k4->best_lr[0][0], fmt_steps(d, k4->res[0][2].steps, 0), rank_k);
            out("| saddle from (1, 1e-3) | %s | %g | %s | %s | %g | %s | %d |\n\n", fmt_steps(a, sad->res[3][0].steps, sad->res[3][0].diverged),
                sad->best_lr[3][0], fmt_steps(b, sad->res[3][2].steps, 0), fmt_steps(c, sad->res[0][0].steps, sad->res[0][0].diverged),
                sad->best_lr[0][0], fmt_steps(d, sad->res[0][2].steps, 0), rank_s);
        }
        ok = k4->res[3][2].steps > 0 && sad->res[3][2].steps > 0 &&
             (k4->res[0][2].steps < 0 || k4->res[3][2].steps < k4->res[0][2].steps) &&
             (sad->res[0][2].steps < 0 || sad->res[3][2].steps < sad->res[0][2].steps);
        ok = ok && sad->res[3][0].steps > 0 && (sad->res[0][0].steps < 0 || sad->res[3][0].steps < sad->res[0][0].steps);
        claim(1, ok, "Adam does well on both: it reaches the target on the κ = 1e4 quadratic and escapes the saddle in "
                     "fewer steps than SGD, at their best grid lrs and, on the saddle, at the defaults too, where its "
                     "normalized step does not shrink with the tiny gradient across the ridge (asserted). At the best "
                     "lrs several methods escape the saddle in one large step; the rank among all optimizers is in the table.");
    }
    /* ---- claims 5 and 7: plateau decay and weight averaging on the noisy quadratic ---- */
    {
        const cv_problem *nq = &sp[8].pb;
        nnopt_hparams h;
        cv_schedule sc;
        cv_result cst[2], dec[2], last, avg, ema;
        static const nnopt_kind kinds[2] = {NNOPT_SGD, NNOPT_ADAM};
        static const double lrs[2] = {0.02, 0.1};
        int k, ok = 1;
        memset(&sc, 0, sizeof sc);
        sc.plateau = 1; sc.every = 50;
        sc.params = nnopt_sched_defaults(NNOPT_SCHED_PLATEAU);
        sc.params.patience = 2; sc.params.factor = 0.5;
        out("\n### Learning-rate decay after a plateau\n\nStochastic 100-D noisy quadratic, 2000 steps; "
            "ReduceLROnPlateau (factor 0.5, patience 2) stepped with the loss every 50 steps against the same lr held "
            "constant. The loss of one noisy iterate fluctuates, so the columns give the mean f over the last 200 "
            "steps (evaluated every 10).\n\n| method | lr | constant lr: mean final f | plateau decay: mean final f |\n|---|---|---|---|\n");
        for (k = 0; k < 2; k++) {
            h = nnopt_defaults(kinds[k]); h.lr = lrs[k];
            cst[k] = cv_run(nq, &h, 2000, 1, SEED, NULL, 0, NULL);
            dec[k] = cv_run(nq, &h, 2000, 1, SEED, &sc, 0, NULL);
            out("| %s | %g | %.4g | %.4g |\n", nnopt_kind_name(kinds[k]), lrs[k], cst[k].tail_loss, dec[k].tail_loss);
            ok &= dec[k].tail_loss < 0.5 * cst[k].tail_loss;
        }
        out("\n");
        claim(1, ok, "Decaying the lr after a plateau lowers the final loss (asserted: below half), because the noise "
                     "floor of a stochastic method scales with its lr.");

        h = nnopt_defaults(NNOPT_SGD); h.lr = 0.02;
        last = cv_run(nq, &h, 2000, 1, SEED, NULL, 0, NULL);
        h.average = NNOPT_AVERAGE_SWA; h.average_start = 1000;
        avg = cv_run(nq, &h, 2000, 1, SEED, NULL, 1, NULL);
        h.average = NNOPT_AVERAGE_EMA; h.average_decay = 0.99; h.average_start = 0;
        ema = cv_run(nq, &h, 2000, 1, SEED, NULL, 1, NULL);
        out("\n### Weight averaging on the noisy quadratic\n\nSGD at a constant lr 0.02, 2000 stochastic steps; "
            "mean f over the last 200 steps, as above.\n\n");
        out("| parameters | mean final f |\n|---|---|\n| last iterate | %.4g |\n| SWA average from step 1000 | %.4g |\n"
            "| EMA average, decay 0.99 | %.4g |\n\n", last.tail_loss, avg.tail_loss, ema.tail_loss);
        claim(1, avg.tail_loss < 0.5 * last.tail_loss && ema.tail_loss < last.tail_loss,
              "Weight averaging lowers the final loss (asserted: SWA below half of the last iterate's, EMA below it): "
              "averaging cancels the iterates' noise around the minimum.");
    }
    /* ---- claims 6 and 8: the spiral MLP ---- */
    {
        enum { NREG = 5 };
        cv_problem mlp;
        static const char *names[NREG] = {"no regularization", "L2 1e-3", "dropout 0.1", "dropout 0.3", "dropout 0.5"};
        static const double l2s[NREG] = {0, 1e-3, 0, 0, 0}, drops[NREG] = {0, 0, 0.1, 0.3, 0.5};
        double gap[NREG];
        float *params = (float *)malloc(sizeof(float) * 1000);
        cv_trace tr;
        nnopt_hparams h;
        int k;
        double acc_adam, acc_mom;
        memset(&tr, 0, sizeof tr);
        tr.final_params = params;
        out("\n### Regularization on the spiral MLP\n\nThe 2-layer network (100 hidden units) trained with Adam "
            "(lr 0.01, full batch) for 4000 steps, long enough to overfit; the held-out set is 1000 points per class of "
            "the same recipe with their own noise. L2 is the loss's ½·λ·(|W1|² + |W2|²) term; dropout is inverted "
            "dropout on the hidden units with a new mask every step (`nnopt_dropout_forward`, and "
            "`nnopt_dropout_backward` regenerating the mask in the backward pass), and is off when the losses below "
            "are evaluated.\n\n");
        out("| model | train CE | held-out CE | gap | train acc. | held-out acc. |\n|---|---|---|---|---|---|\n");
        for (k = 0; k < NREG; k++) {
            double c0 = cpu_now(), tl, vl;
            cv_problem_data(&mlp, CV_MLP, "mlp_reg", 100, l2s[k], SEED);
            mlp.dropout = drops[k];
            mlp.eval_every = 4000; mlp.target = -1;
            h = nnopt_defaults(NNOPT_ADAM); h.lr = 0.01;
            cv_run(&mlp, &h, 4000, 0, SEED, NULL, 0, &tr);
            tl = cv_data_loss(&mlp, params, 0); vl = cv_data_loss(&mlp, params, 1);
            gap[k] = vl - tl;
            out("| %s | %.4f | %.4f | %.4f | %.1f%% | %.1f%% |\n", names[k], tl, vl, gap[k],
                100 * cv_accuracy(&mlp, params, 0), 100 * cv_accuracy(&mlp, params, 1));
            fprintf(times, "%-18s %-18s %8.3f s CPU\n", "mlp_regularization", names[k], cpu_now() - c0);
            cpu_total += cpu_now() - c0;
            cv_problem_free(&mlp);
        }
        out("\n");
        claim(1, gap[1] < 0.5 * gap[0], "L2 narrows the train/held-out gap of the cross-entropy (asserted: below half of "
                                        "the unregularized gap; it also raises the training loss, as a penalty must).");
        {
            char text[600];
            int narrowed = (gap[2] < gap[0]) + (gap[3] < gap[0]) + (gap[4] < gap[0]);
            snprintf(text, sizeof text, "Dropout narrows the gap: here it does for %d of the 3 rates (measured, not "
                     "asserted). On this 2-D problem with 300 training points dropout of the hidden units is not a "
                     "reliable regularizer: in trials with three other draws of the data dropout 0.5 widened the "
                     "gap in two of them, while L2 narrowed it in all three.", narrowed);
            claim(0, narrowed == 3, text);
        }

        h = roster_hparams(3, 0.01);
        cv_run(&sp[11].pb, &h, 1000, 0, SEED, NULL, 0, &tr); acc_adam = cv_accuracy(&sp[11].pb, params, 0);
        h = roster_hparams(1, 0.1);
        cv_run(&sp[11].pb, &h, 1000, 0, SEED, NULL, 0, &tr); acc_mom = cv_accuracy(&sp[11].pb, params, 0);
        out("\n### Spiral MLP accuracy\n\nThe table's MLP (L2 1e-3), full batch, 1000 steps: Adam lr 0.01 reaches %.1f%% "
            "training accuracy, SGD+momentum lr 0.1 %.1f%%.\n\n", 100 * acc_adam, 100 * acc_mom);
        claim(1, acc_adam >= 0.98 && acc_mom >= 0.98, "The 2-layer MLP reaches at least 98% training accuracy with Adam and with SGD+momentum.");
        free(params);
    }

    /* ---- tables and figures ---- */
    out("\n## Results per problem\n\nColumns: the default lr's steps to the target and final loss; the best lr of the "
        "grid with its steps and final loss; the same two for the stochastic variant, with the mean loss over the "
        "last tenth of the budget. Figures: paths over contours of f (the start is the dot, the minimum the "
        "circle), and f minus its minimum against the step on log scales (values under the floor are drawn on it).\n");
    for (i = 0; i < np; i++) {
        char name[96];
        table(&sp[i]);
        if (sp[i].figure) {
            snprintf(name, sizeof name, "paths_%s", sp[i].pb.name);
            /* the saddle at the defaults: at the best lrs every method leaves in a few jumps */
            contour_figure(&sp[i], name, 2000, sp[i].pb.kind == CV_SADDLE);
            out("\n![paths](figures/convergence_%s.svg)\n", name);
        }
        if (sp[i].pb.kind != CV_SADDLE) {
            snprintf(name, sizeof name, "loss_%s", sp[i].pb.name);
            loss_figure(&sp[i], name, 0);
            out("\n![loss](figures/convergence_%s.svg)\n", name);
            if (sp[i].pb.kind >= CV_NOISY_QUADRATIC) {
                snprintf(name, sizeof name, "loss_%s_stochastic", sp[i].pb.name);
                loss_figure(&sp[i], name, 1);
                out("\n![loss](figures/convergence_%s.svg)\n", name);
            }
        }
    }
    out("\n## Notes\n\n- Rprop and LARS are full-batch and large-batch methods; their stochastic rows are shown for "
        "completeness.\n");
    fclose(md);
    fprintf(times, "total %.1f s CPU\n", cpu_total);
    if (times != stdout) fclose(times);
    for (i = 0; i < np; i++) cv_problem_free(&sp[i].pb);
    printf("converge: wrote %s/convergence.md; %d asserted claim(s) failed\n", figdir, claims_failed);
    return claims_failed ? 1 : 0;
}
