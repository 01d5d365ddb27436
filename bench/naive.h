/* Baselines: the plain C loop a user would write for each optimizer (naive.c, compiled
   twice: -O2 with no -march, and -O3 -march=native -fno-math-errno), and streaming kernels
   with each optimizer's memory traffic (roof.c). */
#ifndef NNOPT_BENCH_NAIVE_H
#define NNOPT_BENCH_NAIVE_H

#include <stddef.h>

typedef struct naive_args {
    size_t n;
    float *p;
    const float *g;
    float *s[3];                       /* state buffers, in nnopt's order for the kind */
    int kind;                          /* nnopt_kind; -1 SWA, -2 EMA update of s[0] with p, -3 norm of g */
    double lr, beta1, beta2, eps, weight_decay, momentum, t;   /* t: this step, from 1 */
} naive_args;

void naive_O2_step(const naive_args *a);
void naive_native_step(const naive_args *a);

/* Streams: reads `reads` arrays, writes the first `writes` of them in place. */
void roof_stream(float *const *arrays, int reads, int writes, size_t n);

#endif
