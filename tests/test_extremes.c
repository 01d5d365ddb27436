/* Non-finite and extreme values, kernel by kernel: one table row per kernel and input, one
   expected outcome per special value (NaN, +Inf, -Inf, a denormal, +0, -0, FLT_MAX,
   -FLT_MAX), asserted on every path (docs/reliability.md explains each row).

   Outcome tokens, three characters:
     status   o = NNOPT_OK, g = NNOPT_ERR_NONFINITE (guard; nothing written), i = NNOPT_ERR_INVALID
     element  the output at the special input's own position: N = NaN, I = infinite, F = finite
     others   = every other output bit-identical to a run with an ordinary value there,
              * some other output changed (norm-based kernels), N = every other output NaN
   A refused call's token is status then "--": the kernel's run function checks that it wrote
   nothing.
   A kernel with a scalar result of type double (a penalty value) reports v / (1 + |v|) in
   every output, so a finite value stays finite after the rounding to float.
   A new kernel adds a `run` function and its rows. With NNOPT_EXTREMES_PRINT set in the
   environment the test prints the outcomes it observes in the table's own syntax. */
#include "harness.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXT_N 37                   /* two vectors of 16 and a tail on every path */
#define EXT_VALUES 8

static const float ext_values[EXT_VALUES] = { NAN, INFINITY, -INFINITY, 1e-40f, 0.0f, -0.0f, FLT_MAX, -FLT_MAX };
static const char *const ext_value_names[EXT_VALUES] = { "NaN", "+Inf", "-Inf", "denormal", "+0", "-0", "FLT_MAX", "-FLT_MAX" };

/* A kernel run: `x` is the input that carries the special value (EXT_N floats), `out` gets
   the EXT_N observed outputs; `out` holds, before the call, what the kernel writes into (so
   a refused call must leave it as it was). */
typedef nnopt_status (*ext_run)(int arg, const float *x, float *out);

typedef struct ext_row {
    const char *name;              /* kernel and which input holds the special value */
    ext_run run;
    const char *run_name;
    int arg;
    const char *expect[EXT_VALUES];
} ext_row;

static float ext_ordinary(size_t i) { return 0.375f - 0.0625f * (float)(i % 13); }

/* ---- Optimizers: arg = kind + 32 * input (0 gradient, 1 parameter) + 64 * guard --------- */

static nnopt_status ext_optimizer(int arg, const float *x, float *out)
{
    nnopt_hparams h = nnopt_defaults((nnopt_kind)(arg % 32));
    float g[EXT_N], warm[EXT_N];
    nnopt_optimizer *opt;
    nnopt_status st;
    size_t i;
    h.weight_decay = 0.01;
    h.nonfinite_guard = (arg & 64) != 0;
    opt = nnopt_create(&h, EXT_N);
    if (!opt) return NNOPT_ERR_NOMEM;
    for (i = 0; i < EXT_N; i++) { out[i] = 1.0f + ext_ordinary(i); warm[i] = ext_ordinary(i + 5); }
    nnopt_step(opt, out, warm);                    /* a first, ordinary step: state is set */
    if (arg & 32) { memcpy(out, x, sizeof g); for (i = 0; i < EXT_N; i++) g[i] = ext_ordinary(i + 1); }
    else memcpy(g, x, sizeof g);
    {
        float before[EXT_N];
        memcpy(before, out, sizeof before);
        st = nnopt_step(opt, out, g);
        if (st != NNOPT_OK) CHECKF(memcmp(before, out, sizeof before) == 0, "refused step wrote");
    }
    nnopt_destroy(opt);
    return st;
}

/* ---- Averaging: arg 0 = new parameters, 1 = the running average; +2 EMA ---------------- */

static nnopt_status ext_average(int arg, const float *x, float *out)
{
    float p[EXT_N];
    size_t i;
    for (i = 0; i < EXT_N; i++) { out[i] = ext_ordinary(i + 2); p[i] = ext_ordinary(i + 7); }
    nnopt_status st;
    float before[EXT_N];
    if (arg & 1) memcpy(out, x, sizeof p); else memcpy(p, x, sizeof p);
    memcpy(before, out, sizeof before);
    st = arg & 2 ? nnopt_ema_update(out, p, EXT_N, 0.9, 3) : nnopt_swa_update(out, p, EXT_N, 3);
    if (st != NNOPT_OK) CHECKF(memcmp(before, out, sizeof before) == 0, "refused average wrote");
    return st;
}

/* ---- Clipping: arg = norm type (1, 2, 3 for infinity) + 4 * error_if_nonfinite; 8 value -- */

static nnopt_status ext_clip(int arg, const float *x, float *out)
{
    double norm_type = (arg & 3) == 3 ? (double)INFINITY : (double)(arg & 3), total;
    nnopt_status st;
    memcpy(out, x, EXT_N * sizeof(float));
    if (arg & 8) st = nnopt_clip_grad_value(out, EXT_N, 0.25);
    else st = nnopt_clip_grad_norm(out, EXT_N, 0.5, norm_type, (arg & 4) != 0, &total);
    if (st != NNOPT_OK) CHECKF(memcmp(x, out, EXT_N * sizeof(float)) == 0, "refused clip wrote");
    return st;
}

/* ---- Ensemble softmax: one model's logits, one row of EXT_N classes, two models ---------- */

static nnopt_status ext_softmax(int arg, const float *x, float *out)
{
    float other[EXT_N];
    const float *logits[2];
    size_t i;
    (void)arg;
    nnopt_status st;
    for (i = 0; i < EXT_N; i++) { other[i] = ext_ordinary(i + 3); out[i] = -1.0f; }
    logits[0] = x; logits[1] = other;
    st = nnopt_ensemble_softmax(logits, 2, 1, EXT_N, out);
    for (i = 0; st != NNOPT_OK && i < EXT_N; i++) CHECKF(out[i] == -1.0f, "refused softmax wrote");
    return st;
}

/* A refused call must leave what it would write as it was. */
static void ext_unwritten(nnopt_status st, const void *now, const void *before, size_t bytes, const char *what)
{
    if (st != NNOPT_OK) CHECKF(memcmp(now, before, bytes) == 0, "refused %s wrote", what);
}

static float ext_scalar_out(double v) { return isfinite(v) ? (float)(v / (1.0 + fabs(v))) : (float)v; }

/* ---- Regularization: arg = kernel + 16 * input (0 the weights, 1 the gradient) -------------
   kernels 0-2: L1, L2, elastic-net penalty, the gradient it adds into; 3-5: the same, the
   penalty value; 6 prox_l1; 7 prox_elastic_net; 8 proximal_sgd_step; 9 max_norm on row 0 of a
   2 x EXT_N matrix (row 1, ordinary, must come out as if alone). */
static nnopt_status ext_reg(int arg, const float *x, float *out)
{
    float w[2 * EXT_N], g[EXT_N], before[3 * EXT_N];
    const int kernel = arg % 16, value_out = kernel >= 3 && kernel <= 5;
    const double l1 = kernel % 3 == 1 ? 0.0 : 0.01, l2 = kernel % 3 == 0 ? 0.0 : 0.02;
    double value = 42.0;
    nnopt_status st;
    size_t i;
    for (i = 0; i < 2 * EXT_N; i++) w[i] = 4.0f * ext_ordinary(i + 4);   /* row norms about 5 */
    for (i = 0; i < EXT_N; i++) g[i] = ext_ordinary(i + 9);
    memcpy(arg / 16 ? g : w, x, sizeof g);
    memcpy(before, w, sizeof w); memcpy(before + 2 * EXT_N, g, sizeof g);
    switch (kernel) {
    case 6: st = nnopt_prox_l1(w, EXT_N, 0.125); break;
    case 7: st = nnopt_prox_elastic_net(w, EXT_N, 0.5, 0.25, 0.5); break;
    case 8: st = nnopt_proximal_sgd_step(w, g, EXT_N, 0.5, 0.25, 0.5); break;
    case 9: {
        float alone[EXT_N];
        memcpy(alone, w + EXT_N, sizeof alone);
        st = nnopt_max_norm(w, 2, EXT_N, 1.0, NULL);
        CHECK(nnopt_max_norm(alone, 1, EXT_N, 1.0, NULL) == NNOPT_OK);
        CHECKF(memcmp(alone, w + EXT_N, sizeof alone) == 0, "max_norm: the special value changed another row");
        break;
    }
    default: st = nnopt_penalty_elastic_net(w, value_out ? NULL : g, EXT_N, l1, l2, value_out ? &value : NULL);
    }
    ext_unwritten(st, w, before, sizeof w, "regularization");
    ext_unwritten(st, g, before + 2 * EXT_N, sizeof g, "regularization");
    for (i = 0; i < EXT_N; i++) out[i] = kernel < 3 ? g[i] : value_out ? ext_scalar_out(value) : w[i];
    return st;
}

/* ---- Dropout: arg = kernel + 16 * (the special position dropped) --------------------------
   kernels 0, 1: forward inverted, classic; 2: backward (special value in dy); 3: backward from
   the forward's stored mask; 4, 5: inference inverted, classic; 6, 7: AlphaDropout forward,
   backward; 8, 9: channel dropout NCHW, NHWC on channel 0 of 2 (the special array is that
   channel's 37 positions). p = 0.5 and a seed where elements 3 and EXT_N - 1 (channel 0 for
   channel dropout) are both kept, or both dropped. */
static uint64_t ext_drop_seed(int dropped, uint64_t a, uint64_t b)
{
    uint64_t seed;
    for (seed = 1;; seed++)
        if ((nnopt_random_uniform_at(seed, 0, a) < 0.5f) == dropped &&
            (nnopt_random_uniform_at(seed, 0, b) < 0.5f) == dropped)
            return seed;
}

static nnopt_status ext_dropout(int arg, const float *x, float *out)
{
    const int kernel = arg % 16, dropped = arg >= 16, channels = kernel >= 8;
    nnopt_rng rng = { 0, 0, 0 };
    float in[2 * EXT_N], y[2 * EXT_N], before[2 * EXT_N];
    uint8_t bits[(EXT_N + 7) / 8];
    nnopt_status st;
    size_t i;
    rng.seed = channels ? ext_drop_seed(dropped, 0, 0) : ext_drop_seed(dropped, 3, EXT_N - 1);
    for (i = 0; i < 2 * EXT_N; i++) { in[i] = ext_ordinary(i + 1); y[i] = -7.0f; }
    if (kernel == 9) for (i = 0; i < EXT_N; i++) in[2 * i] = x[i];   /* NHWC: channel 0 interleaved */
    else memcpy(in, x, EXT_N * sizeof(float));
    memcpy(before, y, sizeof y);
    switch (kernel) {
    case 0: case 1: st = nnopt_dropout_forward(&rng, 0.5, (nnopt_dropout_scaling)kernel, in, y, NULL, EXT_N); break;
    case 2: st = nnopt_dropout_backward(&rng, 0.5, NNOPT_DROPOUT_INVERTED, in, y, EXT_N); break;
    case 3: {
        float ordinary[EXT_N], ignored[EXT_N];
        for (i = 0; i < EXT_N; i++) ordinary[i] = ext_ordinary(i);
        CHECK(nnopt_dropout_forward(&rng, 0.5, NNOPT_DROPOUT_INVERTED, ordinary, ignored, bits, EXT_N) == NNOPT_OK);
        st = nnopt_dropout_backward_mask(bits, 0.5, NNOPT_DROPOUT_INVERTED, in, y, EXT_N);
        break;
    }
    case 4: case 5: st = nnopt_dropout_inference(0.5, (nnopt_dropout_scaling)(kernel - 4), in, y, EXT_N); break;
    case 6: st = nnopt_alpha_dropout_forward(&rng, 0.5, in, y, NULL, EXT_N); break;
    case 7: st = nnopt_alpha_dropout_backward(&rng, 0.5, in, y, EXT_N); break;
    default:
        st = nnopt_dropout_channels(&rng, 0.5, kernel == 8 ? NNOPT_DROPOUT_NCHW : NNOPT_DROPOUT_NHWC,
                                    in, y, 1, 2, EXT_N, NULL);
    }
    ext_unwritten(st, y, before, sizeof y, "dropout");
    for (i = 0; i < EXT_N; i++) out[i] = kernel == 9 ? y[2 * i] : y[i];
    return st;
}

/* ---- DropConnect: a layer of EXT_N inputs and EXT_N units, batch 1 ------------------------
   arg = kernel + 8 * input + 32 * output. kernels: 0, 1 forward with p = 0 (all kept), p = 1
   (all dropped); 2, 3 backward with p = 0, 1; 4, 5 inference_mean identity, ReLU; 6, 7
   inference_gaussian identity, ReLU (p = 0.5). input: 0 x, 1 the diagonal W[i][i], 2 b, 3 dy.
   output (backward): 0 dx, 1 the diagonal dW[i][i], 2 db; otherwise y. */
static nnopt_status ext_dense(int arg, const float *x, float *out)
{
    enum { N = EXT_N };
    static float W[N * N], dW[N * N], before[N * N];
    float in[N], b[N], dy[N], y[N], dx[N], db[N], ybefore[3 * N];
    const int kernel = arg % 8, input = arg / 8 % 4, output = arg / 32;
    const double p = kernel < 4 ? (double)(kernel % 2) : 0.5;
    nnopt_rng rng = { 7, 0, 0 };
    nnopt_status st;
    size_t i, o;
    for (o = 0; o < N; o++)
        for (i = 0; i < N; i++) W[o * N + i] = 0.25f + 0.125f * (float)((o + 2 * i) % 5);   /* never 0 */
    for (i = 0; i < N; i++) {
        in[i] = ext_ordinary(i); b[i] = ext_ordinary(i + 5); dy[i] = ext_ordinary(i + 8);
        y[i] = dx[i] = db[i] = -7.0f;
    }
    for (i = 0; i < N * N; i++) dW[i] = -7.0f;
    if (input == 1) for (i = 0; i < N; i++) W[i * N + i] = x[i];
    else memcpy(input == 0 ? in : input == 2 ? b : dy, x, sizeof in);
    memcpy(before, dW, sizeof dW);
    memcpy(ybefore, y, sizeof y); memcpy(ybefore + N, dx, sizeof dx); memcpy(ybefore + 2 * N, db, sizeof db);
    switch (kernel) {
    case 0: case 1: st = nnopt_dropconnect_forward(&rng, p, 0, W, b, in, y, 1, N, N); break;
    case 2: case 3: st = nnopt_dropconnect_backward(&rng, p, 0, W, in, dy, dW, dx, db, 1, N, N); break;
    case 4: case 5:
        st = nnopt_dropconnect_inference_mean(p, kernel == 4 ? NNOPT_DROPCONNECT_IDENTITY : NNOPT_DROPCONNECT_RELU,
                                              W, b, in, y, 1, N, N);
        break;
    default:
        st = nnopt_dropconnect_inference_gaussian(&rng, p, kernel == 6 ? NNOPT_DROPCONNECT_IDENTITY : NNOPT_DROPCONNECT_RELU,
                                                  4, W, b, in, y, 1, N, N);
    }
    ext_unwritten(st, dW, before, sizeof dW, "DropConnect");
    ext_unwritten(st, y, ybefore, sizeof y, "DropConnect");
    ext_unwritten(st, dx, ybefore + N, sizeof dx, "DropConnect");
    ext_unwritten(st, db, ybefore + 2 * N, sizeof db, "DropConnect");
    for (i = 0; i < N; i++)
        out[i] = kernel != 2 && kernel != 3 ? y[i] : output == 0 ? dx[i] : output == 1 ? dW[i * N + i] : db[i];
    return st;
}

/* ---- Batch norm, layout NC: 3 samples of EXT_N channels -----------------------------------
   arg = kernel + 8 * input + 64 * output. kernels: 0, 1 forward_train, with fuse_relu; 2, 3
   forward_infer, with fuse_relu; 4 fold; 5 backward_train (its saved statistics from an
   ordinary forward); 6 backward_infer. input: 0 x of sample 0, 1 dy of sample 0, 2 gamma,
   3 beta, 4 running_mean (backward_train: save_mean), 5 running_var (save_invstd). output:
   0 y or dx of sample 0, 1 of sample 1 (the same channels, another sample), 2 running_mean,
   fold's scale or dgamma, 3 running_var, fold's shift or dbeta, 4 save_mean, 5 save_invstd.
   The kernels share their math across layouts, so NC stands for NCHW and NHWC here. */
static nnopt_status ext_bn(int arg, const float *x, float *out)
{
    enum { C = EXT_N, T = 3 * EXT_N };
    const int kernel = arg % 8, input = arg / 8 % 8, output = arg / 64;
    nnopt_bn_params p = nnopt_bn_defaults(NNOPT_BN_NC, 3, C, 1);
    float in[T], dy[T], gamma[C], beta[C], mean[C], var[C], written[T + 4 * C], before[T + 4 * C];
    float *y = written, *s1 = written + T, *s2 = s1 + C, *s3 = s2 + C, *s4 = s3 + C;
    float *const inputs[6] = { in, dy, gamma, beta, mean, var };
    nnopt_status st;
    size_t i;
    /* Channel c's data depends on c % 11, so channels 3 and EXT_N - 1 (the special value's two
       positions) see the same statistics: how far a FLT_MAX overflows depends on them. */
    for (i = 0; i < T; i++) {
        size_t s = i / C, c = i % C % 11;
        in[i] = ext_ordinary(5 * s + c); dy[i] = ext_ordinary(4 * s + c + 6);
    }
    for (i = 0; i < C; i++) {
        gamma[i] = 0.75f + 0.25f * ext_ordinary(i % 11 + 1); beta[i] = ext_ordinary(i % 11 + 2);
        mean[i] = 0.5f * ext_ordinary(i % 11 + 3); var[i] = 1.0f + 0.25f * (float)(i % 11 % 4);
    }
    if (kernel == 5) {   /* the statistics of a forward on ordinary x */
        float ignored[T];
        p.track_running_stats = 0;
        CHECK(nnopt_bn_forward_train(&p, in, ignored, gamma, beta, NULL, NULL, NULL, mean, var) == NNOPT_OK);
    }
    memcpy(inputs[input], x, C * sizeof(float));
    for (i = 0; i < T; i++) y[i] = -7.0f;
    for (i = 0; i < 4 * C; i++) s1[i] = -7.0f;
    if (kernel < 2) { memcpy(s1, mean, sizeof mean); memcpy(s2, var, sizeof var); }   /* running stats */
    memcpy(before, written, sizeof before);
    p.fuse_relu = kernel == 1 || kernel == 3;
    switch (kernel) {
    case 0: case 1:
        st = nnopt_bn_forward_train(&p, in, y, gamma, beta, s1, s2, NULL, s3, s4);
        break;
    case 2: case 3: st = nnopt_bn_forward_infer(&p, in, y, gamma, beta, mean, var); break;
    case 4: st = nnopt_bn_fold(C, p.eps, gamma, beta, mean, var, s1, s2); break;
    case 5: st = nnopt_bn_backward_train(&p, in, dy, gamma, beta, mean, var, y, s1, s2); break;
    default: st = nnopt_bn_backward_infer(&p, in, dy, gamma, beta, mean, var, y, s1, s2);
    }
    ext_unwritten(st, written, before, sizeof before, "batch norm");
    for (i = 0; i < C; i++) out[i] = output < 2 ? y[output * C + i] : s1[(size_t)(output - 2) * C + i];
    return st;
}

/* ---- Augmentation on float CHW images of EXT_N x 1 pixels, 3 channels -----------------------
   The special array is channel 0 (the other channels ordinary, in [0, 1)); the output is
   channel 0 of the result. arg: 0 brightness 1.25, 1 contrast 0.75, 2 saturation 0.5, 3 hue
   0.125, 4 grayscale (to 1 channel), 5 normalize, 6 Gaussian noise, 7 with clip, 8 bilinear
   resize of a 1-channel 2 EXT_N x 2 image to EXT_N x 1 (the special array in the even pixels
   of row 0; each output averages a 2 x 2 block, no interpolation weight is 0),
   9 mixup of two images (lam 0.75), output image 0, 10 mixup with lam 1, output image 1 (paired
   with the special image), 11 cutmix of two images with the box x 10..20, output image 0,
   12 a pipeline through nnopt_aug_apply: reflect-pad 2 left and right, the crop back to the
   image (pixels stay where they were, the padding copied from the special ones too), normalize. */
static nnopt_status ext_aug(int arg, const float *x, float *out)
{
    enum { P = EXT_N, S = 3 * EXT_N };
    static const float mean[3] = { 0.25f, 0.5f, 0.75f }, std[3] = { 0.5f, 0.25f, 2.0f };
    float src[2 * S], dst[3 * S], before[3 * S];
    int labels[2] = { 0, 1 };
    float soft[4];
    nnopt_image a = nnopt_image_f32(src, P, 1, 3), d = nnopt_image_f32(dst, P, 1, 3);
    nnopt_status st;
    size_t i;
    for (i = 0; i < 2 * S; i++) src[i] = 0.5f + ext_ordinary(i + 1);
    for (i = 0; i < 3 * S; i++) dst[i] = -7.0f;
    memcpy(before, dst, sizeof before);
    if (arg == 8) for (i = 0; i < P; i++) src[2 * i] = x[i];
    else memcpy(src, x, P * sizeof(float));
    switch (arg) {
    case 0: st = nnopt_aug_brightness(&a, &d, 1.25); break;
    case 1: st = nnopt_aug_contrast(&a, &d, 0.75); break;
    case 2: st = nnopt_aug_saturation(&a, &d, 0.5); break;
    case 3: st = nnopt_aug_hue(&a, &d, 0.125); break;
    case 4: d.channels = 1; st = nnopt_aug_grayscale(&a, &d); break;
    case 5: st = nnopt_aug_normalize(&a, &d, mean, std); break;
    case 6: case 7: st = nnopt_aug_gaussian_noise(&a, &d, 0.0, 0.25, arg == 7, 5, 0, 0); break;
    case 8:
        a.width = 2 * P; a.height = 2; a.channels = d.channels = 1;
        st = nnopt_aug_resize(&a, &d, NNOPT_INTERP_BILINEAR);
        break;
    case 9: case 10: st = nnopt_aug_mixup(src, dst, 2, S, labels, 2, soft, arg == 9 ? 0.75 : 1.0); break;
    case 11: st = nnopt_aug_cutmix(src, dst, 2, 3, 1, P, labels, 2, soft, 10, 0, 20, 1, NULL); break;
    default: {
        nnopt_aug_op ops[3];
        nnopt_aug_pipeline pl;
        int c;
        ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_PAD);
        ops[0].pad[0] = ops[0].pad[2] = 2;
        ops[0].pad_mode = NNOPT_PAD_REFLECT;
        ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_CROP);
        ops[1].left = 2; ops[1].width = P; ops[1].height = 1;
        ops[2] = nnopt_aug_op_defaults(NNOPT_AUG_NORMALIZE);
        for (c = 0; c < 3; c++) { ops[2].mean[c] = mean[c]; ops[2].std[c] = std[c]; }
        st = nnopt_aug_pipeline_init(&pl, ops, 3, NNOPT_IMAGE_F32_CHW, P, 1, 3);
        CHECKF(st == NNOPT_OK, "extremes: pipeline refused (%d)", (int)st);
        st = nnopt_aug_apply(&pl, src, dst, 1, 5, 0, NULL);
    }
    }
    ext_unwritten(st, dst, before, sizeof before, "augmentation");
    memcpy(out, arg == 10 ? dst + S : dst, P * sizeof(float));
    return st;
}

/* ---- The table ------------------------------------------------------------------------------ */

#define ROW(name, run, arg, a, b, c, d, e, f, g, h) { name, run, #run, arg, { a, b, c, d, e, f, g, h } }
#include "test_extremes_table.h"

/* ---- Driver ------------------------------------------------------------------------------- */

static char ext_class(float v) { return v != v ? 'N' : isinf(v) ? 'I' : 'F'; }

/* Runs a row with value v at position `at`; writes the outcome token. */
static void ext_observe(const ext_row *r, float v, size_t at, char token[4], float *observed)
{
    float x[EXT_N], base[EXT_N], out[EXT_N];
    nnopt_status st, base_st;
    size_t i;
    int changed = 0, all_nan = 1;
    for (i = 0; i < EXT_N; i++) x[i] = ext_ordinary(i);
    base_st = r->run(r->arg, x, base);
    CHECKF(base_st == NNOPT_OK, "%s: ordinary input refused (%d)", r->name, (int)base_st);
    x[at] = v;
    st = r->run(r->arg, x, out);
    for (i = 0; i < EXT_N; i++) {
        if (i == at) continue;
        if (memcmp(&out[i], &base[i], sizeof(float)) != 0) changed = 1;
        if (out[i] == out[i]) all_nan = 0;
    }
    token[0] = st == NNOPT_OK ? 'o' : st == NNOPT_ERR_NONFINITE ? 'g' : st == NNOPT_ERR_INVALID ? 'i' : '?';
    token[1] = st != NNOPT_OK ? '-' : ext_class(out[at]);      /* refused: nothing written */
    token[2] = st != NNOPT_OK ? '-' : !changed ? '=' : all_nan ? 'N' : '*';
    token[3] = 0;
    memcpy(observed, out, sizeof out);
}

static void test_extremes_table(void)
{
    size_t r, v;
    int print = getenv("NNOPT_EXTREMES_PRINT") != NULL;
    for (r = 0; r < sizeof ext_rows / sizeof ext_rows[0]; r++) {
        const ext_row *row = &ext_rows[r];
        if (print) printf("    ROW(\"%s\", %s, %d,", row->name, row->run_name, row->arg);
        for (v = 0; v < EXT_VALUES; v++) {
            char lane[4], tail[4];
            float out_lane[EXT_N], out_tail[EXT_N], scalar[EXT_N];
            nnopt_isa isa = nnopt_isa_get();
            ext_observe(row, ext_values[v], 3, lane, out_lane);       /* inside a vector */
            ext_observe(row, ext_values[v], EXT_N - 1, tail, out_tail);   /* in the tail */
            if (print) printf(" \"%s\"%s", lane, v + 1 < EXT_VALUES ? "," : "),\n");
            if (!print) CHECKF(strcmp(lane, row->expect[v]) == 0, "%s with %s: %s, expected %s", row->name,
                   ext_value_names[v], lane, row->expect[v]);
            CHECKF(strcmp(tail, lane) == 0, "%s with %s in the tail: %s, in a vector %s",
                   row->name, ext_value_names[v], tail, lane);
            /* the same outputs as the portable path (NaNs compared as NaN) */
            if (isa != NNOPT_ISA_SCALAR) {
                char ignored[4];
                size_t i;
                nnopt_isa_set(NNOPT_ISA_SCALAR);
                ext_observe(row, ext_values[v], 3, ignored, scalar);
                nnopt_isa_set(isa);
                for (i = 0; i < EXT_N; i++)
                    if (!(out_lane[i] != out_lane[i] && scalar[i] != scalar[i]))
                        CHECKF(memcmp(&out_lane[i], &scalar[i], sizeof(float)) == 0,
                               "%s with %s: element %zu differs from the portable path: %.9g vs %.9g",
                               row->name, ext_value_names[v], i, (double)out_lane[i], (double)scalar[i]);
            }
        }
    }
}

/* The later sections' hyper-parameters that tests/test_random.c, test_reg.c, test_dropout.c,
   test_batchnorm.c and test_augment.c do not already try: each refused with nothing written. */
static void test_extremes_section_hyperparameters(void)
{
    static const double bad[] = { NAN, INFINITY, -INFINITY };
    enum { N = 8 };
    float w[N], g[N], y[3 * N], keep[3 * N], soft[4], value;
    uint8_t bytes[N];
    int labels[2] = { 0, 1 };
    nnopt_rng rng = { 1, 2, 3 };
    nnopt_bn_params bn = nnopt_bn_defaults(NNOPT_BN_NC, 2, 4, 1);
    nnopt_image img = nnopt_image_f32(w, 4, 2, 1), out = nnopt_image_f32(y, 4, 2, 1);
    size_t i;
    for (i = 0; i < N; i++) { w[i] = 0.125f * (float)i; g[i] = 0.5f - w[i]; }
    for (i = 0; i < 3 * N; i++) keep[i] = y[i] = -7.0f;
    memset(bytes, 0x5A, sizeof bytes);
    for (i = 0; i < 3; i++) {
        const double b = bad[i];
        CHECK(nnopt_random_normal(&rng, y, N, b, 1.0) == NNOPT_ERR_INVALID);
        CHECK(nnopt_random_bernoulli(&rng, bytes, N, b) == NNOPT_ERR_INVALID);
        CHECKF(isnan(nnopt_random_beta_at(1, 2, 3, b, 1.0)) && isnan(nnopt_random_beta_at(1, 2, 3, 1.0, b)),
               "beta with a parameter %g", b);
        CHECK(nnopt_proximal_sgd_step(w, g, N, b, 0.1, 0.1) == NNOPT_ERR_INVALID);
        bn.eps = b; bn.momentum = 0.1;
        CHECK(nnopt_bn_forward_infer(&bn, w, y, NULL, NULL, g, g) == NNOPT_ERR_INVALID);
        bn.eps = 1e-5; bn.momentum = b;
        CHECK(nnopt_bn_forward_train(&bn, w, y, g, g, y + N, y + 2 * N, NULL, NULL, NULL) == NNOPT_ERR_INVALID);
        CHECK(nnopt_bn_fold(4, b, NULL, NULL, g, g, y, y + 4) == NNOPT_ERR_INVALID);
        CHECK(nnopt_aug_gaussian_noise(&img, &out, b, 0.1, 0, 1, 2, 3) == NNOPT_ERR_INVALID);
        CHECK(nnopt_aug_gaussian_noise(&img, &out, 0.0, b, 0, 1, 2, 3) == NNOPT_ERR_INVALID);
        CHECK(nnopt_aug_brightness(&img, &out, b) == NNOPT_ERR_INVALID && nnopt_aug_hue(&img, &out, b) == NNOPT_ERR_INVALID);
        CHECK(nnopt_aug_mixup(w, y, 2, 4, labels, 2, soft, b) == NNOPT_ERR_INVALID);
        CHECK(nnopt_aug_mixup_random(w, y, 2, 4, labels, 2, soft, b, 1, 2, NULL) == NNOPT_ERR_INVALID);
        value = (float)b;
        CHECK(nnopt_aug_erase(&out, 0, 0, 1, 1, &value) == NNOPT_ERR_INVALID);
    }
    bn.momentum = 0.1;
    CHECK(nnopt_prox_l1(w, N, -INFINITY) == NNOPT_ERR_INVALID && nnopt_max_norm(w, 2, 4, -INFINITY, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_penalty_l2(w, g, N, -INFINITY, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_forward(&rng, -INFINITY, NNOPT_DROPOUT_INVERTED, w, y, bytes, N) == NNOPT_ERR_INVALID);
    CHECK(nnopt_proximal_sgd_step(w, g, N, 1e300, 0.0, 1e300) == NNOPT_ERR_INVALID);   /* lr * l2 overflows */
    CHECK(nnopt_bn_fold(4, -1e-5, NULL, NULL, g, g, y, y + 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_saturation(&img, &out, NAN) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(w, y, 2, 4, labels, 2, soft, -0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_cutmix_random(w, y, 2, 1, 2, 2, labels, 2, soft, 0.0, 1, 2, NULL) == NNOPT_ERR_INVALID);
    CHECK(isnan(nnopt_random_beta_at(1, 2, 3, 0.0, 1.0)) && isnan(nnopt_random_beta_at(1, 2, 3, 1.0, -1.0)));
    for (i = 0; i < N; i++) CHECKF(w[i] == 0.125f * (float)i && g[i] == 0.5f - w[i] && bytes[i] == 0x5A, "input %zu changed", i);
    CHECK(memcmp(y, keep, sizeof y) == 0);
    /* the edges that are allowed: std 0 and -0 give the mean, p 0 keeps everything */
    CHECK(nnopt_random_normal(&rng, y, N, 0.25, -0.0) == NNOPT_OK && y[0] == 0.25f && y[N - 1] == 0.25f);
    CHECK(nnopt_dropout_forward(&rng, -0.0, NNOPT_DROPOUT_INVERTED, w, y, NULL, N) == NNOPT_OK && memcmp(w, y, sizeof w) == 0);
}

/* Non-finite hyper-parameters and metrics are refused, whatever the kernel. */
static void test_extremes_hyperparameters(void)
{
    static const double bad[] = { NAN, INFINITY, -INFINITY };
    nnopt_scheduler s;
    nnopt_sched_params sp = nnopt_sched_defaults(NNOPT_SCHED_PLATEAU);
    float a[4] = { 1, 2, 3, 4 }, b[4] = { 0 };
    size_t i;
    int k;
    for (i = 0; i < 3; i++) {
        for (k = 0; k < NNOPT_KIND_COUNT; k++) {
            nnopt_hparams h = nnopt_defaults((nnopt_kind)k);
            h.lr = bad[i];
            CHECKF(nnopt_create(&h, 4) == NULL, "%s accepted lr %g", nnopt_kind_name((nnopt_kind)k), bad[i]);
        }
        CHECK(nnopt_ema_update(b, a, 4, bad[i], 1) == NNOPT_ERR_INVALID);
        CHECK(nnopt_clip_grad_value(a, 4, bad[i]) == NNOPT_ERR_INVALID);
        CHECK(nnopt_clip_grad_norm(a, 4, bad[i], 2.0, 0, NULL) == NNOPT_ERR_INVALID);
        CHECK(nnopt_sched_init(&s, &sp, bad[i]) == NNOPT_ERR_INVALID);
    }
    CHECK(nnopt_sched_init(&s, &sp, 0.1) == NNOPT_OK);
    CHECK(nnopt_sched_step_metric(&s, NAN) == NNOPT_ERR_INVALID);
    test_extremes_section_hyperparameters();
    CHECK(nnopt_sched_step_metric(&s, INFINITY) == NNOPT_OK);    /* a diverged loss: no improvement */
    CHECK(nnopt_sched_step_metric(&s, -INFINITY) == NNOPT_OK);
}

/* An optimizer whose per-group state doubles went non-finite (ASGD with a negative power:
   eta = lr / (1 + lambd lr t)^alpha overflows) still saves and loads back exactly. */
static void test_extremes_checkpoint_round_trip(void)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_ASGD);
    nnopt_optimizer *opt, *copy;
    float p[5] = { 1, 2, 3, 4, 5 }, g[5] = { 1, 1, 1, 1, 1 };
    unsigned char *a, *b;
    size_t size;
    h.alpha = -1e6; h.lambd = 1.0; h.lr = 1.0;
    opt = nnopt_create(&h, 5);
    copy = nnopt_create(&h, 5);
    if (!CHECK(opt && copy)) { nnopt_destroy(opt); nnopt_destroy(copy); return; }
    CHECK(nnopt_step(opt, p, g) == NNOPT_OK);
    size = nnopt_save_size(opt);
    a = (unsigned char *)malloc(size); b = (unsigned char *)malloc(size);
    if (a && b && CHECK(nnopt_save(opt, a, size) == NNOPT_OK)) {
        CHECK(nnopt_load(copy, a, size) == NNOPT_OK);
        CHECK(nnopt_save(copy, b, size) == NNOPT_OK && memcmp(a, b, size) == 0);
    }
    free(a); free(b);
    nnopt_destroy(opt); nnopt_destroy(copy);
}

/* The loader's field checks behind the hash: every 4-byte word of a checkpoint changed, with
   the hash recomputed, is either refused with the optimizer unchanged or loads exactly. */
static uint64_t ext_fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325u;
    size_t i;
    for (i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001B3u; }
    return h;
}

static void test_extremes_checkpoint_fields(void)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_ADAM);
    nnopt_group g[2];
    nnopt_optimizer *opt;
    float p[7] = { 1, 2, 3, 4, 5, 6, 7 }, gr[7] = { 1, -1, 2, -2, 3, -3, 4 };
    unsigned char *good, *bad, *now;
    size_t size, at, i;
    int refused = 0;
    g[0] = nnopt_group_default(3); g[1] = nnopt_group_default(4);
    h.amsgrad = 1;
    opt = nnopt_create_groups(&h, g, 2);
    if (!CHECK(opt != NULL)) return;
    CHECK(nnopt_step(opt, p, gr) == NNOPT_OK);
    size = nnopt_save_size(opt);
    good = (unsigned char *)malloc(size); bad = (unsigned char *)malloc(size); now = (unsigned char *)malloc(size);
    if (good && bad && now && CHECK(nnopt_save(opt, good, size) == NNOPT_OK)) {
        for (at = 8; at + 4 <= size - 8; at += 4) {
            static const uint32_t words[] = { 0xFFFFFFFFu, 0x7FF00000u, 2u };
            for (i = 0; i < 3; i++) {
                uint64_t hash;
                size_t b;
                nnopt_status st;
                memcpy(bad, good, size);
                memcpy(bad + at, &words[i], 4);
                hash = ext_fnv1a(bad, size - 8);
                for (b = 0; b < 8; b++) bad[size - 8 + b] = (unsigned char)(hash >> (8 * b));
                st = nnopt_load(opt, bad, size);
                CHECK(nnopt_save(opt, now, size) == NNOPT_OK);
                if (st == NNOPT_OK) {
                    CHECKF(memcmp(now, bad, size) == 0, "word %zu: loaded but saves differently", at);
                    CHECK(nnopt_load(opt, good, size) == NNOPT_OK);
                } else {
                    refused++;
                    CHECKF(st == NNOPT_ERR_FORMAT, "word %zu: status %d", at, (int)st);
                    CHECKF(memcmp(now, good, size) == 0, "word %zu: refused but changed the optimizer", at);
                }
            }
        }
        CHECK(refused > 0);
    }
    free(good); free(bad); free(now);
    nnopt_destroy(opt);
}

/* The later sections' functions given NULL where their own tests do not try it: refused,
   nothing written. */
static void test_extremes_section_nulls(void)
{
    enum { N = 8 };
    float a[N], out[N], keep[N];
    uint8_t bits[1] = { 0xFF };
    int labels[2] = { 0, 1 };
    nnopt_rng rng = { 1, 2, 3 };
    nnopt_bn_params bn = nnopt_bn_defaults(NNOPT_BN_NC, 2, 4, 1);
    nnopt_image img = nnopt_image_f32(a, 4, 2, 1), dst = nnopt_image_f32(out, 4, 2, 1);
    nnopt_aug_op op = nnopt_aug_op_defaults(NNOPT_AUG_HFLIP);
    size_t i;
    for (i = 0; i < N; i++) { a[i] = 0.25f * (float)i; out[i] = keep[i] = -7.0f; }
    CHECK(nnopt_random_normal(NULL, out, N, 0.0, 1.0) == NNOPT_ERR_INVALID);
    CHECK(nnopt_random_bernoulli(&rng, NULL, N, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_prox_elastic_net(NULL, N, 0.1, 0.1, 0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_proximal_sgd_step(NULL, a, N, 0.1, 0.1, 0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_penalty_elastic_net(NULL, out, N, 0.1, 0.1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_backward(NULL, 0.5, NNOPT_DROPOUT_INVERTED, a, out, N) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_backward_mask(bits, 0.5, NNOPT_DROPOUT_INVERTED, NULL, out, N) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_inference(0.5, NNOPT_DROPOUT_CLASSIC, NULL, out, N) == NNOPT_ERR_INVALID);
    CHECK(nnopt_alpha_dropout_forward(NULL, 0.5, a, out, NULL, N) == NNOPT_ERR_INVALID);
    CHECK(nnopt_alpha_dropout_backward(&rng, 0.5, a, NULL, N) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_backward(NULL, 0.5, 1, a, a, a, out, NULL, NULL, 1, 2, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_backward(&rng, 0.5, 1, NULL, a, a, out, NULL, NULL, 1, 2, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_backward(&rng, 0.5, 1, a, a, NULL, out, NULL, NULL, 1, 2, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_inference_mean(0.5, NNOPT_DROPCONNECT_TANH, a, NULL, NULL, out, 1, 2, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_inference_gaussian(&rng, 0.5, NNOPT_DROPCONNECT_TANH, 2, a, NULL, a, NULL, 1, 2, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_forward_infer(&bn, NULL, out, a, a, a, a) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_forward_infer(&bn, a, out, a, a, a, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_backward_infer(&bn, a, a, a, a, a, a, NULL, out, out + 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_bn_fold(4, 1e-5, NULL, NULL, a, NULL, out, out + 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_image_bytes(NULL) == 0);
    CHECK(nnopt_aug_brightness(&img, NULL, 1.0) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_grayscale(NULL, &dst) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_resize(&img, NULL, NNOPT_INTERP_BILINEAR) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_normalize(&img, &dst, NULL, a) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_normalize(&img, &dst, a + 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_gaussian_noise(NULL, &dst, 0.0, 0.1, 0, 1, 2, 3) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_erase(NULL, 0, 0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(NULL, out, 2, 4, labels, 2, a, 0.5) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_mixup(a, out, 2, 4, labels, 2, NULL, 0.5) == NNOPT_ERR_INVALID);   /* labels without soft labels */
    CHECK(nnopt_aug_cutmix(a, NULL, 2, 1, 2, 2, NULL, 0, NULL, 0, 0, 1, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_aug_pipeline_init(NULL, &op, 1, NNOPT_IMAGE_F32_CHW, 4, 2, 1) == NNOPT_ERR_INVALID);
    CHECK(memcmp(out, keep, sizeof out) == 0 && bits[0] == 0xFF);
    for (i = 0; i < N; i++) CHECKF(a[i] == 0.25f * (float)i, "input %zu changed", i);
}

/* Every function given NULL where it needs an object: an error or an empty answer, no crash. */
static void test_extremes_null_arguments(void)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
    nnopt_group g = nnopt_group_default(4);
    nnopt_scheduler s;
    nnopt_sched_params sp = nnopt_sched_defaults(NNOPT_SCHED_STEP);
    float a[4] = { 0 };
    float *rows[1] = { a };
    double m;
    unsigned char buf[8];
    CHECK(nnopt_create(NULL, 4) == NULL);
    CHECK(nnopt_create_groups(&h, NULL, 1) == NULL);
    CHECK(nnopt_memory_size(NULL, &g, 1) == 0);
    CHECK(nnopt_init(NULL, 1 << 20, &h, &g, 1) == NULL);
    nnopt_destroy(NULL);
    CHECK(nnopt_step(NULL, a, a) == NNOPT_ERR_INVALID);
    CHECK(nnopt_step_groups(NULL, rows, (const float *const *)rows) == NNOPT_ERR_INVALID);
    CHECK(nnopt_get_hparams(NULL) == NULL);
    CHECK(nnopt_set_hparams(NULL, &h) == NNOPT_ERR_INVALID);
    CHECK(nnopt_set_lr(NULL, 0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_group_count(NULL) == 0 && nnopt_param_count(NULL) == 0 && nnopt_step_count(NULL) == 0);
    CHECK(nnopt_get_group(NULL, 0, &g) == NNOPT_ERR_INVALID);
    CHECK(nnopt_set_group(NULL, 0, &g) == NNOPT_ERR_INVALID);
    CHECK(nnopt_averaged_params(NULL) == NULL);
    CHECK(nnopt_save_size(NULL) == 0);
    CHECK(nnopt_save(NULL, buf, sizeof buf) == NNOPT_ERR_INVALID);
    CHECK(nnopt_load(NULL, buf, sizeof buf) == NNOPT_ERR_INVALID);
    CHECK(nnopt_ensemble_softmax(NULL, 1, 1, 4, a) == NNOPT_ERR_INVALID);
    CHECK(nnopt_clip_grad_norm_groups(NULL, NULL, 1, 1.0, 2.0, 0, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_sched_init(NULL, &sp, 0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_sched_init(&s, NULL, 0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_sched_init_sequential(NULL, &sp, 1, NULL, 0.1) == NNOPT_ERR_INVALID);
    CHECK(nnopt_sched_step(NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_sched_step_metric(NULL, 1.0) == NNOPT_ERR_INVALID);
    CHECK(nnopt_sched_lr(NULL) != nnopt_sched_lr(NULL));           /* NaN */
    CHECK(nnopt_sched_momentum(NULL, &m) == 0);
    CHECK(nnopt_sched_restarted(NULL) == 0);
    CHECK(nnopt_sched_apply(NULL, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_sched_apply_group(NULL, NULL, 0) == NNOPT_ERR_INVALID);
    test_extremes_section_nulls();
    CHECK(strcmp(nnopt_status_str((nnopt_status)42), "unknown status") == 0);
    CHECK(strcmp(nnopt_isa_name((nnopt_isa)42), "unknown") == 0);
    CHECK(strcmp(nnopt_kind_name((nnopt_kind)-1), "unknown") == 0);
    CHECK(nnopt_isa_set((nnopt_isa)-1) == NNOPT_ERR_UNSUPPORTED);
    {   /* per-group pointers: a misaligned or overlapping one is refused before any update */
        nnopt_optimizer *opt = nnopt_create(&h, 4);
        float q[5] = { 1, 2, 3, 4, 5 };
        float *params[1];
        const float *grads[1];
        params[0] = q; grads[0] = (const float *)(const void *)((const char *)a + 1);
        CHECK(opt && nnopt_step_groups(opt, params, grads) == NNOPT_ERR_INVALID);
        grads[0] = q + 1;
        CHECK(opt && nnopt_step_groups(opt, params, grads) == NNOPT_ERR_INVALID);
        CHECK(q[0] == 1 && q[4] == 5);
        nnopt_destroy(opt);
    }
}

/* Schedule edges: SequentialLR restarts a linear or polynomial child at its milestone with
   torch's closed form (step(0): lr0 * start_factor, lr0 * 1), and an exhausted one-cycle
   child refuses to step. */
static void test_extremes_schedule_edges(void)
{
    nnopt_sched_params c[2];
    nnopt_scheduler s;
    int milestone = 2, t;
    c[0] = nnopt_sched_defaults(NNOPT_SCHED_EXPONENTIAL); c[0].gamma = 0.5;
    c[1] = nnopt_sched_defaults(NNOPT_SCHED_LINEAR); c[1].start_factor = 0.25; c[1].total_iters = 4;
    CHECK(nnopt_sched_init_sequential(&s, c, 2, &milestone, 0.8) == NNOPT_OK);
    CHECK(nnopt_sched_step(&s) == NNOPT_OK && nnopt_sched_step(&s) == NNOPT_OK);
    CHECKF(nnopt_sched_lr(&s) == 0.8 * 0.25, "linear child at its milestone: %.17g", nnopt_sched_lr(&s));
    c[1] = nnopt_sched_defaults(NNOPT_SCHED_POLYNOMIAL); c[1].total_iters = 4; c[1].power = 2;
    CHECK(nnopt_sched_init_sequential(&s, c, 2, &milestone, 0.8) == NNOPT_OK);
    CHECK(nnopt_sched_step(&s) == NNOPT_OK && nnopt_sched_step(&s) == NNOPT_OK);
    CHECKF(nnopt_sched_lr(&s) == 0.8, "polynomial child at its milestone: %.17g", nnopt_sched_lr(&s));
    c[0] = nnopt_sched_defaults(NNOPT_SCHED_ONE_CYCLE); c[0].max_lr = 1.0; c[0].total_steps = 3;
    milestone = 10;
    CHECK(nnopt_sched_init_sequential(&s, c, 2, &milestone, 0.8) == NNOPT_OK);
    for (t = 0; t < 3; t++) CHECK(nnopt_sched_step(&s) == NNOPT_OK);   /* epochs 1..3 */
    CHECK(nnopt_sched_step(&s) == NNOPT_ERR_INVALID);            /* one-cycle ran out */
}

/* LAMB with eps = 0 (allowed): the unused lanes of a vector tail must not enter the norms
   (there u = 0/0 = NaN), so every path gives the portable result. */
static void lamb_eps0_run(float *p, size_t n)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_LAMB);
    nnopt_optimizer *opt;
    float g[19];
    size_t i;
    int s;
    h.eps = 0.0;
    opt = nnopt_create(&h, n);
    for (i = 0; i < n; i++) p[i] = 0.5f + 0.125f * (float)i;
    for (s = 0; s < 2 && opt; s++) {
        for (i = 0; i < n; i++) g[i] = 0.3f - 0.0625f * (float)((i + (size_t)s) % 7);   /* never 0 */
        CHECK(nnopt_step(opt, p, g) == NNOPT_OK);
    }
    nnopt_destroy(opt);
}

static void test_extremes_lamb_eps0_tail(void)
{
    float p[19], ref[19];
    nnopt_isa isa = nnopt_isa_get();
    size_t i;
    lamb_eps0_run(p, 19);
    nnopt_isa_set(NNOPT_ISA_SCALAR);
    lamb_eps0_run(ref, 19);
    nnopt_isa_set(isa);
    for (i = 0; i < 19; i++) CHECKF(isfinite(p[i]), "element %zu: %g", i, (double)p[i]);
    th_same_bits(p, ref, 19, "LAMB eps 0 against the portable path");
}

void register_extremes_tests(void)
{
    th_register("extremes: LAMB with eps 0 and a vector tail", test_extremes_lamb_eps0_tail, TH_EACH_ISA);
    th_register("extremes: sequential schedule edges", test_extremes_schedule_edges, TH_ONCE);
    th_register("extremes: checkpoint field checks behind the hash", test_extremes_checkpoint_fields, TH_ONCE);
    th_register("extremes: NULL arguments", test_extremes_null_arguments, TH_ONCE);
    th_register("extremes: non-finite and extreme inputs, every kernel", test_extremes_table, TH_EACH_ISA);
    th_register("extremes: non-finite hyper-parameters refused", test_extremes_hyperparameters, TH_ONCE);
    th_register("extremes: non-finite optimizer state checkpoints", test_extremes_checkpoint_round_trip, TH_ONCE);
}
