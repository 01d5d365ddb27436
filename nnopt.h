/* nnopt.h — fast, exact kernels of neural-network training, in one C header.

   USAGE
     In exactly one C or C++ file:
         #define NNOPT_IMPLEMENTATION
         #include "nnopt.h"
     Everywhere else just #include "nnopt.h".

         nnopt_hparams h = nnopt_defaults(NNOPT_SGD);
         h.lr = 0.01; h.momentum = 0.9; h.nesterov = 1;
         nnopt_optimizer *opt = nnopt_create(&h, n);        // NULL: invalid or out of memory
         for (...) {
             compute_gradient(param, grad, n);
             nnopt_status s = nnopt_step(opt, param, grad);  // NNOPT_OK or an error, see below
         }
         nnopt_destroy(opt);

     Build with your ordinary flags (`cc -O2 main.c -lm`). On x86-64 with gcc or clang the
     AVX2+FMA and AVX-512 kernels are compiled with per-function target attributes and picked at
     run time, so no -mavx2 or -march is needed. Every path gives bit-identical results.

   SEMANTICS
     Optimizers follow torch.optim (PyTorch 2.x defaults). Per-step scalar coefficients are
     computed in double and rounded once to float; each element's update is a fixed sequence of
     IEEE single-precision operations (explicit fused multiply-adds, exactly rounded sqrt and
     division), identical on every instruction-set path and for every vector length.
     Errors: functions return an nnopt_status; invalid arguments return an error and write
     nothing. nnopt_status_str() names a status.

   OPTIONS (define before the #include that has NNOPT_IMPLEMENTATION)
     NNOPT_STATIC            make every function static (private copy per translation unit)
     NNOPT_API               linkage of the public functions (default: extern; static with NNOPT_STATIC)
     NNOPT_MALLOC(sz), NNOPT_FREE(p)
                             allocator (define both or neither; default malloc/free)
     NNOPT_ASSERT(x)         internal invariant check (default assert(x))
     NNOPT_NO_SIMD           portable C path only
     NNOPT_NO_AVX512         drop the AVX-512 path (keep AVX2+FMA)
     NNOPT_NO_OPTIM          remove the optimizer section
     NNOPT_NO_SCHED, NNOPT_NO_REG, NNOPT_NO_DROPOUT, NNOPT_NO_BATCHNORM, NNOPT_NO_AUGMENT
                             remove the schedule, regularization, dropout, batch-norm and
                             augmentation sections (accepted now; those sections are not in this
                             version yet)
     NNOPT_SELF "path/nnopt.h"
                             how the header re-includes itself to compile its kernels once per
                             instruction set; only needed on a compiler without __FILE_NAME__
                             when __FILE__ is not reachable from the header's own directory

   RUN TIME
     NNOPT_ISA=scalar|avx2|avx512 (environment) picks the initial path; an unknown or
     unsupported value falls back to the best one. nnopt_isa_set() switches at any time.

   NOTES
     Do not build the implementation with -ffast-math, or with -ffp-contract=fast on clang: those
     let the compiler fuse a multiply and an add that the kernels keep apart on purpose, and the
     paths would no longer agree bit for bit (gcc is protected by a pragma; clang's default is safe).

   VERSION 0.1.0 — see NNOPT_VERSION_STRING. Licence: MIT, see the end of the file.
*/

/* =====================================================================================
   Public API
   ===================================================================================== */
#ifndef NNOPT_H_INCLUDED
#define NNOPT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define NNOPT_VERSION_MAJOR 0
#define NNOPT_VERSION_MINOR 1
#define NNOPT_VERSION_PATCH 0
#define NNOPT_VERSION_STRING "0.1.0"

#ifndef NNOPT_API
#  ifdef NNOPT_STATIC
#    if defined(__GNUC__) || defined(__clang__)
#      define NNOPT_API static __attribute__((unused))
#    else
#      define NNOPT_API static
#    endif
#  else
#    define NNOPT_API extern
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Status and instruction-set paths -------------------------------------------- */

typedef enum nnopt_status {
    NNOPT_OK              =  0,
    NNOPT_ERR_INVALID     = -1,   /* bad argument or hyper-parameter; nothing was written */
    NNOPT_ERR_NONFINITE   = -2,   /* non-finite input refused by the guard; nothing was written */
    NNOPT_ERR_NOMEM       = -3,   /* allocation failed */
    NNOPT_ERR_UNSUPPORTED = -4,   /* not available on this CPU, OS or build */
    NNOPT_ERR_FORMAT      = -5    /* malformed serialized data */
} nnopt_status;

NNOPT_API const char *nnopt_status_str(nnopt_status s);
NNOPT_API const char *nnopt_version(void);

typedef enum nnopt_isa {
    NNOPT_ISA_SCALAR = 0,   /* portable C */
    NNOPT_ISA_AVX2   = 1,   /* AVX2 + FMA */
    NNOPT_ISA_AVX512 = 2    /* AVX-512 F + VL + BW + DQ */
} nnopt_isa;

NNOPT_API nnopt_isa    nnopt_isa_best(void);           /* best path this CPU, OS and build support */
NNOPT_API nnopt_isa    nnopt_isa_get(void);            /* path in use */
NNOPT_API nnopt_status nnopt_isa_set(nnopt_isa isa);   /* NNOPT_ERR_UNSUPPORTED if not available */
NNOPT_API const char  *nnopt_isa_name(nnopt_isa isa);  /* "scalar", "avx2", "avx512" */

/* ---- Optimizers ------------------------------------------------------------------ */
#ifndef NNOPT_NO_OPTIM

typedef enum nnopt_kind {
    NNOPT_SGD, NNOPT_ADAM, NNOPT_ADAMW, NNOPT_ADAGRAD, NNOPT_RMSPROP,
    NNOPT_ADADELTA, NNOPT_ADAMAX, NNOPT_NADAM, NNOPT_RADAM,
    NNOPT_KIND_COUNT
} nnopt_kind;

/* Hyper-parameters. Field names follow torch.optim; nnopt_defaults() fills every field with
   the reference library's default for the kind, so set only what you change. */
typedef struct nnopt_hparams {
    nnopt_kind kind;
    double lr, weight_decay;
    int    decoupled_weight_decay;   /* weight decay as p *= 1 - lr*weight_decay (AdamW style) */
    int    maximize;                 /* ascend instead of descend */
    double momentum, dampening;  int nesterov;
    double beta1, beta2, eps;    int amsgrad;
    double alpha;                int centered;
    double rho, lr_decay, initial_accumulator_value, momentum_decay;
    int    nonfinite_guard;          /* refuse a step whose gradient holds NaN or Inf */
} nnopt_hparams;

typedef struct nnopt_optimizer nnopt_optimizer;

NNOPT_API nnopt_hparams    nnopt_defaults(nnopt_kind kind);
NNOPT_API const char      *nnopt_kind_name(nnopt_kind kind);          /* "sgd", "adam", ... */
/* State for one flat vector of n parameters. NULL if h is invalid or memory runs out. */
NNOPT_API nnopt_optimizer *nnopt_create(const nnopt_hparams *h, size_t n);
/* One update of param[0..n) from grad[0..n). param and grad must not overlap. */
NNOPT_API nnopt_status     nnopt_step(nnopt_optimizer *opt, float *param, const float *grad);
NNOPT_API void             nnopt_destroy(nnopt_optimizer *opt);
NNOPT_API nnopt_status     nnopt_set_lr(nnopt_optimizer *opt, double lr);
NNOPT_API uint64_t         nnopt_step_count(const nnopt_optimizer *opt);   /* steps taken */

#endif /* NNOPT_NO_OPTIM */

#ifdef __cplusplus
}
#endif
#endif /* NNOPT_H_INCLUDED */

/* =====================================================================================
   Implementation
   ===================================================================================== */
#if defined(NNOPT_IMPLEMENTATION) && !defined(NNOPT__IMPLEMENTED) && !defined(NNOPT__KERNEL_PASS)
#define NNOPT__IMPLEMENTED

#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <float.h>

#if defined(NNOPT_MALLOC) != defined(NNOPT_FREE)
#  error "nnopt: define both NNOPT_MALLOC and NNOPT_FREE, or neither"
#endif
#ifndef NNOPT_MALLOC
#  define NNOPT_MALLOC(sz) malloc(sz)
#  define NNOPT_FREE(p)    free(p)
#endif
#ifndef NNOPT_ASSERT
#  include <assert.h>
#  define NNOPT_ASSERT(x) assert(x)
#endif

/* Which vector paths this build compiles: gcc/clang on x86 (target attributes, CPUID). */
#if !defined(NNOPT_NO_SIMD) && (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
#  define NNOPT__HAVE_AVX2 1
#  ifndef NNOPT_NO_AVX512
#    define NNOPT__HAVE_AVX512 1
#  endif
#  include <immintrin.h>
#  include <cpuid.h>
#endif

/* NNOPT__PRIVATE: internal function that a feature toggle may leave unused. */
#if defined(__GNUC__) || defined(__clang__)
#  define NNOPT__INLINE  static inline __attribute__((always_inline))
#  define NNOPT__PRIVATE static __attribute__((unused))
#elif defined(_MSC_VER)
#  define NNOPT__INLINE  static __forceinline
#  define NNOPT__PRIVATE static
#else
#  define NNOPT__INLINE  static inline
#  define NNOPT__PRIVATE static
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* gcc contracts a*b+c into an fma (even across intrinsics) unless told not to; the kernels
   decide themselves where an fma goes, so every path rounds the same way. */
#if defined(__GNUC__) && !defined(__clang__)
#  pragma GCC push_options
#  pragma GCC optimize("fp-contract=off")
#endif

/* ---- Kernel arguments (shared by every instruction-set instance) ------------------ */

#ifdef NNOPT__HAVE_AVX2
/* AVX2 masked tails: the mask for the first k lanes starts at index 8 - k. */
static const int32_t nnopt__tail_mask_table[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };
#endif

typedef struct nnopt__finite_args {      /* all_finite: ok stays 1 while every x is finite */
    size_t n; const float *x; int ok;
} nnopt__finite_args;

#ifndef NNOPT_NO_OPTIM
typedef struct nnopt__sgd_args {
    size_t n; float *param; const float *grad; float *momentum_buf;   /* NULL: no momentum */
    float neg_lr, weight_decay, decay_factor, momentum, one_minus_dampening;
    int maximize, first_step, nesterov;
} nnopt__sgd_args;
#endif

/* ---- The kernels, once per instruction set ----------------------------------------
   The kernel section at the end of this file is compiled three times, each time with its
   vocabulary of vector operations defined for one instruction set. */
#ifndef NNOPT_SELF
#  ifdef __FILE_NAME__
#    define NNOPT_SELF __FILE_NAME__
#  else
#    define NNOPT_SELF __FILE__
#  endif
#endif
#define NNOPT__KERNEL_PASS
#define NNOPT__ISA_SCALAR
#include NNOPT_SELF
#undef NNOPT__ISA_SCALAR
#ifdef NNOPT__HAVE_AVX2
#  define NNOPT__ISA_AVX2
#  include NNOPT_SELF
#  undef NNOPT__ISA_AVX2
#endif
#ifdef NNOPT__HAVE_AVX512
#  define NNOPT__ISA_AVX512
#  include NNOPT_SELF
#  undef NNOPT__ISA_AVX512
#endif
#undef NNOPT__KERNEL_PASS

/* ---- Status ----------------------------------------------------------------------- */

NNOPT_API const char *nnopt_status_str(nnopt_status s)
{
    switch (s) {
    case NNOPT_OK:              return "ok";
    case NNOPT_ERR_INVALID:     return "invalid argument";
    case NNOPT_ERR_NONFINITE:   return "non-finite value";
    case NNOPT_ERR_NOMEM:       return "out of memory";
    case NNOPT_ERR_UNSUPPORTED: return "unsupported on this CPU or build";
    case NNOPT_ERR_FORMAT:      return "malformed data";
    }
    return "unknown status";
}

NNOPT_API const char *nnopt_version(void) { return NNOPT_VERSION_STRING; }

/* ---- Instruction-set detection and dispatch ---------------------------------------- */

/* The chosen path lives in one int. Racing first uses all compute the same value, and the
   compare-and-swap keeps an explicit nnopt_isa_set() from being overwritten by one of them. */
#if defined(__GNUC__) || defined(__clang__)
#  define NNOPT__LOAD(p)        __atomic_load_n((p), __ATOMIC_ACQUIRE)
#  define NNOPT__STORE(p, v)    __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#  define NNOPT__CAS(p, old, v) __atomic_compare_exchange_n((p), &(old), (v), 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#else
#  define NNOPT__LOAD(p)        (*(volatile int *)(p))
#  define NNOPT__STORE(p, v)    (*(volatile int *)(p) = (v))
#  define NNOPT__CAS(p, old, v) ((*(volatile int *)(p) == (old)) ? (*(volatile int *)(p) = (v), 1) : 0)
#endif

static int nnopt__isa_best_cache = -1;   /* -1: not detected yet */
static int nnopt__isa_current    = -1;   /* -1: not chosen yet */

static nnopt_isa nnopt__detect_isa(void)
{
#ifdef NNOPT__HAVE_AVX2
    unsigned a, b, c, d, xcr0_lo, xcr0_hi;
    int avx2, avx512;
    if (__get_cpuid_max(0, NULL) < 7) return NNOPT_ISA_SCALAR;
    __cpuid_count(1, 0, a, b, c, d);
    if (!(c & (1u << 27)) || !(c & (1u << 28)) || !(c & (1u << 12)))   /* OSXSAVE, AVX, FMA */
        return NNOPT_ISA_SCALAR;
    __asm__ __volatile__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    (void)xcr0_hi;
    __cpuid_count(7, 0, a, b, c, d);
    avx2   = (b & (1u << 5)) && (xcr0_lo & 0x06u) == 0x06u;             /* OS saves XMM+YMM */
    avx512 = avx2 && (b & (1u << 16)) && (b & (1u << 17)) && (b & (1u << 30)) && (b & (1u << 31))
                  && (xcr0_lo & 0xE6u) == 0xE6u;                        /* + opmask, ZMM */
#  ifdef NNOPT__HAVE_AVX512
    if (avx512) return NNOPT_ISA_AVX512;
#  else
    (void)avx512;
#  endif
    if (avx2) return NNOPT_ISA_AVX2;
#endif
    return NNOPT_ISA_SCALAR;
}

NNOPT_API nnopt_isa nnopt_isa_best(void)
{
    int v = NNOPT__LOAD(&nnopt__isa_best_cache);
    if (v < 0) {
        v = (int)nnopt__detect_isa();
        NNOPT__STORE(&nnopt__isa_best_cache, v);
    }
    return (nnopt_isa)v;
}

NNOPT_API const char *nnopt_isa_name(nnopt_isa isa)
{
    switch (isa) {
    case NNOPT_ISA_SCALAR: return "scalar";
    case NNOPT_ISA_AVX2:   return "avx2";
    case NNOPT_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

static int nnopt__isa_from_env(void)
{
    const char *s = getenv("NNOPT_ISA");
    int isa;
    if (!s) return (int)nnopt_isa_best();
    for (isa = NNOPT_ISA_SCALAR; isa <= NNOPT_ISA_AVX512; isa++)
        if (strcmp(s, nnopt_isa_name((nnopt_isa)isa)) == 0 && isa <= (int)nnopt_isa_best())
            return isa;
    return (int)nnopt_isa_best();
}

NNOPT_API nnopt_isa nnopt_isa_get(void)
{
    int v = NNOPT__LOAD(&nnopt__isa_current);
    if (v < 0) {
        int expected = -1, chosen = nnopt__isa_from_env();
        if (NNOPT__CAS(&nnopt__isa_current, expected, chosen)) v = chosen;
        else v = NNOPT__LOAD(&nnopt__isa_current);
    }
    return (nnopt_isa)v;
}

NNOPT_API nnopt_status nnopt_isa_set(nnopt_isa isa)
{
    if ((int)isa < (int)NNOPT_ISA_SCALAR || (int)isa > (int)nnopt_isa_best())
        return NNOPT_ERR_UNSUPPORTED;
    NNOPT__STORE(&nnopt__isa_current, (int)isa);
    return NNOPT_OK;
}

/* NNOPT__DISPATCH(kernel, args): run nnopt__<kernel>_<isa>(args) on the path in use. */
#ifdef NNOPT__HAVE_AVX512
#  define NNOPT__CASE_AVX512(k, a) case NNOPT_ISA_AVX512: nnopt__##k##_avx512(a); break;
#else
#  define NNOPT__CASE_AVX512(k, a)
#endif
#ifdef NNOPT__HAVE_AVX2
#  define NNOPT__CASE_AVX2(k, a) case NNOPT_ISA_AVX2: nnopt__##k##_avx2(a); break;
#else
#  define NNOPT__CASE_AVX2(k, a)
#endif
#define NNOPT__DISPATCH(k, a) do { switch (nnopt_isa_get()) {                              \
        NNOPT__CASE_AVX512(k, a) NNOPT__CASE_AVX2(k, a)                                      \
        default: nnopt__##k##_scalar(a); break; } } while (0)

/* ---- Argument checks shared by every section -------------------------------------- */

NNOPT__PRIVATE int nnopt__finite(double x) { return x - x == 0.0; }   /* false for NaN and +-Inf */

/* A float pointer the kernels may use for n elements: non-NULL and float-aligned (NULL is
   accepted only for n == 0). */
NNOPT__PRIVATE int nnopt__ptr_ok(const void *p, size_t n)
{
    if (!p) return n == 0;
    return ((uintptr_t)p % sizeof(float)) == 0;
}

NNOPT__PRIVATE int nnopt__overlap(const void *a, const void *b, size_t bytes)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    if (bytes == 0 || !a || !b) return 0;
    return x < y + bytes && y < x + bytes;
}

NNOPT__PRIVATE int nnopt__all_finite(const float *x, size_t n)
{
    nnopt__finite_args a;
    a.n = n; a.x = x; a.ok = 1;
    NNOPT__DISPATCH(all_finite, &a);
    return a.ok;
}

/* =====================================================================================
   Optimizers
   ===================================================================================== */
#ifndef NNOPT_NO_OPTIM

#define NNOPT__MAX_STATE 4
#define NNOPT__ALIGN 64

struct nnopt_optimizer {
    nnopt_hparams h;
    size_t   n;
    uint64_t step;                        /* completed steps; the next update uses t = step + 1 */
    int      nstate;                      /* float buffers of n elements in state[] */
    float   *state[NNOPT__MAX_STATE];     /* each 64-byte aligned, inside the same allocation */
};

static const char *const nnopt__kind_names[NNOPT_KIND_COUNT] = {
    "sgd", "adam", "adamw", "adagrad", "rmsprop", "adadelta", "adamax", "nadam", "radam"
};

NNOPT_API const char *nnopt_kind_name(nnopt_kind kind)
{
    return ((int)kind >= 0 && kind < NNOPT_KIND_COUNT) ? nnopt__kind_names[kind] : "unknown";
}

/* torch.optim defaults (PyTorch 2.x). */
NNOPT_API nnopt_hparams nnopt_defaults(nnopt_kind kind)
{
    nnopt_hparams h;
    memset(&h, 0, sizeof h);
    h.kind = kind;
    h.lr = 1e-3;
    h.beta1 = 0.9; h.beta2 = 0.999; h.eps = 1e-8;
    h.alpha = 0.99; h.rho = 0.9; h.momentum_decay = 4e-3;
    switch (kind) {
    case NNOPT_SGD:      break;
    case NNOPT_ADAM:     break;
    case NNOPT_ADAMW:    h.weight_decay = 1e-2; h.decoupled_weight_decay = 1; break;
    case NNOPT_ADAGRAD:  h.lr = 1e-2; h.eps = 1e-10; break;
    case NNOPT_RMSPROP:  h.lr = 1e-2; break;
    case NNOPT_ADADELTA: h.lr = 1.0; h.eps = 1e-6; break;
    case NNOPT_ADAMAX:   h.lr = 2e-3; break;
    case NNOPT_NADAM:    h.lr = 2e-3; break;
    case NNOPT_RADAM:    break;
    case NNOPT_KIND_COUNT: break;
    }
    return h;
}

/* Which kinds this version implements. */
static int nnopt__kind_implemented(nnopt_kind kind)
{
    return kind == NNOPT_SGD;
}

static int nnopt__hparams_valid(const nnopt_hparams *h)
{
    const double all[] = { h->lr, h->weight_decay, h->momentum, h->dampening, h->beta1, h->beta2,
                           h->eps, h->alpha, h->rho, h->lr_decay, h->initial_accumulator_value,
                           h->momentum_decay };
    size_t i;
    if ((int)h->kind < 0 || h->kind >= NNOPT_KIND_COUNT || !nnopt__kind_implemented(h->kind))
        return 0;
    for (i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!nnopt__finite(all[i])) return 0;
    if (h->lr < 0 || h->weight_decay < 0) return 0;
    switch (h->kind) {
    case NNOPT_SGD:
        if (h->momentum < 0) return 0;
        if (h->nesterov && (h->momentum <= 0 || h->dampening != 0)) return 0;
        return 1;
    default:
        return 0;
    }
}

static int nnopt__state_buffers(const nnopt_hparams *h)
{
    switch (h->kind) {
    case NNOPT_SGD: return h->momentum != 0 ? 1 : 0;
    default:        return 0;
    }
}

NNOPT_API nnopt_optimizer *nnopt_create(const nnopt_hparams *h, size_t n)
{
    nnopt_optimizer *opt;
    size_t head, stride, total;
    char *base;
    int k, nstate;

    if (!h || !nnopt__hparams_valid(h)) return NULL;
    nstate = nnopt__state_buffers(h);
    /* One allocation: the struct, then each buffer rounded up to the alignment. */
    head = (sizeof(nnopt_optimizer) + NNOPT__ALIGN - 1) / NNOPT__ALIGN * NNOPT__ALIGN;
    if (n > (SIZE_MAX - NNOPT__ALIGN) / sizeof(float)) return NULL;
    stride = (n * sizeof(float) + NNOPT__ALIGN - 1) / NNOPT__ALIGN * NNOPT__ALIGN;
    if (nstate && stride > (SIZE_MAX - head - NNOPT__ALIGN) / (size_t)nstate) return NULL;
    total = head + stride * (size_t)nstate + NNOPT__ALIGN;
    base = (char *)NNOPT_MALLOC(total);
    if (!base) return NULL;
    opt = (nnopt_optimizer *)base;
    memset(opt, 0, sizeof *opt);
    opt->h = *h;
    opt->n = n;
    opt->nstate = nstate;
    {
        /* Buffers start at the first 64-byte boundary after the struct. */
        uintptr_t first = ((uintptr_t)(base + head) + NNOPT__ALIGN - 1) & ~(uintptr_t)(NNOPT__ALIGN - 1);
        for (k = 0; k < nstate; k++) {
            opt->state[k] = (float *)(first + (uintptr_t)k * stride);
            memset(opt->state[k], 0, n * sizeof(float));
        }
    }
    return opt;
}

NNOPT_API void nnopt_destroy(nnopt_optimizer *opt)
{
    if (opt) NNOPT_FREE(opt);
}

NNOPT_API nnopt_status nnopt_set_lr(nnopt_optimizer *opt, double lr)
{
    if (!opt || !nnopt__finite(lr) || lr < 0) return NNOPT_ERR_INVALID;
    opt->h.lr = lr;
    return NNOPT_OK;
}

NNOPT_API uint64_t nnopt_step_count(const nnopt_optimizer *opt) { return opt ? opt->step : 0; }

static void nnopt__step_sgd(nnopt_optimizer *opt, float *param, const float *grad)
{
    const nnopt_hparams *h = &opt->h;
    nnopt__sgd_args a;
    a.n = opt->n; a.param = param; a.grad = grad;
    a.momentum_buf = opt->nstate ? opt->state[0] : NULL;
    a.neg_lr = (float)-h->lr;
    a.weight_decay = h->decoupled_weight_decay ? 0.0f : (float)h->weight_decay;
    a.decay_factor = h->decoupled_weight_decay ? (float)(1.0 - h->lr * h->weight_decay) : 1.0f;
    a.momentum = (float)h->momentum;
    a.one_minus_dampening = (float)(1.0 - h->dampening);
    a.maximize = h->maximize != 0;
    a.first_step = opt->step == 0;
    a.nesterov = h->nesterov != 0;
    NNOPT__DISPATCH(sgd, &a);
}

NNOPT_API nnopt_status nnopt_step(nnopt_optimizer *opt, float *param, const float *grad)
{
    size_t bytes;
    if (!opt) return NNOPT_ERR_INVALID;
    bytes = opt->n * sizeof(float);
    if (!nnopt__ptr_ok(param, opt->n) || !nnopt__ptr_ok(grad, opt->n) ||
        nnopt__overlap(param, grad, bytes))
        return NNOPT_ERR_INVALID;
    if (opt->h.nonfinite_guard && !nnopt__all_finite(grad, opt->n))
        return NNOPT_ERR_NONFINITE;
    switch (opt->h.kind) {
    case NNOPT_SGD: nnopt__step_sgd(opt, param, grad); break;
    default: return NNOPT_ERR_INVALID;   /* unreachable: create() refuses other kinds */
    }
    opt->step++;
    return NNOPT_OK;
}

#endif /* NNOPT_NO_OPTIM */

#if defined(__GNUC__) && !defined(__clang__)
#  pragma GCC pop_options
#endif

#ifdef __cplusplus
}
#endif
#endif /* NNOPT_IMPLEMENTATION */

/* =====================================================================================
   Kernels — this section is compiled once per instruction set (see "The kernels, once per
   instruction set" above). Each kernel is written against the vocabulary below:
     V(vec), V(mask)              vector of NNOPT__W floats; lane mask
     V(set1) V(loadn) V(storen)   broadcast; load/store the first k <= W lanes (others: 0)
     V(add) V(sub) V(mul) V(div) V(fma) V(sqrt) V(min) V(max) V(neg) V(abs)
     V(lt) V(le) V(gt) V(eq) V(select) V(all)
   with the semantics of the scalar definitions: min/max as (a < b ? a : b), comparisons
   false on NaN, fma fused, sqrt and div exactly rounded.
   A kernel is a block function V(name_block)(args, i, k) over elements [i, i+k), run by
   NNOPT__KERNEL(name, args_type) over full blocks and one masked tail.
   ===================================================================================== */
#ifdef NNOPT__KERNEL_PASS
#pragma push_macro("V")
#undef V

#if defined(NNOPT__ISA_SCALAR)
#  define V(name) nnopt__##name##_scalar
#  define NNOPT__W 1
#  define NNOPT__TARGET
#elif defined(NNOPT__ISA_AVX2)
#  define V(name) nnopt__##name##_avx2
#  define NNOPT__W 8
#  define NNOPT__TARGET __attribute__((target("avx2,fma")))
#elif defined(NNOPT__ISA_AVX512)
#  define V(name) nnopt__##name##_avx512
#  define NNOPT__W 16
#  define NNOPT__TARGET __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")))
#endif
#define NNOPT__OP NNOPT__INLINE NNOPT__TARGET

/* ---- Vocabulary ------------------------------------------------------------------- */
#if defined(NNOPT__ISA_SCALAR)
typedef float V(vec);
typedef int   V(mask);
NNOPT__OP float V(set1)(float x) { return x; }
NNOPT__OP float V(loadn)(const float *p, size_t k) { (void)k; return *p; }
NNOPT__OP void  V(storen)(float *p, float v, size_t k) { (void)k; *p = v; }
NNOPT__OP float V(add)(float a, float b) { return a + b; }
NNOPT__OP float V(sub)(float a, float b) { return a - b; }
NNOPT__OP float V(mul)(float a, float b) { return a * b; }
NNOPT__OP float V(div)(float a, float b) { return a / b; }
NNOPT__OP float V(fma)(float a, float b, float c) { return fmaf(a, b, c); }
NNOPT__OP float V(sqrt)(float a) { return sqrtf(a); }
NNOPT__OP float V(min)(float a, float b) { return a < b ? a : b; }
NNOPT__OP float V(max)(float a, float b) { return a > b ? a : b; }
NNOPT__OP float V(neg)(float a) { return -a; }
NNOPT__OP float V(abs)(float a) { return fabsf(a); }
NNOPT__OP int   V(lt)(float a, float b) { return a < b; }
NNOPT__OP int   V(le)(float a, float b) { return a <= b; }
NNOPT__OP int   V(gt)(float a, float b) { return a > b; }
NNOPT__OP int   V(eq)(float a, float b) { return a == b; }
NNOPT__OP float V(select)(int m, float a, float b) { return m ? a : b; }
NNOPT__OP int   V(all)(int m) { return m; }

#elif defined(NNOPT__ISA_AVX2)
typedef __m256 V(vec);
typedef __m256 V(mask);
NNOPT__OP __m256i V(tail_mask)(size_t k)
{ return _mm256_loadu_si256((const __m256i *)(nnopt__tail_mask_table + 8 - k)); }
NNOPT__OP __m256 V(set1)(float x) { return _mm256_set1_ps(x); }
NNOPT__OP __m256 V(loadn)(const float *p, size_t k)
{ return k == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, V(tail_mask)(k)); }
NNOPT__OP void V(storen)(float *p, __m256 v, size_t k)
{ if (k == 8) _mm256_storeu_ps(p, v); else _mm256_maskstore_ps(p, V(tail_mask)(k), v); }
NNOPT__OP __m256 V(add)(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
NNOPT__OP __m256 V(sub)(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }
NNOPT__OP __m256 V(mul)(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
NNOPT__OP __m256 V(div)(__m256 a, __m256 b) { return _mm256_div_ps(a, b); }
NNOPT__OP __m256 V(fma)(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
NNOPT__OP __m256 V(sqrt)(__m256 a) { return _mm256_sqrt_ps(a); }
NNOPT__OP __m256 V(min)(__m256 a, __m256 b) { return _mm256_min_ps(a, b); }
NNOPT__OP __m256 V(max)(__m256 a, __m256 b) { return _mm256_max_ps(a, b); }
NNOPT__OP __m256 V(neg)(__m256 a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }
NNOPT__OP __m256 V(abs)(__m256 a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
NNOPT__OP __m256 V(lt)(__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
NNOPT__OP __m256 V(le)(__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
NNOPT__OP __m256 V(gt)(__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
NNOPT__OP __m256 V(eq)(__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
NNOPT__OP __m256 V(select)(__m256 m, __m256 a, __m256 b) { return _mm256_blendv_ps(b, a, m); }
NNOPT__OP int V(all)(__m256 m) { return _mm256_movemask_ps(m) == 0xFF; }

#elif defined(NNOPT__ISA_AVX512)
typedef __m512    V(vec);
typedef __mmask16 V(mask);
NNOPT__OP __mmask16 V(tail_mask)(size_t k) { return (__mmask16)((1u << k) - 1u); }
NNOPT__OP __m512 V(set1)(float x) { return _mm512_set1_ps(x); }
NNOPT__OP __m512 V(loadn)(const float *p, size_t k)
{ return k == 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(V(tail_mask)(k), p); }
NNOPT__OP void V(storen)(float *p, __m512 v, size_t k)
{ if (k == 16) _mm512_storeu_ps(p, v); else _mm512_mask_storeu_ps(p, V(tail_mask)(k), v); }
NNOPT__OP __m512 V(add)(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
NNOPT__OP __m512 V(sub)(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
NNOPT__OP __m512 V(mul)(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
NNOPT__OP __m512 V(div)(__m512 a, __m512 b) { return _mm512_div_ps(a, b); }
NNOPT__OP __m512 V(fma)(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
NNOPT__OP __m512 V(sqrt)(__m512 a) { return _mm512_sqrt_ps(a); }
NNOPT__OP __m512 V(min)(__m512 a, __m512 b) { return _mm512_min_ps(a, b); }
NNOPT__OP __m512 V(max)(__m512 a, __m512 b) { return _mm512_max_ps(a, b); }
NNOPT__OP __m512 V(neg)(__m512 a)
{ return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32((int)0x80000000u))); }
NNOPT__OP __m512 V(abs)(__m512 a)
{ return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x7FFFFFFF))); }
NNOPT__OP __mmask16 V(lt)(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
NNOPT__OP __mmask16 V(le)(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
NNOPT__OP __mmask16 V(gt)(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
NNOPT__OP __mmask16 V(eq)(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
NNOPT__OP __m512 V(select)(__mmask16 m, __m512 a, __m512 b) { return _mm512_mask_blend_ps(m, b, a); }
NNOPT__OP int V(all)(__mmask16 m) { return m == 0xFFFF; }
#endif

/* NNOPT__KERNEL(name, args_type) defines V(name)(args_type *): V(name_block) over every full
   block, then once over the tail. The arguments are copied to a local so the compiler knows
   the stores through the data pointers cannot change them; results written to the local
   (reductions) are copied back. */
#define NNOPT__KERNEL(name, args_type)                                                     \
    NNOPT__PRIVATE NNOPT__TARGET void V(name)(args_type *args)                             \
    {                                                                                      \
        args_type a = *args;                                                               \
        size_t i = 0;                                                                      \
        for (; i + NNOPT__W <= a.n; i += NNOPT__W) V(name##_block)(&a, i, NNOPT__W);       \
        if (i < a.n) V(name##_block)(&a, i, a.n - i);                                      \
        *args = a;                                                                         \
    }

/* ---- Shared kernels --------------------------------------------------------------- */

/* Masked-off tail lanes load as 0, which is finite. */
NNOPT__OP void V(all_finite_block)(nnopt__finite_args *a, size_t i, size_t k)
{
    V(vec) x = V(loadn)(a->x + i, k);
    a->ok &= V(all)(V(lt)(V(abs)(x), V(set1)(INFINITY)));
}
NNOPT__KERNEL(all_finite, nnopt__finite_args)

/* ---- Optimizer kernels ------------------------------------------------------------ */
#ifndef NNOPT_NO_OPTIM

/* SGD (torch.optim.SGD): g = -g if maximize; g += wd*p (coupled) or p *= 1 - lr*wd
   (decoupled); with momentum b = g on the first step, else b = mu*b + (1-dampening)*g, and
   g = g + mu*b (Nesterov) or g = b; p -= lr*g. */
NNOPT__OP void V(sgd_block)(nnopt__sgd_args *a, size_t i, size_t k)
{
    V(vec) p = V(loadn)(a->param + i, k);
    V(vec) g = V(loadn)(a->grad + i, k);
    if (a->maximize) g = V(neg)(g);
    if (a->weight_decay != 0.0f) g = V(fma)(p, V(set1)(a->weight_decay), g);
    if (a->decay_factor != 1.0f) p = V(mul)(p, V(set1)(a->decay_factor));
    if (a->momentum_buf) {
        V(vec) b = g;
        if (!a->first_step) {
            V(vec) kept = V(mul)(V(loadn)(a->momentum_buf + i, k), V(set1)(a->momentum));
            b = V(fma)(g, V(set1)(a->one_minus_dampening), kept);
        }
        V(storen)(a->momentum_buf + i, b, k);
        g = a->nesterov ? V(fma)(b, V(set1)(a->momentum), g) : b;
    }
    V(storen)(a->param + i, V(fma)(g, V(set1)(a->neg_lr), p), k);
}
NNOPT__KERNEL(sgd, nnopt__sgd_args)

#endif /* NNOPT_NO_OPTIM */

#undef NNOPT__KERNEL
#undef NNOPT__OP
#undef NNOPT__TARGET
#undef NNOPT__W
#undef V
#pragma pop_macro("V")
#endif /* NNOPT__KERNEL_PASS */

/*
   MIT License

   Copyright (c) 2026 the nnopt authors

   Permission is hereby granted, free of charge, to any person obtaining a copy of this software
   and associated documentation files (the "Software"), to deal in the Software without
   restriction, including without limitation the rights to use, copy, modify, merge, publish,
   distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
   Software is furnished to do so, subject to the following conditions:

   The above copyright notice and this permission notice shall be included in all copies or
   substantial portions of the Software.

   THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
   BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
   NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
   DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
   OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
*/
