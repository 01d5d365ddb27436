/* Differential fuzz harness over every public kernel.

   Input: byte 0 picks an entry of `kernels` below; the rest is decoded (fuzz_input.h) into
   sizes, hyper-parameters (NaN, infinities, negative, huge values included), data, pointer
   offsets, aliasing and misalignment. The entry runs once per instruction-set path this CPU
   has, from the same bytes, and writes everything observable (statuses, outputs, optimizer
   checkpoints) to a byte sink; every path's sink must equal the portable path's, bit for bit.
   Entries also check the error rule themselves: a call that returns an error wrote nothing;
   that what the header says must be refused (overlaps, sizes that overflow, a NULL rng) is;
   and, where the header defines a result exactly (bulk random numbers from the one-number
   functions, dropout masks from the Bernoulli rule), that result. Buffers are allocated at
   their exact size, offset by a chosen number of elements, so AddressSanitizer catches any
   access past either end.

   To cover a new kernel, add one function and one line at the end of `kernels` (byte 0 of the
   committed seeds picks an entry by its position). */
#define NNOPT_IMPLEMENTATION
#include "../../nnopt.h"
#include "fuzz_input.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
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

/* A checkpoint (format 2: magic, version, then records of name, type, count and values) up to
   its hash: every record as is, but the f32 ones (the state) with NaNs canonical. */
static void put_checkpoint(sink *out, const unsigned char *b, size_t size)
{
    size_t at = 12, count, width, k;
    put(out, b, 12);
    while (at + 8 < size) {
        size_t name = b[at];
        int type;
        if (at + 1 + name + 1 + 8 > size - 8) FUZZ_FAIL("unexpected checkpoint record");
        type = b[at + 1 + name];
        for (count = 0, k = 0; k < 8; k++) count |= (size_t)b[at + 2 + name + k] << (8 * k);
        put(out, b + at, 1 + name + 1 + 8);
        at += 1 + name + 1 + 8;
        width = type == 5 ? 1 : type == 1 || type == 4 ? 4 : 8;
        if (count > (size - 8 - at) / width) FUZZ_FAIL("unexpected checkpoint record");
        if (type == 4) put_floats(out, b + at, count);
        else put(out, b + at, count * width);
        at += count * width;
    }
}

/* ---- Hyper-parameters --------------------------------------------------------------------- */

/* The header's own list of every field of nnopt_hparams (nnopt__hparam_fields: this file
   compiles the implementation, so its private tables are in scope). */
#define COUNT(a) (sizeof (a) / sizeof (a)[0])

/* The kind's defaults with a few fields changed: mostly valid, sometimes not. */
static nnopt_hparams fuzz_hparams(fuzz_input *in)
{
    nnopt_hparams h = nnopt_defaults((nnopt_kind)(fuzz_u8(in) % NNOPT_KIND_COUNT));
    int changes = fuzz_u8(in) % 7, c;
    for (c = 0; c < changes; c++) {
        uint8_t field = fuzz_u8(in);
        if (field == 0xFF) { h.kind = (nnopt_kind)fuzz_int(in); continue; }
        {
            const nnopt__hparam_field *f = &nnopt__hparam_fields[field % NNOPT__HPARAM_FIELDS];
            if (f->is_int) { int v = fuzz_int(in); memcpy((char *)&h + f->offset, &v, sizeof v); }
            else { double v = fuzz_double(in); memcpy((char *)&h + f->offset, &v, sizeof v); }
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
        put_checkpoint(out, ckpt, size);
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
    const float *ptrs[3] = { NULL, NULL, NULL };
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

/* ---- Helpers of the later sections ------------------------------------------------------ */

static int misaligned(const void *p) { return ((uintptr_t)p % sizeof(float)) != 0; }

/* Bytes: the input's, or past its end the cheap pseudo-random stream. */
static uint8_t fuzz_byte_data(fuzz_input *in)
{
    if (in->left) return fuzz_u8(in);
    in->fill = in->fill * 1664525u + 1013904223u;
    return (uint8_t)(in->fill >> 24);
}

/* n bytes at a chosen offset into an allocation of exactly that size (masks, uint8 images). */
typedef struct byte_buffer { uint8_t *data; void *raw; size_t n; } byte_buffer;

static byte_buffer bytes_make(fuzz_input *in, size_t n)
{
    byte_buffer b;
    size_t offset = fuzz_u8(in) % 17, i;
    b.raw = malloc(n + offset + 1);
    if (!b.raw) FUZZ_FAIL("out of memory");
    b.data = (uint8_t *)b.raw + offset;
    b.n = n;
    for (i = 0; i < n; i++) b.data[i] = fuzz_byte_data(in);
    return b;
}

static void bytes_free(byte_buffer *b) { free(b->raw); b->raw = NULL; b->data = NULL; }

/* A pointer `floats` floats further on, built on bytes: the base may be misaligned. */
static float *floats_after(const float *p, size_t floats)
{
    return (float *)(void *)((char *)(uintptr_t)p + floats * sizeof(float));
}

/* Shrinks the largest of `count` dimensions until their product is at most cap, so sizes stay
   the fuzzer's choice (edges of vectors and chunks included) but no case gets slow. */
static void fit_dims(size_t *dims[], int count, size_t cap)
{
    for (;;) {
        size_t product = 1, *largest = dims[0];
        int i;
        for (i = 0; i < count; i++) {
            if (*dims[i] > *largest) largest = dims[i];
            product = *dims[i] && product > cap / *dims[i] ? cap + 1 : product * *dims[i];
        }
        if (product <= cap) return;
        *largest /= 2;
    }
}

/* A probability: mostly the edges of [0, 1] and of the 24-bit comparison, sometimes any double. */
static double fuzz_prob(fuzz_input *in)
{
    static const double probs[] = { 0.0, 1.0, 0.5, 0.1, 0.9, 0.25, 1e-8, 1.0 - 1e-8, 5.9604644775390625e-08,
                                    1.0 / 3.0, 0.999999, 0.75 };
    uint8_t b = fuzz_u8(in);
    return b < 208 ? probs[b % COUNT(probs)] : fuzz_double(in);
}

/* Where a bulk call starts in its stream: across super-block edges, at the very end of the
   stream (a longer call must be refused), or anywhere. */
static uint64_t fuzz_offset(fuzz_input *in)
{
    uint8_t b = fuzz_u8(in);
    if (b < 160) return b;
    if (b < 224) return UINT64_MAX - (uint64_t)(b - 160) * 5;
    return fuzz_u64(in);
}

static nnopt_rng fuzz_rng(fuzz_input *in)
{
    nnopt_rng r;
    uint8_t b = fuzz_u8(in);
    r.seed = b & 1 ? fuzz_u64(in) : (uint64_t)(b >> 2);
    r.stream = b & 2 ? fuzz_u64(in) : (uint64_t)fuzz_u8(in);
    r.offset = fuzz_offset(in);
    return r;
}

/* An image coordinate or size: small (edges and negatives) or an extreme that every call must
   refuse; never a valid large value, which would only make the case slow. */
static int fuzz_coord(fuzz_input *in)
{
    static const int extremes[] = { INT_MIN, INT_MAX, -(1 << 24), (1 << 24) + 1, -1, 1 << 30 };
    uint8_t b = fuzz_u8(in);
    if (b < 240) return (int)(b % 28) - 4;
    return extremes[b % COUNT(extremes)];
}

/* Everything a call may write, copied before it. After the call each region must equal its
   copy if the call returned an error (the error rule), and goes to the sink either way: as
   bytes, floats (1) or doubles (2), the last two with NaNs canonical. */
typedef struct region { const void *p; size_t bytes; int floats; unsigned char *before; } region;
typedef struct watch { region r[12]; int count; } watch;

static void watch_add(watch *w, const void *p, size_t bytes, int floats)
{
    region *r;
    if (!p || !bytes) return;
    if (w->count == (int)COUNT(w->r)) FUZZ_FAIL("too many watched regions");
    r = &w->r[w->count++];
    r->p = p; r->bytes = bytes; r->floats = floats;
    r->before = (unsigned char *)malloc(bytes);
    if (!r->before) FUZZ_FAIL("out of memory");
    memcpy(r->before, p, bytes);
}

static void put_doubles(sink *s, const void *data, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        double v;
        memcpy(&v, (const char *)data + i * sizeof v, sizeof v);
        put_double(s, v);
    }
}

static void watch_buffer(watch *w, const buffer *b) { watch_add(w, b->data, b->n * sizeof(float), 1); }

static void watch_end(watch *w, sink *out, nnopt_status st, const char *what)
{
    int i;
    put_int(out, (int)st);
    for (i = 0; i < w->count; i++) {
        region *r = &w->r[i];
        if (st != NNOPT_OK && memcmp(r->p, r->before, r->bytes) != 0)
            FUZZ_FAIL("%s: an error status but the output was written", what);
        if (r->floats == 1) put_floats(out, r->p, r->bytes / sizeof(float));
        else if (r->floats == 2) put_doubles(out, r->p, r->bytes / sizeof(double));
        else put(out, r->p, r->bytes);
        free(r->before);
    }
    w->count = 0;
}

/* An input and an output of n floats: apart (two buffers), the same buffer (in place), or
   overlapping by all but a few floats (one buffer), which every kernel must refuse. */
typedef struct io { buffer a, b; const float *x; float *y; int mode; } io;
enum { IO_APART, IO_IN_PLACE, IO_OVERLAP };

static io io_make(fuzz_input *in, size_t n)
{
    io s;
    uint8_t m = fuzz_u8(in);
    memset(&s, 0, sizeof s);
    s.mode = m < 176 ? IO_APART : m < 232 || n < 2 ? IO_IN_PLACE : IO_OVERLAP;
    if (s.mode == IO_APART) {
        s.a = buffer_make(in, n, 1);
        s.b = buffer_make(in, n, 1);
        s.x = s.a.data; s.y = s.b.data;
    } else if (s.mode == IO_IN_PLACE) {
        s.a = buffer_make(in, n, 1);
        s.x = s.y = s.a.data;
    } else {
        size_t shift = 1 + m % (n - 1 < 5 ? n - 1 : 5);
        s.a = buffer_make(in, n + shift, 1);
        s.x = s.a.data; s.y = floats_after(s.a.data, shift);
        if (m & 1) { s.y = s.a.data; s.x = floats_after(s.a.data, shift); }
        s.a.n = n + shift;
    }
    return s;
}

static void watch_io(watch *w, const io *s) { watch_buffer(w, &s->a); if (s->b.raw) watch_buffer(w, &s->b); }
static void io_free(io *s) { buffer_free(&s->a); if (s->b.raw) buffer_free(&s->b); }

/* ---- Random numbers ----------------------------------------------------------------------- */

/* Bulk generation on every path, checked against the documented definition: element i is
   number offset + i of the stream, from the one-number functions, and word `index` is the
   documented word of a Philox block. */
static void run_random(fuzz_input *in, sink *out)
{
    int kind = fuzz_u8(in) % 4, null_rng = fuzz_u8(in) == 0x52;   /* u32, uniform, normal, bernoulli */
    nnopt_rng rng = fuzz_rng(in);
    size_t n = fuzz_len(in, 1000), i;
    double mean = 0.0, sd = 1.0, p = 0.5;
    byte_buffer bits;
    buffer buf;
    void *dst;
    watch w;
    nnopt_status st;
    int valid;
    memset(&w, 0, sizeof w);
    if (kind == 2 && fuzz_u8(in) & 1) { mean = fuzz_double(in); sd = fuzz_double(in); }
    if (kind == 3) p = fuzz_prob(in);
    buf = buffer_make(in, kind == 3 ? 0 : n, 1);
    bits = bytes_make(in, kind == 3 ? n : 0);
    dst = kind == 3 ? (void *)bits.data : (void *)buf.data;
    if (kind == 3) watch_add(&w, bits.data, n, 0); else watch_buffer(&w, &buf);
    switch (kind) {
    case 0:  st = nnopt_random_u32(null_rng ? NULL : &rng, (uint32_t *)dst, n); break;
    case 1:  st = nnopt_random_uniform(null_rng ? NULL : &rng, (float *)dst, n); break;
    case 2:  st = nnopt_random_normal(null_rng ? NULL : &rng, (float *)dst, n, mean, sd); break;
    default: st = nnopt_random_bernoulli(null_rng ? NULL : &rng, (uint8_t *)dst, n, p); break;
    }
    valid = !null_rng && (n == 0 || n - 1 <= UINT64_MAX - rng.offset) && (kind == 3 || !misaligned(dst)) &&
            (kind != 2 || (mean - mean == 0.0 && sd - sd == 0.0 && sd >= 0.0 && fabs(mean) <= FLT_MAX && sd <= FLT_MAX)) &&
            (kind != 3 || (p >= 0.0 && p <= 1.0));
    if ((st == NNOPT_OK) != valid) FUZZ_FAIL("nnopt_random (kind %d): status %d for a call that is %s", kind,
                                             (int)st, valid ? "valid" : "invalid");
    for (i = 0; st == NNOPT_OK && i < n; i++) {
        uint64_t e = rng.offset + i;
        uint32_t word = 0, want = 0;
        float f;
        switch (kind) {
        case 0: memcpy(&word, (char *)dst + 4 * i, 4); want = nnopt_random_word(rng.seed, rng.stream, e); break;
        case 1: f = nnopt_random_uniform_at(rng.seed, rng.stream, e);
                memcpy(&word, (char *)dst + 4 * i, 4); memcpy(&want, &f, 4); break;
        case 2: f = fmaf((float)sd, nnopt_random_normal_at(rng.seed, rng.stream, e), (float)mean);
                memcpy(&word, (char *)dst + 4 * i, 4); memcpy(&want, &f, 4); break;
        default: word = bits.data[i]; want = (double)nnopt_random_uniform_at(rng.seed, rng.stream, e) < p; break;
        }
        if (word != want) FUZZ_FAIL("nnopt_random (kind %d): element %zu is %08x, its number is %08x", kind, i,
                                    (unsigned)word, (unsigned)want);
    }
    watch_end(&w, out, st, "nnopt_random");
    {   /* one block and one word through the documented layout */
        uint32_t counter[4], key[2], block[4];
        uint64_t e = rng.offset, b = (e >> 6) * 16 + (e & 15);
        key[0] = (uint32_t)rng.seed; key[1] = (uint32_t)(rng.seed >> 32);
        counter[0] = (uint32_t)b; counter[1] = (uint32_t)(b >> 32);
        counter[2] = (uint32_t)rng.stream; counter[3] = (uint32_t)(rng.stream >> 32);
        nnopt_philox4x32_10(counter, key, block);
        if (block[(e >> 4) & 3] != nnopt_random_word(rng.seed, rng.stream, e))
            FUZZ_FAIL("nnopt_random_word differs from its Philox block");
        put(out, block, sizeof block);
        put_double(out, nnopt_random_normal_at(rng.seed, rng.stream, e));
    }
    buffer_free(&buf);
    bytes_free(&bits);
}

/* ---- Regularization ----------------------------------------------------------------------- */

/* A second vector for w: separate, absent (NULL), the same as w, or overlapping it. */
static buffer fuzz_partner(fuzz_input *in, const buffer *w, float **p, int *overlapping)
{
    uint8_t m = fuzz_u8(in);
    buffer b;
    memset(&b, 0, sizeof b);
    *overlapping = 0;
    if (m < 176) { b = buffer_make(in, w->n, 1); *p = b.data; }
    else if (m < 216) *p = NULL;
    else { *p = w->n > 1 && (m & 1) ? floats_after(w->data, 1) : w->data; *overlapping = w->n > 0; }
    return b;
}

static int coef_ok(double x) { return x - x == 0.0 && x >= 0.0; }

static void run_penalty(fuzz_input *in, sink *out)
{
    int which = fuzz_u8(in) % 3, with_value = fuzz_u8(in) & 1, overlapping, valid;
    size_t n = fuzz_len(in, MAX_N);
    double l1 = which != 1 ? fuzz_double(in) : 0.0, l2 = which != 0 ? fuzz_double(in) : 0.0, value = -7.0;
    buffer w = buffer_make(in, n, 1), g;
    float *grad;
    watch ws;
    nnopt_status st;
    memset(&ws, 0, sizeof ws);
    g = fuzz_partner(in, &w, &grad, &overlapping);
    watch_buffer(&ws, &w);
    if (g.raw) watch_buffer(&ws, &g);
    watch_add(&ws, &value, sizeof value, 2);
    st = which == 0 ? nnopt_penalty_l1(w.data, grad, n, l1, with_value ? &value : NULL)
       : which == 1 ? nnopt_penalty_l2(w.data, grad, n, l2, with_value ? &value : NULL)
                    : nnopt_penalty_elastic_net(w.data, grad, n, l1, l2, with_value ? &value : NULL);
    valid = coef_ok(l1) && coef_ok(l2) && !misaligned(w.data) && !(grad && misaligned(grad)) && !overlapping;
    if ((st == NNOPT_OK) != valid) FUZZ_FAIL("nnopt_penalty: status %d for a call that is %s", (int)st, valid ? "valid" : "invalid");
    watch_end(&ws, out, st, "nnopt_penalty");
    buffer_free(&w);
    if (g.raw) buffer_free(&g);
}

static void run_prox(fuzz_input *in, sink *out)
{
    int which = fuzz_u8(in) % 3, overlapping = 0;
    size_t n = fuzz_len(in, MAX_N);
    double lr = which ? fuzz_double(in) : 1.0, l1 = fuzz_double(in), l2 = which ? fuzz_double(in) : 0.0;
    buffer w = buffer_make(in, n, 1), g;
    float *grad = NULL;
    watch ws;
    nnopt_status st;
    memset(&ws, 0, sizeof ws);
    memset(&g, 0, sizeof g);
    if (which == 2) g = fuzz_partner(in, &w, &grad, &overlapping);
    watch_buffer(&ws, &w);
    if (g.raw) watch_buffer(&ws, &g);
    st = which == 0 ? nnopt_prox_l1(w.data, n, l1)
       : which == 1 ? nnopt_prox_elastic_net(w.data, n, lr, l1, l2)
                    : nnopt_proximal_sgd_step(w.data, grad, n, lr, l1, l2);
    if (st == NNOPT_OK && (!coef_ok(lr) || !coef_ok(l1) || !coef_ok(l2) || overlapping))
        FUZZ_FAIL("nnopt_prox: a bad coefficient or an overlap accepted");
    watch_end(&ws, out, st, "nnopt_prox");
    buffer_free(&w);
    if (g.raw) buffer_free(&g);
}

static void run_max_norm(fuzz_input *in, sink *out)
{
    size_t rows = fuzz_len(in, 100), cols = fuzz_len(in, 300), *dims[2], clipped = 12345, claimed_rows;
    double max_norm = fuzz_double(in);
    int with_clipped = fuzz_u8(in) & 1, overflow = fuzz_u8(in) == 0x0F;
    buffer w;
    watch ws;
    nnopt_status st;
    memset(&ws, 0, sizeof ws);
    dims[0] = &rows; dims[1] = &cols;
    fit_dims(dims, 2, 4000);
    w = buffer_make(in, rows * cols, 1);
    claimed_rows = overflow && cols ? (size_t)-1 / cols : rows;   /* rows * cols floats: bytes overflow */
    watch_buffer(&ws, &w);
    watch_add(&ws, &clipped, sizeof clipped, 0);
    st = nnopt_max_norm(w.data, claimed_rows, cols, max_norm, with_clipped ? &clipped : NULL);
    if (st == NNOPT_OK && (claimed_rows != rows || !coef_ok(max_norm)))
        FUZZ_FAIL("nnopt_max_norm: an overflowing size or a bad max_norm accepted");
    watch_end(&ws, out, st, "nnopt_max_norm");
    buffer_free(&w);
}

/* ---- Dropout and DropConnect ------------------------------------------------------------ */

static nnopt_dropout_scaling fuzz_scaling(fuzz_input *in)
{
    uint8_t b = fuzz_u8(in);
    return (nnopt_dropout_scaling)(b < 248 ? b & 1 : fuzz_int(in));
}

/* A bit mask: its own buffer, none, or inside one of the call's float buffers a and b (floats
   each, not empty), which every call refuses. */
static uint8_t *fuzz_mask(fuzz_input *in, byte_buffer *own, size_t bytes, const float *a, const float *b,
                          size_t floats, int *overlapping)
{
    uint8_t m = fuzz_u8(in) % 8;
    *overlapping = 0;
    memset(own, 0, sizeof *own);
    if (m < 5 || (m == 7 && !floats)) { *own = bytes_make(in, bytes); return own->data; }
    if (m < 7) return NULL;
    *overlapping = bytes > 0;
    return (uint8_t *)(uintptr_t)(m & 1 ? a : b);
}

/* Bit e of a mask says whether element e (number offset + e) was kept, and nothing else is set. */
static void check_mask(const uint8_t *bits, size_t count, const nnopt_rng *rng, double p, const char *what)
{
    size_t e;
    for (e = 0; e < count; e++) {
        int kept = (bits[e / 8] >> (e % 8)) & 1;
        if (kept != !((double)nnopt_random_uniform_at(rng->seed, rng->stream, rng->offset + e) < p))
            FUZZ_FAIL("%s: mask bit %zu is not the Bernoulli of its number", what, e);
    }
    if (count % 8 && bits[count / 8] >> (count % 8))
        FUZZ_FAIL("%s: unused high bits of the mask are set", what);
}

/* Training forward with a mask, backward regenerating it, backward from the stored mask (which
   must agree), inference. alpha: AlphaDropout's forward and backward instead. */
static void run_dropout_variant(fuzz_input *in, sink *out, int alpha)
{
    double p = fuzz_prob(in);
    nnopt_dropout_scaling scaling = fuzz_scaling(in);
    nnopt_rng rng = fuzz_rng(in);
    const nnopt_rng *rp = fuzz_u8(in) == 0x52 ? NULL : &rng;
    size_t n = fuzz_len(in, MAX_N), nbytes = (n + 7) / 8, e;
    io fwd = io_make(in, n), bwd;
    byte_buffer mask;
    uint8_t *bits;
    int mask_overlaps, forward_ok;
    const char *name = alpha ? "nnopt_alpha_dropout_forward" : "nnopt_dropout_forward";
    unsigned char *dy_before;
    watch w;
    nnopt_status st;
    memset(&w, 0, sizeof w);
    bits = fuzz_mask(in, &mask, nbytes, fwd.x, fwd.y, n, &mask_overlaps);
    watch_io(&w, &fwd);
    watch_add(&w, mask.data, nbytes, 0);
    st = alpha ? nnopt_alpha_dropout_forward(rp, p, fwd.x, fwd.y, bits, n)
               : nnopt_dropout_forward(rp, p, scaling, fwd.x, fwd.y, bits, n);
    if (st == NNOPT_OK && (mask_overlaps || (fwd.mode == IO_OVERLAP && n) || !rp))
        FUZZ_FAIL("%s: an overlap or a NULL rng accepted", name);
    forward_ok = st == NNOPT_OK;
    if (forward_ok && bits) check_mask(bits, n, rp, p, name);
    for (e = 0; forward_ok && !alpha && e < n; e++) {
        uint32_t y;
        memcpy(&y, (const char *)fwd.y + 4 * e, 4);
        if ((double)nnopt_random_uniform_at(rng.seed, rng.stream, rng.offset + e) < p && y != 0)
            FUZZ_FAIL("%s: dropped element %zu is not +0", name, e);
    }
    watch_end(&w, out, st, name);

    bwd = io_make(in, n);
    dy_before = snapshot(&bwd.a);
    watch_io(&w, &bwd);
    st = alpha ? nnopt_alpha_dropout_backward(rp, p, bwd.x, bwd.y, n)
               : nnopt_dropout_backward(rp, p, scaling, bwd.x, bwd.y, n);
    if (!alpha) {   /* the stored mask gives the same gradient as the regenerated one */
        buffer dx = buffer_make(in, n, 1);
        /* dy as it was before the backward call, which may have run in place */
        const float *dy = (const float *)(const void *)(dy_before + ((const char *)bwd.x - (const char *)bwd.a.data));
        byte_buffer fuzzed;
        uint8_t m = fuzz_u8(in) % 4;
        const uint8_t *use = forward_ok && bits && !mask_overlaps ? bits : NULL;
        nnopt_status st_mask;
        watch wm;
        memset(&wm, 0, sizeof wm);
        memset(&fuzzed, 0, sizeof fuzzed);
        if (!use && m < 2) { fuzzed = bytes_make(in, nbytes); use = fuzzed.data; }
        if (m == 3) use = (const uint8_t *)dx.data;                    /* inside dx: refused */
        watch_buffer(&wm, &dx);
        st_mask = nnopt_dropout_backward_mask(use, p, scaling, dy, dx.data, n);
        if (st_mask == NNOPT_OK && ((!use && n) || (m == 3 && n)))
            FUZZ_FAIL("nnopt_dropout_backward_mask: a missing or overlapping mask accepted");
        if (st == NNOPT_OK && st_mask == NNOPT_OK && use == bits)
            for (e = 0; e < n; e++) {
                float a, b;
                memcpy(&a, (const char *)bwd.y + 4 * e, 4); memcpy(&b, (const char *)dx.data + 4 * e, 4);
                if (memcmp(&a, &b, 4) != 0 && !(a != a && b != b))
                    FUZZ_FAIL("nnopt_dropout_backward_mask differs from nnopt_dropout_backward at %zu", e);
            }
        watch_end(&wm, out, st_mask, "nnopt_dropout_backward_mask");
        buffer_free(&dx);
        bytes_free(&fuzzed);
    }
    watch_end(&w, out, st, alpha ? "nnopt_alpha_dropout_backward" : "nnopt_dropout_backward");
    free(dy_before);
    io_free(&bwd);

    if (!alpha) {
        io inf = io_make(in, n);
        watch_io(&w, &inf);
        st = nnopt_dropout_inference(p, scaling, inf.x, inf.y, n);
        watch_end(&w, out, st, "nnopt_dropout_inference");
        io_free(&inf);
    }
    io_free(&fwd);
    bytes_free(&mask);
}
static void run_dropout(fuzz_input *in, sink *out) { run_dropout_variant(in, out, 0); }
static void run_alpha_dropout(fuzz_input *in, sink *out) { run_dropout_variant(in, out, 1); }

static void run_dropout_channels(fuzz_input *in, sink *out)
{
    double p = fuzz_prob(in);
    nnopt_rng rng = fuzz_rng(in);
    const nnopt_rng *rp = fuzz_u8(in) == 0x52 ? NULL : &rng;
    uint8_t b = fuzz_u8(in);
    nnopt_dropout_layout layout = (nnopt_dropout_layout)(b < 248 ? b & 1 : fuzz_int(in));
    size_t samples = fuzz_len(in, 9), channels = fuzz_len(in, 600), spatial = fuzz_len(in, 70), *dims[3];
    size_t units, n, claimed_samples;
    int overflow = fuzz_u8(in) == 0x0F, bits_overlap;
    byte_buffer own;
    uint8_t *bits;
    io xy;
    watch w;
    nnopt_status st;
    memset(&w, 0, sizeof w);
    dims[0] = &samples; dims[1] = &channels; dims[2] = &spatial;
    fit_dims(dims, 3, 3000);
    units = samples * channels; n = units * spatial;
    xy = io_make(in, n);
    bits = fuzz_mask(in, &own, (units + 7) / 8, xy.x, xy.y, n, &bits_overlap);
    claimed_samples = overflow && channels > 1 ? (size_t)-1 / channels + 1 : samples;
    watch_io(&w, &xy);
    watch_add(&w, own.data, own.n, 0);
    st = nnopt_dropout_channels(rp, p, layout, xy.x, xy.y, claimed_samples, channels, spatial, bits);
    if (st == NNOPT_OK && (claimed_samples != samples || bits_overlap || (xy.mode == IO_OVERLAP && n) || !rp))
        FUZZ_FAIL("nnopt_dropout_channels: an overflow, an overlap or a NULL rng accepted");
    if (st == NNOPT_OK && bits) check_mask(bits, units, rp, p, "nnopt_dropout_channels");
    watch_end(&w, out, st, "nnopt_dropout_channels");
    io_free(&xy);
    bytes_free(&own);
}

/* A dense layer's shapes, capped so batch * in * out stays small. */
static void fuzz_dense_shape(fuzz_input *in, size_t *batch, size_t *nin, size_t *nout)
{
    size_t *dims[3];
    *batch = fuzz_len(in, 6); *nin = fuzz_len(in, 140); *nout = fuzz_len(in, 24);
    dims[0] = batch; dims[1] = nin; dims[2] = nout;
    fit_dims(dims, 3, 3000);
}

/* An output of count floats: its own buffer, NULL, or one of the call's other buffers (n1 and
   n2 floats; only a buffer that is not empty, as a caller's would be), which overlaps. */
static float *fuzz_output(fuzz_input *in, buffer *own, size_t count, float *other1, size_t n1, float *other2,
                          size_t n2, int *aliased)
{
    uint8_t m = fuzz_u8(in) % 8;
    memset(own, 0, sizeof *own);
    *aliased = 0;
    if (m == 5) return NULL;
    if (m < 5 || !(m == 6 ? n1 : n2)) { *own = buffer_make(in, count, 1); return own->data; }
    *aliased = 1;
    return m == 6 ? other1 : other2;
}

static void run_dropconnect(fuzz_input *in, sink *out)
{
    double p = fuzz_prob(in);
    nnopt_rng rng = fuzz_rng(in);
    const nnopt_rng *rp = fuzz_u8(in) == 0x52 ? NULL : &rng;
    int per_sample = fuzz_int(in), with_bias = fuzz_u8(in) & 1, overflow = fuzz_u8(in) == 0x0F;
    int y_alias, dw_alias, dx_alias, db_alias;
    size_t batch, nin, nout;
    buffer W, bias, x, dy, y, dW, dx, db;
    float *yp, *dWp, *dxp, *dbp;
    watch w;
    nnopt_status st;
    memset(&w, 0, sizeof w);
    fuzz_dense_shape(in, &batch, &nin, &nout);
    W = buffer_make(in, nout * nin, 1);
    bias = buffer_make(in, with_bias ? nout : 0, 1);
    x = buffer_make(in, batch * nin, 1);
    dy = buffer_make(in, batch * nout, 1);
    yp = fuzz_output(in, &y, batch * nout, x.data, x.n, W.data, W.n, &y_alias);
    y_alias = y_alias && batch * nout != 0 && (yp == x.data ? batch * nin : nout * nin) != 0;
    watch_buffer(&w, &W); watch_buffer(&w, &x);
    if (y.raw) watch_buffer(&w, &y);
    st = nnopt_dropconnect_forward(rp, p, per_sample, W.data, with_bias ? bias.data : NULL, x.data, yp,
                                   batch, overflow ? (size_t)-1 : nin, nout);
    if (st == NNOPT_OK && (overflow || y_alias || !rp || (!yp && batch * nout != 0)))
        FUZZ_FAIL("nnopt_dropconnect_forward: an overflow, an overlap or a missing buffer accepted");
    watch_end(&w, out, st, "nnopt_dropconnect_forward");

    dWp = fuzz_output(in, &dW, nout * nin, W.data, W.n, x.data, x.n, &dw_alias);
    dxp = fuzz_output(in, &dx, batch * nin, x.data, x.n, dy.data, dy.n, &dx_alias);
    dbp = fuzz_output(in, &db, nout, dy.data, dy.n, dWp, dWp ? nout * nin : 0, &db_alias);
    watch_buffer(&w, &W); watch_buffer(&w, &x); watch_buffer(&w, &dy);
    if (dW.raw) watch_buffer(&w, &dW);
    if (dx.raw) watch_buffer(&w, &dx);
    if (db.raw) watch_buffer(&w, &db);
    st = nnopt_dropconnect_backward(rp, p, per_sample, W.data, x.data, dy.data, dWp, dxp, dbp, batch, nin, nout);
    {
        int dw_bad = dw_alias && nout * nin != 0 && (dWp == W.data || batch * nin != 0);
        int dx_bad = dx_alias && batch * nin != 0 && (dxp == x.data || batch * nout != 0);
        int db_bad = db_alias && dbp && nout && (dbp == dy.data ? batch * nout : nout * nin) != 0;
        if (st == NNOPT_OK && (!rp || dw_bad || dx_bad || db_bad))
            FUZZ_FAIL("nnopt_dropconnect_backward: a NULL rng or an overlap accepted");
    }
    watch_end(&w, out, st, "nnopt_dropconnect_backward");
    buffer_free(&W); buffer_free(&bias); buffer_free(&x); buffer_free(&dy);
    buffer_free(&y); buffer_free(&dW); buffer_free(&dx); buffer_free(&db);
}

static void run_dropconnect_inference(fuzz_input *in, sink *out)
{
    static const size_t sample_counts[] = { 1, 1, 2, 3, 5, 17, 0, 300 };
    double p = fuzz_prob(in);
    nnopt_rng rng = fuzz_rng(in);
    const nnopt_rng *rp = fuzz_u8(in) == 0x52 ? NULL : &rng;
    uint8_t b = fuzz_u8(in), mode = fuzz_u8(in);
    nnopt_dropconnect_activation act = (nnopt_dropconnect_activation)(b < 248 ? b % 4 : fuzz_int(in));
    int gaussian = mode & 1, with_bias = mode & 2, y_alias;
    size_t batch, nin, nout, samples = sample_counts[(mode >> 2) % COUNT(sample_counts)];
    buffer W, bias, x, y;
    float *yp;
    watch w;
    nnopt_status st;
    memset(&w, 0, sizeof w);
    fuzz_dense_shape(in, &batch, &nin, &nout);
    if (samples > 1 && batch * nout * samples > 20000) samples = 20000 / (batch * nout) + 1;
    if (mode >= 0xF0 && batch * nout > 1) samples = (size_t)-1 / (batch * nout) + 1;   /* overflows */
    W = buffer_make(in, nout * nin, 1);
    bias = buffer_make(in, with_bias ? nout : 0, 1);
    x = buffer_make(in, batch * nin, 1);
    yp = fuzz_output(in, &y, batch * nout, x.data, x.n, W.data, W.n, &y_alias);
    y_alias = y_alias && batch * nout != 0 && (yp == x.data ? batch * nin : nout * nin) != 0;
    watch_buffer(&w, &W); watch_buffer(&w, &x);
    if (y.raw) watch_buffer(&w, &y);
    st = gaussian ? nnopt_dropconnect_inference_gaussian(rp, p, act, samples, W.data, with_bias ? bias.data : NULL,
                                                         x.data, yp, batch, nin, nout)
                  : nnopt_dropconnect_inference_mean(p, act, W.data, with_bias ? bias.data : NULL, x.data, yp,
                                                     batch, nin, nout);
    if (st == NNOPT_OK && (y_alias || (!yp && batch * nout != 0) || (gaussian && (!samples || !rp))))
        FUZZ_FAIL("nnopt_dropconnect_inference: an overlap, a missing buffer or no samples accepted");
    watch_end(&w, out, st, "nnopt_dropconnect_inference");
    buffer_free(&W); buffer_free(&bias); buffer_free(&x); buffer_free(&y);
}

/* ---- Batch normalization ------------------------------------------------------------------ */

/* Parameters of a case and the sizes its buffers really have (c channels, total floats). With
   `lying` the parameters claim a batch whose size overflows, which every call must refuse. */
static nnopt_bn_params fuzz_bn_params(fuzz_input *in, size_t *c, size_t *total, int *lying)
{
    uint8_t b = fuzz_u8(in), flags = fuzz_u8(in);
    size_t n = fuzz_len(in, 9), hw = fuzz_len(in, 80), *dims[3];
    nnopt_bn_layout layout = (nnopt_bn_layout)(b < 248 ? b % 3 : fuzz_int(in));
    nnopt_bn_params p;
    *c = fuzz_len(in, 600);
    if (layout == NNOPT_BN_NC && b < 240) hw = 1;
    dims[0] = &n; dims[1] = c; dims[2] = &hw;
    fit_dims(dims, 3, 3000);
    p = nnopt_bn_defaults(layout, n, *c, hw);
    if (flags & 1) p.eps = fuzz_double(in);
    if (flags & 2) p.momentum = fuzz_double(in);
    p.cumulative_average = (flags >> 2) & 1;
    p.track_running_stats = !((flags >> 3) & 1);
    p.affine = !((flags >> 4) & 1);
    p.fuse_relu = (flags >> 5) & 1;
    *lying = (flags & 0xC0) == 0xC0 && *c > 1 && fuzz_u8(in) < 64;
    if (*lying) p.n = (size_t)-1 / *c + 1;
    *total = n * *c * hw;
    return p;
}

static void run_bn_train(fuzz_input *in, sink *out)
{
    size_t c, total;
    int lying, alias, dx_mode, save_absent;
    nnopt_bn_params p = fuzz_bn_params(in, &c, &total, &lying);
    uint64_t batches = 0, *nbt;
    uint8_t m = fuzz_u8(in);
    io xy = io_make(in, total);
    buffer gamma = buffer_make(in, c, 1), beta = buffer_make(in, c, 1), rmean = buffer_make(in, c, 1);
    buffer rvar = buffer_make(in, c, 1), smean = buffer_make(in, c, 1), sinv = buffer_make(in, c, 1);
    buffer dy, dx, dgamma, dbeta;
    float *running_var = rvar.data, *save_mean = smean.data, *save_invstd = sinv.data, *dxp;
    const float *x = xy.x;
    watch w;
    nnopt_status st;
    memset(&w, 0, sizeof w);
    alias = m % 8;                      /* 5-7: a written buffer overlaps another one */
    save_absent = (m >> 3) & 1;
    nbt = (m >> 4) % 4 == 0 ? NULL : &batches;
    if ((m >> 4) % 4 == 2) batches = fuzz_u64(in) % 4;
    if ((m >> 4) % 4 == 3) batches = UINT64_MAX;
    if (alias == 5) running_var = rmean.data;
    if (alias == 6) save_mean = gamma.data;
    if (alias == 7) save_invstd = (float *)(uintptr_t)x;
    watch_io(&w, &xy);
    watch_buffer(&w, &rmean); watch_buffer(&w, &rvar); watch_buffer(&w, &smean); watch_buffer(&w, &sinv);
    watch_buffer(&w, &gamma);
    watch_add(&w, &batches, sizeof batches, 0);
    st = nnopt_bn_forward_train(&p, x, xy.y, gamma.data, beta.data, rmean.data, running_var, nbt,
                                save_absent ? NULL : save_mean, save_absent ? NULL : save_invstd);
    if (st == NNOPT_OK && (lying || (xy.mode == IO_OVERLAP && total) || (alias == 5 && p.track_running_stats) ||
                           (alias == 6 && p.affine && !save_absent) || (alias == 7 && !save_absent && total)))
        FUZZ_FAIL("nnopt_bn_forward_train: an overflowing size or an overlap accepted");
    watch_end(&w, out, st, "nnopt_bn_forward_train");

    /* backward from the saved statistics (or, when there are none, from fuzzed ones) */
    dy = buffer_make(in, total, 1);
    dx_mode = fuzz_u8(in) % 6;           /* 0-2 own buffer, 3 x, 4 dy (in place), 5 overlapping dy */
    memset(&dx, 0, sizeof dx);
    if (dx_mode < 3) dx = buffer_make(in, total, 1);
    dxp = dx_mode < 3 ? dx.data : dx_mode == 3 ? (float *)(uintptr_t)x : dx_mode == 4 ? dy.data : floats_after(dy.data, 1);
    if (dx_mode == 5 && total < 2) dxp = dy.data;
    dgamma = buffer_make(in, fuzz_u8(in) & 1 ? c : 0, 1);
    dbeta = buffer_make(in, fuzz_u8(in) & 1 ? c : 0, 1);
    if (save_absent || alias >= 6) { buffer_free(&smean); buffer_free(&sinv); smean = buffer_make(in, c, 1); sinv = buffer_make(in, c, 1); }
    watch_buffer(&w, &dy);
    if (dx.raw) watch_buffer(&w, &dx);
    watch_io(&w, &xy);
    watch_buffer(&w, &dgamma); watch_buffer(&w, &dbeta);
    st = nnopt_bn_backward_train(&p, x, dy.data, gamma.data, beta.data, smean.data, sinv.data, dxp,
                                 dgamma.n ? dgamma.data : NULL, dbeta.n ? dbeta.data : NULL);
    if (st == NNOPT_OK && (lying || (dx_mode == 5 && total > 1)))
        FUZZ_FAIL("nnopt_bn_backward_train: an overflowing size or an overlap accepted");
    watch_end(&w, out, st, "nnopt_bn_backward_train");
    io_free(&xy);
    buffer_free(&gamma); buffer_free(&beta); buffer_free(&rmean); buffer_free(&rvar);
    buffer_free(&smean); buffer_free(&sinv); buffer_free(&dy); buffer_free(&dx);
    buffer_free(&dgamma); buffer_free(&dbeta);
}

static void run_bn_infer(fuzz_input *in, sink *out)
{
    size_t c, total;
    int lying, fold_mode;
    nnopt_bn_params p = fuzz_bn_params(in, &c, &total, &lying);
    io xy = io_make(in, total), back;
    buffer gamma = buffer_make(in, c, 1), beta = buffer_make(in, c, 1), rmean = buffer_make(in, c, 1);
    buffer rvar = buffer_make(in, c, 1), dgamma, dbeta, scale, shift;
    float *shiftp;
    watch w;
    nnopt_status st;
    memset(&w, 0, sizeof w);
    watch_io(&w, &xy);
    st = nnopt_bn_forward_infer(&p, xy.x, xy.y, gamma.data, beta.data, rmean.data, rvar.data);
    if (st == NNOPT_OK && (lying || (xy.mode == IO_OVERLAP && total)))
        FUZZ_FAIL("nnopt_bn_forward_infer: an overflowing size or an overlap accepted");
    watch_end(&w, out, st, "nnopt_bn_forward_infer");

    back = io_make(in, total);         /* dy and dx */
    dgamma = buffer_make(in, fuzz_u8(in) & 1 ? c : 0, 1);
    dbeta = buffer_make(in, fuzz_u8(in) & 1 ? c : 0, 1);
    watch_io(&w, &back);
    watch_buffer(&w, &dgamma); watch_buffer(&w, &dbeta);
    st = nnopt_bn_backward_infer(&p, xy.y, back.x, gamma.data, beta.data, rmean.data, rvar.data, back.y,
                                 dgamma.n ? dgamma.data : NULL, dbeta.n ? dbeta.data : NULL);
    if (st == NNOPT_OK && (lying || (back.mode == IO_OVERLAP && total)))
        FUZZ_FAIL("nnopt_bn_backward_infer: an overflowing size or an overlap accepted");
    watch_end(&w, out, st, "nnopt_bn_backward_infer");

    fold_mode = fuzz_u8(in) % 8;       /* 0-3 gamma and beta, 4 neither, 5 gamma only, 6-7 shift overlaps */
    scale = buffer_make(in, c, 1);
    shift = buffer_make(in, c, 1);
    shiftp = fold_mode == 6 ? scale.data : fold_mode == 7 ? rmean.data : shift.data;
    watch_buffer(&w, &scale); watch_buffer(&w, &shift); watch_buffer(&w, &rmean);
    st = nnopt_bn_fold(c, p.eps, fold_mode == 4 ? NULL : gamma.data, fold_mode >= 4 && fold_mode < 6 ? NULL : beta.data,
                       rmean.data, rvar.data, scale.data, shiftp);
    if (st == NNOPT_OK && (fold_mode == 5 || (fold_mode >= 6 && c)))
        FUZZ_FAIL("nnopt_bn_fold: gamma without beta or an overlap accepted");
    watch_end(&w, out, st, "nnopt_bn_fold");
    io_free(&xy); io_free(&back);
    buffer_free(&gamma); buffer_free(&beta); buffer_free(&rmean); buffer_free(&rvar);
    buffer_free(&dgamma); buffer_free(&dbeta); buffer_free(&scale); buffer_free(&shift);
}

/* ---- Image augmentation ------------------------------------------------------------------ */

static nnopt_image_format fuzz_format(fuzz_input *in)
{
    uint8_t b = fuzz_u8(in);
    return (nnopt_image_format)(b < 252 ? b & 1 : fuzz_int(in));
}

static int fuzz_channels(fuzz_input *in)
{
    static const int valid[] = { 1, 3, 4 };
    uint8_t b = fuzz_u8(in);
    return b < 240 ? valid[b % 3] : b % 6;
}

/* Width and height: mostly small, sometimes up to 64, zero or negative, or both INT_MAX (a
   shape whose size overflows, refused everywhere). */
static void fuzz_shape(fuzz_input *in, int *w, int *h)
{
    int side[2], k;
    for (k = 0; k < 2; k++) {
        uint8_t b = fuzz_u8(in);
        side[k] = b < 224 ? 1 + b % 20 : b < 244 ? 1 + (int)fuzz_len(in, 63) : b < 252 ? -(b % 3) : INT_MAX;
    }
    if (side[0] == INT_MAX || side[1] == INT_MAX) side[0] = side[1] = INT_MAX;
    *w = side[0]; *h = side[1];
}

/* An image at a chosen offset into an allocation of exactly its size (a float image sometimes
   one byte off, which every call must refuse), filled from the input. An invalid shape gets 16
   bytes that no call may touch. */
typedef struct image_buffer { nnopt_image img; void *raw; size_t bytes; } image_buffer;

static image_buffer image_make(fuzz_input *in, nnopt_image_format f, int w, int h, int c)
{
    image_buffer b;
    size_t offset = fuzz_u8(in) % 17, i;
    int misalign = f == NNOPT_IMAGE_F32_CHW && fuzz_u8(in) == 0x4D;
    b.img.format = f; b.img.width = w; b.img.height = h; b.img.channels = c; b.img.data = NULL;
    b.bytes = nnopt_image_bytes(&b.img);
    if (!b.bytes) b.bytes = 16;
    if (f == NNOPT_IMAGE_F32_CHW) offset *= sizeof(float);
    b.raw = malloc(b.bytes + offset + (size_t)misalign + 1);
    if (!b.raw) FUZZ_FAIL("out of memory");
    b.img.data = (char *)b.raw + offset + misalign;
    if (f == NNOPT_IMAGE_F32_CHW)
        for (i = 0; i + sizeof(float) <= b.bytes; i += sizeof(float)) {
            float v = fuzz_float(in);
            memcpy((char *)b.img.data + i, &v, sizeof v);
        }
    else
        for (i = 0; i < b.bytes; i++) ((uint8_t *)b.img.data)[i] = fuzz_byte_data(in);
    return b;
}


static void watch_image(watch *w, const image_buffer *b)
{
    watch_add(w, b->img.data, b->bytes, b->img.format == NNOPT_IMAGE_F32_CHW && b->bytes % sizeof(float) == 0);
}

/* A destination: its own image, or (rarely) the source's memory, which every call refuses. */
static image_buffer dst_make(fuzz_input *in, const image_buffer *src, nnopt_image_format f, int w, int h, int c,
                             int *overlapping)
{
    image_buffer d;
    if (fuzz_u8(in) >= 248) {
        memset(&d, 0, sizeof d);
        d.img = src->img; d.img.format = f; d.img.width = w; d.img.height = h; d.img.channels = c;
        *overlapping = 1;
        return d;
    }
    *overlapping = 0;
    return image_make(in, f, w, h, c);
}

static float *fuzz_fill(fuzz_input *in, float fill[4])
{
    int k;
    if (fuzz_u8(in) < 64) return NULL;
    for (k = 0; k < 4; k++) fill[k] = fuzz_float(in);
    return fill;
}

/* Geometry: flips, crops, pad, resize on uint8 HWC and float CHW images. The destination's
   shape is mostly the one the op produces, sometimes any. */
static void run_aug_geometry(fuzz_input *in, sink *out)
{
    int op = fuzz_u8(in) % 7, sw, sh, dw, dh, c, dc, overlapping, k, pads[4], top, left, height, width;
    nnopt_image_format f = fuzz_format(in), df = f;
    uint8_t fit = fuzz_u8(in), b;
    nnopt_pad_mode mode;
    nnopt_interp interp;
    float fill[4], *fillp;
    image_buffer src, dst;
    watch w;
    nnopt_status st;
    memset(&w, 0, sizeof w);
    fuzz_shape(in, &sw, &sh);
    c = dc = fuzz_channels(in);
    for (k = 0; k < 4; k++) pads[k] = fuzz_coord(in);
    top = fuzz_coord(in); left = fuzz_coord(in); height = fuzz_coord(in); width = fuzz_coord(in);
    b = fuzz_u8(in);
    mode = (nnopt_pad_mode)(b < 248 ? b % 4 : fuzz_int(in));
    b = fuzz_u8(in);
    interp = (nnopt_interp)(b < 248 ? b % 2 : fuzz_int(in));
    fillp = fuzz_fill(in, fill);
    fuzz_shape(in, &dw, &dh);
    if (fit < 200 && (op <= 1 || op == 4)) { dw = sw; dh = sh; }
    if (fit < 200 && op == 4) {
        long pw = (long)sw + pads[0] + pads[2], ph = (long)sh + pads[1] + pads[3];
        if (pw > 0 && pw <= 200 && ph > 0 && ph <= 200) { dw = (int)pw; dh = (int)ph; }
    }
    if (fit >= 250) { dc = fuzz_channels(in); df = fuzz_format(in); }
    src = image_make(in, f, sw, sh, c);
    dst = dst_make(in, &src, df, dw, dh, dc, &overlapping);
    watch_image(&w, &src);
    if (dst.raw) watch_image(&w, &dst);
    switch (op) {
    case 0:  st = nnopt_aug_hflip(&src.img, &dst.img); break;
    case 1:  st = nnopt_aug_vflip(&src.img, &dst.img); break;
    case 2:  st = nnopt_aug_crop(&src.img, &dst.img, top, left); break;
    case 3:  st = nnopt_aug_center_crop(&src.img, &dst.img); break;
    case 4:  st = nnopt_aug_pad(&src.img, &dst.img, pads[0], pads[1], pads[2], pads[3], mode, fillp); break;
    case 5:  st = nnopt_aug_resize(&src.img, &dst.img, interp); break;
    default: st = nnopt_aug_resized_crop(&src.img, &dst.img, top, left, height, width, interp); break;
    }
    if (st == NNOPT_OK && (overlapping || df != f || dc != c))
        FUZZ_FAIL("nnopt_aug geometry op %d: an overlap or a change of format accepted", op);
    watch_end(&w, out, st, "nnopt_aug geometry");
    free(src.raw); free(dst.raw);
}

/* Color: brightness, contrast, saturation, hue, grayscale. */
static void run_aug_color(fuzz_input *in, sink *out)
{
    static const double factors[] = { 0.0, 0.5, 1.0, 1.5, 2.0, 10.0, 0.25, 1e-3 };
    static const double hues[] = { -0.5, -0.25, 0.0, 0.1, 0.5, 1.0 / 3.0, -0.1, 0.49 };
    int op = fuzz_u8(in) % 5, sw, sh, c, dc, overlapping;
    nnopt_image_format f = fuzz_format(in);
    uint8_t b = fuzz_u8(in);
    double factor = b < 200 ? (op == 3 ? hues : factors)[b % 8] : fuzz_double(in);
    image_buffer src, dst;
    watch w;
    nnopt_status st;
    memset(&w, 0, sizeof w);
    fuzz_shape(in, &sw, &sh);
    c = dc = fuzz_channels(in);
    if (op == 4 || fuzz_u8(in) >= 250) dc = fuzz_channels(in);
    src = image_make(in, f, sw, sh, c);
    dst = dst_make(in, &src, f, sw, sh, dc, &overlapping);
    watch_image(&w, &src);
    if (dst.raw) watch_image(&w, &dst);
    switch (op) {
    case 0:  st = nnopt_aug_brightness(&src.img, &dst.img, factor); break;
    case 1:  st = nnopt_aug_contrast(&src.img, &dst.img, factor); break;
    case 2:  st = nnopt_aug_saturation(&src.img, &dst.img, factor); break;
    case 3:  st = nnopt_aug_hue(&src.img, &dst.img, factor); break;
    default: st = nnopt_aug_grayscale(&src.img, &dst.img); break;
    }
    if (st == NNOPT_OK && (overlapping || (op < 4 && (dc != c || !(factor - factor == 0.0)))))
        FUZZ_FAIL("nnopt_aug color op %d: an overlap, a change of channels or a bad factor accepted", op);
    watch_end(&w, out, st, "nnopt_aug color");
    free(src.raw); free(dst.raw);
}

/* Normalize, erase (a constant or normal numbers), Gaussian noise. */
static void run_aug_pixels(fuzz_input *in, sink *out)
{
    static const float stats[] = { 0.485f, 0.229f, 0.0f, 1.0f, 0.5f, -1.0f, 1e-30f, 255.0f };
    int op = fuzz_u8(in) % 4, sw, sh, c, overlapping, k, clip = fuzz_u8(in) & 1;
    nnopt_image_format f = fuzz_format(in);
    float mean[4], std[4], value[4], *valuep;
    double noise_mean = fuzz_u8(in) < 128 ? 0.0 : fuzz_double(in), sigma = fuzz_u8(in) < 128 ? 0.1 : fuzz_double(in);
    nnopt_rng rng = fuzz_rng(in);
    int top = fuzz_coord(in), left = fuzz_coord(in), height = fuzz_coord(in), width = fuzz_coord(in);
    image_buffer src, dst;
    watch w;
    nnopt_status st;
    memset(&w, 0, sizeof w);
    for (k = 0; k < 4; k++) {
        uint8_t b = fuzz_u8(in);
        mean[k] = b < 200 ? stats[b % 8] : fuzz_float(in);
        b = fuzz_u8(in);
        std[k] = b < 200 ? stats[(b % 4) + 1] : fuzz_float(in);
    }
    valuep = fuzz_fill(in, value);
    fuzz_shape(in, &sw, &sh);
    c = fuzz_channels(in);
    src = image_make(in, f, sw, sh, c);
    memset(&dst, 0, sizeof dst);
    overlapping = 0;
    if (op == 0) dst = dst_make(in, &src, fuzz_u8(in) < 240 ? NNOPT_IMAGE_F32_CHW : NNOPT_IMAGE_U8_HWC, sw, sh, c, &overlapping);
    if (op == 2) dst = dst_make(in, &src, f, sw, sh, c, &overlapping);
    watch_image(&w, &src);
    if (dst.raw) watch_image(&w, &dst);
    FUZZ_TRACE("aug pixels op %d format %d %dx%dx%d offset %llu\n", op, (int)f, sw, sh, c, (unsigned long long)rng.offset);
    if (op == 0) st = nnopt_aug_normalize(&src.img, &dst.img, fuzz_u8(in) < 8 ? NULL : mean, std);
    else if (op == 1) st = nnopt_aug_erase(&src.img, top, left, height, width, valuep);
    else if (op == 3) st = nnopt_aug_erase_normal(&src.img, top, left, height, width, rng.seed, rng.stream, rng.offset);
    else st = nnopt_aug_gaussian_noise(&src.img, &dst.img, noise_mean, sigma, clip, rng.seed, rng.stream, rng.offset);
    if (st == NNOPT_OK && overlapping) FUZZ_FAIL("nnopt_aug op %d: an overlap accepted", op);
    if (st == NNOPT_OK && op == 2 && (size_t)sw * (size_t)sh * (size_t)c - 1 > UINT64_MAX - rng.offset)
        FUZZ_FAIL("nnopt_aug_gaussian_noise: numbers past the end of the stream used");
    if (st == NNOPT_OK && op == 3 && (f != NNOPT_IMAGE_F32_CHW ||
                                      (height > 0 && width > 0 && (uint64_t)c * (uint64_t)height * (uint64_t)width - 1 > UINT64_MAX - rng.offset)))
        FUZZ_FAIL("nnopt_aug_erase_normal: a uint8 image or numbers past the end of the stream accepted");
    watch_end(&w, out, st, "nnopt_aug pixels");
    free(src.raw); free(dst.raw);
}

/* MixUp and CutMix, given and random, on float CHW (kinds 0-3) and uint8 HWC batches (4-7:
   the same values as bytes, in exact-size allocations), and the Beta draws behind them. */
static void run_aug_mix(fuzz_input *in, sink *out)
{
    static const double alphas[] = { 1.0, 0.2, 0.5, 2.0, 1e-3, 50.0 };
    int kind = fuzz_u8(in) % 8, u8 = kind >= 4, c = fuzz_channels(in), sw, sh, box[4], k, out_alias, soft_mode;
    size_t n = fuzz_len(in, 6), classes = fuzz_len(in, 12), image_size, i, *dims[2];
    double lam = fuzz_prob(in), alpha, beta, lam_out = -7.0, params[6];
    uint64_t seed = fuzz_u8(in) & 1 ? fuzz_u64(in) : fuzz_u8(in), stream = fuzz_u8(in);
    uint8_t b = fuzz_u8(in), labels_mode = fuzz_u8(in);
    buffer images, outb, soft;
    int *labels = NULL;
    float *outp, *softp;
    uint8_t *bytes = NULL, *bytes_out = NULL;
    watch w;
    nnopt_status st;
    memset(&w, 0, sizeof w);
    alpha = b < 200 ? alphas[b % COUNT(alphas)] : fuzz_double(in);
    b = fuzz_u8(in);
    beta = b < 200 ? alphas[b % COUNT(alphas)] : fuzz_double(in);
    fuzz_shape(in, &sw, &sh);
    if (sw == INT_MAX) sw = sh = 3;
    for (k = 0; k < 4; k++) box[k] = fuzz_coord(in);
    image_size = kind % 2 == 0 ? fuzz_len(in, 300) : (size_t)(sw > 0 ? sw : 0) * (size_t)(sh > 0 ? sh : 0) * (size_t)c;
    dims[0] = &n; dims[1] = &image_size;
    if (kind % 2 == 0) fit_dims(dims, 2, 3000);
    else if (n * image_size > 3000) n = 1;
    images = buffer_make(in, n * image_size, 1);
    outp = fuzz_output(in, &outb, n * image_size, images.data, images.n, images.data, images.n, &out_alias);
    if (!(labels_mode & 1)) {
        labels = (int *)malloc(n * sizeof(int) + 1);
        if (!labels) FUZZ_FAIL("out of memory");
        for (i = 0; i < n; i++) {
            uint8_t l = fuzz_u8(in);
            labels[i] = l < 240 && classes ? (int)(l % classes) : fuzz_int(in);
        }
    }
    soft_mode = (labels_mode >> 1) % 8;   /* 0-5 own buffer, 6 NULL, 7 the output */
    soft = buffer_make(in, soft_mode < 6 ? n * classes : 0, 1);
    softp = soft_mode < 6 ? soft.data : soft_mode == 6 ? NULL : outp;
    watch_buffer(&w, &images);
    if (outb.raw) watch_buffer(&w, &outb);
    watch_buffer(&w, &soft);
    watch_add(&w, &lam_out, sizeof lam_out, 2);
    for (k = 0; k < 6; k++) params[k] = -7.0;
    watch_add(&w, params, sizeof params, 2);
    if (u8) {   /* the batch as bytes; the output: own bytes, NULL or the images themselves */
        bytes = (uint8_t *)malloc(n * image_size + 1);
        if (!bytes) FUZZ_FAIL("out of memory");
        memcpy(bytes, images.data, n * image_size);   /* the first bytes of the fuzzed floats */
        watch_add(&w, bytes, n * image_size, 0);
        if (outp && !out_alias) {
            bytes_out = (uint8_t *)malloc(n * image_size + 1);
            if (!bytes_out) FUZZ_FAIL("out of memory");
            memset(bytes_out, 0xA5, n * image_size);
            watch_add(&w, bytes_out, n * image_size, 0);
        }
        if (soft_mode == 7) softp = (float *)(void *)(bytes_out ? bytes_out : bytes);   /* the byte output */
    }
    switch (kind) {
    case 4:  st = nnopt_aug_mixup_u8(bytes, out_alias ? bytes : bytes_out, n, image_size, labels, classes, softp, lam); break;
    case 5:  st = nnopt_aug_cutmix_u8(bytes, out_alias ? bytes : bytes_out, n, c, sh, sw, labels, classes, softp, box[0],
                                      box[1], box[2], box[3], fuzz_u8(in) & 1 ? &lam_out : NULL); break;
    case 6:  st = nnopt_aug_mixup_random_u8(bytes, out_alias ? bytes : bytes_out, n, image_size, labels, classes, softp,
                                            alpha, seed, stream, fuzz_u8(in) & 1 ? &lam_out : NULL); break;
    case 7:  st = nnopt_aug_cutmix_random_u8(bytes, out_alias ? bytes : bytes_out, n, c, sh, sw, labels, classes, softp,
                                             alpha, seed, stream, fuzz_u8(in) & 1 ? params : NULL); break;
    case 0:  st = nnopt_aug_mixup(images.data, outp, n, image_size, labels, classes, softp, lam); break;
    case 1:  st = nnopt_aug_cutmix(images.data, outp, n, c, sh, sw, labels, classes, softp, box[0], box[1], box[2],
                                   box[3], fuzz_u8(in) & 1 ? &lam_out : NULL); break;
    case 2:  st = nnopt_aug_mixup_random(images.data, outp, n, image_size, labels, classes, softp, alpha, seed,
                                         stream, fuzz_u8(in) & 1 ? &lam_out : NULL); break;
    default: st = nnopt_aug_cutmix_random(images.data, outp, n, c, sh, sw, labels, classes, softp, alpha, seed,
                                          stream, fuzz_u8(in) & 1 ? params : NULL); break;
    }
    if (st == NNOPT_OK && ((out_alias && n * image_size != 0) || (soft_mode == 7 && labels && n * image_size != 0)))
        FUZZ_FAIL("nnopt_aug mix %d: an overlap accepted", kind);
    watch_end(&w, out, st, "nnopt_aug mix");
    {
        double draw = nnopt_random_beta_at(seed, stream, fuzz_u64(in), alpha, beta);
        if (!(draw >= 0.0 && draw <= 1.0) && alpha - alpha == 0.0 && beta - beta == 0.0 && alpha > 0.0 && beta > 0.0)
            FUZZ_FAIL("nnopt_random_beta_at: %g outside [0, 1]", draw);
        put_double(out, draw);
    }
    buffer_free(&images); buffer_free(&outb); buffer_free(&soft);
    free(labels); free(bytes); free(bytes_out);
}

/* Pipelines: 0-5 ops of any kind from their defaults, with sizes the fuzzer picks and a few
   fields replaced (NaN, infinities, negative, extreme), initialized for an input shape and
   applied to 0-3 images with records. */
static const size_t op_doubles[] = {
    offsetof(nnopt_aug_op, p), offsetof(nnopt_aug_op, scale), offsetof(nnopt_aug_op, scale) + sizeof(double),
    offsetof(nnopt_aug_op, ratio), offsetof(nnopt_aug_op, ratio) + sizeof(double),
    offsetof(nnopt_aug_op, brightness), offsetof(nnopt_aug_op, brightness) + sizeof(double),
    offsetof(nnopt_aug_op, contrast), offsetof(nnopt_aug_op, contrast) + sizeof(double),
    offsetof(nnopt_aug_op, saturation), offsetof(nnopt_aug_op, saturation) + sizeof(double),
    offsetof(nnopt_aug_op, hue), offsetof(nnopt_aug_op, hue) + sizeof(double),
    offsetof(nnopt_aug_op, noise_mean), offsetof(nnopt_aug_op, noise_sigma)
};
static const size_t op_ints[] = {
    offsetof(nnopt_aug_op, width), offsetof(nnopt_aug_op, height), offsetof(nnopt_aug_op, top),
    offsetof(nnopt_aug_op, left), offsetof(nnopt_aug_op, pad), offsetof(nnopt_aug_op, pad) + sizeof(int),
    offsetof(nnopt_aug_op, pad) + 2 * sizeof(int), offsetof(nnopt_aug_op, pad) + 3 * sizeof(int),
    offsetof(nnopt_aug_op, pad_if_needed), offsetof(nnopt_aug_op, clip), offsetof(nnopt_aug_op, random_value)
};
static const size_t op_floats[] = {
    offsetof(nnopt_aug_op, fill), offsetof(nnopt_aug_op, mean), offsetof(nnopt_aug_op, std),
    offsetof(nnopt_aug_op, value)
};

static nnopt_aug_op fuzz_aug_op(fuzz_input *in)
{
    static const double jitter[][2] = { { 1.0, 1.0 }, { 0.6, 1.4 }, { 0.0, 2.0 }, { 0.9, 0.9 } };
    static const double hues[][2] = { { 0.0, 0.0 }, { -0.1, 0.1 }, { -0.5, 0.5 }, { 0.2, 0.3 } };
    uint8_t b = fuzz_u8(in), j = fuzz_u8(in), b2;
    nnopt_aug_op op = nnopt_aug_op_defaults((nnopt_aug_kind)(b < 250 ? b % NNOPT_AUG_KIND_COUNT : fuzz_int(in)));
    int changes = fuzz_u8(in) % 4, k;
    op.width = 1 + fuzz_u8(in) % 24; op.height = 1 + fuzz_u8(in) % 24;
    op.top = fuzz_u8(in) % 5; op.left = fuzz_u8(in) % 5;
    for (k = 0; k < 4; k++) op.pad[k] = fuzz_u8(in) % 7;
    b2 = fuzz_u8(in);
    op.pad_mode = (nnopt_pad_mode)(b2 % 4);
    op.interp = (nnopt_interp)((b2 >> 2) & 1);
    op.pad_if_needed = (b2 >> 3) & 1;
    op.clip = (b2 >> 4) & 1;
    if (op.kind == NNOPT_AUG_COLOR_JITTER) {
        memcpy(op.brightness, jitter[j % 4], sizeof op.brightness);
        memcpy(op.contrast, jitter[(j >> 2) % 4], sizeof op.contrast);
        memcpy(op.saturation, jitter[(j >> 4) % 4], sizeof op.saturation);
        memcpy(op.hue, hues[(j >> 6) % 4], sizeof op.hue);
    }
    for (k = 0; k < changes; k++) {
        uint8_t field = fuzz_u8(in);
        if (field % 3 == 0) {
            double v = fuzz_double(in);
            memcpy((char *)&op + op_doubles[(field / 3) % COUNT(op_doubles)], &v, sizeof v);
        } else if (field % 3 == 1) {
            int v = fuzz_coord(in);
            memcpy((char *)&op + op_ints[(field / 3) % COUNT(op_ints)], &v, sizeof v);
        } else {
            float v = fuzz_float(in);
            memcpy((char *)&op + op_floats[(field / 3) % COUNT(op_floats)] + (field >> 6) * sizeof(float), &v, sizeof v);
        }
    }
    return op;
}

static void put_record(sink *s, const nnopt_aug_record *r, int ops)
{
    int j, k;
    for (j = 0; j < ops; j++) {
        const nnopt_aug_choice *ch = &r->op[j];
        put_int(s, ch->applied); put_int(s, ch->top); put_int(s, ch->left); put_int(s, ch->height);
        put_int(s, ch->width);
        for (k = 0; k < 4; k++) { put_double(s, ch->factor[k]); put_int(s, ch->order[k]); }
    }
}

static void run_aug_pipeline(fuzz_input *in, sink *out)
{
    nnopt_aug_op ops[NNOPT_AUG_MAX_OPS];
    nnopt_aug_pipeline pl;
    uint8_t b = fuzz_u8(in), m;
    int count = b < 248 ? b % 6 : b % 2 ? NNOPT_AUG_MAX_OPS + 1 : -1, j, w, h, c, alias;
    nnopt_image_format f = fuzz_format(in);
    size_t images, k;
    uint64_t seed, first;
    image_buffer src, dst;
    nnopt_aug_record *records;
    unsigned char *records_before;
    watch ws;
    nnopt_status st;
    memset(&ws, 0, sizeof ws);
    fuzz_shape(in, &w, &h);
    c = fuzz_channels(in);
    for (j = 0; j < count && j < NNOPT_AUG_MAX_OPS; j++) ops[j] = fuzz_aug_op(in);
    st = nnopt_aug_pipeline_init(&pl, ops, count, f, w, h, c);
    put_int(out, (int)st);
    if (st != NNOPT_OK) return;
    put_int(out, (int)pl.out_format); put_int(out, pl.out_width); put_int(out, pl.out_height);
    put(out, &pl.scratch_bytes, sizeof pl.scratch_bytes);
    FUZZ_TRACE("pipeline of %d ops: %dx%dx%d -> %dx%d, scratch %zu\n", pl.count, pl.in_width, pl.in_height,
               pl.channels, pl.out_width, pl.out_height, pl.scratch_bytes);
    /* a valid pipeline may still be huge (a RandomCrop to 2^30 x 2^30 with pad_if_needed):
       applying it would only test the allocator */
    if (pl.scratch_bytes > ((size_t)1 << 24)) return;

    m = fuzz_u8(in);
    images = m % 4;
    alias = (m >> 2) % 8;              /* 6: out is the input's memory, 7: records are */
    seed = fuzz_u8(in) & 1 ? fuzz_u64(in) : fuzz_u8(in);
    first = fuzz_offset(in);
    /* the images back to back: one image `images` times as tall has their size */
    src = image_make(in, pl.in_format, pl.in_width, pl.in_height * (int)(images ? images : 1), pl.channels);
    dst = image_make(in, pl.out_format, pl.out_width, pl.out_height * (int)(images ? images : 1), pl.channels);
    records = (nnopt_aug_record *)calloc(images + 1, sizeof *records);
    records_before = (unsigned char *)malloc((images + 1) * sizeof *records);
    if (!records || !records_before) FUZZ_FAIL("out of memory");
    memcpy(records_before, records, (images + 1) * sizeof *records);
    watch_image(&ws, &src);
    watch_image(&ws, &dst);
    st = nnopt_aug_apply(&pl, src.img.data, alias == 6 ? src.img.data : dst.img.data, images, seed, first,
                         alias == 7 ? (nnopt_aug_record *)src.img.data : alias >= 3 ? records : NULL);
    if (st == NNOPT_OK && images && alias >= 6) FUZZ_FAIL("nnopt_aug_apply: an overlap accepted");
    if (st != NNOPT_OK && memcmp(records, records_before, (images + 1) * sizeof *records) != 0)
        FUZZ_FAIL("nnopt_aug_apply: an error status but the records were written");
    watch_end(&ws, out, st, "nnopt_aug_apply");
    if (st == NNOPT_OK && alias >= 3 && alias < 6)
        for (k = 0; k < images; k++) put_record(out, &records[k], pl.count);
    free(src.raw); free(dst.raw); free(records); free(records_before);
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
    { "random",           run_random },
    { "penalty",          run_penalty },
    { "prox",             run_prox },
    { "max_norm",         run_max_norm },
    { "dropout",          run_dropout },
    { "alpha_dropout",    run_alpha_dropout },
    { "dropout_channels", run_dropout_channels },
    { "dropconnect",      run_dropconnect },
    { "dropconnect_inference", run_dropconnect_inference },
    { "bn_train",         run_bn_train },
    { "bn_infer",         run_bn_infer },
    { "aug_geometry",     run_aug_geometry },
    { "aug_color",        run_aug_color },
    { "aug_pixels",       run_aug_pixels },
    { "aug_mix",          run_aug_mix },
    { "aug_pipeline",     run_aug_pipeline },
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
