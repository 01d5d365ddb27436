#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TH_MAX_TESTS 256
#define TH_MAX_REPORTS_PER_TEST 5

typedef struct { const char *name; th_fn fn; int mode; } th_test;

static th_test th_tests[TH_MAX_TESTS];
static int th_count;
static int th_failed_checks;          /* failed checks in the running test */
static const char *th_current = "";
static const char *th_current_isa = "";

void th_register(const char *name, th_fn fn, int mode)
{
    if (th_count == TH_MAX_TESTS) {
        fprintf(stderr, "harness: too many tests\n");
        exit(2);
    }
    th_tests[th_count].name = name;
    th_tests[th_count].fn = fn;
    th_tests[th_count].mode = mode;
    th_count++;
}

int th_check(int ok, const char *file, int line, const char *fmt, ...)
{
    if (!ok) {
        if (th_failed_checks < TH_MAX_REPORTS_PER_TEST) {
            va_list ap;
            printf("FAIL %s%s%s%s: %s:%d: ", th_current, *th_current_isa ? " [" : "",
                   th_current_isa, *th_current_isa ? "]" : "", file, line);
            va_start(ap, fmt);
            vprintf(fmt, ap);
            va_end(ap);
            printf("\n");
        }
        th_failed_checks++;
    }
    return ok;
}

const char *th_golden_dir(void)
{
    const char *d = getenv("NNOPT_GOLDEN_DIR");
    return d ? d : "tests/golden";
}

float *th_alloc_floats(size_t n, size_t offset)
{
    char *raw = (char *)malloc((n + offset) * sizeof(float) + 128);
    char *aligned;
    if (!raw) {
        fprintf(stderr, "harness: out of memory\n");
        exit(2);
    }
    aligned = raw + (64 - ((size_t)raw % 64)) + 64;   /* at least 64 bytes after raw */
    ((char **)aligned)[-1] = raw;
    return (float *)aligned + offset;
}

void th_free_floats(float *p, size_t offset)
{
    if (p) free(((char **)(p - offset))[-1]);
}

int th_same_bits(const float *a, const float *b, size_t n, const char *what)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
            return th_check(0, __FILE__, __LINE__, "%s: element %zu of %zu differs: %.9g vs %.9g",
                            what, i, n, (double)a[i], (double)b[i]);
    return 1;
}

static int th_run(const th_test *t, nnopt_isa isa, int per_isa)
{
    th_current = t->name;
    th_current_isa = per_isa ? nnopt_isa_name(isa) : "";
    th_failed_checks = 0;
    if (per_isa && nnopt_isa_set(isa) != NNOPT_OK) {
        th_check(0, __FILE__, __LINE__, "cannot select path %s", nnopt_isa_name(isa));
        return 0;
    }
    t->fn();
    if (th_failed_checks > TH_MAX_REPORTS_PER_TEST)
        printf("FAIL %s: %d more failed checks not shown\n", t->name,
               th_failed_checks - TH_MAX_REPORTS_PER_TEST);
    return th_failed_checks == 0;
}

int th_parse_floats(const char *text, float *out, size_t count)
{
    size_t k;
    for (k = 0; k < count; k++) {
        char *end;
        double v = strtod(text, &end);
        if (end == text) return 0;
        out[k] = (float)v;
        text = end;
    }
    return 1;
}

static void th_register_all(void)
{
    register_core_tests();
    register_optim_tests();
    register_optim_api_tests();
    register_sched_tests();
    register_converge_tests();
    register_extremes_tests();
    register_random_tests();


    register_reg_tests();


    register_dropout_tests();


    register_batchnorm_tests();


    register_augment_tests();
    register_edges_tests();
}

/* Runs test t (on every path the CPU has when it is per-ISA) and counts the results. */
static void th_run_counted(const th_test *t, nnopt_isa initial, int verbose, int *passed, int *failed)
{
    nnopt_isa isa;
    if (t->mode == TH_EACH_ISA) {
        for (isa = NNOPT_ISA_SCALAR; isa <= nnopt_isa_best(); isa = (nnopt_isa)(isa + 1)) {
            int ok = th_run(t, isa, 1);
            ok ? (*passed)++ : (*failed)++;
            if (verbose) printf("%s %s [%s]\n", ok ? "ok  " : "FAIL", t->name, nnopt_isa_name(isa));
        }
    } else {
        int ok = th_run(t, initial, 0);
        ok ? (*passed)++ : (*failed)++;
        if (verbose) printf("%s %s\n", ok ? "ok  " : "FAIL", t->name);
    }
    nnopt_isa_set(initial);
}

static int th_usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-v] [-l] [-f SUBSTRING]\n"
            "  -v            print every test (and path) with its result\n"
            "  -l            list the test names (those -f selects) and run nothing\n"
            "  -f SUBSTRING  run only the tests whose names contain SUBSTRING\n"
            "                (default: the environment variable NNOPT_TEST_FILTER)\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    int i, passed = 0, failed = 0, selected = 0, verbose = 0, list = 0;
    const char *filter = getenv("NNOPT_TEST_FILTER");
    nnopt_isa initial;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) verbose = 1;
        else if (strcmp(argv[i], "-l") == 0) list = 1;
        else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) filter = argv[++i];
        else return th_usage(argv[0]);
    }
    if (filter && !*filter) filter = NULL;
    th_register_all();

    initial = nnopt_isa_get();
    for (i = 0; i < th_count; i++) {
        const th_test *t = &th_tests[i];
        if (filter && !strstr(t->name, filter)) continue;
        selected++;
        if (list) puts(t->name);
        else th_run_counted(t, initial, verbose, &passed, &failed);
    }
    if (list) return 0;
    if (filter && selected == 0)
        fprintf(stderr, "harness: no test name contains \"%s\" (-l lists them)\n", filter);
    printf("%d passed, %d failed\n", passed, failed);
    return failed || (filter && selected == 0) ? 1 : 0;
}
