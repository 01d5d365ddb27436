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
     Contents: optimizers (SGD, Adam, AdamW, Adagrad, RMSprop, Adadelta, Adamax, NAdam, RAdam,
     Rprop, ASGD, Lion, AdaBelief, Yogi, LAMB, LARS) with parameter groups, checkpoints,
     clipping, SWA/EMA averaging and Lookahead; learning-rate schedules (torch.optim.
     lr_scheduler). Reference: docs/api.md.

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
     NNOPT_NO_OPTIM          remove the optimizer section (and the schedules' apply functions)
     NNOPT_NO_SCHED          remove the learning-rate schedule section
     NNOPT_NO_REG, NNOPT_NO_DROPOUT, NNOPT_NO_BATCHNORM, NNOPT_NO_AUGMENT
                             remove the regularization, dropout, batch-norm and augmentation
                             sections (accepted now; those sections are not in this version yet)
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
    NNOPT_RPROP, NNOPT_ASGD,                                     /* the rest of torch.optim */
    NNOPT_LION, NNOPT_ADABELIEF, NNOPT_YOGI, NNOPT_LAMB, NNOPT_LARS,  /* beyond torch */
    NNOPT_KIND_COUNT
} nnopt_kind;

/* Hyper-parameters. Field names follow torch.optim; nnopt_defaults() fills every field with
   the reference library's default for the kind, so set only what you change. Fields a kind
   does not use are ignored, but every double must be finite. */
typedef struct nnopt_hparams {
    nnopt_kind kind;
    double lr, weight_decay;
    int    decoupled_weight_decay;   /* weight decay as p *= 1 - lr*weight_decay (AdamW style) */
    int    maximize;                 /* ascend instead of descend */
    double momentum, dampening;  int nesterov;          /* SGD; momentum also RMSprop, LARS */
    double beta1, beta2, eps;    int amsgrad;           /* Adam family */
    double alpha;                int centered;          /* RMSprop; alpha is also ASGD's power */
    double rho, lr_decay, initial_accumulator_value, momentum_decay;
    double eta_minus, eta_plus, step_size_min, step_size_max;   /* Rprop */
    double lambd, t0;                                           /* ASGD */
    double trust_coefficient;                                   /* LARS */
    int    rectify;                                             /* AdaBelief */
    int    nonfinite_guard;          /* refuse a step whose gradient holds NaN or Inf */
    /* Weight averaging and Lookahead, around any kind: */
    int    average;                  /* NNOPT_AVERAGE_NONE, _SWA (running mean) or _EMA */
    double average_decay;            /* EMA: avg = decay avg + (1 - decay) p */
    int    average_warmup;           /* EMA: decay min(decay, (1 + n)/(10 + n)), n averaged so far */
    int    average_start;            /* first step whose parameters enter the average */
    int    lookahead_k;              /* Lookahead: every k steps p = slow += alpha (p - slow); 0 off */
    double lookahead_alpha;
} nnopt_hparams;

enum { NNOPT_AVERAGE_NONE = 0, NNOPT_AVERAGE_SWA = 1, NNOPT_AVERAGE_EMA = 2 };

/* One tensor of a multi-tensor optimizer: its length and how it differs from the rest. */
typedef struct nnopt_group {
    size_t n;
    double lr_scale;             /* this tensor's lr = hparams.lr * lr_scale */
    double weight_decay_scale;   /* this tensor's weight decay = hparams.weight_decay * scale */
    int    frozen;               /* skipped by steps: parameters and state stay as they are */
} nnopt_group;

typedef struct nnopt_optimizer nnopt_optimizer;

NNOPT_API nnopt_hparams    nnopt_defaults(nnopt_kind kind);
NNOPT_API const char      *nnopt_kind_name(nnopt_kind kind);          /* "sgd", "adam", ... */
NNOPT_API nnopt_group      nnopt_group_default(size_t n);             /* scales 1, not frozen */

/* State for one flat vector of n parameters. NULL if h is invalid or memory runs out. */
NNOPT_API nnopt_optimizer *nnopt_create(const nnopt_hparams *h, size_t n);
/* State for several tensors (parameter groups). */
NNOPT_API nnopt_optimizer *nnopt_create_groups(const nnopt_hparams *h, const nnopt_group *groups,
                                               size_t ngroups);
/* Allocation-free form: the bytes an optimizer needs (0 if the arguments are invalid), then
   the optimizer built inside caller memory of that size (any alignment; NULL if invalid or
   too small). nnopt_destroy() on it frees nothing. */
NNOPT_API size_t           nnopt_memory_size(const nnopt_hparams *h, const nnopt_group *groups,
                                             size_t ngroups);
NNOPT_API nnopt_optimizer *nnopt_init(void *memory, size_t bytes, const nnopt_hparams *h,
                                      const nnopt_group *groups, size_t ngroups);
NNOPT_API void             nnopt_destroy(nnopt_optimizer *opt);

/* One update of every tensor that is not frozen. nnopt_step takes the tensors concatenated
   in one flat array; nnopt_step_groups takes one pointer per group. Parameters and gradients
   must not overlap. */
NNOPT_API nnopt_status     nnopt_step(nnopt_optimizer *opt, float *param, const float *grad);
NNOPT_API nnopt_status     nnopt_step_groups(nnopt_optimizer *opt, float *const *params,
                                             const float *const *grads);

NNOPT_API const nnopt_hparams *nnopt_get_hparams(const nnopt_optimizer *opt);
/* New hyper-parameters of the same kind (what a schedule does); refused if they would need
   state the optimizer was not created with (e.g. momentum on an SGD made without it). */
NNOPT_API nnopt_status     nnopt_set_hparams(nnopt_optimizer *opt, const nnopt_hparams *h);
NNOPT_API nnopt_status     nnopt_set_lr(nnopt_optimizer *opt, double lr);
NNOPT_API size_t           nnopt_group_count(const nnopt_optimizer *opt);
NNOPT_API nnopt_status     nnopt_get_group(const nnopt_optimizer *opt, size_t index, nnopt_group *out);
NNOPT_API nnopt_status     nnopt_set_group(nnopt_optimizer *opt, size_t index, const nnopt_group *g);
NNOPT_API size_t           nnopt_param_count(const nnopt_optimizer *opt);     /* total n */
NNOPT_API uint64_t         nnopt_step_count(const nnopt_optimizer *opt);      /* successful steps */
/* The averaged parameters (flat, all groups): the SWA or EMA average when hparams.average is
   set, else ASGD's running average; NULL when there is none. */
NNOPT_API const float     *nnopt_averaged_params(const nnopt_optimizer *opt);

/* Averaging outside an optimizer (ensembles, evaluation copies). count = updates made so far;
   count 0 copies p (torch AveragedModel). SWA: avg += (p - avg) / (count + 1);
   EMA: avg = decay avg + (1 - decay) p. */
NNOPT_API nnopt_status     nnopt_swa_update(float *avg, const float *p, size_t n, uint64_t count);
NNOPT_API nnopt_status     nnopt_ema_update(float *avg, const float *p, size_t n, double decay,
                                            uint64_t count);
/* Prediction averaging: the mean over `models` of softmax(logits[m]) for each of `rows` rows
   of `classes` logits, written to probs (rows x classes). */
NNOPT_API nnopt_status     nnopt_ensemble_softmax(const float *const *logits, size_t models,
                                                  size_t rows, size_t classes, float *probs);

/* Checkpoints: the whole optimizer (hyper-parameters, groups, step counts, state) as bytes in
   the format of docs/api.md. nnopt_load accepts only a checkpoint of an optimizer with the same
   kind, group sizes and state layout; anything else is NNOPT_ERR_FORMAT and changes nothing. */
NNOPT_API size_t           nnopt_save_size(const nnopt_optimizer *opt);
NNOPT_API nnopt_status     nnopt_save(const nnopt_optimizer *opt, void *buffer, size_t capacity);
NNOPT_API nnopt_status     nnopt_load(nnopt_optimizer *opt, const void *buffer, size_t size);

/* Gradient clipping (torch.nn.utils semantics). By norm: the norm (norm_type 1, 2 or INFINITY)
   of all gradients together is stored in *total_norm (may be NULL); when it exceeds max_norm
   every gradient is scaled by max_norm / (norm + 1e-6). With error_if_nonfinite, a NaN or
   infinite norm returns NNOPT_ERR_NONFINITE and changes nothing. */
NNOPT_API nnopt_status     nnopt_clip_grad_norm(float *grad, size_t n, double max_norm,
                                                double norm_type, int error_if_nonfinite,
                                                double *total_norm);
NNOPT_API nnopt_status     nnopt_clip_grad_norm_groups(float *const *grads, const size_t *sizes,
                                                       size_t count, double max_norm,
                                                       double norm_type, int error_if_nonfinite,
                                                       double *total_norm);
NNOPT_API nnopt_status     nnopt_clip_grad_value(float *grad, size_t n, double clip_value);

#endif /* NNOPT_NO_OPTIM */

/* ---- Learning-rate schedules ------------------------------------------------------- */
#ifndef NNOPT_NO_SCHED

typedef enum nnopt_sched_kind {
    NNOPT_SCHED_CONSTANT,          /* ConstantLR: lr0 * factor until total_iters, then lr0 */
    NNOPT_SCHED_STEP,              /* StepLR: times gamma every step_size steps */
    NNOPT_SCHED_MULTISTEP,         /* MultiStepLR: times gamma at each milestone */
    NNOPT_SCHED_EXPONENTIAL,       /* ExponentialLR: times gamma every step */
    NNOPT_SCHED_INVERSE_TIME,      /* lr0 / (1 + gamma t) */
    NNOPT_SCHED_COSINE,            /* CosineAnnealingLR: period 2 T_max, not clamped */
    NNOPT_SCHED_COSINE_RESTARTS,   /* CosineAnnealingWarmRestarts: T_0, T_mult */
    NNOPT_SCHED_LINEAR,            /* LinearLR: start_factor to end_factor over total_iters */
    NNOPT_SCHED_POLYNOMIAL,        /* PolynomialLR: lr0 (1 - t/total_iters)^power */
    NNOPT_SCHED_ONE_CYCLE,         /* OneCycleLR, with momentum or beta1 cycling */
    NNOPT_SCHED_PLATEAU,           /* ReduceLROnPlateau: stepped with a metric */
    NNOPT_SCHED_SWA,               /* SWALR: anneal to swa_lr over anneal_epochs, then hold */
    NNOPT_SCHED_KIND_COUNT
} nnopt_sched_kind;

#define NNOPT_SCHED_MAX_MILESTONES 32
#define NNOPT_SCHED_MAX_CHILDREN 8

/* Schedule parameters, named as torch.optim.lr_scheduler's; nnopt_sched_defaults() fills the
   torch defaults. */
typedef struct nnopt_sched_params {
    nnopt_sched_kind kind;
    double gamma;                  /* STEP, MULTISTEP, EXPONENTIAL; INVERSE_TIME's k */
    int    step_size;              /* STEP */
    int    milestones[NNOPT_SCHED_MAX_MILESTONES];   /* MULTISTEP: non-decreasing (a repeat */
    int    milestone_count;                          /* multiplies gamma again) */
    int    T_max;                  /* COSINE */
    double eta_min;                /* COSINE, COSINE_RESTARTS */
    int    T_0, T_mult;            /* COSINE_RESTARTS */
    double factor;                 /* CONSTANT; PLATEAU's reduction */
    double start_factor, end_factor, power;
    int    total_iters;            /* CONSTANT, LINEAR, POLYNOMIAL */
    double max_lr;                 /* ONE_CYCLE: */
    int    total_steps;
    double pct_start, div_factor, final_div_factor, base_momentum, max_momentum;
    int    anneal_linear;          /* ONE_CYCLE, SWA: linear instead of cosine annealing */
    int    cycle_momentum, three_phase;
    int    mode_max;               /* PLATEAU: maximize the metric */
    int    threshold_abs;          /* PLATEAU: absolute instead of relative threshold */
    double threshold, min_lr, eps;
    int    patience, cooldown;
    double swa_lr;                 /* SWA */
    int    anneal_epochs;
} nnopt_sched_params;

/* Per-schedule state; fields are private. */
typedef struct nnopt_sched_node {
    nnopt_sched_params p;
    double base_lr;                /* torch's initial_lr */
    long   last_epoch, step_count, t_cur, t_i, bad_epochs, cooldown_counter;
    double best;
} nnopt_sched_node;

/* A schedule, or a composition (sequential or chained) of up to 8. Declare it anywhere (no
   allocation); fields are private. */
typedef struct nnopt_scheduler {
    int    composition;            /* 0 one schedule, 1 sequential, 2 chained */
    int    count;
    int    milestones[NNOPT_SCHED_MAX_CHILDREN];
    long   last_epoch;
    double lr, momentum;           /* the group's current lr and (one-cycle) momentum */
    double initial_lr;             /* torch's group['initial_lr'] */
    int    restarted;
    nnopt_sched_node node[NNOPT_SCHED_MAX_CHILDREN];
} nnopt_scheduler;

NNOPT_API nnopt_sched_params nnopt_sched_defaults(nnopt_sched_kind kind);
/* A schedule for an optimizer whose lr is initial_lr; like torch, construction takes the
   first step, so nnopt_sched_lr() is then the lr of step 0. */
NNOPT_API nnopt_status nnopt_sched_init(nnopt_scheduler *s, const nnopt_sched_params *p,
                                        double initial_lr);
/* SequentialLR: children[i] runs from milestones[i-1] (count - 1 increasing milestones). */
NNOPT_API nnopt_status nnopt_sched_init_sequential(nnopt_scheduler *s,
                                                   const nnopt_sched_params *children, int count,
                                                   const int *milestones, double initial_lr);
/* ChainedScheduler: every child steps, each multiplying the lr the previous left. */
NNOPT_API nnopt_status nnopt_sched_init_chained(nnopt_scheduler *s,
                                                const nnopt_sched_params *children, int count,
                                                double initial_lr);
NNOPT_API nnopt_status nnopt_sched_step(nnopt_scheduler *s);
NNOPT_API nnopt_status nnopt_sched_step_metric(nnopt_scheduler *s, double metric);   /* PLATEAU */
NNOPT_API double       nnopt_sched_lr(const nnopt_scheduler *s);
/* One-cycle momentum (or beta1) for this step; 0 when the schedule does not cycle it. */
NNOPT_API int          nnopt_sched_momentum(const nnopt_scheduler *s, double *momentum);
/* COSINE_RESTARTS: 1 when the last step started a new cycle (snapshot ensembles take a copy of
   the parameters then: the end of the previous cycle). */
NNOPT_API int          nnopt_sched_restarted(const nnopt_scheduler *s);
#ifndef NNOPT_NO_OPTIM
/* Sets the optimizer's lr (every group follows through its lr_scale) and, for a one-cycle
   schedule that cycles momentum, its beta1 (kinds with betas) or momentum. */
NNOPT_API nnopt_status nnopt_sched_apply(const nnopt_scheduler *s, nnopt_optimizer *opt);
/* Drives one group: its lr_scale becomes lr / hparams.lr (hparams.lr must be > 0). */
NNOPT_API nnopt_status nnopt_sched_apply_group(const nnopt_scheduler *s, nnopt_optimizer *opt,
                                               size_t group);
#endif

#endif /* NNOPT_NO_SCHED */

/* ---- Random numbers (Philox4x32-10) ---------------------------------------------- */
/* RNG-API-SLOT */



#ifndef NNOPT_NO_REG
/* ---- Regularization: penalties, proximal step, max-norm ------------------------- */
/* REG-API-SLOT */
#endif /* NNOPT_NO_REG */



#ifndef NNOPT_NO_DROPOUT
/* ---- Dropout and DropConnect ----------------------------------------------------- */
/* DROPOUT-API-SLOT */
#endif /* NNOPT_NO_DROPOUT */



#ifndef NNOPT_NO_BATCHNORM
/* ---- Batch normalization ---------------------------------------------------------- */
/* BATCHNORM-API-SLOT */
#endif /* NNOPT_NO_BATCHNORM */



#ifndef NNOPT_NO_AUGMENT
/* ---- Image augmentation ----------------------------------------------------------- */
/* AUGMENT-API-SLOT */
#endif /* NNOPT_NO_AUGMENT */



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
/* One optimizer kernel call over elements [0, n): the data, the gradient prologue every
   optimizer shares, and the per-step coefficients of the kernel, computed in double and
   rounded once. State buffers s[] are named in each kernel's comment. */
typedef struct nnopt__optim_args {
    size_t n;
    float *param;
    const float *grad;
    float *s[6];
    int   maximize;          /* g = -g first */
    float weight_decay;      /* coupled: g += weight_decay * p (0: off) */
    float decay;             /* decoupled: p *= decay (1: off) */
    int   first_step;        /* this group's first update */
    union {
        struct { float momentum, one_minus_dampening, neg_lr; int nesterov; } sgd;
        struct { float beta1, one_minus_beta1, beta2, one_minus_beta2, inv_sqrt_bc2, eps,
                 neg_step_size; int amsgrad; } adam;
        struct { float eps, neg_clr; } adagrad;
        struct { float alpha, one_minus_alpha, eps, momentum, neg_lr; int centered; } rmsprop;
        struct { float rho, one_minus_rho, eps, neg_lr; } adadelta;
        struct { float beta1, one_minus_beta1, beta2, eps, neg_clr; } adamax;
        struct { float beta1, one_minus_beta1, beta2, one_minus_beta2, inv_sqrt_bc2, eps,
                 grad_coef, momentum_coef; } nadam;
        struct { float beta1, one_minus_beta1, beta2, one_minus_beta2, eps, coef;
                 int rectified; } radam;
        struct { float eta_minus, eta_plus, step_min, step_max, lr; } rprop;
        struct { float decay, neg_eta, mu; } asgd;
        struct { float beta1, one_minus_beta1, beta2, one_minus_beta2, neg_lr; } lion;
        struct { float beta1, one_minus_beta1, beta2, one_minus_beta2, eps, inv_sqrt_bc2,
                 coef; int amsgrad, mode; } adabelief;
        struct { float beta1, one_minus_beta1, neg_one_minus_beta2, inv_bc1, inv_bc2, eps,
                 neg_lr; } yogi;
        struct { float beta1, one_minus_beta1, beta2, one_minus_beta2, inv_bc1, inv_bc2, eps,
                 weight_decay, neg_lr_ratio; } lamb;
        struct { float weight_decay, momentum, neg_lr_ratio; int nesterov; } lars;
        struct { float lo, hi, scale; int absolute; } clip;
        struct { float divisor, decay, one_minus_decay; int mode; } average;
        struct { float alpha; } lookahead;
    } k;
    double sum[2][16];       /* reducing kernels: two sums, 16 lanes each */
} nnopt__optim_args;
#endif

/* RNG-ARGS-SLOT */



#ifndef NNOPT_NO_REG
/* REG-ARGS-SLOT */
#endif



#ifndef NNOPT_NO_DROPOUT
/* DROPOUT-ARGS-SLOT */
#endif



#ifndef NNOPT_NO_BATCHNORM
/* BATCHNORM-ARGS-SLOT */
#endif



#ifndef NNOPT_NO_AUGMENT
/* AUGMENT-ARGS-SLOT */
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

/* NNOPT__PICK(kernel): the instance of nnopt__<kernel>_<isa> for the path in use. */
#ifdef NNOPT__HAVE_AVX512
#  define NNOPT__IF_AVX512(k) nnopt_isa_get() == NNOPT_ISA_AVX512 ? nnopt__##k##_avx512 :
#else
#  define NNOPT__IF_AVX512(k)
#endif
#ifdef NNOPT__HAVE_AVX2
#  define NNOPT__IF_AVX2(k) nnopt_isa_get() == NNOPT_ISA_AVX2 ? nnopt__##k##_avx2 :
#else
#  define NNOPT__IF_AVX2(k)
#endif
#define NNOPT__PICK(k) (NNOPT__IF_AVX512(k) NNOPT__IF_AVX2(k) nnopt__##k##_scalar)

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
    NNOPT__PICK(all_finite)(&a);
    return a.ok;
}

/* =====================================================================================
   Optimizers
   ===================================================================================== */
#ifndef NNOPT_NO_OPTIM

#ifdef _OPENMP
#  include <omp.h>
#endif

#define NNOPT__MAX_STATE 6          /* the kind's buffers 0-3, the average 4, Lookahead 5 */
#define NNOPT__AVERAGE_BUF 4
#define NNOPT__SLOW_BUF 5
#define NNOPT__ALIGN 64

typedef void (*nnopt__optim_kernel)(nnopt__optim_args *);

/* ---- Running a kernel: chunks for threads, fixed-order reductions -------------------
   Work is split into chunks whose size depends only on n (at most 256 chunks, each a
   multiple of 16 elements), so a reduction sums the same numbers in the same order whatever
   the thread count: 16 lanes per chunk, combined by a fixed tree, then the chunks in order. */
#define NNOPT__CHUNK_MIN 65536
#define NNOPT__MAX_CHUNKS 256

static size_t nnopt__chunk_size(size_t n)
{
    size_t c = (n / NNOPT__MAX_CHUNKS + 16) & ~(size_t)15;
    return c < NNOPT__CHUNK_MIN ? NNOPT__CHUNK_MIN : c;
}

static nnopt__optim_args nnopt__slice(const nnopt__optim_args *a, size_t offset, size_t len)
{
    nnopt__optim_args part = *a;
    int k;
    part.n = len;
    if (part.param) part.param += offset;
    if (part.grad) part.grad += offset;
    for (k = 0; k < NNOPT__MAX_STATE; k++)
        if (part.s[k]) part.s[k] += offset;
    return part;
}

static double nnopt__sum_lanes(const double lane[16])
{
    double l8[8], l4[4];
    int i;
    for (i = 0; i < 8; i++) l8[i] = lane[i] + lane[i + 8];
    for (i = 0; i < 4; i++) l4[i] = l8[i] + l8[i + 4];
    return (l4[0] + l4[2]) + (l4[1] + l4[3]);
}

/* Elementwise kernel over a->n elements; any chunking gives the same bits. */
static void nnopt__run(nnopt__optim_kernel kernel, const nnopt__optim_args *a)
{
#ifdef _OPENMP
    size_t chunk = nnopt__chunk_size(a->n);
    if (a->n > chunk && omp_get_max_threads() > 1) {
        long c, count = (long)((a->n + chunk - 1) / chunk);
#  pragma omp parallel for schedule(static)
        for (c = 0; c < count; c++) {
            size_t off = (size_t)c * chunk;
            nnopt__optim_args part = nnopt__slice(a, off, a->n - off < chunk ? a->n - off : chunk);
            kernel(&part);
        }
        return;
    }
#endif
    {
        nnopt__optim_args part = *a;
        kernel(&part);
    }
}

/* Reducing kernel: total[q] = the sum (or, with maxima, the largest) of the kernel's q-th
   quantity over all elements. */
static void nnopt__run_reduce(nnopt__optim_kernel kernel, const nnopt__optim_args *a,
                              double total[2], int maxima)
{
    double partial[NNOPT__MAX_CHUNKS][2];
    size_t chunk = nnopt__chunk_size(a->n);
    long c, count = (long)((a->n + chunk - 1) / chunk);
    int q, l;
#ifdef _OPENMP
#  pragma omp parallel for schedule(static) if (count > 1)
#endif
    for (c = 0; c < count; c++) {
        size_t off = (size_t)c * chunk;
        nnopt__optim_args part = nnopt__slice(a, off, a->n - off < chunk ? a->n - off : chunk);
        kernel(&part);
        for (q = 0; q < 2; q++) {
            if (!maxima) { partial[c][q] = nnopt__sum_lanes(part.sum[q]); continue; }
            partial[c][q] = part.sum[q][0];
            for (l = 1; l < 16; l++)
                if (part.sum[q][l] > partial[c][q]) partial[c][q] = part.sum[q][l];
        }
    }
    total[0] = total[1] = 0.0;
    for (c = 0; c < count; c++)
        for (q = 0; q < 2; q++) {
            if (!maxima) total[q] += partial[c][q];
            else if (partial[c][q] > total[q]) total[q] = partial[c][q];
        }
}

#define NNOPT__RUN(k, a)           nnopt__run(NNOPT__PICK(k), (a))
#define NNOPT__RUN_REDUCE(k, a, t) nnopt__run_reduce(NNOPT__PICK(k), (a), (t), 0)
#define NNOPT__RUN_MAX(k, a, t)    nnopt__run_reduce(NNOPT__PICK(k), (a), (t), 1)

/* ---- The optimizer object ------------------------------------------------------------ */

typedef struct nnopt__group_state {
    nnopt_group g;
    size_t   offset;        /* first element in the flat vector and in every state buffer */
    uint64_t step;          /* this group's updates so far (torch's per-parameter step) */
    double   mu_product;    /* NAdam: product of the momentum schedule */
    double   eta, mu;       /* ASGD: step size and averaging weight for the next update */
    uint64_t averaged;      /* updates that entered the SWA/EMA average */
} nnopt__group_state;

struct nnopt_optimizer {
    nnopt_hparams       h;
    size_t              n;          /* all groups */
    size_t              ngroups;
    nnopt__group_state *groups;
    unsigned            layout;     /* bit k: state buffer k exists */
    float              *state[NNOPT__MAX_STATE];
    uint64_t            steps;      /* successful nnopt_step calls */
    void               *allocation; /* what nnopt_destroy frees; NULL in caller memory */
};

static const char *const nnopt__kind_names[NNOPT_KIND_COUNT] = {
    "sgd", "adam", "adamw", "adagrad", "rmsprop", "adadelta", "adamax", "nadam", "radam",
    "rprop", "asgd", "lion", "adabelief", "yogi", "lamb", "lars"
};

NNOPT_API const char *nnopt_kind_name(nnopt_kind kind)
{
    return ((int)kind >= 0 && kind < NNOPT_KIND_COUNT) ? nnopt__kind_names[kind] : "unknown";
}

/* The reference libraries' defaults: torch.optim 2.x for the torch kinds; Lion from the
   authors' code (google/automl), AdaBelief from adabelief-pytorch 0.2 (decoupled decay,
   rectification), Yogi, LAMB and LARS from optax (which has no default lr: Yogi takes 1e-2
   as TF-Addons, LAMB 1e-3 and LARS 1.0 as timm). */
NNOPT_API nnopt_hparams nnopt_defaults(nnopt_kind kind)
{
    nnopt_hparams h;
    memset(&h, 0, sizeof h);
    h.kind = kind;
    h.lr = 1e-3;
    h.beta1 = 0.9; h.beta2 = 0.999; h.eps = 1e-8;
    h.alpha = 0.99; h.rho = 0.9; h.momentum_decay = 4e-3;
    h.eta_minus = 0.5; h.eta_plus = 1.2; h.step_size_min = 1e-6; h.step_size_max = 50;
    h.lambd = 1e-4; h.t0 = 1e6;
    h.trust_coefficient = 1e-3;
    h.average_decay = 0.999;       /* torch swa_utils.get_ema_avg_fn */
    h.lookahead_alpha = 0.5;       /* Lookahead paper and timm (timm k = 6, paper k = 5) */
    switch (kind) {
    case NNOPT_SGD: case NNOPT_ADAM: case NNOPT_RADAM: break;
    case NNOPT_ADAMW:     h.weight_decay = 1e-2; h.decoupled_weight_decay = 1; break;
    case NNOPT_ADAGRAD:   h.lr = 1e-2; h.eps = 1e-10; break;
    case NNOPT_RMSPROP:   h.lr = 1e-2; break;
    case NNOPT_ADADELTA:  h.lr = 1.0; h.eps = 1e-6; break;
    case NNOPT_ADAMAX:    h.lr = 2e-3; break;
    case NNOPT_NADAM:     h.lr = 2e-3; break;
    case NNOPT_RPROP:     h.lr = 1e-2; break;
    case NNOPT_ASGD:      h.lr = 1e-2; h.alpha = 0.75; break;
    case NNOPT_LION:      h.lr = 1e-4; h.beta2 = 0.99; h.decoupled_weight_decay = 1; break;
    case NNOPT_ADABELIEF: h.eps = 1e-16; h.decoupled_weight_decay = 1; h.rectify = 1; break;
    case NNOPT_YOGI:      h.lr = 1e-2; h.eps = 1e-3; h.initial_accumulator_value = 1e-6; break;
    case NNOPT_LAMB:      h.eps = 1e-6; break;
    case NNOPT_LARS:      h.lr = 1.0; h.momentum = 0.9; h.eps = 0.0; break;
    case NNOPT_KIND_COUNT: break;
    }
    return h;
}

NNOPT_API nnopt_group nnopt_group_default(size_t n)
{
    nnopt_group g;
    g.n = n; g.lr_scale = 1.0; g.weight_decay_scale = 1.0; g.frozen = 0;
    return g;
}

/* Every double field of nnopt_hparams, in checkpoint order; then every int field. */
static const size_t nnopt__hp_doubles[] = {
    offsetof(nnopt_hparams, lr), offsetof(nnopt_hparams, weight_decay),
    offsetof(nnopt_hparams, momentum), offsetof(nnopt_hparams, dampening),
    offsetof(nnopt_hparams, beta1), offsetof(nnopt_hparams, beta2), offsetof(nnopt_hparams, eps),
    offsetof(nnopt_hparams, alpha), offsetof(nnopt_hparams, rho), offsetof(nnopt_hparams, lr_decay),
    offsetof(nnopt_hparams, initial_accumulator_value), offsetof(nnopt_hparams, momentum_decay),
    offsetof(nnopt_hparams, eta_minus), offsetof(nnopt_hparams, eta_plus),
    offsetof(nnopt_hparams, step_size_min), offsetof(nnopt_hparams, step_size_max),
    offsetof(nnopt_hparams, lambd), offsetof(nnopt_hparams, t0),
    offsetof(nnopt_hparams, trust_coefficient), offsetof(nnopt_hparams, average_decay),
    offsetof(nnopt_hparams, lookahead_alpha)
};
static const size_t nnopt__hp_ints[] = {
    offsetof(nnopt_hparams, decoupled_weight_decay), offsetof(nnopt_hparams, maximize),
    offsetof(nnopt_hparams, nesterov), offsetof(nnopt_hparams, amsgrad),
    offsetof(nnopt_hparams, centered), offsetof(nnopt_hparams, rectify),
    offsetof(nnopt_hparams, nonfinite_guard), offsetof(nnopt_hparams, average),
    offsetof(nnopt_hparams, average_warmup), offsetof(nnopt_hparams, average_start),
    offsetof(nnopt_hparams, lookahead_k)
};
#define NNOPT__HP_DOUBLES (sizeof nnopt__hp_doubles / sizeof nnopt__hp_doubles[0])
#define NNOPT__HP_INTS    (sizeof nnopt__hp_ints / sizeof nnopt__hp_ints[0])
#define NNOPT__HP_DOUBLE(h, i) (*(double *)((char *)(h) + nnopt__hp_doubles[i]))
#define NNOPT__HP_INT(h, i)    (*(int *)((char *)(h) + nnopt__hp_ints[i]))

static int nnopt__unit(double b) { return b >= 0 && b < 1; }   /* a beta: [0, 1) */

static int nnopt__hparams_valid(const nnopt_hparams *h)
{
    size_t i;
    if (!h || (int)h->kind < 0 || h->kind >= NNOPT_KIND_COUNT) return 0;
    for (i = 0; i < NNOPT__HP_DOUBLES; i++)
        if (!nnopt__finite(NNOPT__HP_DOUBLE((nnopt_hparams *)h, i))) return 0;
    if (h->lr < 0 || h->weight_decay < 0 || h->eps < 0) return 0;
    if (h->average < NNOPT_AVERAGE_NONE || h->average > NNOPT_AVERAGE_EMA || h->average_start < 0 ||
        h->average_decay < 0 || h->average_decay > 1 || h->lookahead_k < 0 ||
        h->lookahead_alpha < 0 || h->lookahead_alpha > 1)
        return 0;
    switch (h->kind) {
    case NNOPT_SGD:
        return h->momentum >= 0 && (!h->nesterov || (h->momentum > 0 && h->dampening == 0));
    case NNOPT_ADAM: case NNOPT_ADAMW: case NNOPT_ADAMAX: case NNOPT_RADAM: case NNOPT_LION:
    case NNOPT_ADABELIEF:
        return nnopt__unit(h->beta1) && nnopt__unit(h->beta2);
    case NNOPT_NADAM:
        return nnopt__unit(h->beta1) && nnopt__unit(h->beta2) && h->momentum_decay >= 0;
    case NNOPT_YOGI:
        return nnopt__unit(h->beta1) && nnopt__unit(h->beta2) && h->initial_accumulator_value >= 0;
    case NNOPT_LAMB:
        return nnopt__unit(h->beta1) && nnopt__unit(h->beta2) && !h->decoupled_weight_decay;
    case NNOPT_ADAGRAD:
        return h->lr_decay >= 0 && h->initial_accumulator_value >= 0;
    case NNOPT_RMSPROP:
        return h->alpha >= 0 && h->momentum >= 0;
    case NNOPT_ADADELTA:
        return h->rho >= 0 && h->rho <= 1;
    case NNOPT_RPROP:
        return h->eta_minus > 0 && h->eta_minus < 1 && h->eta_plus > 1 &&
               h->step_size_min >= 0 && h->step_size_min <= h->step_size_max;
    case NNOPT_ASGD:
        return h->lambd >= 0 && h->t0 >= 0;
    case NNOPT_LARS:
        return h->momentum >= 0 && h->trust_coefficient >= 0 && !h->decoupled_weight_decay &&
               (!h->nesterov || h->momentum > 0);
    case NNOPT_KIND_COUNT: break;
    }
    return 0;
}

/* Which state buffers an optimizer keeps (bit k: buffer k). */
static unsigned nnopt__kind_layout(const nnopt_hparams *h);
static unsigned nnopt__layout(const nnopt_hparams *h)
{
    return nnopt__kind_layout(h) | (h->average ? 1u << NNOPT__AVERAGE_BUF : 0u) |
           (h->lookahead_k ? 1u << NNOPT__SLOW_BUF : 0u);
}
static unsigned nnopt__kind_layout(const nnopt_hparams *h)
{
    switch (h->kind) {
    case NNOPT_SGD:       return h->momentum != 0 ? 1u : 0u;                /* momentum */
    case NNOPT_ADAM: case NNOPT_ADAMW:
                          return h->amsgrad ? 7u : 3u;                      /* m, v, vmax */
    case NNOPT_ADAGRAD:   return 1u;                                        /* sum */
    case NNOPT_RMSPROP:   return 1u | (h->momentum > 0 ? 2u : 0u) | (h->centered ? 4u : 0u);
                                                            /* square_avg, momentum, grad_avg */
    case NNOPT_ADADELTA:  return 3u;                                        /* square_avg, acc_delta */
    case NNOPT_ADAMAX:    return 3u;                                        /* m, u */
    case NNOPT_NADAM: case NNOPT_RADAM: case NNOPT_YOGI:
                          return 3u;                                        /* m, v */
    case NNOPT_LAMB:      return 7u;                                        /* m, v, update */
    case NNOPT_RPROP:     return 3u;                                        /* prev, step_size */
    case NNOPT_ASGD:      return 1u;                                        /* ax */
    case NNOPT_LION:      return 1u;                                        /* m */
    case NNOPT_ADABELIEF: return h->amsgrad ? 7u : 3u;                      /* m, s, smax */
    case NNOPT_LARS:      return h->momentum != 0 ? 1u : 0u;                /* momentum */
    case NNOPT_KIND_COUNT: break;
    }
    return 0;
}

static int nnopt__group_valid(const nnopt_group *g)
{
    return nnopt__finite(g->lr_scale) && g->lr_scale >= 0 &&
           nnopt__finite(g->weight_decay_scale) && g->weight_decay_scale >= 0;
}

static int nnopt__state_count(unsigned layout)   /* buffers in a layout */
{
    int k, c = 0;
    for (k = 0; k < NNOPT__MAX_STATE; k++) c += (layout >> k) & 1u;
    return c;
}

/* x rounded up to a multiple of NNOPT__ALIGN. */
static size_t nnopt__align_up(size_t x)
{
    return (x + NNOPT__ALIGN - 1) & ~(size_t)(NNOPT__ALIGN - 1);
}

/* Bytes for an optimizer: struct, group table, then each state buffer, all 64-byte aligned
   (plus slack to align caller memory). 0 if the arguments are invalid or sizes overflow. */
static size_t nnopt__layout_bytes(const nnopt_hparams *h, const nnopt_group *groups,
                                  size_t ngroups, size_t *total_n, size_t *group_bytes,
                                  size_t *buffer_bytes)
{
    size_t n = 0, gbytes, bbytes, i, bytes;
    int nbuf;
    if (!nnopt__hparams_valid(h) || !groups || ngroups == 0) return 0;
    for (i = 0; i < ngroups; i++) {
        if (!nnopt__group_valid(&groups[i]) || groups[i].n > SIZE_MAX - n) return 0;
        n += groups[i].n;
    }
    if (ngroups > (SIZE_MAX / 2) / sizeof(nnopt__group_state)) return 0;
    gbytes = nnopt__align_up(ngroups * sizeof(nnopt__group_state));
    if (n > (SIZE_MAX / 2) / sizeof(float) - 8192) return 0;
    /* Buffers start 320 bytes apart modulo 4096, so the streams of one update do not alias
       in the 4K-indexed load/store disambiguation (which slows large updates by ~10%). */
    bbytes = ((n * sizeof(float) + 4095) & ~(size_t)4095) + 320;
    nbuf = nnopt__state_count(nnopt__layout(h));
    /* the struct, the groups, and slack for caller memory of any alignment */
    bytes = nnopt__align_up(sizeof(nnopt_optimizer)) + gbytes + NNOPT__ALIGN;
    if (nbuf && bbytes > (SIZE_MAX - bytes) / (size_t)nbuf) return 0;
    bytes += bbytes * (size_t)nbuf;
    *total_n = n; *group_bytes = gbytes; *buffer_bytes = bbytes;
    return bytes;
}

NNOPT_API size_t nnopt_memory_size(const nnopt_hparams *h, const nnopt_group *groups, size_t ngroups)
{
    size_t n, gb, bb;
    return nnopt__layout_bytes(h, groups, ngroups, &n, &gb, &bb);
}

/* Fills the initial state (torch initializes Adagrad's sum, Yogi both moments). */
static void nnopt__reset_state(nnopt_optimizer *opt)
{
    size_t i, k;
    float init = 0.0f;
    if (opt->h.kind == NNOPT_ADAGRAD || opt->h.kind == NNOPT_YOGI)
        init = (float)opt->h.initial_accumulator_value;
    for (k = 0; k < NNOPT__MAX_STATE; k++) {
        float v = (k < 2 && (opt->h.kind == NNOPT_YOGI || k == 0)) ? init : 0.0f;
        if (!opt->state[k]) continue;
        if (v == 0.0f) memset(opt->state[k], 0, opt->n * sizeof(float));
        else for (i = 0; i < opt->n; i++) opt->state[k][i] = v;
    }
    for (i = 0; i < opt->ngroups; i++) {
        opt->groups[i].step = 0;
        opt->groups[i].mu_product = 1.0;
        opt->groups[i].eta = 0.0;    /* ASGD: the group's lr, taken at its first step */
        opt->groups[i].mu = 1.0;
        opt->groups[i].averaged = 0;
    }
    opt->steps = 0;
}

NNOPT_API nnopt_optimizer *nnopt_init(void *memory, size_t bytes, const nnopt_hparams *h,
                                      const nnopt_group *groups, size_t ngroups)
{
    size_t need, n, gbytes, bbytes, i, offset = 0;
    uintptr_t base;
    nnopt_optimizer *opt;
    int k;
    char *next;
    need = nnopt__layout_bytes(h, groups, ngroups, &n, &gbytes, &bbytes);
    if (!memory || need == 0 || bytes < need) return NULL;
    base = ((uintptr_t)memory + NNOPT__ALIGN - 1) & ~(uintptr_t)(NNOPT__ALIGN - 1);
    opt = (nnopt_optimizer *)base;
    memset(opt, 0, sizeof *opt);
    next = (char *)base + nnopt__align_up(sizeof(nnopt_optimizer));
    opt->h = *h;
    opt->n = n;
    opt->ngroups = ngroups;
    opt->groups = (nnopt__group_state *)next;
    next += gbytes;
    for (i = 0; i < ngroups; i++) {
        opt->groups[i].g = groups[i];
        opt->groups[i].offset = offset;
        offset += groups[i].n;
    }
    opt->layout = nnopt__layout(h);
    for (k = 0; k < NNOPT__MAX_STATE; k++) {
        if (!((opt->layout >> k) & 1u)) continue;
        opt->state[k] = (float *)next;
        next += bbytes;
    }
    nnopt__reset_state(opt);
    return opt;
}

NNOPT_API nnopt_optimizer *nnopt_create_groups(const nnopt_hparams *h, const nnopt_group *groups,
                                               size_t ngroups)
{
    size_t bytes = nnopt_memory_size(h, groups, ngroups);
    void *memory;
    nnopt_optimizer *opt;
    if (bytes == 0) return NULL;
    memory = NNOPT_MALLOC(bytes);
    if (!memory) return NULL;
    opt = nnopt_init(memory, bytes, h, groups, ngroups);
    NNOPT_ASSERT(opt != NULL);
    opt->allocation = memory;
    return opt;
}

NNOPT_API nnopt_optimizer *nnopt_create(const nnopt_hparams *h, size_t n)
{
    nnopt_group g = nnopt_group_default(n);
    return nnopt_create_groups(h, &g, 1);
}

NNOPT_API void nnopt_destroy(nnopt_optimizer *opt)
{
    if (opt && opt->allocation) NNOPT_FREE(opt->allocation);
}

/* ---- Stepping ------------------------------------------------------------------------ */

/* Arguments for a pass over one group's parameters and one of its buffers (s[0]). */
static nnopt__optim_args nnopt__buffer_args(const nnopt_optimizer *opt, const nnopt__group_state *gs,
                                            float *param, int buffer)
{
    nnopt__optim_args a;
    memset(&a, 0, sizeof a);
    a.n = gs->g.n;
    a.param = param;
    a.s[0] = opt->state[buffer] + gs->offset;
    return a;
}

/* Before a group's first update, Lookahead's slow weights start as the parameters. */
static void nnopt__before_update(nnopt_optimizer *opt, nnopt__group_state *gs, float *param)
{
    if (opt->h.lookahead_k && gs->step == 0) {
        nnopt__optim_args a = nnopt__buffer_args(opt, gs, param, NNOPT__SLOW_BUF);
        a.k.average.mode = 0;                        /* copy */
        NNOPT__RUN(average, &a);
    }
}

/* After it: every k-th step Lookahead pulls the parameters back to slow + alpha (p - slow),
   then the parameters enter the SWA or EMA average (from average_start on). */
static void nnopt__after_update(nnopt_optimizer *opt, nnopt__group_state *gs, float *param)
{
    const nnopt_hparams *h = &opt->h;
    if (h->lookahead_k && gs->step % (uint64_t)h->lookahead_k == 0) {
        nnopt__optim_args a = nnopt__buffer_args(opt, gs, param, NNOPT__SLOW_BUF);
        a.k.lookahead.alpha = (float)h->lookahead_alpha;
        NNOPT__RUN(lookahead, &a);
    }
    if (h->average && gs->step >= (uint64_t)h->average_start) {
        nnopt__optim_args a = nnopt__buffer_args(opt, gs, param, NNOPT__AVERAGE_BUF);
        double n = (double)gs->averaged, decay = h->average_decay;
        if (h->average_warmup && (1.0 + n) / (10.0 + n) < decay) decay = (1.0 + n) / (10.0 + n);
        a.k.average.mode = gs->averaged == 0 ? 0 : h->average;
        a.k.average.divisor = (float)(n + 1.0);
        a.k.average.decay = (float)decay;
        a.k.average.one_minus_decay = (float)(1.0 - decay);
        NNOPT__RUN(average, &a);
        gs->averaged++;
    }
}

/* One group's update at step t = gs->step + 1: per-step coefficients in double, rounded
   once, then the kernel. */
static void nnopt__step_group(nnopt_optimizer *opt, nnopt__group_state *gs, float *param,
                              const float *grad)
{
    const nnopt_hparams *h = &opt->h;
    const double lr = h->lr * gs->g.lr_scale, wd = h->weight_decay * gs->g.weight_decay_scale;
    const double t = (double)(gs->step + 1), b1 = h->beta1, b2 = h->beta2;
    const double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
    nnopt__optim_args a;
    double sums[2];
    int k;

    memset(&a, 0, sizeof a);
    a.n = gs->g.n;
    a.param = param;
    a.grad = grad;
    for (k = 0; k < NNOPT__MAX_STATE; k++) a.s[k] = opt->state[k] ? opt->state[k] + gs->offset : NULL;
    a.maximize = h->maximize != 0;
    a.decay = 1.0f;
    a.first_step = gs->step == 0;
    nnopt__before_update(opt, gs, param);
    if (wd != 0 && h->kind != NNOPT_LAMB && h->kind != NNOPT_LARS) {  /* those decay inside */
        if (h->decoupled_weight_decay) a.decay = (float)(1.0 - lr * wd);
        else a.weight_decay = (float)wd;
    }

    switch (h->kind) {
    case NNOPT_SGD:
        a.k.sgd.momentum = (float)h->momentum;
        a.k.sgd.one_minus_dampening = (float)(1.0 - h->dampening);
        a.k.sgd.neg_lr = (float)-lr;
        a.k.sgd.nesterov = h->nesterov != 0;
        NNOPT__RUN(sgd, &a);
        break;
    case NNOPT_ADAM: case NNOPT_ADAMW:
        a.k.adam.beta1 = (float)b1; a.k.adam.one_minus_beta1 = (float)(1.0 - b1);
        a.k.adam.beta2 = (float)b2; a.k.adam.one_minus_beta2 = (float)(1.0 - b2);
        a.k.adam.inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
        a.k.adam.eps = (float)h->eps;
        a.k.adam.neg_step_size = (float)(-lr / bc1);
        a.k.adam.amsgrad = h->amsgrad != 0;
        NNOPT__RUN(adam, &a);
        break;
    case NNOPT_ADAGRAD:
        a.k.adagrad.eps = (float)h->eps;
        a.k.adagrad.neg_clr = (float)(-lr / (1.0 + (t - 1.0) * h->lr_decay));
        NNOPT__RUN(adagrad, &a);
        break;
    case NNOPT_RMSPROP:
        a.k.rmsprop.alpha = (float)h->alpha;
        a.k.rmsprop.one_minus_alpha = (float)(1.0 - h->alpha);
        a.k.rmsprop.eps = (float)h->eps;
        a.k.rmsprop.momentum = (float)h->momentum;
        a.k.rmsprop.neg_lr = (float)-lr;
        a.k.rmsprop.centered = h->centered != 0;
        NNOPT__RUN(rmsprop, &a);
        break;
    case NNOPT_ADADELTA:
        a.k.adadelta.rho = (float)h->rho;
        a.k.adadelta.one_minus_rho = (float)(1.0 - h->rho);
        a.k.adadelta.eps = (float)h->eps;
        a.k.adadelta.neg_lr = (float)-lr;
        NNOPT__RUN(adadelta, &a);
        break;
    case NNOPT_ADAMAX:
        a.k.adamax.beta1 = (float)b1; a.k.adamax.one_minus_beta1 = (float)(1.0 - b1);
        a.k.adamax.beta2 = (float)b2;
        a.k.adamax.eps = (float)h->eps;
        a.k.adamax.neg_clr = (float)(-lr / bc1);
        NNOPT__RUN(adamax, &a);
        break;
    case NNOPT_NADAM: {
        /* momentum schedule mu_t = beta1 (1 - 0.96^(t psi) / 2); the product up to t and the
           one-step look-ahead product (torch >= 2.0; 1.13's single-tensor path had an extra
           mu_t factor, a bug fixed upstream). */
        double mu_t = b1 * (1.0 - 0.5 * pow(0.96, t * h->momentum_decay));
        double mu_next = b1 * (1.0 - 0.5 * pow(0.96, (t + 1.0) * h->momentum_decay));
        double product = gs->mu_product * mu_t;
        a.k.nadam.beta1 = (float)b1; a.k.nadam.one_minus_beta1 = (float)(1.0 - b1);
        a.k.nadam.beta2 = (float)b2; a.k.nadam.one_minus_beta2 = (float)(1.0 - b2);
        a.k.nadam.inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
        a.k.nadam.eps = (float)h->eps;
        a.k.nadam.grad_coef = (float)(-lr * (1.0 - mu_t) / (1.0 - product));
        a.k.nadam.momentum_coef = (float)(-lr * mu_next / (1.0 - product * mu_next));
        NNOPT__RUN(nadam, &a);
        gs->mu_product = product;
        break;
    }
    case NNOPT_RADAM: {
        double rho_inf = 2.0 / (1.0 - b2) - 1.0;
        double rho_t = rho_inf - 2.0 * t * pow(b2, t) / bc2;
        a.k.radam.beta1 = (float)b1; a.k.radam.one_minus_beta1 = (float)(1.0 - b1);
        a.k.radam.beta2 = (float)b2; a.k.radam.one_minus_beta2 = (float)(1.0 - b2);
        a.k.radam.eps = (float)h->eps;
        a.k.radam.rectified = rho_t > 5.0;
        if (a.k.radam.rectified) {
            double rect = sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf /
                               ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t));
            a.k.radam.coef = (float)(-lr * rect * sqrt(bc2) / bc1);
        } else {
            a.k.radam.coef = (float)(-lr / bc1);
        }
        NNOPT__RUN(radam, &a);
        break;
    }
    case NNOPT_RPROP:
        a.k.rprop.eta_minus = (float)h->eta_minus;
        a.k.rprop.eta_plus = (float)h->eta_plus;
        a.k.rprop.step_min = (float)h->step_size_min;
        a.k.rprop.step_max = (float)h->step_size_max;
        a.k.rprop.lr = (float)lr;
        NNOPT__RUN(rprop, &a);
        break;
    case NNOPT_ASGD: {
        double eta = gs->step == 0 ? lr : gs->eta;
        a.k.asgd.decay = (float)(1.0 - h->lambd * eta);
        a.k.asgd.neg_eta = (float)-eta;
        a.k.asgd.mu = (float)gs->mu;
        NNOPT__RUN(asgd, &a);
        gs->eta = lr / pow(1.0 + h->lambd * lr * t, h->alpha);
        gs->mu = 1.0 / (t - h->t0 > 1.0 ? t - h->t0 : 1.0);
        break;
    }
    case NNOPT_LION:
        a.k.lion.beta1 = (float)b1; a.k.lion.one_minus_beta1 = (float)(1.0 - b1);
        a.k.lion.beta2 = (float)b2; a.k.lion.one_minus_beta2 = (float)(1.0 - b2);
        a.k.lion.neg_lr = (float)-lr;
        NNOPT__RUN(lion, &a);
        break;
    case NNOPT_ADABELIEF:
        a.k.adabelief.beta1 = (float)b1; a.k.adabelief.one_minus_beta1 = (float)(1.0 - b1);
        a.k.adabelief.beta2 = (float)b2; a.k.adabelief.one_minus_beta2 = (float)(1.0 - b2);
        a.k.adabelief.eps = (float)h->eps;
        a.k.adabelief.inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
        a.k.adabelief.amsgrad = h->amsgrad != 0;
        a.k.adabelief.mode = 0;                        /* Adam-like */
        a.k.adabelief.coef = (float)(-lr / bc1);
        if (h->rectify) {                              /* RAdam-like, threshold N_t >= 5 */
            double n_inf = 2.0 / (1.0 - b2) - 1.0;
            double n_t = n_inf - 2.0 * t * pow(b2, t) / bc2;
            if (n_t >= 5.0) {
                a.k.adabelief.mode = 1;
                a.k.adabelief.coef = (float)(-lr * sqrt(bc2 * (n_t - 4.0) / (n_inf - 4.0) *
                                             (n_t - 2.0) / n_t * n_inf / (n_inf - 2.0)) / bc1);
            } else {
                a.k.adabelief.mode = 2;                /* momentum SGD until rectifiable */
            }
        }
        NNOPT__RUN(adabelief, &a);
        break;
    case NNOPT_YOGI:
        a.k.yogi.beta1 = (float)b1; a.k.yogi.one_minus_beta1 = (float)(1.0 - b1);
        a.k.yogi.neg_one_minus_beta2 = (float)-(1.0 - b2);
        a.k.yogi.inv_bc1 = (float)(1.0 / bc1);
        a.k.yogi.inv_bc2 = (float)(1.0 / bc2);
        a.k.yogi.eps = (float)h->eps;
        a.k.yogi.neg_lr = (float)-lr;
        NNOPT__RUN(yogi, &a);
        break;
    case NNOPT_LAMB: {
        double pn, un, ratio;
        a.k.lamb.beta1 = (float)b1; a.k.lamb.one_minus_beta1 = (float)(1.0 - b1);
        a.k.lamb.beta2 = (float)b2; a.k.lamb.one_minus_beta2 = (float)(1.0 - b2);
        a.k.lamb.inv_bc1 = (float)(1.0 / bc1);
        a.k.lamb.inv_bc2 = (float)(1.0 / bc2);
        a.k.lamb.eps = (float)h->eps;
        a.k.lamb.weight_decay = (float)wd;
        NNOPT__RUN_REDUCE(lamb_moments, &a, sums);     /* m, v, u; sums |p|^2, |u|^2 */
        pn = sqrt(sums[0]); un = sqrt(sums[1]);
        ratio = (pn == 0.0 || un == 0.0) ? 1.0 : pn / un;
        a.k.lamb.neg_lr_ratio = (float)(-lr * ratio);
        NNOPT__RUN(lamb_apply, &a);
        break;
    }
    case NNOPT_LARS: {
        double pn, un, ratio;
        a.k.lars.weight_decay = (float)wd;
        a.k.lars.momentum = (float)h->momentum;
        a.k.lars.nesterov = h->nesterov != 0;
        NNOPT__RUN_REDUCE(lars_norms, &a, sums);       /* |p|^2, |g + wd p|^2 */
        pn = sqrt(sums[0]); un = sqrt(sums[1]);
        ratio = (pn == 0.0 || un == 0.0) ? 1.0 : h->trust_coefficient * pn / (un + h->eps);
        a.k.lars.neg_lr_ratio = (float)(-lr * ratio);
        NNOPT__RUN(lars_apply, &a);
        break;
    }
    case NNOPT_KIND_COUNT:
        NNOPT_ASSERT(0);
        break;
    }
    gs->step++;
    nnopt__after_update(opt, gs, param);
}

/* Parameter and gradient arrays of group i, from one flat pair or from per-group arrays. */
#define NNOPT__GROUP_PARAM(opt, i, flat, arrays) \
    ((arrays) ? (arrays)[i] : (flat) ? (flat) + (opt)->groups[i].offset : (float *)NULL)

static nnopt_status nnopt__step(nnopt_optimizer *opt, float *flat_param, const float *flat_grad,
                                float *const *params, const float *const *grads)
{
    size_t i;
    for (i = 0; i < opt->ngroups; i++) {
        size_t n = opt->groups[i].g.n;
        const float *p = NNOPT__GROUP_PARAM(opt, i, flat_param, params);
        const float *g = NNOPT__GROUP_PARAM(opt, i, flat_grad, grads);
        if (opt->groups[i].g.frozen) continue;
        if (!nnopt__ptr_ok(p, n) || !nnopt__ptr_ok(g, n) || nnopt__overlap(p, g, n * sizeof(float)))
            return NNOPT_ERR_INVALID;
    }
    if (opt->h.nonfinite_guard)
        for (i = 0; i < opt->ngroups; i++)
            if (!opt->groups[i].g.frozen &&
                !nnopt__all_finite(NNOPT__GROUP_PARAM(opt, i, flat_grad, grads), opt->groups[i].g.n))
                return NNOPT_ERR_NONFINITE;
    for (i = 0; i < opt->ngroups; i++)
        if (!opt->groups[i].g.frozen)
            nnopt__step_group(opt, &opt->groups[i], NNOPT__GROUP_PARAM(opt, i, flat_param, params),
                              NNOPT__GROUP_PARAM(opt, i, flat_grad, grads));
    opt->steps++;
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_step(nnopt_optimizer *opt, float *param, const float *grad)
{
    if (!opt) return NNOPT_ERR_INVALID;
    if (!nnopt__ptr_ok(param, opt->n) || !nnopt__ptr_ok(grad, opt->n) ||
        nnopt__overlap(param, grad, opt->n * sizeof(float)))
        return NNOPT_ERR_INVALID;
    return nnopt__step(opt, param, grad, NULL, NULL);
}

NNOPT_API nnopt_status nnopt_step_groups(nnopt_optimizer *opt, float *const *params,
                                         const float *const *grads)
{
    if (!opt || !params || !grads) return NNOPT_ERR_INVALID;
    return nnopt__step(opt, NULL, NULL, params, grads);
}

/* ---- Hyper-parameters and groups ----------------------------------------------------- */

NNOPT_API const nnopt_hparams *nnopt_get_hparams(const nnopt_optimizer *opt)
{
    return opt ? &opt->h : NULL;
}

NNOPT_API nnopt_status nnopt_set_hparams(nnopt_optimizer *opt, const nnopt_hparams *h)
{
    if (!opt || !nnopt__hparams_valid(h) || h->kind != opt->h.kind ||
        nnopt__layout(h) != opt->layout)
        return NNOPT_ERR_INVALID;
    opt->h = *h;
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_set_lr(nnopt_optimizer *opt, double lr)
{
    nnopt_hparams h;
    if (!opt) return NNOPT_ERR_INVALID;
    h = opt->h;
    h.lr = lr;
    return nnopt_set_hparams(opt, &h);
}

NNOPT_API size_t nnopt_group_count(const nnopt_optimizer *opt) { return opt ? opt->ngroups : 0; }
NNOPT_API size_t nnopt_param_count(const nnopt_optimizer *opt) { return opt ? opt->n : 0; }
NNOPT_API uint64_t nnopt_step_count(const nnopt_optimizer *opt) { return opt ? opt->steps : 0; }

NNOPT_API nnopt_status nnopt_get_group(const nnopt_optimizer *opt, size_t index, nnopt_group *out)
{
    if (!opt || !out || index >= opt->ngroups) return NNOPT_ERR_INVALID;
    *out = opt->groups[index].g;
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_set_group(nnopt_optimizer *opt, size_t index, const nnopt_group *g)
{
    if (!opt || !g || index >= opt->ngroups || g->n != opt->groups[index].g.n || !nnopt__group_valid(g))
        return NNOPT_ERR_INVALID;
    opt->groups[index].g = *g;
    return NNOPT_OK;
}

NNOPT_API const float *nnopt_averaged_params(const nnopt_optimizer *opt)
{
    if (!opt) return NULL;
    if (opt->h.average) return opt->state[NNOPT__AVERAGE_BUF];
    return opt->h.kind == NNOPT_ASGD ? opt->state[0] : NULL;
}

/* ---- Averaging outside an optimizer ---------------------------------------------------- */

static nnopt_status nnopt__average_into(float *avg, const float *p, size_t n, int mode,
                                        double divisor, double decay)
{
    nnopt__optim_args a;
    if (!nnopt__ptr_ok(avg, n) || !nnopt__ptr_ok(p, n) || nnopt__overlap(avg, p, n * sizeof(float)))
        return NNOPT_ERR_INVALID;
    memset(&a, 0, sizeof a);
    a.n = n;
    a.param = (float *)p;          /* read only */
    a.s[0] = avg;
    a.k.average.mode = mode;
    a.k.average.divisor = (float)divisor;
    a.k.average.decay = (float)decay;
    a.k.average.one_minus_decay = (float)(1.0 - decay);
    NNOPT__RUN(average, &a);
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_swa_update(float *avg, const float *p, size_t n, uint64_t count)
{
    return nnopt__average_into(avg, p, n, count ? NNOPT_AVERAGE_SWA : 0, (double)count + 1.0, 0.0);
}

NNOPT_API nnopt_status nnopt_ema_update(float *avg, const float *p, size_t n, double decay,
                                        uint64_t count)
{
    if (!nnopt__finite(decay) || decay < 0 || decay > 1) return NNOPT_ERR_INVALID;
    return nnopt__average_into(avg, p, n, count ? NNOPT_AVERAGE_EMA : 0, 1.0, decay);
}

/* Softmax of each model's row (max subtracted, in double), averaged over the models. One code
   path, so every build gives the same bits for the same libm. */
NNOPT_API nnopt_status nnopt_ensemble_softmax(const float *const *logits, size_t models,
                                              size_t rows, size_t classes, float *probs)
{
    size_t m, r, c;
    if (!logits || !probs || models == 0 || classes == 0 || rows > SIZE_MAX / classes ||
        !nnopt__ptr_ok(probs, rows * classes))
        return NNOPT_ERR_INVALID;
    for (m = 0; m < models; m++)
        if (!nnopt__ptr_ok(logits[m], rows * classes) ||
            nnopt__overlap(logits[m], probs, rows * classes * sizeof(float)))
            return NNOPT_ERR_INVALID;
    for (r = 0; r < rows; r++) {
        float *out = probs + r * classes;
        for (c = 0; c < classes; c++) out[c] = 0.0f;
        for (m = 0; m < models; m++) {
            const float *x = logits[m] + r * classes;
            double top = x[0], sum = 0.0;
            for (c = 1; c < classes; c++) if (x[c] > top) top = x[c];
            for (c = 0; c < classes; c++) sum += exp((double)x[c] - top);
            for (c = 0; c < classes; c++)
                out[c] = (float)((double)out[c] + exp((double)x[c] - top) / sum / (double)models);
        }
    }
    return NNOPT_OK;
}

/* ---- Checkpoints ----------------------------------------------------------------------
   Little-endian: "NNOPTCKP", u32 format version, u32 kind, u32 D, u32 I, D f64 and I i32
   hyper-parameters (nnopt__hp_doubles/ints order), u64 total n, u64 groups, per group
   {u64 n, f64 lr_scale, f64 weight_decay_scale, u32 frozen, u32 0, u64 step, f64 mu_product,
   f64 eta, f64 mu, u64 averaged}, u64 steps, u32 state layout, u32 0, each state buffer present (n f32),
   and last the u64 FNV-1a hash of every byte before it. */
#define NNOPT__CKPT_VERSION 1u
#define NNOPT__CKPT_GROUP_BYTES 72u

static const unsigned char nnopt__ckpt_magic[8] = { 'N', 'N', 'O', 'P', 'T', 'C', 'K', 'P' };

static uint64_t nnopt__fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325u;
    size_t i;
    for (i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001B3u; }
    return h;
}

static unsigned char *nnopt__put(unsigned char *p, uint64_t v, int bytes)
{
    int i;
    for (i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
    return p + bytes;
}
static unsigned char *nnopt__put_f64(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return nnopt__put(p, v, 8);
}

/* Reads little-endian values while they fit; *ok drops to 0 at the first overrun. */
typedef struct { const unsigned char *p, *end; int ok; } nnopt__reader;
static uint64_t nnopt__get(nnopt__reader *r, int bytes)
{
    uint64_t v = 0;
    int i;
    if (!r->ok || (size_t)(r->end - r->p) < (size_t)bytes) { r->ok = 0; return 0; }
    for (i = 0; i < bytes; i++) v |= (uint64_t)r->p[i] << (8 * i);
    r->p += bytes;
    return v;
}
static double nnopt__get_f64(nnopt__reader *r)
{
    uint64_t v = nnopt__get(r, 8);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

NNOPT_API size_t nnopt_save_size(const nnopt_optimizer *opt)
{
    if (!opt) return 0;
    return 8 + 4 * 4 + 8 * NNOPT__HP_DOUBLES + 4 * NNOPT__HP_INTS + 8 + 8 +
           NNOPT__CKPT_GROUP_BYTES * opt->ngroups + 8 + 4 + 4 +
           sizeof(float) * opt->n * (size_t)nnopt__state_count(opt->layout) + 8;
}

NNOPT_API nnopt_status nnopt_save(const nnopt_optimizer *opt, void *buffer, size_t capacity)
{
    unsigned char *start = (unsigned char *)buffer, *p = start;
    size_t size = nnopt_save_size(opt), i, j;
    int k;
    if (!opt || !buffer || capacity < size) return NNOPT_ERR_INVALID;
    memcpy(p, nnopt__ckpt_magic, 8); p += 8;
    p = nnopt__put(p, NNOPT__CKPT_VERSION, 4);
    p = nnopt__put(p, (uint64_t)opt->h.kind, 4);
    p = nnopt__put(p, NNOPT__HP_DOUBLES, 4);
    p = nnopt__put(p, NNOPT__HP_INTS, 4);
    for (i = 0; i < NNOPT__HP_DOUBLES; i++) p = nnopt__put_f64(p, NNOPT__HP_DOUBLE(&opt->h, i));
    for (i = 0; i < NNOPT__HP_INTS; i++) p = nnopt__put(p, (uint32_t)NNOPT__HP_INT(&opt->h, i), 4);
    p = nnopt__put(p, opt->n, 8);
    p = nnopt__put(p, opt->ngroups, 8);
    for (i = 0; i < opt->ngroups; i++) {
        const nnopt__group_state *gs = &opt->groups[i];
        p = nnopt__put(p, gs->g.n, 8);
        p = nnopt__put_f64(p, gs->g.lr_scale);
        p = nnopt__put_f64(p, gs->g.weight_decay_scale);
        p = nnopt__put(p, gs->g.frozen != 0, 4);
        p = nnopt__put(p, 0, 4);
        p = nnopt__put(p, gs->step, 8);
        p = nnopt__put_f64(p, gs->mu_product);
        p = nnopt__put_f64(p, gs->eta);
        p = nnopt__put_f64(p, gs->mu);
        p = nnopt__put(p, gs->averaged, 8);
    }
    p = nnopt__put(p, opt->steps, 8);
    p = nnopt__put(p, opt->layout, 4);
    p = nnopt__put(p, 0, 4);
    for (k = 0; k < NNOPT__MAX_STATE; k++) {
        if (!opt->state[k]) continue;
        for (j = 0; j < opt->n; j++) {
            uint32_t bits;
            memcpy(&bits, &opt->state[k][j], sizeof bits);
            p = nnopt__put(p, bits, 4);
        }
    }
    p = nnopt__put(p, nnopt__fnv1a(start, (size_t)(p - start)), 8);
    NNOPT_ASSERT((size_t)(p - start) == size);
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_load(nnopt_optimizer *opt, const void *buffer, size_t size)
{
    const unsigned char *bytes = (const unsigned char *)buffer;
    nnopt__reader r;
    nnopt_hparams h;
    size_t i, j;
    int k;
    if (!opt || !buffer) return NNOPT_ERR_INVALID;
    /* Everything is checked before anything is written. */
    if (size != nnopt_save_size(opt) || memcmp(bytes, nnopt__ckpt_magic, 8) != 0)
        return NNOPT_ERR_FORMAT;
    r.p = bytes + size - 8; r.end = bytes + size; r.ok = 1;
    if (nnopt__get(&r, 8) != nnopt__fnv1a(bytes, size - 8)) return NNOPT_ERR_FORMAT;
    r.p = bytes + 8; r.end = bytes + size - 8;
    if (nnopt__get(&r, 4) != NNOPT__CKPT_VERSION || nnopt__get(&r, 4) != (uint64_t)opt->h.kind ||
        nnopt__get(&r, 4) != NNOPT__HP_DOUBLES || nnopt__get(&r, 4) != NNOPT__HP_INTS)
        return NNOPT_ERR_FORMAT;
    h = opt->h;
    for (i = 0; i < NNOPT__HP_DOUBLES; i++) NNOPT__HP_DOUBLE(&h, i) = nnopt__get_f64(&r);
    for (i = 0; i < NNOPT__HP_INTS; i++) NNOPT__HP_INT(&h, i) = (int)(int32_t)nnopt__get(&r, 4);
    if (!r.ok || !nnopt__hparams_valid(&h) || nnopt__layout(&h) != opt->layout ||
        nnopt__get(&r, 8) != opt->n || nnopt__get(&r, 8) != opt->ngroups)
        return NNOPT_ERR_FORMAT;
    for (i = 0; i < opt->ngroups; i++) {
        nnopt_group g;
        uint64_t frozen, reserved;
        g.n = (size_t)nnopt__get(&r, 8);
        g.lr_scale = nnopt__get_f64(&r);
        g.weight_decay_scale = nnopt__get_f64(&r);
        frozen = nnopt__get(&r, 4);
        reserved = nnopt__get(&r, 4);
        /* step, mu_product, eta, mu, averaged: state, taken as saved like the buffers (ASGD's
           eta is infinite after a step with a negative alpha, and must load back) */
        for (j = 0; j < 5; j++) (void)nnopt__get(&r, 8);
        if (!r.ok || g.n != opt->groups[i].g.n || frozen > 1 || reserved != 0 ||
            !nnopt__group_valid(&g))
            return NNOPT_ERR_FORMAT;
    }
    (void)nnopt__get(&r, 8);
    if (nnopt__get(&r, 4) != opt->layout || nnopt__get(&r, 4) != 0 || !r.ok) return NNOPT_ERR_FORMAT;

    /* Valid: commit. */
    opt->h = h;
    r.p = bytes + 8 + 4 * 4 + 8 * NNOPT__HP_DOUBLES + 4 * NNOPT__HP_INTS + 16;
    for (i = 0; i < opt->ngroups; i++) {
        nnopt__group_state *gs = &opt->groups[i];
        (void)nnopt__get(&r, 8);
        gs->g.lr_scale = nnopt__get_f64(&r);
        gs->g.weight_decay_scale = nnopt__get_f64(&r);
        gs->g.frozen = (int)nnopt__get(&r, 4);
        (void)nnopt__get(&r, 4);
        gs->step = nnopt__get(&r, 8);
        gs->mu_product = nnopt__get_f64(&r);
        gs->eta = nnopt__get_f64(&r);
        gs->mu = nnopt__get_f64(&r);
        gs->averaged = nnopt__get(&r, 8);
    }
    opt->steps = nnopt__get(&r, 8);
    (void)nnopt__get(&r, 8);
    for (k = 0; k < NNOPT__MAX_STATE; k++) {
        if (!opt->state[k]) continue;
        for (j = 0; j < opt->n; j++) {
            uint32_t bits = (uint32_t)nnopt__get(&r, 4);
            memcpy(&opt->state[k][j], &bits, sizeof bits);
        }
    }
    NNOPT_ASSERT(r.ok && r.p == r.end);
    return NNOPT_OK;
}

/* ---- Gradient clipping ---------------------------------------------------------------- */

NNOPT_API nnopt_status nnopt_clip_grad_norm_groups(float *const *grads, const size_t *sizes,
                                                   size_t count, double max_norm,
                                                   double norm_type, int error_if_nonfinite,
                                                   double *total_norm)
{
    double squares = 0, absolute = 0, largest = 0, norm, coef;
    size_t i;
    if ((count && (!grads || !sizes)) || !nnopt__finite(max_norm) || max_norm < 0 ||
        !(norm_type == 1.0 || norm_type == 2.0 || norm_type == (double)INFINITY))
        return NNOPT_ERR_INVALID;
    for (i = 0; i < count; i++)
        if (!nnopt__ptr_ok(grads[i], sizes[i])) return NNOPT_ERR_INVALID;
    for (i = 0; i < count; i++) {
        nnopt__optim_args a;
        double sums[2];
        memset(&a, 0, sizeof a);
        a.n = sizes[i];
        a.grad = grads[i];
        a.k.clip.absolute = norm_type == 1.0;
        NNOPT__RUN_REDUCE(grad_sums, &a, sums);           /* sum g^2 (and sum |g| for p = 1) */
        squares += sums[0];
        absolute += sums[1];
        if (norm_type == (double)INFINITY) {
            NNOPT__RUN_MAX(grad_max_abs, &a, sums);
            if (sums[0] > largest) largest = sums[0];
        }
    }
    /* NaN anywhere makes the sum of squares NaN, whatever the norm. */
    norm = norm_type == 2.0 ? sqrt(squares) : norm_type == 1.0 ? absolute : largest;
    if (squares != squares) norm = squares;
    if (error_if_nonfinite && !nnopt__finite(norm)) return NNOPT_ERR_NONFINITE;
    if (total_norm) *total_norm = norm;
    coef = max_norm / (norm + 1e-6);
    if (!(coef >= 1.0)) {                               /* clamp(coef, max=1), NaN included */
        for (i = 0; i < count; i++) {
            nnopt__optim_args a;
            memset(&a, 0, sizeof a);
            a.n = sizes[i];
            a.param = grads[i];
            a.k.clip.scale = (float)coef;
            NNOPT__RUN(grad_scale, &a);
        }
    }
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_clip_grad_norm(float *grad, size_t n, double max_norm,
                                            double norm_type, int error_if_nonfinite,
                                            double *total_norm)
{
    return nnopt_clip_grad_norm_groups(&grad, &n, 1, max_norm, norm_type, error_if_nonfinite,
                                       total_norm);
}

NNOPT_API nnopt_status nnopt_clip_grad_value(float *grad, size_t n, double clip_value)
{
    nnopt__optim_args a;
    if (!nnopt__ptr_ok(grad, n) || !nnopt__finite(clip_value) || clip_value < 0)
        return NNOPT_ERR_INVALID;
    memset(&a, 0, sizeof a);
    a.n = n;
    a.param = grad;
    a.k.clip.lo = (float)-clip_value;
    a.k.clip.hi = (float)clip_value;
    NNOPT__RUN(grad_clamp, &a);
    return NNOPT_OK;
}

#endif /* NNOPT_NO_OPTIM */

/* =====================================================================================
   Learning-rate schedules
   ===================================================================================== */
#ifndef NNOPT_NO_SCHED

/* Each schedule reproduces torch.optim.lr_scheduler step for step: the recursive ("chainable")
   get_lr on the group's current lr, the closed form where torch uses one (SequentialLR's
   step(0)), and the same double operations in the same order, so values agree with torch to
   the last bits or nearly. */

#define NNOPT__PI 3.14159265358979323846

NNOPT_API nnopt_sched_params nnopt_sched_defaults(nnopt_sched_kind kind)
{
    nnopt_sched_params p;
    memset(&p, 0, sizeof p);
    p.kind = kind;
    p.gamma = 0.1;                                   /* StepLR, MultiStepLR */
    if (kind == NNOPT_SCHED_EXPONENTIAL || kind == NNOPT_SCHED_INVERSE_TIME)
        p.gamma = 0.0;                               /* required, as in torch */
    p.T_mult = 1;
    p.factor = kind == NNOPT_SCHED_PLATEAU ? 0.1 : 1.0 / 3.0;
    p.start_factor = 1.0 / 3.0; p.end_factor = 1.0; p.power = 1.0; p.total_iters = 5;
    p.pct_start = 0.3; p.div_factor = 25.0; p.final_div_factor = 1e4;
    p.base_momentum = 0.85; p.max_momentum = 0.95; p.cycle_momentum = 1;
    p.threshold = 1e-4; p.patience = 10; p.eps = 1e-8;
    p.anneal_epochs = 10;
    return p;
}

static int nnopt__sched_valid(const nnopt_sched_params *p)
{
    const double all[] = { p->gamma, p->eta_min, p->factor, p->start_factor, p->end_factor,
                           p->power, p->max_lr, p->pct_start, p->div_factor, p->final_div_factor,
                           p->base_momentum, p->max_momentum, p->threshold, p->min_lr, p->eps,
                           p->swa_lr };
    size_t i;
    int m;
    for (i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!nnopt__finite(all[i])) return 0;
    switch (p->kind) {
    case NNOPT_SCHED_STEP:
        return p->step_size > 0 && p->gamma > 0;
    case NNOPT_SCHED_MULTISTEP:
        if (p->gamma <= 0 || p->milestone_count < 0 || p->milestone_count > NNOPT_SCHED_MAX_MILESTONES)
            return 0;
        for (m = 1; m < p->milestone_count; m++)
            if (p->milestones[m] < p->milestones[m - 1]) return 0;
        return 1;
    case NNOPT_SCHED_EXPONENTIAL: case NNOPT_SCHED_INVERSE_TIME:
        return p->gamma > 0;
    case NNOPT_SCHED_COSINE:
        return p->T_max > 0;
    case NNOPT_SCHED_COSINE_RESTARTS:
        return p->T_0 > 0 && p->T_mult >= 1;
    case NNOPT_SCHED_CONSTANT:
        return p->factor > 0 && p->factor <= 1 && p->total_iters >= 0;
    case NNOPT_SCHED_LINEAR:
        return p->start_factor > 0 && p->start_factor <= 1 && p->end_factor >= 0 &&
               p->end_factor <= 1 && p->total_iters > 0;
    case NNOPT_SCHED_POLYNOMIAL:
        return p->total_iters > 0 && p->power >= 0;
    case NNOPT_SCHED_ONE_CYCLE:
        return p->max_lr >= 0 && p->total_steps > 0 && p->pct_start > 0 && p->pct_start < 1 &&
               p->div_factor > 0 && p->final_div_factor > 0;
    case NNOPT_SCHED_PLATEAU:
        return p->factor >= 0 && p->factor < 1 && p->patience >= 0 && p->cooldown >= 0 &&
               p->threshold >= 0 && p->min_lr >= 0 && p->eps >= 0;
    case NNOPT_SCHED_SWA:
        return p->swa_lr >= 0 && p->anneal_epochs >= 0;
    case NNOPT_SCHED_KIND_COUNT: break;
    }
    return 0;
}

/* OneCycleLR: anneal from start to end as pct goes from 0 to 1 (cosine or linear). */
static double nnopt__anneal(const nnopt_sched_params *p, double start, double end, double pct)
{
    if (p->anneal_linear) return (end - start) * pct + start;
    return end + (start - end) / 2.0 * (cos(NNOPT__PI * pct) + 1);
}

/* OneCycleLR at the node's step: find the phase (its end step and the lr and momentum it
   anneals between) and interpolate. */
static void nnopt__one_cycle(const nnopt_sched_node *nd, double *lr, double *mom)
{
    const nnopt_sched_params *p = &nd->p;
    const double initial = p->max_lr / p->div_factor, min_lr = initial / p->final_div_factor;
    double ends[3], lrs[4], moms[4], start_step = 0, step = (double)nd->last_epoch;
    int phases, i;
    if (p->three_phase) {
        phases = 3;
        ends[0] = p->pct_start * p->total_steps - 1;
        ends[1] = 2 * p->pct_start * p->total_steps - 2;
        ends[2] = p->total_steps - 1;
        lrs[0] = initial; lrs[1] = p->max_lr; lrs[2] = initial; lrs[3] = min_lr;
        moms[0] = p->max_momentum; moms[1] = p->base_momentum; moms[2] = p->max_momentum;
        moms[3] = p->max_momentum;
    } else {
        phases = 2;
        ends[0] = p->pct_start * p->total_steps - 1;
        ends[1] = p->total_steps - 1;
        lrs[0] = initial; lrs[1] = p->max_lr; lrs[2] = min_lr;
        moms[0] = p->max_momentum; moms[1] = p->base_momentum; moms[2] = p->max_momentum;
    }
    for (i = 0; i < phases; i++) {
        if (step <= ends[i] || i == phases - 1) {
            double pct = (step - start_step) / (ends[i] - start_step);
            *lr = nnopt__anneal(p, lrs[i], lrs[i + 1], pct);
            *mom = nnopt__anneal(p, moms[i], moms[i + 1], pct);
            return;
        }
        start_step = ends[i];
    }
}

/* The recursive get_lr (closed = 0) or the closed form (closed = 1) of node nd at its
   last_epoch, from the group's current lr. */
static double nnopt__sched_value(nnopt_scheduler *s, nnopt_sched_node *nd, int closed)
{
    const nnopt_sched_params *p = &nd->p;
    const long e = nd->last_epoch;
    const double lr = s->lr, base = nd->base_lr;
    int m, hits;
    switch (p->kind) {
    case NNOPT_SCHED_STEP:
        if (closed) return base * pow(p->gamma, (double)(e / p->step_size));
        return (e == 0 || e % p->step_size != 0) ? lr : lr * p->gamma;
    case NNOPT_SCHED_MULTISTEP:
        for (m = 0, hits = 0; m < p->milestone_count; m++)
            hits += closed ? p->milestones[m] <= e : p->milestones[m] == e;
        if (closed) return base * pow(p->gamma, (double)hits);
        return hits ? lr * pow(p->gamma, (double)hits) : lr;
    case NNOPT_SCHED_EXPONENTIAL:
        if (closed) return base * pow(p->gamma, (double)e);
        return e == 0 ? lr : lr * p->gamma;
    case NNOPT_SCHED_INVERSE_TIME:                   /* LambdaLR(1 / (1 + k t)) */
        return base * (1.0 / (1.0 + p->gamma * (double)e));
    case NNOPT_SCHED_CONSTANT:
        if (closed) return base * (p->factor + (double)(e >= p->total_iters) * (1 - p->factor));
        if (e == 0) return lr * p->factor;
        return e != p->total_iters ? lr : lr * (1.0 / p->factor);
    case NNOPT_SCHED_LINEAR: {
        const double d = p->end_factor - p->start_factor;
        if (closed)
            return base * (p->start_factor + d * (double)(e < p->total_iters ? e : p->total_iters) / p->total_iters);
        if (e == 0) return lr * p->start_factor;
        if (e > p->total_iters) return lr;
        return lr * (1. + d / (p->total_iters * p->start_factor + (double)(e - 1) * d));
    }
    case NNOPT_SCHED_POLYNOMIAL:
        if (closed)
            return base * pow(1.0 - (double)(e < p->total_iters ? e : p->total_iters) / p->total_iters, p->power);
        if (e == 0 || e > p->total_iters) return lr;
        return lr * pow((1.0 - (double)e / p->total_iters) / (1.0 - (double)(e - 1) / p->total_iters), p->power);
    case NNOPT_SCHED_COSINE: {
        const double T = p->T_max;
        if (closed || (nd->step_count == 1 && e > 0))
            return p->eta_min + (base - p->eta_min) * (1 + cos(NNOPT__PI * (double)e / T)) / 2;
        if (e == 0) return lr;
        if ((e - 1 - p->T_max) % (2 * (long)p->T_max) == 0)
            return lr + (base - p->eta_min) * (1 - cos(NNOPT__PI / T)) / 2;
        return (1 + cos(NNOPT__PI * (double)e / T)) / (1 + cos(NNOPT__PI * (double)(e - 1) / T)) *
               (lr - p->eta_min) + p->eta_min;
    }
    case NNOPT_SCHED_COSINE_RESTARTS:
        return p->eta_min + (base - p->eta_min) * (1 + cos(NNOPT__PI * (double)nd->t_cur / (double)nd->t_i)) / 2;
    case NNOPT_SCHED_ONE_CYCLE: {
        double out = lr, mom = s->momentum;
        nnopt__one_cycle(nd, &out, &mom);
        if (p->cycle_momentum) s->momentum = mom;
        return out;
    }
    case NNOPT_SCHED_SWA: {
        long step = nd->step_count - 1;
        double prev_t, t, prev_alpha, alpha, prev_lr, span = p->anneal_epochs > 1 ? p->anneal_epochs : 1;
        if (p->anneal_epochs == 0 && step < 1) step = 1;
        prev_t = (double)(step - 1) / span;
        prev_t = prev_t < 0 ? 0 : prev_t > 1 ? 1 : prev_t;
        t = (double)step / span;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        prev_alpha = p->anneal_linear ? prev_t : (1 - cos(NNOPT__PI * prev_t)) / 2;
        alpha = p->anneal_linear ? t : (1 - cos(NNOPT__PI * t)) / 2;
        prev_lr = prev_alpha == 1 ? p->swa_lr : (lr - prev_alpha * p->swa_lr) / (1 - prev_alpha);
        return p->swa_lr * alpha + prev_lr * (1 - alpha);
    }
    case NNOPT_SCHED_PLATEAU: case NNOPT_SCHED_KIND_COUNT: break;
    }
    return lr;
}

/* One step of node nd (torch's step(), or step(epoch) when given). */
static void nnopt__node_step(nnopt_scheduler *s, nnopt_sched_node *nd, int given, long epoch)
{
    nd->step_count++;
    if (nd->p.kind == NNOPT_SCHED_COSINE_RESTARTS) {
        if (!given && nd->last_epoch < 0) { given = 1; epoch = 0; }
        if (!given) {
            epoch = nd->last_epoch + 1;
            if (++nd->t_cur >= nd->t_i) {
                nd->t_cur -= nd->t_i;
                nd->t_i *= nd->p.T_mult;
                s->restarted = 1;
            }
        } else {                                     /* step(epoch): find epoch's cycle */
            long ti = nd->p.T_0, start = 0;
            while (epoch >= start + ti) { start += ti; ti *= nd->p.T_mult; }
            nd->t_i = ti;
            nd->t_cur = epoch - start;
        }
        nd->last_epoch = epoch;
        s->lr = nnopt__sched_value(s, nd, 0);
        return;
    }
    if (given) nd->last_epoch = epoch; else nd->last_epoch++;
    s->lr = nnopt__sched_value(s, nd, given);
}

/* torch's constructor: base lr from the group's initial_lr (one-cycle sets it), then the first
   step. */
static void nnopt__node_init(nnopt_scheduler *s, nnopt_sched_node *nd, const nnopt_sched_params *p)
{
    memset(nd, 0, sizeof *nd);
    nd->p = *p;
    nd->last_epoch = -1;
    if (p->kind == NNOPT_SCHED_ONE_CYCLE) {
        s->initial_lr = p->max_lr / p->div_factor;
        if (p->cycle_momentum) s->momentum = p->max_momentum;
    }
    nd->base_lr = s->initial_lr;
    if (p->kind == NNOPT_SCHED_PLATEAU) {            /* not stepped at construction */
        nd->last_epoch = 0;
        nd->best = p->mode_max ? -INFINITY : INFINITY;
        return;
    }
    nnopt__node_step(s, nd, 0, 0);
}

static nnopt_status nnopt__sched_begin(nnopt_scheduler *s, const nnopt_sched_params *children,
                                       int count, double initial_lr, int composition)
{
    int c;
    if (!s || !children || count < 1 || count > NNOPT_SCHED_MAX_CHILDREN ||
        !nnopt__finite(initial_lr) || initial_lr < 0)
        return NNOPT_ERR_INVALID;
    for (c = 0; c < count; c++)
        if (!nnopt__sched_valid(&children[c]) ||
            (composition && children[c].kind == NNOPT_SCHED_PLATEAU))
            return NNOPT_ERR_INVALID;
    memset(s, 0, sizeof *s);
    s->composition = composition;
    s->count = count;
    s->lr = s->initial_lr = initial_lr;
    s->momentum = NAN;
    for (c = 0; c < count; c++) nnopt__node_init(s, &s->node[c], &children[c]);
    s->restarted = 0;
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_sched_init(nnopt_scheduler *s, const nnopt_sched_params *p,
                                        double initial_lr)
{
    return nnopt__sched_begin(s, p, 1, initial_lr, 0);
}

NNOPT_API nnopt_status nnopt_sched_init_chained(nnopt_scheduler *s, const nnopt_sched_params *children,
                                                int count, double initial_lr)
{
    return nnopt__sched_begin(s, children, count, initial_lr, 2);
}

NNOPT_API nnopt_status nnopt_sched_init_sequential(nnopt_scheduler *s,
                                                   const nnopt_sched_params *children, int count,
                                                   const int *milestones, double initial_lr)
{
    nnopt_scheduler built;
    nnopt_status st;
    int c;
    if (!s || (count > 1 && !milestones)) return NNOPT_ERR_INVALID;
    for (c = 1; c < count; c++)
        if (milestones[c - 1] <= 0 || (c > 1 && milestones[c - 1] <= milestones[c - 2]))
            return NNOPT_ERR_INVALID;
    st = nnopt__sched_begin(&built, children, count, initial_lr, 1);
    if (st != NNOPT_OK) return st;
    /* torch: reset the lr to the initial one, undo every child's construction step, and redo
       the first child's. */
    for (c = 1; c < count; c++) built.milestones[c - 1] = milestones[c - 1];
    built.last_epoch = 0;
    built.lr = built.initial_lr;
    for (c = 0; c < count; c++) built.node[c].last_epoch--;
    built.node[0].step_count = 0;
    nnopt__node_step(&built, &built.node[0], 0, 0);
    built.restarted = 0;
    *s = built;
    return NNOPT_OK;
}

static int nnopt__sched_exhausted(const nnopt_sched_node *nd)
{
    return nd->p.kind == NNOPT_SCHED_ONE_CYCLE && nd->last_epoch + 1 > nd->p.total_steps;
}

NNOPT_API nnopt_status nnopt_sched_step(nnopt_scheduler *s)
{
    int c;
    if (!s || s->count < 1 || s->count > NNOPT_SCHED_MAX_CHILDREN) return NNOPT_ERR_INVALID;
    s->restarted = 0;
    if (s->composition == 1) {
        long e = s->last_epoch + 1;
        int idx = 0;
        while (idx < s->count - 1 && s->milestones[idx] <= e) idx++;
        if (nnopt__sched_exhausted(&s->node[idx]) && !(idx > 0 && s->milestones[idx - 1] == e))
            return NNOPT_ERR_INVALID;
        s->last_epoch = e;
        if (idx > 0 && s->milestones[idx - 1] == e) nnopt__node_step(s, &s->node[idx], 1, 0);
        else nnopt__node_step(s, &s->node[idx], 0, 0);
        return NNOPT_OK;
    }
    for (c = 0; c < s->count; c++)
        if (s->node[c].p.kind == NNOPT_SCHED_PLATEAU || nnopt__sched_exhausted(&s->node[c]))
            return NNOPT_ERR_INVALID;               /* plateau steps with a metric */
    for (c = 0; c < s->count; c++) nnopt__node_step(s, &s->node[c], 0, 0);
    return NNOPT_OK;
}

/* ReduceLROnPlateau.step(metric). */
NNOPT_API nnopt_status nnopt_sched_step_metric(nnopt_scheduler *s, double metric)
{
    nnopt_sched_node *nd;
    const nnopt_sched_params *p;
    int better;
    if (!s || s->composition || s->node[0].p.kind != NNOPT_SCHED_PLATEAU || metric != metric)
        return NNOPT_ERR_INVALID;
    nd = &s->node[0];
    p = &nd->p;
    nd->last_epoch++;
    if (p->mode_max) better = p->threshold_abs ? metric > nd->best + p->threshold
                                               : metric > nd->best * (p->threshold + 1.);
    else better = p->threshold_abs ? metric < nd->best - p->threshold
                                   : metric < nd->best * (1. - p->threshold);
    if (better) { nd->best = metric; nd->bad_epochs = 0; }
    else nd->bad_epochs++;
    if (nd->cooldown_counter > 0) { nd->cooldown_counter--; nd->bad_epochs = 0; }
    if (nd->bad_epochs > p->patience) {
        double reduced = s->lr * p->factor;
        if (reduced < p->min_lr) reduced = p->min_lr;
        if (s->lr - reduced > p->eps) s->lr = reduced;
        nd->cooldown_counter = p->cooldown;
        nd->bad_epochs = 0;
    }
    return NNOPT_OK;
}

NNOPT_API double nnopt_sched_lr(const nnopt_scheduler *s) { return s ? s->lr : NAN; }

NNOPT_API int nnopt_sched_momentum(const nnopt_scheduler *s, double *momentum)
{
    if (!s || s->momentum != s->momentum) return 0;
    if (momentum) *momentum = s->momentum;
    return 1;
}

NNOPT_API int nnopt_sched_restarted(const nnopt_scheduler *s) { return s ? s->restarted : 0; }

#ifndef NNOPT_NO_OPTIM
NNOPT_API nnopt_status nnopt_sched_apply(const nnopt_scheduler *s, nnopt_optimizer *opt)
{
    nnopt_hparams h;
    double m;
    if (!s || !opt) return NNOPT_ERR_INVALID;
    h = opt->h;
    h.lr = s->lr;
    if (nnopt_sched_momentum(s, &m)) {
        switch (h.kind) {
        case NNOPT_SGD: case NNOPT_RMSPROP: case NNOPT_LARS:
            h.momentum = m; break;
        case NNOPT_ADAGRAD: case NNOPT_ADADELTA: case NNOPT_RPROP: case NNOPT_ASGD:
            return NNOPT_ERR_INVALID;               /* nothing to cycle (torch raises too) */
        default:
            h.beta1 = m; break;
        }
    }
    return nnopt_set_hparams(opt, &h);
}

NNOPT_API nnopt_status nnopt_sched_apply_group(const nnopt_scheduler *s, nnopt_optimizer *opt,
                                               size_t group)
{
    nnopt_group g;
    if (!s || !opt || !(opt->h.lr > 0) || nnopt_get_group(opt, group, &g) != NNOPT_OK)
        return NNOPT_ERR_INVALID;
    g.lr_scale = s->lr / opt->h.lr;
    return nnopt_set_group(opt, group, &g);
}
#endif

#endif /* NNOPT_NO_SCHED */

/* =====================================================================================
   Random numbers
   ===================================================================================== */
/* RNG-IMPL-SLOT */



#ifndef NNOPT_NO_REG
/* =====================================================================================
   Regularization
   ===================================================================================== */
/* REG-IMPL-SLOT */
#endif /* NNOPT_NO_REG */



#ifndef NNOPT_NO_DROPOUT
/* =====================================================================================
   Dropout and DropConnect
   ===================================================================================== */
/* DROPOUT-IMPL-SLOT */
#endif /* NNOPT_NO_DROPOUT */



#ifndef NNOPT_NO_BATCHNORM
/* =====================================================================================
   Batch normalization
   ===================================================================================== */
/* BATCHNORM-IMPL-SLOT */
#endif /* NNOPT_NO_BATCHNORM */



#ifndef NNOPT_NO_AUGMENT
/* =====================================================================================
   Image augmentation
   ===================================================================================== */
/* AUGMENT-IMPL-SLOT */
#endif /* NNOPT_NO_AUGMENT */



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
     V(dacc...) 16 double lanes for fixed-order sums; V(prefetch_write) a hint for a stream
     that is written without being read (the hardware prefetcher follows loads, not stores)
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
NNOPT__OP void  V(prefetch_write)(const float *p, size_t ahead) { (void)p; (void)ahead; }
/* Reductions: 16 double lanes; element o of each 16-element block adds into lane o. */
typedef struct { double d[16]; } V(dacc);
NNOPT__OP void V(dacc_zero)(V(dacc) *s) { int l; for (l = 0; l < 16; l++) s->d[l] = 0.0; }
NNOPT__OP void V(dacc_add)(V(dacc) *s, float x, size_t part) { s->d[part] = s->d[part] + (double)x; }
NNOPT__OP void V(dacc_add_sq)(V(dacc) *s, float x, size_t part)
{ double v = (double)x, sq = v * v; s->d[part] = s->d[part] + sq; }
NNOPT__OP void V(dacc_max)(V(dacc) *s, float x, size_t part)
{ double v = (double)x; s->d[part] = s->d[part] > v ? s->d[part] : v; }
NNOPT__OP void V(dacc_store)(const V(dacc) *s, double *out) { int l; for (l = 0; l < 16; l++) out[l] = s->d[l]; }

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
NNOPT__OP void V(prefetch_write)(const float *p, size_t ahead)   /* address as an integer: */
{ _mm_prefetch((const char *)((uintptr_t)p + ahead * sizeof(float)), _MM_HINT_T0); }  /* may pass the end */
typedef struct { __m256d d[4]; } V(dacc);
NNOPT__OP void V(dacc_zero)(V(dacc) *s) { int l; for (l = 0; l < 4; l++) s->d[l] = _mm256_setzero_pd(); }
NNOPT__OP void V(dacc_split)(__m256 x, __m256d *lo, __m256d *hi)
{ *lo = _mm256_cvtps_pd(_mm256_castps256_ps128(x)); *hi = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)); }
NNOPT__OP void V(dacc_add)(V(dacc) *s, __m256 x, size_t part)
{ __m256d lo, hi; V(dacc_split)(x, &lo, &hi);
  s->d[2 * part] = _mm256_add_pd(s->d[2 * part], lo); s->d[2 * part + 1] = _mm256_add_pd(s->d[2 * part + 1], hi); }
NNOPT__OP void V(dacc_add_sq)(V(dacc) *s, __m256 x, size_t part)
{ __m256d lo, hi; V(dacc_split)(x, &lo, &hi);
  s->d[2 * part] = _mm256_fmadd_pd(lo, lo, s->d[2 * part]);          /* x*x is exact in double, */
  s->d[2 * part + 1] = _mm256_fmadd_pd(hi, hi, s->d[2 * part + 1]); } /* so fma = mul then add */
NNOPT__OP void V(dacc_max)(V(dacc) *s, __m256 x, size_t part)
{ __m256d lo, hi; V(dacc_split)(x, &lo, &hi);
  s->d[2 * part] = _mm256_max_pd(s->d[2 * part], lo); s->d[2 * part + 1] = _mm256_max_pd(s->d[2 * part + 1], hi); }
NNOPT__OP void V(dacc_store)(const V(dacc) *s, double *out)
{ int l; for (l = 0; l < 4; l++) _mm256_storeu_pd(out + 4 * l, s->d[l]); }

#elif defined(NNOPT__ISA_AVX512)
/* Where gcc's intrinsic pads with an "undefined" vector (sqrt, min, max, conversions), the
   all-lanes zero-masking form is used instead: same instruction, and g++ 12 -Wall does not
   mistake the padding for an uninitialized read. */
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
NNOPT__OP __m512 V(sqrt)(__m512 a) { return _mm512_maskz_sqrt_ps(0xFFFF, a); }
NNOPT__OP __m512 V(min)(__m512 a, __m512 b) { return _mm512_maskz_min_ps(0xFFFF, a, b); }
NNOPT__OP __m512 V(max)(__m512 a, __m512 b) { return _mm512_maskz_max_ps(0xFFFF, a, b); }
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
NNOPT__OP void V(prefetch_write)(const float *p, size_t ahead)   /* address as an integer: */
{ _mm_prefetch((const char *)((uintptr_t)p + ahead * sizeof(float)), _MM_HINT_T0); }  /* may pass the end */
typedef struct { __m512d d[2]; } V(dacc);
NNOPT__OP void V(dacc_zero)(V(dacc) *s) { s->d[0] = s->d[1] = _mm512_setzero_pd(); }
NNOPT__OP void V(dacc_split)(__m512 x, __m512d *lo, __m512d *hi)
{
    *lo = _mm512_maskz_cvtps_pd(0xFF, _mm512_maskz_extractf32x8_ps(0xFF, x, 0));
    *hi = _mm512_maskz_cvtps_pd(0xFF, _mm512_maskz_extractf32x8_ps(0xFF, x, 1)); }
NNOPT__OP void V(dacc_add)(V(dacc) *s, __m512 x, size_t part)
{ __m512d lo, hi; (void)part; V(dacc_split)(x, &lo, &hi);
  s->d[0] = _mm512_add_pd(s->d[0], lo); s->d[1] = _mm512_add_pd(s->d[1], hi); }
NNOPT__OP void V(dacc_add_sq)(V(dacc) *s, __m512 x, size_t part)
{ __m512d lo, hi; (void)part; V(dacc_split)(x, &lo, &hi);
  s->d[0] = _mm512_fmadd_pd(lo, lo, s->d[0]); s->d[1] = _mm512_fmadd_pd(hi, hi, s->d[1]); }
NNOPT__OP void V(dacc_max)(V(dacc) *s, __m512 x, size_t part)
{ __m512d lo, hi; (void)part; V(dacc_split)(x, &lo, &hi);
  s->d[0] = _mm512_maskz_max_pd(0xFF, s->d[0], lo); s->d[1] = _mm512_maskz_max_pd(0xFF, s->d[1], hi); }
NNOPT__OP void V(dacc_store)(const V(dacc) *s, double *out)
{ _mm512_storeu_pd(out, s->d[0]); _mm512_storeu_pd(out + 8, s->d[1]); }
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
        for (; i + 2 * NNOPT__W <= a.n; i += 2 * NNOPT__W) {                               \
            V(name##_block)(&a, i, NNOPT__W);                                              \
            V(name##_block)(&a, i + NNOPT__W, NNOPT__W);                                   \
        }                                                                                  \
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

/* NNOPT__REDUCING_KERNEL(name): like NNOPT__KERNEL over nnopt__optim_args, for blocks that
   also accumulate two sums. Elements go through in blocks of 16; within one, `part` numbers
   the vectors (0..16/W-1), so element o of a block always lands in double lane o. */
#define NNOPT__REDUCING_KERNEL(name)                                                       \
    NNOPT__PRIVATE NNOPT__TARGET void V(name)(nnopt__optim_args *args)                     \
    {                                                                                      \
        nnopt__optim_args a = *args;                                                       \
        V(dacc) s0, s1;                                                                    \
        size_t i = 0, part;                                                                \
        V(dacc_zero)(&s0); V(dacc_zero)(&s1);                                              \
        for (; i + 16 <= a.n; i += 16)                                                     \
            for (part = 0; part < 16 / NNOPT__W; part++)                                   \
                V(name##_block)(&a, i + part * NNOPT__W, NNOPT__W, part, &s0, &s1);        \
        for (part = 0; i + part * NNOPT__W < a.n; part++) {                                \
            size_t at = i + part * NNOPT__W;                                               \
            V(name##_block)(&a, at, a.n - at < NNOPT__W ? a.n - at : NNOPT__W, part, &s0, &s1); \
        }                                                                                  \
        V(dacc_store)(&s0, args->sum[0]);                                                  \
        V(dacc_store)(&s1, args->sum[1]);                                                  \
    }

/* sign(x): 1, -1 or 0 (and 0 for NaN). */
NNOPT__OP V(vec) V(sign)(V(vec) x)
{
    V(vec) zero = V(set1)(0.0f);
    return V(select)(V(gt)(x, zero), V(set1)(1.0f), V(select)(V(lt)(x, zero), V(set1)(-1.0f), zero));
}

/* What every optimizer does to the gradient first: negate it to maximize, add coupled weight
   decay wd*p, or shrink p by the decoupled factor. */
NNOPT__OP V(vec) V(grad_prologue)(const nnopt__optim_args *a, V(vec) *p, V(vec) g)
{
    if (a->maximize) g = V(neg)(g);
    if (a->weight_decay != 0.0f) g = V(fma)(*p, V(set1)(a->weight_decay), g);
    if (a->decay != 1.0f) *p = V(mul)(*p, V(set1)(a->decay));
    return g;
}

/* x*b + (1-b)*y with both coefficients given: the exponential moving average every
   adaptive method keeps (torch: x.mul_(b).add_(y, alpha=1-b)). */
NNOPT__OP V(vec) V(ema)(V(vec) x, float b, V(vec) y, float one_minus_b)
{
    return V(fma)(y, V(set1)(one_minus_b), V(mul)(x, V(set1)(b)));
}

#define NNOPT__LOAD(ptr)       V(loadn)((ptr) + i, k)
#define NNOPT__STORE(ptr, v)   V(storen)((ptr) + i, (v), k)

/* SGD. s0 = momentum buffer (NULL without momentum). g += wd p; b = g on the first step (an
   undamped copy), else b = mu b + (1 - dampening) g; g = g + mu b (Nesterov) or b;
   p -= lr g. */
NNOPT__OP void V(sgd_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) g = V(grad_prologue)(a, &p, NNOPT__LOAD(a->grad));
    if (a->s[0]) {
        V(vec) b = g;
        if (!a->first_step)
            b = V(fma)(g, V(set1)(a->k.sgd.one_minus_dampening),
                       V(mul)(NNOPT__LOAD(a->s[0]), V(set1)(a->k.sgd.momentum)));
        NNOPT__STORE(a->s[0], b);
        g = a->k.sgd.nesterov ? V(fma)(b, V(set1)(a->k.sgd.momentum), g) : b;
    }
    NNOPT__STORE(a->param, V(fma)(g, V(set1)(a->k.sgd.neg_lr), p));
}
NNOPT__KERNEL(sgd, nnopt__optim_args)

/* Adam / AdamW. s0 = m, s1 = v, s2 = max v (AMSGrad, over the raw v as torch).
   m = ema(m, g); v = ema(v, g^2); p -= (lr/bc1) m / (sqrt(v)/sqrt(bc2) + eps). */
NNOPT__OP void V(adam_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) g = V(grad_prologue)(a, &p, NNOPT__LOAD(a->grad));
    V(vec) m = V(ema)(NNOPT__LOAD(a->s[0]), a->k.adam.beta1, g, a->k.adam.one_minus_beta1);
    V(vec) v = V(ema)(NNOPT__LOAD(a->s[1]), a->k.adam.beta2, V(mul)(g, g), a->k.adam.one_minus_beta2);
    V(vec) vhat = v, denom;
    NNOPT__STORE(a->s[0], m);
    NNOPT__STORE(a->s[1], v);
    if (a->k.adam.amsgrad) {
        vhat = V(max)(NNOPT__LOAD(a->s[2]), v);
        NNOPT__STORE(a->s[2], vhat);
    }
    denom = V(add)(V(mul)(V(sqrt)(vhat), V(set1)(a->k.adam.inv_sqrt_bc2)), V(set1)(a->k.adam.eps));
    NNOPT__STORE(a->param, V(fma)(V(div)(m, denom), V(set1)(a->k.adam.neg_step_size), p));
}
NNOPT__KERNEL(adam, nnopt__optim_args)

/* Adagrad. s0 = sum of squares. sum += g^2; p -= clr g / (sqrt(sum) + eps),
   clr = lr / (1 + (t-1) lr_decay). */
NNOPT__OP void V(adagrad_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) g = V(grad_prologue)(a, &p, NNOPT__LOAD(a->grad));
    V(vec) sum = V(fma)(g, g, NNOPT__LOAD(a->s[0]));
    V(vec) std = V(add)(V(sqrt)(sum), V(set1)(a->k.adagrad.eps));
    NNOPT__STORE(a->s[0], sum);
    NNOPT__STORE(a->param, V(fma)(V(div)(g, std), V(set1)(a->k.adagrad.neg_clr), p));
}
NNOPT__KERNEL(adagrad, nnopt__optim_args)

/* RMSprop. s0 = square average, s1 = momentum buffer, s2 = gradient average (centered).
   s = ema(s, g^2); avg = sqrt(s - gavg^2) (centered) or sqrt(s), plus eps;
   with momentum b = mu b + g/avg, p -= lr b; else p -= lr g/avg. */
NNOPT__OP void V(rmsprop_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) g = V(grad_prologue)(a, &p, NNOPT__LOAD(a->grad));
    V(vec) sq = V(ema)(NNOPT__LOAD(a->s[0]), a->k.rmsprop.alpha, V(mul)(g, g), a->k.rmsprop.one_minus_alpha);
    V(vec) avg, step;
    NNOPT__STORE(a->s[0], sq);
    if (a->k.rmsprop.centered) {
        V(vec) ga = V(ema)(NNOPT__LOAD(a->s[2]), a->k.rmsprop.alpha, g, a->k.rmsprop.one_minus_alpha);
        NNOPT__STORE(a->s[2], ga);
        avg = V(sqrt)(V(sub)(sq, V(mul)(ga, ga)));
    } else {
        avg = V(sqrt)(sq);
    }
    avg = V(add)(avg, V(set1)(a->k.rmsprop.eps));
    step = V(div)(g, avg);
    if (a->s[1]) {
        step = V(add)(V(mul)(NNOPT__LOAD(a->s[1]), V(set1)(a->k.rmsprop.momentum)), step);
        NNOPT__STORE(a->s[1], step);
    }
    NNOPT__STORE(a->param, V(fma)(step, V(set1)(a->k.rmsprop.neg_lr), p));
}
NNOPT__KERNEL(rmsprop, nnopt__optim_args)

/* Adadelta. s0 = E[g^2], s1 = E[dx^2]. E[g^2] = ema(E[g^2], g^2);
   dx = sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) g; E[dx^2] = ema(E[dx^2], dx^2); p -= lr dx. */
NNOPT__OP void V(adadelta_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) g = V(grad_prologue)(a, &p, NNOPT__LOAD(a->grad));
    V(vec) eps = V(set1)(a->k.adadelta.eps);
    V(vec) sq = V(ema)(NNOPT__LOAD(a->s[0]), a->k.adadelta.rho, V(mul)(g, g), a->k.adadelta.one_minus_rho);
    V(vec) acc = NNOPT__LOAD(a->s[1]);
    V(vec) delta = V(mul)(V(div)(V(sqrt)(V(add)(acc, eps)), V(sqrt)(V(add)(sq, eps))), g);
    NNOPT__STORE(a->s[0], sq);
    NNOPT__STORE(a->s[1], V(ema)(acc, a->k.adadelta.rho, V(mul)(delta, delta), a->k.adadelta.one_minus_rho));
    NNOPT__STORE(a->param, V(fma)(delta, V(set1)(a->k.adadelta.neg_lr), p));
}
NNOPT__KERNEL(adadelta, nnopt__optim_args)

/* Adamax. s0 = m, s1 = u (infinity norm). m = ema(m, g); u = max(beta2 u, |g| + eps);
   p -= (lr/bc1) m/u. */
NNOPT__OP void V(adamax_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) g = V(grad_prologue)(a, &p, NNOPT__LOAD(a->grad));
    V(vec) m = V(ema)(NNOPT__LOAD(a->s[0]), a->k.adamax.beta1, g, a->k.adamax.one_minus_beta1);
    V(vec) u = V(max)(V(mul)(NNOPT__LOAD(a->s[1]), V(set1)(a->k.adamax.beta2)),
                      V(add)(V(abs)(g), V(set1)(a->k.adamax.eps)));
    NNOPT__STORE(a->s[0], m);
    NNOPT__STORE(a->s[1], u);
    NNOPT__STORE(a->param, V(fma)(V(div)(m, u), V(set1)(a->k.adamax.neg_clr), p));
}
NNOPT__KERNEL(adamax, nnopt__optim_args)

/* NAdam. s0 = m, s1 = v. m = ema(m, g); v = ema(v, g^2); denom = sqrt(v)/sqrt(bc2) + eps;
   p += (grad_coef g + momentum_coef m) / denom, the two Nesterov terms of the momentum
   schedule (coefficients in nnopt__step_group). */
NNOPT__OP void V(nadam_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) g = V(grad_prologue)(a, &p, NNOPT__LOAD(a->grad));
    V(vec) m = V(ema)(NNOPT__LOAD(a->s[0]), a->k.nadam.beta1, g, a->k.nadam.one_minus_beta1);
    V(vec) v = V(ema)(NNOPT__LOAD(a->s[1]), a->k.nadam.beta2, V(mul)(g, g), a->k.nadam.one_minus_beta2);
    V(vec) denom = V(add)(V(mul)(V(sqrt)(v), V(set1)(a->k.nadam.inv_sqrt_bc2)), V(set1)(a->k.nadam.eps));
    V(vec) num = V(fma)(g, V(set1)(a->k.nadam.grad_coef), V(mul)(m, V(set1)(a->k.nadam.momentum_coef)));
    NNOPT__STORE(a->s[0], m);
    NNOPT__STORE(a->s[1], v);
    NNOPT__STORE(a->param, V(add)(p, V(div)(num, denom)));
}
NNOPT__KERNEL(nadam, nnopt__optim_args)

/* RAdam. s0 = m, s1 = v. Rectified steps: p += coef m / (sqrt(v) + eps) with
   coef = -lr r_t sqrt(bc2)/bc1; before the variance is tractable: p += coef m, coef = -lr/bc1. */
NNOPT__OP void V(radam_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) g = V(grad_prologue)(a, &p, NNOPT__LOAD(a->grad));
    V(vec) m = V(ema)(NNOPT__LOAD(a->s[0]), a->k.radam.beta1, g, a->k.radam.one_minus_beta1);
    V(vec) v = V(ema)(NNOPT__LOAD(a->s[1]), a->k.radam.beta2, V(mul)(g, g), a->k.radam.one_minus_beta2);
    V(vec) step = a->k.radam.rectified ? V(div)(m, V(add)(V(sqrt)(v), V(set1)(a->k.radam.eps))) : m;
    NNOPT__STORE(a->s[0], m);
    NNOPT__STORE(a->s[1], v);
    NNOPT__STORE(a->param, V(fma)(step, V(set1)(a->k.radam.coef), p));
}
NNOPT__KERNEL(radam, nnopt__optim_args)

/* Rprop. s0 = previous gradient, s1 = step sizes (lr on the first step). Where g and the
   previous gradient agree the step grows by eta_plus, where they disagree it shrinks by
   eta_minus (clamped) and this step does not move; p -= sign(g) step. */
NNOPT__OP void V(rprop_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) zero = V(set1)(0.0f);
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) g = V(grad_prologue)(a, &p, NNOPT__LOAD(a->grad));
    V(vec) step = a->first_step ? V(set1)(a->k.rprop.lr) : NNOPT__LOAD(a->s[1]);
    V(vec) agreement = V(mul)(g, NNOPT__LOAD(a->s[0]));
    V(mask) flipped = V(lt)(agreement, zero);
    V(vec) factor = V(select)(V(gt)(agreement, zero), V(set1)(a->k.rprop.eta_plus),
                              V(select)(flipped, V(set1)(a->k.rprop.eta_minus), V(set1)(1.0f)));
    step = V(min)(V(max)(V(mul)(step, factor), V(set1)(a->k.rprop.step_min)), V(set1)(a->k.rprop.step_max));
    g = V(select)(flipped, zero, g);
    NNOPT__STORE(a->s[0], g);
    NNOPT__STORE(a->s[1], step);
    NNOPT__STORE(a->param, V(fma)(V(neg)(V(sign)(g)), step, p));
}
NNOPT__KERNEL(rprop, nnopt__optim_args)

/* ASGD. s0 = averaged parameters. p = p (1 - lambd eta) - eta g; the average copies p while
   mu = 1 (before t0), then ax += mu (p - ax). */
NNOPT__OP void V(asgd_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) g = V(grad_prologue)(a, &p, NNOPT__LOAD(a->grad));
    p = V(fma)(g, V(set1)(a->k.asgd.neg_eta), V(mul)(p, V(set1)(a->k.asgd.decay)));
    NNOPT__STORE(a->param, p);
    if (a->k.asgd.mu == 1.0f) {                      /* ax is only written: prefetch it */
        V(prefetch_write)(a->s[0] + i, 512);
        NNOPT__STORE(a->s[0], p);
    } else {
        V(vec) ax = NNOPT__LOAD(a->s[0]);
        NNOPT__STORE(a->s[0], V(add)(ax, V(mul)(V(sub)(p, ax), V(set1)(a->k.asgd.mu))));
    }
}
NNOPT__KERNEL(asgd, nnopt__optim_args)

/* Lion. s0 = m. p -= lr sign(beta1 m + (1-beta1) g); then m = ema(m, g) with beta2. */
NNOPT__OP void V(lion_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) g = V(grad_prologue)(a, &p, NNOPT__LOAD(a->grad));
    V(vec) m = NNOPT__LOAD(a->s[0]);
    V(vec) c = V(ema)(m, a->k.lion.beta1, g, a->k.lion.one_minus_beta1);
    NNOPT__STORE(a->param, V(fma)(V(sign)(c), V(set1)(a->k.lion.neg_lr), p));
    NNOPT__STORE(a->s[0], V(ema)(m, a->k.lion.beta2, g, a->k.lion.one_minus_beta2));
}
NNOPT__KERNEL(lion, nnopt__optim_args)

/* AdaBelief. s0 = m, s1 = s (variance of g around m, eps added and kept), s2 = max s.
   m = ema(m, g); s = ema(s, (g - m)^2) + eps. Mode 0: p += coef m / (sqrt(s^)/sqrt(bc2) + eps);
   mode 1 (rectified): p += coef m / (sqrt(s) + eps); mode 2: p += coef m. */
NNOPT__OP void V(adabelief_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) g = V(grad_prologue)(a, &p, NNOPT__LOAD(a->grad));
    V(vec) eps = V(set1)(a->k.adabelief.eps), coef = V(set1)(a->k.adabelief.coef);
    V(vec) m = V(ema)(NNOPT__LOAD(a->s[0]), a->k.adabelief.beta1, g, a->k.adabelief.one_minus_beta1);
    V(vec) d = V(sub)(g, m);
    V(vec) s = V(add)(V(ema)(NNOPT__LOAD(a->s[1]), a->k.adabelief.beta2, V(mul)(d, d),
                             a->k.adabelief.one_minus_beta2), eps);
    V(vec) shat = s;
    NNOPT__STORE(a->s[0], m);
    NNOPT__STORE(a->s[1], s);
    if (a->k.adabelief.amsgrad) {
        shat = V(max)(NNOPT__LOAD(a->s[2]), s);
        NNOPT__STORE(a->s[2], shat);
    }
    if (a->k.adabelief.mode == 0) {
        V(vec) denom = V(add)(V(mul)(V(sqrt)(shat), V(set1)(a->k.adabelief.inv_sqrt_bc2)), eps);
        p = V(fma)(V(div)(m, denom), coef, p);
    } else if (a->k.adabelief.mode == 1) {
        p = V(fma)(V(div)(m, V(add)(V(sqrt)(s), eps)), coef, p);
    } else {
        p = V(fma)(m, coef, p);
    }
    NNOPT__STORE(a->param, p);
}
NNOPT__KERNEL(adabelief, nnopt__optim_args)

/* Yogi. s0 = m, s1 = v (both start at initial_accumulator_value). m = ema(m, g);
   v -= (1-beta2) sign(v - g^2) g^2; p -= lr (m/bc1) / (sqrt(v/bc2) + eps). */
NNOPT__OP void V(yogi_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) g = V(grad_prologue)(a, &p, NNOPT__LOAD(a->grad));
    V(vec) m = V(ema)(NNOPT__LOAD(a->s[0]), a->k.yogi.beta1, g, a->k.yogi.one_minus_beta1);
    V(vec) v = NNOPT__LOAD(a->s[1]), g2 = V(mul)(g, g);
    V(vec) update;
    v = V(fma)(V(mul)(V(sign)(V(sub)(v, g2)), g2), V(set1)(a->k.yogi.neg_one_minus_beta2), v);
    NNOPT__STORE(a->s[0], m);
    NNOPT__STORE(a->s[1], v);
    update = V(div)(V(mul)(m, V(set1)(a->k.yogi.inv_bc1)),
                    V(add)(V(sqrt)(V(mul)(v, V(set1)(a->k.yogi.inv_bc2))), V(set1)(a->k.yogi.eps)));
    NNOPT__STORE(a->param, V(fma)(update, V(set1)(a->k.yogi.neg_lr), p));
}
NNOPT__KERNEL(yogi, nnopt__optim_args)

/* LAMB, two passes. s0 = m, s1 = v, s2 = the update u = (m/bc1) / (sqrt(v/bc2) + eps) + wd p.
   The first pass advances m, v, stores u and sums |p|^2 and |u|^2; the second applies
   p -= lr (|p|/|u|) u (keeping u saves the second pass a divide and a square root). */
NNOPT__OP V(vec) V(lamb_update)(const nnopt__optim_args *a, V(vec) p, V(vec) m, V(vec) v)
{
    V(vec) adam = V(div)(V(mul)(m, V(set1)(a->k.lamb.inv_bc1)),
                         V(add)(V(sqrt)(V(mul)(v, V(set1)(a->k.lamb.inv_bc2))), V(set1)(a->k.lamb.eps)));
    return V(fma)(p, V(set1)(a->k.lamb.weight_decay), adam);
}
NNOPT__OP void V(lamb_moments_block)(nnopt__optim_args *a, size_t i, size_t k, size_t part,
                                     V(dacc) *p_sq, V(dacc) *u_sq)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) g = V(grad_prologue)(a, &p, NNOPT__LOAD(a->grad));
    V(vec) m = V(ema)(NNOPT__LOAD(a->s[0]), a->k.lamb.beta1, g, a->k.lamb.one_minus_beta1);
    V(vec) v = V(ema)(NNOPT__LOAD(a->s[1]), a->k.lamb.beta2, V(mul)(g, g), a->k.lamb.one_minus_beta2);
    V(vec) u = V(lamb_update)(a, p, m, v);
    NNOPT__STORE(a->s[0], m);
    NNOPT__STORE(a->s[1], v);
    V(prefetch_write)(a->s[2] + i, 512);           /* u is only written here */
    NNOPT__STORE(a->s[2], u);
    /* A tail's unused lanes hold u = 0/(0 + eps), NaN when eps is 0: sum the stored u back */
    if (k < NNOPT__W) u = NNOPT__LOAD(a->s[2]);    /* with those lanes read as 0. */
    V(dacc_add_sq)(p_sq, p, part);
    V(dacc_add_sq)(u_sq, u, part);
}
NNOPT__REDUCING_KERNEL(lamb_moments)
NNOPT__OP void V(lamb_apply_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param);
    NNOPT__STORE(a->param, V(fma)(NNOPT__LOAD(a->s[2]), V(set1)(a->k.lamb.neg_lr_ratio), p));
}
NNOPT__KERNEL(lamb_apply, nnopt__optim_args)

/* LARS (optax form), two passes. u = g + wd p; the first pass sums |p|^2 and |u|^2, the
   second scales u by -lr times the trust ratio tc |p| / (|u| + eps), runs it through the
   momentum trace b = u + mu b (Nesterov: u + mu b_new) and adds it to p. s0 = trace. */
NNOPT__OP V(vec) V(lars_update)(const nnopt__optim_args *a, V(vec) p, V(vec) g)
{
    if (a->maximize) g = V(neg)(g);
    return V(fma)(p, V(set1)(a->k.lars.weight_decay), g);
}
NNOPT__OP void V(lars_norms_block)(nnopt__optim_args *a, size_t i, size_t k, size_t part,
                                   V(dacc) *p_sq, V(dacc) *u_sq)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(dacc_add_sq)(p_sq, p, part);
    V(dacc_add_sq)(u_sq, V(lars_update)(a, p, NNOPT__LOAD(a->grad)), part);
}
NNOPT__REDUCING_KERNEL(lars_norms)
NNOPT__OP void V(lars_apply_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param);
    V(vec) u = V(mul)(V(lars_update)(a, p, NNOPT__LOAD(a->grad)), V(set1)(a->k.lars.neg_lr_ratio));
    if (a->s[0]) {
        V(vec) mu = V(set1)(a->k.lars.momentum);
        V(vec) b = V(fma)(NNOPT__LOAD(a->s[0]), mu, u);
        NNOPT__STORE(a->s[0], b);
        u = a->k.lars.nesterov ? V(fma)(b, mu, u) : b;
    }
    NNOPT__STORE(a->param, V(add)(p, u));
}
NNOPT__KERNEL(lars_apply, nnopt__optim_args)

/* Gradient clipping: sums of g^2 (and of |g| for the 1-norm), per-lane maxima of |g|, scaling, clamping (the
   bound first, so NaN passes through as in torch.clamp). The gradient is a->grad when read,
   a->param when written. */
NNOPT__OP void V(grad_sums_block)(nnopt__optim_args *a, size_t i, size_t k, size_t part,
                                  V(dacc) *sq, V(dacc) *ab)
{
    V(vec) g = NNOPT__LOAD(a->grad);
    V(dacc_add_sq)(sq, g, part);
    if (a->k.clip.absolute) V(dacc_add)(ab, V(abs)(g), part);
}
NNOPT__REDUCING_KERNEL(grad_sums)
NNOPT__OP void V(grad_max_abs_block)(nnopt__optim_args *a, size_t i, size_t k, size_t part,
                                     V(dacc) *mx, V(dacc) *unused)
{
    (void)unused;
    V(dacc_max)(mx, V(abs)(NNOPT__LOAD(a->grad)), part);
}
NNOPT__REDUCING_KERNEL(grad_max_abs)
NNOPT__OP void V(grad_scale_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    NNOPT__STORE(a->param, V(mul)(NNOPT__LOAD(a->param), V(set1)(a->k.clip.scale)));
}
NNOPT__KERNEL(grad_scale, nnopt__optim_args)
NNOPT__OP void V(grad_clamp_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) g = V(max)(V(set1)(a->k.clip.lo), NNOPT__LOAD(a->param));
    NNOPT__STORE(a->param, V(min)(V(set1)(a->k.clip.hi), g));
}
NNOPT__KERNEL(grad_clamp, nnopt__optim_args)

/* Averaging. s0 = the average; a->param is read only. Mode 0 copies p (the first update),
   SWA: avg += (p - avg) / divisor (divisor = updates so far + 1, torch AveragedModel),
   EMA: avg = decay avg + (1 - decay) p (torch get_ema_avg_fn). */
NNOPT__OP void V(average_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) p = NNOPT__LOAD(a->param), avg;
    if (a->k.average.mode == 0) {
        avg = p;
    } else if (a->k.average.mode == NNOPT_AVERAGE_SWA) {
        avg = NNOPT__LOAD(a->s[0]);
        avg = V(add)(avg, V(div)(V(sub)(p, avg), V(set1)(a->k.average.divisor)));
    } else {
        avg = V(add)(V(mul)(NNOPT__LOAD(a->s[0]), V(set1)(a->k.average.decay)),
                     V(mul)(p, V(set1)(a->k.average.one_minus_decay)));
    }
    NNOPT__STORE(a->s[0], avg);
}
NNOPT__KERNEL(average, nnopt__optim_args)

/* Lookahead. s0 = slow weights. slow += alpha (p - slow); p = slow. */
NNOPT__OP void V(lookahead_block)(nnopt__optim_args *a, size_t i, size_t k)
{
    V(vec) slow = NNOPT__LOAD(a->s[0]);
    slow = V(fma)(V(sub)(NNOPT__LOAD(a->param), slow), V(set1)(a->k.lookahead.alpha), slow);
    NNOPT__STORE(a->s[0], slow);
    NNOPT__STORE(a->param, slow);
}
NNOPT__KERNEL(lookahead, nnopt__optim_args)

#undef NNOPT__LOAD
#undef NNOPT__STORE
#undef NNOPT__REDUCING_KERNEL
#endif /* NNOPT_NO_OPTIM */

/* ---- Random-number kernels -------------------------------------------------------- */
/* RNG-KERNEL-SLOT */



#ifndef NNOPT_NO_REG
/* ---- Regularization kernels ------------------------------------------------------- */
/* REG-KERNEL-SLOT */
#endif /* NNOPT_NO_REG */



#ifndef NNOPT_NO_DROPOUT
/* ---- Dropout and DropConnect kernels ---------------------------------------------- */
/* DROPOUT-KERNEL-SLOT */
#endif /* NNOPT_NO_DROPOUT */



#ifndef NNOPT_NO_BATCHNORM
/* ---- Batch-normalization kernels -------------------------------------------------- */
/* BATCHNORM-KERNEL-SLOT */
#endif /* NNOPT_NO_BATCHNORM */



#ifndef NNOPT_NO_AUGMENT
/* ---- Augmentation kernels --------------------------------------------------------- */
/* AUGMENT-KERNEL-SLOT */
#endif /* NNOPT_NO_AUGMENT */



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
