/* The optimizers whose checkpoints are kept in tests/golden/checkpoints/, one per kind: every
   optional state buffer on (momentum, Nesterov, AMSGrad, centered), averaging and Lookahead on
   alternate kinds, two groups (7 and 10 parameters, the second with its own scales), and
   7 steps of a fixed gradient sequence. tests/golden/make_checkpoints.c writes the files with
   the format of the build it is compiled with; the suite loads every file of every past format
   and compares the result with the same run made now. */
#ifndef NNOPT_TEST_CHECKPOINT_CASES_H
#define NNOPT_TEST_CHECKPOINT_CASES_H

#include <string.h>
#include "../nnopt.h"

#define CKCASE_N 17
#define CKCASE_STEPS 7

static nnopt_hparams ckcase_hparams(nnopt_kind kind)
{
    nnopt_hparams h = nnopt_defaults(kind);
    h.momentum = 0.5; h.nesterov = 1; h.amsgrad = 1; h.centered = 1;   /* read only by their kinds */
    h.weight_decay = 0.01;
    h.average = (int)kind % 3;                      /* none, SWA, EMA */
    h.average_warmup = (int)kind % 2;
    h.lookahead_k = (int)kind % 2 ? 3 : 0;
    return h;
}

static void ckcase_groups(nnopt_group g[2])
{
    g[0] = nnopt_group_default(7);
    g[1] = nnopt_group_default(CKCASE_N - 7);
    g[1].lr_scale = 0.5; g[1].weight_decay_scale = 2.0;
}

/* The run: parameters and the optimizer after CKCASE_STEPS steps (NULL if not created). */
static nnopt_optimizer *ckcase_run(nnopt_kind kind, float p[CKCASE_N])
{
    nnopt_hparams h = ckcase_hparams(kind);
    nnopt_group g[2];
    nnopt_optimizer *opt;
    float grad[CKCASE_N];
    int i, t;
    ckcase_groups(g);
    opt = nnopt_create_groups(&h, g, 2);
    if (!opt) return NULL;
    for (i = 0; i < CKCASE_N; i++) p[i] = 0.25f * (float)i - 2.0f;
    for (t = 1; t <= CKCASE_STEPS; t++) {
        for (i = 0; i < CKCASE_N; i++)
            grad[i] = 0.5f * p[i] + 0.125f * (float)((i * 5 + t * 3) % 7) - 0.375f;
        if (nnopt_step(opt, p, grad) != NNOPT_OK) { nnopt_destroy(opt); return NULL; }
    }
    return opt;
}

#endif
