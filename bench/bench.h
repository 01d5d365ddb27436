/* Shared pieces of the benchmark binary. */
#ifndef NNOPT_BENCH_H
#define NNOPT_BENCH_H

#include <stddef.h>
#include "../nnopt.h"
#include "shim.h"
#include "naive.h"

#define BENCH_MAX_N (1 << 24)   /* 16M elements */

double  bench_now(void);                  /* seconds, monotonic */
float **bench_arrays(void);               /* 6 arrays of BENCH_MAX_N floats, filled */
/* Registers "<kernel>/<variant>/<size>" (size as 4K, 1M, ...). family groups the report. */
void    bench_register(const char *family, const char *kernel, const char *variant, size_t n,
                       nb_fn fn, void *ctx);

void register_optim_benchmarks(void);
void register_random_benchmarks(void);


void register_reg_benchmarks(void);


void register_dropout_benchmarks(void);


void register_batchnorm_benchmarks(void);


void register_augment_benchmarks(void);

#endif
