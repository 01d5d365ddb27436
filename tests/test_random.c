/* Philox4x32-10 and the bulk generators: Random123's known answers, the documented word
   layout, bulk output equal to the single-number functions (so every path and chunking gives
   the same bits), distributions, and bad input. */
#include "harness.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void test_known_answers(void)
{
    /* Random123 tests/kat_vectors, philox4x32 10 */
    static const uint32_t cases[3][10] = {
        { 0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u },
        { 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu,
          0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu },
        { 0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u,
          0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u },
    };
    int c, j;
    for (c = 0; c < 3; c++) {
        uint32_t out[4];
        nnopt_philox4x32_10(cases[c], cases[c] + 4, out);
        for (j = 0; j < 4; j++)
            CHECKF(out[j] == cases[c][6 + j], "case %d word %d: %08x, expected %08x", c, j,
                   (unsigned)out[j], (unsigned)cases[c][6 + j]);
    }
}

static void test_word_layout(void)
{
    /* word index -> (block, word): block (i >> 6) * 16 + (i & 15), word (i >> 4) & 3 */
    const uint64_t seed = 0x0123456789abcdefull, stream = 0xfedcba9876543210ull;
    const uint64_t index[] = { 0, 1, 15, 16, 17, 63, 64, 1000, 123456789, UINT64_MAX };
    size_t t;
    for (t = 0; t < sizeof index / sizeof *index; t++) {
        uint64_t i = index[t], block = (i >> 6) * 16 + (i & 15);
        uint32_t counter[4] = { (uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream, (uint32_t)(stream >> 32) };
        uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) }, out[4];
        nnopt_philox4x32_10(counter, key, out);
        CHECKF(nnopt_random_word(seed, stream, i) == out[(i >> 4) & 3], "index %llu", (unsigned long long)i);
        CHECK(nnopt_random_uniform_at(seed, stream, i) == (float)(out[(i >> 4) & 3] >> 8) * (1.0f / 16777216.0f));
    }
    CHECK(nnopt_random_word(1, 0, 0) != nnopt_random_word(2, 0, 0));
    CHECK(nnopt_random_word(1, 0, 0) != nnopt_random_word(1, 1, 0));
}

static const size_t lengths[] = { 0, 1, 7, 8, 15, 16, 17, 63, 64, 65, 1000, 300001 };
static const uint64_t offsets[] = { 0, 5, 64, 1000003, (uint64_t)1 << 40 };
#define COUNT(a) (sizeof a / sizeof *a)

/* Every bulk generator equals its single-number definition, on this path, at every length
   and offset (and, built with OpenMP, with the call split over threads). */
static void test_bulk_matches_definition(void)
{
    size_t li, oi, i, bad;
    uint32_t *u = (uint32_t *)malloc(300001 * sizeof *u + 4);
    uint8_t *b = (uint8_t *)malloc(300001 + 1);
    float *f = th_alloc_floats(300001, 1);
    for (li = 0; li < COUNT(lengths); li++) {
        for (oi = 0; oi < COUNT(offsets); oi++) {
            size_t n = lengths[li];
            nnopt_rng rng = { 0x9e3779b97f4a7c15ull, 3 + oi, 0 };
            rng.offset = offsets[oi];
            CHECK(nnopt_random_u32(&rng, u + 1, n) == NNOPT_OK);
            for (bad = 0, i = 0; i < n; i++) bad += u[1 + i] != nnopt_random_word(rng.seed, rng.stream, rng.offset + i);
            CHECKF(bad == 0, "u32 n=%zu offset=%llu: %zu differ", n, (unsigned long long)rng.offset, bad);

            CHECK(nnopt_random_uniform(&rng, f, n) == NNOPT_OK);
            for (bad = 0, i = 0; i < n; i++) bad += f[i] != nnopt_random_uniform_at(rng.seed, rng.stream, rng.offset + i);
            CHECKF(bad == 0, "uniform n=%zu offset=%llu: %zu differ", n, (unsigned long long)rng.offset, bad);

            CHECK(nnopt_random_bernoulli(&rng, b + 1, n, 0.3f) == NNOPT_OK);
            for (bad = 0, i = 0; i < n; i++)
                bad += b[1 + i] != (nnopt_random_uniform_at(rng.seed, rng.stream, rng.offset + i) < 0.3f);
            CHECKF(bad == 0, "bernoulli n=%zu offset=%llu: %zu differ", n, (unsigned long long)rng.offset, bad);

            CHECK(nnopt_random_normal(&rng, f, n, 0.0f, 1.0f) == NNOPT_OK);
            for (bad = 0, i = 0; i < n; i++) {
                float z = nnopt_random_normal_at(rng.seed, rng.stream, rng.offset + i);
                bad += memcmp(&f[i], &z, sizeof z) != 0;
            }
            CHECKF(bad == 0, "normal n=%zu offset=%llu: %zu differ", n, (unsigned long long)rng.offset, bad);
        }
    }
    /* mean + std z, with one explicit fma */
    {
        nnopt_rng rng = { 7, 1, 11 };
        CHECK(nnopt_random_normal(&rng, f, 1000, 3.0f, 0.5f) == NNOPT_OK);
        for (bad = 0, i = 0; i < 1000; i++) bad += f[i] != fmaf(0.5f, nnopt_random_normal_at(7, 1, 11 + i), 3.0f);
        CHECK(bad == 0);
    }
    th_free_floats(f, 1);
    free(u);
    free(b);
}

/* The last word of the index space is reachable; one more is refused. */
static void test_end_of_stream(void)
{
    uint32_t w[2] = { 0, 0 };
    nnopt_rng rng = { 5, 6, UINT64_MAX - 1 };
    CHECK(nnopt_random_u32(&rng, w, 1) == NNOPT_OK);
    CHECK(w[0] == nnopt_random_word(5, 6, UINT64_MAX - 1));
    rng.offset = UINT64_MAX;
    CHECK(nnopt_random_u32(&rng, w, 1) == NNOPT_OK);
    CHECK(w[0] == nnopt_random_word(5, 6, UINT64_MAX));
    CHECK(nnopt_random_u32(&rng, w, 2) == NNOPT_ERR_INVALID);
    rng.offset = UINT64_MAX - 64;   /* the last super-block, partly */
    { uint32_t all[65]; size_t i, bad = 0;
      CHECK(nnopt_random_u32(&rng, all, 65) == NNOPT_OK);
      for (i = 0; i < 65; i++) bad += all[i] != nnopt_random_word(5, 6, UINT64_MAX - 64 + i);
      CHECK(bad == 0); }
}

/* Distributions over 4M numbers, bounds a correct generator misses with probability < 1e-9
   (about 6.1 standard deviations, or the stated exact argument). */
static void test_distributions(void)
{
    const size_t n = (size_t)1 << 22;
    float *x = th_alloc_floats(n, 0);
    uint8_t *b = (uint8_t *)malloc(n);
    nnopt_rng rng = { 20261126, 0, 0 };
    double sum = 0, sum2 = 0, sum4 = 0, lo = 1, hi = 0, sigma;
    size_t i, ones = 0, below[4] = { 0, 0, 0, 0 };
    /* uniform: mean 1/2 (sd 1/sqrt(12 n)), inside [0, 1) */
    CHECK(nnopt_random_uniform(&rng, x, n) == NNOPT_OK);
    for (i = 0; i < n; i++) { sum += x[i]; lo = x[i] < lo ? x[i] : lo; hi = x[i] > hi ? x[i] : hi; }
    sigma = sqrt(1.0 / 12.0 / (double)n);
    CHECKF(fabs(sum / (double)n - 0.5) < 6.1 * sigma, "uniform mean %.6f", sum / (double)n);
    CHECK(lo >= 0.0 && hi < 1.0);
    /* Bernoulli(p) rate: binomial sd sqrt(p(1-p)/n) */
    {
        const float p[3] = { 0.1f, 0.5f, 0.9f };
        int k;
        for (k = 0; k < 3; k++) {
            rng.stream = 10 + (uint64_t)k;
            CHECK(nnopt_random_bernoulli(&rng, b, n, p[k]) == NNOPT_OK);
            for (ones = 0, i = 0; i < n; i++) ones += b[i];
            sigma = sqrt(p[k] * (1.0 - p[k]) / (double)n);
            CHECKF(fabs((double)ones / (double)n - p[k]) < 6.1 * sigma, "p=%.1f rate %.6f", p[k], (double)ones / (double)n);
        }
        CHECK(nnopt_random_bernoulli(&rng, b, n, 0.0f) == NNOPT_OK);
        for (ones = 0, i = 0; i < n; i++) ones += b[i];
        CHECK(ones == 0);
        CHECK(nnopt_random_bernoulli(&rng, b, n, 1.0f) == NNOPT_OK);
        for (ones = 0, i = 0; i < n; i++) ones += b[i];
        CHECK(ones == n);
    }
    /* normal: mean 0 (sd 1/sqrt(n)), variance 1 (sd sqrt(2/n)), kurtosis 3, and the fraction
       below -2, -1, 0, 1 against the normal CDF */
    rng.stream = 20;
    CHECK(nnopt_random_normal(&rng, x, n, 0.0f, 1.0f) == NNOPT_OK);
    sum = 0;
    for (i = 0; i < n; i++) {
        double z = x[i];
        sum += z; sum2 += z * z; sum4 += z * z * z * z;
        below[0] += z < -2; below[1] += z < -1; below[2] += z < 0; below[3] += z < 1;
    }
    CHECKF(fabs(sum / (double)n) < 6.1 / sqrt((double)n), "normal mean %.6f", sum / (double)n);
    CHECKF(fabs(sum2 / (double)n - 1.0) < 6.1 * sqrt(2.0 / (double)n), "normal variance %.6f", sum2 / (double)n);
    CHECKF(fabs(sum4 / (double)n - 3.0) < 6.1 * sqrt(96.0 / (double)n), "normal 4th moment %.6f", sum4 / (double)n);
    {
        const double cdf[4] = { 0.022750131948179, 0.158655253931457, 0.5, 0.841344746068543 };
        int k;
        for (k = 0; k < 4; k++)
            CHECKF(fabs((double)below[k] / (double)n - cdf[k]) < 6.1 * sqrt(cdf[k] * (1 - cdf[k]) / (double)n),
                   "P(z < %d) = %.6f", k - 2, (double)below[k] / (double)n);
    }
    th_free_floats(x, 0);
    free(b);
}

/* Box-Muller as implemented against the same formula in double on the same two words: the
   float logarithm and sine/cosine are accurate to a few units in the last place. */
static void test_normal_accuracy(void)
{
    uint64_t i;
    double worst = 0;
    for (i = 0; i < 200000; i++) {
        uint64_t pair = (i & ~(uint64_t)31) + (i & 15);
        uint32_t w1 = nnopt_random_word(42, 0, pair), w2 = nnopt_random_word(42, 0, pair + 16);
        double u1 = ((double)(w1 >> 8) + 1.0) / 16777216.0, t = (double)(w2 >> 8) / 16777216.0;
        double r = sqrt(-2.0 * log(u1)), a = 2.0 * 3.14159265358979323846 * t;
        double ref = (i & 16) ? r * sin(a) : r * cos(a);
        double err = fabs(nnopt_random_normal_at(42, 0, i) - ref) / (1.0 + fabs(ref));
        worst = err > worst ? err : worst;
    }
    CHECKF(worst < 1e-6, "worst relative error %.3g", worst);
}

static void test_bad_input(void)
{
    nnopt_rng rng = { 1, 2, 3 };
    float f[4] = { 9, 9, 9, 9 };
    uint32_t u[4] = { 9, 9, 9, 9 };
    uint8_t b[4] = { 9, 9, 9, 9 };
    int k;
    CHECK(nnopt_random_u32(NULL, u, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_random_u32(&rng, NULL, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_random_u32(&rng, NULL, 0) == NNOPT_OK);
    CHECK(nnopt_random_u32(&rng, (uint32_t *)((char *)u + 1), 2) == NNOPT_ERR_INVALID);
    CHECK(nnopt_random_uniform(NULL, f, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_random_uniform(&rng, NULL, 4) == NNOPT_ERR_INVALID);
    CHECK(nnopt_random_uniform(&rng, (float *)((char *)f + 2), 2) == NNOPT_ERR_INVALID);
    CHECK(nnopt_random_normal(&rng, f, 4, NAN, 1.0f) == NNOPT_ERR_INVALID);
    CHECK(nnopt_random_normal(&rng, f, 4, 0.0f, -1.0f) == NNOPT_ERR_INVALID);
    CHECK(nnopt_random_normal(&rng, f, 4, 0.0f, INFINITY) == NNOPT_ERR_INVALID);
    CHECK(nnopt_random_normal(&rng, f, 4, 0.0f, NAN) == NNOPT_ERR_INVALID);
    CHECK(nnopt_random_bernoulli(&rng, b, 4, NAN) == NNOPT_ERR_INVALID);
    CHECK(nnopt_random_bernoulli(&rng, b, 4, -0.1f) == NNOPT_ERR_INVALID);
    CHECK(nnopt_random_bernoulli(&rng, b, 4, 1.1f) == NNOPT_ERR_INVALID);
    CHECK(nnopt_random_bernoulli(NULL, b, 4, 0.5f) == NNOPT_ERR_INVALID);
    rng.offset = UINT64_MAX - 2;
    CHECK(nnopt_random_uniform(&rng, f, 4) == NNOPT_ERR_INVALID);
    for (k = 0; k < 4; k++) CHECK(f[k] == 9 && u[k] == 9 && b[k] == 9);
    /* normal with std 0 is the mean exactly */
    rng.offset = 0;
    CHECK(nnopt_random_normal(&rng, f, 4, 2.5f, 0.0f) == NNOPT_OK);
    for (k = 0; k < 4; k++) CHECK(f[k] == 2.5f);
}

void register_random_tests(void)
{
    th_register("random: Philox4x32-10 known answers", test_known_answers, TH_ONCE);
    th_register("random: word layout", test_word_layout, TH_ONCE);
    th_register("random: bulk equals definition, every length and offset", test_bulk_matches_definition, TH_EACH_ISA);
    th_register("random: end of the index space", test_end_of_stream, TH_EACH_ISA);
    th_register("random: distributions", test_distributions, TH_EACH_ISA);
    th_register("random: normal accuracy", test_normal_accuracy, TH_ONCE);
    th_register("random: bad input writes nothing", test_bad_input, TH_ONCE);
}
