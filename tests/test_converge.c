/* The convergence suite's robust claims on small budgets (the full measurements are
   docs/convergence.md, made by bench/converge/converge.c with the same problems), and checks of
   the suite's own problems: analytic gradients against finite differences, determinism. */
#include "harness.h"
#include "../bench/converge/problems.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CONV_SEED
#define CONV_SEED 20240611u   /* the seed of docs/convergence.md */
#endif

static nnopt_hparams sgd(double lr, double momentum, int nesterov)
{
    nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
    h.lr = lr; h.momentum = momentum; h.nesterov = nesterov;
    return h;
}

/* Analytic gradients of every problem against central differences of the loss in double. */
static void test_gradients(void)
{
    cv_problem pb[7];
    int k, np = 0;
    cv_problem_2d(&pb[np++], CV_ROSENBROCK, "rosenbrock", -1.2, 1, 0, 0);
    cv_problem_2d(&pb[np++], CV_BEALE, "beale", 2.8, 0.35, 0, 0);
    cv_problem_2d(&pb[np++], CV_RASTRIGIN, "rastrigin", -2.1, 3.3, 0, 0);
    cv_problem_quadratic2(&pb[np++], "quadratic", 100);
    CHECK(cv_problem_data(&pb[np++], CV_LOGISTIC, "logistic", 0, 1e-3, CONV_SEED));
    CHECK(cv_problem_data(&pb[np++], CV_SOFTMAX, "softmax", 0, 1e-3, CONV_SEED));
    CHECK(cv_problem_data(&pb[np++], CV_MLP, "mlp", 8, 1e-3, CONV_SEED));
    for (k = 0; k < np; k++) {
        size_t n = pb[k].n, i;
        float *p = (float *)malloc(sizeof(float) * n), *g = (float *)malloc(sizeof(float) * n);
        double worst = 0;
        cv_start(&pb[k], p, CONV_SEED);
        for (i = 0; i < n; i++) p[i] += (float)(0.1 * cv_normal(CONV_SEED, 50, i));   /* off any symmetric point */
        cv_gradient(&pb[k], p, g, 1, 0, CONV_SEED);
        for (i = 0; i < n; i++) {
            /* step a power of two: p +- h exact in float near |p| <= 8 */
            const float hstep = 1.0f / 1024;
            float keep = p[i];
            double up, down, fd;
            p[i] = keep + hstep; up = cv_loss(&pb[k], p);
            p[i] = keep - hstep; down = cv_loss(&pb[k], p);
            p[i] = keep;
            fd = (up - down) / (2.0 * hstep);
            if (fabs(fd - g[i]) / (1 + fabs(fd)) > worst) worst = fabs(fd - g[i]) / (1 + fabs(fd));
        }
        CHECKF(worst < 1e-3, "%s: gradient differs from finite differences by %g (relative)", pb[k].name, worst);
        free(p); free(g);
        cv_problem_free(&pb[k]);
    }
}

/* The same run twice gives the same bits; a different seed gives a different stochastic run. */
static void test_determinism(void)
{
    cv_problem pb;
    nnopt_hparams h = nnopt_defaults(NNOPT_ADAM);
    float a[64], b[64], c[64];
    cv_trace tr;
    h.lr = 0.01;
    CHECK(cv_problem_data(&pb, CV_SOFTMAX, "softmax", 0, 1e-3, CONV_SEED));
    memset(&tr, 0, sizeof tr);
    tr.final_params = a; cv_run(&pb, &h, 50, 1, CONV_SEED, NULL, 0, &tr);
    tr.final_params = b; cv_run(&pb, &h, 50, 1, CONV_SEED, NULL, 0, &tr);
    tr.final_params = c; cv_run(&pb, &h, 50, 1, CONV_SEED + 1, NULL, 0, &tr);
    CHECK(th_same_bits(a, b, pb.n, "softmax run repeated"));
    CHECK(memcmp(a, c, pb.n * sizeof(float)) != 0);
    cv_problem_free(&pb);
}

/* Momentum and Nesterov need far fewer steps than SGD on the kappa = 100 quadratic; gradient
   descent at the optimal lr takes the predicted ln(1e6) / (2 ln((k+1)/(k-1))) steps. */
static void test_momentum_kappa100(void)
{
    cv_problem pb;
    nnopt_hparams h;
    cv_result plain, mom, nes, gd;
    double kappa = 100, predicted = log(1e6) / (2 * log((kappa + 1) / (kappa - 1)));
    cv_problem_quadratic2(&pb, "quadratic_k100", kappa);
    h = sgd(1, 0, 0);     plain = cv_run(&pb, &h, 1000, 0, CONV_SEED, NULL, 0, NULL);
    h = sgd(1, 0.9, 0);   mom = cv_run(&pb, &h, 1000, 0, CONV_SEED, NULL, 0, NULL);
    h = sgd(1, 0.9, 1);   nes = cv_run(&pb, &h, 1000, 0, CONV_SEED, NULL, 0, NULL);
    h = sgd(2 / (1 + 1 / kappa), 0, 0); gd = cv_run(&pb, &h, 1000, 0, CONV_SEED, NULL, 0, NULL);
    CHECKF(plain.steps > 0 && mom.steps > 0 && nes.steps > 0, "steps %ld %ld %ld", plain.steps, mom.steps, nes.steps);
    CHECKF(3 * mom.steps < plain.steps, "momentum %ld steps, sgd %ld", mom.steps, plain.steps);
    CHECKF(3 * nes.steps < plain.steps, "nesterov %ld steps, sgd %ld", nes.steps, plain.steps);
    CHECKF(gd.steps > 0 && fabs(gd.steps - predicted) < 0.1 * predicted, "optimal gd %ld steps, predicted %.1f", gd.steps, predicted);
}

/* On the ridge of x^2 - y^2 exact SGD converges to the saddle; momentum with noise escapes. */
static void test_saddle_ridge(void)
{
    cv_problem pb;
    nnopt_hparams h;
    cv_result stall, escape;
    cv_problem_2d(&pb, CV_SADDLE, "saddle_ridge", 1, 0, 0, -1);
    pb.stop_at_target = 1;
    h = sgd(0.01, 0, 0);   stall = cv_run(&pb, &h, 2000, 0, CONV_SEED, NULL, 0, NULL);
    h = sgd(0.01, 0.9, 0); escape = cv_run(&pb, &h, 2000, 1, CONV_SEED, NULL, 0, NULL);
    CHECKF(stall.steps < 0 && fabs(stall.final_loss) < 1e-6, "sgd on the ridge: steps %ld, f %g", stall.steps, stall.final_loss);
    CHECKF(escape.steps > 0 && escape.final_loss <= -1, "momentum with noise: steps %ld, f %g", escape.steps, escape.final_loss);
}

/* AdaGrad's steps shrink until it stalls; RMSProp keeps moving and arrives. */
static void test_adagrad_stalls(void)
{
    cv_problem pb;
    nnopt_hparams h;
    cv_result ag, rp;
    cv_problem_quadratic2(&pb, "quadratic_k100_far", 100);
    pb.start[0] *= 100; pb.start[1] *= 100;
    h = nnopt_defaults(NNOPT_ADAGRAD); ag = cv_run(&pb, &h, 20000, 0, CONV_SEED, NULL, 0, NULL);
    h = nnopt_defaults(NNOPT_RMSPROP); rp = cv_run(&pb, &h, 20000, 0, CONV_SEED, NULL, 0, NULL);
    CHECKF(ag.step_norm_last < 0.1 * ag.step_norm_first, "adagrad steps %g -> %g", ag.step_norm_first, ag.step_norm_last);
    CHECKF(rp.step_norm_last > 0.3 * rp.step_norm_first, "rmsprop steps %g -> %g", rp.step_norm_first, rp.step_norm_last);
    CHECKF(ag.final_loss > 1000 * rp.final_loss, "final f: adagrad %g, rmsprop %g", ag.final_loss, rp.final_loss);
}

/* On the stochastic 100-D quadratic, plateau decay and weight averaging lower the final loss. */
static void test_noisy_quadratic(void)
{
    cv_problem pb;
    nnopt_hparams h = sgd(0.02, 0, 0);
    cv_schedule sc;
    cv_result constant, decayed, swa;
    CHECK(cv_problem_noisy_quadratic(&pb, "noisy_quadratic", CONV_SEED, 0.3));
    pb.eval_every = 10;
    memset(&sc, 0, sizeof sc);
    sc.plateau = 1; sc.every = 50;
    sc.params = nnopt_sched_defaults(NNOPT_SCHED_PLATEAU);
    sc.params.patience = 2; sc.params.factor = 0.5;
    constant = cv_run(&pb, &h, 1000, 1, CONV_SEED, NULL, 0, NULL);
    decayed = cv_run(&pb, &h, 1000, 1, CONV_SEED, &sc, 0, NULL);
    h.average = NNOPT_AVERAGE_SWA; h.average_start = 500;
    swa = cv_run(&pb, &h, 1000, 1, CONV_SEED, NULL, 1, NULL);
    /* means over the last 100 steps: one noisy iterate's loss fluctuates (seeds 1-3 give margins of 4x and more) */
    CHECKF(!constant.diverged && decayed.tail_loss < 0.5 * constant.tail_loss,
           "plateau decay %g, constant lr %g", decayed.tail_loss, constant.tail_loss);
    CHECKF(swa.tail_loss < 0.5 * constant.tail_loss, "swa %g, last iterate %g", swa.tail_loss, constant.tail_loss);
    cv_problem_free(&pb);
}

/* The 2-layer MLP on the spiral reaches 98% training accuracy with Adam and SGD+momentum. */
static void test_mlp_spiral(void)
{
    cv_problem pb;
    nnopt_hparams h;
    float *p;
    cv_trace tr;
    double acc_adam, acc_momentum;
    CHECK(cv_problem_data(&pb, CV_MLP, "mlp", 100, 1e-3, CONV_SEED));
    pb.eval_every = 1000; pb.target = -1;
    p = (float *)malloc(sizeof(float) * pb.n);
    memset(&tr, 0, sizeof tr);
    tr.final_params = p;
    h = nnopt_defaults(NNOPT_ADAM); h.lr = 0.01;
    cv_run(&pb, &h, 400, 0, CONV_SEED, NULL, 0, &tr);
    acc_adam = cv_accuracy(&pb, p, 0);
    h = sgd(0.1, 0.9, 0);
    cv_run(&pb, &h, 1000, 0, CONV_SEED, NULL, 0, &tr);
    acc_momentum = cv_accuracy(&pb, p, 0);
    CHECKF(acc_adam >= 0.98, "adam: training accuracy %.3f", acc_adam);
    CHECKF(acc_momentum >= 0.98, "sgd+momentum: training accuracy %.3f", acc_momentum);
    free(p);
    cv_problem_free(&pb);
}

void register_converge_tests(void)
{
    th_register("converge: problem gradients match finite differences", test_gradients, TH_ONCE);
    th_register("converge: runs are deterministic", test_determinism, TH_ONCE);
    th_register("converge: momentum and nesterov beat sgd on kappa 100", test_momentum_kappa100, TH_ONCE);
    th_register("converge: sgd stalls on the saddle ridge, momentum with noise escapes", test_saddle_ridge, TH_ONCE);
    th_register("converge: adagrad stalls where rmsprop keeps moving", test_adagrad_stalls, TH_ONCE);
    th_register("converge: plateau decay and averaging lower the noisy quadratic", test_noisy_quadratic, TH_ONCE);
    th_register("converge: spiral mlp reaches 98% with adam and sgd+momentum", test_mlp_spiral, TH_ONCE);
}
