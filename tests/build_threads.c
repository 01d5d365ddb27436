/* Threads, built with -fsanitize=thread by build.sh.
   1. First use of the path selection from several threads at once: every thread must see the
      same path, and an explicit nnopt_isa_set() made meanwhile must not be overwritten by a
      racing first use.
   2. Stress: several threads run every optimizer kind (and the clipping and averaging kernels)
      at once, on their own data, while another thread keeps switching the path with
      nnopt_isa_set(). Every thread's results must equal a single-threaded run bit for bit
      (all paths agree), and ThreadSanitizer must see no race. */
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8
#define WORKERS 4
#define TASKS (NNOPT_KIND_COUNT + 2)
#define TASK_N 203
#define TASK_STEPS 6

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

/* ---- Stress ------------------------------------------------------------------------------ */

/* Task t < NNOPT_KIND_COUNT: optimizer kind t for TASK_STEPS steps; then clipping by norm and
   averaging. The result is every parameter and the optimizer's checkpoint, as bytes. */
typedef struct { unsigned char *bytes; size_t size; } result;

static float task_value(int task, int step, size_t i)
{
    return (float)((int)((i * 31 + (size_t)step * 7 + (size_t)task * 13) % 97) - 48) * (1.0f / 64.0f);
}

static result run_task(int task)
{
    float p[TASK_N], g[TASK_N];
    result r;
    size_t i;
    int s;
    for (i = 0; i < TASK_N; i++) p[i] = task_value(task, -1, i);
    r.size = sizeof p;
    r.bytes = NULL;
    if (task < NNOPT_KIND_COUNT) {
        nnopt_hparams h = nnopt_defaults((nnopt_kind)task);
        nnopt_optimizer *opt;
        h.weight_decay = 0.01;
        h.average = NNOPT_AVERAGE_EMA;
        opt = nnopt_create(&h, TASK_N);
        if (!opt) return r;
        for (s = 0; s < TASK_STEPS; s++) {
            for (i = 0; i < TASK_N; i++) g[i] = task_value(task, s, i);
            if (nnopt_step(opt, p, g) != NNOPT_OK) { nnopt_destroy(opt); return r; }
        }
        r.size = sizeof p + nnopt_save_size(opt);
        r.bytes = (unsigned char *)malloc(r.size);
        if (r.bytes) nnopt_save(opt, r.bytes + sizeof p, r.size - sizeof p);
        nnopt_destroy(opt);
    } else {
        float avg[TASK_N];
        double norm = 0;
        memcpy(avg, p, sizeof avg);
        for (s = 0; s < TASK_STEPS; s++) {
            for (i = 0; i < TASK_N; i++) g[i] = task_value(task, s, i);
            nnopt_clip_grad_norm(g, TASK_N, 0.5, task == NNOPT_KIND_COUNT ? 2.0 : 1.0, 0, &norm);
            for (i = 0; i < TASK_N; i++) p[i] += g[i];
            nnopt_swa_update(avg, p, TASK_N, (uint64_t)s);
        }
        r.bytes = (unsigned char *)malloc(r.size);
        memcpy(p, avg, sizeof p);
    }
    if (r.bytes) memcpy(r.bytes, p, sizeof p);
    return r;
}

static result reference[TASKS];
static int stop_flipping;
static int mismatches;
static pthread_mutex_t mismatch_lock = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
    int id = (int)(size_t)arg, round, t;
    for (round = 0; round < 2; round++)
        for (t = 0; t < TASKS; t++) {
            int task = (t + id * 5) % TASKS;          /* each worker in its own order */
            result r = run_task(task);
            if (!r.bytes || r.size != reference[task].size ||
                memcmp(r.bytes, reference[task].bytes, r.size) != 0) {
                pthread_mutex_lock(&mismatch_lock);
                mismatches++;
                printf("worker %d: task %d differs from the single-threaded run\n", id, task);
                pthread_mutex_unlock(&mismatch_lock);
            }
            free(r.bytes);
        }
    return NULL;
}

static void *flipper(void *arg)
{
    int isa = 0;
    (void)arg;
    while (!__atomic_load_n(&stop_flipping, __ATOMIC_ACQUIRE)) {
        nnopt_isa_set((nnopt_isa)isa);
        isa = isa >= (int)nnopt_isa_best() ? 0 : isa + 1;
    }
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS], flip;
    int i, bad = 0;
    for (i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, first_use, (void *)(size_t)i);
    for (i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    for (i = 1; i < THREADS; i++) bad |= seen[i] != seen[0];
    if (nnopt_isa_set(NNOPT_ISA_SCALAR) != NNOPT_OK || nnopt_isa_get() != NNOPT_ISA_SCALAR) bad = 1;
    if (bad) printf("threads disagreed on the path\n");

    for (i = 0; i < TASKS; i++) {
        reference[i] = run_task(i);
        if (!reference[i].bytes) { printf("task %d failed\n", i); return 1; }
    }
    pthread_create(&flip, NULL, flipper, NULL);
    for (i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, worker, (void *)(size_t)i);
    for (i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
    __atomic_store_n(&stop_flipping, 1, __ATOMIC_RELEASE);
    pthread_join(flip, NULL);
    for (i = 0; i < TASKS; i++) free(reference[i].bytes);
    printf("stress: %d workers x %d tasks x 2 rounds while the path switched: %d mismatches\n",
           WORKERS, TASKS, mismatches);
    return bad || mismatches;
}
