/* Differential fuzz harness over every public kernel.

   Input: byte 0 picks an entry of `kernels` below; the rest is decoded (fuzz_input.h) into
   sizes, hyper-parameters (NaN, infinities, negative, huge values included), data, pointer
   offsets, aliasing and misalignment. The entry runs once per instruction-set path this CPU
   has, from the same bytes, and writes everything observable (statuses, outputs, optimizer
   checkpoints) to a byte sink; every path's sink must equal the portable path's, bit for bit.
   Entries also check the error rule themselves: a call that returns an error wrote nothing.
   Buffers are allocated at their exact size, offset by a chosen number of floats, so
   AddressSanitizer catches any access past either end.

   To cover a new kernel, add one function and one line in `kernels`. */
#define NNOPT_IMPLEMENTATION
#include "../../nnopt.h"
#include "fuzz_input.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_FAIL(...) (fprintf(stderr, "fuzz_kernels: " __VA_ARGS__), fputc('\n', stderr), abort())
/* -DFUZZ_DEBUG (with replay.c) prints the decoded case and, on a mismatch, the outputs of
   both paths around the first differing byte. */
#ifdef FUZZ_DEBUG
#  define FUZZ_TRACE(...) fprintf(stderr, __VA_ARGS__)
#else
#  define FUZZ_TRACE(...) ((void)0)
#endif
#define MAX_N 2500

/* ---- What a run observed ------------------------------------------------------------- */

typedef struct sink { unsigned char *p; size_t n, cap; } sink;

static void put(sink *s, const void *data, size_t bytes)
{
    if (s->n + bytes > s->cap) {
        size_t cap = (s->cap ? s->cap * 2 : 4096) + bytes;
        unsigned char *p = (unsigned char *)realloc(s->p, cap);
        if (!p) FUZZ_FAIL("out of memory");
        s->p = p; s->cap = cap;
    }
    if (bytes) memcpy(s->p + s->n, data, bytes);
    s->n += bytes;
}
static void put_int(sink *s, int v) { put(s, &v, sizeof v); }

/* NaNs are written as one canonical NaN: which NaN an operation returns when several of its
   operands are NaN (and the sign of a NaN it creates) is the instruction's choice, and the
   vector paths and the portable path may pick differently. Every other value, signed zeros
   and denormals included, must agree bit for bit. */
static void put_double(sink *s, double v)
{
    if (v != v) v = NAN;
    put(s, &v, sizeof v);
}
static void put_floats(sink *s, const void *data, size_t n)
{
    const unsigned char *b = (const unsigned char *)data;
    size_t i;
    for (i = 0; i < n; i++) {
        float v;
        memcpy(&v, b + i * sizeof v, sizeof v);
        if (v != v) v = NAN;
        put(s, &v, sizeof v);
    }
}

/* ---- Buffers ---------------------------------------------------------------------------- */

/* n floats at `offset` floats into an allocation of exactly n + offset floats, filled from
   the input; with `misalign`, one byte further (a pointer every kernel must refuse). */
typedef struct buffer { float *data; void *raw; size_t n; } buffer;

static buffer buffer_make(fuzz_input *in, size_t n, int allow_misaligned)
{
    buffer b;
    size_t offset = fuzz_u8(in) % 17, i;
    int misalign = allow_misaligned && fuzz_u8(in) == 0x4D;
    b.raw = malloc((n + offset) * sizeof(float) + (misalign ? 1 : 0) + 1);
    if (!b.raw) FUZZ_FAIL("out of memory");
    b.data = (float *)((char *)b.raw + offset * sizeof(float) + (misalign ? 1 : 0));
    b.n = n;
    for (i = 0; i < n; i++) {
        float v = fuzz_float(in);
        memcpy((char *)b.data + i * sizeof(float), &v, sizeof v);
    }
    return b;
}

static void buffer_free(buffer *b) { free(b->raw); b->raw = NULL; b->data = NULL; }

static void put_buffer(sink *s, const buffer *b) { put_floats(s, b->data, b->n); }

static unsigned char *snapshot(const buffer *b)
{
    unsigned char *c = (unsigned char *)malloc(b->n * sizeof(float) + 1);
    if (!c) FUZZ_FAIL("out of memory");
    memcpy(c, b->data, b->n * sizeof(float));
    return c;
}

/* The error rule: after a refused call the buffer holds what it held before. */
static void expect_unchanged(const buffer *b, const unsigned char *before, const char *what)
{
    if (memcmp(b->data, before, b->n * sizeof(float)) != 0)
        FUZZ_FAIL("%s: an error status but the output was written", what);
}

/* ---- Hyper-parameters --------------------------------------------------------------------- */

/* The header's own lists of every double and int field of nnopt_hparams (checkpoint order):
   this file compiles the implementation, so its private tables are in scope. */
#define hp_doubles nnopt__hp_doubles
#define hp_ints nnopt__hp_ints
#define COUNT(a) (sizeof (a) / sizeof (a)[0])

/* The kind's defaults with a few fields changed: mostly valid, sometimes not. */
static nnopt_hparams fuzz_hparams(fuzz_input *in)
{
    nnopt_hparams h = nnopt_defaults((nnopt_kind)(fuzz_u8(in) % NNOPT_KIND_COUNT));
    int changes = fuzz_u8(in) % 7, c;
    for (c = 0; c < changes; c++) {
        uint8_t field = fuzz_u8(in);
        if (field == 0xFF) { h.kind = (nnopt_kind)fuzz_int(in); continue; }
        if (field % 2 == 0) {
            double v = fuzz_double(in);
            memcpy((char *)&h + hp_doubles[(field / 2) % COUNT(hp_doubles)], &v, sizeof v);
        } else {
            int v = fuzz_int(in);
            memcpy((char *)&h + hp_ints[(field / 2) % COUNT(hp_ints)], &v, sizeof v);
        }
    }
    return h;
}

/* ---- The kernels ------------------------------------------------------------------------ */

/* Optimizers: create (or init in caller memory at any alignment), 1-3 steps with fresh
   gradients (flat or per group, sometimes aliased or misaligned), hyper-parameter changes
   between steps, then the whole state through a checkpoint, which is also loaded back. */
static void run_optimizer(fuzz_input *in, sink *out)
{
    nnopt_hparams h = fuzz_hparams(in);
    nnopt_group g[3];
    size_t ngroups = 1 + fuzz_u8(in) % 3, n = 0, i, bytes;
    int steps = 1 + fuzz_u8(in) % 3, s, in_caller_memory = fuzz_u8(in) & 1;
    nnopt_optimizer *opt;
    void *memory = NULL;
    buffer param;
    unsigned char *ckpt;
    for (i = 0; i < ngroups; i++) {
        uint8_t flags = fuzz_u8(in);
        g[i] = nnopt_group_default(fuzz_len(in, MAX_N / 3));
        if (flags & 1) g[i].lr_scale = fuzz_double(in);
        if (flags & 2) g[i].weight_decay_scale = fuzz_double(in);
        g[i].frozen = (flags & 0x1C) == 0x1C;
        n += g[i].n;
    }
    bytes = nnopt_memory_size(&h, g, ngroups);
    if (in_caller_memory) {
        size_t shift = fuzz_u8(in) % 64;
        memory = malloc(bytes + shift + 1);
        if (!memory) FUZZ_FAIL("out of memory");
        opt = nnopt_init((char *)memory + shift, bytes, &h, g, ngroups);
        if (bytes && nnopt_init((char *)memory + shift, bytes - 1, &h, g, ngroups) != NULL)
            FUZZ_FAIL("nnopt_init accepted memory smaller than nnopt_memory_size");
        if (bytes) opt = nnopt_init((char *)memory + shift, bytes, &h, g, ngroups);
    } else {
        opt = nnopt_create_groups(&h, g, ngroups);
    }
    if ((opt == NULL) != (bytes == 0)) FUZZ_FAIL("create and nnopt_memory_size disagree on validity");
    put_int(out, opt != NULL);
    if (!opt) { free(memory); return; }

    param = buffer_make(in, n, 1);
    FUZZ_TRACE("kind %s n %zu groups %zu steps %d guard %d\n", nnopt_kind_name(h.kind), n, ngroups, steps, h.nonfinite_guard);
    for (s = 0; s < steps; s++) {
        uint8_t mode = fuzz_u8(in);
        buffer grad = buffer_make(in, n, 1);
        unsigned char *p_before = snapshot(&param), *state_before;
        size_t state_size = nnopt_save_size(opt);
        nnopt_status st;
        if (mode % 5 == 1) {                               /* a schedule's change of lr */
            st = nnopt_set_lr(opt, fuzz_double(in));
            put_int(out, (int)st);
        } else if (mode % 5 == 2) {
            nnopt_hparams changed = fuzz_hparams(in);
            st = nnopt_set_hparams(opt, &changed);
            put_int(out, (int)st);
        }
        state_before = (unsigned char *)malloc(state_size);
        if (!state_before || nnopt_save(opt, state_before, state_size) != NNOPT_OK) FUZZ_FAIL("save failed");
        if (mode & 0x20) {                                 /* one pointer per group */
            float *ps[3] = { NULL, NULL, NULL };
            const float *gs[3] = { NULL, NULL, NULL };
            size_t off = 0;
            for (i = 0; i < ngroups; i++) {
                ps[i] = g[i].n || (mode & 0x40) ? param.data + off : NULL;
                gs[i] = grad.data + off;
                off += g[i].n;
            }
            if (mode & 0x80) gs[ngroups - 1] = ps[ngroups - 1];   /* aliasing: refused */
            st = nnopt_step_groups(opt, ps, gs);
        } else {
            st = nnopt_step(opt, param.data, (mode & 0x80) && n ? param.data : grad.data);
        }
        put_int(out, (int)st);
        if (st != NNOPT_OK) {
            unsigned char *state_after = (unsigned char *)malloc(state_size);
            if (!state_after || nnopt_save(opt, state_after, state_size) != NNOPT_OK) FUZZ_FAIL("save failed");
            expect_unchanged(&param, p_before, "nnopt_step");
            if (memcmp(state_after, state_before, state_size) != 0)
                FUZZ_FAIL("nnopt_step: an error status but the state changed");
            free(state_after);
        }
        put_buffer(out, &param);
        free(state_before);
        free(p_before);
        buffer_free(&grad);
    }
    {   /* the state, and a round trip through a fresh optimizer */
        size_t size = nnopt_save_size(opt);
        const float *avg = nnopt_averaged_params(opt);
        nnopt_optimizer *copy = nnopt_create_groups(nnopt_get_hparams(opt), g, ngroups);
        unsigned char *again;
        ckpt = (unsigned char *)malloc(size);
        again = (unsigned char *)malloc(size);
        if (!ckpt || !again || nnopt_save(opt, ckpt, size) != NNOPT_OK) FUZZ_FAIL("save failed");
        {   /* the header as is; the state (after it, up to the hash) with NaNs canonical */
            size_t header = 8 + 16 + 8 * COUNT(hp_doubles) + 4 * COUNT(hp_ints) + 16 + 72 * ngroups + 16;
            if (header > size - 8 || (size - 8 - header) % 4 != 0) FUZZ_FAIL("unexpected checkpoint size");
            put(out, ckpt, header);
            put_floats(out, ckpt + header, (size - 8 - header) / 4);
        }
        if (avg) put_floats(out, avg, n);
        FUZZ_TRACE("round trip: copy %p load %d\n", (void *)copy, copy ? (int)nnopt_load(copy, ckpt, size) : 99);
        if (!copy || nnopt_load(copy, ckpt, size) != NNOPT_OK ||
            nnopt_save(copy, again, size) != NNOPT_OK || memcmp(again, ckpt, size) != 0)
            FUZZ_FAIL("checkpoint round trip failed");
        nnopt_destroy(copy);
        free(again);
        free(ckpt);
    }
    buffer_free(&param);
    nnopt_destroy(opt);
    free(memory);
}

static void run_swa_ema(fuzz_input *in, sink *out, int ema)
{
    size_t n = fuzz_len(in, MAX_N);
    buffer avg = buffer_make(in, n, 1), p = buffer_make(in, n, 1);
    unsigned char *before = snapshot(&avg);
    uint64_t count = fuzz_u8(in) & 1 ? fuzz_u64(in) : fuzz_u8(in) % 4;
    int alias = fuzz_u8(in) == 0xA1;
    const float *src = alias ? avg.data : p.data;
    nnopt_status st = ema ? nnopt_ema_update(avg.data, src, n, fuzz_double(in), count)
                          : nnopt_swa_update(avg.data, src, n, count);
    put_int(out, (int)st);
    if (st != NNOPT_OK) expect_unchanged(&avg, before, ema ? "nnopt_ema_update" : "nnopt_swa_update");
    put_buffer(out, &avg);
    free(before);
    buffer_free(&avg);
    buffer_free(&p);
}
static void run_swa_update(fuzz_input *in, sink *out) { run_swa_ema(in, out, 0); }
static void run_ema_update(fuzz_input *in, sink *out) { run_swa_ema(in, out, 1); }

static double fuzz_norm_type(fuzz_input *in)
{
    static const double types[] = { 1.0, 2.0, INFINITY };
    uint8_t b = fuzz_u8(in);
    return b < 240 ? types[b % 3] : fuzz_double(in);
}

static void run_clip_grad_norm(fuzz_input *in, sink *out)
{
    size_t count = fuzz_u8(in) % 4, i, sizes[3];
    buffer g[3];
    float *ptrs[3];
    unsigned char *before[3];
    double max_norm = fuzz_double(in), type = fuzz_norm_type(in), total = -7.0;
    int error_if_nonfinite = fuzz_u8(in) & 1, with_total = fuzz_u8(in) & 1, single = count == 1 && (fuzz_u8(in) & 1);
    nnopt_status st;
    for (i = 0; i < count; i++) {
        sizes[i] = fuzz_len(in, MAX_N / 3);
        g[i] = buffer_make(in, sizes[i], 1);
        ptrs[i] = g[i].data;
        before[i] = snapshot(&g[i]);
    }
    if (single)
        st = nnopt_clip_grad_norm(ptrs[0], sizes[0], max_norm, type, error_if_nonfinite, with_total ? &total : NULL);
    else
        st = nnopt_clip_grad_norm_groups(ptrs, sizes, count, max_norm, type, error_if_nonfinite,
                                         with_total ? &total : NULL);
    put_int(out, (int)st);
    put_double(out, total);
    if (st != NNOPT_OK && total != -7.0) FUZZ_FAIL("clip_grad_norm: error status but total_norm written");
    for (i = 0; i < count; i++) {
        if (st != NNOPT_OK) expect_unchanged(&g[i], before[i], "nnopt_clip_grad_norm");
        put_buffer(out, &g[i]);
        free(before[i]);
        buffer_free(&g[i]);
    }
}

static void run_clip_grad_value(fuzz_input *in, sink *out)
{
    size_t n = fuzz_len(in, MAX_N);
    buffer g = buffer_make(in, n, 1);
    unsigned char *before = snapshot(&g);
    nnopt_status st = nnopt_clip_grad_value(g.data, n, fuzz_double(in));
    put_int(out, (int)st);
    if (st != NNOPT_OK) expect_unchanged(&g, before, "nnopt_clip_grad_value");
    put_buffer(out, &g);
    free(before);
    buffer_free(&g);
}

static void run_ensemble_softmax(fuzz_input *in, sink *out)
{
    size_t models = fuzz_u8(in) % 4, rows = fuzz_u8(in) % 9, classes = fuzz_len(in, 64), m;
    buffer logits[3], probs = buffer_make(in, rows * classes, 1);
    const float *ptrs[3];
    unsigned char *before = snapshot(&probs);
    nnopt_status st;
    for (m = 0; m < models; m++) {
        logits[m] = buffer_make(in, rows * classes, 1);
        ptrs[m] = logits[m].data;
    }
    if (models && fuzz_u8(in) == 0xA1) ptrs[models - 1] = probs.data;   /* aliasing: refused */
    st = nnopt_ensemble_softmax(ptrs, models, rows, classes, probs.data);
    put_int(out, (int)st);
    if (st != NNOPT_OK) expect_unchanged(&probs, before, "nnopt_ensemble_softmax");
    put_buffer(out, &probs);
    for (m = 0; m < models; m++) buffer_free(&logits[m]);
    free(before);
    buffer_free(&probs);
}

/* ---- Schedules (one code path; fuzzed for crashes, undefined behaviour and hangs) -------- */

static const size_t sp_doubles[] = {
    offsetof(nnopt_sched_params, gamma), offsetof(nnopt_sched_params, eta_min),
    offsetof(nnopt_sched_params, factor), offsetof(nnopt_sched_params, start_factor),
    offsetof(nnopt_sched_params, end_factor), offsetof(nnopt_sched_params, power),
    offsetof(nnopt_sched_params, max_lr), offsetof(nnopt_sched_params, pct_start),
    offsetof(nnopt_sched_params, div_factor), offsetof(nnopt_sched_params, final_div_factor),
    offsetof(nnopt_sched_params, base_momentum), offsetof(nnopt_sched_params, max_momentum),
    offsetof(nnopt_sched_params, threshold), offsetof(nnopt_sched_params, min_lr),
    offsetof(nnopt_sched_params, eps), offsetof(nnopt_sched_params, swa_lr)
};
static const size_t sp_ints[] = {
    offsetof(nnopt_sched_params, step_size), offsetof(nnopt_sched_params, milestone_count),
    offsetof(nnopt_sched_params, T_max), offsetof(nnopt_sched_params, T_0),
    offsetof(nnopt_sched_params, T_mult), offsetof(nnopt_sched_params, total_iters),
    offsetof(nnopt_sched_params, total_steps), offsetof(nnopt_sched_params, anneal_linear),
    offsetof(nnopt_sched_params, cycle_momentum), offsetof(nnopt_sched_params, three_phase),
    offsetof(nnopt_sched_params, mode_max), offsetof(nnopt_sched_params, threshold_abs),
    offsetof(nnopt_sched_params, patience), offsetof(nnopt_sched_params, cooldown),
    offsetof(nnopt_sched_params, anneal_epochs), offsetof(nnopt_sched_params, milestones),
    offsetof(nnopt_sched_params, milestones) + sizeof(int),
    offsetof(nnopt_sched_params, milestones) + 2 * sizeof(int)
};

static nnopt_sched_params fuzz_sched_params(fuzz_input *in)
{
    nnopt_sched_params p = nnopt_sched_defaults((nnopt_sched_kind)(fuzz_u8(in) % NNOPT_SCHED_KIND_COUNT));
    int changes = fuzz_u8(in) % 6, c;
    for (c = 0; c < changes; c++) {
        uint8_t field = fuzz_u8(in);
        if (field == 0xFF) { p.kind = (nnopt_sched_kind)fuzz_int(in); continue; }
        if (field % 2 == 0) {
            double v = fuzz_double(in);
            memcpy((char *)&p + sp_doubles[(field / 2) % COUNT(sp_doubles)], &v, sizeof v);
        } else {
            int v = fuzz_int(in);
            memcpy((char *)&p + sp_ints[(field / 2) % COUNT(sp_ints)], &v, sizeof v);
        }
    }
    return p;
}

static void run_schedule(fuzz_input *in, sink *out)
{
    nnopt_sched_params children[3];
    int count = 1 + fuzz_u8(in) % 3, composition = fuzz_u8(in) % 3, milestones[2], c, t, steps;
    double initial_lr = fuzz_u8(in) & 1 ? fuzz_double(in) : 0.1, m;
    nnopt_scheduler s;
    nnopt_hparams h = nnopt_defaults(fuzz_u8(in) & 1 ? NNOPT_SGD : NNOPT_ADAM);
    nnopt_optimizer *opt;
    nnopt_status st;
    h.momentum = 0.9;
    opt = nnopt_create(&h, 4);
    for (c = 0; c < count; c++) children[c] = fuzz_sched_params(in);
    milestones[0] = fuzz_int(in); milestones[1] = fuzz_int(in);
    st = composition == 0 ? nnopt_sched_init(&s, children, initial_lr)
       : composition == 1 ? nnopt_sched_init_sequential(&s, children, count, milestones, initial_lr)
                          : nnopt_sched_init_chained(&s, children, count, initial_lr);
    put_int(out, (int)st);
    if (st == NNOPT_OK) {
        steps = fuzz_u8(in) % 80;
        for (t = 0; t < steps; t++) {
            uint8_t b = fuzz_u8(in);
            st = b & 0x80 ? nnopt_sched_step_metric(&s, fuzz_double(in)) : nnopt_sched_step(&s);
            put_int(out, (int)st);
            put_double(out, nnopt_sched_lr(&s));
            put_int(out, nnopt_sched_momentum(&s, &m));
            put_int(out, nnopt_sched_restarted(&s));
            put_int(out, (int)(b & 1 ? nnopt_sched_apply_group(&s, opt, 0) : nnopt_sched_apply(&s, opt)));
        }
    }
    nnopt_destroy(opt);
}

/* ---- The table and the differential driver ------------------------------------------------ */

typedef void (*fuzz_kernel)(fuzz_input *in, sink *out);
static const struct { const char *name; fuzz_kernel run; } kernels[] = {
    { "optimizer",        run_optimizer },
    { "swa_update",       run_swa_update },
    { "ema_update",       run_ema_update },
    { "clip_grad_norm",   run_clip_grad_norm },
    { "clip_grad_value",  run_clip_grad_value },
    { "ensemble_softmax", run_ensemble_softmax },
    { "schedule",         run_schedule },
};
#define KERNELS COUNT(kernels)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sink reference, other;
    size_t k;
    int isa;
    if (size < 1) return 0;
    k = data[0] % KERNELS;
    for (isa = NNOPT_ISA_SCALAR; isa <= (int)nnopt_isa_best(); isa++) {
        sink *s = isa == NNOPT_ISA_SCALAR ? &reference : &other;
        fuzz_input in;
        size_t i;
        if (nnopt_isa_set((nnopt_isa)isa) != NNOPT_OK) FUZZ_FAIL("cannot select a path");
        fuzz_begin(&in, data + 1, size - 1);
        s->n = 0;
        kernels[k].run(&in, s);
        if (isa == NNOPT_ISA_SCALAR) continue;
        if (other.n != reference.n) FUZZ_FAIL("%s: %s produced %zu bytes, scalar %zu", kernels[k].name,
                                               nnopt_isa_name((nnopt_isa)isa), other.n, reference.n);
        for (i = 0; i < reference.n; i++)
            if (other.p[i] != reference.p[i]) {
#ifdef FUZZ_DEBUG
                size_t j;
                for (j = i & ~(size_t)3; j < reference.n && j < (i & ~(size_t)3) + 64; j += 4) {
                    float a, b;
                    memcpy(&a, reference.p + j, 4); memcpy(&b, other.p + j, 4);
                    fprintf(stderr, "byte %zu: scalar %08x %.9g  %s %08x %.9g\n", j, *(unsigned *)(reference.p + j),
                            (double)a, nnopt_isa_name((nnopt_isa)isa), *(unsigned *)(other.p + j), (double)b);
                }
#endif
                FUZZ_FAIL("%s: path %s differs from scalar at output byte %zu", kernels[k].name,
                          nnopt_isa_name((nnopt_isa)isa), i);
            }
    }
    return 0;
}
