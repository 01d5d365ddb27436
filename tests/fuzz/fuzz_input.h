/* Reading a fuzzer's bytes as typed values. Past the end every read returns zero bytes, so a
   short input is still a complete (if dull) case and decoding never fails. Values are drawn
   from tables of special numbers most of the time, so the fuzzer reaches the interesting
   corners (NaN, infinities, denormals, signed zeros, the largest values) in a few mutations. */
#ifndef NNOPT_FUZZ_INPUT_H
#define NNOPT_FUZZ_INPUT_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct fuzz_input { const uint8_t *p; size_t left; uint32_t fill; } fuzz_input;

static void fuzz_begin(fuzz_input *in, const uint8_t *data, size_t size)
{
    in->p = data; in->left = size; in->fill = 0x9E3779B9u ^ (uint32_t)size;
}

static uint8_t fuzz_u8(fuzz_input *in)
{
    if (!in->left) return 0;
    in->left--;
    return *in->p++;
}

static uint32_t fuzz_u32(fuzz_input *in)
{
    uint32_t v = 0;
    int i;
    for (i = 0; i < 4; i++) v |= (uint32_t)fuzz_u8(in) << (8 * i);
    return v;
}

static uint64_t fuzz_u64(fuzz_input *in)
{
    uint64_t lo = fuzz_u32(in);
    return lo | (uint64_t)fuzz_u32(in) << 32;
}

/* A length: mostly the sizes around vector widths and chunk edges, sometimes any up to max. */
static size_t fuzz_len(fuzz_input *in, size_t max)
{
    static const size_t edges[] = { 0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 255, 1000 };
    uint8_t b = fuzz_u8(in);
    size_t n;
    if (b < 160) n = edges[b % (sizeof edges / sizeof edges[0])];
    else n = (size_t)(fuzz_u32(in) % (max + 1));
    return n > max ? max : n;
}

static double fuzz_double(fuzz_input *in)
{
    static const double special[] = {
        0.0, -0.0, 1.0, -1.0, 0.5, 0.9, 0.99, 0.999, 1e-8, 1e-3, 0.1, 2.0, 10.0, 1e6, -0.5, 1.5,
        1e300, -1e300, DBL_MAX, -DBL_MAX, DBL_MIN, 4.9406564584124654e-324, 3.4e38, 1e-45,
        1.0000000000000002, 0.9999999999999999, 1e38, 1e-38
    };
    uint8_t b = fuzz_u8(in);
    uint64_t bits;
    double d;
    if (b < 200) return special[b % (sizeof special / sizeof special[0])];
    if (b < 210) return NAN;
    if (b < 220) return b & 1 ? -INFINITY : INFINITY;
    bits = fuzz_u64(in);
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Data: special values, raw bits, or (past the input, or when asked) a cheap pseudo-random
   stream of ordinary numbers so long arrays still vary. */
static float fuzz_float(fuzz_input *in)
{
    static const float special[] = {
        0.0f, -0.0f, 1.0f, -1.0f, 0.5f, -2.0f, 1e-3f, 3.0f, FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN,
        1.4e-45f, -1.4e-45f, 1e-40f, 1e30f, -1e30f, 65504.0f
    };
    uint32_t bits;
    float f;
    uint8_t b;
    if (!in->left || (b = fuzz_u8(in)) < 96) {
        in->fill = in->fill * 1664525u + 1013904223u;
        return (float)((int32_t)(in->fill >> 8) - (1 << 23)) * (1.0f / 4194304.0f);
    }
    if (b < 200) return special[b % (sizeof special / sizeof special[0])];
    if (b < 208) return NAN;
    if (b < 216) return b & 1 ? -INFINITY : INFINITY;
    bits = fuzz_u32(in);
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* A small signed int for counters and flags, sometimes a raw one. */
static int fuzz_int(fuzz_input *in)
{
    uint8_t b = fuzz_u8(in);
    if (b < 240) return (int)(b % 12) - 2;
    return (int)fuzz_u32(in);
}

#endif
