#include "quadratic.h"

#include <string.h>

static uint32_t hash32(uint32_t x)
{
    x ^= x >> 16; x *= 0x7FEB352Du;
    x ^= x >> 15; x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

double quadratic_curvature(size_t i) { return 0.5 + (double)(i % 7) / 4.0; }
double quadratic_center(size_t i)    { return (double)((37 * i) % 101) / 50.0 - 1.0; }
double quadratic_start(size_t i)     { return (double)((53 * i) % 97) / 48.0 - 1.0; }
double quadratic_noise(uint32_t t, size_t i)
{
    uint32_t h = hash32((uint32_t)i * 2654435761u + t * 40503u + 12345u);
    return 0.1 * ((double)h / 4294967296.0 - 0.5);
}

void quadratic_grad(float *g, const float *p, size_t n, uint32_t t)
{
    size_t i;
    for (i = 0; i < n; i++) {
        float d = p[i] - (float)quadratic_center(i);
        float m = (float)quadratic_curvature(i) * d;
        g[i] = m + (float)quadratic_noise(t, i);
    }
}

nnopt_status quadratic_run(const nnopt_hparams *h, float *p, float *g, size_t n, int steps,
                           float *after1)
{
    nnopt_optimizer *opt = nnopt_create(h, n);
    nnopt_status s = NNOPT_OK;
    size_t i;
    int t;
    if (!opt) return NNOPT_ERR_INVALID;
    for (i = 0; i < n; i++) p[i] = (float)quadratic_start(i);
    for (t = 1; t <= steps && s == NNOPT_OK; t++) {
        quadratic_grad(g, p, n, (uint32_t)t);
        s = nnopt_step(opt, p, g);
        if (t == 1 && after1) memcpy(after1, p, n * sizeof(float));
    }
    nnopt_destroy(opt);
    return s;
}
