/* Dropout benchmarks at 4K, 64K, 1M and 16M elements on each ISA path: the inverted forward
   writing the bit mask and without it, the backward regenerating the mask and the backward
   from the bits; beside a streaming loop with the same memory traffic (roof, bench/roof.c:
   reading x and writing y costs what a[i] += b[i] costs on a write-allocate cache, plus the
   mask bytes). Also Philox itself (nnopt_random_u32, counted in 32-bit words) and the
   DropConnect dense layer (counted in multiply-adds). The counter roof comes from timing the
   kernel and the roof alternately (best of 5 rounds of at least 5 ms each). */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

enum { DROP_FORWARD, DROP_FORWARD_NOMASK, DROP_BACKWARD, DROP_BACKWARD_MASK, DROP_PHILOX,
       DROP_DC_FORWARD, DROP_DC_BACKWARD, DROP_CASES };
static const char *const drop_names[DROP_CASES] = {
    "dropout_forward", "dropout_forward_nomask", "dropout_backward", "dropout_backward_mask",
    "philox", "dropconnect_forward", "dropconnect_backward" };
#define DC_BATCH 32
#define DC_IN 512

typedef struct { int kernel, variant; size_t n; double best[2]; } drop_item;
enum { BASE_ROOF = -1 };

static uint8_t *drop_bits(void)
{
    static uint8_t *bits;
    if (!bits) bits = (uint8_t *)calloc(BENCH_MAX_N / 8 + 64, 1);
    return bits;
}

static void drop_kernel(int kernel, size_t n)
{
    static uint64_t calls;
    float **arr = bench_arrays();
    nnopt_rng r;
    r.seed = 42; r.stream = 1; r.offset = (calls++ & 1023) * 64;   /* a fresh mask each call */
    switch (kernel) {
    case DROP_FORWARD: nnopt_dropout_forward(&r, 0.5, NNOPT_DROPOUT_INVERTED, arr[1], arr[0], drop_bits(), n); break;
    case DROP_FORWARD_NOMASK: nnopt_dropout_forward(&r, 0.5, NNOPT_DROPOUT_INVERTED, arr[1], arr[0], NULL, n); break;
    case DROP_BACKWARD: nnopt_dropout_backward(&r, 0.5, NNOPT_DROPOUT_INVERTED, arr[1], arr[0], n); break;
    case DROP_BACKWARD_MASK: nnopt_dropout_backward_mask(drop_bits(), 0.5, NNOPT_DROPOUT_INVERTED, arr[1], arr[0], n); break;
    case DROP_PHILOX: nnopt_random_u32(&r, (uint32_t *)(void *)arr[2], n); break;
    case DROP_DC_FORWARD:      /* n = DC_BATCH * DC_IN * out multiply-adds */
        nnopt_dropconnect_forward(&r, 0.5, 0, arr[1], NULL, arr[2], arr[0], DC_BATCH, DC_IN, n / (DC_BATCH * DC_IN));
        break;
    default:
        nnopt_dropconnect_backward(&r, 0.5, 0, arr[1], arr[2], arr[3], arr[4], arr[5], NULL, DC_BATCH, DC_IN,
                                   n / (DC_BATCH * DC_IN));
        break;
    }
}

static void drop_roof(size_t n)
{
    float **arr = bench_arrays();
    roof_stream(arr, 2, 1, n);                 /* read x, write y (with its write-allocate read) */
    roof_stream(arr + 2, 2, 1, n / 32);        /* n / 8 mask bytes, the same way */
}

static void drop_flush(void)
{
    static unsigned char *junk;
    static unsigned char fill;
    const size_t bytes = (size_t)512 << 20;
    if (!junk) junk = (unsigned char *)malloc(bytes);
    if (junk) memset(junk, ++fill, bytes);
}

static void drop_interleaved(const drop_item *b, double best[2])
{
    int round, v;
    for (v = 0; v < 2; v++) best[v] = 1e30;
    for (round = 0; round < 5; round++)
        for (v = 0; v < 2; v++) {
            double start, elapsed;
            long calls = 0;
            if (b->n >= BENCH_MAX_N) drop_flush();
            start = bench_now();
            do {
                if (v == 0) drop_kernel(b->kernel, b->n);
                else drop_roof(b->n);
                calls++;
                elapsed = bench_now() - start;
            } while (elapsed < 0.005);
            if (elapsed / (double)calls < best[v]) best[v] = elapsed / (double)calls;
        }
}

static void drop_bench(nb_state *st, void *ctx)
{
    drop_item *b = (drop_item *)ctx;
    int64_t iters;
    double bytes = b->kernel <= DROP_BACKWARD_MASK ? 8.0 + (b->kernel == DROP_FORWARD || b->kernel == DROP_BACKWARD_MASK ? 0.125 : 0.0)
                 : b->kernel == DROP_PHILOX ? 4.0 : 0.0;
    drop_bits();
    if (b->variant < 0) {
        while (nb_keep_running(st)) drop_roof(b->n);
    } else {
        if (nnopt_isa_set((nnopt_isa)b->variant) != NNOPT_OK) { nb_skip(st, "path not available"); return; }
        while (nb_keep_running(st)) drop_kernel(b->kernel, b->n);
        if (b->kernel <= DROP_BACKWARD_MASK) {
            if (b->best[0] == 0) drop_interleaved(b, b->best);
            nb_counter(st, "roof", b->best[1] / b->best[0]);
        }
    }
    iters = nb_iterations(st);
    nb_set_items(st, iters * (int64_t)b->n);
    if (bytes > 0) nb_set_bytes(st, (int64_t)((double)iters * (double)b->n * bytes));
}

void register_dropout_benchmarks(void)
{
    static const size_t sizes[] = { 4096, 65536, 1 << 20, 1 << 24 };
    static drop_item items[DROP_CASES * 4 * 4];
    int nb = 0, k, v;
    size_t s;
    for (k = 0; k < DROP_CASES; k++)
        for (s = 0; s < 4; s++) {
            size_t n = sizes[s];
            if (k >= DROP_DC_FORWARD && n != (1 << 24) / 2) {   /* one layer: 32 x 512 -> 512 */
                if (s) continue;
                n = (size_t)DC_BATCH * DC_IN * 512;
            }
            for (v = NNOPT_ISA_SCALAR; v <= (int)nnopt_isa_best(); v++) {
                drop_item *b = &items[nb++];
                b->kernel = k; b->variant = v; b->n = n;
                bench_register("dropout", drop_names[k], nnopt_isa_name((nnopt_isa)v), n, drop_bench, b);
            }
            if (k <= DROP_BACKWARD_MASK) {
                drop_item *b = &items[nb++];
                b->kernel = k; b->variant = BASE_ROOF; b->n = n;
                bench_register("dropout", drop_names[k], "roof", n, drop_bench, b);
            }
        }
}
