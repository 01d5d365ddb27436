/* The benchmark binary: registers every family, then hands over to Google Benchmark
   (--benchmark_filter, --benchmark_format=json, ... work as usual). */
#define _POSIX_C_SOURCE 200809L
#define NNOPT_IMPLEMENTATION
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

float **bench_arrays(void)
{
    static float *arrays[6];
    if (!arrays[0]) {
        size_t k, i;
        for (k = 0; k < 6; k++) {
            /* 320 bytes more per array (the offset of the STREAM benchmark): no two arrays
               share their address modulo 4096, which would alias loads with stores */
            char *raw = (char *)aligned_alloc(4096, (size_t)BENCH_MAX_N * sizeof(float) + 4096);
            arrays[k] = raw ? (float *)(raw + 320 * k) : NULL;
            if (!arrays[k]) { fprintf(stderr, "bench: out of memory\n"); exit(1); }
            for (i = 0; i < BENCH_MAX_N; i++)   /* parameters ~1, gradients ~1e-3, state small */
                arrays[k][i] = k == 0 ? 1.0f : k == 1 ? 1e-3f * (float)((i * 7919) % 1000) / 1000.0f : 1e-4f;
        }
    }
    return arrays;
}

void bench_register(const char *family, const char *kernel, const char *variant, size_t n,
                    nb_fn fn, void *ctx)
{
    char name[160];
    const char *unit = n >= (1u << 20) ? "M" : "K";
    (void)family;
    snprintf(name, sizeof name, "%s/%s/%zu%s", kernel, variant,
             n >= (1u << 20) ? n >> 20 : n >> 10, unit);
    nb_register(name, fn, ctx);
}

int main(int argc, char **argv)
{
    register_optim_benchmarks();
    register_random_benchmarks();


    register_reg_benchmarks();


    register_dropout_benchmarks();


    register_batchnorm_benchmarks();


    register_augment_benchmarks();
    return nb_main(argc, argv);
}
