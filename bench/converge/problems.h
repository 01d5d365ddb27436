/* The convergence suite's problems and its run loop, shared by the report generator
   (bench/converge/converge.c) and the tests (tests/test_converge.c). Everything is static,
   plain C99 that also compiles as C++, with no state outside the structs, so the same seed
   gives the same run.

   Problems: Rosenbrock, Beale, the saddle x^2 - y^2, rotated 2-D quadratics of a chosen
   condition number, Rastrigin, a 100-D noisy quadratic (DeepOBS quadratic_deep), logistic
   regression on synthetic data, and a softmax classifier and a 2-layer ReLU network on the
   CS231n spiral data. Losses are evaluated in double; parameters and gradients are float, as
   nnopt takes them. */
#ifndef NNOPT_CONVERGE_PROBLEMS_H
#define NNOPT_CONVERGE_PROBLEMS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../nnopt.h"

#ifndef CV_PI
#define CV_PI 3.14159265358979323846
#endif

/* ---- Random numbers ------------------------------------------------------------------
   nnopt's Philox4x32-10: number `index` of stream `stream` under `seed`, so every draw is named
   by (seed, stream, index), runs never share state, and the bits do not depend on the C library.
   Streams: 1 eigenvalues, 2 rotation, 3 2-D gradient noise, 4 noisy-quadratic xi, 5 mini-batch
   rows, 7 and 8 initial weights, 11 dropout masks, 20 and 21 logistic features, 99 logistic
   true weights, 1020 and 1021 logistic labels, 30 and 31 spiral noise, 50 test perturbations. */
static inline double cv_uniform(uint64_t seed, uint64_t stream, uint64_t index)
{
    return nnopt_random_uniform_at(seed, stream, index);
}
static inline double cv_normal(uint64_t seed, uint64_t stream, uint64_t index)
{
    return nnopt_random_normal_at(seed, stream, index);
}

/* ---- Problems ------------------------------------------------------------------------ */

typedef enum cv_kind {
    CV_ROSENBROCK, CV_BEALE, CV_SADDLE, CV_QUADRATIC2, CV_RASTRIGIN, CV_NOISY_QUADRATIC,
    CV_LOGISTIC, CV_SOFTMAX, CV_MLP
} cv_kind;

/* A labelled data set: rows of `dim` features. */
typedef struct cv_data {
    int count, dim, classes;
    float *x;
    int *y;
} cv_data;

typedef struct cv_problem {
    cv_kind kind;
    const char *name;
    size_t n;                  /* parameters */
    float start[2];            /* 2-D problems */
    double fstar;              /* minimum value (or reference minimum) */
    double target;             /* reached when loss <= target */
    int stop_at_target;        /* the saddle: a run ends when it escapes */
    double noise;              /* stochastic variant of the 2-D problems: gradient noise std */
    int batch;                 /* stochastic variant of the data problems: mini-batch size */
    int eval_every;            /* the loss is evaluated every this many steps */
    /* 2-D quadratic: f = 0.5 (l1 u^2 + l2 v^2), (u, v) = rotation of (x, y) by -angle */
    double lambda[2], angle;
    /* noisy quadratic: f = 0.5 p^T Q p, Q = R^T diag(eig) R, gradient Q (p - xi), xi ~ N(0, s^2) */
    double *Q, quad_noise;
    /* data problems */
    cv_data train, valid;
    int hidden;                /* MLP hidden units */
    double l2;                 /* 0.5 l2 |W|^2 added to the loss (weights, not biases) */
    double dropout;            /* MLP: drop probability of hidden units while training */
    /* scratch for the data problems (batch rows x (hidden + classes)) */
    double *work;
    float *fwork;              /* MLP: one row's hidden vector for the library's dropout */
} cv_problem;

/* ---- 2-D test functions ---- */

static inline double cv_rosenbrock(double x, double y, double *gx, double *gy)
{
    double a = y - x * x, b = 1 - x;
    if (gx) { *gx = -400 * x * a - 2 * b; *gy = 200 * a; }
    return 100 * a * a + b * b;
}

static inline double cv_beale(double x, double y, double *gx, double *gy)
{
    double y2 = y * y, y3 = y2 * y;
    double a = 1.5 - x + x * y, b = 2.25 - x + x * y2, c = 2.625 - x + x * y3;
    if (gx) {
        *gx = 2 * a * (y - 1) + 2 * b * (y2 - 1) + 2 * c * (y3 - 1);
        *gy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y2;
    }
    return a * a + b * b + c * c;
}

static inline double cv_rastrigin(double x, double y, double *gx, double *gy)
{
    if (gx) {
        *gx = 2 * x + 20 * CV_PI * sin(2 * CV_PI * x);
        *gy = 2 * y + 20 * CV_PI * sin(2 * CV_PI * y);
    }
    return 20 + x * x - 10 * cos(2 * CV_PI * x) + y * y - 10 * cos(2 * CV_PI * y);
}

static inline double cv_quadratic2(const cv_problem *pb, double x, double y, double *gx, double *gy)
{
    double c = cos(pb->angle), s = sin(pb->angle);
    double u = c * x + s * y, v = -s * x + c * y;
    double gu = pb->lambda[0] * u, gv = pb->lambda[1] * v;
    if (gx) { *gx = c * gu - s * gv; *gy = s * gu + c * gv; }
    return 0.5 * (pb->lambda[0] * u * u + pb->lambda[1] * v * v);
}

/* Value (and gradient when gx is not NULL) of a 2-D problem at (x, y). */
static inline double cv_eval2(const cv_problem *pb, double x, double y, double *gx, double *gy)
{
    switch (pb->kind) {
    case CV_ROSENBROCK: return cv_rosenbrock(x, y, gx, gy);
    case CV_BEALE:      return cv_beale(x, y, gx, gy);
    case CV_SADDLE:     if (gx) { *gx = 2 * x; *gy = -2 * y; } return x * x - y * y;
    case CV_QUADRATIC2: return cv_quadratic2(pb, x, y, gx, gy);
    case CV_RASTRIGIN:  return cv_rastrigin(x, y, gx, gy);
    default:            return NAN;
    }
}

static inline int cv_is_2d(const cv_problem *pb) { return pb->kind <= CV_RASTRIGIN; }

static inline void cv_problem_2d(cv_problem *pb, cv_kind kind, const char *name, double x0, double y0,
                                 double fstar, double target)
{
    memset(pb, 0, sizeof *pb);
    pb->kind = kind; pb->name = name; pb->n = 2;
    pb->start[0] = (float)x0; pb->start[1] = (float)y0;
    pb->fstar = fstar; pb->target = target;
    pb->noise = 0.1; pb->eval_every = 1;
}

/* Rotated quadratic with eigenvalues 1/kappa and 1 (so lr < 2 is stable for gradient
   descent), rotated by 30 degrees, started at eigen-coordinates (1, 1) rotated back:
   f0 = (1 + 1/kappa)/2; the target is f <= 1e-6 f0. */
static inline void cv_problem_quadratic2(cv_problem *pb, const char *name, double kappa)
{
    double a = CV_PI / 6, c = cos(a), s = sin(a);
    cv_problem_2d(pb, CV_QUADRATIC2, name, c * 1 - s * 1, s * 1 + c * 1, 0, 0);
    pb->lambda[0] = 1 / kappa; pb->lambda[1] = 1; pb->angle = a;
    pb->target = 1e-6 * 0.5 * (1 + 1 / kappa);
}

/* ---- 100-D noisy quadratic (DeepOBS quadratic_deep) ---- */

/* Q = R^T diag(eig) R with 90 eigenvalues from U(0, 1) and 10 from U(30, 60) and R a random
   rotation (Gram-Schmidt of a Gaussian matrix: the Q of a QR with positive diagonal, Haar).
   Start all ones. The gradient at step t is Q (p - xi_t), xi_t ~ N(0, noise^2 I) in the
   stochastic variant (xi = 0 in the deterministic one); the reported loss is the noise-free
   0.5 p^T Q p. */
static inline int cv_problem_noisy_quadratic(cv_problem *pb, const char *name, uint64_t seed, double noise)
{
    const int n = 100;
    double *R = (double *)malloc(sizeof(double) * n * n), eig[100];
    int i, j, k;
    memset(pb, 0, sizeof *pb);
    pb->kind = CV_NOISY_QUADRATIC; pb->name = name; pb->n = (size_t)n;
    pb->Q = (double *)malloc(sizeof(double) * n * n);
    pb->quad_noise = noise; pb->eval_every = 1;
    if (!R || !pb->Q) { free(R); free(pb->Q); pb->Q = NULL; return 0; }
    for (i = 0; i < n; i++)
        eig[i] = i < 90 ? cv_uniform(seed, 1, (uint64_t)i) : 30 + 30 * cv_uniform(seed, 1, (uint64_t)i);
    for (i = 0; i < n * n; i++) R[i] = cv_normal(seed, 2, (uint64_t)i);
    for (i = 0; i < n; i++) {          /* modified Gram-Schmidt on the rows */
        double norm = 0;
        for (j = 0; j < i; j++) {
            double d = 0;
            for (k = 0; k < n; k++) d += R[i * n + k] * R[j * n + k];
            for (k = 0; k < n; k++) R[i * n + k] -= d * R[j * n + k];
        }
        for (k = 0; k < n; k++) norm += R[i * n + k] * R[i * n + k];
        norm = sqrt(norm);
        for (k = 0; k < n; k++) R[i * n + k] /= norm;
    }
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) {
            double q = 0;
            for (k = 0; k < n; k++) q += R[k * n + i] * eig[k] * R[k * n + j];
            pb->Q[i * n + j] = q;
        }
    free(R);
    pb->fstar = 0;
    {   /* f0 = 0.5 * sum(Q) at p = 1 */
        double f0 = 0;
        for (i = 0; i < n * n; i++) f0 += pb->Q[i];
        pb->target = 1e-3 * 0.5 * f0;
    }
    return 1;
}

/* ---- Data problems ---- */

static inline int cv_data_alloc(cv_data *d, int count, int dim, int classes)
{
    d->count = count; d->dim = dim; d->classes = classes;
    d->x = (float *)malloc(sizeof(float) * (size_t)count * (size_t)dim);
    d->y = (int *)malloc(sizeof(int) * (size_t)count);
    return d->x && d->y;
}

/* CS231n spiral: N points per class, K = 3 classes, r = linspace(0, 1, N),
   t = linspace(4k, 4(k+1), N) + noise randn (CS231n: 0.2), x = (r sin t, r cos t). */
static inline int cv_spiral(cv_data *d, int per_class, double noise, uint64_t seed, uint64_t stream)
{
    int k, i;
    if (!cv_data_alloc(d, 3 * per_class, 2, 3)) return 0;
    for (k = 0; k < 3; k++)
        for (i = 0; i < per_class; i++) {
            int row = k * per_class + i;
            double r = (double)i / (per_class - 1);
            double t = 4.0 * k + 4.0 * i / (per_class - 1) + noise * cv_normal(seed, stream, (uint64_t)row);
            d->x[2 * row] = (float)(r * sin(t));
            d->x[2 * row + 1] = (float)(r * cos(t));
            d->y[row] = k;
        }
    return 1;
}

/* Logistic data: x ~ N(0, I) in `dim` dimensions, w* ~ N(0, I), y ~ Bernoulli(sigmoid(x.w*)). */
static inline int cv_logistic_data(cv_data *d, int count, int dim, uint64_t seed, uint64_t stream)
{
    int i, j;
    if (!cv_data_alloc(d, count, dim, 2)) return 0;
    for (i = 0; i < count; i++) {
        double z = 0.5;  /* true bias */
        for (j = 0; j < dim; j++) {
            double x = cv_normal(seed, stream, (uint64_t)(i * dim + j));
            d->x[i * dim + j] = (float)x;
            z += x * cv_normal(seed, 99, (uint64_t)j);
        }
        d->y[i] = cv_uniform(seed, stream + 1000, (uint64_t)i) < 1 / (1 + exp(-z));
    }
    return 1;
}

static inline void cv_problem_free(cv_problem *pb)
{
    free(pb->Q); free(pb->work); free(pb->fwork);
    free(pb->train.x); free(pb->train.y); free(pb->valid.x); free(pb->valid.y);
    pb->Q = NULL; pb->work = NULL; pb->fwork = NULL; pb->train.x = pb->valid.x = NULL; pb->train.y = pb->valid.y = NULL;
}

/* Linear models: W (classes x dim, or dim for logistic) then biases. The MLP: W1 (hidden x dim),
   b1 (hidden), W2 (classes x hidden), b2 (classes). */
static inline size_t cv_model_size(const cv_problem *pb)
{
    int d = pb->train.dim, k = pb->train.classes, h = pb->hidden;
    if (pb->kind == CV_LOGISTIC) return (size_t)d + 1;
    if (pb->kind == CV_SOFTMAX) return (size_t)(k * d + k);
    return (size_t)(h * d + h + k * h + k);
}

static inline void cv_model_init(const cv_problem *pb, float *p, uint64_t seed)
{
    size_t i, n = cv_model_size(pb);
    int d = pb->train.dim, h = pb->hidden;
    for (i = 0; i < n; i++) p[i] = 0;
    if (pb->kind == CV_SOFTMAX)               /* CS231n: W = 0.01 randn, b = 0 */
        for (i = 0; i < (size_t)(pb->train.classes * d); i++) p[i] = (float)(0.01 * cv_normal(seed, 7, i));
    if (pb->kind == CV_MLP) {                 /* He initialisation: std sqrt(2 / fan_in) */
        for (i = 0; i < (size_t)(h * d); i++) p[i] = (float)(sqrt(2.0 / d) * cv_normal(seed, 7, i));
        for (i = 0; i < (size_t)(pb->train.classes * h); i++)
            p[h * d + h + i] = (float)(sqrt(2.0 / h) * cv_normal(seed, 8, i));
    }
}

/* The MLP's dropout on one row's hidden vector v (double), through the library:
   nnopt_dropout_forward (inverted: a unit dropped when uniform_at(index) < p, the others
   scaled by 1 / (1 - p), so evaluation needs no change), or in the backward pass
   nnopt_dropout_backward on the gradient with the same rng, which regenerates the mask:
   rng {seed, 11, (step * rows + row) * hidden}. */
static inline void cv_dropout(const cv_problem *pb, uint64_t seed, long step, int row, double *v, int backward)
{
    nnopt_rng rng;
    float *f = pb->fwork;
    int j, h = pb->hidden;
    rng.seed = seed;
    rng.stream = 11;
    rng.offset = ((uint64_t)step * (uint64_t)pb->train.count + (uint64_t)row) * (uint64_t)h;
    for (j = 0; j < h; j++) f[j] = (float)v[j];
    if (backward) nnopt_dropout_backward(&rng, pb->dropout, NNOPT_DROPOUT_INVERTED, f, f, (size_t)h);
    else nnopt_dropout_forward(&rng, pb->dropout, NNOPT_DROPOUT_INVERTED, f, f, NULL, (size_t)h);
    for (j = 0; j < h; j++) v[j] = f[j];
}

/* Loss of the model over rows idx[0..m) of `data` (all rows when idx is NULL): mean
   cross-entropy plus the L2 term when with_l2. When g is not NULL also the gradient (float) and
   the count of correct predictions in *correct (may be NULL). `step` >= 0 applies dropout
   (training), step < 0 evaluates. */
static inline double cv_model_loss(const cv_problem *pb, const cv_data *data, const float *p,
                                   const int *idx, int m, float *g, long step, uint64_t seed,
                                   int with_l2, int *correct)
{
    int d = data->dim, k = data->classes, h = pb->hidden, r, i, j, c, right = 0;
    size_t n = cv_model_size(pb), nw;
    double loss = 0, z[16], gl[16];
    double *act = pb->work, *gact = pb->work + h, *dg = pb->work + 2 * h;   /* one row at a time */
    int train = step >= 0 && pb->kind == CV_MLP && pb->dropout > 0;
    if (g) for (i = 0; i < (int)n; i++) dg[i] = 0;
    for (r = 0; r < m; r++) {
        int row = idx ? idx[r] : r, label = data->y[row], best = 0;
        const float *x = data->x + (size_t)row * d;
        double zmax, sum = 0;
        if (pb->kind == CV_LOGISTIC) {
            double t = p[d], pr;
            for (j = 0; j < d; j++) t += (double)p[j] * x[j];
            /* log(1 + exp(-s t)) with s = +-1, computed stably */
            {
                double s = label ? t : -t;
                loss += s > 0 ? log1p(exp(-s)) : -s + log1p(exp(s));
            }
            right += (t > 0) == (label == 1);
            if (g) {
                pr = 1 / (1 + exp(-t)) - label;
                for (j = 0; j < d; j++) dg[j] += pr * x[j];
                dg[d] += pr;
            }
            continue;
        }
        if (pb->kind == CV_SOFTMAX) {
            for (c = 0; c < k; c++) {
                double t = p[k * d + c];
                for (j = 0; j < d; j++) t += (double)p[c * d + j] * x[j];
                z[c] = t;
            }
        } else {
            const float *W1 = p, *b1 = p + h * d, *W2 = p + h * d + h, *b2 = W2 + k * h;
            for (j = 0; j < h; j++) {
                double t = b1[j];
                for (i = 0; i < d; i++) t += (double)W1[j * d + i] * x[i];
                act[j] = t > 0 ? t : 0;
            }
            if (train) cv_dropout(pb, seed, step, row, act, 0);
            for (c = 0; c < k; c++) {
                double t = b2[c];
                for (j = 0; j < h; j++) t += (double)W2[c * h + j] * act[j];
                z[c] = t;
            }
        }
        zmax = z[0];
        for (c = 1; c < k; c++) if (z[c] > zmax) { zmax = z[c]; best = c; }
        right += best == label;
        for (c = 0; c < k; c++) sum += exp(z[c] - zmax);
        loss += log(sum) - (z[label] - zmax);
        if (!g) continue;
        for (c = 0; c < k; c++) gl[c] = exp(z[c] - zmax) / sum - (c == label);
        if (pb->kind == CV_SOFTMAX) {
            for (c = 0; c < k; c++) {
                for (j = 0; j < d; j++) dg[c * d + j] += gl[c] * x[j];
                dg[k * d + c] += gl[c];
            }
        } else {
            const float *W2 = p + h * d + h;
            double *gW1 = dg, *gb1 = dg + h * d, *gW2 = dg + h * d + h, *gb2 = gW2 + k * h;
            for (j = 0; j < h; j++) gact[j] = 0;
            for (c = 0; c < k; c++) {
                for (j = 0; j < h; j++) { gW2[c * h + j] += gl[c] * act[j]; gact[j] += gl[c] * W2[c * h + j]; }
                gb2[c] += gl[c];
            }
            if (train) cv_dropout(pb, seed, step, row, gact, 1);
            for (j = 0; j < h; j++) {
                if (act[j] <= 0) continue;       /* ReLU (and dropped units) pass no gradient */
                for (i = 0; i < d; i++) gW1[j * d + i] += gact[j] * x[i];
                gb1[j] += gact[j];
            }
        }
    }
    loss /= m;
    if (correct) *correct = right;
    /* weights: every parameter except the biases */
    nw = pb->kind == CV_LOGISTIC ? (size_t)d : pb->kind == CV_SOFTMAX ? (size_t)(k * d) : 0;
    if (with_l2 && pb->l2 > 0) {
        double sq = 0;
        if (pb->kind == CV_MLP) {
            for (i = 0; i < h * d; i++) sq += (double)p[i] * p[i];
            for (i = 0; i < k * h; i++) sq += (double)p[h * d + h + i] * p[h * d + h + i];
        } else {
            for (i = 0; i < (int)nw; i++) sq += (double)p[i] * p[i];
        }
        loss += 0.5 * pb->l2 * sq;
    }
    if (g) {
        for (i = 0; i < (int)n; i++) {
            double v = dg[i] / m;
            int weight = pb->kind == CV_MLP ? (i < h * d || (i >= h * d + h && i < h * d + h + k * h)) : i < (int)nw;
            if (with_l2 && weight) v += pb->l2 * p[i];
            g[i] = (float)v;
        }
    }
    return loss;
}

/* Sets up a data problem: kind CV_LOGISTIC (10 features, 1000 training rows and as many
   held out), CV_SOFTMAX or CV_MLP (spiral: 100 points per class for training; held out, 1000
   points per class of the same recipe with their own noise, so the held-out loss measures the
   model and not the draw of a small held-out set). */
static inline int cv_problem_data(cv_problem *pb, cv_kind kind, const char *name, int hidden, double l2, uint64_t seed)
{
    size_t n;
    memset(pb, 0, sizeof *pb);
    pb->kind = kind; pb->name = name; pb->hidden = hidden; pb->l2 = l2;
    pb->eval_every = 1; pb->batch = 32;
    if (kind == CV_LOGISTIC) {
        if (!cv_logistic_data(&pb->train, 1000, 10, seed, 20) || !cv_logistic_data(&pb->valid, 1000, 10, seed, 21)) return 0;
    } else {
        if (!cv_spiral(&pb->train, 100, 0.2, seed, 30) || !cv_spiral(&pb->valid, 1000, 0.2, seed, 31)) return 0;
    }
    n = cv_model_size(pb);
    pb->n = n;
    pb->work = (double *)malloc(sizeof(double) * (2 * (size_t)hidden + n + 16));
    pb->fwork = (float *)malloc(sizeof(float) * ((size_t)hidden + 1));
    return pb->work != NULL && pb->fwork != NULL;
}

/* ---- Loss, gradient, run ---- */

/* The objective the suite reports (training loss for the data problems, with its L2 term). */
static inline double cv_loss(const cv_problem *pb, const float *p)
{
    if (cv_is_2d(pb)) return cv_eval2(pb, p[0], p[1], NULL, NULL);
    if (pb->kind == CV_NOISY_QUADRATIC) {
        size_t i, j, n = pb->n;
        double f = 0;
        for (i = 0; i < n; i++) {
            double q = 0;
            for (j = 0; j < n; j++) q += pb->Q[i * n + j] * p[j];
            f += p[i] * q;
        }
        return 0.5 * f;
    }
    return cv_model_loss(pb, &pb->train, p, NULL, pb->train.count, NULL, -1, 0, 1, NULL);
}

/* Gradient at step t (t = 1, 2, ...). Stochastic: 2-D problems add N(0, noise^2) to each
   component; the noisy quadratic draws its xi; data problems use a
   mini-batch of `batch` rows drawn uniformly with replacement. */
static inline void cv_gradient(const cv_problem *pb, const float *p, float *g, long t, int stochastic, uint64_t seed)
{
    if (cv_is_2d(pb)) {
        double gx, gy;
        cv_eval2(pb, p[0], p[1], &gx, &gy);
        if (stochastic) {
            gx += pb->noise * cv_normal(seed, 3, (uint64_t)t * 2);
            gy += pb->noise * cv_normal(seed, 3, (uint64_t)t * 2 + 1);
        }
        g[0] = (float)gx; g[1] = (float)gy;
    } else if (pb->kind == CV_NOISY_QUADRATIC) {
        size_t i, j, n = pb->n;
        double xi[100];
        for (j = 0; j < n; j++)
            xi[j] = stochastic && pb->quad_noise > 0 ? pb->quad_noise * cv_normal(seed, 4, (uint64_t)t * n + j) : 0;
        for (i = 0; i < n; i++) {
            double q = 0;
            for (j = 0; j < n; j++) q += pb->Q[i * n + j] * (p[j] - xi[j]);
            g[i] = (float)q;
        }
    } else if (stochastic) {
        int idx[256], b = pb->batch, r;
        for (r = 0; r < b; r++) idx[r] = (int)(cv_uniform(seed, 5, (uint64_t)t * b + r) * pb->train.count);
        cv_model_loss(pb, &pb->train, p, idx, b, g, t, seed, 1, NULL);
    } else {
        cv_model_loss(pb, &pb->train, p, NULL, pb->train.count, g, t, seed, 1, NULL);
    }
}

static inline void cv_start(const cv_problem *pb, float *p, uint64_t seed)
{
    size_t i;
    if (cv_is_2d(pb)) { p[0] = pb->start[0]; p[1] = pb->start[1]; }
    else if (pb->kind == CV_NOISY_QUADRATIC) for (i = 0; i < pb->n; i++) p[i] = 1;
    else cv_model_init(pb, p, seed);
}

typedef struct cv_result {
    long steps;           /* first evaluated step with loss <= target, -1 if never */
    long ran;             /* steps taken */
    double final_loss;    /* loss after the last step (NAN when the run diverged) */
    double tail_loss;     /* mean of the losses evaluated in the last tenth of the budget */
    int diverged;         /* non-finite or exploding loss: the run stopped */
    double step_norm_first, step_norm_last;   /* mean |p_t - p_{t-1}| over the first and last 100 steps */
} cv_result;

/* Optional records of a run. */
typedef struct cv_trace {
    double *loss;         /* loss at steps 0, eval_every, ... (budget / eval_every + 1 values) */
    float *path;          /* 2-D problems: (x, y) after each step, 2 (budget + 1) floats */
    float *final_params;  /* the parameters at the end (n floats) */
} cv_trace;

/* Schedules the suite uses around a run. */
typedef struct cv_schedule {
    int plateau;          /* ReduceLROnPlateau stepped with the loss every `every` steps */
    int every;
    nnopt_sched_params params;
} cv_schedule;

/* `budget` steps of optimizer h on pb from its start. Deterministic given the arguments. With
   use_average, the reported loss is that of nnopt_averaged_params (SWA/EMA) from step
   h->average_start on. */
static inline cv_result cv_run(const cv_problem *pb, const nnopt_hparams *h, long budget, int stochastic,
                               uint64_t seed, const cv_schedule *sched, int use_average, cv_trace *trace)
{
    cv_result res;
    size_t n = pb->n, i;
    float *p = (float *)malloc(sizeof(float) * n * 3), *g = p + n, *prev = p + 2 * n;
    nnopt_optimizer *opt = nnopt_create(h, n);
    nnopt_scheduler sch;
    long t;
    double f0, limit, loss, tail_sum = 0;
    long tail_count = 0;
    memset(&res, 0, sizeof res);
    res.steps = -1;
    if (!p || !opt) { free(p); nnopt_destroy(opt); res.diverged = 1; res.final_loss = NAN; return res; }
    if (sched) nnopt_sched_init(&sch, &sched->params, h->lr);
    cv_start(pb, p, seed);
    f0 = cv_loss(pb, p);
    limit = 1e6 * (fabs(f0) + 1);
    loss = f0;
    if (trace && trace->loss) trace->loss[0] = f0;
    if (trace && trace->path) { trace->path[0] = p[0]; trace->path[1] = p[1]; }
    if (f0 <= pb->target) res.steps = 0;
    for (t = 1; t <= budget; t++) {
        double moved = 0;
        memcpy(prev, p, n * sizeof(float));
        cv_gradient(pb, p, g, t, stochastic, seed);
        if (nnopt_step(opt, p, g) != NNOPT_OK) { res.diverged = 1; break; }
        for (i = 0; i < n; i++) moved += ((double)p[i] - prev[i]) * ((double)p[i] - prev[i]);
        moved = sqrt(moved);
        if (t <= 100) res.step_norm_first += moved / 100;
        if (t > budget - 100) res.step_norm_last += moved / 100;
        if (trace && trace->path) { trace->path[2 * t] = p[0]; trace->path[2 * t + 1] = p[1]; }
        res.ran = t;
        if (t % pb->eval_every == 0 || t == budget) {
            const float *q = p;
            if (use_average && t >= h->average_start && nnopt_averaged_params(opt)) q = nnopt_averaged_params(opt);
            loss = cv_loss(pb, q);
            if (!(fabs(loss) < limit)) { res.diverged = 1; break; }
            if (trace && trace->loss && t % pb->eval_every == 0) trace->loss[t / pb->eval_every] = loss;
            if (10 * t > 9 * budget) { tail_sum += loss; tail_count++; }
            if (res.steps < 0 && loss <= pb->target) {
                res.steps = t;
                if (pb->stop_at_target) break;
            }
            if (sched && sched->plateau && t % sched->every == 0) {
                nnopt_sched_step_metric(&sch, loss);
                nnopt_sched_apply(&sch, opt);
            }
        }
    }
    if (trace && trace->loss)   /* mark the rest of the curve as not run */
        for (t = res.ran / pb->eval_every + 1; t <= budget / pb->eval_every; t++) trace->loss[t] = NAN;
    if (trace && trace->path)
        for (t = res.ran + 1; t <= budget; t++) { trace->path[2 * t] = NAN; trace->path[2 * t + 1] = NAN; }
    if (trace && trace->final_params) memcpy(trace->final_params, p, n * sizeof(float));
    res.final_loss = res.diverged ? NAN : loss;
    res.tail_loss = res.diverged || !tail_count ? NAN : tail_sum / tail_count;
    nnopt_destroy(opt);
    free(p);
    return res;
}

/* Training accuracy (or held-out accuracy with valid) of a data problem's model. */
static inline double cv_accuracy(const cv_problem *pb, const float *p, int valid)
{
    const cv_data *d = valid ? &pb->valid : &pb->train;
    int right = 0;
    cv_model_loss(pb, d, p, NULL, d->count, NULL, -1, 0, 0, &right);
    return (double)right / d->count;
}

/* Mean cross-entropy without the L2 term on the training or held-out set. */
static inline double cv_data_loss(const cv_problem *pb, const float *p, int valid)
{
    const cv_data *d = valid ? &pb->valid : &pb->train;
    return cv_model_loss(pb, d, p, NULL, d->count, NULL, -1, 0, 0, NULL);
}

#endif
