/* Optimizer benchmarks: every optimizer kind (and the SWA and EMA updates, and the gradient
   norm of clipping) at
   4K, 16K, 64K, 1M and 16M elements on each ISA path, beside three baselines: the plain C
   loop built -O2 with no -march (naive-O2), the same loop built -O3 -march=native
   (naive-native), and a streaming loop with the kernel's reads and writes (roof).
   The counters roof, vs_naive and vs_native compare the kernel with the baselines timed
   alternately with it in the same run (best of 5 rounds each, from cold caches at 16M), so a
   slow moment of the machine affects both sides. Built with OpenMP, the 16K (in cache) and 16M
   cases of the best path also run on every core (counter: scaling, over its one-thread time). */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#  include <omp.h>
#endif

enum { AVG_NONE = 0, AVG_SWA = 1, AVG_EMA = 2, CLIP_NORM = 3 };

typedef struct {
    const char *name;
    nnopt_hparams h;            /* optimizers */
    int average;                /* AVG_SWA / AVG_EMA / CLIP_NORM: that kernel instead */
    int passes;                 /* streaming passes: {reads, writes} each */
    int traffic[2][2];
} bench_case;

typedef struct {
    const bench_case *c;
    size_t n;
    int variant;                /* nnopt_isa, or a baseline below */
    int threads;                /* OpenMP threads (1 unless a scaling case) */
    double *single_seconds;     /* the best path's one-thread time at this size, for scaling */
    double best[4];             /* interleaved seconds per call: kernel, naive-O2, naive-native,
                                   roof (measured once, on the item's first run) */
} bench_item;

enum { BASE_NAIVE_O2 = -1, BASE_NAIVE_NATIVE = -2, BASE_ROOF = -3 };

static bench_case cases[NNOPT_KIND_COUNT + 4];
static int case_count;
static const size_t sizes[] = { 4096, 16384, 65536, 1 << 20, 1 << 24 };
#define SIZE_COUNT (sizeof sizes / sizeof sizes[0])

static void add_case(const char *name, nnopt_hparams h, int average, int r0, int w0, int r1, int w1)
{
    bench_case *c = &cases[case_count++];
    c->name = name; c->h = h; c->average = average;
    c->traffic[0][0] = r0; c->traffic[0][1] = w0;
    c->traffic[1][0] = r1; c->traffic[1][1] = w1;
    c->passes = r1 ? 2 : 1;
}

/* Every kind at its defaults (SGD with momentum), with the memory traffic the library states
   for it (nnopt_traits), then the averaging updates and gradient clipping. */
static void define_cases(void)
{
    nnopt_hparams h;
    nnopt_kind_traits t;
    int kind;
    for (kind = 0; kind < NNOPT_KIND_COUNT; kind++) {
        h = nnopt_defaults((nnopt_kind)kind);
        if (kind == NNOPT_SGD) h.momentum = 0.9;
        if (nnopt_traits(&h, &t) != NNOPT_OK) continue;
        add_case(kind == NNOPT_SGD ? "sgd_momentum" : nnopt_kind_name((nnopt_kind)kind), h, AVG_NONE,
                 t.reads[0], t.writes[0], t.passes > 1 ? t.reads[1] : 0, t.passes > 1 ? t.writes[1] : 0);
    }
    h = nnopt_defaults(NNOPT_SGD);
    add_case("swa_update", h, AVG_SWA, 2, 1, 0, 0);             /* reads avg, p; writes avg */
    add_case("ema_update", h, AVG_EMA, 2, 1, 0, 0);
    add_case("clip_grad_norm", h, CLIP_NORM, 1, 0, 0, 0);     /* the norm; under max_norm */
}

static double case_bytes(const bench_case *c, size_t n)
{
    int k;
    double b = 0;
    for (k = 0; k < c->passes; k++) b += (double)(c->traffic[k][0] + c->traffic[k][1]) * 4.0 * (double)n;
    return b;
}

/* One call of a baseline on the shared arrays (p = 0, g = 1, state 2..4). */
static void run_baseline(const bench_case *c, size_t n, int which, double t)
{
    float **arr = bench_arrays();
    if (which == BASE_ROOF) {
        int k;
        for (k = 0; k < c->passes; k++) roof_stream(arr, c->traffic[k][0], c->traffic[k][1], n);
    } else {
        naive_args a;
        memset(&a, 0, sizeof a);
        a.n = n; a.p = arr[0]; a.g = arr[1]; a.s[0] = arr[2]; a.s[1] = arr[3]; a.s[2] = arr[4];
        a.kind = c->average ? -c->average : (int)c->h.kind;
        a.lr = c->h.lr; a.beta1 = c->h.beta1; a.beta2 = c->h.beta2; a.eps = c->h.eps;
        a.weight_decay = c->h.weight_decay; a.momentum = c->h.momentum; a.t = t;
        if (which == BASE_NAIVE_O2) naive_O2_step(&a); else naive_native_step(&a);
    }
}

/* One call of the kernel: an optimizer step, or an averaging update into array 2. */
static void run_kernel(const bench_case *c, nnopt_optimizer *opt, size_t n, double t)
{
    float **arr = bench_arrays();
    if (c->average == CLIP_NORM) nnopt_clip_grad_norm(arr[1], n, 1e30, 2.0, 0, NULL);
    else if (c->average == AVG_SWA) nnopt_swa_update(arr[2], arr[0], n, (uint64_t)t);
    else if (c->average == AVG_EMA) nnopt_ema_update(arr[2], arr[0], n, 0.999, (uint64_t)t);
    else nnopt_step(opt, arr[0], arr[1]);
}

/* Evicts the caches: this machine's last-level cache can hold much of a 16M case, and which
   arrays it happens to hold would otherwise decide the comparison. */
static void flush_caches(void)
{
    static unsigned char *junk;
    static unsigned char fill;
    const size_t bytes = (size_t)512 << 20;
    if (!junk) junk = (unsigned char *)malloc(bytes);
    if (junk) memset(junk, ++fill, bytes);
}

/* Seconds per call of the kernel and of each baseline, timed alternately: 5 rounds, each a
   batch of calls lasting at least 5 ms; the best round of each. At 16M every batch starts
   from cold caches. */
static void interleaved_seconds(const bench_item *b, nnopt_optimizer *opt, double best[4])
{
    int round, v;
    double t = 1;
    for (v = 0; v < 4; v++) best[v] = 1e30;
    for (round = 0; round < 5; round++)
        for (v = 0; v < 4; v++) {
            double start, elapsed;
            long calls = 0;
            if (b->n >= BENCH_MAX_N) flush_caches();
            start = bench_now();
            do {
                if (v == 0) run_kernel(b->c, opt, b->n, t++);
                else run_baseline(b->c, b->n, -v, t++);
                calls++;
                elapsed = bench_now() - start;
            } while (elapsed < 0.005);
            if (elapsed / (double)calls < best[v]) best[v] = elapsed / (double)calls;
        }
}

static void set_totals(nb_state *st, const bench_item *b)
{
    int64_t iters = nb_iterations(st);
    nb_set_items(st, iters * (int64_t)b->n);
    nb_set_bytes(st, (int64_t)((double)iters * case_bytes(b->c, b->n)));
}

static void bench_fn(nb_state *st, void *ctx)
{
    bench_item *b = (bench_item *)ctx;
    float **arr = bench_arrays();
    nnopt_optimizer *opt = NULL;
    double start, seconds, t = 1;
    int64_t iters;
#ifdef _OPENMP
    omp_set_num_threads(b->threads);
#endif
    if (b->variant < 0) {
        while (nb_keep_running(st)) run_baseline(b->c, b->n, b->variant, t++);
        set_totals(st, b);
        return;
    }
    if (nnopt_isa_set((nnopt_isa)b->variant) != NNOPT_OK) { nb_skip(st, "path not available"); return; }
    if (!b->c->average && !(opt = nnopt_create(&b->c->h, b->n))) { nb_skip(st, "create failed"); return; }
    (void)arr;
    start = bench_now();
    while (nb_keep_running(st)) run_kernel(b->c, opt, b->n, t++);
    iters = nb_iterations(st);
    seconds = (bench_now() - start) / (double)(iters ? iters : 1);
    if (b->threads > 1) {
        if (b->single_seconds && *b->single_seconds > 0) nb_counter(st, "scaling", *b->single_seconds / seconds);
        nb_counter(st, "threads", b->threads);
    } else {
        if (b->single_seconds) *b->single_seconds = seconds;
        if (b->best[0] == 0) interleaved_seconds(b, opt, b->best);
        nb_counter(st, "roof", b->best[-BASE_ROOF] / b->best[0]);
        nb_counter(st, "vs_naive", b->best[-BASE_NAIVE_O2] / b->best[0]);
        nb_counter(st, "vs_native", b->best[-BASE_NAIVE_NATIVE] / b->best[0]);
    }
    nnopt_destroy(opt);
    set_totals(st, b);
}

void register_optim_benchmarks(void)
{
    static bench_item items[(NNOPT_KIND_COUNT + 4) * SIZE_COUNT * 7];
    static double single[NNOPT_KIND_COUNT + 4][SIZE_COUNT];
    static const char *const baseline_names[] = { "", "naive-O2", "naive-native", "roof" };
    int nb = 0, c, v, threads = 1;
    size_t s;
#ifdef _OPENMP
    threads = omp_get_num_procs();
#endif
    define_cases();
    for (c = 0; c < case_count; c++)
        for (s = 0; s < SIZE_COUNT; s++) {
            for (v = NNOPT_ISA_SCALAR; v <= (int)nnopt_isa_best(); v++) {
                bench_item *b = &items[nb++];
                b->c = &cases[c]; b->n = sizes[s]; b->variant = v; b->threads = 1;
                if (v == (int)nnopt_isa_best()) b->single_seconds = &single[c][s];
                bench_register("optim", cases[c].name, nnopt_isa_name((nnopt_isa)v), sizes[s], bench_fn, b);
            }
            if (threads > 1 && (s + 1 == SIZE_COUNT || sizes[s] == 16384)) {   /* DRAM; in cache */
                bench_item *b = &items[nb++];
                char variant[32];
                b->c = &cases[c]; b->n = sizes[s]; b->variant = (int)nnopt_isa_best();
                b->threads = threads; b->single_seconds = &single[c][s];
                snprintf(variant, sizeof variant, "%s-%dthreads", nnopt_isa_name(nnopt_isa_best()), threads);
                bench_register("optim", cases[c].name, variant, sizes[s], bench_fn, b);
            }
            for (v = BASE_NAIVE_O2; v >= BASE_ROOF; v--) {
                bench_item *b = &items[nb++];
                b->c = &cases[c]; b->n = sizes[s]; b->variant = v; b->threads = 1;
                bench_register("optim", cases[c].name, baseline_names[-v], sizes[s], bench_fn, b);
            }
        }
}
