/* Checkpoint and resume: 100 steps in one go give the same bits as 50 steps, a checkpoint
   written to a file, a fresh optimizer and schedule loaded from it, and 50 more steps.
   AdamW with AMSGrad, an EMA of the weights and a cosine schedule, on noisy "minibatch"
   gradients of a quadratic. Build: cc -O2 examples/checkpoint.c -lm
   Usage: checkpoint [FILE]   (default checkpoint.bin; removed at the end) */
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define N 1000
#define STEPS 100

static nnopt_hparams hparams(void)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_ADAMW);
    h.lr = 0.05, h.amsgrad = 1, h.average = NNOPT_AVERAGE_EMA, h.average_decay = 0.9;
    return h;
}

/* Gradient of sum a_i (p_i - 1)^2 / 2 plus the noise of minibatch `step`: a fixed function
   of the step, as a data loader that restarts at the right batch gives. */
static void gradient(int step, const float *p, float *g)
{
    int i;
    for (i = 0; i < N; i++) {
        unsigned hash = (unsigned)(step * 7919 + i) * 2654435761u;
        g[i] = (float)(1 + i % 10) * (p[i] - 1) + ((float)(hash >> 8) / 16777216.0f - 0.5f);
    }
}

static int train(nnopt_optimizer *opt, nnopt_scheduler *sched, float *p, int from, int to)
{
    static float g[N];
    for (; from < to; from++) {
        gradient(from, p, g);
        if (nnopt_sched_apply(sched, opt) || nnopt_step(opt, p, g) || nnopt_sched_step(sched)) return 0;
    }
    return 1;
}

static unsigned char *snapshot(const nnopt_optimizer *opt, size_t *size)   /* whole optimizer */
{
    unsigned char *bytes = (unsigned char *)malloc(*size = nnopt_save_size(opt));
    if (bytes && nnopt_save(opt, bytes, *size) != NNOPT_OK) free(bytes), bytes = NULL;
    return bytes;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "checkpoint.bin";
    static float straight[N], resumed[N];
    nnopt_hparams h = hparams();
    nnopt_sched_params sp = nnopt_sched_defaults(NNOPT_SCHED_COSINE);
    nnopt_scheduler sched_a, sched;
    nnopt_optimizer *a, *b;
    unsigned char *bytes, *bytes_a;
    size_t size, size_a;
    int same;
    FILE *f;

    /* 1. The reference: 100 steps without stopping. */
    sp.T_max = STEPS, sp.eta_min = 1e-3;
    a = nnopt_create(&h, N);
    if (!a || nnopt_sched_init(&sched_a, &sp, h.lr) || !train(a, &sched_a, straight, 0, STEPS)) return 1;

    /* 2. 50 steps, then parameters, schedule (a plain struct) and optimizer go to a file. */
    b = nnopt_create(&h, N);
    if (!b || nnopt_sched_init(&sched, &sp, h.lr) || !train(b, &sched, resumed, 0, STEPS / 2)) return 1;
    if (!(bytes = snapshot(b, &size)) || !(f = fopen(path, "wb"))) return 1;
    fwrite(resumed, sizeof resumed, 1, f), fwrite(&sched, sizeof sched, 1, f);
    fwrite(&size, sizeof size, 1, f), fwrite(bytes, size, 1, f);
    if (fclose(f)) return 1;
    printf("step %d: wrote %s (optimizer checkpoint %lu bytes)\n", STEPS / 2, path, (unsigned long)size);
    nnopt_destroy(b), free(bytes);
    memset(resumed, 0, sizeof resumed), memset(&sched, 0, sizeof sched);

    /* 3. A fresh optimizer from the same hyper-parameters, loaded from the file; 50 more steps. */
    b = nnopt_create(&h, N);
    if (!b || !(f = fopen(path, "rb"))) return 1;
    if (fread(resumed, sizeof resumed, 1, f) != 1 || fread(&sched, sizeof sched, 1, f) != 1 ||
        fread(&size, sizeof size, 1, f) != 1 || !(bytes = (unsigned char *)malloc(size)) ||
        fread(bytes, size, 1, f) != 1 || nnopt_load(b, bytes, size) != NNOPT_OK) return 1;
    fclose(f), free(bytes), remove(path);
    if (!train(b, &sched, resumed, STEPS / 2, STEPS)) return 1;

    /* Parameters, and the whole optimizer (moments, AMSGrad maxima, EMA weights, step counts). */
    bytes_a = snapshot(a, &size_a), bytes = snapshot(b, &size);
    same = bytes_a && bytes && size_a == size && memcmp(bytes_a, bytes, size) == 0 &&
           memcmp(straight, resumed, sizeof straight) == 0 &&
           nnopt_sched_lr(&sched_a) == nnopt_sched_lr(&sched);
    printf("step %d: parameters, optimizer state and lr of the resumed run are %s\n"
           "        (p[0] = %.9g, EMA p[0] = %.9g, lr %.6g)\n", STEPS,
           same ? "bit-identical to the uninterrupted run" : "DIFFERENT", straight[0],
           nnopt_averaged_params(a)[0], nnopt_sched_lr(&sched_a));
    free(bytes_a), free(bytes);
    nnopt_destroy(a), nnopt_destroy(b);
    return same ? 0 : 1;
}
