/* Shared library for bench/torch_augment.py: runs an augmentation benchmark pipeline, so that
   torchvision and nnopt can be timed alternately in one process and a drifting machine speed
   cancels out of their ratio. Built by ./build.sh bench as build/bench/libnnopt_aug.so, with
   the benchmarks' flags. */
#define NNOPT_IMPLEMENTATION
#include "aug_pipelines.h"

#include <string.h>

size_t nnopt_bench_aug_batch(const char *kernel);
size_t nnopt_bench_aug_run(const char *kernel, const uint8_t *in, float *out, uint64_t first);

static int bench_aug_find(const char *kernel)
{
    int j;
    for (j = 0; j < BENCH_AUG_CASES; j++)
        if (strcmp(kernel, bench_aug_cases[j].kernel) == 0) return j;
    return -1;
}

/* Images per call of nnopt_bench_aug_run (0: no such pipeline). */
size_t nnopt_bench_aug_batch(const char *kernel)
{
    int j = bench_aug_find(kernel);
    return j < 0 ? 0 : bench_aug_cases[j].batch;
}

/* One batch of the pipeline from uint8 HWC images at in to float CHW images at out, samples
   first, first + 1, ... as the benchmark runs them; the number of images, or 0 on error. */
size_t nnopt_bench_aug_run(const char *kernel, const uint8_t *in, float *out, uint64_t first)
{
    static nnopt_aug_pipeline pipelines[BENCH_AUG_CASES];
    static int ready[BENCH_AUG_CASES];
    int j = bench_aug_find(kernel);
    if (j < 0) return 0;
    if (!ready[j]) {
        if (bench_aug_pipeline(j, &pipelines[j]) != NNOPT_OK) return 0;
        ready[j] = 1;
    }
    if (nnopt_aug_apply(&pipelines[j], in, out, bench_aug_cases[j].batch, 1234, first, NULL) != NNOPT_OK)
        return 0;
    return bench_aug_cases[j].batch;
}
