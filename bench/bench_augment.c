/* Augmentation benchmarks: the two pipelines of bench/aug_pipelines.h on batches of uint8
   HWC images, one thread, on each ISA path (augment_<name>/<isa>/b<batch>). items/s =
   images/s; bytes/s counts each image's uint8 input and float output once.
   bench/torch_augment.py times torchvision's transforms on tensors for the same pipelines. */
#include "bench.h"
#include "aug_pipelines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    nnopt_aug_pipeline pl;
    size_t batch, in_bytes, out_bytes;
    nnopt_isa isa;
    uint8_t *in;
    float *out;
    uint64_t calls;
} aug_case;

static void run_case(nb_state *st, void *ctx)
{
    aug_case *c = (aug_case *)ctx;
    int64_t iters;
    if (c->isa > nnopt_isa_best()) { nb_skip(st, "path not available on this CPU"); return; }
    nnopt_isa_set(c->isa);
    while (nb_keep_running(st)) {
        /* a new first index each call: new random choices, as over an epoch */
        nnopt_aug_apply(&c->pl, c->in, c->out, c->batch, 1234, c->calls * c->batch, NULL);
        c->calls++;
    }
    iters = nb_iterations(st);
    nb_set_items(st, iters * (int64_t)c->batch);
    nb_set_bytes(st, iters * (int64_t)(c->batch * (c->in_bytes + c->out_bytes)));
    nnopt_isa_set(nnopt_isa_best());
}

static void add_pipeline(int j)
{
    static const char *names[3] = { "scalar", "avx2", "avx512" };
    const bench_aug_case *bc = &bench_aug_cases[j];
    int isa;
    for (isa = 0; isa < 3; isa++) {
        aug_case *c = (aug_case *)calloc(1, sizeof *c);
        char name[128];
        size_t i;
        if (bench_aug_pipeline(j, &c->pl) != NNOPT_OK) {
            fprintf(stderr, "bench_augment: bad pipeline %s\n", bc->kernel);
            exit(1);
        }
        c->batch = bc->batch; c->isa = (nnopt_isa)isa;
        c->in_bytes = (size_t)bc->width * (size_t)bc->height * 3;
        c->out_bytes = (size_t)c->pl.out_width * c->pl.out_height * 3 * sizeof(float);
        c->in = (uint8_t *)malloc(c->batch * c->in_bytes);
        c->out = (float *)malloc(c->batch * c->out_bytes);
        for (i = 0; i < c->batch * c->in_bytes; i++) c->in[i] = (uint8_t)((i * 2654435761u) >> 24);
        snprintf(name, sizeof name, "%s/%s/b%zu", bc->kernel, names[isa], c->batch);
        nb_register(name, run_case, c);
    }
}

void register_augment_benchmarks(void)
{
    int j;
    for (j = 0; j < BENCH_AUG_CASES; j++) add_pipeline(j);
}
