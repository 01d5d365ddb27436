/* Augmentation benchmarks: the two pipelines of the issue on batches of uint8 HWC images,
   one thread, on each ISA path. items/s = images/s; bytes/s counts each image's uint8 input
   and float output once.
     augment_cifar/<isa>/b256     reflect-pad 4, random crop 32x32, random horizontal flip,
                                  normalize (32x32x3 uint8 in, 3x32x32 float out)
     augment_imagenet/<isa>/b16   random resized crop of a 500x375 image to 224x224, random
                                  horizontal flip, normalize
   bench/torch_augment.py times torchvision's transforms on tensors for the same pipelines. */
#include "bench.h"

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

static void add_pipeline(const char *kernel, const nnopt_aug_op *ops, int count, int w, int h, size_t batch)
{
    static const char *names[3] = { "scalar", "avx2", "avx512" };
    int isa;
    for (isa = 0; isa < 3; isa++) {
        aug_case *c = (aug_case *)calloc(1, sizeof *c);
        char name[128];
        size_t i;
        if (nnopt_aug_pipeline_init(&c->pl, ops, count, NNOPT_IMAGE_U8_HWC, w, h, 3) != NNOPT_OK) {
            fprintf(stderr, "bench_augment: bad pipeline %s\n", kernel);
            exit(1);
        }
        c->batch = batch; c->isa = (nnopt_isa)isa;
        c->in_bytes = (size_t)w * h * 3;
        c->out_bytes = (size_t)c->pl.out_width * c->pl.out_height * 3 * sizeof(float);
        c->in = (uint8_t *)malloc(batch * c->in_bytes);
        c->out = (float *)malloc(batch * c->out_bytes);
        for (i = 0; i < batch * c->in_bytes; i++) c->in[i] = (uint8_t)((i * 2654435761u) >> 24);
        snprintf(name, sizeof name, "%s/%s/b%zu", kernel, names[isa], batch);
        nb_register(name, run_case, c);
    }
}

void register_augment_benchmarks(void)
{
    nnopt_aug_op ops[3];
    int k;
    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_CROP);
    ops[0].width = ops[0].height = 32;
    for (k = 0; k < 4; k++) ops[0].pad[k] = 4;
    ops[0].pad_mode = NNOPT_PAD_REFLECT;
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_HFLIP);
    ops[2] = nnopt_aug_op_defaults(NNOPT_AUG_NORMALIZE);
    ops[2].mean[0] = 0.4914f; ops[2].mean[1] = 0.4822f; ops[2].mean[2] = 0.4465f;
    ops[2].std[0] = 0.2470f; ops[2].std[1] = 0.2435f; ops[2].std[2] = 0.2616f;
    add_pipeline("augment_cifar", ops, 3, 32, 32, 256);

    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_RESIZED_CROP);
    ops[0].width = ops[0].height = 224;
    ops[2].mean[0] = 0.485f; ops[2].mean[1] = 0.456f; ops[2].mean[2] = 0.406f;
    ops[2].std[0] = 0.229f; ops[2].std[1] = 0.224f; ops[2].std[2] = 0.225f;
    add_pipeline("augment_imagenet", ops, 3, 500, 375, 16);
}
