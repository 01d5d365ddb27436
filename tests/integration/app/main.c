/* A program that uses nnopt as an installed or vendored package: the header is found through
   the include path the build system gives (<nnopt.h>, not a relative path), the implementation
   lives in impl.c, and libm comes from the package's link flags.
   EXPECTED_VERSION, when defined, is the version the build system found. */
#include <nnopt.h>

#include <stdio.h>
#include <string.h>

#define N 257

int main(void)
{
    static float param[N], grad[N];
    nnopt_hparams h = nnopt_defaults(NNOPT_ADAM);
    nnopt_optimizer *opt;
    double first = 0, last = 0;
    int step, i;

    if (strcmp(nnopt_version(), NNOPT_VERSION_STRING) != 0) return 1;
#ifdef EXPECTED_VERSION
    if (strcmp(EXPECTED_VERSION, NNOPT_VERSION_STRING) != 0) {
        printf("build system found version %s, header says %s\n", EXPECTED_VERSION, NNOPT_VERSION_STRING);
        return 1;
    }
#endif
    h.lr = 0.05;
    opt = nnopt_create(&h, N);
    if (!opt) return 1;
    for (step = 0; step < 200; step++) {
        double loss = 0;
        for (i = 0; i < N; i++) {           /* sum (p - i/N)^2 / 2 */
            grad[i] = param[i] - (float)i / N;
            loss += 0.5 * grad[i] * grad[i];
        }
        if (step == 0) first = loss;
        last = loss;
        if (nnopt_step(opt, param, grad) != NNOPT_OK) return 1;
    }
    nnopt_destroy(opt);
    printf("nnopt %s (%s): loss %.4g -> %.4g\n", nnopt_version(), nnopt_isa_name(nnopt_isa_get()),
           first, last);
    return last < 1e-3 * first ? 0 : 1;
}
