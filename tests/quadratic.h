/* The deterministic noisy quadratic of tests/golden/make_golden.py, and runs of it. */
#ifndef NNOPT_TEST_QUADRATIC_H
#define NNOPT_TEST_QUADRATIC_H

#include <stddef.h>
#include <stdint.h>
#include "../nnopt.h"

#ifdef __cplusplus
extern "C" {
#endif

double quadratic_curvature(size_t i);
double quadratic_center(size_t i);
double quadratic_start(size_t i);
double quadratic_noise(uint32_t t, size_t i);
/* g = a (p - c) + noise(t), in float as the golden script computes it. */
void quadratic_grad(float *g, const float *p, size_t n, uint32_t t);

/* `steps` optimizer steps from the start point; the parameters after step 1 go to after1
   when it is not NULL. Returns the first failing status (NNOPT_ERR_INVALID if creation fails). */
nnopt_status quadratic_run(const nnopt_hparams *h, float *p, float *g, size_t n, int steps,
                           float *after1);

#ifdef __cplusplus
}
#endif
#endif
