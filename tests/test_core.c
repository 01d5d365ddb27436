/* Status strings, version, instruction-set detection and selection. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* Runs first, before any test selects a path: the initial path follows NNOPT_ISA. */
static void test_isa_initial_from_environment(void)
{
    const char *env = getenv("NNOPT_ISA");
    nnopt_isa best = nnopt_isa_best(), expected = best;
    if (env) {
        nnopt_isa isa;
        for (isa = NNOPT_ISA_SCALAR; isa <= best; isa = (nnopt_isa)(isa + 1))
            if (strcmp(env, nnopt_isa_name(isa)) == 0) expected = isa;
    }
    CHECKF(nnopt_isa_get() == expected, "NNOPT_ISA=%s: initial path %s, expected %s",
           env ? env : "(unset)", nnopt_isa_name(nnopt_isa_get()), nnopt_isa_name(expected));
}

static void test_isa_set_and_get(void)
{
    nnopt_isa best = nnopt_isa_best(), isa;
    CHECK((int)best >= NNOPT_ISA_SCALAR && (int)best <= NNOPT_ISA_AVX512);
    for (isa = NNOPT_ISA_SCALAR; isa <= best; isa = (nnopt_isa)(isa + 1)) {
        CHECK(nnopt_isa_set(isa) == NNOPT_OK);
        CHECK(nnopt_isa_get() == isa);
    }
    if (best < NNOPT_ISA_AVX512) {
        CHECK(nnopt_isa_set((nnopt_isa)(best + 1)) == NNOPT_ERR_UNSUPPORTED);
        CHECK(nnopt_isa_get() == best);   /* unchanged by the refused request */
    }
    CHECK(nnopt_isa_set((nnopt_isa)-1) == NNOPT_ERR_UNSUPPORTED);
    CHECK(nnopt_isa_set((nnopt_isa)3) == NNOPT_ERR_UNSUPPORTED);
    CHECKF(strcmp(nnopt_last_error(), "nnopt_isa_set: isa: is not available on this CPU or build") == 0, "%s",
           nnopt_last_error());
    CHECK(nnopt_isa_get() == best);
}

static void test_isa_names(void)
{
    CHECK(strcmp(nnopt_isa_name(NNOPT_ISA_SCALAR), "scalar") == 0);
    CHECK(strcmp(nnopt_isa_name(NNOPT_ISA_AVX2), "avx2") == 0);
    CHECK(strcmp(nnopt_isa_name(NNOPT_ISA_AVX512), "avx512") == 0);
    CHECK(strcmp(nnopt_isa_name((nnopt_isa)7), "unknown") == 0);
}

/* What the build promises: without SIMD only the portable path; without AVX-512 at most AVX2. */
static void test_isa_build_limits(void)
{
#if defined(NNOPT_NO_SIMD) || !(defined(__x86_64__) || defined(__i386__))
    CHECK(nnopt_isa_best() == NNOPT_ISA_SCALAR);
#elif defined(NNOPT_NO_AVX512)
    CHECK(nnopt_isa_best() <= NNOPT_ISA_AVX2);
#else
    CHECK(nnopt_isa_best() >= NNOPT_ISA_SCALAR);
#endif
}

static void test_status_strings(void)
{
    const nnopt_status all[] = { NNOPT_OK, NNOPT_ERR_INVALID, NNOPT_ERR_NONFINITE, NNOPT_ERR_NOMEM,
                                 NNOPT_ERR_UNSUPPORTED, NNOPT_ERR_FORMAT };
    size_t i, j, n = sizeof all / sizeof all[0];
    for (i = 0; i < n; i++) {
        const char *s = nnopt_status_str(all[i]);
        CHECK(s != NULL && s[0] != '\0');
        CHECK(strcmp(s, "unknown status") != 0);
        for (j = 0; j < i; j++) CHECK(strcmp(s, nnopt_status_str(all[j])) != 0);
    }
    CHECK(strcmp(nnopt_status_str((nnopt_status)42), "unknown status") == 0);
    CHECK(NNOPT_OK == 0 && NNOPT_ERR_INVALID == -1 && NNOPT_ERR_NONFINITE == -2 &&
          NNOPT_ERR_NOMEM == -3 && NNOPT_ERR_UNSUPPORTED == -4 && NNOPT_ERR_FORMAT == -5);
}

static void test_version(void)
{
    CHECK(strcmp(nnopt_version(), NNOPT_VERSION_STRING) == 0);
    CHECK(NNOPT_VERSION_MAJOR >= 0 && NNOPT_VERSION_MINOR >= 0 && NNOPT_VERSION_PATCH >= 0);
}

void register_core_tests(void)
{
    th_register("isa_initial_from_environment", test_isa_initial_from_environment, TH_ONCE);
    th_register("isa_set_and_get", test_isa_set_and_get, TH_ONCE);
    th_register("isa_names", test_isa_names, TH_ONCE);
    th_register("isa_build_limits", test_isa_build_limits, TH_ONCE);
    th_register("status_strings", test_status_strings, TH_ONCE);
    th_register("version", test_version, TH_ONCE);
}
