/* The pipelines of the augmentation benchmarks, defined once for bench_augment.c (Google
   Benchmark) and aug_lib.c (the library bench/torch_augment.py loads to time them beside
   torchvision in one process).
     augment_cifar     reflect-pad 4, random crop 32x32, random horizontal flip, normalize
                       (32x32x3 uint8 in, 3x32x32 float out), batches of 256
     augment_imagenet  random resized crop of a 500x375 image to 224x224, random horizontal
                       flip, normalize, batches of 16 */
#ifndef NNOPT_BENCH_AUG_PIPELINES_H
#define NNOPT_BENCH_AUG_PIPELINES_H

#include <stddef.h>
#include "../nnopt.h"

typedef struct bench_aug_case {
    const char *kernel;
    int width, height;     /* uint8 HWC input, 3 channels */
    size_t batch;
} bench_aug_case;

#define BENCH_AUG_CASES 2
static const bench_aug_case bench_aug_cases[BENCH_AUG_CASES] = {
    { "augment_cifar", 32, 32, 256 },
    { "augment_imagenet", 500, 375, 16 },
};

/* The pipeline of bench_aug_cases[j]. */
static nnopt_status bench_aug_pipeline(int j, nnopt_aug_pipeline *pl)
{
    static const float mean[2][3] = { { 0.4914f, 0.4822f, 0.4465f }, { 0.485f, 0.456f, 0.406f } };
    static const float std[2][3] = { { 0.2470f, 0.2435f, 0.2616f }, { 0.229f, 0.224f, 0.225f } };
    nnopt_aug_op ops[3];
    int k;
    if (j == 0) {
        ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_CROP);
        ops[0].width = ops[0].height = 32;
        for (k = 0; k < 4; k++) ops[0].pad[k] = 4;
        ops[0].pad_mode = NNOPT_PAD_REFLECT;
    } else {
        ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_RESIZED_CROP);
        ops[0].width = ops[0].height = 224;
    }
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_HFLIP);
    ops[2] = nnopt_aug_op_defaults(NNOPT_AUG_NORMALIZE);
    for (k = 0; k < 3; k++) { ops[2].mean[k] = mean[j][k]; ops[2].std[k] = std[j][k]; }
    return nnopt_aug_pipeline_init(pl, ops, 3, NNOPT_IMAGE_U8_HWC, bench_aug_cases[j].width,
                                   bench_aug_cases[j].height, 3);
}

#endif
