/* A C interface to Google Benchmark, so the benchmarks themselves are written in C. */
#ifndef NNOPT_BENCH_SHIM_H
#define NNOPT_BENCH_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_state nb_state;                 /* a benchmark::State */
typedef void (*nb_fn)(nb_state *st, void *ctx);

/* Registers fn(st, ctx) under name, timed in real (wall-clock) time. */
void    nb_register(const char *name, nb_fn fn, void *ctx);
int     nb_keep_running(nb_state *st);            /* while (nb_keep_running(st)) { ... } */
void    nb_pause(nb_state *st);
void    nb_resume(nb_state *st);
int64_t nb_iterations(const nb_state *st);
void    nb_set_bytes(nb_state *st, int64_t total_bytes);   /* -> bytes_per_second */
void    nb_set_items(nb_state *st, int64_t total_items);   /* -> items_per_second */
void    nb_counter(nb_state *st, const char *name, double value);   /* plain value */
void    nb_skip(nb_state *st, const char *why);
void    nb_label(nb_state *st, const char *label);
/* Initialize (command-line flags as usual), run what was registered, shut down. */
int     nb_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
