/* Minimal drop-in use: include the header, create an optimizer, step a parameter vector.
   Minimizes f(p) = sum_i a_i (p_i - 1)^2 / 2 with SGD + Nesterov momentum.
   Build: cc -O2 examples/minimal.c -lm   (no -mavx2 needed; the fast path is picked at run time) */
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"

#include <stdio.h>

#define N 1000

int main(void)
{
    static float param[N], grad[N];
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
    nnopt_optimizer *opt;
    int step, i;

    h.lr = 0.05;
    h.momentum = 0.9;
    h.nesterov = 1;
    opt = nnopt_create(&h, N);
    if (!opt) return 1;

    for (step = 0; step <= 100; step++) {
        double loss = 0;
        for (i = 0; i < N; i++) {
            float a = 1.0f + (float)(i % 10);          /* curvatures 1..10 */
            float d = param[i] - 1.0f;
            grad[i] = a * d;
            loss += 0.5 * a * d * d;
        }
        if (step % 20 == 0) printf("step %3d  loss %.6g\n", step, loss);
        if (nnopt_step(opt, param, grad) != NNOPT_OK) return 1;
    }
    printf("path: %s (NNOPT_ISA=scalar|avx2|avx512 chooses another)\n", nnopt_isa_name(nnopt_isa_get()));
    nnopt_destroy(opt);
    return 0;
}
