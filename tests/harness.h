/* A small test harness: named tests, checks that report file and line, and one closing line
   "N passed, M failed". Tests marked per-ISA run once on every instruction-set path the CPU
   has, and count once per path. The program takes -v (every result), -l (list the names) and
   -f SUBSTRING or NNOPT_TEST_FILTER=SUBSTRING (only the tests whose names contain it). */
#ifndef NNOPT_TEST_HARNESS_H
#define NNOPT_TEST_HARNESS_H

#include <stddef.h>
#include "../nnopt.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*th_fn)(void);
enum { TH_ONCE = 0, TH_EACH_ISA = 1 };

void th_register(const char *name, th_fn fn, int mode);
/* Records a failed check (with a printf-style message) when ok is zero; returns ok. */
int  th_check(int ok, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Directory of the golden data (tests/golden unless NNOPT_GOLDEN_DIR is set). */
const char *th_golden_dir(void);

#define CHECK(cond)       th_check(!!(cond), __FILE__, __LINE__, "%s", #cond)
#define CHECKF(cond, ...) th_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* Every test file registers its tests here. */
void register_core_tests(void);
void register_optim_tests(void);
void register_optim_api_tests(void);
void register_sched_tests(void);
void register_converge_tests(void);
void register_extremes_tests(void);
void register_random_tests(void);


void register_reg_tests(void);


void register_dropout_tests(void);


void register_batchnorm_tests(void);


void register_augment_tests(void);
void register_edges_tests(void);

/* Floats in an allocation whose first element sits `offset` floats past a 64-byte boundary
   (offset 1 gives a pointer that no vector load can assume aligned). */
float *th_alloc_floats(size_t n, size_t offset);
void   th_free_floats(float *p, size_t offset);

/* Parses count numbers separated by white space from text (golden data) into floats;
   returns 0 when a number is missing. */
int th_parse_floats(const char *text, float *out, size_t count);

/* Bitwise equality of two float arrays; reports the first difference. */
int th_same_bits(const float *a, const float *b, size_t n, const char *what);

#ifdef __cplusplus
}
#endif
#endif
