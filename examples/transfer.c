/* Transfer learning with parameter groups: a pre-trained backbone (a tanh layer) is frozen
   while a new head learns a related task at a high lr; then the backbone is unfrozen and the
   whole network is fine-tuned at a lower lr. One optimizer, two groups, nnopt_set_group.
   Build: cc -O2 examples/transfer.c -lm */
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#define IN 2
#define H 32
#define NB (H * IN + H)   /* backbone: W1 (H x IN), b1 */
#define NH (H + 1)        /* head: w2, b2 */
#define S 256             /* training points */

static float x[S][IN], param[NB + NH], grad[NB + NH];

#define TASK(which, a, b) ((which) == 0 ? sinf(3 * (a)) + cosf(2 * (b)) /* two related targets */ \
                                       : 0.5f * sinf(3 * (a)) - cosf(2 * (b)) + (a) * (b))

/* Mean squared error of the network on `which`, and its gradient in grad (every parameter;
   a frozen group simply ignores its part). */
static double loss_and_grad(int which)
{
    const float *w1 = param, *b1 = param + H * IN, *w2 = param + NB, *b2 = w2 + H;
    double loss = 0;
    int s, j;
    memset(grad, 0, sizeof grad);
    for (s = 0; s < S; s++) {
        float h[H], out = *b2, err;
        for (j = 0; j < H; j++) {
            h[j] = tanhf(w1[j * IN] * x[s][0] + w1[j * IN + 1] * x[s][1] + b1[j]);
            out += w2[j] * h[j];
        }
        err = (out - TASK(which, x[s][0], x[s][1])) / S;   /* d(mse)/d(out) = 2 err */
        loss += (double)err * err * S;
        grad[NB + H] += 2 * err;
        for (j = 0; j < H; j++) {
            float dh = 2 * err * w2[j] * (1 - h[j] * h[j]);
            grad[NB + j] += 2 * err * h[j];
            grad[j * IN] += dh * x[s][0];
            grad[j * IN + 1] += dh * x[s][1];
            grad[H * IN + j] += dh;
        }
    }
    return loss;
}

static double train(nnopt_optimizer *opt, int which, int steps)
{
    while (steps-- > 0) {
        loss_and_grad(which);
        if (nnopt_step(opt, param, grad) != NNOPT_OK) return INFINITY;
    }
    return loss_and_grad(which);
}

int main(void)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_ADAM);
    nnopt_group groups[2];   /* 0: backbone, 1: head; nnopt_step takes them concatenated */
    nnopt_optimizer *opt;
    float backbone[NB];
    double before, frozen_loss, tuned_loss;
    int s, i, kept;

    for (s = 0; s < S; s++)   /* a 16 x 16 grid over [-1, 1]^2 */
        x[s][0] = -1 + 2.0f * (s % 16) / 15, x[s][1] = -1 + 2.0f * (s / 16) / 15;
    for (i = 0; i < NB + NH; i++) param[i] = 0.5f * sinf(12.9898f * (float)i);   /* fixed init */

    h.lr = 1e-2;   /* "pre-training": the whole network on task 0 */
    opt = nnopt_create(&h, NB + NH);
    printf("pre-trained on task 0: mse %.5f\n", train(opt, 0, 1500));
    nnopt_destroy(opt);

    /* A new head for task 1: zeros, trained at 10x the base lr with the backbone frozen. */
    memset(param + NB, 0, NH * sizeof(float));
    memcpy(backbone, param, sizeof backbone);
    h.lr = 1e-3;
    groups[0] = nnopt_group_default(NB), groups[0].frozen = 1;
    groups[1] = nnopt_group_default(NH), groups[1].lr_scale = 10;
    if (!(opt = nnopt_create_groups(&h, groups, 2))) return 1;
    before = loss_and_grad(1);
    frozen_loss = train(opt, 1, 1000);
    kept = !memcmp(backbone, param, sizeof backbone);
    printf("task 1, new head:      mse %.5f -> %.5f (backbone %s)\n", before, frozen_loss,
           kept ? "unchanged" : "CHANGED");

    /* Unfreeze and fine-tune everything: backbone at 0.1x the base lr, head back to 1x. */
    groups[0].frozen = 0, groups[0].lr_scale = 0.1, groups[1].lr_scale = 1;
    if (nnopt_set_group(opt, 0, &groups[0]) || nnopt_set_group(opt, 1, &groups[1])) return 1;
    tuned_loss = train(opt, 1, 1000);
    printf("task 1, fine-tuned:    mse %.5f\n", tuned_loss);
    nnopt_destroy(opt);

    if (kept && frozen_loss < 0.5 * before && tuned_loss < frozen_loss) return 0;
    printf("FAILED\n");
    return 1;
}
