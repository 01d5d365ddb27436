/* Fuzz harness for the checkpoint loader, nnopt_load.

   Input: byte 0 picks the optimizer to load into (low 7 bits, an entry of `configs`) and,
   with its top bit set, asks the harness to write the correct FNV-1a trailer over the rest,
   so mutations get past the hash and reach the field checks. The remaining bytes are the
   checkpoint, copied into an allocation of exactly that size (AddressSanitizer sees any read
   past it). Every outcome is checked:
     - the status is NNOPT_OK or NNOPT_ERR_FORMAT, nothing else;
     - on NNOPT_ERR_FORMAT the optimizer is unchanged (its own checkpoint is byte-identical);
     - on NNOPT_OK saving again reproduces the input exactly (an older format's, once
       migrated, saves to a checkpoint that loads back to itself), and the optimizer still steps.
   Build: clang -fsanitize=fuzzer,address,undefined (./build.sh fuzz); with
   -DNNOPT_FUZZ_MAKE_SEEDS it is instead a program writing the seed corpus into a directory. */
#define NNOPT_IMPLEMENTATION
#include "../../nnopt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_FAIL(...) (fprintf(stderr, "fuzz_checkpoint: " __VA_ARGS__), fputc('\n', stderr), abort())

/* One optimizer per state layout worth telling apart: each kind, the optional buffers
   (momentum, amsgrad, centered, averaging, Lookahead) and more than one group. */
typedef struct { nnopt_kind kind; int variant; int groups; } ckpt_config;
static const ckpt_config configs[] = {
    { NNOPT_SGD, 0, 1 }, { NNOPT_SGD, 1, 2 }, { NNOPT_ADAM, 0, 1 }, { NNOPT_ADAM, 1, 3 },
    { NNOPT_ADAMW, 0, 1 }, { NNOPT_ADAGRAD, 0, 2 }, { NNOPT_RMSPROP, 0, 1 }, { NNOPT_RMSPROP, 1, 1 },
    { NNOPT_ADADELTA, 0, 1 }, { NNOPT_ADAMAX, 0, 1 }, { NNOPT_NADAM, 0, 2 }, { NNOPT_RADAM, 0, 1 },
    { NNOPT_RPROP, 0, 1 }, { NNOPT_ASGD, 0, 2 }, { NNOPT_LION, 0, 1 }, { NNOPT_ADABELIEF, 1, 1 },
    { NNOPT_YOGI, 0, 1 }, { NNOPT_LAMB, 0, 2 }, { NNOPT_LARS, 0, 1 }, { NNOPT_ADAM, 2, 1 },
    { NNOPT_SGD, 3, 2 }
};
#define CONFIGS (sizeof configs / sizeof configs[0])

static nnopt_optimizer *make_optimizer(const ckpt_config *c, size_t *n)
{
    nnopt_hparams h = nnopt_defaults(c->kind);
    nnopt_group g[3];
    int i;
    memset(g, 0, sizeof g);
    if (c->variant == 1) { h.momentum = 0.9; h.amsgrad = 1; h.centered = 1; h.weight_decay = 0.01; }
    if (c->variant == 2) { h.average = NNOPT_AVERAGE_EMA; h.average_warmup = 1; h.lookahead_k = 2; }
    if (c->variant == 3) { h.momentum = 0.5; h.average = NNOPT_AVERAGE_SWA; h.nonfinite_guard = 1; }
    for (i = 0; i < c->groups; i++) g[i] = nnopt_group_default(3 + 2 * (size_t)i);
    if (c->groups > 1) { g[1].lr_scale = 0.5; g[1].frozen = c->groups > 2; }
    *n = 0;
    for (i = 0; i < c->groups; i++) *n += g[i].n;
    return nnopt_create_groups(&h, g, (size_t)c->groups);
}

/* A few ordinary steps, so the state is not all zeros. */
static void warm_up(nnopt_optimizer *opt, size_t n, float *param, float *grad, int steps)
{
    size_t i;
    int s;
    for (i = 0; i < n; i++) param[i] = 0.25f * (float)i - 1.0f;
    for (s = 0; s < steps; s++) {
        for (i = 0; i < n; i++) grad[i] = 0.125f * (float)((i * 7 + (size_t)s * 3) % 11) - 0.5f;
        if (nnopt_step(opt, param, grad) != NNOPT_OK) FUZZ_FAIL("warm-up step failed");
    }
}

#ifndef NNOPT_FUZZ_MAKE_SEEDS
static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325u;
    size_t i;
    for (i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001B3u; }
    return h;
}
#endif

static unsigned char *save_copy(const nnopt_optimizer *opt, size_t *size)
{
    unsigned char *b;
    *size = nnopt_save_size(opt);
    b = (unsigned char *)malloc(*size);
    if (!b || nnopt_save(opt, b, *size) != NNOPT_OK) FUZZ_FAIL("save failed");
    return b;
}

#ifndef NNOPT_FUZZ_MAKE_SEEDS
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ckpt_config *c;
    nnopt_optimizer *opt;
    unsigned char *ckpt, *before, *after;
    size_t n, len, before_size, after_size, i;
    float param[16], grad[16];
    nnopt_status st;
    if (size < 1) return 0;
    c = &configs[(data[0] & 0x7F) % CONFIGS];
    opt = make_optimizer(c, &n);
    if (!opt) FUZZ_FAIL("create failed");
    warm_up(opt, n, param, grad, 2);
    before = save_copy(opt, &before_size);

    len = size - 1;
    ckpt = (unsigned char *)malloc(len ? len : 1);
    if (!ckpt) FUZZ_FAIL("out of memory");
    if (len) memcpy(ckpt, data + 1, len);
    if ((data[0] & 0x80) && len >= 8) {
        uint64_t h = fnv1a(ckpt, len - 8);
        for (i = 0; i < 8; i++) ckpt[len - 8 + i] = (unsigned char)(h >> (8 * i));
    }

    st = nnopt_load(opt, len ? ckpt : NULL, len);
    after = save_copy(opt, &after_size);
    if (!len) {
        if (st != NNOPT_ERR_INVALID) FUZZ_FAIL("NULL buffer: status %d", (int)st);
    } else if (st == NNOPT_OK) {
        /* Loaded: the optimizer now is exactly the checkpoint (one of the current format
           saves back to the same bytes; an older one, once migrated, to a checkpoint that
           loads back to itself), and it still works. */
        if (len >= 12 && memcmp(ckpt + 8, before + 8, 4) == 0) {
            if (after_size != len || memcmp(after, ckpt, len) != 0)
                FUZZ_FAIL("loaded checkpoint does not save back to the same bytes");
        } else {
            unsigned char *again;
            size_t again_size;
            if (nnopt_load(opt, after, after_size) != NNOPT_OK) FUZZ_FAIL("migrated checkpoint does not load");
            again = save_copy(opt, &again_size);
            if (again_size != after_size || memcmp(again, after, after_size) != 0)
                FUZZ_FAIL("migrated checkpoint does not save back to the same bytes");
            free(again);
        }
        for (i = 0; i < n; i++) grad[i] = 0.5f - 0.0625f * (float)i;
        st = nnopt_step(opt, param, grad);
        if (st != NNOPT_OK) FUZZ_FAIL("step after a successful load: status %d", (int)st);
    } else {
        if (st != NNOPT_ERR_FORMAT) FUZZ_FAIL("status %d, expected NNOPT_ERR_FORMAT", (int)st);
        if (after_size != before_size || memcmp(after, before, before_size) != 0)
            FUZZ_FAIL("refused checkpoint changed the optimizer");
    }
    free(after);
    free(before);
    free(ckpt);
    nnopt_destroy(opt);
    return 0;
}
#else
/* Seeds: each configuration's own checkpoint after 0 and 3 steps, with and without the
   hash-fixing bit, and one loaded into the next configuration (a mismatch to mutate from). */
static void write_seed(const char *dir, const char *name, int first, const unsigned char *b, size_t n)
{
    char path[512];
    FILE *f;
    unsigned char head = (unsigned char)first;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(&head, 1, 1, f) != 1 || fwrite(b, 1, n, f) != n) FUZZ_FAIL("cannot write %s", path);
    fclose(f);
}

int main(int argc, char **argv)
{
    size_t ci;
    if (argc != 2) { fprintf(stderr, "usage: %s corpus-directory\n", argv[0]); return 2; }
    for (ci = 0; ci < CONFIGS; ci++) {
        int steps;
        for (steps = 0; steps <= 3; steps += 3) {
            float param[16], grad[16];
            size_t n, size;
            unsigned char *b;
            char name[64];
            nnopt_optimizer *opt = make_optimizer(&configs[ci], &n);
            if (!opt) FUZZ_FAIL("create failed");
            warm_up(opt, n, param, grad, steps);
            b = save_copy(opt, &size);
            snprintf(name, sizeof name, "v%u-%s-%zu-step%d", (unsigned)b[8], nnopt_kind_name(configs[ci].kind), ci, steps);
            write_seed(argv[1], name, (int)ci | (steps ? 0x80 : 0), b, size);
            if (steps == 0) {
                snprintf(name, sizeof name, "v%u-%s-%zu-into-next", (unsigned)b[8], nnopt_kind_name(configs[ci].kind), ci);
                write_seed(argv[1], name, (int)((ci + 1) % CONFIGS), b, size);
            }
            free(b);
            nnopt_destroy(opt);
        }
    }
    return 0;
}
#endif
