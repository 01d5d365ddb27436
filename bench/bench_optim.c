/* Optimizer benchmarks: every kind at 4K, 16K, 64K, 1M and 16M parameters on each ISA path, beside
   the plain C loop (-O2; and -O3 -march=native), and the streaming roof with the kernel's
   traffic. Counters: roof (fraction of the roof's bytes/s), vs_naive, vs_native. Built with
   OpenMP, the 16M case of the best path also runs on every core (counter: scaling, the
   speed-up over its one-thread run). */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#  include <omp.h>
#endif

typedef struct {
    const char *name;
    nnopt_hparams h;
    int passes;                 /* streaming passes: {reads, writes} each */
    int traffic[2][2];
} optim_case;

typedef struct {
    const optim_case *c;
    size_t n;
    int isa;                    /* nnopt_isa, or one of the baselines below */
    int threads;                /* OpenMP threads (1 unless a scaling case) */
    double *single_seconds;     /* the one-thread run of the same case, for the scaling counter */
} optim_bench;

enum { BASE_NAIVE_O2 = -1, BASE_NAIVE_NATIVE = -2, BASE_ROOF = -3 };

static optim_case cases[NNOPT_KIND_COUNT + 1];
static int case_count;
static const size_t sizes[] = { 4096, 16384, 65536, 1 << 20, 1 << 24 };
#define SIZE_COUNT (sizeof sizes / sizeof sizes[0])

/* Seconds per call of each baseline, by case and size (0 until measured). */
static double baseline_seconds[NNOPT_KIND_COUNT + 1][SIZE_COUNT][3];

static void add_case(const char *name, nnopt_hparams h, int r0, int w0, int r1, int w1)
{
    optim_case *c = &cases[case_count++];
    c->name = name; c->h = h;
    c->traffic[0][0] = r0; c->traffic[0][1] = w0;
    c->traffic[1][0] = r1; c->traffic[1][1] = w1;
    c->passes = r1 ? 2 : 1;
}

static void define_cases(void)
{
    nnopt_hparams h;
    int kind;
    h = nnopt_defaults(NNOPT_SGD); h.lr = 1e-3; h.momentum = 0.9;
    add_case("sgd_momentum", h, 3, 2, 0, 0);
    for (kind = NNOPT_ADAM; kind < NNOPT_KIND_COUNT; kind++) {
        h = nnopt_defaults((nnopt_kind)kind);
        switch (kind) {
        case NNOPT_ADAGRAD: case NNOPT_RMSPROP: case NNOPT_ASGD: case NNOPT_LION:
            add_case(nnopt_kind_name((nnopt_kind)kind), h, 3, 2, 0, 0); break;
        case NNOPT_LAMB:
            add_case("lamb", h, 4, 2, 3, 1); break;      /* moments + norms, then apply */
        case NNOPT_LARS:
            add_case("lars", h, 2, 0, 3, 2); break;      /* norms, then apply */
        default:
            add_case(nnopt_kind_name((nnopt_kind)kind), h, 4, 3, 0, 0); break;
        }
    }
}

static double case_bytes(const optim_case *c, size_t n)
{
    int k;
    double b = 0;
    for (k = 0; k < c->passes; k++) b += (double)(c->traffic[k][0] + c->traffic[k][1]) * 4.0 * (double)n;
    return b;
}

/* One call of a baseline on the shared arrays. */
static void run_baseline(const optim_case *c, size_t n, int which, double t)
{
    if (which == BASE_ROOF) {
        int k;
        for (k = 0; k < c->passes; k++) roof_stream(bench_arrays(), c->traffic[k][0], c->traffic[k][1], n);
    } else {
        naive_args a;
        float **arr = bench_arrays();
        memset(&a, 0, sizeof a);
        a.n = n; a.p = arr[0]; a.g = arr[1]; a.s[0] = arr[2]; a.s[1] = arr[3]; a.s[2] = arr[4];
        a.kind = c->h.kind; a.lr = c->h.lr; a.beta1 = c->h.beta1; a.beta2 = c->h.beta2;
        a.eps = c->h.eps; a.weight_decay = c->h.weight_decay; a.momentum = c->h.momentum; a.t = t;
        if (which == BASE_NAIVE_O2) naive_O2_step(&a); else naive_native_step(&a);
    }
}

static double *baseline_slot(const optim_bench *b, int which)
{
    size_t s;
    for (s = 0; s < SIZE_COUNT; s++)
        if (sizes[s] == b->n) break;
    return &baseline_seconds[b->c - cases][s][-which - 1];
}

/* A baseline's seconds per call: from its own benchmark if it ran, else timed here. */
static double baseline(const optim_bench *b, int which)
{
    double *slot = baseline_slot(b, which);
    if (*slot == 0) {
        long calls = 0;
        double start = bench_now(), t = 1;
        do { run_baseline(b->c, b->n, which, t++); calls++; } while (bench_now() - start < 0.2);
        *slot = (bench_now() - start) / (double)calls;
    }
    return *slot;
}

static void set_totals(nb_state *st, const optim_bench *b)
{
    int64_t iters = nb_iterations(st);
    nb_set_items(st, iters * (int64_t)b->n);
    nb_set_bytes(st, (int64_t)((double)iters * case_bytes(b->c, b->n)));
}

static void optim_bench_fn(nb_state *st, void *ctx)
{
    const optim_bench *b = (const optim_bench *)ctx;
    double start, seconds, t = 1;
    int64_t iters;
    if (b->isa < 0) {
        start = bench_now();
        while (nb_keep_running(st)) run_baseline(b->c, b->n, b->isa, t++);
        iters = nb_iterations(st);
        *baseline_slot(b, b->isa) = (bench_now() - start) / (double)(iters ? iters : 1);
    } else {
        float **arr = bench_arrays();
        nnopt_optimizer *opt;
#ifdef _OPENMP
        omp_set_num_threads(b->threads);
#endif
        if (nnopt_isa_set((nnopt_isa)b->isa) != NNOPT_OK) { nb_skip(st, "path not available"); return; }
        opt = nnopt_create(&b->c->h, b->n);
        if (!opt) { nb_skip(st, "create failed"); return; }
        start = bench_now();
        while (nb_keep_running(st)) nnopt_step(opt, arr[0], arr[1]);
        iters = nb_iterations(st);
        seconds = (bench_now() - start) / (double)(iters ? iters : 1);
        nnopt_destroy(opt);
        if (b->threads > 1) {
            if (*b->single_seconds > 0) nb_counter(st, "scaling", *b->single_seconds / seconds);
            nb_counter(st, "threads", b->threads);
            set_totals(st, b);
            return;
        }
        if (b->single_seconds) *b->single_seconds = seconds;
        nb_counter(st, "roof", baseline(b, BASE_ROOF) / seconds);
        nb_counter(st, "vs_naive", baseline(b, BASE_NAIVE_O2) / seconds);
        nb_counter(st, "vs_native", baseline(b, BASE_NAIVE_NATIVE) / seconds);
    }
    set_totals(st, b);
}

void register_optim_benchmarks(void)
{
    static optim_bench benches[(NNOPT_KIND_COUNT + 1) * SIZE_COUNT * 7];
    static double single[NNOPT_KIND_COUNT + 1];
    int nb = 0, c, which, threads = 1;
    size_t s;
#ifdef _OPENMP
    threads = omp_get_num_procs();
#endif
    define_cases();
    for (c = 0; c < case_count; c++)
        for (s = 0; s < SIZE_COUNT; s++)
            for (which = BASE_NAIVE_O2; which >= BASE_ROOF; which--) {
                optim_bench *b = &benches[nb++];
                const char *label = which == BASE_NAIVE_O2 ? "naive-O2" : which == BASE_NAIVE_NATIVE ? "naive-native" : "roof";
                b->c = &cases[c]; b->n = sizes[s]; b->isa = which; b->threads = 1;
                bench_register("optim", cases[c].name, label, sizes[s], optim_bench_fn, b);
            }
    for (c = 0; c < case_count; c++)
        for (s = 0; s < SIZE_COUNT; s++)
            for (which = NNOPT_ISA_SCALAR; which <= (int)nnopt_isa_best(); which++) {
                optim_bench *b = &benches[nb++];
                b->c = &cases[c]; b->n = sizes[s]; b->isa = which; b->threads = 1;
                /* the best path at the DRAM size also runs on every core: its one-thread time
                   is kept for the scaling counter */
                if (s + 1 == SIZE_COUNT && which == (int)nnopt_isa_best()) b->single_seconds = &single[c];
                bench_register("optim", cases[c].name, nnopt_isa_name((nnopt_isa)which), sizes[s], optim_bench_fn, b);
            }
    if (threads > 1)
        for (c = 0; c < case_count; c++) {
            optim_bench *b = &benches[nb++];
            char variant[32];
            b->c = &cases[c]; b->n = sizes[SIZE_COUNT - 1]; b->isa = (int)nnopt_isa_best();
            b->threads = threads; b->single_seconds = &single[c];
            snprintf(variant, sizeof variant, "%s-%dthreads", nnopt_isa_name(nnopt_isa_best()), threads);
            bench_register("optim", cases[c].name, variant, b->n, optim_bench_fn, b);
        }
}
