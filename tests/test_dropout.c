/* Dropout and DropConnect: every output against a reference built from
   nnopt_random_uniform_at (the documented Bernoulli rule), keep rates and E[y] = x over 10M
   elements with bounds a correct generator fails with probability below 1e-9, determinism,
   bit identity of every path and chunking, finite-difference gradients of the DropConnect
   layer, and refusal of bad input. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LN_2E9 21.416413017506358   /* ln(2e9): Hoeffding's two-sided bound at 1e-9 */

static int dropped_at(const nnopt_rng *r, size_t e, double p)
{
    return (double)nnopt_random_uniform_at(r->seed, r->stream, r->offset + e) < p;
}

static int bit_at(const uint8_t *bits, size_t e) { return (bits[e / 8] >> (e % 8)) & 1; }

static float pattern(size_t i) { return (float)sin(0.731 * (double)i + 0.2) * 2.0f; }

/* ---- Elementwise dropout against the rule ------------------------------------------ */

static void check_dropout_case(const nnopt_rng *r, double p, nnopt_dropout_scaling sc, size_t n,
                               float *x, float *y, float *dx, uint8_t *bits)
{
    float scale = sc == NNOPT_DROPOUT_CLASSIC ? 1.0f : p < 1 ? (float)(1.0 / (1.0 - p)) : 0.0f;
    size_t i, bad = 0;
    for (i = 0; i < n; i++) x[i] = pattern(i);
    memset(bits, 0xA5, (n + 7) / 8 + 1);
    CHECK(nnopt_dropout_forward(r, p, sc, x, y, bits, n) == NNOPT_OK);
    for (i = 0; i < n && bad < 3; i++) {
        int kept = !dropped_at(r, i, p);
        float want = kept ? x[i] * scale : 0.0f;
        if (!CHECKF(memcmp(&y[i], &want, sizeof want) == 0 && bit_at(bits, i) == kept,
                    "dropout p=%g scaling=%d offset=%llu n=%zu: element %zu: y %.9g want %.9g bit %d kept %d",
                    p, (int)sc, (unsigned long long)r->offset, n, i, (double)y[i], (double)want,
                    bit_at(bits, i), kept))
            bad++;
    }
    if (n % 8) CHECKF((bits[n / 8] >> (n % 8)) == 0, "unused high bits of the last mask byte are not 0");
    CHECKF(bits[(n + 7) / 8] == 0xA5, "mask written past its end");
    /* backward, regenerated and from the bits, is the forward applied to dy = x */
    CHECK(nnopt_dropout_backward(r, p, sc, x, dx, n) == NNOPT_OK);
    th_same_bits(dx, y, n, "backward (regenerated) vs forward");
    memset(dx, 0xFF, n * sizeof(float));
    CHECK(nnopt_dropout_backward_mask(bits, p, sc, x, dx, n) == NNOPT_OK);
    th_same_bits(dx, y, n, "backward (bit mask) vs forward");
    /* no mask at all: the same y */
    CHECK(nnopt_dropout_forward(r, p, sc, x, dx, NULL, n) == NNOPT_OK);
    th_same_bits(dx, y, n, "forward without mask");
    /* in place */
    memcpy(dx, x, n * sizeof(float));
    CHECK(nnopt_dropout_forward(r, p, sc, dx, dx, NULL, n) == NNOPT_OK);
    th_same_bits(dx, y, n, "forward in place");
}

static void test_dropout_rule(void)
{
    static const size_t lengths[] = { 0, 1, 7, 8, 15, 16, 17, 63, 64, 65, 1000, 4099 };
    static const uint64_t offsets[] = { 0, 3, 64, 101, ((uint64_t)1 << 32) - 7 };
    /* 1 - 2^-26 rounds to threshold 2^24 (drops everything); 1 - 1.5 2^-24 to 2^24 - 1, the
       largest threshold that can keep (only words >= 0xFFFFFF00) */
    static const double ps[] = { 0.0, 0.1, 0.5, 0.9, 1.0, 1e-9, 1.0 - 1.4901161193847656e-8, 1.0 - 8.940696716308594e-8 };
    float *x = th_alloc_floats(4099, 1), *y = th_alloc_floats(4099, 3), *dx = th_alloc_floats(4099, 2);
    uint8_t *bits = (uint8_t *)malloc(4099 / 8 + 2);
    size_t L, o, q;
    for (L = 0; L < sizeof lengths / sizeof lengths[0]; L++)
        for (o = 0; o < sizeof offsets / sizeof offsets[0]; o++)
            for (q = 0; q < sizeof ps / sizeof ps[0]; q++) {
                nnopt_rng r;
                r.seed = 0x123456789ABCDEFull; r.stream = 7; r.offset = offsets[o];
                check_dropout_case(&r, ps[q], (nnopt_dropout_scaling)(q % 2), lengths[L], x, y, dx, bits);
                if (lengths[L] == 1000)
                    check_dropout_case(&r, ps[q], (nnopt_dropout_scaling)(1 - q % 2), lengths[L], x, y, dx, bits);
            }
    th_free_floats(x, 1); th_free_floats(y, 3); th_free_floats(dx, 2);
    free(bits);
}

/* p = 0: y = x exactly (all bits 1); p = 1: all +0 (no division by zero), even for NaN and
   Inf inputs; dropped elements are +0 whatever x holds. Inference. */
static void test_dropout_edges(void)
{
    float x[20], y[20];
    uint8_t bits[3];
    nnopt_rng r = { 42, 0, 0 };
    size_t i;
    for (i = 0; i < 20; i++) x[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? -INFINITY : -0.0f;
    CHECK(nnopt_dropout_forward(&r, 0.0, NNOPT_DROPOUT_INVERTED, x, y, bits, 20) == NNOPT_OK);
    CHECK(memcmp(x, y, sizeof x) == 0 && bits[0] == 0xFF && bits[1] == 0xFF && bits[2] == 0x0F);
    CHECK(nnopt_dropout_forward(&r, 1.0, NNOPT_DROPOUT_INVERTED, x, y, bits, 20) == NNOPT_OK);
    for (i = 0; i < 20; i++) CHECKF(y[i] == 0.0f && !signbit(y[i]), "p=1: element %zu is %g", i, (double)y[i]);
    CHECK(bits[0] == 0 && bits[1] == 0 && bits[2] == 0);
    CHECK(nnopt_dropout_forward(&r, 0.5, NNOPT_DROPOUT_INVERTED, x, y, bits, 20) == NNOPT_OK);
    for (i = 0; i < 20; i++)
        if (!bit_at(bits, i)) CHECKF(y[i] == 0.0f && !signbit(y[i]), "dropped element %zu is %g", i, (double)y[i]);
    /* the comparison is exact: p = u_e keeps element e, p just above u_e (not a float) drops it */
    for (i = 0; i < 20; i++) {
        double u = nnopt_random_uniform_at(r.seed, r.stream, r.offset + i);
        if (u == 0.0) continue;
        CHECK(nnopt_dropout_forward(&r, u, NNOPT_DROPOUT_INVERTED, x, y, bits, 20) == NNOPT_OK);
        CHECKF(bit_at(bits, i) == 1, "p = u: element %zu dropped", i);
        CHECK(nnopt_dropout_forward(&r, u + 1e-12, NNOPT_DROPOUT_INVERTED, x, y, bits, 20) == NNOPT_OK);
        CHECKF(bit_at(bits, i) == 0, "p = u + 1e-12: element %zu kept", i);
    }
    for (i = 0; i < 20; i++) x[i] = (float)i - 7.25f;
    CHECK(nnopt_dropout_inference(0.3, NNOPT_DROPOUT_INVERTED, x, y, 20) == NNOPT_OK);
    CHECK(memcmp(x, y, sizeof x) == 0);
    CHECK(nnopt_dropout_inference(0.3, NNOPT_DROPOUT_CLASSIC, x, y, 20) == NNOPT_OK);
    for (i = 0; i < 20; i++) CHECK(y[i] == x[i] * (float)(1.0 - 0.3));
    CHECK(nnopt_dropout_inference(0.3, NNOPT_DROPOUT_CLASSIC, x, x, 20) == NNOPT_OK);   /* in place */
    CHECK(memcmp(x, y, sizeof x) == 0);
}

/* ---- Statistics ------------------------------------------------------------------------
   Keep rate over 10M elements at p = 0.1, 0.5, 0.9: by Hoeffding, |kept/n - (1 - p)| exceeds
   sqrt(ln(2e9) / 2n) = 1.03e-3 with probability below 1e-9. E[y] = x: with x in [0.5, 1.5],
   y_i - x_i lies in an interval of length x_i / (1 - p), so |sum(y - x)| exceeds
   sqrt(ln(2e9)/2 * sum (x_i / (1 - p))^2) with probability below 1e-9. */
static void test_dropout_statistics(void)
{
    static const double ps[] = { 0.1, 0.5, 0.9 };
    const size_t n = 10000000;
    float *x = th_alloc_floats(n, 0), *y = th_alloc_floats(n, 1);
    uint8_t *bits = (uint8_t *)malloc(n / 8 + 1);
    size_t q, i;
    for (q = 0; q < 3; q++) {
        nnopt_rng r;
        size_t kept = 0;
        double p = ps[q], rate, bound = sqrt(LN_2E9 / (2.0 * (double)n)), dev = 0, ranges = 0;
        r.seed = 2024 + q; r.stream = 1; r.offset = 12345;
        for (i = 0; i < n; i++) x[i] = 0.5f + (float)(i % 1001) / 1000.0f;
        CHECK(nnopt_dropout_forward(&r, p, NNOPT_DROPOUT_INVERTED, x, y, bits, n) == NNOPT_OK);
        for (i = 0; i < n / 8; i++) {
            unsigned b = bits[i];
            while (b) { kept += b & 1u; b >>= 1; }
        }
        rate = (double)kept / (double)n;
        CHECKF(fabs(rate - (1.0 - p)) <= bound, "p=%g: keep rate %.6f, expected %.6f +- %.2e", p, rate, 1 - p, bound);
        for (i = 0; i < n; i++) {
            double r_i = (double)x[i] / (1.0 - p);
            dev += (double)y[i] - (double)x[i];
            ranges += r_i * r_i;
        }
        bound = sqrt(LN_2E9 / 2.0 * ranges);
        CHECKF(fabs(dev) <= bound, "p=%g: sum(y - x) = %.1f, bound %.1f", p, dev, bound);
    }
    th_free_floats(x, 0); th_free_floats(y, 1);
    free(bits);
}

/* Same rng: same bits; another seed, stream or offset: another mask. A call split in two at
   any point (the second starting at offset + k) gives the same outputs. */
static void test_dropout_determinism(void)
{
    const size_t n = 5000;
    float *x = th_alloc_floats(n, 1), *a = th_alloc_floats(n, 2), *b = th_alloc_floats(n, 3);
    uint8_t ma[5000 / 8 + 1], mb[5000 / 8 + 1];
    nnopt_rng r = { 99, 3, 17 }, other;
    size_t i, k;
    for (i = 0; i < n; i++) x[i] = pattern(i);
    memset(ma, 0, sizeof ma); memset(mb, 0, sizeof mb);
    CHECK(nnopt_dropout_forward(&r, 0.5, NNOPT_DROPOUT_INVERTED, x, a, ma, n) == NNOPT_OK);
    CHECK(nnopt_dropout_forward(&r, 0.5, NNOPT_DROPOUT_INVERTED, x, b, mb, n) == NNOPT_OK);
    CHECK(memcmp(a, b, n * sizeof(float)) == 0 && memcmp(ma, mb, sizeof ma) == 0);
    other = r; other.seed++;
    CHECK(nnopt_dropout_forward(&other, 0.5, NNOPT_DROPOUT_INVERTED, x, b, mb, n) == NNOPT_OK);
    CHECK(memcmp(ma, mb, sizeof ma) != 0);
    other = r; other.stream++;
    CHECK(nnopt_dropout_forward(&other, 0.5, NNOPT_DROPOUT_INVERTED, x, b, mb, n) == NNOPT_OK);
    CHECK(memcmp(ma, mb, sizeof ma) != 0);
    for (k = 0; k <= n; k += k < 130 ? 1 : 997) {
        nnopt_rng second = r;
        second.offset += k;
        memset(b, 0, n * sizeof(float));
        CHECK(nnopt_dropout_forward(&r, 0.5, NNOPT_DROPOUT_INVERTED, x, b, NULL, k) == NNOPT_OK);
        CHECK(nnopt_dropout_forward(&second, 0.5, NNOPT_DROPOUT_INVERTED, x + k, b + k, NULL, n - k) == NNOPT_OK);
        if (!th_same_bits(b, a, n, "split call")) break;
    }
    th_free_floats(x, 1); th_free_floats(a, 2); th_free_floats(b, 3);
    {   /* a call large enough to split over threads (OpenMP builds) equals three small calls */
        const size_t big = 300001, part = 100000;
        float *xb = th_alloc_floats(big, 1), *ya = th_alloc_floats(big, 2), *yb = th_alloc_floats(big, 3);
        uint8_t *ba = (uint8_t *)malloc(big / 8 + 1), *bb = (uint8_t *)malloc(big / 8 + 1);
        for (i = 0; i < big; i++) xb[i] = pattern(i);
        CHECK(nnopt_dropout_forward(&r, 0.3, NNOPT_DROPOUT_INVERTED, xb, ya, ba, big) == NNOPT_OK);
        for (k = 0; k < big; k += part) {
            nnopt_rng piece = r;
            piece.offset += k;
            CHECK(nnopt_dropout_forward(&piece, 0.3, NNOPT_DROPOUT_INVERTED, xb + k, yb + k, bb + k / 8,
                                        big - k < 2 * part ? big - k : part) == NNOPT_OK);
            if (big - k < 2 * part) break;
        }
        th_same_bits(ya, yb, big, "one large call vs three calls");
        CHECK(memcmp(ba, bb, big / 8 + 1) == 0);
        th_free_floats(xb, 1); th_free_floats(ya, 2); th_free_floats(yb, 3);
        free(ba); free(bb);
    }
}

/* ---- Channel and alpha dropout -------------------------------------------------------- */

static void test_dropout_channels(void)
{
    const size_t N = 3, C = 300, S = 7, n = N * C * S;   /* C > 256: two groups of draws */
    float *x = th_alloc_floats(n, 1), *y = th_alloc_floats(n, 2), *yt = th_alloc_floats(n, 3);
    uint8_t bits[(3 * 300 + 7) / 8], bits2[(3 * 300 + 7) / 8];
    nnopt_rng r = { 5, 9, 1000 };
    const double p = 0.4;
    float scale = (float)(1.0 / (1.0 - p));
    size_t s, c, h, kept = 0;
    for (s = 0; s < n; s++) x[s] = pattern(s);
    CHECK(nnopt_dropout_channels(&r, p, NNOPT_DROPOUT_NCHW, x, y, N, C, S, bits) == NNOPT_OK);
    for (s = 0; s < N; s++)
        for (c = 0; c < C; c++) {
            int keep = !dropped_at(&r, s * C + c, p);
            kept += keep;
            CHECK(bit_at(bits, s * C + c) == keep);
            for (h = 0; h < S; h++) {
                size_t e = (s * C + c) * S + h;
                float want = keep ? x[e] * scale : 0.0f;
                if (!CHECKF(memcmp(&y[e], &want, sizeof want) == 0, "NCHW (%zu,%zu,%zu): %g vs %g", s, c, h,
                            (double)y[e], (double)want))
                    return;
            }
        }
    CHECK(kept > 0 && kept < N * C);
    /* NHWC: the same channels dropped, the same values, transposed */
    for (s = 0; s < N; s++)
        for (c = 0; c < C; c++)
            for (h = 0; h < S; h++) yt[(s * S + h) * C + c] = x[(s * C + c) * S + h];
    CHECK(nnopt_dropout_channels(&r, p, NNOPT_DROPOUT_NHWC, yt, yt, N, C, S, bits2) == NNOPT_OK);
    CHECK(memcmp(bits, bits2, sizeof bits) == 0);
    for (s = 0; s < N; s++)
        for (c = 0; c < C; c++)
            for (h = 0; h < S; h++)
                if (!CHECK(memcmp(&yt[(s * S + h) * C + c], &y[(s * C + c) * S + h], sizeof(float)) == 0))
                    return;
    /* p = 0 and p = 1 */
    CHECK(nnopt_dropout_channels(&r, 0.0, NNOPT_DROPOUT_NCHW, x, y, N, C, S, bits) == NNOPT_OK);
    CHECK(memcmp(x, y, n * sizeof(float)) == 0 && bits[0] == 0xFF);
    CHECK(nnopt_dropout_channels(&r, 1.0, NNOPT_DROPOUT_NHWC, x, y, N, C, S, NULL) == NNOPT_OK);
    for (s = 0; s < n; s++) if (!CHECK(y[s] == 0.0f)) break;
    th_free_floats(x, 1); th_free_floats(y, 2); th_free_floats(yt, 3);
}

/* Kept: x a + alpha' a p; dropped: -alpha' a (1 - p) (torch's formula, in double). On
   standard normal input the output keeps mean 0 and variance 1: over 1M elements the sample
   mean and variance stay within 8 and 10 of their standard errors (Gaussian-like tails: far
   below 1e-9). */
static void test_alpha_dropout(void)
{
    const double alpha = 1.7580993408473766;
    const size_t n = 1000000;
    float *x = th_alloc_floats(n, 1), *y = th_alloc_floats(n, 2), *dx = th_alloc_floats(n, 3);
    uint8_t *bits = (uint8_t *)malloc(n / 8 + 1);
    nnopt_rng r = { 77, 2, 5 }, xr = { 1, 1, 0 };
    static const double ps[] = { 0.05, 0.2, 0.5 };
    size_t q, i;
    CHECK(nnopt_random_normal(&xr, x, n, 0.0f, 1.0f) == NNOPT_OK);
    for (q = 0; q < 3; q++) {
        double p = ps[q], a = 1.0 / sqrt((alpha * alpha * p + 1) * (1 - p)), mean = 0, var = 0;
        float A = (float)a, B = (float)(alpha * a * p), D = (float)(-alpha * a * (1 - p));
        CHECK(nnopt_alpha_dropout_forward(&r, p, x, y, bits, n) == NNOPT_OK);
        for (i = 0; i < n; i++) {
            int kept = !dropped_at(&r, i, p);
            float ax = x[i] * A, want = kept ? ax + B : D;   /* two roundings, never fused */
            if (i < 5000 && !CHECKF(memcmp(&want, &y[i], sizeof want) == 0 && bit_at(bits, i) == kept,
                                    "alpha p=%g element %zu: %.9g vs %.9g", p, i, (double)y[i], (double)want))
                break;
            mean += y[i];
        }
        mean /= (double)n;
        for (i = 0; i < n; i++) var += ((double)y[i] - mean) * ((double)y[i] - mean);
        var /= (double)(n - 1);
        CHECKF(fabs(mean) < 8.0 / sqrt((double)n), "alpha p=%g: mean %.5f", p, mean);
        CHECKF(fabs(var - 1.0) < 10.0 * sqrt(3.0 / (double)n), "alpha p=%g: variance %.5f", p, var);
        CHECK(nnopt_alpha_dropout_backward(&r, p, x, dx, n) == NNOPT_OK);
        for (i = 0; i < 5000; i++) {
            float want = bit_at(bits, i) ? x[i] * A : 0.0f;
            if (!CHECK(memcmp(&want, &dx[i], sizeof want) == 0)) break;
        }
    }
    CHECK(nnopt_alpha_dropout_forward(&r, 0.0, x, y, NULL, 1000) == NNOPT_OK);
    CHECK(memcmp(x, y, 1000 * sizeof(float)) == 0);
    CHECK(nnopt_alpha_dropout_forward(&r, 1.0, x, y, NULL, 1000) == NNOPT_OK);
    for (i = 0; i < 1000; i++) if (!CHECK(y[i] == 0.0f)) break;
    th_free_floats(x, 1); th_free_floats(y, 2); th_free_floats(dx, 3);
    free(bits);
}

/* ---- DropConnect ----------------------------------------------------------------------- */

typedef struct { size_t batch, in, out; int per_sample; double p; } dc_shape;

static int dc_kept(const nnopt_rng *r, const dc_shape *d, size_t s, size_t o, size_t i)
{
    size_t row = d->in + 1;
    return !dropped_at(r, (d->per_sample ? s : 0) * d->out * row + o * row + i, d->p);
}

/* y = (M o W) x + m o b in double. */
static void dc_reference(const nnopt_rng *r, const dc_shape *d, const float *W, const float *b,
                         const float *x, double *y)
{
    size_t s, o, i;
    for (s = 0; s < d->batch; s++)
        for (o = 0; o < d->out; o++) {
            double acc = b && dc_kept(r, d, s, o, d->in) ? b[o] : 0.0;
            for (i = 0; i < d->in; i++)
                if (dc_kept(r, d, s, o, i)) acc += (double)W[o * d->in + i] * x[s * d->in + i];
            y[s * d->out + o] = acc;
        }
}

static void fill(float *v, size_t n, double phase)
{
    size_t i;
    for (i = 0; i < n; i++) v[i] = (float)sin(1.37 * (double)i + phase);
}

static void test_dropconnect_forward(void)
{
    static const dc_shape shapes[] = { { 3, 13, 5, 1, 0.5 }, { 2, 64, 3, 0, 0.3 }, { 4, 130, 7, 1, 0.8 },
                                       { 1, 0, 2, 1, 0.5 }, { 2, 17, 4, 0, 0.0 }, { 2, 17, 4, 1, 1.0 } };
    nnopt_rng r = { 31337, 4, 99 };
    size_t k, j;
    for (k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const dc_shape *d = &shapes[k];
        float *W = th_alloc_floats(d->out * d->in + 1, 1), *b = th_alloc_floats(d->out, 2);
        float *x = th_alloc_floats(d->batch * d->in + 1, 3), *y = th_alloc_floats(d->batch * d->out, 1);
        double *ref = (double *)malloc(d->batch * d->out * sizeof(double));
        fill(W, d->out * d->in, 0.1); fill(b, d->out, 0.7); fill(x, d->batch * d->in, 2.0);
        CHECK(nnopt_dropconnect_forward(&r, d->p, d->per_sample, W, b, x, y, d->batch, d->in, d->out) == NNOPT_OK);
        dc_reference(&r, d, W, b, x, ref);
        for (j = 0; j < d->batch * d->out; j++)
            CHECKF(fabs(y[j] - ref[j]) <= 1e-6 * (1 + fabs(ref[j])), "shape %zu output %zu: %.9g vs %.9g", k, j,
                   (double)y[j], ref[j]);
        if (d->p == 1.0) for (j = 0; j < d->batch * d->out; j++) CHECK(y[j] == 0.0f);
        th_free_floats(W, 1); th_free_floats(b, 2); th_free_floats(x, 3); th_free_floats(y, 1);
        free(ref);
    }
}

/* L = sum c o y. With the mask fixed y is linear in W, b and x, so central differences of the
   layer's own (float) forward, evaluated in double, match the gradient up to float rounding of
   y; the analytic gradients must agree with them. */
static void test_dropconnect_gradients(void)
{
    static const dc_shape shapes[] = { { 3, 13, 5, 1, 0.5 }, { 2, 70, 3, 0, 0.25 } };
    nnopt_rng r = { 8, 8, 8 };
    size_t k;
    for (k = 0; k < 2; k++) {
        const dc_shape *d = &shapes[k];
        size_t nw = d->out * d->in, nx = d->batch * d->in, ny = d->batch * d->out, j, t;
        float *W = th_alloc_floats(nw, 1), *b = th_alloc_floats(d->out, 2), *x = th_alloc_floats(nx, 3);
        float *y = th_alloc_floats(ny, 0), *c = th_alloc_floats(ny, 1), *dW = th_alloc_floats(nw, 2);
        float *dx = th_alloc_floats(nx, 3), *db = th_alloc_floats(d->out, 0);
        const double h = 1e-2;
        fill(W, nw, 0.3); fill(b, d->out, 1.1); fill(x, nx, 2.5); fill(c, ny, 0.9);
        CHECK(nnopt_dropconnect_backward(&r, d->p, d->per_sample, W, x, c, dW, dx, db, d->batch, d->in, d->out) == NNOPT_OK);
        for (t = 0; t < 3; t++) {
            float *v = t == 0 ? W : t == 1 ? x : b, *g = t == 0 ? dW : t == 1 ? dx : db;
            size_t count = t == 0 ? nw : t == 1 ? nx : d->out;
            for (j = 0; j < count; j++) {
                float keep = v[j];
                double lp = 0, lm = 0, fd;
                size_t e;
                v[j] = (float)(keep + h);
                nnopt_dropconnect_forward(&r, d->p, d->per_sample, W, b, x, y, d->batch, d->in, d->out);
                for (e = 0; e < ny; e++) lp += (double)c[e] * y[e];
                v[j] = (float)(keep - h);
                nnopt_dropconnect_forward(&r, d->p, d->per_sample, W, b, x, y, d->batch, d->in, d->out);
                for (e = 0; e < ny; e++) lm += (double)c[e] * y[e];
                v[j] = keep;
                fd = (lp - lm) / ((double)(float)(keep + h) - (double)(float)(keep - h));
                if (!CHECKF(fabs(fd - g[j]) <= 1e-4 * (1 + fabs(fd)), "shape %zu %s[%zu]: analytic %.7g, finite difference %.7g",
                            k, t == 0 ? "dW" : t == 1 ? "dx" : "db", j, (double)g[j], fd))
                    break;
            }
        }
        {   /* each output alone gives the same bits as all three together */
            float *g2 = th_alloc_floats(nw, 1);
            CHECK(nnopt_dropconnect_backward(&r, d->p, d->per_sample, W, x, c, g2, NULL, NULL, d->batch, d->in, d->out) == NNOPT_OK);
            th_same_bits(g2, dW, nw, "dW alone");
            th_free_floats(g2, 1);
        }
        th_free_floats(W, 1); th_free_floats(b, 2); th_free_floats(x, 3); th_free_floats(y, 0);
        th_free_floats(c, 1); th_free_floats(dW, 2); th_free_floats(dx, 3); th_free_floats(db, 0);
    }
}

/* Mean rule against double; the Gaussian rule with identity activation estimates mu and with
   ReLU estimates E[relu(N(mu, var))] = mu Phi(mu/sd) + sd phi(mu/sd); over K = 20000 samples
   both stay within 8 standard errors. */
static void test_dropconnect_inference(void)
{
    const size_t batch = 2, in = 40, out = 3, K = 20000;
    const double p = 0.4, q = 0.6;
    float W[120], b[3], x[80], y[6], y2[6];
    nnopt_rng r = { 3, 3, 3 };
    size_t s, o, i;
    fill(W, 120, 0.2); fill(b, 3, 0.4); fill(x, 80, 1.7);
    for (s = 0; s < 2; s++) {
        nnopt_dropconnect_activation act = s ? NNOPT_DROPCONNECT_RELU : NNOPT_DROPCONNECT_IDENTITY;
        CHECK(nnopt_dropconnect_inference_mean(p, act, W, b, x, y, batch, in, out) == NNOPT_OK);
        CHECK(nnopt_dropconnect_inference_gaussian(&r, p, act, K, W, b, x, y2, batch, in, out) == NNOPT_OK);
        for (i = 0; i < batch; i++)
            for (o = 0; o < out; o++) {
                double dot = b[o], sq = (double)b[o] * b[o], mu, sd, want, se;
                size_t j;
                for (j = 0; j < in; j++) {
                    double wx = (double)W[o * in + j] * x[i * in + j];
                    dot += wx; sq += wx * wx;
                }
                mu = q * dot; sd = sqrt(q * p * sq);
                want = s ? (mu > 0 ? mu : 0) : mu;
                CHECKF(fabs(y[i * out + o] - want) <= 1e-5 * (1 + fabs(want)), "mean rule: %.7g vs %.7g",
                       (double)y[i * out + o], want);
                want = s ? mu * 0.5 * erfc(-mu / sd / sqrt(2.0)) + sd * exp(-0.5 * mu * mu / (sd * sd)) / sqrt(2 * 3.14159265358979) : mu;
                se = sd / sqrt((double)K);
                CHECKF(fabs(y2[i * out + o] - want) <= 8 * se, "gaussian rule act=%zu: %.6g vs %.6g (se %.2g)", s,
                       (double)y2[i * out + o], want, se);
            }
    }
    CHECK(nnopt_dropconnect_inference_gaussian(&r, p, NNOPT_DROPCONNECT_TANH, 50, W, b, x, y, batch, in, out) == NNOPT_OK);
    CHECK(nnopt_dropconnect_inference_gaussian(&r, p, NNOPT_DROPCONNECT_TANH, 50, W, b, x, y2, batch, in, out) == NNOPT_OK);
    CHECK(memcmp(y, y2, sizeof y) == 0);
    CHECK(nnopt_dropconnect_inference_gaussian(&r, p, NNOPT_DROPCONNECT_SIGMOID, 50, W, b, x, y, batch, in, out) == NNOPT_OK);
    for (i = 0; i < 6; i++) CHECK(y[i] > 0.0f && y[i] < 1.0f);
}

/* ---- Bit identity across paths ---------------------------------------------------------- */

#define DROP_OUTPUTS 12

/* Every function of the section at length n (dense layers shaped from n) into out[k]. */
static void dropout_run_all(size_t n, const float *x, float *const *out, uint8_t *bits)
{
    nnopt_rng r = { 0xDEADBEEFull, 11, 61 };
    size_t in = n / 3 + 1, outs = n % 5 + 1, batch = 2;
    size_t k;
    for (k = 0; k < DROP_OUTPUTS; k++) memset(out[k], 0, (n + 2 * in + 8) * sizeof(float));
    CHECK(nnopt_dropout_forward(&r, 0.3, NNOPT_DROPOUT_INVERTED, x, out[0], bits, n) == NNOPT_OK);
    CHECK(nnopt_dropout_backward(&r, 0.7, NNOPT_DROPOUT_CLASSIC, x, out[1], n) == NNOPT_OK);
    CHECK(nnopt_dropout_backward_mask(bits, 0.3, NNOPT_DROPOUT_INVERTED, x, out[2], n) == NNOPT_OK);
    CHECK(nnopt_dropout_inference(0.3, NNOPT_DROPOUT_CLASSIC, x, out[3], n) == NNOPT_OK);
    CHECK(nnopt_alpha_dropout_forward(&r, 0.2, x, out[4], NULL, n) == NNOPT_OK);
    CHECK(nnopt_alpha_dropout_backward(&r, 0.2, x, out[5], n) == NNOPT_OK);
    CHECK(nnopt_dropout_channels(&r, 0.5, NNOPT_DROPOUT_NCHW, x, out[6], 1, n % 7 + 1, n / (n % 7 + 1), NULL) == NNOPT_OK);
    CHECK(nnopt_dropout_channels(&r, 0.5, NNOPT_DROPOUT_NHWC, x, out[7], 1, n % 7 + 1, n / (n % 7 + 1), NULL) == NNOPT_OK);
    CHECK(nnopt_dropconnect_forward(&r, 0.5, 1, x, x + n, x + 8, out[8], batch, in, outs) == NNOPT_OK);
    CHECK(nnopt_dropconnect_backward(&r, 0.5, 1, x, x + 8, x + 1, out[9], out[10], out[11], batch, in, outs) == NNOPT_OK);
    CHECK(nnopt_dropconnect_inference_gaussian(&r, 0.5, NNOPT_DROPCONNECT_RELU, 9, x, x + n, x + 8, out[8] + 64,
                                               batch, in, outs) == NNOPT_OK);
}

static void test_dropout_paths_identical(void)
{
    static const size_t lengths[] = { 0, 1, 7, 8, 15, 16, 17, 63, 1000, 100003 };
    const size_t nmax = 100003, cap = nmax + 2 * (nmax / 3 + 1) + 64 + 8;
    nnopt_isa initial = nnopt_isa_get(), isa;
    float *x = th_alloc_floats(cap, 1), *ref[DROP_OUTPUTS], *got[DROP_OUTPUTS];
    uint8_t *bref = (uint8_t *)malloc(nmax / 8 + 1), *bgot = (uint8_t *)malloc(nmax / 8 + 1);
    size_t L, k, i;
    for (k = 0; k < DROP_OUTPUTS; k++) { ref[k] = th_alloc_floats(cap, 3); got[k] = th_alloc_floats(cap, 1); }
    for (i = 0; i < cap; i++) x[i] = pattern(i);
    for (L = 0; L < sizeof lengths / sizeof lengths[0]; L++) {
        size_t n = lengths[L], compare = n + 2 * (n / 3 + 1) + 8;
        nnopt_isa_set(NNOPT_ISA_SCALAR);
        dropout_run_all(n, x, ref, bref);
        for (isa = NNOPT_ISA_AVX2; isa <= nnopt_isa_best(); isa = (nnopt_isa)(isa + 1)) {
            char what[96];
            nnopt_isa_set(isa);
            dropout_run_all(n, x, got, bgot);
            CHECKF(memcmp(bref, bgot, (n + 7) / 8) == 0, "mask bits n=%zu %s", n, nnopt_isa_name(isa));
            for (k = 0; k < DROP_OUTPUTS; k++) {
                snprintf(what, sizeof what, "output %zu n=%zu %s vs scalar", k, n, nnopt_isa_name(isa));
                th_same_bits(got[k], ref[k], compare, what);
            }
        }
    }
    nnopt_isa_set(initial);
    for (k = 0; k < DROP_OUTPUTS; k++) { th_free_floats(ref[k], 3); th_free_floats(got[k], 1); }
    th_free_floats(x, 1);
    free(bref); free(bgot);
}

/* ---- Bad input ---------------------------------------------------------------------------- */

static void test_dropout_bad_input(void)
{
    float x[64], y[64], save[64], W[64], dW[64];
    uint8_t bits[8], save_bits[8];
    float *odd = (float *)(void *)((char *)x + 2);
    nnopt_rng r = { 1, 2, 3 }, end = { 1, 2, UINT64_MAX - 10 };
    const double bad_p[] = { -0.01, 1.01, NAN, INFINITY };
    size_t i;
    for (i = 0; i < 64; i++) { x[i] = (float)i; W[i] = 0.5f; }
    memset(y, 0x3C, sizeof y); memcpy(save, y, sizeof y); memcpy(dW, y, sizeof y);
    memset(bits, 0x5A, sizeof bits); memcpy(save_bits, bits, sizeof bits);
    for (i = 0; i < 4; i++) {
        double p = bad_p[i];
        CHECK(nnopt_dropout_forward(&r, p, NNOPT_DROPOUT_INVERTED, x, y, bits, 64) == NNOPT_ERR_INVALID);
        CHECK(nnopt_dropout_backward(&r, p, NNOPT_DROPOUT_INVERTED, x, y, 64) == NNOPT_ERR_INVALID);
        CHECK(nnopt_dropout_backward_mask(bits, p, NNOPT_DROPOUT_INVERTED, x, y, 64) == NNOPT_ERR_INVALID);
        CHECK(nnopt_dropout_inference(p, NNOPT_DROPOUT_CLASSIC, x, y, 64) == NNOPT_ERR_INVALID);
        CHECK(nnopt_alpha_dropout_forward(&r, p, x, y, bits, 64) == NNOPT_ERR_INVALID);
        CHECK(nnopt_alpha_dropout_backward(&r, p, x, y, 64) == NNOPT_ERR_INVALID);
        CHECK(nnopt_dropout_channels(&r, p, NNOPT_DROPOUT_NCHW, x, y, 2, 4, 8, bits) == NNOPT_ERR_INVALID);
        CHECK(nnopt_dropconnect_forward(&r, p, 1, W, NULL, x, y, 2, 8, 4) == NNOPT_ERR_INVALID);
        CHECK(nnopt_dropconnect_backward(&r, p, 1, W, x, x, dW, NULL, NULL, 2, 8, 4) == NNOPT_ERR_INVALID);
        CHECK(nnopt_dropconnect_inference_mean(p, NNOPT_DROPCONNECT_RELU, W, NULL, x, y, 2, 8, 4) == NNOPT_ERR_INVALID);
        CHECK(nnopt_dropconnect_inference_gaussian(&r, p, NNOPT_DROPCONNECT_RELU, 4, W, NULL, x, y, 2, 8, 4) == NNOPT_ERR_INVALID);
    }
    /* NULL and misaligned buffers, NULL rng, bad enums */
    CHECK(nnopt_dropout_forward(NULL, 0.5, NNOPT_DROPOUT_INVERTED, x, y, bits, 64) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_forward(&r, 0.5, NNOPT_DROPOUT_INVERTED, NULL, y, bits, 64) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_forward(&r, 0.5, NNOPT_DROPOUT_INVERTED, x, NULL, bits, 64) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_forward(&r, 0.5, NNOPT_DROPOUT_INVERTED, odd, y, bits, 8) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_forward(&r, 0.5, (nnopt_dropout_scaling)2, x, y, bits, 64) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_backward_mask(NULL, 0.5, NNOPT_DROPOUT_INVERTED, x, y, 64) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_channels(&r, 0.5, (nnopt_dropout_layout)7, x, y, 2, 4, 8, bits) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_channels(NULL, 0.5, NNOPT_DROPOUT_NHWC, x, y, 2, 4, 8, bits) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_forward(&r, 0.5, 1, NULL, NULL, x, y, 2, 8, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_forward(&r, 0.5, 1, W, NULL, x, NULL, 2, 8, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_inference_mean(0.5, (nnopt_dropconnect_activation)9, W, NULL, x, y, 2, 8, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_inference_gaussian(&r, 0.5, NNOPT_DROPCONNECT_RELU, 0, W, NULL, x, y, 2, 8, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_inference_gaussian(NULL, 0.5, NNOPT_DROPCONNECT_RELU, 4, W, NULL, x, y, 2, 8, 4) == NNOPT_ERR_INVALID);
    /* partial overlaps (in place, y == x, is allowed) */
    CHECK(nnopt_dropout_forward(&r, 0.5, NNOPT_DROPOUT_INVERTED, x, x + 1, NULL, 32) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_forward(&r, 0.5, NNOPT_DROPOUT_INVERTED, x, y, (uint8_t *)(void *)y, 64) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_forward(&r, 0.5, 1, W, NULL, x, W + 4, 2, 8, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_backward(&r, 0.5, 1, W, x, y, dW, dW + 8, NULL, 2, 8, 4) == NNOPT_ERR_INVALID);
    /* sizes: the stream's end, overflowing shapes */
    CHECK(nnopt_dropout_forward(&end, 0.5, NNOPT_DROPOUT_INVERTED, x, y, bits, 64) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropout_forward(&end, 0.5, NNOPT_DROPOUT_INVERTED, x, y, bits, 11) == NNOPT_OK);   /* fits exactly */
    memcpy(y, save, sizeof y); memcpy(bits, save_bits, sizeof bits);
    CHECK(nnopt_dropout_channels(&r, 0.5, NNOPT_DROPOUT_NCHW, x, y, (size_t)1 << 40, (size_t)1 << 30, 1, NULL) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_forward(&r, 0.5, 1, W, NULL, x, y, 2, (size_t)1 << 62, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_dropconnect_forward(&end, 0.5, 1, W, NULL, x, y, 2, 8, 4) == NNOPT_ERR_INVALID);
    CHECK(memcmp(y, save, sizeof y) == 0 && memcmp(bits, save_bits, sizeof bits) == 0 && memcmp(dW, save, sizeof dW) == 0);
    /* empty calls are fine */
    CHECK(nnopt_dropout_forward(&r, 0.5, NNOPT_DROPOUT_INVERTED, NULL, NULL, NULL, 0) == NNOPT_OK);
    CHECK(nnopt_dropconnect_forward(&r, 0.5, 1, NULL, NULL, NULL, NULL, 0, 0, 0) == NNOPT_OK);
}

/* Failures say which argument and why (nnopt_last_error). */
static void test_dropout_error_detail(void)
{
    nnopt_rng rng = { 1, 2, 0 };
    float x[4] = { 1, 2, 3, 4 }, y[4];
    uint32_t words[2];
    CHECK(nnopt_dropout_forward(&rng, 1.5, NNOPT_DROPOUT_INVERTED, x, y, NULL, 4) == NNOPT_ERR_INVALID);
    CHECKF(strcmp(nnopt_last_error(), "nnopt_dropout_forward: p: must lie in [0, 1]") == 0, "%s", nnopt_last_error());
    CHECK(nnopt_dropout_forward(&rng, 0.5, NNOPT_DROPOUT_INVERTED, x, x + 1, NULL, 3) == NNOPT_ERR_INVALID);
    CHECKF(strcmp(nnopt_last_error(), "nnopt_dropout_forward: y: overlaps x without being x") == 0, "%s",
           nnopt_last_error());
    CHECK(nnopt_dropout_channels(&rng, 0.5, (nnopt_dropout_layout)5, x, y, 1, 2, 2, NULL) == NNOPT_ERR_INVALID);
    CHECKF(strcmp(nnopt_last_error(), "nnopt_dropout_channels: layout: is not NNOPT_DROPOUT_NCHW or NNOPT_DROPOUT_NHWC") == 0,
           "%s", nnopt_last_error());
    rng.offset = UINT64_MAX;
    CHECK(nnopt_random_u32(&rng, words, 2) == NNOPT_ERR_INVALID);
    CHECKF(strcmp(nnopt_last_error(), "nnopt_random_u32: n: runs past the end of the stream (offset + n > 2^64)") == 0,
           "%s", nnopt_last_error());
}

void register_dropout_tests(void)
{
    th_register("dropout_rule", test_dropout_rule, TH_EACH_ISA);
    th_register("dropout_edges", test_dropout_edges, TH_EACH_ISA);
    th_register("dropout_statistics_10M", test_dropout_statistics, TH_ONCE);
    th_register("dropout_determinism_and_chunking", test_dropout_determinism, TH_EACH_ISA);
    th_register("dropout_channels", test_dropout_channels, TH_EACH_ISA);
    th_register("alpha_dropout", test_alpha_dropout, TH_ONCE);
    th_register("dropconnect_forward", test_dropconnect_forward, TH_EACH_ISA);
    th_register("dropconnect_gradients", test_dropconnect_gradients, TH_EACH_ISA);
    th_register("dropconnect_inference", test_dropconnect_inference, TH_EACH_ISA);
    th_register("dropout_paths_identical", test_dropout_paths_identical, TH_ONCE);
    th_register("dropout_bad_input", test_dropout_bad_input, TH_ONCE);
    th_register("dropout_error_detail", test_dropout_error_detail, TH_ONCE);
}
