/* A 2-layer MLP trained in pure C on CS231n's spiral data (3 classes of 100 points):
   x -> dense(100) -> batch norm + ReLU -> dropout -> dense(3) -> softmax cross-entropy,
   full batch, Adam with a cosine schedule, L2 on the weights and an EMA of all parameters,
   evaluated in inference mode (running statistics, no dropout) with live and EMA weights.
   Build: cc -O2 examples/mlp_spiral.c -lm */
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#define N 300             /* 3 classes x 100 points */
#define K 3
#define H 100
#define STEPS 2000
/* One flat parameter vector: the weights first (the L2 penalty covers exactly them), then
   batch norm's gamma and beta and the output bias. The hidden layer has no bias: batch
   norm's beta takes its place. */
#define W1 0                  /* [H][2] */
#define W2 (W1 + 2 * H)       /* [K][H] */
#define GAMMA (W2 + K * H)
#define BETA (GAMMA + H)
#define B2 (BETA + H)
#define P (B2 + K)

static float x[N][2], param[P], grad[P], z[N * H], a[N * H], d[N * H];
static float running_mean[H], running_var[H], save_mean[H], save_invstd[H];
static int label[N];

/* Scores of every point: training mode (batch statistics, dropout drawn from rng) when rng is
   given, else inference mode (running statistics; inverted dropout is then the identity).
   Returns the mean cross-entropy; grad (training) gets its gradient; *accuracy when asked. */
static double forward(const float *w, const nnopt_rng *rng, double drop, double *accuracy)
{
    nnopt_bn_params bn = nnopt_bn_defaults(NNOPT_BN_NC, N, H, 1);
    double loss = 0;
    int s, j, k, correct = 0;
    bn.fuse_relu = 1;
    for (s = 0; s < N; s++)
        for (j = 0; j < H; j++) z[s * H + j] = w[W1 + 2 * j] * x[s][0] + w[W1 + 2 * j + 1] * x[s][1];
    if (rng) {
        if (nnopt_bn_forward_train(&bn, z, a, w + GAMMA, w + BETA, running_mean, running_var,
                                   NULL, save_mean, save_invstd) ||
            nnopt_dropout_forward(rng, drop, NNOPT_DROPOUT_INVERTED, a, d, NULL, N * H))
            return NAN;
        memset(grad, 0, sizeof grad);
    } else if (nnopt_bn_forward_infer(&bn, z, d, w + GAMMA, w + BETA, running_mean, running_var))
        return NAN;
    memset(a, 0, sizeof a);   /* a becomes d(loss)/d(dropout output) */
    for (s = 0; s < N; s++) {
        double score[K], max = -INFINITY, sum = 0;
        for (k = 0; k < K; k++) {
            score[k] = w[B2 + k];
            for (j = 0; j < H; j++) score[k] += w[W2 + k * H + j] * d[s * H + j];
            if (score[k] > max) max = score[k];
        }
        for (k = 0; k < K; k++) sum += exp(score[k] - max);
        loss -= (score[label[s]] - max - log(sum)) / N;
        correct += score[label[s]] == max;
        if (!rng) continue;
        for (k = 0; k < K; k++) {   /* d(loss)/d(score) = (softmax - onehot) / N */
            float g = (float)((exp(score[k] - max) / sum - (k == label[s])) / N);
            grad[B2 + k] += g;
            for (j = 0; j < H; j++) {
                grad[W2 + k * H + j] += g * d[s * H + j];
                a[s * H + j] += g * w[W2 + k * H + j];
            }
        }
    }
    if (accuracy) *accuracy = (double)correct / N;
    if (!rng) return loss;
    if (nnopt_dropout_backward(rng, drop, NNOPT_DROPOUT_INVERTED, a, a, N * H) ||
        nnopt_bn_backward_train(&bn, z, a, w + GAMMA, w + BETA, save_mean, save_invstd, z,
                                grad + GAMMA, grad + BETA))
        return NAN;
    for (s = 0; s < N; s++)   /* z now holds d(loss)/d(z) */
        for (j = 0; j < H; j++) {
            grad[W1 + 2 * j] += z[s * H + j] * x[s][0];
            grad[W1 + 2 * j + 1] += z[s * H + j] * x[s][1];
        }
    return loss;
}

int main(void)
{
    nnopt_rng rng = {2026, 0, 0};
    nnopt_hparams h = nnopt_defaults(NNOPT_ADAM);
    nnopt_sched_params cosine = nnopt_sched_defaults(NNOPT_SCHED_COSINE);
    nnopt_scheduler sched;
    nnopt_optimizer *opt;
    float noise[N];
    double loss = NAN, l2, live = 0, ema = 0;
    int s, step;

    if (nnopt_random_normal(&rng, noise, N, 0, 0.2f)) return 1;   /* the CS231n recipe */
    for (s = 0; s < N; s++) {
        int j = s / 100, i = s % 100;
        float r = i / 99.0f, t = 4 * j + 4 * i / 99.0f + noise[s];
        x[s][0] = r * sinf(t), x[s][1] = r * cosf(t), label[s] = j;
    }
    rng.stream = 1;   /* initial weights: He for W1, 1/sqrt(H) for W2; gamma 1, beta 0 */
    if (nnopt_random_normal(&rng, param + W1, 2 * H, 0, 1) ||
        nnopt_random_normal(&rng, param + W2, K * H, 0, 0.1f)) return 1;
    for (s = 0; s < H; s++) param[GAMMA + s] = 1, running_var[s] = 1;

    h.lr = 2e-2;
    h.average = NNOPT_AVERAGE_EMA, h.average_decay = 0.99;
    cosine.T_max = STEPS, cosine.eta_min = 1e-4;
    if (!(opt = nnopt_create(&h, P)) || nnopt_sched_init(&sched, &cosine, h.lr)) return 1;
    for (step = 0; step < STEPS; step++) {
        nnopt_rng dropout = {2026, 2, (uint64_t)step * N * H};   /* a fresh mask every step */
        loss = forward(param, &dropout, 0.1, NULL);
        if (nnopt_penalty_l2(param, grad, W2 + K * H, 1e-3, &l2) || isnan(loss) ||
            nnopt_sched_apply(&sched, opt) || nnopt_step(opt, param, grad) ||
            nnopt_sched_step(&sched)) return 1;
        if (step % 400 == 0 || step == STEPS - 1) {
            forward(param, NULL, 0, &live);
            printf("step %4d  lr %.5f  loss %.4f (+ L2 %.4f)  accuracy %.3f\n", step,
                   nnopt_get_hparams(opt)->lr, loss, l2, live);
        }
    }
    forward(param, NULL, 0, &live);
    forward(nnopt_averaged_params(opt), NULL, 0, &ema);
    printf("final training accuracy: live weights %.3f, EMA weights %.3f\n", live, ema);
    nnopt_destroy(opt);
    if (live >= 0.95 && ema >= 0.95) return 0;
    printf("FAILED\n");
    return 1;
}
