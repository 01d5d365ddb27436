/* NNOPT_MALLOC/NNOPT_FREE route every allocation through the user's functions. Built with
   -DNNOPT_TEST_ONLY_MALLOC it must fail to compile: the pair is both or neither. */
#include <stdlib.h>

static long live_blocks;
static void *counting_malloc(size_t n) { live_blocks++; return malloc(n); }
static void counting_free(void *p) { if (p) live_blocks--; free(p); }

#define NNOPT_MALLOC(sz) counting_malloc(sz)
#ifndef NNOPT_TEST_ONLY_MALLOC
#  define NNOPT_FREE(p) counting_free(p)
#endif
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"

int main(void)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
    nnopt_optimizer *opt;
    h.momentum = 0.9;
    opt = nnopt_create(&h, 100);
    if (!opt || live_blocks != 1) return 1;
    nnopt_destroy(opt);
    return live_blocks == 0 ? 0 : 1;
}
