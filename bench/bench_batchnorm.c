/* Batch-norm benchmarks: training forward and backward, NCHW and NHWC, at (64, 256, 14, 14)
   (the target shape, "3M") and (16, 64, 7, 7) ("49K"), on each ISA path, beside:
     naive-O2  the plain C loops a user would write (two-pass statistics in double), -O2;
     roof      streaming loops with the passes the kernel needs (bench/roof.c, -O3
               -march=native): forward = read x (the statistics) + read x, write y;
               backward = read x, dy (the sums) + read x, dy, write dx;
     onednn    oneDNN's batch normalization on one thread (built when libdnnl-dev is
               installed: build.sh defines NNOPT_BENCH_DNNL and links -ldnnl).
   The counters roof and vs_naive compare the kernel with the baselines timed alternately
   with it in the same run (best of 5 rounds of at least 5 ms each). Bytes/s counts the
   passes' traffic: 12 bytes per element forward (x twice, y), 20 backward (x, dy twice, dx). */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#  include <omp.h>
#endif
#ifdef NNOPT_BENCH_DNNL
#  include <oneapi/dnnl/dnnl.h>
#endif

enum { BN_FWD = 0, BN_BWD = 1 };
enum { BASE_NAIVE = -1, BASE_ROOF = -2, BASE_DNNL = -3 };

typedef struct bn_shape { size_t n, c, hw; } bn_shape;
static const bn_shape shapes[] = { { 64, 256, 196 }, { 16, 64, 49 } };
#define SHAPE_COUNT (sizeof shapes / sizeof shapes[0])

typedef struct bn_item {
    int pass;                   /* BN_FWD or BN_BWD */
    nnopt_bn_layout layout;
    bn_shape s;
    int variant;                /* nnopt_isa, or a baseline */
    double best[3];             /* seconds per call: kernel, naive, roof (first run only) */
} bn_item;

#define C_MAX 256
static float gamma_[C_MAX], beta_[C_MAX], rmean[C_MAX], rvar[C_MAX], smean[C_MAX], sinvstd[C_MAX],
             dgamma[C_MAX], dbeta[C_MAX];

static void init_params(void)
{
    int c;
    for (c = 0; c < C_MAX; c++) {
        gamma_[c] = 1.0f + 0.01f * (float)c; beta_[c] = 0.1f; rmean[c] = 0.0f; rvar[c] = 1.0f;
        smean[c] = 0.5f; sinvstd[c] = 2.0f;
    }
}

static size_t total(const bn_shape *s) { return s->n * s->c * s->hw; }

/* ---- The plain C loops -------------------------------------------------------------------- */

/* Element (n, c, s) of the tensor in a layout. */
#define AT(layout, s, n_, c_, p_) ((layout) == NNOPT_BN_NHWC ? ((n_) * (s)->hw + (p_)) * (s)->c + (c_) \
                                                           : ((n_) * (s)->c + (c_)) * (s)->hw + (p_))

static void naive_forward(nnopt_bn_layout layout, const bn_shape *s, const float *x, float *y)
{
    size_t c, n, p;
    double m = (double)(s->n * s->hw);
    for (c = 0; c < s->c; c++) {
        double sum = 0, dev = 0, mean, invstd;
        float a, b;
        for (n = 0; n < s->n; n++)
            for (p = 0; p < s->hw; p++) sum += x[AT(layout, s, n, c, p)];
        mean = sum / m;
        for (n = 0; n < s->n; n++)
            for (p = 0; p < s->hw; p++) { double d = x[AT(layout, s, n, c, p)] - mean; dev += d * d; }
        invstd = 1.0 / sqrt(dev / m + 1e-5);
        rmean[c] = (float)(0.9 * rmean[c] + 0.1 * mean);
        rvar[c] = (float)(0.9 * rvar[c] + 0.1 * dev / (m - 1));
        a = (float)(gamma_[c] * invstd); b = (float)(beta_[c] - mean * gamma_[c] * invstd);
        for (n = 0; n < s->n; n++)
            for (p = 0; p < s->hw; p++) y[AT(layout, s, n, c, p)] = x[AT(layout, s, n, c, p)] * a + b;
    }
}

static void naive_backward(nnopt_bn_layout layout, const bn_shape *s, const float *x, const float *dy, float *dx)
{
    size_t c, n, p;
    double m = (double)(s->n * s->hw);
    for (c = 0; c < s->c; c++) {
        double sum = 0, dot = 0, k, gm;
        float mean = smean[c], invstd = sinvstd[c];
        for (n = 0; n < s->n; n++)
            for (p = 0; p < s->hw; p++) {
                size_t i = AT(layout, s, n, c, p);
                sum += dy[i]; dot += (x[i] - mean) * dy[i];
            }
        dgamma[c] = (float)(dot * invstd); dbeta[c] = (float)sum;
        k = dot * invstd * invstd / m; gm = sum / m;
        for (n = 0; n < s->n; n++)
            for (p = 0; p < s->hw; p++) {
                size_t i = AT(layout, s, n, c, p);
                dx[i] = (float)((dy[i] - gm - (x[i] - mean) * k) * invstd * gamma_[c]);
            }
    }
}

/* ---- oneDNN -------------------------------------------------------------------------------- */
#ifdef NNOPT_BENCH_DNNL
typedef struct dnnl_case { dnnl_primitive_t prim; dnnl_exec_arg_t args[10]; int nargs; int ok; } dnnl_case;
static float dnnl_mean[C_MAX], dnnl_var[C_MAX];
static dnnl_engine_t dnnl_eng;
static dnnl_stream_t dnnl_str;

/* Training forward (statistics as outputs) or backward (prop kind backward: diff scale and
   shift too), scale and shift on, in the layout's format. */
static void dnnl_setup(dnnl_case *d, int pass, nnopt_bn_layout layout, const bn_shape *s, float **arr)
{
    dnnl_dims_t dims;
    dnnl_memory_desc_t md, cmd;
    dnnl_batch_normalization_desc_t desc, fdesc;
    dnnl_primitive_desc_t pd, fpd = NULL;
    dnnl_dims_t cdims;
    dnnl_memory_t m[10];
    unsigned flags = dnnl_use_scale | dnnl_use_shift;
    int k;
    memset(d, 0, sizeof *d);
    if (!dnnl_eng && (dnnl_engine_create(&dnnl_eng, dnnl_cpu, 0) != dnnl_success ||
                      dnnl_stream_create(&dnnl_str, dnnl_eng, dnnl_stream_default_flags) != dnnl_success))
        return;
    dims[0] = (dnnl_dim_t)s->n; dims[1] = (dnnl_dim_t)s->c; dims[2] = (dnnl_dim_t)s->hw; dims[3] = 1;
    cdims[0] = (dnnl_dim_t)s->c;
    if (dnnl_memory_desc_init_by_tag(&md, 4, dims, dnnl_f32, layout == NNOPT_BN_NHWC ? dnnl_nhwc : dnnl_nchw) ||
        dnnl_memory_desc_init_by_tag(&cmd, 1, cdims, dnnl_f32, dnnl_a))
        return;
    if (dnnl_batch_normalization_forward_desc_init(&fdesc, dnnl_forward_training, &md, 1e-5f, flags) ||
        dnnl_primitive_desc_create(&fpd, &fdesc, NULL, dnnl_eng, NULL))
        return;
    if (pass == BN_FWD) {
        pd = fpd;
    } else if (dnnl_batch_normalization_backward_desc_init(&desc, dnnl_backward, &md, &md, 1e-5f, flags) ||
               dnnl_primitive_desc_create(&pd, &desc, NULL, dnnl_eng, fpd)) {
        return;
    }
    if (dnnl_primitive_create(&d->prim, pd)) return;
    /* x = arr[0], dy = arr[1], y or dx = arr[2]; per-channel vectors from this file */
    {
        struct { int arg; const dnnl_memory_desc_t *md; void *ptr; } a[10] = {
            { DNNL_ARG_SRC, &md, arr[0] }, { DNNL_ARG_SCALE, &cmd, gamma_ }, { DNNL_ARG_SHIFT, &cmd, beta_ },
            { DNNL_ARG_MEAN, &cmd, dnnl_mean }, { DNNL_ARG_VARIANCE, &cmd, dnnl_var },
            { pass == BN_FWD ? DNNL_ARG_DST : DNNL_ARG_DIFF_DST, &md, pass == BN_FWD ? arr[2] : arr[1] },
            { DNNL_ARG_DIFF_SRC, &md, arr[2] }, { DNNL_ARG_DIFF_SCALE, &cmd, dgamma },
            { DNNL_ARG_DIFF_SHIFT, &cmd, dbeta }, { 0, NULL, NULL } };
        int count = pass == BN_FWD ? 6 : 9;
        for (k = 0; k < count; k++) {
            if (dnnl_memory_create(&m[k], a[k].md, dnnl_eng, a[k].ptr)) return;
            d->args[k].arg = a[k].arg; d->args[k].memory = m[k];
        }
        d->nargs = count;
    }
    for (k = 0; k < C_MAX; k++) { dnnl_mean[k] = 0.5f; dnnl_var[k] = 0.25f; }   /* backward inputs */
    d->ok = 1;
}

static void dnnl_run(dnnl_case *d)
{
    dnnl_primitive_execute(d->prim, dnnl_str, d->nargs, d->args);
    dnnl_stream_wait(dnnl_str);
}
#endif

/* ---- Running ---------------------------------------------------------------------------- */

static void run_kernel(const bn_item *b)
{
    float **arr = bench_arrays();
    nnopt_bn_params p = nnopt_bn_defaults(b->layout, b->s.n, b->s.c, b->s.hw);
    if (b->pass == BN_FWD)
        nnopt_bn_forward_train(&p, arr[0], arr[2], gamma_, beta_, rmean, rvar, NULL, smean, sinvstd);
    else
        nnopt_bn_backward_train(&p, arr[0], arr[1], gamma_, beta_, smean, sinvstd, arr[2], dgamma, dbeta);
}

static void run_baseline(const bn_item *b, int which)
{
    float **arr = bench_arrays();
    size_t n = total(&b->s);
    if (which == BASE_ROOF) {
        if (b->pass == BN_FWD) { roof_stream(arr, 1, 0, n); roof_stream(arr, 2, 1, n); }
        else { roof_stream(arr, 2, 0, n); roof_stream(arr, 3, 1, n); }
    } else if (b->pass == BN_FWD) {
        naive_forward(b->layout, &b->s, arr[0], arr[2]);
    } else {
        naive_backward(b->layout, &b->s, arr[0], arr[1], arr[2]);
    }
}

static double pass_bytes(const bn_item *b) { return (b->pass == BN_FWD ? 12.0 : 20.0) * (double)total(&b->s); }

static void interleaved_seconds(const bn_item *b, double best[3])
{
    int round, v;
    for (v = 0; v < 3; v++) best[v] = 1e30;
    for (round = 0; round < 5; round++)
        for (v = 0; v < 3; v++) {
            double start = bench_now(), elapsed;
            long calls = 0;
            do {
                if (v == 0) run_kernel(b); else run_baseline(b, -v);
                calls++;
                elapsed = bench_now() - start;
            } while (elapsed < 0.005);
            if (elapsed / (double)calls < best[v]) best[v] = elapsed / (double)calls;
        }
}

static void bench_fn(nb_state *st, void *ctx)
{
    bn_item *b = (bn_item *)ctx;
    int64_t iters;
    (void)bench_arrays();   /* allocated and filled before any timing */
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    if (b->variant == BASE_DNNL) {
#ifdef NNOPT_BENCH_DNNL
        dnnl_case d;
        dnnl_setup(&d, b->pass, b->layout, &b->s, bench_arrays());
        if (!d.ok) { nb_skip(st, "oneDNN setup failed"); return; }
        while (nb_keep_running(st)) dnnl_run(&d);
        dnnl_primitive_destroy(d.prim);
#else
        nb_skip(st, "built without oneDNN");
        return;
#endif
    } else if (b->variant < 0) {
        while (nb_keep_running(st)) run_baseline(b, b->variant);
    } else {
        if (nnopt_isa_set((nnopt_isa)b->variant) != NNOPT_OK) { nb_skip(st, "path not available"); return; }
        while (nb_keep_running(st)) run_kernel(b);
        if (b->best[0] == 0) interleaved_seconds(b, b->best);
        nb_counter(st, "roof", b->best[2] / b->best[0]);
        nb_counter(st, "vs_naive", b->best[1] / b->best[0]);
    }
    iters = nb_iterations(st);
    nb_set_items(st, iters * (int64_t)total(&b->s));
    nb_set_bytes(st, (int64_t)((double)iters * pass_bytes(b)));
}

void register_batchnorm_benchmarks(void)
{
    static bn_item items[2 * 2 * SHAPE_COUNT * 6];
    static const char *const kernels[2][2] = { { "bn_fwd_train_nchw", "bn_fwd_train_nhwc" },
                                               { "bn_bwd_train_nchw", "bn_bwd_train_nhwc" } };
    static const char *const baselines[] = { "", "naive-O2", "roof", "onednn" };
    int nb = 0, pass, l, v;
    size_t s;
    init_params();
    for (pass = BN_FWD; pass <= BN_BWD; pass++)
        for (l = 0; l < 2; l++)
            for (s = 0; s < SHAPE_COUNT; s++)
                for (v = (int)nnopt_isa_best(); v >= BASE_DNNL; v--) {
                    bn_item *b = &items[nb++];
                    b->pass = pass; b->layout = l ? NNOPT_BN_NHWC : NNOPT_BN_NCHW; b->s = shapes[s];
                    b->variant = v;
                    bench_register("batchnorm", kernels[pass][l], v >= 0 ? nnopt_isa_name((nnopt_isa)v) : baselines[-v],
                                   total(&shapes[s]), bench_fn, b);
                }
}
