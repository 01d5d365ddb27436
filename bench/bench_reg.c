/* Regularization benchmarks: the penalties (gradient and value; value alone), the proximal
   gradient step and max-norm at 4K, 64K, 1M and 16M elements on each ISA path, beside a
   streaming loop with the kernel's reads and writes (roof, bench/roof.c) and, where a user
   would write one, the plain C loop built like the library (-O2, no -march). The counters
   roof and vs_naive come from timing the kernel and the baselines alternately (best of 5
   rounds of at least 5 ms each). */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { REG_PENALTY, REG_PENALTY_VALUE, REG_PROXIMAL, REG_MAX_NORM, REG_CASES };
static const char *const reg_names[REG_CASES] = { "penalty", "penalty_value", "proximal_sgd", "max_norm" };
/* {reads, writes} of the roof stream, and bytes per element the kernel moves */
static const int reg_traffic[REG_CASES][2] = { { 2, 1 }, { 1, 0 }, { 2, 1 }, { 1, 0 } };
static const double reg_bytes[REG_CASES] = { 12, 4, 12, 4 };
#define REG_COLS 1024                /* max-norm: rows of 1024 floats, none over the bound */

typedef struct { int kernel, variant; size_t n; double best[3]; } reg_item;
enum { BASE_NAIVE = -1, BASE_ROOF = -2 };

static volatile double reg_sink;

/* arrays: 0 = the gradient (or w for in-place kernels), 1 = w (or the gradient) */
static void reg_kernel(int kernel, size_t n)
{
    float **arr = bench_arrays();
    double value = 0;
    switch (kernel) {
    case REG_PENALTY: nnopt_penalty_elastic_net(arr[1], arr[0], n, 1e-7, 1e-7, &value); break;
    case REG_PENALTY_VALUE: nnopt_penalty_elastic_net(arr[1], NULL, n, 1e-4, 1e-4, &value); break;
    case REG_PROXIMAL: nnopt_proximal_sgd_step(arr[0], arr[1], n, 1e-3, 1e-7, 1e-7); break;
    default: nnopt_max_norm(arr[1], n / REG_COLS ? n / REG_COLS : 1, n < REG_COLS ? n : REG_COLS, 1e30, NULL); break;
    }
    reg_sink = value;
}

/* The loop a user would write (this file is built -O2 with no -march). */
static void reg_naive(int kernel, size_t n)
{
    float **arr = bench_arrays();
    float *g = arr[0], *w = arr[1], l1 = 1e-7f, l2 = 1e-7f;
    double s1 = 0, s2 = 0;
    size_t i;
    switch (kernel) {
    case REG_PENALTY:
        for (i = 0; i < n; i++) {
            float x = w[i];
            g[i] += l1 * (float)((x > 0) - (x < 0)) + l2 * x;
            s1 += fabsf(x); s2 += (double)x * x;
        }
        break;
    case REG_PENALTY_VALUE:
        for (i = 0; i < n; i++) { s1 += fabsf(w[i]); s2 += (double)w[i] * w[i]; }
        break;
    case REG_PROXIMAL:
        for (i = 0; i < n; i++) {
            float v = g[i] - 1e-3f * w[i], t = fabsf(v) - 1e-10f;
            g[i] = t > 0 ? copysignf(t, v) / (1.0f + 1e-10f) : 0.0f;
        }
        break;
    default: {
        size_t r, cols = n < REG_COLS ? n : REG_COLS, rows = n / cols;
        for (r = 0; r < rows; r++) {
            double s = 0;
            for (i = 0; i < cols; i++) s += (double)w[r * cols + i] * w[r * cols + i];
            if (sqrt(s) > 1e30) for (i = 0; i < cols; i++) w[r * cols + i] *= 0.5f;
        }
    }
    }
    reg_sink = s1 + s2;
}

static void reg_baseline(int kernel, size_t n, int which)
{
    if (which == BASE_ROOF) roof_stream(bench_arrays(), reg_traffic[kernel][0], reg_traffic[kernel][1], n);
    else reg_naive(kernel, n);
}

static void reg_flush(void)
{
    static unsigned char *junk;
    static unsigned char fill;
    const size_t bytes = (size_t)512 << 20;
    if (!junk) junk = (unsigned char *)malloc(bytes);
    if (junk) memset(junk, ++fill, bytes);
}

/* Seconds per call of the kernel, the naive loop and the roof, timed alternately. */
static void reg_interleaved(const reg_item *b, double best[3])
{
    int round, v;
    for (v = 0; v < 3; v++) best[v] = 1e30;
    for (round = 0; round < 5; round++)
        for (v = 0; v < 3; v++) {
            double start, elapsed;
            long calls = 0;
            if (b->n >= BENCH_MAX_N) reg_flush();
            start = bench_now();
            do {
                if (v == 0) reg_kernel(b->kernel, b->n);
                else reg_baseline(b->kernel, b->n, -v);
                calls++;
                elapsed = bench_now() - start;
            } while (elapsed < 0.005);
            if (elapsed / (double)calls < best[v]) best[v] = elapsed / (double)calls;
        }
}

static void reg_bench(nb_state *st, void *ctx)
{
    reg_item *b = (reg_item *)ctx;
    int64_t iters;
    if (b->variant < 0) {
        while (nb_keep_running(st)) reg_baseline(b->kernel, b->n, b->variant);
    } else {
        if (nnopt_isa_set((nnopt_isa)b->variant) != NNOPT_OK) { nb_skip(st, "path not available"); return; }
        while (nb_keep_running(st)) reg_kernel(b->kernel, b->n);
        if (b->best[0] == 0) reg_interleaved(b, b->best);
        nb_counter(st, "roof", b->best[2] / b->best[0]);
        nb_counter(st, "vs_naive", b->best[1] / b->best[0]);
    }
    iters = nb_iterations(st);
    nb_set_items(st, iters * (int64_t)b->n);
    nb_set_bytes(st, (int64_t)((double)iters * (double)b->n * reg_bytes[b->kernel]));
}

void register_reg_benchmarks(void)
{
    static const size_t sizes[] = { 4096, 65536, 1 << 20, 1 << 24 };
    static reg_item items[REG_CASES * 4 * 5];
    int nb = 0, k, v;
    size_t s;
    for (k = 0; k < REG_CASES; k++)
        for (s = 0; s < 4; s++) {
            for (v = NNOPT_ISA_SCALAR; v <= (int)nnopt_isa_best(); v++) {
                reg_item *b = &items[nb++];
                b->kernel = k; b->variant = v; b->n = sizes[s];
                bench_register("reg", reg_names[k], nnopt_isa_name((nnopt_isa)v), sizes[s], reg_bench, b);
            }
            for (v = BASE_NAIVE; v >= BASE_ROOF; v--) {
                reg_item *b = &items[nb++];
                b->kernel = k; b->variant = v; b->n = sizes[s];
                bench_register("reg", reg_names[k], v == BASE_NAIVE ? "naive-O2" : "roof", sizes[s], reg_bench, b);
            }
        }
}
