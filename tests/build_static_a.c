/* NNOPT_STATIC: two translation units each hold a private copy of the implementation and
   link together without clashing symbols. */
#define NNOPT_STATIC
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"

int nnopt_static_b_steps(void);

int main(void)
{
    float p[2] = { 1, 2 }, g[2] = { 1, 1 };
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
    nnopt_optimizer *opt = nnopt_create(&h, 2);
    if (!opt || nnopt_step(opt, p, g) != NNOPT_OK) return 1;
    nnopt_destroy(opt);
    return nnopt_static_b_steps() == 1 ? 0 : 1;
}
