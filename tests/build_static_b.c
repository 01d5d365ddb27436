#define NNOPT_STATIC
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"

int nnopt_static_b_steps(void);

int nnopt_static_b_steps(void)
{
    float p[2] = { 1, 2 }, g[2] = { 1, 1 };
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
    nnopt_optimizer *opt = nnopt_create(&h, 2);
    int steps;
    if (!opt || nnopt_step(opt, p, g) != NNOPT_OK) return -1;
    steps = (int)nnopt_step_count(opt);
    nnopt_destroy(opt);
    return steps;
}
