/* Compiled once per feature toggle (build.sh passes -DNNOPT_NO_...): the header must build
   cleanly with any section removed, and what remains must still work. */
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"

int main(void)
{
    if (nnopt_isa_set(nnopt_isa_best()) != NNOPT_OK) return 1;
#ifndef NNOPT_NO_OPTIM
    {
        float p[3] = { 1, 2, 3 }, g[3] = { 1, 1, 1 };
        nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
        nnopt_optimizer *opt = nnopt_create(&h, 3);
        if (!opt || nnopt_step(opt, p, g) != NNOPT_OK) return 1;
        nnopt_destroy(opt);
    }
#endif
    return 0;
}
