/* First use of the path selection from several threads at once: every thread must see the
   same path, and an explicit nnopt_isa_set() made meanwhile must not be overwritten by a
   racing first use. Built with -fsanitize=thread by build.sh. */
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"

#include <pthread.h>
#include <stdio.h>

#define THREADS 8

static nnopt_isa seen[THREADS];

static void *first_use(void *arg)
{
    int id = (int)(size_t)arg;
    float p[33] = { 0 }, g[33] = { 0 };
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
    nnopt_optimizer *opt = nnopt_create(&h, 33);
    seen[id] = nnopt_isa_get();
    if (opt) nnopt_step(opt, p, g);   /* dispatch from every thread */
    nnopt_destroy(opt);
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    int i, bad = 0;
    for (i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, first_use, (void *)(size_t)i);
    for (i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    for (i = 1; i < THREADS; i++) bad |= seen[i] != seen[0];
    if (nnopt_isa_set(NNOPT_ISA_SCALAR) != NNOPT_OK || nnopt_isa_get() != NNOPT_ISA_SCALAR) bad = 1;
    if (bad) printf("threads disagreed on the path\n");
    return bad;
}
