/* The plain loops (see naive.h). Each is the textbook update in float, one element at a
   time, with the per-step scalars computed once per call as a user would. */
#include "naive.h"
#include "../nnopt.h"

#include <math.h>

#ifndef NAIVE_STEP
#  define NAIVE_STEP naive_O2_step
#  define NAIVE_SINK naive_O2_sink
#else
#  define NAIVE_SINK naive_native_sink
#endif

volatile double NAIVE_SINK;   /* where a loop that only reads leaves its result */
#define naive_sink NAIVE_SINK

void NAIVE_STEP(const naive_args *a)
{
    const size_t n = a->n;
    float *p = a->p, *s0 = a->s[0], *s1 = a->s[1], *s2 = a->s[2];
    const float *g = a->g;
    const float lr = (float)a->lr, b1 = (float)a->beta1, b2 = (float)a->beta2, eps = (float)a->eps;
    const float wd = (float)a->weight_decay, mu = (float)a->momentum;
    const float bc1 = (float)(1 - pow(a->beta1, a->t)), bc2 = (float)(1 - pow(a->beta2, a->t));
    size_t i;
    (void)s2;
    switch (a->kind) {
    case -1:                                   /* SWA update of s0 with p */
        for (i = 0; i < n; i++) s0[i] += (p[i] - s0[i]) / (float)(a->t + 1);
        break;
    case -2:                                   /* EMA update of s0 with p */
        for (i = 0; i < n; i++) s0[i] = 0.999f * s0[i] + 0.001f * p[i];
        break;
    case -3: {                                 /* the 2-norm of g, as clipping computes it */
        double sum = 0;
        for (i = 0; i < n; i++) sum += (double)g[i] * g[i];
        naive_sink = sqrt(sum);
        break;
    }
    case NNOPT_SGD:
        for (i = 0; i < n; i++) { s0[i] = mu * s0[i] + g[i]; p[i] -= lr * s0[i]; }
        break;
    case NNOPT_ADAM: case NNOPT_ADAMW:
        for (i = 0; i < n; i++) {
            float gi = g[i];
            if (a->kind == NNOPT_ADAMW) p[i] *= 1 - lr * wd;
            s0[i] = b1 * s0[i] + (1 - b1) * gi;
            s1[i] = b2 * s1[i] + (1 - b2) * gi * gi;
            p[i] -= lr * (s0[i] / bc1) / (sqrtf(s1[i] / bc2) + eps);
        }
        break;
    case NNOPT_ADAGRAD:
        for (i = 0; i < n; i++) { s0[i] += g[i] * g[i]; p[i] -= lr * g[i] / (sqrtf(s0[i]) + eps); }
        break;
    case NNOPT_RMSPROP:
        for (i = 0; i < n; i++) {
            s0[i] = 0.99f * s0[i] + 0.01f * g[i] * g[i];
            p[i] -= lr * g[i] / (sqrtf(s0[i]) + eps);
        }
        break;
    case NNOPT_ADADELTA:
        for (i = 0; i < n; i++) {
            float d;
            s0[i] = 0.9f * s0[i] + 0.1f * g[i] * g[i];
            d = sqrtf(s1[i] + eps) / sqrtf(s0[i] + eps) * g[i];
            s1[i] = 0.9f * s1[i] + 0.1f * d * d;
            p[i] -= lr * d;
        }
        break;
    case NNOPT_ADAMAX:
        for (i = 0; i < n; i++) {
            float u = fabsf(g[i]) + eps;
            s0[i] = b1 * s0[i] + (1 - b1) * g[i];
            s1[i] = b2 * s1[i] > u ? b2 * s1[i] : u;
            p[i] -= lr / bc1 * s0[i] / s1[i];
        }
        break;
    case NNOPT_NADAM: {
        const float c1 = lr * 0.4f, c2 = lr * 0.5f;   /* the schedule's per-step constants */
        for (i = 0; i < n; i++) {
            float d;
            s0[i] = b1 * s0[i] + (1 - b1) * g[i];
            s1[i] = b2 * s1[i] + (1 - b2) * g[i] * g[i];
            d = sqrtf(s1[i] / bc2) + eps;
            p[i] -= c1 * g[i] / d + c2 * s0[i] / d;
        }
        break;
    }
    case NNOPT_RADAM:
        for (i = 0; i < n; i++) {
            s0[i] = b1 * s0[i] + (1 - b1) * g[i];
            s1[i] = b2 * s1[i] + (1 - b2) * g[i] * g[i];
            p[i] -= lr * 0.9f * (s0[i] / bc1) * sqrtf(bc2) / (sqrtf(s1[i]) + eps);
        }
        break;
    case NNOPT_RPROP:
        for (i = 0; i < n; i++) {
            float prod = g[i] * s0[i], step = s1[i], gi = g[i];
            if (prod > 0) step *= 1.2f; else if (prod < 0) { step *= 0.5f; gi = 0; }
            step = step < 1e-6f ? 1e-6f : step > 50.0f ? 50.0f : step;
            p[i] -= (gi > 0 ? step : gi < 0 ? -step : 0.0f);
            s0[i] = gi; s1[i] = step;
        }
        break;
    case NNOPT_ASGD:
        for (i = 0; i < n; i++) { p[i] = p[i] * (1 - 1e-4f * lr) - lr * g[i]; s0[i] += 0.5f * (p[i] - s0[i]); }
        break;
    case NNOPT_LION:
        for (i = 0; i < n; i++) {
            float c = b1 * s0[i] + (1 - b1) * g[i];
            p[i] -= lr * (c > 0 ? 1.0f : c < 0 ? -1.0f : 0.0f);
            s0[i] = b2 * s0[i] + (1 - b2) * g[i];
        }
        break;
    case NNOPT_ADABELIEF:
        for (i = 0; i < n; i++) {
            float d;
            s0[i] = b1 * s0[i] + (1 - b1) * g[i];
            d = g[i] - s0[i];
            s1[i] = b2 * s1[i] + (1 - b2) * d * d + eps;
            p[i] -= lr / bc1 * s0[i] / (sqrtf(s1[i] / bc2) + eps);
        }
        break;
    case NNOPT_YOGI:
        for (i = 0; i < n; i++) {
            float g2 = g[i] * g[i], diff = s1[i] - g2;
            s0[i] = b1 * s0[i] + (1 - b1) * g[i];
            s1[i] -= (1 - b2) * (diff > 0 ? 1.0f : diff < 0 ? -1.0f : 0.0f) * g2;
            p[i] -= lr * (s0[i] / bc1) / (sqrtf(s1[i] / bc2) + eps);
        }
        break;
    case NNOPT_LAMB: {
        double pn = 0, un = 0;
        float r;
        for (i = 0; i < n; i++) {
            float u;
            s0[i] = b1 * s0[i] + (1 - b1) * g[i];
            s1[i] = b2 * s1[i] + (1 - b2) * g[i] * g[i];
            u = (s0[i] / bc1) / (sqrtf(s1[i] / bc2) + eps) + wd * p[i];
            pn += p[i] * p[i]; un += u * u;
        }
        r = (pn > 0 && un > 0) ? (float)sqrt(pn / un) : 1.0f;
        for (i = 0; i < n; i++) p[i] -= lr * r * ((s0[i] / bc1) / (sqrtf(s1[i] / bc2) + eps) + wd * p[i]);
        break;
    }
    case NNOPT_LARS: {
        double pn = 0, un = 0;
        float r;
        for (i = 0; i < n; i++) { float u = g[i] + wd * p[i]; pn += p[i] * p[i]; un += u * u; }
        r = (pn > 0 && un > 0) ? (float)(1e-3 * sqrt(pn) / sqrt(un)) : 1.0f;
        for (i = 0; i < n; i++) { s0[i] = mu * s0[i] - lr * r * (g[i] + wd * p[i]); p[i] += s0[i]; }
        break;
    }
    default:
        break;
    }
}
