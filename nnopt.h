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
     run time, so no -mavx2 or -march is needed. Every path gives bit-identical results (a NaN
     result is NaN on every path; its sign and payload may differ).

   SEMANTICS
     Contents: optimizers (SGD, Adam, AdamW, Adagrad, RMSprop, Adadelta, Adamax, NAdam, RAdam,
     Rprop, ASGD, Lion, AdaBelief, Yogi, LAMB, LARS) with parameter groups, checkpoints,
     clipping, SWA/EMA averaging and Lookahead; learning-rate schedules (torch.optim.
     lr_scheduler); counter-based random numbers (Philox4x32-10); L1/L2/elastic-net penalties,
     proximal steps and max-norm; dropout (inverted, classic, channel, alpha) and DropConnect;
     batch normalization (NC, NCHW, NHWC, fused ReLU); image augmentation (uint8 HWC and float
     CHW ops, seeded pipelines, mixup and cutmix). Reference: docs/api.md.

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
     NNOPT_ON_ERROR(status, function, argument, reason)
                             called at every failure (e.g. to log it); the last three are
                             string literals (argument and reason may be NULL); default: nothing
     NNOPT_NO_SIMD           portable C path only
     NNOPT_NO_AVX512         drop the AVX-512 path (keep AVX2+FMA)
     NNOPT_NO_OPTIM          remove the optimizer section (and the schedules' apply functions)
     NNOPT_NO_SCHED          remove the learning-rate schedule section
     NNOPT_NO_REG, NNOPT_NO_DROPOUT, NNOPT_NO_BATCHNORM, NNOPT_NO_AUGMENT
                             remove the regularization, dropout, batch-norm and augmentation
                             sections (the random numbers stay: dropout and augmentation use them)
     NNOPT_SPLIT_MIN, NNOPT_SPLIT_MIN_HEAVY
                             with OpenMP: the lengths from which element-wise optimizer
                             kernels split across threads (default 65536; 8192 for the kinds
                             with a divide or square root per element)
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
     paths would no longer agree bit for bit (pragmas turn contraction off for gcc's and clang's
     default modes; clang's -ffp-contract=fast overrides them).

   VERSION 0.2.0 — see NNOPT_VERSION_STRING. Licence: MIT, see the end of the file.
*/

/* CONTENTS, in file order. A "----" entry is a banner comment "---- Name ----": search for
   "---- Name". A "====" entry is a title under a line of '='s; in the implementation its name
   comes after the declarations' banner of the same name.
     ==== Public API                 declarations, one banner per section:
       ---- Status and instruction-set paths
       ---- Optimizers
       ---- Learning-rate schedules
       ---- Random numbers (Philox4x32-10)
       ---- Regularization: penalties, proximal step, max-norm
       ---- Dropout and DropConnect
       ---- Batch normalization
       ---- Image augmentation
       ---- Pipelines: a list of ops described once, applied to batches
     ==== Implementation             shared parts first:
       ---- Kernel arguments         the argument structs every kernel instance takes
       ---- The kernels, once per instruction set      the three self-includes
       ---- Error detail             nnopt_last_error, NNOPT__REQUIRE, NNOPT__FAIL
       ---- Instruction-set detection and dispatch     CPUID, NNOPT_ISA, NNOPT__PICK
       ---- Argument checks shared by every section
     ==== Optimizers                 host code: object, stepping, groups, checkpoints, clipping
       ---- Running a kernel         threads and fixed-order reductions
       ---- Optimizer kinds: one row each       nnopt__kind_rows: defaults, rules, state, kernels
       ---- The optimizer object
       ---- Stepping                 the kind-agnostic driver, nnopt__step_group
       ---- Checkpoints              tagged records (format 2), the format-1 reader
     ==== Learning-rate schedules
     ==== Random numbers
     ==== Regularization
     ==== Dropout and DropConnect
     ==== Batch normalization
     ==== Image augmentation         images, geometry, color, normalize, mixing, pipelines
     ==== Kernels                    the kernel pass, compiled once per instruction set:
       ---- Vocabulary               V(add), V(fma), V(loadn)... per path; NNOPT__KERNEL
       ---- Shared kernels
       ---- Optimizer kernels
       ---- Random-number kernels
       ---- Regularization kernels
       ---- Dropout and DropConnect kernels
       ---- Batch-normalization kernels
       ---- Augmentation kernels
*/

/* =====================================================================================
   Public API
   ===================================================================================== */
#ifndef NNOPT_H_INCLUDED
#define NNOPT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define NNOPT_VERSION_MAJOR 0
#define NNOPT_VERSION_MINOR 2
#define NNOPT_VERSION_PATCH 0
#define NNOPT_VERSION_STRING "0.2.0"

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
/* Why the last failed call of this thread failed, e.g. "nnopt_create: beta2: must lie in
   [0, 1)" or "nnopt_step: grad: overlaps param"; "" when none has failed. The detail is
   recorded only when a call fails (a few pointer stores), and it stays until the next failure
   on the thread (nnopt_clear_error() empties it). */
NNOPT_API const char *nnopt_last_error(void);
NNOPT_API void        nnopt_clear_error(void);

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

/* State for one flat vector of n parameters. NULL if h is invalid or memory runs out
   (nnopt_last_error() tells which). */
NNOPT_API nnopt_optimizer *nnopt_create(const nnopt_hparams *h, size_t n);
/* State for several tensors (parameter groups). */
NNOPT_API nnopt_optimizer *nnopt_create_groups(const nnopt_hparams *h, const nnopt_group *groups,
                                               size_t ngroups);
/* The same with a status: NNOPT_ERR_INVALID (nnopt_last_error() says which argument and why)
   or NNOPT_ERR_NOMEM, *out NULL then; NNOPT_OK with the optimizer in *out. */
NNOPT_API nnopt_status     nnopt_try_create(nnopt_optimizer **out, const nnopt_hparams *h,
                                            const nnopt_group *groups, size_t ngroups);
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

/* What an optimizer of hyper-parameters h keeps and how a step moves memory: its state
   buffers (n floats each, named as in checkpoints: torch's state names such as "exp_avg",
   plus "average" and "slow" for averaging and Lookahead), the passes over the data per step
   (2 for the kinds with a trust ratio, LAMB and LARS) and the floats each pass reads and
   writes per element in the steady state (averaging and Lookahead add passes of their own).
   NNOPT_ERR_INVALID if h is invalid. */
typedef struct nnopt_kind_traits {
    int         buffers;
    const char *buffer_name[6];
    int         passes;
    int         reads[2], writes[2];
} nnopt_kind_traits;
NNOPT_API nnopt_status     nnopt_traits(const nnopt_hparams *h, nnopt_kind_traits *out);
/* A state buffer by its name (all groups, flat), or NULL when the optimizer has none such. */
NNOPT_API const float     *nnopt_state(const nnopt_optimizer *opt, const char *name);

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
/* Counter-based random numbers (Philox4x32-10, Random123's definition). Word `index` of the
   stream (seed, stream) is a pure function of the three numbers, so every path, chunking and
   thread count gives the same bits and any element's randomness can be recomputed (a backward
   pass regenerates a dropout mask instead of storing it). The layout (docs/api.md): key =
   (seed lo32, seed hi32); counter = (block lo32, block hi32, stream lo32, stream hi32); word
   `index` is word (index >> 4) & 3 of block (index >> 6) * 16 + (index & 15). Sixty-four
   consecutive words thus come from 16 consecutive blocks, lane-major, which is what a 16-lane
   vector of counters produces without shuffling. */
typedef struct nnopt_rng {
    uint64_t seed;     /* the key */
    uint64_t stream;   /* independent streams per seed, e.g. one per layer or per sample */
    uint64_t offset;   /* index of the first word a bulk call uses */
} nnopt_rng;

/* One block: out = Philox4x32-10(counter, key). */
NNOPT_API void     nnopt_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);
NNOPT_API uint32_t nnopt_random_word(uint64_t seed, uint64_t stream, uint64_t index);
/* (word >> 8) * 2^-24: 24 random bits, in [0, 1). An event of probability p happens at index
   e iff uniform_at(e) < p, everywhere in nnopt (p = 0: never, p = 1: always, exactly). */
NNOPT_API float    nnopt_random_uniform_at(uint64_t seed, uint64_t stream, uint64_t index);
/* Standard normal number `index` (Box-Muller on two words of the same 64-word super-block:
   normal 64s + 32q + 16c + l uses words 64s + 32q + l and 64s + 32q + 16 + l, cosine for
   c = 0 and sine for c = 1), with float logarithm and sine/cosine of nnopt's own, so the bits
   do not depend on the C library. */
NNOPT_API float    nnopt_random_normal_at(uint64_t seed, uint64_t stream, uint64_t index);

/* Bulk generation: out[i] is number rng->offset + i of the stream. NNOPT_ERR_INVALID for NULL
   rng, NULL out with n > 0, offset + n - 1 past 2^64 - 1, or a bad parameter (mean or std not finite,
   std < 0; p NaN or outside [0, 1]). */
NNOPT_API nnopt_status nnopt_random_u32(const nnopt_rng *rng, uint32_t *out, size_t n);
NNOPT_API nnopt_status nnopt_random_uniform(const nnopt_rng *rng, float *out, size_t n);
NNOPT_API nnopt_status nnopt_random_normal(const nnopt_rng *rng, float *out, size_t n,
                                           double mean, double std);   /* fmaf(std, z, mean), both rounded to float */
NNOPT_API nnopt_status nnopt_random_bernoulli(const nnopt_rng *rng, uint8_t *out, size_t n, double p);



#ifndef NNOPT_NO_REG
/* ---- Regularization: penalties, proximal step, max-norm ------------------------- */
/* Penalties on a weight vector w of n floats. Conventions (both as in torch and CS231n):
     L1           l1 * sum |w_i|                     gradient l1 * sign(w_i)  (0 at w_i = 0)
     L2           (l2 / 2) * sum w_i^2               gradient l2 * w_i
     elastic net  l1 * sum |w_i| + (l2 / 2) * sum w_i^2
   so l2 is exactly the weight_decay of torch.optim.SGD (coupled decay adds weight_decay * w to
   the gradient). Each adds its gradient into grad (grad += dP/dw, in place, when grad is not
   NULL) and stores the penalty, summed in double in a fixed order, in *value (when not NULL).
   l1, l2 finite and >= 0; w and grad must not overlap. */
NNOPT_API nnopt_status nnopt_penalty_l1(const float *w, float *grad, size_t n, double l1,
                                        double *value);
NNOPT_API nnopt_status nnopt_penalty_l2(const float *w, float *grad, size_t n, double l2,
                                        double *value);
NNOPT_API nnopt_status nnopt_penalty_elastic_net(const float *w, float *grad, size_t n,
                                                 double l1, double l2, double *value);

/* Proximal steps: the exact minimizer of t*(l1 |x| + (l2/2) x^2) + (x - v)^2 / 2, per element,
     prox(v) = sign(v) * max(|v| - t*l1, 0) / (1 + t*l2),
   so every |v| <= t*l1 becomes exactly +0 (NaN stays NaN).
   nnopt_prox_l1:            w = sign(w) max(|w| - threshold, 0)            (soft threshold)
   nnopt_prox_elastic_net:   w = prox(w) with t = lr
   nnopt_proximal_sgd_step:  w = prox(w - lr * grad) with t = lr: one proximal-gradient (FOBOS)
                             step, TensorFlow's ApplyProximalGradientDescent. grad may be NULL
                             (then it is the prox alone); it must not overlap w. */
NNOPT_API nnopt_status nnopt_prox_l1(float *w, size_t n, double threshold);
NNOPT_API nnopt_status nnopt_prox_elastic_net(float *w, size_t n, double lr, double l1, double l2);
NNOPT_API nnopt_status nnopt_proximal_sgd_step(float *w, const float *grad, size_t n, double lr,
                                               double l1, double l2);

/* Max-norm constraint, torch.renorm(w, 2, 0, max_norm) on a row-major rows x cols matrix (the
   weight of nn.Linear: one row per unit's incoming weights): every row whose 2-norm exceeds
   max_norm is scaled by max_norm / (norm + 1e-7); other rows are untouched. The norm is summed
   in double in a fixed order. Optional clipped: how many rows were scaled. */
NNOPT_API nnopt_status nnopt_max_norm(float *w, size_t rows, size_t cols, double max_norm,
                                      size_t *clipped);
#endif /* NNOPT_NO_REG */



#ifndef NNOPT_NO_DROPOUT
/* ---- Dropout and DropConnect ----------------------------------------------------- */
/* p is the DROP probability (torch's). Element e of a call (0 <= e < n) is dropped iff
   nnopt_random_uniform_at(rng->seed, rng->stream, rng->offset + e) < p, compared exactly
   (the 24-bit uniform against the double p), so p = 0 keeps and p = 1 drops everything, and a
   backward pass given the same rng regenerates the mask. Bit masks hold one bit per element,
   1 = kept: bit e % 8 of byte e / 8 ((n + 7) / 8 bytes; the unused high bits of the last byte
   are 0). A dropped output is exactly +0 whatever x holds (torch multiplies by 0, so a NaN or
   Inf input leaks through as NaN there). p NaN or outside [0, 1], NULL or misaligned buffers,
   a partial overlap of x and y (y == x, in place, is allowed), or offset + n past 2^64:
   NNOPT_ERR_INVALID and nothing written. */
typedef enum nnopt_dropout_scaling {
    NNOPT_DROPOUT_INVERTED = 0,   /* train: kept x / (1 - p); inference: identity (torch) */
    NNOPT_DROPOUT_CLASSIC  = 1    /* train: kept x unchanged; inference: x * (1 - p) */
} nnopt_dropout_scaling;

/* Training forward: y = kept ? x * scale : 0 with scale = 1 / (1 - p) (inverted; computed in
   double, rounded once; p = 1 gives all zeros) or 1 (classic). mask_bits (may be NULL: the
   backward pass then regenerates the mask) receives the kept bits. */
NNOPT_API nnopt_status nnopt_dropout_forward(const nnopt_rng *rng, double p, nnopt_dropout_scaling scaling,
                                             const float *x, float *y, uint8_t *mask_bits, size_t n);
/* Backward: dx = kept ? dy * scale : 0, the mask regenerated from rng (same rng as the forward). */
NNOPT_API nnopt_status nnopt_dropout_backward(const nnopt_rng *rng, double p, nnopt_dropout_scaling scaling,
                                              const float *dy, float *dx, size_t n);
/* Backward from a stored bit mask. */
NNOPT_API nnopt_status nnopt_dropout_backward_mask(const uint8_t *mask_bits, double p,
                                                   nnopt_dropout_scaling scaling,
                                                   const float *dy, float *dx, size_t n);
/* Inference: y = x (inverted) or y = x * (1 - p) (classic). */
NNOPT_API nnopt_status nnopt_dropout_inference(double p, nnopt_dropout_scaling scaling,
                                               const float *x, float *y, size_t n);

/* Channel dropout (torch Dropout1d/2d/3d): one Bernoulli per (sample, channel), number
   rng->offset + s * channels + c of the stream; a dropped channel's `spatial` elements become
   0, a kept one's are scaled by 1 / (1 - p). Layout NCHW: x[(s * channels + c) * spatial + h];
   NHWC: x[(s * spatial + h) * channels + c]. channel_bits (may be NULL) receives one bit per
   (s, c) in the same order as above. The backward pass is the same call on dy with the same rng. */
typedef enum nnopt_dropout_layout { NNOPT_DROPOUT_NCHW = 0, NNOPT_DROPOUT_NHWC = 1 } nnopt_dropout_layout;
NNOPT_API nnopt_status nnopt_dropout_channels(const nnopt_rng *rng, double p, nnopt_dropout_layout layout,
                                              const float *x, float *y, size_t samples,
                                              size_t channels, size_t spatial, uint8_t *channel_bits);

/* AlphaDropout (torch nn.AlphaDropout, for SELU networks; keeps mean 0 and variance 1): with
   alpha' = 1.7580993408473766 and a = 1 / sqrt((alpha'^2 p + 1)(1 - p)), all in double,
   kept: y = x * a + alpha' a p; dropped: y = -alpha' a (1 - p) (each coefficient rounded once
   to float; the kept value is a float multiply then an add). p = 0: y = x; p = 1: y = 0 (as
   torch). Backward: dx = kept ? dy * a : 0 (regenerated from rng). */
NNOPT_API nnopt_status nnopt_alpha_dropout_forward(const nnopt_rng *rng, double p, const float *x,
                                                   float *y, uint8_t *mask_bits, size_t n);
NNOPT_API nnopt_status nnopt_alpha_dropout_backward(const nnopt_rng *rng, double p, const float *dy,
                                                    float *dx, size_t n);

/* DropConnect (Wan et al. 2013): a dense layer y = (M o W) x + m o b over a batch, W row-major
   [out][in], x [batch][in], y [batch][out], b [out] (may be NULL: no bias). Every weight AND
   bias is dropped with probability p (kept weights are not rescaled, as in the paper): the
   Bernoulli of weight (o, i) for sample s is number
       rng->offset + (per_sample ? s : 0) * out * (in + 1) + o * (in + 1) + i
   of the stream, the bias of unit o is i = in. per_sample = 1 draws a new mask per example
   (the paper), 0 shares one mask over the batch. Products are summed in double in a fixed
   order (the same bits on every path) and rounded once. A dropped weight or bias contributes
   nothing to y, dx, dW or db, whatever W, x or dy hold (torch's (M o W) x would give
   0 * Inf = NaN there). */
NNOPT_API nnopt_status nnopt_dropconnect_forward(const nnopt_rng *rng, double p, int per_sample,
                                                 const float *W, const float *b, const float *x,
                                                 float *y, size_t batch, size_t in, size_t out);
/* Backward with the mask regenerated: dW = sum_s (M_s o dy_s x_s^T), dx_s = (M_s o W)^T dy_s,
   db = sum_s m_s o dy_s. dW [out][in], dx [batch][in], db [out] are overwritten; any may be NULL. */
NNOPT_API nnopt_status nnopt_dropconnect_backward(const nnopt_rng *rng, double p, int per_sample,
                                                  const float *W, const float *x, const float *dy,
                                                  float *dW, float *dx, float *db,
                                                  size_t batch, size_t in, size_t out);
/* Inference. The activation applied to the layer's output, in double: */
typedef enum nnopt_dropconnect_activation {
    NNOPT_DROPCONNECT_IDENTITY = 0, NNOPT_DROPCONNECT_RELU = 1, NNOPT_DROPCONNECT_TANH = 2,
    NNOPT_DROPCONNECT_SIGMOID = 3
} nnopt_dropconnect_activation;
/* Expectation scaling: y = act((1 - p)(W x + b)), the mean pre-activation. */
NNOPT_API nnopt_status nnopt_dropconnect_inference_mean(double p, nnopt_dropconnect_activation act,
                                                        const float *W, const float *b,
                                                        const float *x, float *y,
                                                        size_t batch, size_t in, size_t out);
/* The paper's Gaussian moment matching: with q = 1 - p, per output
   mu = q (W x + b), var = q p ((W o W)(x o x) + b o b) (all in double), then
   y = (1/K) sum_k act(mu + sqrt(var) z_k), z_k = nnopt_random_normal_at(seed, stream,
   offset + (s * out + o) * samples + k). samples >= 1. */
NNOPT_API nnopt_status nnopt_dropconnect_inference_gaussian(const nnopt_rng *rng, double p,
                                                            nnopt_dropconnect_activation act, size_t samples,
                                                            const float *W, const float *b,
                                                            const float *x, float *y,
                                                            size_t batch, size_t in, size_t out);
#endif /* NNOPT_NO_DROPOUT */



#ifndef NNOPT_NO_BATCHNORM
/* ---- Batch normalization ---------------------------------------------------------- */
/* Batch normalization over a tensor of N samples, C channels and HW spatial positions
   (torch.nn.BatchNorm1d/2d semantics). Layouts: NC (HW = 1), NCHW (each channel's HW values
   contiguous per sample) and NHWC (channels last: the C values of one position contiguous).
   Per channel c, over its M = N*HW values:
     training   mean = sum x / M, var = sum (x - mean)^2 / M (biased, to normalize),
                y = (x - mean) / sqrt(var + eps) * gamma + beta   [then max(y, 0) with fuse_relu]
                running_mean = (1 - m) running_mean + m mean,
                running_var  = (1 - m) running_var  + m var * M / (M - 1)   (unbiased)
                with m = momentum, or 1 / num_batches_tracked for the cumulative average.
     inference  the same y from running_mean and running_var.
   Statistics are summed in double in one fixed order, so results are bit-identical on every
   instruction-set path and for every thread count. Every function returns NNOPT_OK or
   NNOPT_ERR_INVALID (nothing written). See docs/batchnorm.md. */
typedef enum nnopt_bn_layout {
    NNOPT_BN_NC   = 0,    /* [N][C]; hw must be 1 */
    NNOPT_BN_NCHW = 1,    /* [N][C][HW] */
    NNOPT_BN_NHWC = 2     /* [N][HW][C] */
} nnopt_bn_layout;

typedef struct nnopt_bn_params {
    nnopt_bn_layout layout;
    size_t n, c, hw;            /* batch, channels, spatial size H*W (1 for NC); all > 0 */
    double eps;                 /* > 0, default 1e-5 */
    double momentum;            /* in [0, 1], default 0.1 */
    int    cumulative_average;  /* torch momentum=None: factor 1/num_batches_tracked */
    int    track_running_stats; /* training updates running_mean/var (default 1) */
    int    affine;              /* gamma and beta used (default 1); off: 1 and 0 */
    int    fuse_relu;           /* y = max(bn(x), 0); backward masks dy where y <= 0 */
} nnopt_bn_params;

/* Defaults of torch's BatchNorm: eps 1e-5, momentum 0.1, affine, tracking running stats. */
NNOPT_API nnopt_bn_params nnopt_bn_defaults(nnopt_bn_layout layout, size_t n, size_t c, size_t hw);

/* Training forward. x, y: n*c*hw floats (y may be x). gamma, beta: c floats (read when
   affine). With track_running_stats, running_mean and running_var (c floats each) are updated
   and *num_batches_tracked (required with cumulative_average, optional otherwise) is
   incremented first, as torch does. save_mean and save_invstd (c floats each, optional)
   receive the batch mean and 1/sqrt(var + eps) for the backward pass. n*hw must be > 1. */
NNOPT_API nnopt_status nnopt_bn_forward_train(const nnopt_bn_params *p, const float *x, float *y,
                                              const float *gamma, const float *beta,
                                              float *running_mean, float *running_var,
                                              uint64_t *num_batches_tracked,
                                              float *save_mean, float *save_invstd);

/* Inference forward from the running statistics (y may be x). */
NNOPT_API nnopt_status nnopt_bn_forward_infer(const nnopt_bn_params *p, const float *x, float *y,
                                              const float *gamma, const float *beta,
                                              const float *running_mean,
                                              const float *running_var);

/* Folds the running statistics into y = x * scale + shift per channel (scale = gamma /
   sqrt(running_var + eps), shift = beta - running_mean * scale; gamma and beta may both be
   NULL: 1 and 0), e.g. to merge a batch norm into the convolution before it. */
NNOPT_API nnopt_status nnopt_bn_fold(size_t c, double eps, const float *gamma, const float *beta,
                                     const float *running_mean, const float *running_var,
                                     float *scale, float *shift);

/* Training backward from the saved batch statistics: dx = (g - mean(g) - xhat mean(g xhat))
   * gamma * invstd, dgamma = sum g xhat, dbeta = sum g, with g = dy, or with fuse_relu dy
   where the forward's output was positive. That mask is recomputed from x with the forward's
   own operations (same bits), so beta is read (affine and fuse_relu only) and no forward
   output or workspace is needed. dx may be x or dy; dgamma and dbeta (c floats) are
   optional and written only when affine. */
NNOPT_API nnopt_status nnopt_bn_backward_train(const nnopt_bn_params *p, const float *x,
                                               const float *dy, const float *gamma,
                                               const float *beta, const float *save_mean,
                                               const float *save_invstd,
                                               float *dx, float *dgamma, float *dbeta);

/* Inference-mode backward: the running statistics are constants, dx = g * gamma /
   sqrt(running_var + eps); dgamma and dbeta as above with the running statistics. */
NNOPT_API nnopt_status nnopt_bn_backward_infer(const nnopt_bn_params *p, const float *x,
                                               const float *dy, const float *gamma,
                                               const float *beta, const float *running_mean,
                                               const float *running_var,
                                               float *dx, float *dgamma, float *dbeta);
#endif /* NNOPT_NO_BATCHNORM */



#ifndef NNOPT_NO_AUGMENT
/* ---- Image augmentation ----------------------------------------------------------- */
/* Images: uint8 interleaved HWC (what image loaders give) or float32 planar CHW; 1, 3 or 4
   channels (color ops treat a 4th channel as alpha and leave it alone). Functional ops take
   every parameter and match torchvision 0.14's functional ops on tensors (docs/augmentation.md
   gives each op's counterpart and rounding); dst's size fields give the output size. Source
   and destination must not overlap. On any error nothing is written. Random draws (noise,
   erasing values, MixUp and CutMix, pipelines) come from the Philox generator above at
   documented indices, so they are the same on every path and for any split of the work. */
typedef enum nnopt_image_format {
    NNOPT_IMAGE_U8_HWC  = 0,   /* height rows of width pixels of channels bytes */
    NNOPT_IMAGE_F32_CHW = 1    /* channels planes of height rows of width floats */
} nnopt_image_format;

typedef struct nnopt_image {
    nnopt_image_format format;
    int   width, height, channels;
    void *data;
} nnopt_image;

typedef enum nnopt_pad_mode {
    NNOPT_PAD_CONSTANT = 0,    /* fill value */
    NNOPT_PAD_EDGE,            /* repeat the border pixel */
    NNOPT_PAD_REFLECT,         /* mirror without the border: 1 2 3 4 -> 3 2 | 1 2 3 4 | 3 2 */
    NNOPT_PAD_SYMMETRIC        /* mirror with the border:    1 2 3 4 -> 2 1 | 1 2 3 4 | 4 3 */
} nnopt_pad_mode;

typedef enum nnopt_interp {
    NNOPT_INTERP_BILINEAR = 0, /* half-pixel centres, no antialias (torch interpolate) */
    NNOPT_INTERP_NEAREST  = 1  /* torch "nearest": source floor(dst * in/out) */
} nnopt_interp;

NNOPT_API nnopt_image  nnopt_image_u8(uint8_t *data, int width, int height, int channels);
NNOPT_API nnopt_image  nnopt_image_f32(float *data, int width, int height, int channels);
NNOPT_API size_t       nnopt_image_bytes(const nnopt_image *img);   /* 0 if invalid */

/* Geometry (same format in and out; values copied exactly). */
NNOPT_API nnopt_status nnopt_aug_hflip(const nnopt_image *src, const nnopt_image *dst);
NNOPT_API nnopt_status nnopt_aug_vflip(const nnopt_image *src, const nnopt_image *dst);
/* The dst-sized window at (top, left), inside src. */
NNOPT_API nnopt_status nnopt_aug_crop(const nnopt_image *src, const nnopt_image *dst, int top, int left);
/* torchvision center_crop: top = round((H - h) / 2) (half to even); a crop larger than the
   image is padded with zeros first, as torchvision does. */
NNOPT_API nnopt_status nnopt_aug_center_crop(const nnopt_image *src, const nnopt_image *dst);
/* dst = src padded by left, top, right, bottom (dst size must agree). fill: one value per
   channel for NNOPT_PAD_CONSTANT (NULL: zeros); reflect needs each pad < that side's size. */
NNOPT_API nnopt_status nnopt_aug_pad(const nnopt_image *src, const nnopt_image *dst, int left, int top,
                                     int right, int bottom, nnopt_pad_mode mode, const float *fill);
/* Resize to dst's size; uint8 results are the float result rounded half to even. */
NNOPT_API nnopt_status nnopt_aug_resize(const nnopt_image *src, const nnopt_image *dst, nnopt_interp interp);
/* torchvision resized_crop: the (top, left, height, width) window (inside src) resized to dst. */
NNOPT_API nnopt_status nnopt_aug_resized_crop(const nnopt_image *src, const nnopt_image *dst, int top,
                                              int left, int height, int width, nnopt_interp interp);
/* The geometric ops above allocate their working memory once per call. The _scratch forms
   below take it from the caller instead and allocate nothing: scratch of at least
   nnopt_aug_scratch_size(dst) bytes (any alignment; it depends only on dst's format, size and
   channels, 0 if they are invalid), not overlapping src or dst. NULL scratch or fewer bytes:
   NNOPT_ERR_INVALID, nothing written. Same results, bit for bit. */
NNOPT_API size_t       nnopt_aug_scratch_size(const nnopt_image *dst);
NNOPT_API nnopt_status nnopt_aug_hflip_scratch(const nnopt_image *src, const nnopt_image *dst,
                                               void *scratch, size_t bytes);
NNOPT_API nnopt_status nnopt_aug_vflip_scratch(const nnopt_image *src, const nnopt_image *dst,
                                               void *scratch, size_t bytes);
NNOPT_API nnopt_status nnopt_aug_crop_scratch(const nnopt_image *src, const nnopt_image *dst, int top, int left,
                                              void *scratch, size_t bytes);
NNOPT_API nnopt_status nnopt_aug_center_crop_scratch(const nnopt_image *src, const nnopt_image *dst,
                                                     void *scratch, size_t bytes);
NNOPT_API nnopt_status nnopt_aug_pad_scratch(const nnopt_image *src, const nnopt_image *dst, int left, int top,
                                             int right, int bottom, nnopt_pad_mode mode, const float *fill,
                                             void *scratch, size_t bytes);
NNOPT_API nnopt_status nnopt_aug_resize_scratch(const nnopt_image *src, const nnopt_image *dst,
                                                nnopt_interp interp, void *scratch, size_t bytes);
NNOPT_API nnopt_status nnopt_aug_resized_crop_scratch(const nnopt_image *src, const nnopt_image *dst, int top,
                                                      int left, int height, int width, nnopt_interp interp,
                                                      void *scratch, size_t bytes);

/* Color (same format and size in and out; 1 or 3 color channels). uint8: computed in float
   as torchvision, clamped, truncated. Factors as torchvision's adjust_* (>= 0; hue in
   [-0.5, 0.5]); contrast's mean is the grayscale image's mean. Hue makes the colors of a
   float pixel with a NaN or infinite channel NaN. */
NNOPT_API nnopt_status nnopt_aug_brightness(const nnopt_image *src, const nnopt_image *dst, double factor);
NNOPT_API nnopt_status nnopt_aug_contrast(const nnopt_image *src, const nnopt_image *dst, double factor);
NNOPT_API nnopt_status nnopt_aug_saturation(const nnopt_image *src, const nnopt_image *dst, double factor);
NNOPT_API nnopt_status nnopt_aug_hue(const nnopt_image *src, const nnopt_image *dst, double factor);
/* 0.2989 R + 0.587 G + 0.114 B into dst's 1 or 3 channels (3: copies; alpha dropped). */
NNOPT_API nnopt_status nnopt_aug_grayscale(const nnopt_image *src, const nnopt_image *dst);

/* dst (float CHW, same size) = (x - mean[c]) / std[c], x = src value, or src byte / 255 for a
   uint8 image (ToTensor / ConvertImageDtype then Normalize, fused). std must be finite and != 0.
   Allocates nothing. */
NNOPT_API nnopt_status nnopt_aug_normalize(const nnopt_image *src, const nnopt_image *dst,
                                           const float *mean, const float *std);
/* Sets the (top, left, height, width) window of img (in place) to value[c] (uint8: truncated
   and clamped). torchvision erase. */
NNOPT_API nnopt_status nnopt_aug_erase(const nnopt_image *img, int top, int left, int height,
                                       int width, const float *value);
/* Sets the window of a float CHW image (in place) to standard normal numbers, as torchvision's
   RandomErasing(value='random'): value (c, y, x) of the window is normal number
   offset + (c height + y) width + x of nnopt_random_normal(seed, stream, mean 0, std 1), a
   C x height x width tensor of draws. uint8 images: NNOPT_ERR_INVALID (torchvision casts the
   normals into the bytes, negatives wrapping to 255, 254, ...: no meaningful fill). */
NNOPT_API nnopt_status nnopt_aug_erase_normal(const nnopt_image *img, int top, int left, int height,
                                              int width, uint64_t seed, uint64_t stream,
                                              uint64_t offset);
/* Adds mean + sigma * N(0,1) to every value (uint8: 255 (mean + sigma n), rounded half to even);
   clip: to [0, 1] (float) or [0, 255]. Normal number e (CHW order) is nnopt_random_normal's
   element e of the rng; numbers past the end of the stream (offset + values > 2^64): invalid. */
NNOPT_API nnopt_status nnopt_aug_gaussian_noise(const nnopt_image *src, const nnopt_image *dst,
                                                double mean, double sigma, int clip,
                                                uint64_t seed, uint64_t stream, uint64_t offset);

/* Batch mixing (torchvision v2 MixUp / CutMix; uint8 HWC forms below). A batch is n float
   CHW images of image_size = C*H*W floats each, back to back; sample i is paired with sample
   i-1 (sample n-1 for i = 0): out_i = lam x_i + (1 - lam) x_{i-1}. Labels are class indices < classes;
   soft_labels (n x classes) = lam onehot(y_i) + (1 - lam) onehot(y_{i-1}). */
NNOPT_API nnopt_status nnopt_aug_mixup(const float *images, float *out, size_t n, size_t image_size,
                                       const int *labels, size_t classes, float *soft_labels, double lam);
/* CutMix with the box (x1, y1) to (x2, y2) (exclusive) taken from sample i-1; the labels are
   mixed with 1 - box area / image area, stored in *lam_adjusted (may be NULL). */
NNOPT_API nnopt_status nnopt_aug_cutmix(const float *images, float *out, size_t n, int channels,
                                        int height, int width, const int *labels, size_t classes,
                                        float *soft_labels, int x1, int y1, int x2, int y2,
                                        double *lam_adjusted);
/* Random forms: lam ~ Beta(alpha, alpha) (alpha > 0), and for CutMix the box centre
   uniform over the pixels and half sizes int(0.5 sqrt(1 - lam) W) and likewise H, clipped.
   Draws come from the stream (seed, stream), see docs/augmentation.md. params (may be NULL)
   receives lam, then for CutMix x1, y1, x2, y2 and the adjusted lam. */
NNOPT_API nnopt_status nnopt_aug_mixup_random(const float *images, float *out, size_t n,
                                              size_t image_size, const int *labels, size_t classes,
                                              float *soft_labels, double alpha, uint64_t seed,
                                              uint64_t stream, double *lam);
NNOPT_API nnopt_status nnopt_aug_cutmix_random(const float *images, float *out, size_t n, int channels,
                                               int height, int width, const int *labels,
                                               size_t classes, float *soft_labels, double alpha,
                                               uint64_t seed, uint64_t stream, double params[6]);
/* uint8 batches: n interleaved HWC images (MixUp: any layout, image_size bytes each), mixed
   with the same pairing, box rule, draws and soft labels as the float forms. MixUp's value is
   the float form's (1 - lam) x_{i-1} + lam x_i, computed in float, then rounded half to even and
   clamped to [0, 255]; CutMix copies the box's bytes exactly. */
NNOPT_API nnopt_status nnopt_aug_mixup_u8(const uint8_t *images, uint8_t *out, size_t n,
                                          size_t image_size, const int *labels, size_t classes,
                                          float *soft_labels, double lam);
NNOPT_API nnopt_status nnopt_aug_cutmix_u8(const uint8_t *images, uint8_t *out, size_t n, int channels,
                                           int height, int width, const int *labels, size_t classes,
                                           float *soft_labels, int x1, int y1, int x2, int y2,
                                           double *lam_adjusted);
NNOPT_API nnopt_status nnopt_aug_mixup_random_u8(const uint8_t *images, uint8_t *out, size_t n,
                                                 size_t image_size, const int *labels, size_t classes,
                                                 float *soft_labels, double alpha, uint64_t seed,
                                                 uint64_t stream, double *lam);
NNOPT_API nnopt_status nnopt_aug_cutmix_random_u8(const uint8_t *images, uint8_t *out, size_t n,
                                                  int channels, int height, int width,
                                                  const int *labels, size_t classes,
                                                  float *soft_labels, double alpha, uint64_t seed,
                                                  uint64_t stream, double params[6]);
/* Beta(alpha, beta) draw number `index` of the stream (Marsaglia-Tsang gammas, in double). */
NNOPT_API double       nnopt_random_beta_at(uint64_t seed, uint64_t stream, uint64_t index,
                                            double alpha, double beta);

/* ---- Pipelines: a list of ops described once, applied to batches -------------------
   Each sample's random choices are a function of (seed, sample index) only: sample k of a
   call with first_index f uses Philox stream f + k, op number j draws words j*64 .. j*64+63
   (and the normals of noise and of random erasing values at index ((j+1) << 32) + e, e the
   value's index in the image or the erased window, CHW order), so results do not depend on
   how a data set is split into calls. nnopt_aug_op_defaults(kind) gives torchvision's defaults. */
typedef enum nnopt_aug_kind {
    NNOPT_AUG_PAD,                  /* pad[4] (left, top, right, bottom), pad_mode, fill */
    NNOPT_AUG_CROP,                 /* fixed window top, left, width x height */
    NNOPT_AUG_CENTER_CROP,          /* width x height */
    NNOPT_AUG_RANDOM_CROP,          /* width x height after pad[] and pad_if_needed */
    NNOPT_AUG_RESIZE,               /* to width x height, interp */
    NNOPT_AUG_RANDOM_RESIZED_CROP,  /* to width x height; scale, ratio, interp */
    NNOPT_AUG_HFLIP,                /* with probability p */
    NNOPT_AUG_VFLIP,                /* with probability p */
    NNOPT_AUG_COLOR_JITTER,         /* brightness, contrast, saturation, hue ranges; random order */
    NNOPT_AUG_GRAYSCALE,            /* with probability p, keeps the channel count */
    NNOPT_AUG_RANDOM_ERASING,       /* with probability p; scale, ratio, value or random_value */
    NNOPT_AUG_GAUSSIAN_NOISE,       /* noise_mean, noise_sigma, clip */
    NNOPT_AUG_NORMALIZE,            /* mean, std; the image becomes float CHW */
    NNOPT_AUG_KIND_COUNT
} nnopt_aug_kind;

typedef struct nnopt_aug_op {
    nnopt_aug_kind kind;
    double p;                      /* flips, grayscale, erasing */
    int    width, height;          /* output size of crops and resizes */
    int    top, left;              /* CROP */
    int    pad[4];                 /* left, top, right, bottom */
    nnopt_pad_mode pad_mode;
    float  fill[4];
    int    pad_if_needed;          /* RANDOM_CROP: pad a too-small image on both sides */
    nnopt_interp interp;
    double scale[2], ratio[2];     /* RANDOM_RESIZED_CROP, RANDOM_ERASING */
    double brightness[2], contrast[2], saturation[2], hue[2];   /* factor ranges; [1,1] / [0,0]: off */
    float  mean[4], std[4];        /* NORMALIZE */
    float  value[4];               /* RANDOM_ERASING: per-channel fill ... */
    int    random_value;           /* ... or N(0,1) per value (value='random'; float images only,
                                      of at most 2^32 values) */
    double noise_mean, noise_sigma; int clip;   /* GAUSSIAN_NOISE */
} nnopt_aug_op;

#define NNOPT_AUG_MAX_OPS 16

/* What one op chose for one sample. */
typedef struct nnopt_aug_choice {
    int   applied;                 /* the op changed the image (a flip happened, ...) */
    int   top, left, height, width;/* crop / erasing window in the op's input */
    double factor[4];              /* COLOR_JITTER: brightness, contrast, saturation, hue */
    int   order[4];                /* COLOR_JITTER: op order (0 b, 1 c, 2 s, 3 h) */
} nnopt_aug_choice;

typedef struct nnopt_aug_record { nnopt_aug_choice op[NNOPT_AUG_MAX_OPS]; } nnopt_aug_record;

/* Private: how uint8 values are normalized (per channel the 256 results of the normalize
   kernel, the constants of the fused form, and whether that form gives the same bits). */
typedef struct nnopt__norm_plan {
    float table[4][256];
    float norm[4][4];              /* per channel: mean, std, 1/std as hi + lo */
    int   fused;
} nnopt__norm_plan;

/* Made by nnopt_aug_pipeline_init and read-only afterwards (changed ops need a new init). */
typedef struct nnopt_aug_pipeline {
    int count;
    nnopt_aug_op op[NNOPT_AUG_MAX_OPS];
    nnopt_image_format in_format, out_format;
    int in_width, in_height, channels, out_width, out_height;
    size_t scratch_bytes;          /* working memory of one call: nnopt_aug_pipeline_scratch_size */
    size_t layout[3];              /* private: largest image, axis and width of the run */
    nnopt__norm_plan norm;         /* private: the NORMALIZE op that sees a uint8 image, if any */
} nnopt_aug_pipeline;

NNOPT_API nnopt_aug_op nnopt_aug_op_defaults(nnopt_aug_kind kind);
/* Checks the ops for input images of the given size and format, works out the output and
   builds what nnopt_aug_apply needs (a uint8 normalization's table). Allocates nothing. */
NNOPT_API nnopt_status nnopt_aug_pipeline_init(nnopt_aug_pipeline *pl, const nnopt_aug_op *ops, int count,
                                               nnopt_image_format format, int width, int height,
                                               int channels);
/* in holds count images back to back (each of the pipeline's input format and size; a
   pipeline serves one input size: images of another size need their own pipeline), out
   receives count output images; sample k draws from Philox stream first_index + k, so several
   augmentations of one image are calls with count 1 and successive first_index. records (may
   be NULL) gets what each sample drew. Allocates its working memory once per call (count 0:
   not at all). */
NNOPT_API nnopt_status nnopt_aug_apply(const nnopt_aug_pipeline *pl, const void *in, void *out,
                                       size_t count, uint64_t seed, uint64_t first_index,
                                       nnopt_aug_record *records);
/* The same without allocating: scratch of at least nnopt_aug_pipeline_scratch_size(pl) bytes
   (any alignment; 0 for an invalid pipeline), not overlapping in, out or records, reused for
   every sample. NULL scratch or fewer bytes: NNOPT_ERR_INVALID, nothing written. */
NNOPT_API size_t       nnopt_aug_pipeline_scratch_size(const nnopt_aug_pipeline *pl);
NNOPT_API nnopt_status nnopt_aug_apply_scratch(const nnopt_aug_pipeline *pl, const void *in, void *out,
                                               size_t count, uint64_t seed, uint64_t first_index,
                                               nnopt_aug_record *records, void *scratch, size_t bytes);
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
#ifdef _OPENMP
#  include <omp.h>
#endif

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

/* gcc contracts a*b+c into an fma (even across intrinsics) unless told not to, and clang
   does within one expression by default; the kernels and the host code decide themselves where
   an fma goes, so every path and every compiler rounds the same way. */
#if defined(__clang__)
#  pragma float_control(push)
#  pragma clang fp contract(off)
#elif defined(__GNUC__)
#  pragma GCC push_options
#  pragma GCC optimize("fp-contract=off")
#endif

/* ---- Kernel arguments (shared by every instruction-set instance) ------------------ */

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

/* Random numbers: one call fills whole 64-word super-blocks of one kind of output. */
enum { NNOPT__RANDOM_U32, NNOPT__RANDOM_UNIFORM, NNOPT__RANDOM_NORMAL, NNOPT__RANDOM_BERNOULLI };
typedef struct nnopt__random_args {
    uint32_t key[2];
    uint64_t stream;
    int kind;
    float mean, std;          /* normal: mean + std * z */
    uint32_t threshold;       /* Bernoulli: uniform < p  <=>  (word >> 8) < ceil(p 2^24) */
} nnopt__random_args;
#define NNOPT__PHILOX_M0 0xD2511F53u
#define NNOPT__PHILOX_M1 0xCD9E8D57u
#define NNOPT__PHILOX_W0 0x9E3779B9u
#define NNOPT__PHILOX_W1 0xBB67AE85u



#ifndef NNOPT_NO_REG
/* One regularization kernel call over [0, n): w is read (and, for the in-place kernels,
   written), g is the gradient added to (penalties) or read (proximal step). */
typedef struct nnopt__reg_args {
    size_t n;
    float *w;
    float *g;
    const float *grad_in;
    float l1, l2;                 /* penalty gradient coefficients */
    int   want_sums;              /* accumulate sum |w| and sum w^2 */
    float neg_lr, threshold, denom, scale;
    double sum[2][16];
} nnopt__reg_args;
#endif



#ifndef NNOPT_NO_DROPOUT
/* Dropout kernels: element e of the call draws word offset + e of (key, stream) and is kept
   iff (word >> 8) >= threshold = ceil(p 2^24) (uniform >= p, exactly). Kept: x * scale (+ bias
   when affine); dropped: the constant `dropped`. random = 0 (p is 0 or 1): no words are drawn,
   every word reads as 0, which threshold 0 keeps and threshold 2^24 drops. */
typedef struct nnopt__dropout_args {
    size_t n;
    const float *x;
    float *y;
    uint8_t *bits;              /* kept bits out, or NULL */
    const uint8_t *bits_in;     /* backward from a stored mask */
    const float *factors;       /* NHWC channel dropout: one factor per channel */
    uint32_t key[2];
    uint64_t stream, offset;
    uint32_t threshold;
    int random, affine;
    float scale, bias, dropped;
} nnopt__dropout_args;

/* DropConnect: one unit's row of `in` weights (and its bias word at position in) for one
   sample; words offset .. offset + in. The dot (forward) or the gradient rows (backward). */
typedef struct nnopt__dropconnect_args {
    size_t in;
    const float *w, *x;
    float *dw, *dx;             /* backward: dw += kept x dy, dx += kept w dy (either NULL) */
    float dy;
    uint32_t key[2];
    uint64_t stream, offset;
    uint32_t threshold;
    int random;                 /* 0 with threshold 0: no mask (inference moments) */
    int bias_kept;              /* out: the bias's Bernoulli */
    double sum[2][16];
} nnopt__dropconnect_args;
#endif



#ifndef NNOPT_NO_BATCHNORM
/* Per-channel coefficients of a batch-norm pass, by name. Every pass works on xc = x - centre
   and g = dy, or with the fused ReLU dy where the forward's output fma(xc, scale, shift) was
   positive (recomputed from x: the same bits):
     forward   sums   s0 += xc, s1 += xc^2              centre = the channel's first x (K)
               apply  y = fma(xc, scale, shift), max(y, 0) with relu
     backward  sums   s0 += g, s1 += xc g               centre = the saved or running mean
               apply  dx = fma(xc, xc_scale, fma(g, dy_scale, dx_shift)) (training),
                      dx = g dy_scale (inference mode)
   Each points at one float per column (per_column, NHWC) or one for the whole tile (NCHW). */
typedef struct nnopt__bn_coefs {
    const float *centre;     /* subtracted from x */
    const float *scale;      /* the forward's gamma invstd */
    const float *shift;      /* the forward's beta */
    const float *dy_scale;   /* backward: dx's factor of g, gamma invstd */
    const float *xc_scale;   /* backward, training: dx's factor of xc, -dy_scale invstd^2 sum(xc g) / M */
    const float *dx_shift;   /* backward, training: dx's constant, -dy_scale sum(g) / M */
} nnopt__bn_coefs;
/* X(field) for every field of nnopt__bn_coefs, in order (checked below). */
#define NNOPT__BN_FIELDS(X) X(centre) X(scale) X(shift) X(dy_scale) X(xc_scale) X(dx_shift)
/* The bit of a field in a list of fields: a name that is not a field does not compile. */
#define NNOPT__BN_COEF(field) (1u << (offsetof(nnopt__bn_coefs, field) / sizeof(const float *)))

/* What each pass reads. Its sums: READS_SUMS, or READS_RELU_MASK in a backward with the
   fused ReLU; its elementwise pass adds the list of its kind (nnopt__bn_reads). */
enum {
    NNOPT__BN_READS_SUMS           = NNOPT__BN_COEF(centre),
    NNOPT__BN_READS_RELU_MASK      = NNOPT__BN_COEF(centre) | NNOPT__BN_COEF(scale) | NNOPT__BN_COEF(shift),
    NNOPT__BN_READS_FORWARD        = NNOPT__BN_COEF(centre) | NNOPT__BN_COEF(scale) | NNOPT__BN_COEF(shift),
    NNOPT__BN_READS_BACKWARD       = NNOPT__BN_COEF(centre) | NNOPT__BN_COEF(dy_scale) |
                                     NNOPT__BN_COEF(xc_scale) | NNOPT__BN_COEF(dx_shift),
    NNOPT__BN_READS_BACKWARD_INFER = NNOPT__BN_COEF(centre) | NNOPT__BN_COEF(dy_scale)
};
#define NNOPT__BN_ONE(field) + 1
/* The list names every field, and the fields are pointers (one bit each, no padding). */
typedef char nnopt__bn_check_fields[sizeof(nnopt__bn_coefs) ==
                                    (0 NNOPT__BN_FIELDS(NNOPT__BN_ONE)) * sizeof(const float *) ? 1 : -1];
#undef NNOPT__BN_ONE

/* One batch-norm kernel call: `rows` runs of `width` floats, `stride` floats apart (NCHW: the
   N planes of one channel; NHWC: the rows of a strip of channels). */
typedef struct nnopt__bn_tile {
    size_t rows, width, stride;
    int per_column;
    const float *x, *dy;
    float *out;
    nnopt__bn_coefs coef;
    int relu, centered;
    size_t prefetch;      /* apply: also fetch the inputs this many floats ahead into L2 (0: no) */
} nnopt__bn_tile;

/* The kinds of pass: each kernel is compiled once per kind (the flags are constants inside
   it), so no per-element branch remains. */
enum { NNOPT__BN_FORWARD = 0, NNOPT__BN_BACKWARD = 1, NNOPT__BN_BACKWARD_INFER = 2 };

/* The fields a pass of `kind` reads: in its sums (apply 0) or its elementwise pass. */
NNOPT__INLINE unsigned nnopt__bn_reads(int kind, int relu, int apply)
{
    unsigned reads = relu && kind != NNOPT__BN_FORWARD ? NNOPT__BN_READS_RELU_MASK : NNOPT__BN_READS_SUMS;
    if (!apply) return reads;
    return reads | (kind == NNOPT__BN_FORWARD ? NNOPT__BN_READS_FORWARD
                    : kind == NNOPT__BN_BACKWARD ? NNOPT__BN_READS_BACKWARD : NNOPT__BN_READS_BACKWARD_INFER);
}
#endif



#ifndef NNOPT_NO_AUGMENT
/* MixUp of one image: out = prev (1 - lam) + x lam in float; with out_u8 the values are bytes
   and the result is rounded half to even (it lies in [0, 255 (1 + 2^-23)]: no clamp needed). */
typedef struct nnopt__aug_mix_args {
    size_t n;
    const float *prev_f32, *x_f32;
    float *out_f32;
    const uint8_t *prev_u8, *x_u8;
    uint8_t *out_u8;
    float lam, one_minus_lam;
} nnopt__aug_mix_args;

/* Normalize one plane: out = (x - mean) / std with x = u8[i] / 255 (u8 != NULL) or f32[i]. */
typedef struct nnopt__aug_norm_args {
    size_t n;
    const uint8_t *u8;
    const float *f32;
    float *out;
    float mean, std;
} nnopt__aug_norm_args;

/* Bilinear row pass over n output pixels: plane c of out (at out + c * n) gets
   x_c[ia] wa + x_c[ib] wb; uint8 rows give `channels` interleaved bytes per pixel (ia, ib
   are byte offsets), float rows one value (ia, ib are indices). */
typedef struct nnopt__aug_hrow_args {
    size_t n;
    int channels;
    const uint8_t *u8;
    const float *f32;
    const int32_t *ia, *ib;
    const float *wa, *wb;
    float *out;
    const int32_t *window;   /* uint8, AVX512-VBMI: per 16 pixels (first byte, bytes) or -1 */
    const int32_t *window_index;   /* ... and per channel the offsets of taps a and b in it */
    const uint8_t *ahead;    /* AVX512-VBMI: a row like u8 whose same windows to prefetch, or NULL */
} nnopt__aug_hrow_args;

/* Bilinear column pass: v = ta l0 + tb l1; then as floats (out_f32), or rounded half to even
   into bytes (out_u8; from byte sources v needs no clamp), or with normalize set rounded and
   normalized into out_f32 (the fused uint8 -> float conversion) by multiplications with split
   reciprocals, used only where nnopt__norm_plan_check has found that they give the two
   divisions' bits for every byte. */
typedef struct nnopt__aug_vrow_args {
    size_t n;
    const float *ta, *tb;
    float l0, l1;
    float *out_f32;
    uint8_t *out_u8;
    int normalize;
    float mean, std;
    float r255[2], rstd[2];  /* 1/255 and 1/std as float pairs hi + lo */
    /* nnopt__aug_vrows: `planes` planes, ta and tb n apart, out_f32 out_step apart, each
       normalized (with normalize) by plane_norm[c]: mean, std, 1/std hi, lo */
    int planes;
    size_t out_step;
    const float (*plane_norm)[4];
} nnopt__aug_vrow_args;
#endif



/* Hint for a stream the vector paths read or write: `ahead` floats on into L1 and four times
   as far into L2. The far hint keeps more lines coming from DRAM than the L1 fill buffers
   alone allow (a read-only reduction over 16M floats from cold caches: 0.84-0.90 of its read
   roof with the L1 hint alone, 1.07 with both). The address is formed as an integer, so it
   may pass the end of the array. */
#ifdef NNOPT__HAVE_AVX2
NNOPT__INLINE void nnopt__prefetch_stream(const float *p, size_t ahead)
{
    __builtin_prefetch((const void *)((uintptr_t)p + ahead * sizeof(float)), 0, 3);
    __builtin_prefetch((const void *)((uintptr_t)p + 4 * ahead * sizeof(float)), 0, 2);
}
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

/* ---- Error detail -----------------------------------------------------------------------
   A failing public function records (function, argument, reason), three string literals, in
   a per-thread slot; nnopt_last_error() formats them only when asked. Checks that return int
   (validation of hyper-parameters, groups, plans) record their argument and reason with
   NNOPT__REQUIRE, and the public function that fails because of them adds its name with
   NNOPT__FAILED. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__STDC_NO_THREADS__)
#  define NNOPT__THREAD _Thread_local
#elif defined(__cplusplus) && __cplusplus >= 201103L
#  define NNOPT__THREAD thread_local
#elif defined(__GNUC__) || defined(__clang__)
#  define NNOPT__THREAD __thread
#elif defined(_MSC_VER)
#  define NNOPT__THREAD __declspec(thread)
#else
#  define NNOPT__THREAD          /* no thread-local storage: one slot for every thread */
#endif
#ifndef NNOPT_ON_ERROR
#  define NNOPT_ON_ERROR(status, function, argument, reason) ((void)0)
#endif

typedef struct nnopt__error {
    const char *function, *argument, *reason;
    int pending;                 /* argument and reason recorded by a check, not yet claimed */
    char text[192];
} nnopt__error;
static NNOPT__THREAD nnopt__error nnopt__last_error;

/* A check failed: remember what and why (the public function adds its name). Returns 0. */
NNOPT__PRIVATE int nnopt__reject(const char *argument, const char *reason)
{
    nnopt__last_error.argument = argument;
    nnopt__last_error.reason = reason;
    nnopt__last_error.pending = 1;
    return 0;
}

/* A public function fails with status: with argument NULL, the pending check's detail. */
NNOPT__PRIVATE nnopt_status nnopt__fail(nnopt_status status, const char *function, const char *argument,
                                        const char *reason)
{
    nnopt__error *e = &nnopt__last_error;
    if (argument || reason || !e->pending) { e->argument = argument; e->reason = reason; }
    e->pending = 0;
    e->function = function;
    e->text[0] = '\0';
    NNOPT_ON_ERROR(status, function, e->argument, e->reason);
    return status;
}

NNOPT__PRIVATE nnopt_status nnopt__checked(nnopt_status st, const char *function)
{
    return st == NNOPT_OK ? st : nnopt__fail(st, function, NULL, NULL);
}

#define NNOPT__REQUIRE(cond, argument, reason) ((cond) || nnopt__reject((argument), (reason)))
#define NNOPT__FAIL(status, argument, reason)  nnopt__fail((status), __func__, (argument), (reason))
#define NNOPT__FAILED(status)                  nnopt__fail((status), __func__, NULL, NULL)
/* In a public function: fail with NNOPT_ERR_INVALID unless cond holds. */
#define NNOPT__CHECK(cond, argument, reason) \
    do { if (!(cond)) return NNOPT__FAIL(NNOPT_ERR_INVALID, (argument), (reason)); } while (0)
/* return NNOPT__CHECKED(status): a status from a private helper whose checks said why. */
#define NNOPT__CHECKED(st) nnopt__checked((st), __func__)
#define NNOPT__FAIL_NULL(argument, reason) \
    ((void)nnopt__fail(NNOPT_ERR_INVALID, __func__, (argument), (reason)), NULL)

/* Appends s to e->text, truncating. */
static void nnopt__error_append(nnopt__error *e, const char *s)
{
    size_t at = strlen(e->text), room = sizeof e->text - 1 - at, k = strlen(s);
    if (k > room) k = room;
    memcpy(e->text + at, s, k);
    e->text[at + k] = '\0';
}

NNOPT_API const char *nnopt_last_error(void)
{
    nnopt__error *e = &nnopt__last_error;
    if (!e->function || e->text[0]) return e->text;
    nnopt__error_append(e, e->function);
    if (e->argument) { nnopt__error_append(e, ": "); nnopt__error_append(e, e->argument); }
    nnopt__error_append(e, ": ");
    nnopt__error_append(e, e->reason ? e->reason : "invalid argument");
    return e->text;
}

NNOPT_API void nnopt_clear_error(void)
{
    memset(&nnopt__last_error, 0, sizeof nnopt__last_error);
}

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

#ifdef NNOPT__HAVE_AVX512
static int nnopt__vbmi_cache = -1;

/* AVX512-VBMI (byte permutes across registers: Ice Lake, Zen 4 and later) refines a few
   kernels inside the AVX-512 path; it changes their speed, never their bits. */
NNOPT__PRIVATE int nnopt__has_vbmi(void)
{
    int v = NNOPT__LOAD(&nnopt__vbmi_cache);
    if (v < 0) {
        unsigned a, b, c, d;
        __cpuid_count(7, 0, a, b, c, d);
        v = nnopt_isa_best() == NNOPT_ISA_AVX512 && (c & (1u << 1));
        NNOPT__STORE(&nnopt__vbmi_cache, v);
    }
    return v;
}
#endif

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
        return NNOPT__FAIL(NNOPT_ERR_UNSUPPORTED, "isa", "is not available on this CPU or build");
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
/* Element-wise kernels split across OpenMP threads from these lengths on: light kernels
   (a few multiply-adds per element) and heavy ones (a divide or square root per element),
   whose single-thread time pays for waking a thread sooner. Measured on a 2-core AVX-512
   machine: Adam at 8192 elements 3.02 G/s on two threads against 2.77 on one, at 16384 3.9
   against 2.7, at 4096 2.0 against 2.6; SGD not yet faster at 32768 (docs/design.md,
   "Reductions and threads"). */
#ifndef NNOPT_SPLIT_MIN
#  define NNOPT_SPLIT_MIN 65536
#endif
#ifndef NNOPT_SPLIT_MIN_HEAVY
#  define NNOPT_SPLIT_MIN_HEAVY 8192
#endif
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

/* Element-wise kernel over a->n elements. Built with OpenMP, from split_min elements on each
   thread takes one contiguous piece (a multiple of 64 elements): where the pieces meet
   changes no element's bits, so any thread count gives the same result. */
static void nnopt__run(nnopt__optim_kernel kernel, const nnopt__optim_args *a, size_t split_min)
{
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    if (threads > 1 && a->n >= split_min) {
        size_t piece = ((a->n + (size_t)threads - 1) / (size_t)threads + 63) & ~(size_t)63;
        long c, count = (long)((a->n + piece - 1) / piece);
#  pragma omp parallel for schedule(static) num_threads(count)
        for (c = 0; c < count; c++) {
            size_t off = (size_t)c * piece;
            nnopt__optim_args part = nnopt__slice(a, off, a->n - off < piece ? a->n - off : piece);
            kernel(&part);
        }
        return;
    }
#else
    (void)split_min;
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

#define NNOPT__RUN(k, a)           nnopt__run(NNOPT__PICK(k), (a), (size_t)NNOPT_SPLIT_MIN)
#define NNOPT__RUN_REDUCE(k, a, t) nnopt__run_reduce(NNOPT__PICK(k), (a), (t), 0)
#define NNOPT__RUN_MAX(k, a, t)    nnopt__run_reduce(NNOPT__PICK(k), (a), (t), 1)

/* ---- Optimizer kinds: one row each -------------------------------------------------
   Everything that makes a kind what it is sits in its row of nnopt__kind_rows (the end of
   this part): its defaults, its validation, its state buffers (named as torch names them,
   with their initial values) and per-group scalars, its per-step coefficient function and its
   kernel (plus, for the two-pass kinds, a reducing kernel and the function that turns the two
   sums into the last coefficient). Creating, stepping, checkpoints and the tests walk the
   rows; adding a kind is a row, a kernel, a coefficient function and goldens (docs/design.md,
   "Adding an optimizer"). */

/* What a coefficient function knows about the step it prepares: the hyper-parameters, this
   group's lr and weight decay, the step number t (1 for the first update), the bias
   corrections 1 - beta^t in double, and the group's kind scalars (which it may advance: the
   kernel always runs after it). */
typedef struct nnopt__step_ctx {
    const nnopt_hparams *h;
    double lr, wd, t, b1, b2, bc1, bc2;
    double *scalar;
} nnopt__step_ctx;

typedef void (*nnopt__coef_fn)(nnopt__step_ctx *c, nnopt__optim_args *a);
typedef void (*nnopt__ratio_fn)(const nnopt__step_ctx *c, nnopt__optim_args *a, const double sums[2]);

/* A kernel's instance per path, indexed by nnopt_isa; NULL where the build has no such path. */
#ifdef NNOPT__HAVE_AVX2
#  define NNOPT__AVX2_INSTANCE(k) nnopt__##k##_avx2
#else
#  define NNOPT__AVX2_INSTANCE(k) NULL
#endif
#ifdef NNOPT__HAVE_AVX512
#  define NNOPT__AVX512_INSTANCE(k) nnopt__##k##_avx512
#else
#  define NNOPT__AVX512_INSTANCE(k) NULL
#endif
#define NNOPT__ISA_COUNT 3
#define NNOPT__INSTANCES(k) { nnopt__##k##_scalar, NNOPT__AVX2_INSTANCE(k), NNOPT__AVX512_INSTANCE(k) }
/* Kinds with both a square root and a divide per element (row flag NNOPT__NARROW) run their
   AVX2 instance on the AVX-512 path while the group fits in cache: both operations go to the
   divider, whose 512-bit forms deliver fewer elements per cycle on the machine measured (Adam
   at 16K elements, one thread: 2.62-2.82 G/s against 2.49-2.60). From DRAM the 512-bit
   instance keeps more of the memory roof (RMSprop at 16M: 0.94 against 0.83), so from
   NNOPT__NARROW_MAX elements on it runs again. The bits are the same either way. */
#define NNOPT__NARROW_MAX ((size_t)1 << 20)
#define NNOPT__NO_INSTANCES { NULL, NULL, NULL }

enum {
    NNOPT__OWN_DECAY      = 1,  /* the kernel applies weight decay itself (LAMB, LARS) */
    NNOPT__AVERAGES       = 2,  /* buffer 0 is an average of the parameters (ASGD) */
    NNOPT__NO_MOMENTUM    = 4,  /* a one-cycle schedule has no momentum to cycle */
    NNOPT__MOMENTUM_FIELD = 8,  /* ... it cycles hparams.momentum (otherwise beta1) */
    NNOPT__HEAVY          = 16, /* a divide or square root per element: threads from NNOPT_SPLIT_MIN_HEAVY */
    NNOPT__NARROW         = 32  /* a square root and a divide: AVX2 instance in cache (see above) */
};

typedef struct nnopt__kind_row {
    nnopt_kind kind;
    const char *name;
    double lr, eps; int decoupled;                 /* defaults that differ between kinds */
    void (*defaults)(nnopt_hparams *h);            /* any other departure from the common ones */
    int (*valid)(const nnopt_hparams *h);          /* the kind's own rules (NULL: none) */
    const char *buffer[4];                         /* state buffers 0-3, by torch's names */
    unsigned (*buffers)(const nnopt_hparams *h);   /* which exist (bit k); NULL: every named one */
    unsigned from_accumulator;                     /* those starting at initial_accumulator_value */
    const char *scalar[2]; double scalar_init[2];  /* per-group scalars the kind carries */
    nnopt__coef_fn coefficients;
    nnopt__optim_kernel kernel[NNOPT__ISA_COUNT];
    nnopt__optim_kernel reduce[NNOPT__ISA_COUNT];  /* two-pass kinds: the first pass ... */
    nnopt__ratio_fn ratio;                         /* ... and what its sums give the kernel */
    unsigned char traffic[2][2];                   /* two-pass: floats read, written per pass */
    int flags;
} nnopt__kind_row;

static int nnopt__unit(double b) { return b >= 0 && b < 1; }   /* a beta: [0, 1) */

/* Defaults beyond lr, eps and the weight-decay style. */
static void nnopt__adamw_defaults(nnopt_hparams *h)     { h->weight_decay = 1e-2; }
static void nnopt__asgd_defaults(nnopt_hparams *h)      { h->alpha = 0.75; }
static void nnopt__lion_defaults(nnopt_hparams *h)      { h->beta2 = 0.99; }
static void nnopt__adabelief_defaults(nnopt_hparams *h) { h->rectify = 1; }
static void nnopt__yogi_defaults(nnopt_hparams *h)      { h->initial_accumulator_value = 1e-6; }
static void nnopt__lars_defaults(nnopt_hparams *h)      { h->momentum = 0.9; }

/* Validation: the rules torch (or the kind's reference) enforces. */
#define NNOPT__UNIT_REASON "must lie in [0, 1)"
static int nnopt__betas_valid(const nnopt_hparams *h)
{
    return NNOPT__REQUIRE(nnopt__unit(h->beta1), "beta1", NNOPT__UNIT_REASON) &&
           NNOPT__REQUIRE(nnopt__unit(h->beta2), "beta2", NNOPT__UNIT_REASON);
}
static int nnopt__sgd_valid(const nnopt_hparams *h)
{
    return NNOPT__REQUIRE(h->momentum >= 0, "momentum", "is negative") &&
           NNOPT__REQUIRE(!h->nesterov || (h->momentum > 0 && h->dampening == 0), "nesterov",
                          "needs momentum > 0 and dampening 0");
}
static int nnopt__nadam_valid(const nnopt_hparams *h)
{
    return nnopt__betas_valid(h) && NNOPT__REQUIRE(h->momentum_decay >= 0, "momentum_decay", "is negative");
}
static int nnopt__yogi_valid(const nnopt_hparams *h)
{
    return nnopt__betas_valid(h) &&
           NNOPT__REQUIRE(h->initial_accumulator_value >= 0, "initial_accumulator_value", "is negative");
}
static int nnopt__lamb_valid(const nnopt_hparams *h)
{
    return nnopt__betas_valid(h) &&
           NNOPT__REQUIRE(!h->decoupled_weight_decay, "decoupled_weight_decay", "is not available for LAMB");
}
static int nnopt__adagrad_valid(const nnopt_hparams *h)
{
    return NNOPT__REQUIRE(h->lr_decay >= 0, "lr_decay", "is negative") &&
           NNOPT__REQUIRE(h->initial_accumulator_value >= 0, "initial_accumulator_value", "is negative");
}
static int nnopt__rmsprop_valid(const nnopt_hparams *h)
{
    return NNOPT__REQUIRE(h->alpha >= 0, "alpha", "is negative") &&
           NNOPT__REQUIRE(h->momentum >= 0, "momentum", "is negative");
}
static int nnopt__adadelta_valid(const nnopt_hparams *h)
{
    return NNOPT__REQUIRE(h->rho >= 0 && h->rho <= 1, "rho", "must lie in [0, 1]");
}
static int nnopt__rprop_valid(const nnopt_hparams *h)
{
    return NNOPT__REQUIRE(h->eta_minus > 0 && h->eta_minus < 1, "eta_minus", "must lie in (0, 1)") &&
           NNOPT__REQUIRE(h->eta_plus > 1, "eta_plus", "must exceed 1") &&
           NNOPT__REQUIRE(h->step_size_min >= 0 && h->step_size_min <= h->step_size_max, "step_size_min",
                          "must lie in [0, step_size_max]");
}
static int nnopt__asgd_valid(const nnopt_hparams *h)
{
    return NNOPT__REQUIRE(h->lambd >= 0, "lambd", "is negative") && NNOPT__REQUIRE(h->t0 >= 0, "t0", "is negative");
}
static int nnopt__lars_valid(const nnopt_hparams *h)
{
    return NNOPT__REQUIRE(h->momentum >= 0, "momentum", "is negative") &&
           NNOPT__REQUIRE(h->trust_coefficient >= 0, "trust_coefficient", "is negative") &&
           NNOPT__REQUIRE(!h->decoupled_weight_decay, "decoupled_weight_decay", "is not available for LARS") &&
           NNOPT__REQUIRE(!h->nesterov || h->momentum > 0, "nesterov", "needs momentum > 0");
}

/* Optional buffers. */
static unsigned nnopt__momentum_buffers(const nnopt_hparams *h) { return h->momentum != 0 ? 1u : 0u; }
static unsigned nnopt__amsgrad_buffers(const nnopt_hparams *h) { return h->amsgrad ? 7u : 3u; }
static unsigned nnopt__rmsprop_buffers(const nnopt_hparams *h)
{
    return 1u | (h->momentum > 0 ? 2u : 0u) | (h->centered ? 4u : 0u);
}

/* Per-step coefficients, in double, rounded once (the kernels' comments give the math). */
static void nnopt__sgd_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    a->k.sgd.momentum = (float)c->h->momentum;
    a->k.sgd.one_minus_dampening = (float)(1.0 - c->h->dampening);
    a->k.sgd.neg_lr = (float)-c->lr;
    a->k.sgd.nesterov = c->h->nesterov != 0;
}
static void nnopt__adam_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    a->k.adam.beta1 = (float)c->b1; a->k.adam.one_minus_beta1 = (float)(1.0 - c->b1);
    a->k.adam.beta2 = (float)c->b2; a->k.adam.one_minus_beta2 = (float)(1.0 - c->b2);
    a->k.adam.inv_sqrt_bc2 = (float)(1.0 / sqrt(c->bc2));
    a->k.adam.eps = (float)c->h->eps;
    a->k.adam.neg_step_size = (float)(-c->lr / c->bc1);
    a->k.adam.amsgrad = c->h->amsgrad != 0;
}
static void nnopt__adagrad_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    a->k.adagrad.eps = (float)c->h->eps;
    a->k.adagrad.neg_clr = (float)(-c->lr / (1.0 + (c->t - 1.0) * c->h->lr_decay));
}
static void nnopt__rmsprop_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    a->k.rmsprop.alpha = (float)c->h->alpha;
    a->k.rmsprop.one_minus_alpha = (float)(1.0 - c->h->alpha);
    a->k.rmsprop.eps = (float)c->h->eps;
    a->k.rmsprop.momentum = (float)c->h->momentum;
    a->k.rmsprop.neg_lr = (float)-c->lr;
    a->k.rmsprop.centered = c->h->centered != 0;
}
static void nnopt__adadelta_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    a->k.adadelta.rho = (float)c->h->rho;
    a->k.adadelta.one_minus_rho = (float)(1.0 - c->h->rho);
    a->k.adadelta.eps = (float)c->h->eps;
    a->k.adadelta.neg_lr = (float)-c->lr;
}
static void nnopt__adamax_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    a->k.adamax.beta1 = (float)c->b1; a->k.adamax.one_minus_beta1 = (float)(1.0 - c->b1);
    a->k.adamax.beta2 = (float)c->b2;
    a->k.adamax.eps = (float)c->h->eps;
    a->k.adamax.neg_clr = (float)(-c->lr / c->bc1);
}
/* NAdam's momentum schedule mu_t = beta1 (1 - 0.96^(t psi) / 2); scalar 0 is the product of
   the mu so far; the step uses it and the one-step look-ahead product (torch >= 2.0; 1.13's
   single-tensor path had an extra mu_t factor, a bug fixed upstream). */
static void nnopt__nadam_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    double mu_t = c->b1 * (1.0 - 0.5 * pow(0.96, c->t * c->h->momentum_decay));
    double mu_next = c->b1 * (1.0 - 0.5 * pow(0.96, (c->t + 1.0) * c->h->momentum_decay));
    double product = c->scalar[0] * mu_t;
    a->k.nadam.beta1 = (float)c->b1; a->k.nadam.one_minus_beta1 = (float)(1.0 - c->b1);
    a->k.nadam.beta2 = (float)c->b2; a->k.nadam.one_minus_beta2 = (float)(1.0 - c->b2);
    a->k.nadam.inv_sqrt_bc2 = (float)(1.0 / sqrt(c->bc2));
    a->k.nadam.eps = (float)c->h->eps;
    a->k.nadam.grad_coef = (float)(-c->lr * (1.0 - mu_t) / (1.0 - product));
    a->k.nadam.momentum_coef = (float)(-c->lr * mu_next / (1.0 - product * mu_next));
    c->scalar[0] = product;
}
/* The length of RAdam's (and AdaBelief's) approximated simple moving average at step t. */
static double nnopt__sma_length(const nnopt__step_ctx *c, double *rho_inf)
{
    *rho_inf = 2.0 / (1.0 - c->b2) - 1.0;
    return *rho_inf - 2.0 * c->t * pow(c->b2, c->t) / c->bc2;
}
static void nnopt__radam_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    double rho_inf, rho_t = nnopt__sma_length(c, &rho_inf);
    a->k.radam.beta1 = (float)c->b1; a->k.radam.one_minus_beta1 = (float)(1.0 - c->b1);
    a->k.radam.beta2 = (float)c->b2; a->k.radam.one_minus_beta2 = (float)(1.0 - c->b2);
    a->k.radam.eps = (float)c->h->eps;
    a->k.radam.rectified = rho_t > 5.0;
    if (a->k.radam.rectified) {
        double rect = sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf /
                           ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t));
        a->k.radam.coef = (float)(-c->lr * rect * sqrt(c->bc2) / c->bc1);
    } else {
        a->k.radam.coef = (float)(-c->lr / c->bc1);
    }
}
static void nnopt__rprop_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    a->k.rprop.eta_minus = (float)c->h->eta_minus;
    a->k.rprop.eta_plus = (float)c->h->eta_plus;
    a->k.rprop.step_min = (float)c->h->step_size_min;
    a->k.rprop.step_max = (float)c->h->step_size_max;
    a->k.rprop.lr = (float)c->lr;
}
/* ASGD: scalar 0 is the step size eta (the group's lr at its first step), scalar 1 the
   averaging weight mu; both advance after their use, as in torch. */
static void nnopt__asgd_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    const nnopt_hparams *h = c->h;
    double eta = c->t == 1.0 ? c->lr : c->scalar[0];
    a->k.asgd.decay = (float)(1.0 - h->lambd * eta);
    a->k.asgd.neg_eta = (float)-eta;
    a->k.asgd.mu = (float)c->scalar[1];
    c->scalar[0] = c->lr / pow(1.0 + h->lambd * c->lr * c->t, h->alpha);
    c->scalar[1] = 1.0 / (c->t - h->t0 > 1.0 ? c->t - h->t0 : 1.0);
}
static void nnopt__lion_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    a->k.lion.beta1 = (float)c->b1; a->k.lion.one_minus_beta1 = (float)(1.0 - c->b1);
    a->k.lion.beta2 = (float)c->b2; a->k.lion.one_minus_beta2 = (float)(1.0 - c->b2);
    a->k.lion.neg_lr = (float)-c->lr;
}
/* AdaBelief: mode 0 Adam-like; rectified (RAdam-like, threshold N_t >= 5) mode 1, or mode 2
   (momentum SGD) until the variance is tractable. */
static void nnopt__adabelief_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    a->k.adabelief.beta1 = (float)c->b1; a->k.adabelief.one_minus_beta1 = (float)(1.0 - c->b1);
    a->k.adabelief.beta2 = (float)c->b2; a->k.adabelief.one_minus_beta2 = (float)(1.0 - c->b2);
    a->k.adabelief.eps = (float)c->h->eps;
    a->k.adabelief.inv_sqrt_bc2 = (float)(1.0 / sqrt(c->bc2));
    a->k.adabelief.amsgrad = c->h->amsgrad != 0;
    a->k.adabelief.mode = 0;
    a->k.adabelief.coef = (float)(-c->lr / c->bc1);
    if (c->h->rectify) {
        double n_inf, n_t = nnopt__sma_length(c, &n_inf);
        if (n_t >= 5.0) {
            a->k.adabelief.mode = 1;
            a->k.adabelief.coef = (float)(-c->lr * sqrt(c->bc2 * (n_t - 4.0) / (n_inf - 4.0) *
                                          (n_t - 2.0) / n_t * n_inf / (n_inf - 2.0)) / c->bc1);
        } else {
            a->k.adabelief.mode = 2;
        }
    }
}
static void nnopt__yogi_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    a->k.yogi.beta1 = (float)c->b1; a->k.yogi.one_minus_beta1 = (float)(1.0 - c->b1);
    a->k.yogi.neg_one_minus_beta2 = (float)-(1.0 - c->b2);
    a->k.yogi.inv_bc1 = (float)(1.0 / c->bc1);
    a->k.yogi.inv_bc2 = (float)(1.0 / c->bc2);
    a->k.yogi.eps = (float)c->h->eps;
    a->k.yogi.neg_lr = (float)-c->lr;
}
/* LAMB's first pass advances m and v and stores the update u, summing |p|^2 and |u|^2;
   the trust ratio |p| / |u| (1 when either is 0) scales the second. */
static void nnopt__lamb_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    a->k.lamb.beta1 = (float)c->b1; a->k.lamb.one_minus_beta1 = (float)(1.0 - c->b1);
    a->k.lamb.beta2 = (float)c->b2; a->k.lamb.one_minus_beta2 = (float)(1.0 - c->b2);
    a->k.lamb.inv_bc1 = (float)(1.0 / c->bc1);
    a->k.lamb.inv_bc2 = (float)(1.0 / c->bc2);
    a->k.lamb.eps = (float)c->h->eps;
    a->k.lamb.weight_decay = (float)c->wd;
}
static void nnopt__lamb_ratio(const nnopt__step_ctx *c, nnopt__optim_args *a, const double sums[2])
{
    double pn = sqrt(sums[0]), un = sqrt(sums[1]);
    double ratio = (pn == 0.0 || un == 0.0) ? 1.0 : pn / un;
    a->k.lamb.neg_lr_ratio = (float)(-c->lr * ratio);
}
/* LARS's first pass sums |p|^2 and |g + wd p|^2 for the trust ratio tc |p| / (|u| + eps). */
static void nnopt__lars_coefficients(nnopt__step_ctx *c, nnopt__optim_args *a)
{
    a->k.lars.weight_decay = (float)c->wd;
    a->k.lars.momentum = (float)c->h->momentum;
    a->k.lars.nesterov = c->h->nesterov != 0;
}
static void nnopt__lars_ratio(const nnopt__step_ctx *c, nnopt__optim_args *a, const double sums[2])
{
    double pn = sqrt(sums[0]), un = sqrt(sums[1]);
    double ratio = (pn == 0.0 || un == 0.0) ? 1.0 : c->h->trust_coefficient * pn / (un + c->h->eps);
    a->k.lars.neg_lr_ratio = (float)(-c->lr * ratio);
}

/* The rows, in nnopt_kind order. Defaults: torch.optim 2.x for the torch kinds; Lion from the
   authors' code (google/automl), AdaBelief from adabelief-pytorch 0.2 (decoupled decay,
   rectification), Yogi, LAMB and LARS from optax (which has no default lr: Yogi takes 1e-2
   as TF-Addons, LAMB 1e-3 and LARS 1.0 as timm). */
#define NNOPT__ELEMENTWISE(k) NNOPT__INSTANCES(k), NNOPT__NO_INSTANCES, NULL, { { 0, 0 }, { 0, 0 } }
#define NNOPT__TWO_PASS(first, second, ratio, r0, w0, r1, w1) \
    NNOPT__INSTANCES(second), NNOPT__INSTANCES(first), ratio, { { r0, w0 }, { r1, w1 } }
static const nnopt__kind_row nnopt__kind_rows[NNOPT_KIND_COUNT] = {
/*  kind              name         lr     eps    decoupled  other defaults
      validation              state buffers                                            which exist               from initial_accumulator_value
      per-group scalars                      coefficients                    kernel(s) [, first pass, ratio, traffic]         flags */
    { NNOPT_SGD,       "sgd",       1e-3,  1e-8,  0, NULL,
      nnopt__sgd_valid,      { "momentum_buffer" },                                   nnopt__momentum_buffers, 0,
      { NULL, NULL }, { 0, 0 },             nnopt__sgd_coefficients,       NNOPT__ELEMENTWISE(sgd),                          NNOPT__MOMENTUM_FIELD },
    { NNOPT_ADAM,      "adam",      1e-3,  1e-8,  0, NULL,
      nnopt__betas_valid,    { "exp_avg", "exp_avg_sq", "max_exp_avg_sq" },           nnopt__amsgrad_buffers,  0,
      { NULL, NULL }, { 0, 0 },             nnopt__adam_coefficients,      NNOPT__ELEMENTWISE(adam),                         NNOPT__HEAVY | NNOPT__NARROW },
    { NNOPT_ADAMW,     "adamw",     1e-3,  1e-8,  1, nnopt__adamw_defaults,
      nnopt__betas_valid,    { "exp_avg", "exp_avg_sq", "max_exp_avg_sq" },           nnopt__amsgrad_buffers,  0,
      { NULL, NULL }, { 0, 0 },             nnopt__adam_coefficients,      NNOPT__ELEMENTWISE(adam),                         NNOPT__HEAVY | NNOPT__NARROW },
    { NNOPT_ADAGRAD,   "adagrad",   1e-2,  1e-10, 0, NULL,
      nnopt__adagrad_valid,  { "sum" },                                               NULL,                    1u,
      { NULL, NULL }, { 0, 0 },             nnopt__adagrad_coefficients,   NNOPT__ELEMENTWISE(adagrad),                      NNOPT__NO_MOMENTUM | NNOPT__HEAVY | NNOPT__NARROW },
    { NNOPT_RMSPROP,   "rmsprop",   1e-2,  1e-8,  0, NULL,
      nnopt__rmsprop_valid,  { "square_avg", "momentum_buffer", "grad_avg" },         nnopt__rmsprop_buffers,  0,
      { NULL, NULL }, { 0, 0 },             nnopt__rmsprop_coefficients,   NNOPT__ELEMENTWISE(rmsprop),                      NNOPT__MOMENTUM_FIELD | NNOPT__HEAVY | NNOPT__NARROW },
    { NNOPT_ADADELTA,  "adadelta",  1.0,   1e-6,  0, NULL,
      nnopt__adadelta_valid, { "square_avg", "acc_delta" },                           NULL,                    0,
      { NULL, NULL }, { 0, 0 },             nnopt__adadelta_coefficients,  NNOPT__ELEMENTWISE(adadelta),                     NNOPT__NO_MOMENTUM | NNOPT__HEAVY | NNOPT__NARROW },
    { NNOPT_ADAMAX,    "adamax",    2e-3,  1e-8,  0, NULL,
      nnopt__betas_valid,    { "exp_avg", "exp_inf" },                                NULL,                    0,
      { NULL, NULL }, { 0, 0 },             nnopt__adamax_coefficients,    NNOPT__ELEMENTWISE(adamax),                       NNOPT__HEAVY },
    { NNOPT_NADAM,     "nadam",     2e-3,  1e-8,  0, NULL,
      nnopt__nadam_valid,    { "exp_avg", "exp_avg_sq" },                             NULL,                    0,
      { "mu_product", NULL }, { 1, 0 },     nnopt__nadam_coefficients,     NNOPT__ELEMENTWISE(nadam),                        NNOPT__HEAVY | NNOPT__NARROW },
    { NNOPT_RADAM,     "radam",     1e-3,  1e-8,  0, NULL,
      nnopt__betas_valid,    { "exp_avg", "exp_avg_sq" },                             NULL,                    0,
      { NULL, NULL }, { 0, 0 },             nnopt__radam_coefficients,     NNOPT__ELEMENTWISE(radam),                        NNOPT__HEAVY | NNOPT__NARROW },
    { NNOPT_RPROP,     "rprop",     1e-2,  1e-8,  0, NULL,
      nnopt__rprop_valid,    { "prev", "step_size" },                                 NULL,                    0,
      { NULL, NULL }, { 0, 0 },             nnopt__rprop_coefficients,     NNOPT__ELEMENTWISE(rprop),                        NNOPT__NO_MOMENTUM },
    { NNOPT_ASGD,      "asgd",      1e-2,  1e-8,  0, nnopt__asgd_defaults,
      nnopt__asgd_valid,     { "ax" },                                                NULL,                    0,
      { "eta", "mu" }, { 0, 1 },            nnopt__asgd_coefficients,      NNOPT__ELEMENTWISE(asgd),                         NNOPT__AVERAGES | NNOPT__NO_MOMENTUM },
    { NNOPT_LION,      "lion",      1e-4,  1e-8,  1, nnopt__lion_defaults,
      nnopt__betas_valid,    { "exp_avg" },                                           NULL,                    0,
      { NULL, NULL }, { 0, 0 },             nnopt__lion_coefficients,      NNOPT__ELEMENTWISE(lion),                         0 },
    { NNOPT_ADABELIEF, "adabelief", 1e-3,  1e-16, 1, nnopt__adabelief_defaults,
      nnopt__betas_valid,    { "exp_avg", "exp_avg_var", "max_exp_avg_var" },         nnopt__amsgrad_buffers,  0,
      { NULL, NULL }, { 0, 0 },             nnopt__adabelief_coefficients, NNOPT__ELEMENTWISE(adabelief),                    NNOPT__HEAVY | NNOPT__NARROW },
    { NNOPT_YOGI,      "yogi",      1e-2,  1e-3,  0, nnopt__yogi_defaults,
      nnopt__yogi_valid,     { "exp_avg", "exp_avg_sq" },                             NULL,                    3u,
      { NULL, NULL }, { 0, 0 },             nnopt__yogi_coefficients,      NNOPT__ELEMENTWISE(yogi),                         NNOPT__HEAVY },
    { NNOPT_LAMB,      "lamb",      1e-3,  1e-6,  0, NULL,
      nnopt__lamb_valid,     { "exp_avg", "exp_avg_sq", "update" },                   NULL,                    0,
      { NULL, NULL }, { 0, 0 },             nnopt__lamb_coefficients,      NNOPT__TWO_PASS(lamb_moments, lamb_apply, nnopt__lamb_ratio, 4, 3, 2, 1), NNOPT__OWN_DECAY },
    { NNOPT_LARS,      "lars",      1.0,   0.0,   0, nnopt__lars_defaults,
      nnopt__lars_valid,     { "momentum_buffer" },                                   nnopt__momentum_buffers, 0,
      { NULL, NULL }, { 0, 0 },             nnopt__lars_coefficients,      NNOPT__TWO_PASS(lars_norms, lars_apply, nnopt__lars_ratio, 2, 0, 3, 2),   NNOPT__OWN_DECAY | NNOPT__MOMENTUM_FIELD },
};
#undef NNOPT__ELEMENTWISE
#undef NNOPT__TWO_PASS

/* The row of a valid kind (the table's order is checked once here, in debug builds). */
static const nnopt__kind_row *nnopt__row(nnopt_kind kind)
{
    NNOPT_ASSERT(nnopt__kind_rows[kind].kind == kind);
    return &nnopt__kind_rows[kind];
}

static int nnopt__kind_ok(nnopt_kind kind) { return (int)kind >= 0 && kind < NNOPT_KIND_COUNT; }

/* The field a one-cycle schedule's momentum goes to (torch: momentum, or beta1 of the betas),
   or NULL for the kinds without one. */
NNOPT__PRIVATE double *nnopt__cycled_momentum(nnopt_hparams *h)
{
    int flags = nnopt__row(h->kind)->flags;
    if (flags & NNOPT__NO_MOMENTUM) return NULL;
    return (flags & NNOPT__MOMENTUM_FIELD) ? &h->momentum : &h->beta1;
}

/* ---- The optimizer object ------------------------------------------------------------ */

typedef struct nnopt__group_state {
    nnopt_group g;
    size_t   offset;        /* first element in the flat vector and in every state buffer */
    uint64_t step;          /* this group's updates so far (torch's per-parameter step) */
    double   scalar[2];     /* the kind's per-group scalars (its row names them) */
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

NNOPT_API const char *nnopt_kind_name(nnopt_kind kind)
{
    return nnopt__kind_ok(kind) ? nnopt__row(kind)->name : "unknown";
}

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
    if (nnopt__kind_ok(kind)) {
        const nnopt__kind_row *row = nnopt__row(kind);
        h.lr = row->lr;
        h.eps = row->eps;
        h.decoupled_weight_decay = row->decoupled;
        if (row->defaults) row->defaults(&h);
    }
    return h;
}

NNOPT_API nnopt_group nnopt_group_default(size_t n)
{
    nnopt_group g;
    g.n = n; g.lr_scale = 1.0; g.weight_decay_scale = 1.0; g.frozen = 0;
    return g;
}

/* Every hyper-parameter, by its field name (checkpoint records "hparams.<name>"), with the
   checkpoint format that added it: doubles first, then ints, in format 1's order. */
typedef struct { const char *name; size_t offset; int is_int; unsigned since; } nnopt__hparam_field;
#define NNOPT__HP_DOUBLE(f, since) { #f, offsetof(nnopt_hparams, f), 0, since }
#define NNOPT__HP_INT(f, since)    { #f, offsetof(nnopt_hparams, f), 1, since }
static const nnopt__hparam_field nnopt__hparam_fields[] = {
    NNOPT__HP_DOUBLE(lr, 1), NNOPT__HP_DOUBLE(weight_decay, 1), NNOPT__HP_DOUBLE(momentum, 1),
    NNOPT__HP_DOUBLE(dampening, 1), NNOPT__HP_DOUBLE(beta1, 1), NNOPT__HP_DOUBLE(beta2, 1),
    NNOPT__HP_DOUBLE(eps, 1), NNOPT__HP_DOUBLE(alpha, 1), NNOPT__HP_DOUBLE(rho, 1),
    NNOPT__HP_DOUBLE(lr_decay, 1), NNOPT__HP_DOUBLE(initial_accumulator_value, 1),
    NNOPT__HP_DOUBLE(momentum_decay, 1), NNOPT__HP_DOUBLE(eta_minus, 1),
    NNOPT__HP_DOUBLE(eta_plus, 1), NNOPT__HP_DOUBLE(step_size_min, 1),
    NNOPT__HP_DOUBLE(step_size_max, 1), NNOPT__HP_DOUBLE(lambd, 1), NNOPT__HP_DOUBLE(t0, 1),
    NNOPT__HP_DOUBLE(trust_coefficient, 1), NNOPT__HP_DOUBLE(average_decay, 1),
    NNOPT__HP_DOUBLE(lookahead_alpha, 1),
    NNOPT__HP_INT(decoupled_weight_decay, 1), NNOPT__HP_INT(maximize, 1), NNOPT__HP_INT(nesterov, 1),
    NNOPT__HP_INT(amsgrad, 1), NNOPT__HP_INT(centered, 1), NNOPT__HP_INT(rectify, 1),
    NNOPT__HP_INT(nonfinite_guard, 1), NNOPT__HP_INT(average, 1), NNOPT__HP_INT(average_warmup, 1),
    NNOPT__HP_INT(average_start, 1), NNOPT__HP_INT(lookahead_k, 1)
};
#undef NNOPT__HP_DOUBLE
#undef NNOPT__HP_INT
#define NNOPT__HPARAM_FIELDS (sizeof nnopt__hparam_fields / sizeof nnopt__hparam_fields[0])
#define NNOPT__HP_AS_DOUBLE(h, f) ((double *)(void *)((char *)(h) + (f)->offset))
#define NNOPT__HP_AS_INT(h, f)    ((int *)(void *)((char *)(h) + (f)->offset))

static int nnopt__hparams_valid(const nnopt_hparams *h)
{
    const nnopt__kind_row *row;
    size_t i;
    if (!h) return nnopt__reject("h", "is NULL");
    if (!nnopt__kind_ok(h->kind)) return nnopt__reject("kind", "is not an nnopt_kind");
    for (i = 0; i < NNOPT__HPARAM_FIELDS; i++)
        if (!nnopt__hparam_fields[i].is_int &&
            !nnopt__finite(*NNOPT__HP_AS_DOUBLE((nnopt_hparams *)h, &nnopt__hparam_fields[i])))
            return nnopt__reject(nnopt__hparam_fields[i].name, "is not finite");
    if (!NNOPT__REQUIRE(h->lr >= 0, "lr", "is negative") ||
        !NNOPT__REQUIRE(h->weight_decay >= 0, "weight_decay", "is negative") ||
        !NNOPT__REQUIRE(h->eps >= 0, "eps", "is negative") ||
        !NNOPT__REQUIRE(h->average >= NNOPT_AVERAGE_NONE && h->average <= NNOPT_AVERAGE_EMA, "average",
                        "is not NNOPT_AVERAGE_NONE, _SWA or _EMA") ||
        !NNOPT__REQUIRE(h->average_start >= 0, "average_start", "is negative") ||
        !NNOPT__REQUIRE(h->average_decay >= 0 && h->average_decay <= 1, "average_decay", "must lie in [0, 1]") ||
        !NNOPT__REQUIRE(h->lookahead_k >= 0, "lookahead_k", "is negative") ||
        !NNOPT__REQUIRE(h->lookahead_alpha >= 0 && h->lookahead_alpha <= 1, "lookahead_alpha", "must lie in [0, 1]"))
        return 0;
    row = nnopt__row(h->kind);
    return !row->valid || row->valid(h);
}

/* Which state buffers an optimizer keeps (bit k: buffer k): the kind's, the average, the
   slow weights. */
static unsigned nnopt__layout(const nnopt_hparams *h)
{
    const nnopt__kind_row *row = nnopt__row(h->kind);
    unsigned kind_buffers = 0;
    int k;
    if (row->buffers) kind_buffers = row->buffers(h);
    else for (k = 0; k < 4; k++) kind_buffers |= row->buffer[k] ? 1u << k : 0u;
    return kind_buffers | (h->average ? 1u << NNOPT__AVERAGE_BUF : 0u) |
           (h->lookahead_k ? 1u << NNOPT__SLOW_BUF : 0u);
}

/* A state buffer's name in checkpoints. */
static const char *nnopt__buffer_name(const nnopt_hparams *h, int k)
{
    if (k == NNOPT__AVERAGE_BUF) return "average";
    if (k == NNOPT__SLOW_BUF) return "slow";
    return nnopt__row(h->kind)->buffer[k];
}

static int nnopt__group_valid(const nnopt_group *g)
{
    return NNOPT__REQUIRE(nnopt__finite(g->lr_scale) && g->lr_scale >= 0, "lr_scale", "must be finite and >= 0") &&
           NNOPT__REQUIRE(nnopt__finite(g->weight_decay_scale) && g->weight_decay_scale >= 0, "weight_decay_scale",
                          "must be finite and >= 0");
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
    if (!nnopt__hparams_valid(h) || !NNOPT__REQUIRE(groups != NULL, "groups", "is NULL") ||
        !NNOPT__REQUIRE(ngroups > 0, "ngroups", "is 0"))
        return 0;
    for (i = 0; i < ngroups; i++) {
        if (!nnopt__group_valid(&groups[i]) || !NNOPT__REQUIRE(groups[i].n <= SIZE_MAX - n, "groups", "sizes overflow"))
            return 0;
        n += groups[i].n;
    }
    if (!NNOPT__REQUIRE(ngroups <= (SIZE_MAX / 2) / sizeof(nnopt__group_state), "ngroups", "is too large"))
        return 0;
    gbytes = nnopt__align_up(ngroups * sizeof(nnopt__group_state));
    if (!NNOPT__REQUIRE(n <= (SIZE_MAX / 2) / sizeof(float) - 8192, "groups", "hold too many parameters")) return 0;
    /* Buffers start 320 bytes apart modulo 4096, so the streams of one update do not alias
       in the 4K-indexed load/store disambiguation (which slows large updates by ~10%). */
    bbytes = ((n * sizeof(float) + 4095) & ~(size_t)4095) + 320;
    nbuf = nnopt__state_count(nnopt__layout(h));
    /* the struct, the groups, and slack for caller memory of any alignment */
    bytes = nnopt__align_up(sizeof(nnopt_optimizer)) + gbytes + NNOPT__ALIGN;
    if (!NNOPT__REQUIRE(!nbuf || bbytes <= (SIZE_MAX - bytes) / (size_t)nbuf, "groups", "hold too many parameters"))
        return 0;
    bytes += bbytes * (size_t)nbuf;
    *total_n = n; *group_bytes = gbytes; *buffer_bytes = bbytes;
    return bytes;
}

NNOPT_API size_t nnopt_memory_size(const nnopt_hparams *h, const nnopt_group *groups, size_t ngroups)
{
    size_t n, gb, bb, bytes = nnopt__layout_bytes(h, groups, ngroups, &n, &gb, &bb);
    if (bytes == 0) (void)NNOPT__FAILED(NNOPT_ERR_INVALID);
    return bytes;
}

/* Fills the initial state: every buffer at 0 except those the kind starts at
   initial_accumulator_value (Adagrad's sum, both of Yogi's moments); the group scalars at
   their row's initial values. */
static void nnopt__reset_state(nnopt_optimizer *opt)
{
    const nnopt__kind_row *row = nnopt__row(opt->h.kind);
    const float init = (float)opt->h.initial_accumulator_value;
    size_t i;
    int k;
    for (k = 0; k < NNOPT__MAX_STATE; k++) {
        int accumulator = k < 4 && ((row->from_accumulator >> k) & 1u) && init != 0.0f;
        if (!opt->state[k]) continue;
        if (!accumulator) memset(opt->state[k], 0, opt->n * sizeof(float));
        else for (i = 0; i < opt->n; i++) opt->state[k][i] = init;
    }
    for (i = 0; i < opt->ngroups; i++) {
        opt->groups[i].step = 0;
        opt->groups[i].scalar[0] = row->scalar_init[0];
        opt->groups[i].scalar[1] = row->scalar_init[1];
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
    if (need == 0) return (nnopt_optimizer *)NNOPT__FAIL_NULL(NULL, NULL);
    if (!memory) return (nnopt_optimizer *)NNOPT__FAIL_NULL("memory", "is NULL");
    if (bytes < need) return (nnopt_optimizer *)NNOPT__FAIL_NULL("bytes", "is less than nnopt_memory_size()");
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

/* Allocates and builds an optimizer; on failure the check or the allocation said why. */
static nnopt_status nnopt__create(nnopt_optimizer **out, const nnopt_hparams *h,
                                  const nnopt_group *groups, size_t ngroups)
{
    size_t n, gbytes, bbytes, bytes = nnopt__layout_bytes(h, groups, ngroups, &n, &gbytes, &bbytes);
    void *memory;
    if (bytes == 0) return NNOPT_ERR_INVALID;
    memory = NNOPT_MALLOC(bytes);
    if (!memory) { nnopt__reject(NULL, "out of memory"); return NNOPT_ERR_NOMEM; }
    *out = nnopt_init(memory, bytes, h, groups, ngroups);
    NNOPT_ASSERT(*out != NULL);
    (*out)->allocation = memory;
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_try_create(nnopt_optimizer **out, const nnopt_hparams *h,
                                        const nnopt_group *groups, size_t ngroups)
{
    nnopt_status st;
    if (!out) return NNOPT__FAIL(NNOPT_ERR_INVALID, "out", "is NULL");
    *out = NULL;
    st = nnopt__create(out, h, groups, ngroups);
    return NNOPT__CHECKED(st);
}

NNOPT_API nnopt_optimizer *nnopt_create_groups(const nnopt_hparams *h, const nnopt_group *groups,
                                               size_t ngroups)
{
    nnopt_optimizer *opt = NULL;
    nnopt_status st = nnopt__create(&opt, h, groups, ngroups);
    (void)NNOPT__CHECKED(st);
    return opt;
}

NNOPT_API nnopt_optimizer *nnopt_create(const nnopt_hparams *h, size_t n)
{
    nnopt_group g = nnopt_group_default(n);
    nnopt_optimizer *opt = NULL;
    nnopt_status st = nnopt__create(&opt, h, &g, 1);
    (void)NNOPT__CHECKED(st);
    return opt;
}

NNOPT_API void nnopt_destroy(nnopt_optimizer *opt)
{
    if (opt && opt->allocation) NNOPT_FREE(opt->allocation);
}

/* ---- Stepping ------------------------------------------------------------------------ */

/* The instance of a kernel for the path in use. */
static nnopt__optim_kernel nnopt__instance(const nnopt__optim_kernel set[NNOPT__ISA_COUNT])
{
    return set[nnopt_isa_get()];
}

/* A row's kernel for n elements on the path in use (NNOPT__NARROW: see NNOPT__NARROW_MAX). */
static nnopt__optim_kernel nnopt__kernel_for(const nnopt__kind_row *row, size_t n)
{
    if ((row->flags & NNOPT__NARROW) && n < NNOPT__NARROW_MAX && nnopt_isa_get() == NNOPT_ISA_AVX512)
        return row->kernel[NNOPT_ISA_AVX2];
    return nnopt__instance(row->kernel);
}

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

/* The step context of a group's next update (t = its updates so far + 1). */
static nnopt__step_ctx nnopt__step_context(const nnopt_optimizer *opt, nnopt__group_state *gs)
{
    nnopt__step_ctx c;
    c.h = &opt->h;
    c.lr = opt->h.lr * gs->g.lr_scale;
    c.wd = opt->h.weight_decay * gs->g.weight_decay_scale;
    c.t = (double)(gs->step + 1);
    c.b1 = opt->h.beta1; c.b2 = opt->h.beta2;
    c.bc1 = 1.0 - pow(c.b1, c.t); c.bc2 = 1.0 - pow(c.b2, c.t);
    c.scalar = gs->scalar;
    return c;
}

/* The kernel arguments every kind shares: data, state, and the gradient prologue (maximize,
   then weight decay coupled into g or decoupled as p *= 1 - lr wd, unless the kernel decays
   itself). */
static nnopt__optim_args nnopt__step_args(const nnopt_optimizer *opt, const nnopt__group_state *gs,
                                          const nnopt__step_ctx *c, float *param, const float *grad)
{
    nnopt__optim_args a;
    int k;
    memset(&a, 0, sizeof a);
    a.n = gs->g.n;
    a.param = param;
    a.grad = grad;
    for (k = 0; k < NNOPT__MAX_STATE; k++) a.s[k] = opt->state[k] ? opt->state[k] + gs->offset : NULL;
    a.maximize = opt->h.maximize != 0;
    a.decay = 1.0f;
    a.first_step = gs->step == 0;
    if (c->wd != 0 && !(nnopt__row(opt->h.kind)->flags & NNOPT__OWN_DECAY)) {
        if (opt->h.decoupled_weight_decay) a.decay = (float)(1.0 - c->lr * c->wd);
        else a.weight_decay = (float)c->wd;
    }
    return a;
}

/* One group's update: the kind's coefficients, its first pass and trust ratio if it has
   one, its kernel; then Lookahead and averaging. */
static void nnopt__step_group(nnopt_optimizer *opt, nnopt__group_state *gs, float *param,
                              const float *grad)
{
    const nnopt__kind_row *row = nnopt__row(opt->h.kind);
    nnopt__step_ctx c = nnopt__step_context(opt, gs);
    nnopt__optim_args a = nnopt__step_args(opt, gs, &c, param, grad);
    nnopt__before_update(opt, gs, param);
    row->coefficients(&c, &a);
    if (row->ratio) {
        double sums[2];
        nnopt__run_reduce(nnopt__instance(row->reduce), &a, sums, 0);
        row->ratio(&c, &a, sums);
    }
    nnopt__run(nnopt__kernel_for(row, a.n), &a,
               (size_t)((row->flags & NNOPT__HEAVY) ? NNOPT_SPLIT_MIN_HEAVY : NNOPT_SPLIT_MIN));
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
        if (!NNOPT__REQUIRE(nnopt__ptr_ok(p, n), "params", "a group's array is NULL or not aligned to float") ||
            !NNOPT__REQUIRE(nnopt__ptr_ok(g, n), "grads", "a group's array is NULL or not aligned to float") ||
            !NNOPT__REQUIRE(!nnopt__overlap(p, g, n * sizeof(float)), "grads", "a group's gradient overlaps its parameters"))
            return NNOPT_ERR_INVALID;
    }
    if (opt->h.nonfinite_guard)
        for (i = 0; i < opt->ngroups; i++)
            if (!opt->groups[i].g.frozen &&
                !nnopt__all_finite(NNOPT__GROUP_PARAM(opt, i, flat_grad, grads), opt->groups[i].g.n)) {
                nnopt__reject("grad", "holds NaN or Inf (nonfinite_guard)");
                return NNOPT_ERR_NONFINITE;
            }
    for (i = 0; i < opt->ngroups; i++)
        if (!opt->groups[i].g.frozen)
            nnopt__step_group(opt, &opt->groups[i], NNOPT__GROUP_PARAM(opt, i, flat_param, params),
                              NNOPT__GROUP_PARAM(opt, i, flat_grad, grads));
    opt->steps++;
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_step(nnopt_optimizer *opt, float *param, const float *grad)
{
    nnopt_status st;
    if (!opt) return NNOPT__FAIL(NNOPT_ERR_INVALID, "opt", "is NULL");
    if (!nnopt__ptr_ok(param, opt->n)) return NNOPT__FAIL(NNOPT_ERR_INVALID, "param", "is NULL or not aligned to float");
    if (!nnopt__ptr_ok(grad, opt->n)) return NNOPT__FAIL(NNOPT_ERR_INVALID, "grad", "is NULL or not aligned to float");
    if (nnopt__overlap(param, grad, opt->n * sizeof(float)))
        return NNOPT__FAIL(NNOPT_ERR_INVALID, "grad", "overlaps param");
    st = nnopt__step(opt, param, grad, NULL, NULL);
    return NNOPT__CHECKED(st);
}

NNOPT_API nnopt_status nnopt_step_groups(nnopt_optimizer *opt, float *const *params,
                                         const float *const *grads)
{
    nnopt_status st;
    if (!opt || !params || !grads) return NNOPT__FAIL(NNOPT_ERR_INVALID, !opt ? "opt" : !params ? "params" : "grads", "is NULL");
    st = nnopt__step(opt, NULL, NULL, params, grads);
    return NNOPT__CHECKED(st);
}

/* ---- Hyper-parameters and groups ----------------------------------------------------- */

NNOPT_API const nnopt_hparams *nnopt_get_hparams(const nnopt_optimizer *opt)
{
    return opt ? &opt->h : NULL;
}

NNOPT_API nnopt_status nnopt_set_hparams(nnopt_optimizer *opt, const nnopt_hparams *h)
{
    if (!opt) return NNOPT__FAIL(NNOPT_ERR_INVALID, "opt", "is NULL");
    if (!nnopt__hparams_valid(h)) return NNOPT__FAILED(NNOPT_ERR_INVALID);
    if (h->kind != opt->h.kind) return NNOPT__FAIL(NNOPT_ERR_INVALID, "kind", "differs from the optimizer's");
    if (nnopt__layout(h) != opt->layout)
        return NNOPT__FAIL(NNOPT_ERR_INVALID, "h", "needs state buffers the optimizer was not created with");
    opt->h = *h;
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_set_lr(nnopt_optimizer *opt, double lr)
{
    nnopt_hparams h;
    if (!opt) return NNOPT__FAIL(NNOPT_ERR_INVALID, "opt", "is NULL");
    h = opt->h;
    h.lr = lr;
    if (!nnopt__hparams_valid(&h)) return NNOPT__FAILED(NNOPT_ERR_INVALID);
    opt->h = h;
    return NNOPT_OK;
}

NNOPT_API size_t nnopt_group_count(const nnopt_optimizer *opt) { return opt ? opt->ngroups : 0; }
NNOPT_API size_t nnopt_param_count(const nnopt_optimizer *opt) { return opt ? opt->n : 0; }
NNOPT_API uint64_t nnopt_step_count(const nnopt_optimizer *opt) { return opt ? opt->steps : 0; }

NNOPT_API nnopt_status nnopt_get_group(const nnopt_optimizer *opt, size_t index, nnopt_group *out)
{
    if (!opt || !out) return NNOPT__FAIL(NNOPT_ERR_INVALID, !opt ? "opt" : "out", "is NULL");
    if (index >= opt->ngroups) return NNOPT__FAIL(NNOPT_ERR_INVALID, "index", "is not below nnopt_group_count()");
    *out = opt->groups[index].g;
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_set_group(nnopt_optimizer *opt, size_t index, const nnopt_group *g)
{
    if (!opt || !g) return NNOPT__FAIL(NNOPT_ERR_INVALID, !opt ? "opt" : "g", "is NULL");
    if (index >= opt->ngroups) return NNOPT__FAIL(NNOPT_ERR_INVALID, "index", "is not below nnopt_group_count()");
    if (g->n != opt->groups[index].g.n) return NNOPT__FAIL(NNOPT_ERR_INVALID, "n", "differs from the group's length");
    if (!nnopt__group_valid(g)) return NNOPT__FAILED(NNOPT_ERR_INVALID);
    opt->groups[index].g = *g;
    return NNOPT_OK;
}

NNOPT_API const float *nnopt_averaged_params(const nnopt_optimizer *opt)
{
    if (!opt) return NULL;
    if (opt->h.average) return opt->state[NNOPT__AVERAGE_BUF];
    return (nnopt__row(opt->h.kind)->flags & NNOPT__AVERAGES) ? opt->state[0] : NULL;
}

NNOPT_API nnopt_status nnopt_traits(const nnopt_hparams *h, nnopt_kind_traits *out)
{
    const nnopt__kind_row *row;
    unsigned layout;
    int k;
    if (!out) return NNOPT__FAIL(NNOPT_ERR_INVALID, "out", "is NULL");
    if (!nnopt__hparams_valid(h)) return NNOPT__FAILED(NNOPT_ERR_INVALID);
    row = nnopt__row(h->kind);
    layout = nnopt__layout(h);
    memset(out, 0, sizeof *out);
    for (k = 0; k < NNOPT__MAX_STATE; k++)
        if ((layout >> k) & 1u) out->buffer_name[out->buffers++] = nnopt__buffer_name(h, k);
    if (row->ratio) {
        out->passes = 2;
        for (k = 0; k < 2; k++) { out->reads[k] = row->traffic[k][0]; out->writes[k] = row->traffic[k][1]; }
    } else {                  /* parameters and gradient, and each of the kind's buffers */
        int own = nnopt__state_count(layout & 15u);
        out->passes = 1;
        out->reads[0] = 2 + own;
        out->writes[0] = 1 + own;
    }
    return NNOPT_OK;
}

NNOPT_API const float *nnopt_state(const nnopt_optimizer *opt, const char *name)
{
    int k;
    if (!opt || !name) return NULL;
    for (k = 0; k < NNOPT__MAX_STATE; k++)
        if (opt->state[k] && strcmp(nnopt__buffer_name(&opt->h, k), name) == 0) return opt->state[k];
    return NULL;
}

/* ---- Averaging outside an optimizer ---------------------------------------------------- */

static nnopt_status nnopt__average_into(float *avg, const float *p, size_t n, int mode,
                                        double divisor, double decay)
{
    nnopt__optim_args a;
    if (!NNOPT__REQUIRE(nnopt__ptr_ok(avg, n), "avg", "is NULL or not aligned to float") ||
        !NNOPT__REQUIRE(nnopt__ptr_ok(p, n), "p", "is NULL or not aligned to float") ||
        !NNOPT__REQUIRE(!nnopt__overlap(avg, p, n * sizeof(float)), "p", "overlaps avg"))
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
    nnopt_status st = nnopt__average_into(avg, p, n, count ? NNOPT_AVERAGE_SWA : 0, (double)count + 1.0, 0.0);
    return NNOPT__CHECKED(st);
}

NNOPT_API nnopt_status nnopt_ema_update(float *avg, const float *p, size_t n, double decay,
                                        uint64_t count)
{
    nnopt_status st;
    if (!nnopt__finite(decay) || decay < 0 || decay > 1)
        return NNOPT__FAIL(NNOPT_ERR_INVALID, "decay", "must lie in [0, 1]");
    st = nnopt__average_into(avg, p, n, count ? NNOPT_AVERAGE_EMA : 0, 1.0, decay);
    return NNOPT__CHECKED(st);
}

/* Softmax of each model's row (max subtracted, in double), averaged over the models. One code
   path, so every build gives the same bits for the same libm. */
NNOPT_API nnopt_status nnopt_ensemble_softmax(const float *const *logits, size_t models,
                                              size_t rows, size_t classes, float *probs)
{
    size_t m, r, c;
    if (!logits || !probs) return NNOPT__FAIL(NNOPT_ERR_INVALID, !logits ? "logits" : "probs", "is NULL");
    if (models == 0 || classes == 0) return NNOPT__FAIL(NNOPT_ERR_INVALID, models ? "classes" : "models", "is 0");
    if (rows > SIZE_MAX / classes || !nnopt__ptr_ok(probs, rows * classes))
        return NNOPT__FAIL(NNOPT_ERR_INVALID, "probs", "is not aligned to float, or rows x classes overflows");
    for (m = 0; m < models; m++)
        if (!nnopt__ptr_ok(logits[m], rows * classes) ||
            nnopt__overlap(logits[m], probs, rows * classes * sizeof(float)))
            return NNOPT__FAIL(NNOPT_ERR_INVALID, "logits", "an array is NULL, not aligned to float, or overlaps probs");
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
   Format 2, tagged records (little-endian): "NNOPTCKP", u32 format version, the records, and
   last the u64 FNV-1a hash of every byte before it. A record is u8 name length L, L bytes of
   name, u8 type (1 i32, 2 u64, 3 f64, 4 f32 bits, 5 text), u64 count, count values. Records,
   in this order: "kind" (text), "hparams.<field>" for every field of nnopt_hparams (f64 or
   i32), "groups", "group.n", "group.lr_scale", "group.weight_decay_scale", "group.frozen",
   "group.step", "group.averaged" (one value per group), "group.<scalar>" for each of the
   kind's per-group scalars, "steps", and "state.<buffer>" (n f32) for each state buffer the
   optimizer keeps, by the names of its kind's row ("average" and "slow" for averaging and
   Lookahead). A record that a later format adds is optional in checkpoints of an earlier one
   (the optimizer keeps its own value); a missing or unknown record, or a newer format, is
   NNOPT_ERR_FORMAT. Format 1 (nnopt 0.1, fixed layout) still loads: nnopt__v1_walk. */
#define NNOPT__CKPT_VERSION 2u

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

/* What a record holds in memory (the file type follows: size_t and uint64_t are u64). */
enum { NNOPT__REC_I32 = 1, NNOPT__REC_U64 = 2, NNOPT__REC_F64 = 3, NNOPT__REC_F32 = 4,
       NNOPT__REC_TEXT = 5, NNOPT__REC_SIZE = 6 };
/* What a loader checks of each value before anything is written. */
enum { NNOPT__CK_ANY, NNOPT__CK_SAME, NNOPT__CK_SCALE, NNOPT__CK_FLAG };
/* A walk over the records: count bytes, write them, check them, or load them. */
enum { NNOPT__IO_SIZE, NNOPT__IO_SAVE, NNOPT__IO_CHECK, NNOPT__IO_LOAD };

typedef struct nnopt__ckpt_io {
    int mode;
    size_t size;               /* IO_SIZE: bytes so far */
    unsigned char *out;        /* IO_SAVE: where the next record goes */
    nnopt__reader in;          /* IO_CHECK, IO_LOAD */
    unsigned version;          /* the format being read */
    nnopt_hparams h;           /* hyper-parameters: the saved ones, or the ones being read */
} nnopt__ckpt_io;

static int nnopt__rec_width(int type)
{
    return type == NNOPT__REC_TEXT ? 1 : type == NNOPT__REC_I32 || type == NNOPT__REC_F32 ? 4 : 8;
}

/* Value i of a record (at data + i * stride) as the bits the file holds. */
static uint64_t nnopt__rec_value(int type, const void *at)
{
    uint64_t v = 0;
    switch (type) {
    case NNOPT__REC_I32:  v = (uint32_t)*(const int *)at; break;
    case NNOPT__REC_U64:  v = *(const uint64_t *)at; break;
    case NNOPT__REC_SIZE: v = *(const size_t *)at; break;
    case NNOPT__REC_TEXT: v = *(const unsigned char *)at; break;
    case NNOPT__REC_F32:  { uint32_t b; memcpy(&b, at, 4); v = b; break; }
    default:              memcpy(&v, at, 8); break;
    }
    return v;
}
static void nnopt__rec_store(int type, void *at, uint64_t v)
{
    switch (type) {
    case NNOPT__REC_I32:  *(int *)at = (int)(int32_t)(uint32_t)v; break;
    case NNOPT__REC_U64:  *(uint64_t *)at = v; break;
    case NNOPT__REC_SIZE: *(size_t *)at = (size_t)v; break;
    case NNOPT__REC_TEXT: *(unsigned char *)at = (unsigned char)v; break;
    case NNOPT__REC_F32:  { uint32_t b = (uint32_t)v; memcpy(at, &b, 4); break; }
    default:              memcpy(at, &v, 8); break;
    }
}

static int nnopt__rec_value_ok(int check, int type, const void *at, uint64_t v)
{
    double d;
    memcpy(&d, &v, sizeof d);
    switch (check) {
    case NNOPT__CK_SAME:  return v == nnopt__rec_value(type, at);
    case NNOPT__CK_SCALE: return nnopt__finite(d) && d >= 0;
    case NNOPT__CK_FLAG:  return v <= 1;
    }
    return 1;
}

/* The record header: name (prefix + name), file type, count. */
static int nnopt__rec_header(nnopt__ckpt_io *io, const char *prefix, const char *name, int type,
                             size_t count)
{
    size_t lp = strlen(prefix), ln = strlen(name);
    int file_type = type == NNOPT__REC_SIZE ? NNOPT__REC_U64 : type;
    NNOPT_ASSERT(lp + ln < 256);
    if (io->mode == NNOPT__IO_SIZE) { io->size += 1 + lp + ln + 1 + 8; return 1; }
    if (io->mode == NNOPT__IO_SAVE) {
        io->out = nnopt__put(io->out, lp + ln, 1);
        memcpy(io->out, prefix, lp); memcpy(io->out + lp, name, ln);
        io->out = nnopt__put(io->out + lp + ln, (uint64_t)file_type, 1);
        io->out = nnopt__put(io->out, count, 8);
        return 1;
    }
    if (nnopt__get(&io->in, 1) != lp + ln || (size_t)(io->in.end - io->in.p) < lp + ln ||
        memcmp(io->in.p, prefix, lp) != 0 || memcmp(io->in.p + lp, name, ln) != 0)
        return io->in.ok = 0;
    io->in.p += lp + ln;
    if (nnopt__get(&io->in, 1) != (uint64_t)file_type || nnopt__get(&io->in, 8) != count)
        return io->in.ok = 0;
    return io->in.ok;
}

/* One record of `count` values at data, data + stride, ...: counted, written, checked
   (values must pass `check`; hyper-parameters, staged in io->h, are kept) or loaded. A record
   newer than the checkpoint's format is absent from it and skipped. */
static void nnopt__record(nnopt__ckpt_io *io, const char *prefix, const char *name, int type,
                          size_t count, void *data, size_t stride, int check, unsigned since)
{
    const int width = nnopt__rec_width(type);
    const int staged = (uintptr_t)data - (uintptr_t)&io->h < sizeof io->h;
    size_t i;
    if (io->mode >= NNOPT__IO_CHECK && since > io->version) return;
    if (!nnopt__rec_header(io, prefix, name, type, count)) return;
    if (io->mode == NNOPT__IO_SIZE) { io->size += count * (size_t)width; return; }
    for (i = 0; i < count; i++) {
        void *at = (char *)data + i * stride;
        uint64_t v;
        if (io->mode == NNOPT__IO_SAVE) { io->out = nnopt__put(io->out, nnopt__rec_value(type, at), width); continue; }
        v = nnopt__get(&io->in, width);
        if (!io->in.ok) return;
        if (io->mode == NNOPT__IO_CHECK && !nnopt__rec_value_ok(check, type, at, v)) { io->in.ok = 0; return; }
        if ((io->mode == NNOPT__IO_LOAD && check != NNOPT__CK_SAME) || staged) nnopt__rec_store(type, at, v);
    }
}

/* Every record of an optimizer, in order (see the format above). */
static void nnopt__ckpt_walk(nnopt_optimizer *opt, nnopt__ckpt_io *io)
{
    const nnopt__kind_row *row = nnopt__row(opt->h.kind);
    const size_t ng = opt->ngroups, gs = sizeof(nnopt__group_state);
    nnopt__group_state *g = opt->groups;
    size_t i;
    int k;
    nnopt__record(io, "kind", "", NNOPT__REC_TEXT, strlen(row->name), (void *)(uintptr_t)row->name, 1, NNOPT__CK_SAME, 2);
    for (i = 0; i < NNOPT__HPARAM_FIELDS; i++) {
        const nnopt__hparam_field *f = &nnopt__hparam_fields[i];
        nnopt__record(io, "hparams.", f->name, f->is_int ? NNOPT__REC_I32 : NNOPT__REC_F64, 1,
                      (char *)&io->h + f->offset, 0, NNOPT__CK_ANY, f->since < 2 ? 2 : f->since);
    }
    nnopt__record(io, "groups", "", NNOPT__REC_SIZE, 1, &opt->ngroups, 0, NNOPT__CK_SAME, 2);
    nnopt__record(io, "group.", "n", NNOPT__REC_SIZE, ng, &g->g.n, gs, NNOPT__CK_SAME, 2);
    nnopt__record(io, "group.", "lr_scale", NNOPT__REC_F64, ng, &g->g.lr_scale, gs, NNOPT__CK_SCALE, 2);
    nnopt__record(io, "group.", "weight_decay_scale", NNOPT__REC_F64, ng, &g->g.weight_decay_scale, gs,
                  NNOPT__CK_SCALE, 2);
    nnopt__record(io, "group.", "frozen", NNOPT__REC_I32, ng, &g->g.frozen, gs, NNOPT__CK_FLAG, 2);
    nnopt__record(io, "group.", "step", NNOPT__REC_U64, ng, &g->step, gs, NNOPT__CK_ANY, 2);
    nnopt__record(io, "group.", "averaged", NNOPT__REC_U64, ng, &g->averaged, gs, NNOPT__CK_ANY, 2);
    for (k = 0; k < 2; k++)
        if (row->scalar[k])
            nnopt__record(io, "group.", row->scalar[k], NNOPT__REC_F64, ng, &g->scalar[k], gs, NNOPT__CK_ANY, 2);
    nnopt__record(io, "steps", "", NNOPT__REC_U64, 1, &opt->steps, 0, NNOPT__CK_ANY, 2);
    for (k = 0; k < NNOPT__MAX_STATE; k++)
        if (opt->state[k])
            nnopt__record(io, "state.", nnopt__buffer_name(&opt->h, k), NNOPT__REC_F32, opt->n,
                          opt->state[k], sizeof(float), NNOPT__CK_ANY, 2);
}

NNOPT_API size_t nnopt_save_size(const nnopt_optimizer *opt)
{
    nnopt__ckpt_io io;
    if (!opt) return 0;
    memset(&io, 0, sizeof io);
    io.mode = NNOPT__IO_SIZE;
    io.h = opt->h;
    nnopt__ckpt_walk((nnopt_optimizer *)(uintptr_t)opt, &io);
    return 8 + 4 + io.size + 8;
}

NNOPT_API nnopt_status nnopt_save(const nnopt_optimizer *opt, void *buffer, size_t capacity)
{
    unsigned char *start = (unsigned char *)buffer;
    size_t size = nnopt_save_size(opt);
    nnopt__ckpt_io io;
    if (!opt || !buffer) return NNOPT__FAIL(NNOPT_ERR_INVALID, !opt ? "opt" : "buffer", "is NULL");
    if (capacity < size) return NNOPT__FAIL(NNOPT_ERR_INVALID, "capacity", "is less than nnopt_save_size()");
    memset(&io, 0, sizeof io);
    io.mode = NNOPT__IO_SAVE;
    io.h = opt->h;
    memcpy(start, nnopt__ckpt_magic, 8);
    io.out = nnopt__put(start + 8, NNOPT__CKPT_VERSION, 4);
    nnopt__ckpt_walk((nnopt_optimizer *)(uintptr_t)opt, &io);
    io.out = nnopt__put(io.out, nnopt__fnv1a(start, (size_t)(io.out - start)), 8);
    NNOPT_ASSERT((size_t)(io.out - start) == size);
    return NNOPT_OK;
}

/* Format 1: "NNOPTCKP", u32 1, u32 kind, u32 21, u32 11, the 21 f64 and 11 i32
   hyper-parameters of format 1 (nnopt__hparam_fields order), u64 total n, u64 groups, per
   group {u64 n, f64 lr_scale, f64 weight_decay_scale, u32 frozen, u32 0, u64 step,
   f64 mu_product, f64 eta, f64 mu, u64 averaged}, u64 steps, u32 state layout, u32 0, each
   state buffer present (n f32), and the hash. Its group fields mu_product (NAdam) and eta, mu
   (ASGD) are the kinds' scalars of format 2; other kinds' are ignored. */
static size_t nnopt__v1_size(const nnopt_optimizer *opt, size_t *doubles, size_t *ints)
{
    size_t i;
    *doubles = *ints = 0;
    for (i = 0; i < NNOPT__HPARAM_FIELDS; i++)
        if (nnopt__hparam_fields[i].since == 1) { if (nnopt__hparam_fields[i].is_int) ++*ints; else ++*doubles; }
    return 8 + 4 * 4 + 8 * *doubles + 4 * *ints + 8 + 8 + 72 * opt->ngroups + 8 + 4 + 4 +
           sizeof(float) * opt->n * (size_t)nnopt__state_count(opt->layout) + 8;
}

/* Reads a format-1 group {..} into gs (commit) or checks it against opt's group i. */
static int nnopt__v1_group(nnopt__reader *r, const nnopt_optimizer *opt, size_t i, nnopt__group_state *gs)
{
    const nnopt__kind_row *row = nnopt__row(opt->h.kind);
    nnopt_group g;
    uint64_t frozen, reserved, step, averaged;
    double v1_scalar[3];                  /* mu_product, eta, mu */
    int j;
    g.n = (size_t)nnopt__get(r, 8);
    g.lr_scale = nnopt__get_f64(r);
    g.weight_decay_scale = nnopt__get_f64(r);
    frozen = nnopt__get(r, 4);
    reserved = nnopt__get(r, 4);
    step = nnopt__get(r, 8);
    for (j = 0; j < 3; j++) v1_scalar[j] = nnopt__get_f64(r);
    averaged = nnopt__get(r, 8);
    if (!r->ok || g.n != opt->groups[i].g.n || frozen > 1 || reserved != 0 || !nnopt__group_valid(&g))
        return 0;
    if (!gs) return 1;
    g.frozen = (int)frozen;
    gs->g = g;
    gs->step = step;
    gs->averaged = averaged;
    for (j = 0; j < 2; j++)
        if (row->scalar[j])
            gs->scalar[j] = strcmp(row->scalar[j], "mu_product") == 0 ? v1_scalar[0] : v1_scalar[1 + j];
    return 1;
}

/* Checks a format-1 checkpoint (commit 0), or loads a checked one (commit 1). */
static int nnopt__v1_walk(nnopt_optimizer *opt, const unsigned char *bytes, size_t size, int commit)
{
    nnopt__reader r;
    nnopt_hparams h = opt->h;
    size_t doubles, ints, i, j;
    int k;
    nnopt__v1_size(opt, &doubles, &ints);
    r.p = bytes + 12; r.end = bytes + size - 8; r.ok = 1;
    if (nnopt__get(&r, 4) != (uint64_t)opt->h.kind || nnopt__get(&r, 4) != doubles ||
        nnopt__get(&r, 4) != ints)
        return 0;
    for (i = 0; i < NNOPT__HPARAM_FIELDS; i++) {
        const nnopt__hparam_field *f = &nnopt__hparam_fields[i];
        if (f->since != 1) continue;
        if (f->is_int) *NNOPT__HP_AS_INT(&h, f) = (int)(int32_t)nnopt__get(&r, 4);
        else *NNOPT__HP_AS_DOUBLE(&h, f) = nnopt__get_f64(&r);
    }
    if (!r.ok || !nnopt__hparams_valid(&h) || nnopt__layout(&h) != opt->layout ||
        nnopt__get(&r, 8) != opt->n || nnopt__get(&r, 8) != opt->ngroups)
        return 0;
    for (i = 0; i < opt->ngroups; i++)
        if (!nnopt__v1_group(&r, opt, i, commit ? &opt->groups[i] : NULL)) return 0;
    if (commit) opt->steps = nnopt__get(&r, 8); else (void)nnopt__get(&r, 8);
    if (nnopt__get(&r, 4) != opt->layout || nnopt__get(&r, 4) != 0 || !r.ok) return 0;
    if (!commit) return 1;
    opt->h = h;
    for (k = 0; k < NNOPT__MAX_STATE; k++)
        for (j = 0; opt->state[k] && j < opt->n; j++) {
            uint32_t bits = (uint32_t)nnopt__get(&r, 4);
            memcpy(&opt->state[k][j], &bits, sizeof bits);
        }
    NNOPT_ASSERT(r.ok && r.p == r.end);
    return 1;
}

/* Checks a tagged checkpoint (IO_CHECK) or loads a checked one (IO_LOAD). */
static int nnopt__tagged_walk(nnopt_optimizer *opt, const unsigned char *bytes, size_t size,
                              unsigned version, int mode)
{
    nnopt__ckpt_io io;
    memset(&io, 0, sizeof io);
    io.mode = mode;
    io.version = version;
    io.h = opt->h;
    io.in.p = bytes + 12; io.in.end = bytes + size - 8; io.in.ok = 1;
    nnopt__ckpt_walk(opt, &io);
    if (!io.in.ok || io.in.p != io.in.end || !nnopt__hparams_valid(&io.h) ||
        nnopt__layout(&io.h) != opt->layout)
        return 0;
    if (mode == NNOPT__IO_LOAD) opt->h = io.h;
    return 1;
}

NNOPT_API nnopt_status nnopt_load(nnopt_optimizer *opt, const void *buffer, size_t size)
{
    const unsigned char *bytes = (const unsigned char *)buffer;
    nnopt__reader r;
    uint64_t version;
    size_t doubles, ints;
    if (!opt || !buffer) return NNOPT__FAIL(NNOPT_ERR_INVALID, !opt ? "opt" : "buffer", "is NULL");
    /* Everything is checked before anything is written. */
    if (size < 8 + 4 + 8 || memcmp(bytes, nnopt__ckpt_magic, 8) != 0)
        return NNOPT__FAIL(NNOPT_ERR_FORMAT, "buffer", "is not an nnopt checkpoint");
    r.p = bytes + size - 8; r.end = bytes + size; r.ok = 1;
    if (nnopt__get(&r, 8) != nnopt__fnv1a(bytes, size - 8))
        return NNOPT__FAIL(NNOPT_ERR_FORMAT, "buffer", "fails its checksum (truncated or altered)");
    r.p = bytes + 8;
    version = nnopt__get(&r, 4);
    if (version == 1) {
        if (size != nnopt__v1_size(opt, &doubles, &ints) || !nnopt__v1_walk(opt, bytes, size, 0))
            return NNOPT__FAIL(NNOPT_ERR_FORMAT, "buffer", "does not match this optimizer (format 1)");
        nnopt__v1_walk(opt, bytes, size, 1);
        return NNOPT_OK;
    }
    if (version < 2 || version > NNOPT__CKPT_VERSION)
        return NNOPT__FAIL(NNOPT_ERR_FORMAT, "buffer", "is of a checkpoint format this version does not know");
    if (!nnopt__tagged_walk(opt, bytes, size, (unsigned)version, NNOPT__IO_CHECK))
        return NNOPT__FAIL(NNOPT_ERR_FORMAT, "buffer",
                           "does not match this optimizer (kind, groups, state or a hyper-parameter)");
    nnopt__tagged_walk(opt, bytes, size, (unsigned)version, NNOPT__IO_LOAD);
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
    if (count && (!grads || !sizes)) return NNOPT__FAIL(NNOPT_ERR_INVALID, !grads ? "grads" : "sizes", "is NULL");
    if (!nnopt__finite(max_norm) || max_norm < 0)
        return NNOPT__FAIL(NNOPT_ERR_INVALID, "max_norm", "must be finite and >= 0");
    if (!(norm_type == 1.0 || norm_type == 2.0 || norm_type == (double)INFINITY))
        return NNOPT__FAIL(NNOPT_ERR_INVALID, "norm_type", "must be 1, 2 or INFINITY");
    for (i = 0; i < count; i++)
        if (!nnopt__ptr_ok(grads[i], sizes[i]))
            return NNOPT__FAIL(NNOPT_ERR_INVALID, "grads", "an array is NULL or not aligned to float");
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
    if (error_if_nonfinite && !nnopt__finite(norm))
        return NNOPT__FAIL(NNOPT_ERR_NONFINITE, "grads", "have a non-finite norm (error_if_nonfinite)");
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
    if (!nnopt__ptr_ok(grad, n)) return NNOPT__FAIL(NNOPT_ERR_INVALID, "grad", "is NULL or not aligned to float");
    if (!nnopt__finite(clip_value) || clip_value < 0)
        return NNOPT__FAIL(NNOPT_ERR_INVALID, "clip_value", "must be finite and >= 0");
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

#define NNOPT__SCHED_RULE(cond, argument, reason) return NNOPT__REQUIRE(cond, argument, reason)
static int nnopt__sched_valid(const nnopt_sched_params *p)
{
    const double all[] = { p->gamma, p->eta_min, p->factor, p->start_factor, p->end_factor,
                           p->power, p->max_lr, p->pct_start, p->div_factor, p->final_div_factor,
                           p->base_momentum, p->max_momentum, p->threshold, p->min_lr, p->eps,
                           p->swa_lr };
    size_t i;
    int m;
    for (i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!nnopt__finite(all[i])) return nnopt__reject("params", "a double field is not finite");
    switch (p->kind) {
    case NNOPT_SCHED_STEP:
        NNOPT__SCHED_RULE(p->step_size > 0 && p->gamma > 0, "step_size, gamma", "must be > 0");
    case NNOPT_SCHED_MULTISTEP:
        if (p->gamma <= 0 || p->milestone_count < 0 || p->milestone_count > NNOPT_SCHED_MAX_MILESTONES)
            return nnopt__reject("gamma, milestone_count", "gamma must be > 0 and the count within the limit");
        for (m = 1; m < p->milestone_count; m++)
            if (p->milestones[m] < p->milestones[m - 1]) return nnopt__reject("milestones", "must not decrease");
        return 1;
    case NNOPT_SCHED_EXPONENTIAL: case NNOPT_SCHED_INVERSE_TIME:
        NNOPT__SCHED_RULE(p->gamma > 0, "gamma", "must be > 0");
    case NNOPT_SCHED_COSINE:
        NNOPT__SCHED_RULE(p->T_max > 0, "T_max", "must be > 0");
    case NNOPT_SCHED_COSINE_RESTARTS:
        NNOPT__SCHED_RULE(p->T_0 > 0 && p->T_mult >= 1, "T_0, T_mult", "must be > 0 and >= 1");
    case NNOPT_SCHED_CONSTANT:
        NNOPT__SCHED_RULE(p->factor > 0 && p->factor <= 1 && p->total_iters >= 0, "factor, total_iters",
                          "must lie in (0, 1] and be >= 0");
    case NNOPT_SCHED_LINEAR:
        NNOPT__SCHED_RULE(p->start_factor > 0 && p->start_factor <= 1 && p->end_factor >= 0 &&
                          p->end_factor <= 1 && p->total_iters > 0, "start_factor, end_factor, total_iters",
                          "must lie in (0, 1], [0, 1] and be > 0");
    case NNOPT_SCHED_POLYNOMIAL:
        NNOPT__SCHED_RULE(p->total_iters > 0 && p->power >= 0, "total_iters, power", "must be > 0 and >= 0");
    case NNOPT_SCHED_ONE_CYCLE:
        NNOPT__SCHED_RULE(p->max_lr >= 0 && p->total_steps > 0 && p->pct_start > 0 && p->pct_start < 1 &&
                          p->div_factor > 0 && p->final_div_factor > 0, "one-cycle parameters",
                          "need max_lr >= 0, total_steps > 0, pct_start in (0, 1), div factors > 0");
    case NNOPT_SCHED_PLATEAU:
        NNOPT__SCHED_RULE(p->factor >= 0 && p->factor < 1 && p->patience >= 0 && p->cooldown >= 0 &&
                          p->threshold >= 0 && p->min_lr >= 0 && p->eps >= 0, "plateau parameters",
                          "need factor in [0, 1) and the others >= 0");
    case NNOPT_SCHED_SWA:
        NNOPT__SCHED_RULE(p->swa_lr >= 0 && p->anneal_epochs >= 0, "swa_lr, anneal_epochs", "must be >= 0");
    case NNOPT_SCHED_KIND_COUNT: break;
    }
    return nnopt__reject("kind", "is not an nnopt_sched_kind");
}
#undef NNOPT__SCHED_RULE

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
    if (!NNOPT__REQUIRE(s && children, !s ? "s" : "p", "is NULL") ||
        !NNOPT__REQUIRE(count >= 1 && count <= NNOPT_SCHED_MAX_CHILDREN, "count", "is outside 1..NNOPT_SCHED_MAX_CHILDREN") ||
        !NNOPT__REQUIRE(nnopt__finite(initial_lr) && initial_lr >= 0, "initial_lr", "must be finite and >= 0"))
        return NNOPT_ERR_INVALID;
    for (c = 0; c < count; c++)
        if (!nnopt__sched_valid(&children[c]) ||
            !NNOPT__REQUIRE(!composition || children[c].kind != NNOPT_SCHED_PLATEAU, "children",
                            "a plateau schedule cannot be chained or sequenced"))
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
    nnopt_status st = nnopt__sched_begin(s, p, 1, initial_lr, 0);
    return NNOPT__CHECKED(st);
}

NNOPT_API nnopt_status nnopt_sched_init_chained(nnopt_scheduler *s, const nnopt_sched_params *children,
                                                int count, double initial_lr)
{
    nnopt_status st = nnopt__sched_begin(s, children, count, initial_lr, 2);
    return NNOPT__CHECKED(st);
}

NNOPT_API nnopt_status nnopt_sched_init_sequential(nnopt_scheduler *s,
                                                   const nnopt_sched_params *children, int count,
                                                   const int *milestones, double initial_lr)
{
    nnopt_scheduler built;
    nnopt_status st;
    int c;
    if (!s || (count > 1 && !milestones)) return NNOPT__FAIL(NNOPT_ERR_INVALID, !s ? "s" : "milestones", "is NULL");
    for (c = 1; c < count; c++)
        if (milestones[c - 1] <= 0 || (c > 1 && milestones[c - 1] <= milestones[c - 2]))
            return NNOPT__FAIL(NNOPT_ERR_INVALID, "milestones", "must be > 0 and increasing");
    st = nnopt__sched_begin(&built, children, count, initial_lr, 1);
    if (st != NNOPT_OK) return NNOPT__FAILED(st);
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
    if (!s || s->count < 1 || s->count > NNOPT_SCHED_MAX_CHILDREN)
        return NNOPT__FAIL(NNOPT_ERR_INVALID, "s", "is NULL or not initialized");
    s->restarted = 0;
    if (s->composition == 1) {
        long e = s->last_epoch + 1;
        int idx = 0;
        while (idx < s->count - 1 && s->milestones[idx] <= e) idx++;
        if (nnopt__sched_exhausted(&s->node[idx]) && !(idx > 0 && s->milestones[idx - 1] == e))
            return NNOPT__FAIL(NNOPT_ERR_INVALID, "s", "one-cycle schedule stepped past total_steps");
        s->last_epoch = e;
        if (idx > 0 && s->milestones[idx - 1] == e) nnopt__node_step(s, &s->node[idx], 1, 0);
        else nnopt__node_step(s, &s->node[idx], 0, 0);
        return NNOPT_OK;
    }
    for (c = 0; c < s->count; c++)
        if (s->node[c].p.kind == NNOPT_SCHED_PLATEAU || nnopt__sched_exhausted(&s->node[c]))
            return NNOPT__FAIL(NNOPT_ERR_INVALID, "s", s->node[c].p.kind == NNOPT_SCHED_PLATEAU
                               ? "a plateau schedule steps with nnopt_sched_step_metric"
                               : "one-cycle schedule stepped past total_steps");
    for (c = 0; c < s->count; c++) nnopt__node_step(s, &s->node[c], 0, 0);
    return NNOPT_OK;
}

/* ReduceLROnPlateau.step(metric). */
NNOPT_API nnopt_status nnopt_sched_step_metric(nnopt_scheduler *s, double metric)
{
    nnopt_sched_node *nd;
    const nnopt_sched_params *p;
    int better;
    if (!s || s->composition || s->node[0].p.kind != NNOPT_SCHED_PLATEAU)
        return NNOPT__FAIL(NNOPT_ERR_INVALID, "s", "is not a plateau schedule");
    if (metric != metric) return NNOPT__FAIL(NNOPT_ERR_INVALID, "metric", "is NaN");
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
    double *cycled;
    nnopt_status st;
    if (!s || !opt) return NNOPT__FAIL(NNOPT_ERR_INVALID, !s ? "s" : "opt", "is NULL");
    h = opt->h;
    h.lr = s->lr;
    if (nnopt_sched_momentum(s, &m)) {
        cycled = nnopt__cycled_momentum(&h);
        if (!cycled)                                 /* nothing to cycle (torch raises too) */
            return NNOPT__FAIL(NNOPT_ERR_INVALID, "s", "cycles momentum, which this kind does not have");
        *cycled = m;
    }
    st = nnopt_set_hparams(opt, &h);
    return NNOPT__CHECKED(st);
}

NNOPT_API nnopt_status nnopt_sched_apply_group(const nnopt_scheduler *s, nnopt_optimizer *opt,
                                               size_t group)
{
    nnopt_group g;
    nnopt_status st;
    if (!s || !opt) return NNOPT__FAIL(NNOPT_ERR_INVALID, !s ? "s" : "opt", "is NULL");
    if (!(opt->h.lr > 0)) return NNOPT__FAIL(NNOPT_ERR_INVALID, "opt", "has lr 0 (a group's lr is a scale of it)");
    if (nnopt_get_group(opt, group, &g) != NNOPT_OK) return NNOPT__FAIL(NNOPT_ERR_INVALID, "group", "is not below nnopt_group_count()");
    g.lr_scale = s->lr / opt->h.lr;
    st = nnopt_set_group(opt, group, &g);
    return NNOPT__CHECKED(st);
}
#endif

#endif /* NNOPT_NO_SCHED */

/* =====================================================================================
   Random numbers
   ===================================================================================== */
NNOPT_API void nnopt_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    uint32_t k0 = key[0], k1 = key[1];
    int round;
    for (round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)NNOPT__PHILOX_M0 * c0, p1 = (uint64_t)NNOPT__PHILOX_M1 * c2;
        if (round > 0) { k0 += NNOPT__PHILOX_W0; k1 += NNOPT__PHILOX_W1; }   /* bumped between rounds */
        c0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        c1 = (uint32_t)p1;
        c2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c3 = (uint32_t)p0;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

NNOPT_API uint32_t nnopt_random_word(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t block = (index >> 6) * 16 + (index & 15);
    uint32_t counter[4], key[2], out[4];
    counter[0] = (uint32_t)block;  counter[1] = (uint32_t)(block >> 32);
    counter[2] = (uint32_t)stream; counter[3] = (uint32_t)(stream >> 32);
    key[0] = (uint32_t)seed;       key[1] = (uint32_t)(seed >> 32);
    nnopt_philox4x32_10(counter, key, out);
    return out[(index >> 4) & 3];
}

NNOPT_API float nnopt_random_uniform_at(uint64_t seed, uint64_t stream, uint64_t index)
{
    return nnopt__u01_scalar(nnopt_random_word(seed, stream, index));
}

NNOPT_API float nnopt_random_normal_at(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t pair = (index & ~(uint64_t)31) + (index & 15);   /* 64s + 32q + l */
    float c, s;
    nnopt__normal_pair_scalar(nnopt_random_word(seed, stream, pair),
                              nnopt_random_word(seed, stream, pair + 16), &c, &s);
    return index & 16 ? s : c;
}

typedef void (*nnopt__random_kernel)(const nnopt__random_args *, void *, size_t, uint64_t, uint64_t);

/* Numbers offset .. offset + count - 1 all exist: the stream ends at index 2^64 - 1. */
static int nnopt__stream_holds(uint64_t offset, uint64_t count)
{
    return count == 0 || count - 1 <= UINT64_MAX - offset;
}

/* Fills out[0 .. n) with numbers offset .. offset + n - 1, elem bytes each. Chunks start on
   super-block boundaries, so a thread split changes nothing but who computes a block. */
NNOPT__PRIVATE nnopt_status nnopt__random(const nnopt_rng *rng, void *out, size_t n, size_t elem,
                                          nnopt__random_args *a)
{
    nnopt__random_kernel kernel;
    uint64_t first, last;
    if (!NNOPT__REQUIRE(rng != NULL, "rng", "is NULL") ||
        !NNOPT__REQUIRE(out || n == 0, "out", "is NULL") ||
        !NNOPT__REQUIRE(nnopt__stream_holds(rng->offset, n), "n", "runs past the end of the stream (offset + n > 2^64)") ||
        !NNOPT__REQUIRE(n <= SIZE_MAX / elem && (elem != sizeof(float) || nnopt__ptr_ok(out, n)), "out",
                        "is not aligned to float, or n is too large"))
        return NNOPT_ERR_INVALID;
    if (n == 0) return NNOPT_OK;
    a->key[0] = (uint32_t)rng->seed;
    a->key[1] = (uint32_t)(rng->seed >> 32);
    a->stream = rng->stream;
    first = rng->offset;
    last = first + (n - 1);
    kernel = NNOPT__PICK(random_run);
#ifdef _OPENMP
    if (n > ((size_t)1 << 17) && omp_get_max_threads() > 1) {
        const uint64_t chunk = (uint64_t)1 << 16;   /* words per task, a multiple of 64 */
        long c, count = (long)(last / chunk - first / chunk + 1);
#  pragma omp parallel for schedule(static)
        for (c = 0; c < count; c++) {
            uint64_t lo = (first / chunk + (uint64_t)c) * chunk, hi = lo + (chunk - 1);
            if (lo < first) lo = first;
            if (hi > last) hi = last;
            kernel(a, (char *)out + (size_t)(lo - first) * elem, elem, lo, hi);
        }
        return NNOPT_OK;
    }
#endif
    kernel(a, out, elem, first, last);
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_random_u32(const nnopt_rng *rng, uint32_t *out, size_t n)
{
    nnopt__random_args a;
    memset(&a, 0, sizeof a);
    a.kind = NNOPT__RANDOM_U32;
    NNOPT__CHECK(nnopt__ptr_ok(out, n), "out", "is NULL or not aligned to uint32_t");
    return NNOPT__CHECKED(nnopt__random(rng, out, n, sizeof *out, &a));
}

NNOPT_API nnopt_status nnopt_random_uniform(const nnopt_rng *rng, float *out, size_t n)
{
    nnopt__random_args a;
    memset(&a, 0, sizeof a);
    a.kind = NNOPT__RANDOM_UNIFORM;
    return NNOPT__CHECKED(nnopt__random(rng, out, n, sizeof *out, &a));
}

NNOPT_API nnopt_status nnopt_random_normal(const nnopt_rng *rng, float *out, size_t n,
                                           double mean, double std)
{
    nnopt__random_args a;
    NNOPT__CHECK(nnopt__finite(mean) && fabs(mean) <= FLT_MAX, "mean", "is not a finite float");
    NNOPT__CHECK(nnopt__finite(std) && std >= 0 && std <= FLT_MAX, "std", "is not a finite float >= 0");
    memset(&a, 0, sizeof a);
    a.kind = NNOPT__RANDOM_NORMAL;
    a.mean = (float)mean;
    a.std = (float)std;
    return NNOPT__CHECKED(nnopt__random(rng, out, n, sizeof *out, &a));
}

NNOPT_API nnopt_status nnopt_random_bernoulli(const nnopt_rng *rng, uint8_t *out, size_t n, double p)
{
    nnopt__random_args a;
    NNOPT__CHECK(p >= 0.0 && p <= 1.0, "p", "must lie in [0, 1]");
    memset(&a, 0, sizeof a);
    a.kind = NNOPT__RANDOM_BERNOULLI;
    a.threshold = (uint32_t)ceil(p * 16777216.0);   /* p 2^24 is exact in double */
    return NNOPT__CHECKED(nnopt__random(rng, out, n, sizeof *out, &a));
}



#ifndef NNOPT_NO_REG
/* =====================================================================================
   Regularization
   ===================================================================================== */
/* The kernels run single-threaded over the whole vector; reductions sum 16 double lanes (one
   per position in a 16-element block) and combine them by a fixed tree, so sums are the same
   on every path. */

static double nnopt__reg_lanes(const double lane[16])
{
    double l8[8], l4[4];
    int i;
    for (i = 0; i < 8; i++) l8[i] = lane[i] + lane[i + 8];
    for (i = 0; i < 4; i++) l4[i] = l8[i] + l8[i + 4];
    return (l4[0] + l4[2]) + (l4[1] + l4[3]);
}

static int nnopt__reg_coef_ok(double x) { return nnopt__finite(x) && x >= 0.0; }

/* A float vector of n elements the kernels may use: pointer rules and no size overflow. */
static int nnopt__reg_vec_ok(const void *p, size_t n)
{
    return nnopt__ptr_ok(p, n) && n <= (size_t)-1 / sizeof(float);
}

NNOPT_API nnopt_status nnopt_penalty_elastic_net(const float *w, float *grad, size_t n,
                                                 double l1, double l2, double *value)
{
    nnopt__reg_args a;
    NNOPT__CHECK(nnopt__reg_vec_ok(w, n), "w", "is NULL or not aligned to float");
    NNOPT__CHECK(nnopt__reg_vec_ok(grad, grad ? n : 0), "grad", "is not aligned to float");
    NNOPT__CHECK(nnopt__reg_coef_ok(l1) && nnopt__reg_coef_ok(l2), "l1, l2", "must be finite and >= 0");
    NNOPT__CHECK(!nnopt__overlap(w, grad, n * sizeof(float)), "grad", "overlaps w");
    memset(&a, 0, sizeof a);
    a.n = n;
    a.w = (float *)(uintptr_t)w;     /* read only: penalty_block never stores through w */
    a.g = grad;
    a.l1 = (float)l1;
    a.l2 = (float)l2;
    a.want_sums = value != NULL;
    if (n && (grad || value)) NNOPT__PICK(penalty)(&a);
    if (value) {   /* two statements: no compiler may fuse the products into the sum */
        /* a term with coefficient 0 is 0, not 0 * an infinite sum (NaN) */
        double v1 = l1 != 0.0 ? l1 * nnopt__reg_lanes(a.sum[0]) : 0.0;
        double v2 = l2 != 0.0 ? 0.5 * l2 * nnopt__reg_lanes(a.sum[1]) : 0.0;
        value[0] = v1 + v2;
    }
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_penalty_l1(const float *w, float *grad, size_t n, double l1,
                                        double *value)
{
    return nnopt_penalty_elastic_net(w, grad, n, l1, 0.0, value);
}

NNOPT_API nnopt_status nnopt_penalty_l2(const float *w, float *grad, size_t n, double l2,
                                        double *value)
{
    return nnopt_penalty_elastic_net(w, grad, n, 0.0, l2, value);
}

NNOPT_API nnopt_status nnopt_proximal_sgd_step(float *w, const float *grad, size_t n, double lr,
                                               double l1, double l2)
{
    nnopt__reg_args a;
    double shrink = lr * l2;
    NNOPT__CHECK(nnopt__reg_vec_ok(w, n), "w", "is NULL or not aligned to float");
    NNOPT__CHECK(nnopt__reg_vec_ok(grad, grad ? n : 0), "grad", "is not aligned to float");
    NNOPT__CHECK(nnopt__reg_coef_ok(lr) && nnopt__reg_coef_ok(l1) && nnopt__reg_coef_ok(l2), "lr, l1, l2",
                 "must be finite and >= 0");
    NNOPT__CHECK(nnopt__finite(lr * l1) && nnopt__finite(lr * l2), "lr", "times l1 or l2 overflows");
    NNOPT__CHECK(!nnopt__overlap(w, grad, n * sizeof(float)), "grad", "overlaps w");
    memset(&a, 0, sizeof a);
    a.n = n;
    a.w = w;
    a.grad_in = grad;
    a.neg_lr = (float)-lr;
    a.threshold = (float)(lr * l1);
    a.denom = (float)(1.0 + shrink);
    if (n) NNOPT__PICK(prox)(&a);
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_prox_elastic_net(float *w, size_t n, double lr, double l1, double l2)
{
    return nnopt_proximal_sgd_step(w, NULL, n, lr, l1, l2);
}

NNOPT_API nnopt_status nnopt_prox_l1(float *w, size_t n, double threshold)
{
    return nnopt_proximal_sgd_step(w, NULL, n, 1.0, threshold, 0.0);
}

NNOPT_API nnopt_status nnopt_max_norm(float *w, size_t rows, size_t cols, double max_norm,
                                      size_t *clipped)
{
    size_t r, count = 0;
    NNOPT__CHECK(nnopt__reg_coef_ok(max_norm), "max_norm", "must be finite and >= 0");
    NNOPT__CHECK(!cols || rows <= (size_t)-1 / sizeof(float) / cols, "rows", "times cols overflows");
    NNOPT__CHECK(nnopt__reg_vec_ok(w, rows * cols), "w", "is NULL or not aligned to float");
    if (rows && cols) {
        void (*sum_squares)(nnopt__reg_args *) = NNOPT__PICK(sum_squares);
        void (*scale)(nnopt__reg_args *) = NNOPT__PICK(reg_scale);
        nnopt__reg_args a;
        memset(&a, 0, sizeof a);
        a.n = cols;
        for (r = 0; r < rows; r++) {
            double norm;
            a.w = w + r * cols;
            sum_squares(&a);
            norm = sqrt(nnopt__reg_lanes(a.sum[0]));
            if (norm > max_norm) {       /* NaN norms compare false: the row is left alone */
                a.scale = (float)(max_norm / (norm + 1e-7));
                scale(&a);
                count++;
            }
        }
    }
    if (clipped) *clipped = count;
    return NNOPT_OK;
}
#endif /* NNOPT_NO_REG */



#ifndef NNOPT_NO_DROPOUT
/* =====================================================================================
   Dropout and DropConnect
   ===================================================================================== */
/* The kernels run single-threaded; a call's bits depend only on (seed, stream, offset + e). */

#define NNOPT__SELU_ALPHA_LAMBDA 1.7580993408473766   /* torch's alpha' = SELU lambda * alpha */
#define NNOPT__DROP_GROUP 256      /* channels (or Gaussian samples) whose numbers are drawn at once */

static int nnopt__drop_p_ok(double p)   /* false for NaN */
{
    return NNOPT__REQUIRE(p >= 0.0 && p <= 1.0, "p", "must lie in [0, 1]");
}

/* a * b without overflow, into *out. */
static int nnopt__drop_mul(size_t a, size_t b, size_t *out)
{
    if (b && a > (size_t)-1 / b) return 0;
    *out = a * b;
    return 1;
}

/* A float buffer of n elements the kernels may use (NULL only when n == 0). */
static int nnopt__drop_vec_ok(const void *p, size_t n)
{
    return nnopt__ptr_ok(p, n) && n <= (size_t)-1 / sizeof(float);
}

/* Byte ranges [a, a + na) and [b, b + nb) share no byte. */
static int nnopt__drop_apart(const void *a, size_t na, const void *b, size_t nb)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return !a || !b || !na || !nb || x + na <= y || y + nb <= x;
}

/* x and y: usable, and either the same buffer (in place) or apart. */
static int nnopt__drop_io_ok(const float *x, const float *y, size_t n)
{
    return NNOPT__REQUIRE(nnopt__drop_vec_ok(x, n), "x", "is NULL or not aligned to float") &&
           NNOPT__REQUIRE(nnopt__drop_vec_ok(y, n), "y", "is NULL or not aligned to float") &&
           NNOPT__REQUIRE(x == y || nnopt__drop_apart(x, n * sizeof(float), y, n * sizeof(float)), "y",
                          "overlaps x without being x");
}

/* The stream holds `count` more numbers from rng->offset. */
static int nnopt__drop_rng_ok(const nnopt_rng *rng, uint64_t count)
{
    return NNOPT__REQUIRE(rng != NULL, "rng", "is NULL") &&
           NNOPT__REQUIRE(nnopt__stream_holds(rng->offset, count), "rng", "the call runs past the end of its stream");
}

static int nnopt__drop_scaling_ok(nnopt_dropout_scaling s)
{
    return NNOPT__REQUIRE(s == NNOPT_DROPOUT_INVERTED || s == NNOPT_DROPOUT_CLASSIC, "scaling",
                          "is not NNOPT_DROPOUT_INVERTED or NNOPT_DROPOUT_CLASSIC");
}

/* The kept factor: 1 / (1 - p) in double, rounded once (0 for p = 1, where nothing is kept). */
static float nnopt__drop_scale(double p, nnopt_dropout_scaling s)
{
    if (s == NNOPT_DROPOUT_CLASSIC) return 1.0f;
    return p < 1.0 ? (float)(1.0 / (1.0 - p)) : 0.0f;
}

static void nnopt__drop_setup(nnopt__dropout_args *a, const nnopt_rng *rng, double p, size_t n)
{
    memset(a, 0, sizeof *a);
    a->n = n;
    if (rng) {
        a->key[0] = (uint32_t)rng->seed;
        a->key[1] = (uint32_t)(rng->seed >> 32);
        a->stream = rng->stream;
        a->offset = rng->offset;
    }
    a->threshold = (uint32_t)ceil(p * 16777216.0);   /* uniform < p  <=>  (word >> 8) < ceil(p 2^24) */
    a->random = a->threshold > 0 && a->threshold < (1u << 24);   /* else every word decides alike */
}

static double nnopt__drop_lanes(const double lane[16])
{
    double l8[8], l4[4];
    int i;
    for (i = 0; i < 8; i++) l8[i] = lane[i] + lane[i + 8];
    for (i = 0; i < 4; i++) l4[i] = l8[i] + l8[i + 4];
    return (l4[0] + l4[2]) + (l4[1] + l4[3]);
}

/* Forward-shaped call: checks, then y = kept ? x * scale (+ bias) : dropped. */
static nnopt_status nnopt__dropout_run(const nnopt_rng *rng, double p, const float *x, float *y,
                                       uint8_t *bits, size_t n, float scale, float bias,
                                       float dropped, int affine)
{
    nnopt__dropout_args a;
    size_t nbytes = n / 8 + (n % 8 != 0);
    if (!nnopt__drop_p_ok(p) || !nnopt__drop_rng_ok(rng, n) || !nnopt__drop_io_ok(x, y, n) ||
        !NNOPT__REQUIRE(nnopt__drop_apart(bits, nbytes, x, n * sizeof(float)) &&
                        nnopt__drop_apart(bits, nbytes, y, n * sizeof(float)), "mask_bits",
                        "overlaps x or y"))
        return NNOPT_ERR_INVALID;
    nnopt__drop_setup(&a, rng, p, n);
    a.x = x; a.y = y; a.bits = bits;
    a.scale = scale; a.bias = bias; a.dropped = dropped; a.affine = affine;
    if (!n) return NNOPT_OK;
#ifdef _OPENMP
    /* Threads take chunks of 64K elements: whole mask bytes, element e still draws word
       offset + e, so the bits are the same for any thread count. */
    if (n > ((size_t)1 << 17) && omp_get_max_threads() > 1) {
        const size_t chunk = (size_t)1 << 16;
        void (*kernel)(nnopt__dropout_args *) = NNOPT__PICK(dropout);
        long c, count = (long)((n + chunk - 1) / chunk);
#  pragma omp parallel for schedule(static)
        for (c = 0; c < count; c++) {
            nnopt__dropout_args part = a;
            size_t at = (size_t)c * chunk;
            part.n = n - at < chunk ? n - at : chunk;
            part.x = x + at; part.y = y + at;
            part.bits = bits ? bits + at / 8 : NULL;
            part.offset = a.offset + at;
            kernel(&part);
        }
        return NNOPT_OK;
    }
#endif
    NNOPT__PICK(dropout)(&a);
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_dropout_forward(const nnopt_rng *rng, double p, nnopt_dropout_scaling scaling,
                                             const float *x, float *y, uint8_t *mask_bits, size_t n)
{
    if (!nnopt__drop_scaling_ok(scaling)) return NNOPT__FAILED(NNOPT_ERR_INVALID);
    return NNOPT__CHECKED(nnopt__dropout_run(rng, p, x, y, mask_bits, n, nnopt__drop_scale(p, scaling), 0.0f, 0.0f, 0));
}

NNOPT_API nnopt_status nnopt_dropout_backward(const nnopt_rng *rng, double p, nnopt_dropout_scaling scaling,
                                              const float *dy, float *dx, size_t n)
{
    if (!nnopt__drop_scaling_ok(scaling)) return NNOPT__FAILED(NNOPT_ERR_INVALID);
    return NNOPT__CHECKED(nnopt__dropout_run(rng, p, dy, dx, NULL, n, nnopt__drop_scale(p, scaling), 0.0f, 0.0f, 0));
}

NNOPT_API nnopt_status nnopt_dropout_backward_mask(const uint8_t *mask_bits, double p,
                                                   nnopt_dropout_scaling scaling,
                                                   const float *dy, float *dx, size_t n)
{
    nnopt__dropout_args a;
    size_t nbytes = n / 8 + (n % 8 != 0);
    if (!nnopt__drop_p_ok(p) || !nnopt__drop_scaling_ok(scaling) || !nnopt__drop_io_ok(dy, dx, n) ||
        !NNOPT__REQUIRE(mask_bits || !n, "mask_bits", "is NULL") ||
        !NNOPT__REQUIRE(nnopt__drop_apart(mask_bits, nbytes, dx, n * sizeof(float)), "mask_bits",
                        "overlaps dx"))
        return NNOPT__FAILED(NNOPT_ERR_INVALID);
    nnopt__drop_setup(&a, NULL, p, n);
    a.x = dy; a.y = dx; a.bits_in = mask_bits;
    a.scale = nnopt__drop_scale(p, scaling);
    if (n) NNOPT__PICK(dropout_bits)(&a);
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_dropout_inference(double p, nnopt_dropout_scaling scaling,
                                               const float *x, float *y, size_t n)
{
    nnopt__dropout_args a;
    if (!nnopt__drop_p_ok(p) || !nnopt__drop_scaling_ok(scaling) || !nnopt__drop_io_ok(x, y, n))
        return NNOPT__FAILED(NNOPT_ERR_INVALID);
    if (scaling == NNOPT_DROPOUT_INVERTED) {
        if (n && x != y) memcpy(y, x, n * sizeof(float));
        return NNOPT_OK;
    }
    nnopt__drop_setup(&a, NULL, p, n);
    a.x = x; a.y = y;
    a.scale = (float)(1.0 - p);
    if (n) NNOPT__PICK(dropout_scale)(&a);
    return NNOPT_OK;
}

/* AlphaDropout's coefficients: kept x * A + B, dropped D. */
static void nnopt__alpha_coefs(double p, float *A, float *B, float *D)
{
    double alpha = NNOPT__SELU_ALPHA_LAMBDA, a;
    if (p >= 1.0) { *A = *B = *D = 0.0f; return; }
    a = alpha * alpha * p;            /* apart from the add: never fused */
    a = 1.0 / sqrt((a + 1.0) * (1.0 - p));
    *A = (float)a;
    *B = (float)(alpha * a * p);
    *D = (float)(-alpha * a * (1.0 - p));
}

NNOPT_API nnopt_status nnopt_alpha_dropout_forward(const nnopt_rng *rng, double p, const float *x,
                                                   float *y, uint8_t *mask_bits, size_t n)
{
    float A = 1.0f, B = 0.0f, D = 0.0f;
    if (nnopt__drop_p_ok(p)) nnopt__alpha_coefs(p, &A, &B, &D);
    return NNOPT__CHECKED(nnopt__dropout_run(rng, p, x, y, mask_bits, n, A, B, D, p > 0.0));
}

NNOPT_API nnopt_status nnopt_alpha_dropout_backward(const nnopt_rng *rng, double p, const float *dy,
                                                    float *dx, size_t n)
{
    float A = 1.0f, B = 0.0f, D = 0.0f;
    if (nnopt__drop_p_ok(p)) nnopt__alpha_coefs(p, &A, &B, &D);
    return NNOPT__CHECKED(nnopt__dropout_run(rng, p, dy, dx, NULL, n, A, 0.0f, 0.0f, 0));
}

NNOPT_API nnopt_status nnopt_dropout_channels(const nnopt_rng *rng, double p, nnopt_dropout_layout layout,
                                              const float *x, float *y, size_t samples,
                                              size_t channels, size_t spatial, uint8_t *channel_bits)
{
    nnopt__dropout_args a;
    size_t units, n, s, c0, c, h;
    float scale = p < 1.0 ? (float)(1.0 / (1.0 - p)) : 0.0f;
    if (!nnopt__drop_p_ok(p) ||
        !NNOPT__REQUIRE(layout == NNOPT_DROPOUT_NCHW || layout == NNOPT_DROPOUT_NHWC, "layout",
                        "is not NNOPT_DROPOUT_NCHW or NNOPT_DROPOUT_NHWC") ||
        !NNOPT__REQUIRE(nnopt__drop_mul(samples, channels, &units) && nnopt__drop_mul(units, spatial, &n),
                        "samples, channels, spatial", "sizes overflow") ||
        !nnopt__drop_rng_ok(rng, units) || !nnopt__drop_io_ok(x, y, n) ||
        !NNOPT__REQUIRE(nnopt__drop_apart(channel_bits, units / 8 + (units % 8 != 0), x, n * sizeof(float)) &&
                        nnopt__drop_apart(channel_bits, units / 8 + (units % 8 != 0), y, n * sizeof(float)),
                        "channel_bits", "overlaps x or y"))
        return NNOPT__FAILED(NNOPT_ERR_INVALID);
    nnopt__drop_setup(&a, rng, p, 0);
    if (channel_bits && units) memset(channel_bits, 0, units / 8 + (units % 8 != 0));
    for (s = 0; s < samples; s++)
        for (c0 = 0; c0 < channels; c0 += NNOPT__DROP_GROUP) {
            size_t count = channels - c0 < NNOPT__DROP_GROUP ? channels - c0 : NNOPT__DROP_GROUP;
            uint32_t words[NNOPT__DROP_GROUP];
            float factor[NNOPT__DROP_GROUP];
            if (a.random) {
                nnopt_rng r = *rng;
                r.offset += s * channels + c0;
                nnopt_random_u32(&r, words, count);
            } else {
                memset(words, 0, sizeof words);
            }
            for (c = 0; c < count; c++) {
                size_t unit = s * channels + c0 + c;
                int kept = (words[c] >> 8) >= a.threshold;
                factor[c] = kept ? scale : 0.0f;
                if (kept && channel_bits) channel_bits[unit / 8] |= (uint8_t)(1u << (unit % 8));
            }
            if (layout == NNOPT_DROPOUT_NCHW) {
                for (c = 0; c < count && spatial; c++) {
                    size_t base = (s * channels + c0 + c) * spatial;
                    if (factor[c] == 0.0f) { memset(y + base, 0, spatial * sizeof(float)); continue; }
                    a.n = spatial; a.x = x + base; a.y = y + base; a.scale = factor[c];
                    NNOPT__PICK(dropout_scale)(&a);
                }
            } else {
                for (h = 0; h < spatial; h++) {
                    size_t base = (s * spatial + h) * channels + c0;
                    a.n = count; a.x = x + base; a.y = y + base; a.factors = factor;
                    NNOPT__PICK(dropout_factors)(&a);
                }
            }
        }
    return NNOPT_OK;
}

/* ---- DropConnect ---- */

/* Shapes and input buffers of a dense layer: no size overflows, W [out][in], x [batch][in],
   b [out] (or NULL) usable. */
static int nnopt__dense_ok(const float *W, const float *b, const float *x, size_t batch,
                           size_t in, size_t out)
{
    size_t wn, xn, yn;
    return NNOPT__REQUIRE(nnopt__drop_mul(out, in, &wn) && nnopt__drop_mul(batch, in, &xn) &&
                          nnopt__drop_mul(batch, out, &yn) && yn <= (size_t)-1 / sizeof(float) &&
                          in < (size_t)-1, "batch, in, out", "sizes overflow") &&
           NNOPT__REQUIRE(nnopt__drop_vec_ok(W, wn), "W", "is NULL or not aligned to float") &&
           NNOPT__REQUIRE(nnopt__drop_vec_ok(x, xn), "x", "is NULL or not aligned to float") &&
           NNOPT__REQUIRE(nnopt__drop_vec_ok(b, b ? out : 0), "b", "is not aligned to float");
}

/* Output buffer o of count floats lies apart from the inputs. */
static int nnopt__dense_out_ok(const float *o, size_t count, const float *W, const float *b,
                               const float *x, const float *dy, size_t batch, size_t in, size_t out)
{
    size_t bytes = count * sizeof(float);
    return NNOPT__REQUIRE(nnopt__drop_vec_ok(o, o ? count : 0), "output", "is not aligned to float") &&
           NNOPT__REQUIRE(nnopt__drop_apart(o, bytes, W, out * in * sizeof(float)) &&
                          nnopt__drop_apart(o, bytes, b, b ? out * sizeof(float) : 0) &&
                          nnopt__drop_apart(o, bytes, x, batch * in * sizeof(float)) &&
                          nnopt__drop_apart(o, bytes, dy, dy ? batch * out * sizeof(float) : 0), "output",
                          "overlaps an input");
}

/* The Bernoullis a training call reads, (per_sample ? batch : 1) * out * (in + 1), fit the stream. */
static int nnopt__dropconnect_rng_ok(const nnopt_rng *rng, int per_sample, size_t batch, size_t in,
                                     size_t out)
{
    size_t row, all;
    return NNOPT__REQUIRE(nnopt__drop_mul(out, in + 1, &row) &&
                          nnopt__drop_mul(per_sample ? batch : 1, row, &all), "batch, in, out",
                          "the mask's draws overflow") &&
           nnopt__drop_rng_ok(rng, all);
}

static void nnopt__dropconnect_setup(nnopt__dropconnect_args *d, const nnopt_rng *rng, double p,
                                     int per_sample, size_t s, size_t o, size_t in, size_t out)
{
    nnopt__dropout_args a;
    nnopt__drop_setup(&a, rng, p, 0);
    memset(d, 0, sizeof *d);
    d->in = in;
    d->key[0] = a.key[0]; d->key[1] = a.key[1];
    d->stream = a.stream;
    d->threshold = a.threshold;
    d->random = a.random;
    if (rng) d->offset = rng->offset + ((per_sample ? s : 0) * out + o) * (in + 1);
}

NNOPT_API nnopt_status nnopt_dropconnect_forward(const nnopt_rng *rng, double p, int per_sample,
                                                 const float *W, const float *b, const float *x,
                                                 float *y, size_t batch, size_t in, size_t out)
{
    size_t s, o;
    if (!nnopt__drop_p_ok(p) || !nnopt__dense_ok(W, b, x, batch, in, out) ||
        !nnopt__dropconnect_rng_ok(rng, per_sample, batch, in, out) ||
        !nnopt__dense_out_ok(y, batch * out, W, b, x, NULL, batch, in, out) ||
        !NNOPT__REQUIRE(y || batch == 0 || out == 0, "y", "is NULL"))
        return NNOPT__FAILED(NNOPT_ERR_INVALID);
    for (s = 0; s < batch; s++)
        for (o = 0; o < out; o++) {
            nnopt__dropconnect_args d;
            double dot;
            nnopt__dropconnect_setup(&d, rng, p, per_sample, s, o, in, out);
            d.w = W + o * in;
            d.x = x + s * in;
            NNOPT__PICK(dropconnect_row)(&d);
            dot = nnopt__drop_lanes(d.sum[0]);
            if (b && d.bias_kept) dot += (double)b[o];
            y[s * out + o] = (float)dot;
        }
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_dropconnect_backward(const nnopt_rng *rng, double p, int per_sample,
                                                  const float *W, const float *x, const float *dy,
                                                  float *dW, float *dx, float *db,
                                                  size_t batch, size_t in, size_t out)
{
    size_t s, o;
    const size_t dW_bytes = dW ? out * in * sizeof(float) : 0;
    const size_t dx_bytes = dx ? batch * in * sizeof(float) : 0, db_bytes = db ? out * sizeof(float) : 0;
    if (!nnopt__drop_p_ok(p) || !nnopt__dense_ok(W, NULL, x, batch, in, out) ||
        !nnopt__dropconnect_rng_ok(rng, per_sample, batch, in, out) ||
        !NNOPT__REQUIRE(nnopt__drop_vec_ok(dy, batch * out), "dy", "is NULL or not aligned to float") ||
        !nnopt__dense_out_ok(dW, out * in, W, NULL, x, dy, batch, in, out) ||
        !nnopt__dense_out_ok(dx, batch * in, W, NULL, x, dy, batch, in, out) ||
        !nnopt__dense_out_ok(db, out, W, NULL, x, dy, batch, in, out) ||
        !NNOPT__REQUIRE(nnopt__drop_apart(dW, dW_bytes, dx, dx_bytes) &&
                        nnopt__drop_apart(dW, dW_bytes, db, db_bytes) &&
                        nnopt__drop_apart(dx, dx_bytes, db, db_bytes), "dW, dx, db", "overlap one another"))
        return NNOPT__FAILED(NNOPT_ERR_INVALID);
    if (dW && out != 0 && in != 0) memset(dW, 0, out * in * sizeof(float));
    if (dx && batch != 0 && in != 0) memset(dx, 0, batch * in * sizeof(float));
    if (db && out) memset(db, 0, out * sizeof(float));
    if (!dW && !dx && !db) return NNOPT_OK;
    for (s = 0; s < batch; s++)
        for (o = 0; o < out; o++) {
            nnopt__dropconnect_args d;
            nnopt__dropconnect_setup(&d, rng, p, per_sample, s, o, in, out);
            d.w = W + o * in;
            d.x = x + s * in;
            d.dy = dy[s * out + o];
            d.dw = dW ? dW + o * in : NULL;
            d.dx = dx ? dx + s * in : NULL;
            NNOPT__PICK(dropconnect_row)(&d);
            if (db && d.bias_kept) db[o] += d.dy;
        }
    return NNOPT_OK;
}

static double nnopt__activate(nnopt_dropconnect_activation act, double u)
{
    switch (act) {
    case NNOPT_DROPCONNECT_RELU:    return u > 0.0 || u != u ? u : 0.0;   /* NaN stays NaN, as torch.relu */
    case NNOPT_DROPCONNECT_TANH:    return tanh(u);
    case NNOPT_DROPCONNECT_SIGMOID: return 1.0 / (1.0 + exp(-u));
    case NNOPT_DROPCONNECT_IDENTITY: break;
    }
    return u;
}

/* Both inference rules: samples == 0 is the mean rule, otherwise the Gaussian one. */
static nnopt_status nnopt__dropconnect_infer(const nnopt_rng *rng, double p,
                                             nnopt_dropconnect_activation act, size_t samples,
                                             const float *W, const float *b, const float *x,
                                             float *y, size_t batch, size_t in, size_t out)
{
    double q = 1.0 - p;
    size_t s, o, units;
    if (!nnopt__drop_p_ok(p) ||
        !NNOPT__REQUIRE((int)act >= 0 && act <= NNOPT_DROPCONNECT_SIGMOID, "act",
                        "is not a nnopt_dropconnect_activation") ||
        !nnopt__dense_ok(W, b, x, batch, in, out) ||
        !NNOPT__REQUIRE(nnopt__drop_mul(batch, out, &units), "batch, out", "sizes overflow") ||
        !nnopt__dense_out_ok(y, units, W, b, x, NULL, batch, in, out) ||
        !NNOPT__REQUIRE(y || !units, "y", "is NULL"))
        return NNOPT_ERR_INVALID;
    if (samples) {
        size_t all;
        if (!NNOPT__REQUIRE(nnopt__drop_mul(units, samples, &all), "samples",
                            "times batch * out overflows") ||
            !nnopt__drop_rng_ok(rng, all))
            return NNOPT_ERR_INVALID;
    }
    for (s = 0; s < batch; s++)
        for (o = 0; o < out; o++) {
            nnopt__dropconnect_args d;
            double bias = b ? (double)b[o] : 0.0, mu, sd, acc = 0.0;
            size_t k0, k;
            nnopt__dropconnect_setup(&d, NULL, 0.0, 0, 0, 0, in, out);   /* no mask */
            d.w = W + o * in;
            d.x = x + s * in;
            NNOPT__PICK(dropconnect_row)(&d);
            mu = q * (nnopt__drop_lanes(d.sum[0]) + bias);
            if (!samples) { y[s * out + o] = (float)nnopt__activate(act, mu); continue; }
            sd = bias * bias;        /* products in their own statements: never fused */
            sd = sqrt(q * p * (nnopt__drop_lanes(d.sum[1]) + sd));
            for (k0 = 0; k0 < samples; k0 += NNOPT__DROP_GROUP) {
                size_t count = samples - k0 < NNOPT__DROP_GROUP ? samples - k0 : NNOPT__DROP_GROUP;
                float z[NNOPT__DROP_GROUP];
                nnopt_rng r = *rng;
                r.offset += (s * out + o) * samples + k0;
                nnopt_random_normal(&r, z, count, 0.0f, 1.0f);
                for (k = 0; k < count; k++) {
                    double spread = sd * (double)z[k];
                    acc += nnopt__activate(act, mu + spread);
                }
            }
            y[s * out + o] = (float)(acc / (double)samples);
        }
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_dropconnect_inference_mean(double p, nnopt_dropconnect_activation act,
                                                        const float *W, const float *b,
                                                        const float *x, float *y,
                                                        size_t batch, size_t in, size_t out)
{
    return NNOPT__CHECKED(nnopt__dropconnect_infer(NULL, p, act, 0, W, b, x, y, batch, in, out));
}

NNOPT_API nnopt_status nnopt_dropconnect_inference_gaussian(const nnopt_rng *rng, double p,
                                                            nnopt_dropconnect_activation act, size_t samples,
                                                            const float *W, const float *b,
                                                            const float *x, float *y,
                                                            size_t batch, size_t in, size_t out)
{
    if (!samples) return NNOPT__FAIL(NNOPT_ERR_INVALID, "samples", "is 0");
    return NNOPT__CHECKED(nnopt__dropconnect_infer(rng, p, act, samples, W, b, x, y, batch, in, out));
}
#endif /* NNOPT_NO_DROPOUT */



#ifndef NNOPT_NO_BATCHNORM
/* =====================================================================================
   Batch normalization
   ===================================================================================== */
/* How a call runs: channels go in groups (one channel in NCHW; a strip of up to
   NNOPT__BN_STRIP channels in NHWC and NC). For each group: the per-channel sums (double, one
   fixed order: see bn_plane_sums and bn_row_sums), then the per-channel coefficients
   (computed in double, rounded once to float), then one elementwise pass. In NCHW a channel's
   planes are summed and then normalized while they are still in cache. Threads (OpenMP) take
   whole channels (NCHW), column pieces of a strip for the sums (NHWC; each channel still
   sums its rows in order) or row blocks for the elementwise pass, so the bits never depend
   on the thread count. */
#ifdef _OPENMP
#  include <omp.h>
#endif
#define NNOPT__BN_STRIP 512          /* NHWC channels per group: the accumulators sit on the stack */
#define NNOPT__BN_PIECE 64           /* NHWC channels per thread's share of a strip's sums */
#define NNOPT__BN_PARALLEL 65536     /* elements from which a pass is worth splitting */

/* The coefficients of a group of channels, one float per channel in each named array. */
typedef struct nnopt__bn_coef_arrays {
#define NNOPT__BN_ARRAY_FIELD(field) float field[NNOPT__BN_STRIP];
    NNOPT__BN_FIELDS(NNOPT__BN_ARRAY_FIELD)
#undef NNOPT__BN_ARRAY_FIELD
} nnopt__bn_coef_arrays;

/* Points the fields in `fields` at their arrays. */
static void nnopt__bn_point(nnopt__bn_coefs *c, const nnopt__bn_coef_arrays *a, unsigned fields)
{
#define NNOPT__BN_POINT_FIELD(field) if (fields & NNOPT__BN_COEF(field)) c->field = a->field;
    NNOPT__BN_FIELDS(NNOPT__BN_POINT_FIELD)
#undef NNOPT__BN_POINT_FIELD
}

/* What a group writes before the sums (besides the centre: the channel's first x or the given
   mean): in a backward with the fused ReLU, the forward's scale and shift. Then what the
   coefficient functions below write. */
enum {
    NNOPT__BN_WRITES_RELU_MASK = NNOPT__BN_COEF(scale) | NNOPT__BN_COEF(shift),
    NNOPT__BN_WRITES_FORWARD   = NNOPT__BN_COEF(centre) | NNOPT__BN_COEF(scale) | NNOPT__BN_COEF(shift),
    NNOPT__BN_WRITES_BACKWARD  = NNOPT__BN_COEF(centre) | NNOPT__BN_COEF(dy_scale) |
                                 NNOPT__BN_COEF(xc_scale) | NNOPT__BN_COEF(dx_shift)
};
/* Each pass reads only what was written for it: the sums what exists before the
   coefficients, each elementwise pass what its coefficient function wrote (and the ReLU
   mask's). */
typedef char nnopt__bn_check_sums[(NNOPT__BN_READS_SUMS & ~NNOPT__BN_COEF(centre)) == 0 &&
                                  (NNOPT__BN_READS_RELU_MASK & ~(NNOPT__BN_COEF(centre) |
                                   (unsigned)NNOPT__BN_WRITES_RELU_MASK)) == 0 ? 1 : -1];
typedef char nnopt__bn_check_forward[(NNOPT__BN_READS_FORWARD & ~(unsigned)NNOPT__BN_WRITES_FORWARD) == 0 ? 1 : -1];
typedef char nnopt__bn_check_backward[((NNOPT__BN_READS_BACKWARD | NNOPT__BN_READS_BACKWARD_INFER) &
                                       ~(unsigned)(NNOPT__BN_WRITES_BACKWARD | NNOPT__BN_WRITES_RELU_MASK)) == 0
                                      ? 1 : -1];

typedef struct nnopt__bn_call nnopt__bn_call;
/* Coefficients of channels [c, c+w) from their sums (centre: the values the sums were taken
   around) into the fields of `writes`; also writes the per-channel outputs of the call. */
typedef void (*nnopt__bn_coef_fn)(const nnopt__bn_call *k, size_t c, size_t w,
                                  const float *centre, const double *s0, const double *s1,
                                  nnopt__bn_coef_arrays *out);
struct nnopt__bn_call {
    const nnopt_bn_params *p;
    nnopt__bn_tile tile;             /* x, dy, out, relu, centered for the whole tensor */
    const float *centre;             /* per-channel centre of the sums; NULL: the channel's first x */
    int sums;                        /* the per-channel sums are needed */
    nnopt__bn_coef_fn coefficients;
    unsigned writes;                 /* the fields `coefficients` writes */
    const float *gamma, *beta;       /* NULL when not affine */
    const float *mean, *scale;       /* saved mean and invstd, or running mean and var */
    float *running_mean, *running_var, *save_mean, *save_invstd, *dgamma, *dbeta;
    double factor;                   /* running-statistics momentum of this call */
};

NNOPT_API nnopt_bn_params nnopt_bn_defaults(nnopt_bn_layout layout, size_t n, size_t c, size_t hw)
{
    nnopt_bn_params p;
    memset(&p, 0, sizeof p);
    p.layout = layout; p.n = n; p.c = c; p.hw = hw;
    p.eps = 1e-5; p.momentum = 0.1;
    p.track_running_stats = 1; p.affine = 1;
    return p;
}

static int nnopt__bn_params_ok(const nnopt_bn_params *p)
{
    return NNOPT__REQUIRE(p != NULL, "p", "is NULL") &&
           NNOPT__REQUIRE(p->layout == NNOPT_BN_NC || p->layout == NNOPT_BN_NCHW || p->layout == NNOPT_BN_NHWC,
                          "layout", "is not NNOPT_BN_NC, NNOPT_BN_NCHW or NNOPT_BN_NHWC") &&
           NNOPT__REQUIRE(p->n && p->c && p->hw, "n, c, hw", "must be > 0") &&
           NNOPT__REQUIRE(p->layout != NNOPT_BN_NC || p->hw == 1, "hw", "must be 1 in the NNOPT_BN_NC layout") &&
           NNOPT__REQUIRE(p->n <= SIZE_MAX / p->c && p->n * p->c <= SIZE_MAX / sizeof(float) / p->hw, "n, c, hw",
                          "give a tensor larger than size_t holds") &&
           NNOPT__REQUIRE(nnopt__finite(p->eps) && p->eps > 0, "eps", "must be finite and > 0") &&
           NNOPT__REQUIRE(nnopt__finite(p->momentum) && p->momentum >= 0 && p->momentum <= 1, "momentum",
                          "must lie in [0, 1]");
}

/* A buffer of a call: optional ones may be NULL; a written tensor may be exactly one of the
   input tensors (in place) but must not otherwise overlap anything. name and overlaps: the
   argument's name and "overlaps <name>", string literals for the error detail. */
typedef struct nnopt__bn_buf {
    const char *name, *overlaps;
    const void *ptr;
    size_t floats;
    int required, written, tensor;
} nnopt__bn_buf;
enum { NNOPT__BN_REQUIRED = 1, NNOPT__BN_WRITTEN = 2, NNOPT__BN_TENSOR = 4 };

static void nnopt__bn_buf_set(nnopt__bn_buf *b, const char *name, const char *overlaps, const void *ptr,
                              size_t floats, unsigned flags)
{
    b->name = name; b->overlaps = overlaps;
    b->ptr = ptr; b->floats = floats;
    b->required = (flags & NNOPT__BN_REQUIRED) != 0;
    b->written = (flags & NNOPT__BN_WRITTEN) != 0;
    b->tensor = (flags & NNOPT__BN_TENSOR) != 0;
}
/* NNOPT__BN_BUF(b[i], gamma, pointer, floats, flags): the buffer of argument `gamma`. */
#define NNOPT__BN_BUF(slot, arg, ptr, floats, flags) \
    nnopt__bn_buf_set(&(slot), #arg, "overlaps " #arg, (ptr), (floats), (flags))

static int nnopt__bn_buffers_ok(const nnopt__bn_buf *b, int count)
{
    int i, j;
    for (i = 0; i < count; i++)
        if (!NNOPT__REQUIRE(b[i].ptr || !b[i].required, b[i].name, "is NULL") ||
            !NNOPT__REQUIRE(!b[i].ptr || nnopt__ptr_ok(b[i].ptr, b[i].floats), b[i].name, "is not aligned to float"))
            return 0;
    for (i = 0; i < count; i++) {
        uintptr_t lo = (uintptr_t)b[i].ptr, hi = lo + b[i].floats * sizeof(float);
        if (!b[i].written || !b[i].ptr) continue;
        for (j = 0; j < count; j++) {
            uintptr_t lo2 = (uintptr_t)b[j].ptr, hi2 = lo2 + b[j].floats * sizeof(float);
            if (j == i || !b[j].ptr || hi2 <= lo || hi <= lo2) continue;
            if (!(b[i].tensor && b[j].tensor && !b[j].written && lo == lo2))
                return nnopt__reject(b[i].name, b[j].overlaps);
        }
    }
    return 1;
}

static double nnopt__bn_lanes_sum(const double lane[16])
{
    double l8[8], l4[4];
    int i;
    for (i = 0; i < 8; i++) l8[i] = lane[i] + lane[i + 8];
    for (i = 0; i < 4; i++) l4[i] = l8[i] + l8[i + 4];
    return (l4[0] + l4[2]) + (l4[1] + l4[3]);
}

static double nnopt__bn_gamma(const nnopt__bn_call *k, size_t ch) { return k->gamma ? (double)k->gamma[ch] : 1.0; }
static double nnopt__bn_beta(const nnopt__bn_call *k, size_t ch) { return k->beta ? (double)k->beta[ch] : 0.0; }

/* The forward's per-channel scale gamma * invstd, from the float invstd saved in training (so
   the backward can recompute it bit for bit) or from the running variance in inference. */
static float nnopt__bn_scale_of(const nnopt__bn_call *k, size_t ch, int training, double stat)
{
    double invstd = training ? (double)(float)stat : 1.0 / sqrt(stat + k->p->eps);
    return (float)(nnopt__bn_gamma(k, ch) * invstd);
}

/* The forward's scale in a backward call (scale[]: saved invstd or running variance). */
static float nnopt__bn_scale(const nnopt__bn_call *k, size_t ch)
{
    return nnopt__bn_scale_of(k, ch, k->tile.centered, (double)k->scale[ch]);
}

/* Whether a pass over `elements` is split among threads. */
static int nnopt__bn_split(size_t elements, long parts)
{
#ifdef _OPENMP
    return parts > 1 && elements >= NNOPT__BN_PARALLEL && omp_get_max_threads() > 1;
#else
    (void)elements; (void)parts;
    return 0;
#endif
}

/* NHWC sums of a strip: one sweep over its rows, or column pieces for threads. */
static void nnopt__bn_strip_sums(const nnopt__bn_tile *t, double *s0, double *s1)
{
    long piece, pieces = (long)((t->width + NNOPT__BN_PIECE - 1) / NNOPT__BN_PIECE);
    memset(s0, 0, t->width * sizeof(double));
    memset(s1, 0, t->width * sizeof(double));
    if (!nnopt__bn_split(t->rows * t->width, pieces)) {
        NNOPT__PICK(bn_row_sums)(t, s0, s1);
        return;
    }
#ifdef _OPENMP
#  pragma omp parallel for schedule(static)
#endif
    for (piece = 0; piece < pieces; piece++) {
        size_t at = (size_t)piece * NNOPT__BN_PIECE;
        nnopt__bn_tile part = *t;
        part.x += at;
        if (part.dy) part.dy += at;
#define NNOPT__BN_SHIFT_FIELD(field) if (part.coef.field) part.coef.field += at;
        NNOPT__BN_FIELDS(NNOPT__BN_SHIFT_FIELD)
#undef NNOPT__BN_SHIFT_FIELD
        part.width = t->width - at < NNOPT__BN_PIECE ? t->width - at : NNOPT__BN_PIECE;
        NNOPT__PICK(bn_row_sums)(&part, s0 + at, s1 + at);
    }
}

/* Elementwise pass, in row blocks for threads. */
static void nnopt__bn_strip_apply(const nnopt__bn_tile *t)
{
    size_t block = NNOPT__BN_PARALLEL / 4 / t->width + 1;
    long b, blocks = (long)((t->rows + block - 1) / block);
#ifdef _OPENMP
#  pragma omp parallel for schedule(static) if (nnopt__bn_split(t->rows * t->width, blocks))
#endif
    for (b = 0; b < blocks; b++) {
        nnopt__bn_tile part = *t;
        size_t first = (size_t)b * block, at = first * t->stride;
        part.rows = t->rows - first < block ? t->rows - first : block;
        part.x += at; part.out += at;
        if (part.dy) part.dy += at;
        NNOPT__PICK(bn_apply)(&part);
    }
}

/* Channels [c, c+w): sums, coefficients, elementwise pass. */
static void nnopt__bn_group(const nnopt__bn_call *k, size_t c, size_t w)
{
    const nnopt_bn_params *p = k->p;
    const int planar = p->layout == NNOPT_BN_NCHW && p->hw > 1;
    double s0[NNOPT__BN_STRIP], s1[NNOPT__BN_STRIP];
    nnopt__bn_coef_arrays coef;
    nnopt__bn_tile t = k->tile;
    size_t offset = planar ? c * p->hw : c;
    t.rows = planar ? p->n : p->n * p->hw;
    t.width = planar ? p->hw : w;
    t.stride = planar ? p->c * p->hw : p->c;
    t.per_column = !planar;
    t.x += offset; t.out += offset;
    if (t.dy) t.dy += offset;
    t.coef.centre = k->centre ? k->centre + c : t.x;
    if (t.dy && t.relu) {   /* the forward's scale and shift, to recompute its ReLU mask */
        size_t j;
        for (j = 0; j < w; j++) {
            coef.scale[j] = nnopt__bn_scale(k, c + j);
            coef.shift[j] = (float)nnopt__bn_beta(k, c + j);
        }
        nnopt__bn_point(&t.coef, &coef, NNOPT__BN_WRITES_RELU_MASK);
    }
    if (k->sums) {
        if (planar) {
            double lanes[2][16];
            NNOPT__PICK(bn_plane_sums)(&t, lanes);
            s0[0] = nnopt__bn_lanes_sum(lanes[0]);
            s1[0] = nnopt__bn_lanes_sum(lanes[1]);
        } else {
            nnopt__bn_strip_sums(&t, s0, s1);
        }
    } else {
        memset(s0, 0, w * sizeof(double));
        memset(s1, 0, w * sizeof(double));
    }
    k->coefficients(k, c, w, t.coef.centre, s0, s1, &coef);
    nnopt__bn_point(&t.coef, &coef, k->writes);
    t.prefetch = planar && c + 1 < p->c ? p->hw : 0;
    if (planar) NNOPT__PICK(bn_apply)(&t);
    else nnopt__bn_strip_apply(&t);
}

static void nnopt__bn_run(const nnopt__bn_call *k)
{
    const nnopt_bn_params *p = k->p;
    if (p->layout == NNOPT_BN_NCHW && p->hw > 1) {
        long c;
#ifdef _OPENMP
#  pragma omp parallel for schedule(static) if (nnopt__bn_split(p->n * p->c * p->hw, (long)p->c))
#endif
        for (c = 0; c < (long)p->c; c++) nnopt__bn_group(k, (size_t)c, 1);
    } else {
        size_t c;
        for (c = 0; c < p->c; c += NNOPT__BN_STRIP)
            nnopt__bn_group(k, c, p->c - c < NNOPT__BN_STRIP ? p->c - c : NNOPT__BN_STRIP);
    }
}

/* Training forward: mean = K + s0/M, squared deviations = s1 - s0^2/M (sums taken around the
   channel's first value K, so a large mean cancels exactly before anything is squared). */
static void nnopt__bn_coef_train(const nnopt__bn_call *k, size_t c, size_t w, const float *centre,
                                 const double *s0, const double *s1, nnopt__bn_coef_arrays *out)
{
    const double m = (double)k->p->n * (double)k->p->hw, f = k->factor;
    size_t j;
    for (j = 0; j < w; j++) {
        size_t ch = c + j;
        double mean = (double)centre[j] + s0[j] / m, dev = s1[j] - s0[j] * (s0[j] / m), invstd;
        if (dev < 0) dev = 0;
        invstd = 1.0 / sqrt(dev / m + k->p->eps);
        if (k->save_mean) k->save_mean[ch] = (float)mean;
        if (k->save_invstd) k->save_invstd[ch] = (float)invstd;
        if (k->running_mean) {
            k->running_mean[ch] = (float)(f * mean + (1.0 - f) * (double)k->running_mean[ch]);
            k->running_var[ch] = (float)(f * (dev / (m - 1.0)) + (1.0 - f) * (double)k->running_var[ch]);
        }
        out->centre[j] = (float)mean;
        out->scale[j] = nnopt__bn_scale_of(k, ch, 1, invstd);
        out->shift[j] = (float)nnopt__bn_beta(k, ch);
    }
}

static void nnopt__bn_coef_infer(const nnopt__bn_call *k, size_t c, size_t w, const float *centre,
                                 const double *s0, const double *s1, nnopt__bn_coef_arrays *out)
{
    size_t j;
    (void)centre; (void)s0; (void)s1;
    for (j = 0; j < w; j++) {
        size_t ch = c + j;
        out->centre[j] = k->mean[ch];
        out->scale[j] = nnopt__bn_scale_of(k, ch, 0, (double)k->scale[ch]);
        out->shift[j] = (float)nnopt__bn_beta(k, ch);
    }
}

/* Backward. s0 = sum g, s1 = sum (x - mean) g. Training: with B = gamma invstd,
   dx = B g - B s0/M - B invstd^2 s1/M (x - mean); inference: dx = B g. */
static void nnopt__bn_coef_backward(const nnopt__bn_call *k, size_t c, size_t w, const float *centre,
                                    const double *s0, const double *s1, nnopt__bn_coef_arrays *out)
{
    const double m = (double)k->p->n * (double)k->p->hw;
    const int training = k->tile.centered;
    size_t j;
    (void)centre;
    for (j = 0; j < w; j++) {
        size_t ch = c + j;
        double invstd = training ? (double)k->scale[ch] : 1.0 / sqrt((double)k->scale[ch] + k->p->eps);
        double b = nnopt__bn_gamma(k, ch) * invstd;
        if (k->sums) {
            if (k->dgamma) k->dgamma[ch] = (float)(s1[j] * invstd);
            if (k->dbeta) k->dbeta[ch] = (float)s0[j];
        }
        out->centre[j] = k->mean[ch];
        out->xc_scale[j] = training ? (float)(-b * (s1[j] * invstd * invstd / m)) : 0.0f;
        out->dy_scale[j] = (float)b;
        out->dx_shift[j] = training ? (float)(-b * (s0[j] / m)) : 0.0f;
    }
}

NNOPT_API nnopt_status nnopt_bn_forward_train(const nnopt_bn_params *p, const float *x, float *y,
                                              const float *gamma, const float *beta,
                                              float *running_mean, float *running_var,
                                              uint64_t *num_batches_tracked,
                                              float *save_mean, float *save_invstd)
{
    nnopt__bn_call k;
    size_t total, c;
    int track;
    if (!nnopt__bn_params_ok(p)) return NNOPT__FAILED(NNOPT_ERR_INVALID);
    NNOPT__CHECK(p->n * p->hw >= 2, "n, hw", "n * hw must be > 1 in training");
    total = p->n * p->c * p->hw; c = p->c; track = p->track_running_stats != 0;
    NNOPT__CHECK(!track || !p->cumulative_average || num_batches_tracked, "num_batches_tracked",
                 "is NULL (cumulative_average needs it)");
    {
        const unsigned affine = p->affine ? NNOPT__BN_REQUIRED : 0, tracked = track ? NNOPT__BN_REQUIRED : 0;
        nnopt__bn_buf b[8];
        NNOPT__BN_BUF(b[0], x, x, total, NNOPT__BN_REQUIRED | NNOPT__BN_TENSOR);
        NNOPT__BN_BUF(b[1], y, y, total, NNOPT__BN_REQUIRED | NNOPT__BN_WRITTEN | NNOPT__BN_TENSOR);
        NNOPT__BN_BUF(b[2], gamma, p->affine ? gamma : NULL, c, affine);
        NNOPT__BN_BUF(b[3], beta, p->affine ? beta : NULL, c, affine);
        NNOPT__BN_BUF(b[4], running_mean, track ? running_mean : NULL, c, tracked | NNOPT__BN_WRITTEN);
        NNOPT__BN_BUF(b[5], running_var, track ? running_var : NULL, c, tracked | NNOPT__BN_WRITTEN);
        NNOPT__BN_BUF(b[6], save_mean, save_mean, c, NNOPT__BN_WRITTEN);
        NNOPT__BN_BUF(b[7], save_invstd, save_invstd, c, NNOPT__BN_WRITTEN);
        if (!nnopt__bn_buffers_ok(b, 8)) return NNOPT__FAILED(NNOPT_ERR_INVALID);
    }
    NNOPT__CHECK(!track || !num_batches_tracked || *num_batches_tracked != UINT64_MAX, "num_batches_tracked",
                 "is UINT64_MAX and cannot count another batch");
    memset(&k, 0, sizeof k);
    k.p = p;
    k.tile.x = x; k.tile.out = y; k.tile.relu = p->fuse_relu != 0;
    k.sums = 1;
    k.coefficients = nnopt__bn_coef_train;
    k.writes = NNOPT__BN_WRITES_FORWARD;
    if (p->affine) { k.gamma = gamma; k.beta = beta; }
    k.save_mean = save_mean; k.save_invstd = save_invstd;
    if (track) {
        k.running_mean = running_mean; k.running_var = running_var;
        if (num_batches_tracked) ++*num_batches_tracked;
        k.factor = p->cumulative_average ? 1.0 / (double)*num_batches_tracked : p->momentum;
    }
    nnopt__bn_run(&k);
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_bn_forward_infer(const nnopt_bn_params *p, const float *x, float *y,
                                              const float *gamma, const float *beta,
                                              const float *running_mean,
                                              const float *running_var)
{
    nnopt__bn_call k;
    size_t total, c;
    if (!nnopt__bn_params_ok(p)) return NNOPT__FAILED(NNOPT_ERR_INVALID);
    total = p->n * p->c * p->hw; c = p->c;
    {
        const unsigned affine = p->affine ? NNOPT__BN_REQUIRED : 0;
        nnopt__bn_buf b[6];
        NNOPT__BN_BUF(b[0], x, x, total, NNOPT__BN_REQUIRED | NNOPT__BN_TENSOR);
        NNOPT__BN_BUF(b[1], y, y, total, NNOPT__BN_REQUIRED | NNOPT__BN_WRITTEN | NNOPT__BN_TENSOR);
        NNOPT__BN_BUF(b[2], gamma, p->affine ? gamma : NULL, c, affine);
        NNOPT__BN_BUF(b[3], beta, p->affine ? beta : NULL, c, affine);
        NNOPT__BN_BUF(b[4], running_mean, running_mean, c, NNOPT__BN_REQUIRED);
        NNOPT__BN_BUF(b[5], running_var, running_var, c, NNOPT__BN_REQUIRED);
        if (!nnopt__bn_buffers_ok(b, 6)) return NNOPT__FAILED(NNOPT_ERR_INVALID);
    }
    memset(&k, 0, sizeof k);
    k.p = p;
    k.tile.x = x; k.tile.out = y; k.tile.relu = p->fuse_relu != 0;
    k.coefficients = nnopt__bn_coef_infer;
    k.writes = NNOPT__BN_WRITES_FORWARD;
    if (p->affine) { k.gamma = gamma; k.beta = beta; }
    k.mean = running_mean; k.scale = running_var;
    nnopt__bn_run(&k);
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_bn_fold(size_t c, double eps, const float *gamma, const float *beta,
                                     const float *running_mean, const float *running_var,
                                     float *scale, float *shift)
{
    size_t i;
    nnopt__bn_buf b[6];
    NNOPT__CHECK(c, "c", "is 0");
    NNOPT__CHECK(c <= SIZE_MAX / sizeof(float), "c", "is larger than size_t holds");
    NNOPT__CHECK(nnopt__finite(eps) && eps > 0, "eps", "must be finite and > 0");
    NNOPT__CHECK((!gamma) == (!beta), "gamma, beta", "must both be NULL or both be given");
    NNOPT__BN_BUF(b[0], gamma, gamma, c, 0);
    NNOPT__BN_BUF(b[1], beta, beta, c, 0);
    NNOPT__BN_BUF(b[2], running_mean, running_mean, c, NNOPT__BN_REQUIRED);
    NNOPT__BN_BUF(b[3], running_var, running_var, c, NNOPT__BN_REQUIRED);
    NNOPT__BN_BUF(b[4], scale, scale, c, NNOPT__BN_REQUIRED | NNOPT__BN_WRITTEN);
    NNOPT__BN_BUF(b[5], shift, shift, c, NNOPT__BN_REQUIRED | NNOPT__BN_WRITTEN);
    if (!nnopt__bn_buffers_ok(b, 6)) return NNOPT__FAILED(NNOPT_ERR_INVALID);
    for (i = 0; i < c; i++) {
        double s = (gamma ? (double)gamma[i] : 1.0) / sqrt((double)running_var[i] + eps);
        scale[i] = (float)s;
        shift[i] = (float)((beta ? (double)beta[i] : 0.0) - (double)running_mean[i] * s);
    }
    return NNOPT_OK;
}

static nnopt_status nnopt__bn_backward(const nnopt_bn_params *p, int training, const float *x,
                                       const float *dy, const float *gamma, const float *beta,
                                       const float *mean, const float *scale,
                                       float *dx, float *dgamma, float *dbeta)
{
    nnopt__bn_call k;
    size_t total, c;
    if (!nnopt__bn_params_ok(p) ||
        !NNOPT__REQUIRE(!training || p->n * p->hw >= 2, "n, hw", "n * hw must be > 1 in training"))
        return NNOPT_ERR_INVALID;
    total = p->n * p->c * p->hw; c = p->c;
    if (!p->affine) dgamma = dbeta = NULL;
    {
        const int beta_needed = p->affine && p->fuse_relu;
        nnopt__bn_buf b[9];
        NNOPT__BN_BUF(b[0], x, x, total, NNOPT__BN_REQUIRED | NNOPT__BN_TENSOR);
        NNOPT__BN_BUF(b[1], dy, dy, total, NNOPT__BN_REQUIRED | NNOPT__BN_TENSOR);
        NNOPT__BN_BUF(b[2], beta, beta_needed ? beta : NULL, c, beta_needed ? NNOPT__BN_REQUIRED : 0);
        NNOPT__BN_BUF(b[3], dx, dx, total, NNOPT__BN_REQUIRED | NNOPT__BN_WRITTEN | NNOPT__BN_TENSOR);
        NNOPT__BN_BUF(b[4], gamma, p->affine ? gamma : NULL, c, p->affine ? NNOPT__BN_REQUIRED : 0);
        nnopt__bn_buf_set(&b[5], training ? "save_mean" : "running_mean",
                          training ? "overlaps save_mean" : "overlaps running_mean", mean, c,
                          NNOPT__BN_REQUIRED);
        nnopt__bn_buf_set(&b[6], training ? "save_invstd" : "running_var",
                          training ? "overlaps save_invstd" : "overlaps running_var", scale, c,
                          NNOPT__BN_REQUIRED);
        NNOPT__BN_BUF(b[7], dgamma, dgamma, c, NNOPT__BN_WRITTEN);
        NNOPT__BN_BUF(b[8], dbeta, dbeta, c, NNOPT__BN_WRITTEN);
        if (!nnopt__bn_buffers_ok(b, 9)) return NNOPT_ERR_INVALID;
    }
    memset(&k, 0, sizeof k);
    k.p = p;
    k.tile.x = x; k.tile.dy = dy; k.tile.out = dx;
    k.tile.centered = training; k.tile.relu = p->fuse_relu != 0;
    k.centre = mean;
    k.sums = training || dgamma || dbeta;
    k.coefficients = nnopt__bn_coef_backward;
    k.writes = NNOPT__BN_WRITES_BACKWARD;
    if (p->affine) { k.gamma = gamma; k.beta = p->fuse_relu ? beta : NULL; }
    k.mean = mean; k.scale = scale;
    k.dgamma = dgamma; k.dbeta = dbeta;
    nnopt__bn_run(&k);
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_bn_backward_train(const nnopt_bn_params *p, const float *x,
                                               const float *dy, const float *gamma,
                                               const float *beta, const float *save_mean,
                                               const float *save_invstd,
                                               float *dx, float *dgamma, float *dbeta)
{
    return NNOPT__CHECKED(nnopt__bn_backward(p, 1, x, dy, gamma, beta, save_mean, save_invstd, dx, dgamma,
                                             dbeta));
}

NNOPT_API nnopt_status nnopt_bn_backward_infer(const nnopt_bn_params *p, const float *x,
                                               const float *dy, const float *gamma,
                                               const float *beta, const float *running_mean,
                                               const float *running_var,
                                               float *dx, float *dgamma, float *dbeta)
{
    return NNOPT__CHECKED(nnopt__bn_backward(p, 0, x, dy, gamma, beta, running_mean, running_var, dx, dgamma,
                                             dbeta));
}
#endif /* NNOPT_NO_BATCHNORM */



#ifndef NNOPT_NO_AUGMENT
/* =====================================================================================
   Image augmentation
   ===================================================================================== */
/* ---- Images ------------------------------------------------------------------------ */

NNOPT_API nnopt_image nnopt_image_u8(uint8_t *data, int width, int height, int channels)
{
    nnopt_image m;
    m.format = NNOPT_IMAGE_U8_HWC; m.width = width; m.height = height; m.channels = channels;
    m.data = data;
    return m;
}

NNOPT_API nnopt_image nnopt_image_f32(float *data, int width, int height, int channels)
{
    nnopt_image m;
    m.format = NNOPT_IMAGE_F32_CHW; m.width = width; m.height = height; m.channels = channels;
    m.data = data;
    return m;
}

/* Values in an image of this shape, 0 when the shape is invalid or too large. */
static size_t nnopt__img_values(nnopt_image_format f, int w, int h, int c)
{
    size_t n;
    if ((f != NNOPT_IMAGE_U8_HWC && f != NNOPT_IMAGE_F32_CHW) || w <= 0 || h <= 0 ||
        (c != 1 && c != 3 && c != 4))
        return 0;
    n = (size_t)w;
    if ((size_t)h > ((size_t)-1 / 16) / n) return 0;
    n *= (size_t)h;
    if ((size_t)c > ((size_t)-1 / 16) / n) return 0;
    return n * (size_t)c;
}

static size_t nnopt__fmt_size(nnopt_image_format f) { return f == NNOPT_IMAGE_F32_CHW ? sizeof(float) : 1; }

/* nnopt__img_values(f, w, h, c) != 0, each rule named after the arguments format, width,
   height and channels. */
static int nnopt__shape_ok(nnopt_image_format f, int w, int h, int c)
{
    return NNOPT__REQUIRE(f == NNOPT_IMAGE_U8_HWC || f == NNOPT_IMAGE_F32_CHW, "format",
                          "is not NNOPT_IMAGE_U8_HWC or NNOPT_IMAGE_F32_CHW") &&
           NNOPT__REQUIRE(w > 0 && h > 0, "width, height", "must be > 0") &&
           NNOPT__REQUIRE(c == 1 || c == 3 || c == 4, "channels", "must be 1, 3 or 4") &&
           NNOPT__REQUIRE(nnopt__img_values(f, w, h, c) != 0, "width, height",
                          "give an image larger than size_t holds");
}

NNOPT_API size_t nnopt_image_bytes(const nnopt_image *img)
{
    if (!img) return 0;
    return nnopt__img_values(img->format, img->width, img->height, img->channels) *
           nnopt__fmt_size(img->format);
}

/* A usable image: valid shape, data present, floats aligned. name: the argument, a string
   literal for the error detail. */
static int nnopt__img_ok(const nnopt_image *m, const char *name)
{
    return NNOPT__REQUIRE(m != NULL, name, "is NULL") &&
           NNOPT__REQUIRE(m->format == NNOPT_IMAGE_U8_HWC || m->format == NNOPT_IMAGE_F32_CHW, name,
                          "format is not NNOPT_IMAGE_U8_HWC or NNOPT_IMAGE_F32_CHW") &&
           NNOPT__REQUIRE(m->width > 0 && m->height > 0, name, "width and height must be > 0") &&
           NNOPT__REQUIRE(m->channels == 1 || m->channels == 3 || m->channels == 4, name,
                          "channels must be 1, 3 or 4") &&
           NNOPT__REQUIRE(nnopt_image_bytes(m) != 0, name, "is larger than size_t holds") &&
           NNOPT__REQUIRE(m->data != NULL, name, "data is NULL") &&
           NNOPT__REQUIRE(m->format == NNOPT_IMAGE_U8_HWC || nnopt__ptr_ok(m->data, 1), name,
                          "data is not aligned to float");
}

/* [a, a + na) and [b, b + nb) share a byte. */
static int nnopt__ranges_overlap(const void *a, size_t na, const void *b, size_t nb)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    if (!a || !b || !na || !nb) return 0;
    return x < y + nb && y < x + na;
}

static int nnopt__img_overlap(const nnopt_image *a, const nnopt_image *b)
{
    return nnopt__ranges_overlap(a->data, nnopt_image_bytes(a), b->data, nnopt_image_bytes(b));
}

/* src and dst both usable, same format and channels, not overlapping. */
static int nnopt__img_pair_ok(const nnopt_image *src, const nnopt_image *dst)
{
    return nnopt__img_ok(src, "src") && nnopt__img_ok(dst, "dst") &&
           NNOPT__REQUIRE(src->format == dst->format, "dst", "format differs from src's") &&
           NNOPT__REQUIRE(src->channels == dst->channels, "dst", "channels differ from src's") &&
           NNOPT__REQUIRE(!nnopt__img_overlap(src, dst), "dst", "overlaps src");
}

/* dst has src's width and height (the ops that keep the size). */
static int nnopt__img_same_size(const nnopt_image *src, const nnopt_image *dst)
{
    return NNOPT__REQUIRE(src->width == dst->width && src->height == dst->height, "dst",
                          "width and height differ from src's");
}

/* The (top, left, height, width) window lies inside m; its sides are at least min_side. */
static int nnopt__window_ok(const nnopt_image *m, int top, int left, int height, int width, int min_side)
{
    return NNOPT__REQUIRE(top >= 0 && left >= 0, "top, left", "must be >= 0") &&
           NNOPT__REQUIRE(height >= min_side && width >= min_side, "height, width",
                          min_side ? "must be > 0" : "must be >= 0") &&
           NNOPT__REQUIRE(top <= m->height - height && left <= m->width - width, "top, left, height, width",
                          "the window does not fit in the image");
}

static size_t nnopt__img_pixels(const nnopt_image *m) { return (size_t)m->width * (size_t)m->height; }

/* Value (pixel p, channel c) as float, and storing one (uint8: the caller rounded). */
NNOPT__INLINE float nnopt__px(const nnopt_image *m, size_t p, int c)
{
    if (m->format == NNOPT_IMAGE_U8_HWC) return (float)((const uint8_t *)m->data)[p * (size_t)m->channels + (size_t)c];
    return ((const float *)m->data)[(size_t)c * nnopt__img_pixels(m) + p];
}

NNOPT__INLINE void nnopt__px_set(const nnopt_image *m, size_t p, int c, float v)
{
    if (m->format == NNOPT_IMAGE_U8_HWC) ((uint8_t *)m->data)[p * (size_t)m->channels + (size_t)c] = (uint8_t)v;
    else ((float *)m->data)[(size_t)c * nnopt__img_pixels(m) + p] = v;
}

/* float -> uint8 as torch's .to(uint8) after clamp(0, 255): truncation. NaN -> 0. */
NNOPT__INLINE float nnopt__u8_trunc(float v) { return v >= 255.0f ? 255.0f : v > 0.0f ? (float)(int)v : 0.0f; }
/* Rounded half to even (torch.round), clamped. */
NNOPT__INLINE float nnopt__u8_round(float v)
{
    float r;
    if (!(v > 0.0f)) return 0.0f;
    if (v >= 255.0f) return 255.0f;
    r = (float)(int)v;                      /* v in (0, 255): exact integer part */
    if (v - r > 0.5f || (v - r == 0.5f && ((int)r & 1))) r += 1.0f;
    return r;
}
/* Python round(x) for the box sizes: half to even. */
static double nnopt__round_even(double x)
{
    double r = floor(x), d = x - r;
    if (d > 0.5 || (d == 0.5 && fmod(r, 2.0) != 0.0)) r += 1.0;
    return r;
}

/* ---- Geometry: each axis as a map from output to source coordinates ------------------
   Pads, crops, flips and nearest resizes map an output row (column) to one source row, or
   to the fill value; a bilinear resize maps it to two rows and their weights. A chain of
   these composes into one map per axis, and one pass over the pixels applies it. */
typedef struct nnopt__tap { int a, b; float l0, l1; } nnopt__tap;   /* a < 0: fill */

typedef struct nnopt__geo {
    nnopt__tap *x, *y;          /* ow and oh taps into the source */
    int ow, oh, bilinear, has_fill;
    float fill[4];
} nnopt__geo;

static void nnopt__axis_identity(nnopt__tap *t, int n)
{
    int o;
    for (o = 0; o < n; o++) { t[o].a = t[o].b = o; t[o].l0 = 1.0f; t[o].l1 = 0.0f; }
}

/* Index of padded coordinate s (may be outside [0, n)) in a source of n; -1: fill. */
static int nnopt__pad_index(int s, int n, nnopt_pad_mode mode)
{
    if (s >= 0 && s < n) return s;
    switch (mode) {
    case NNOPT_PAD_EDGE:      return s < 0 ? 0 : n - 1;
    case NNOPT_PAD_REFLECT:   return s < 0 ? -s : 2 * (n - 1) - s;
    case NNOPT_PAD_SYMMETRIC: return s < 0 ? -s - 1 : 2 * n - 1 - s;
    default:                  return -1;
    }
}

/* Output coordinate o reads source coordinate o + offset (crop; pad with negative offset). */
static void nnopt__axis_shift(nnopt__tap *t, int m, int n, int offset, nnopt_pad_mode mode)
{
    int o;
    for (o = 0; o < m; o++) { t[o].a = t[o].b = nnopt__pad_index(o + offset, n, mode); t[o].l0 = 1.0f; t[o].l1 = 0.0f; }
}

static void nnopt__axis_flip(nnopt__tap *t, int n)
{
    int o;
    for (o = 0; o < n; o++) { t[o].a = t[o].b = n - 1 - o; t[o].l0 = 1.0f; t[o].l1 = 0.0f; }
}

/* The window [offset, offset + len) resized to m, as torch's upsample kernels compute it in
   float: scale = len / m; bilinear: x = scale (o + 0.5) - 0.5 clamped at 0, taps floor(x)
   and the next (not past the end), l1 = x - floor(x), l0 = 1 - l1; nearest: floor(o scale)
   (o when the sizes agree, o / 2 when m = 2 len, as torch special-cases). */
static void nnopt__axis_resize(nnopt__tap *t, int m, int offset, int len, nnopt_interp interp)
{
    float scale = (float)len / (float)m;
    int o;
    for (o = 0; o < m; o++) {
        int i0;
        if (interp == NNOPT_INTERP_NEAREST) {
            i0 = m == len ? o : m == 2 * len ? o >> 1 : (int)floorf((float)o * scale);
            if (i0 > len - 1) i0 = len - 1;
            t[o].a = t[o].b = offset + i0; t[o].l0 = 1.0f; t[o].l1 = 0.0f;
        } else {
            float x = scale * ((float)o + 0.5f) - 0.5f, l1;
            if (x < 0.0f) x = 0.0f;
            i0 = (int)x;
            l1 = x - (float)i0;
            if (l1 > 1.0f) l1 = 1.0f;
            t[o].a = offset + i0;
            t[o].b = offset + i0 + (i0 < len - 1 ? 1 : 0);
            t[o].l1 = l1; t[o].l0 = 1.0f - l1;
        }
    }
}

/* r[o] = p after q: q's taps index p's outputs. q bilinear needs p without fill or weights. */
static void nnopt__axis_compose(nnopt__tap *r, const nnopt__tap *p, const nnopt__tap *q, int m, int q_bilinear)
{
    int o;
    for (o = 0; o < m; o++) {
        nnopt__tap t;
        if (q[o].a < 0) { t.a = t.b = -1; t.l0 = 1.0f; t.l1 = 0.0f; }
        else if (!q_bilinear) t = p[q[o].a];
        else { t.a = p[q[o].a].a; t.b = p[q[o].b].a; t.l0 = q[o].l0; t.l1 = q[o].l1; }
        r[o] = t;
    }
}

static int nnopt__axis_has_fill(const nnopt__tap *t, int n)
{
    int o;
    for (o = 0; o < n; o++) if (t[o].a < 0) return 1;
    return 0;
}

/* Fill value of channel c in dst's type: uint8 as torch's cast (clamped, truncated). */
static float nnopt__fill_value(const nnopt__geo *g, const nnopt_image *dst, int c)
{
    float v = g->has_fill ? g->fill[c] : 0.0f;
    return dst->format == NNOPT_IMAGE_U8_HWC ? nnopt__u8_trunc(v) : v;
}

/* Index maps: a gather of whole pixels (uint8) or values (float planes). */
static void nnopt__geo_copy(const nnopt_image *src, const nnopt_image *dst, const nnopt__geo *g)
{
    int x, y, c, C = src->channels;
    if (src->format == NNOPT_IMAGE_U8_HWC) {
        const uint8_t *s = (const uint8_t *)src->data;
        uint8_t *d = (uint8_t *)dst->data, fill[4];
        for (c = 0; c < C; c++) fill[c] = (uint8_t)nnopt__fill_value(g, dst, c);
        for (y = 0; y < g->oh; y++) {
            uint8_t *row = d + (size_t)y * (size_t)g->ow * (size_t)C;
            const uint8_t *srow = s + (size_t)(g->y[y].a < 0 ? 0 : g->y[y].a) * (size_t)src->width * (size_t)C;
            for (x = 0; x < g->ow; x++) {
                const uint8_t *px = (g->y[y].a < 0 || g->x[x].a < 0) ? fill : srow + (size_t)g->x[x].a * (size_t)C;
                uint8_t *o = row + (size_t)x * (size_t)C;
                switch (C) {   /* constant channel counts let the compiler move whole pixels */
                case 1: o[0] = px[0]; break;
                case 3: o[0] = px[0]; o[1] = px[1]; o[2] = px[2]; break;
                default: memcpy(o, px, 4); break;
                }
            }
        }
    } else {
        size_t sp = nnopt__img_pixels(src), dp = (size_t)g->ow * (size_t)g->oh;
        for (c = 0; c < C; c++) {
            const float *s = (const float *)src->data + (size_t)c * sp;
            float *d = (float *)dst->data + (size_t)c * dp, fill = nnopt__fill_value(g, dst, c);
            for (y = 0; y < g->oh; y++) {
                const float *srow = s + (size_t)(g->y[y].a < 0 ? 0 : g->y[y].a) * (size_t)src->width;
                float *row = d + (size_t)y * (size_t)g->ow;
                for (x = 0; x < g->ow; x++)
                    row[x] = (g->y[y].a < 0 || g->x[x].a < 0) ? fill : srow[g->x[x].a];
            }
        }
    }
}

#define NNOPT__AUG_ALIGN(x) (((x) + 63) & ~(size_t)63)

/* The working memory of a bilinear pass (nnopt__geo_bilinear), by piece. */
typedef struct nnopt__bilinear_mem {
    float *rows[2];              /* two source rows after the row pass */
    float *wa, *wb;              /* per output pixel: the weights of taps a and b */
    int32_t *ia, *ib;            /* ... and their source offsets */
    int32_t *window;             /* AVX512-VBMI: per 16 output pixels, a window of source bytes */
    int32_t *window_index;       /* ... and the taps' offsets in it */
    uint8_t *bytes;              /* an output row of one channel, uint8 */
} nnopt__bilinear_mem;

/* The one definition of that memory's layout and size, for a pass writing output rows
   `width` pixels wide from a source of `per` values per pixel (uint8: its interleaved
   channels; float: 1, one plane at a time). Carves base into m (when not NULL) and returns the
   bytes (0: more than size_t holds). Every piece starts at a multiple of 64 bytes from base
   and grows with width and per, so memory sized for the widest pass of a pipeline serves
   each of its passes. Why each piece is large enough:
   - rows: 2 x width * per floats. The row pass writes plane c of a source row at c * width,
     per planes; rows a and b of the current output row stay cached.
   - wa, wb, ia, ib: width each. One weight and one source offset per output pixel and tap;
     the vector kernels read them with loads of the first k lanes (masked tails), never past
     width.
   - window: 2 int32 (first byte, length) per block of 16 output pixels, ceil(width / 16)
     blocks.
   - window_index: 32 int32 per channel per block. The VBMI kernel loads all 16 lanes of each
     tap's offsets even in the last, partial block (its lanes past width hold 0), so that
     block is allocated whole.
   - bytes: width bytes, an output row of one channel before it is interleaved (the byte
     store writes exactly the k bytes of a tail).
   The vector row kernels read each gathered source pixel as a 4-byte word: that bound is the
   source image's, not this memory's (nnopt__bilinear_row_pass sends a row whose words could
   pass the end of the image to the portable instance). */
static size_t nnopt__bilinear_layout(size_t width, size_t per, void *base, nnopt__bilinear_mem *m)
{
    size_t blocks = (width + 15) / 16, size[9], at = 0;
    void *piece[9];
    int k;
    if (width > ((size_t)-1 / 256) / (per + 1)) return 0;
    size[0] = size[1] = width * per * sizeof(float);
    size[2] = size[3] = width * sizeof(float);
    size[4] = size[5] = width * sizeof(int32_t);
    size[6] = 2 * blocks * sizeof(int32_t);
    size[7] = 32 * per * blocks * sizeof(int32_t);
    size[8] = width;
    for (k = 0; k < 9; k++) {         /* the last piece unpadded: nothing may pass its end */
        piece[k] = base ? (char *)base + at : NULL;
        at += k < 8 ? NNOPT__AUG_ALIGN(size[k]) : size[k];
    }
    if (m) {
        m->rows[0] = (float *)piece[0]; m->rows[1] = (float *)piece[1];
        m->wa = (float *)piece[2]; m->wb = (float *)piece[3];
        m->ia = (int32_t *)piece[4]; m->ib = (int32_t *)piece[5];
        m->window = (int32_t *)piece[6]; m->window_index = (int32_t *)piece[7];
        m->bytes = (uint8_t *)piece[8];
    }
    return at;
}

struct nnopt__norm_plan;
static void nnopt__geo_bilinear(const nnopt_image *src, const nnopt_image *dst, const nnopt__geo *g,
                                void *work, const struct nnopt__norm_plan *plan);

static void nnopt__geo_apply(const nnopt_image *src, const nnopt_image *dst, const nnopt__geo *g, void *work)
{
    if (g->bilinear) nnopt__geo_bilinear(src, dst, g, work, NULL);
    else nnopt__geo_copy(src, dst, g);
}

/* The working memory of a functional geometric op writing dst, carved from base when g is
   not NULL: the column and row maps, then the bilinear pass's memory (for every op, so that
   one size serves them all). 0: more than size_t holds. */
static size_t nnopt__geo_layout(const nnopt_image *dst, char *base, nnopt__geo *g, void **work)
{
    size_t dims = (size_t)dst->width + (size_t)dst->height, pass;
    size_t per = dst->format == NNOPT_IMAGE_U8_HWC ? (size_t)dst->channels : 1;
    size_t taps = NNOPT__AUG_ALIGN(dims * sizeof(nnopt__tap));
    if (g) { g->x = (nnopt__tap *)(void *)base; g->y = g->x + dst->width; *work = base + taps; }
    if (dims > ((size_t)-1 / 4) / sizeof(nnopt__tap)) return 0;
    pass = nnopt__bilinear_layout((size_t)dst->width, per, NULL, NULL);
    return pass && pass <= (size_t)-1 / 2 - taps ? taps + pass : 0;
}

NNOPT_API size_t nnopt_aug_scratch_size(const nnopt_image *dst)
{
    size_t bytes;
    if (!dst || !nnopt_image_bytes(dst)) return 0;
    bytes = nnopt__geo_layout(dst, NULL, NULL, NULL);
    return bytes ? bytes + 63 : 0;   /* 63: to align the caller's memory to 64 bytes */
}

/* Functional geometric ops build both axes, then apply them once, in scratch (bytes long, not
   overlapping src or dst) or, when scratch is NULL, in memory allocated for the call. */
static nnopt_status nnopt__geo_run(const nnopt_image *src, const nnopt_image *dst, nnopt__geo *g,
                                   int xkind, int ykind, const int *xarg, const int *yarg,
                                   void *scratch, size_t bytes)
{
    /* kinds: 0 identity, 1 shift (arg: offset, mode), 2 flip, 3 resize (offset, len, interp) */
    size_t need = nnopt_aug_scratch_size(dst);
    char *mem = (char *)scratch, *base;
    void *work;
    int axis;
    if (scratch && (!NNOPT__REQUIRE(need, "dst", "needs more working memory than size_t holds") ||
                    !NNOPT__REQUIRE(bytes >= need, "bytes", "is too small: see nnopt_aug_scratch_size()") ||
                    !NNOPT__REQUIRE(!nnopt__ranges_overlap(scratch, bytes, src->data, nnopt_image_bytes(src)),
                                    "scratch", "overlaps src") ||
                    !NNOPT__REQUIRE(!nnopt__ranges_overlap(scratch, bytes, dst->data, nnopt_image_bytes(dst)),
                                    "scratch", "overlaps dst")))
        return NNOPT_ERR_INVALID;
    if (!scratch && (!need || !(mem = (char *)NNOPT_MALLOC(need)))) {
        nnopt__reject(NULL, "out of memory");
        return NNOPT_ERR_NOMEM;
    }
    base = (char *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    nnopt__geo_layout(dst, base, g, &work);
    g->ow = dst->width; g->oh = dst->height;
    for (axis = 0; axis < 2; axis++) {
        nnopt__tap *t = axis ? g->y : g->x;
        int kind = axis ? ykind : xkind, m = axis ? dst->height : dst->width, n = axis ? src->height : src->width;
        const int *arg = axis ? yarg : xarg;
        if (kind == 0) nnopt__axis_identity(t, m);
        else if (kind == 1) nnopt__axis_shift(t, m, n, arg[0], (nnopt_pad_mode)arg[1]);
        else if (kind == 2) nnopt__axis_flip(t, m);
        else nnopt__axis_resize(t, m, arg[0], arg[1], (nnopt_interp)arg[2]);
    }
    nnopt__geo_apply(src, dst, g, work);
    if (!scratch) NNOPT_FREE(mem);
    return NNOPT_OK;
}

static nnopt__geo nnopt__geo_plain(void)
{
    nnopt__geo g;
    memset(&g, 0, sizeof g);
    return g;
}

/* Each geometric op once, with the caller's scratch or (NULL) its own; the public forms below. */
static nnopt_status nnopt__hflip(const nnopt_image *src, const nnopt_image *dst, void *scratch, size_t bytes)
{
    nnopt__geo g = nnopt__geo_plain();
    if (!nnopt__img_pair_ok(src, dst) || !nnopt__img_same_size(src, dst)) return NNOPT_ERR_INVALID;
    return nnopt__geo_run(src, dst, &g, 2, 0, NULL, NULL, scratch, bytes);
}

static nnopt_status nnopt__vflip(const nnopt_image *src, const nnopt_image *dst, void *scratch, size_t bytes)
{
    nnopt__geo g = nnopt__geo_plain();
    if (!nnopt__img_pair_ok(src, dst) || !nnopt__img_same_size(src, dst)) return NNOPT_ERR_INVALID;
    return nnopt__geo_run(src, dst, &g, 0, 2, NULL, NULL, scratch, bytes);
}

static nnopt_status nnopt__crop(const nnopt_image *src, const nnopt_image *dst, int top, int left,
                                void *scratch, size_t bytes)
{
    nnopt__geo g = nnopt__geo_plain();
    int xa[2], ya[2];
    if (!nnopt__img_pair_ok(src, dst) ||
        !NNOPT__REQUIRE(top >= 0 && left >= 0, "top, left", "must be >= 0") ||
        !NNOPT__REQUIRE(top <= src->height - dst->height && left <= src->width - dst->width, "top, left",
                        "put dst's window past the edge of src"))
        return NNOPT_ERR_INVALID;
    xa[0] = left; ya[0] = top; xa[1] = ya[1] = NNOPT_PAD_CONSTANT;
    return nnopt__geo_run(src, dst, &g, 1, 1, xa, ya, scratch, bytes);
}

/* torchvision center_crop: zero-pad a too-small side by (crop - size) / 2 before and the
   rest after, then take round((size - crop) / 2). As one shift: offset = -pad_before, or
   the crop's top. */
static int nnopt__center_offset(int n, int m)
{
    if (m > n) return -((m - n) / 2);
    return (int)nnopt__round_even((double)(n - m) / 2.0);
}

static nnopt_status nnopt__center_crop(const nnopt_image *src, const nnopt_image *dst, void *scratch, size_t bytes)
{
    nnopt__geo g = nnopt__geo_plain();
    int xa[2], ya[2];
    if (!nnopt__img_pair_ok(src, dst)) return NNOPT_ERR_INVALID;
    xa[0] = nnopt__center_offset(src->width, dst->width);
    ya[0] = nnopt__center_offset(src->height, dst->height);
    xa[1] = ya[1] = NNOPT_PAD_CONSTANT;
    return nnopt__geo_run(src, dst, &g, 1, 1, xa, ya, scratch, bytes);
}

static int nnopt__pad_mode_ok(nnopt_pad_mode mode)
{
    return mode == NNOPT_PAD_CONSTANT || mode == NNOPT_PAD_EDGE || mode == NNOPT_PAD_REFLECT ||
           mode == NNOPT_PAD_SYMMETRIC;
}

/* Pads before and after a side of n in a valid mode; arg names them (a string literal). */
static int nnopt__pad_ok(int n, int before, int after, nnopt_pad_mode mode, const char *arg)
{
    return NNOPT__REQUIRE(before >= 0 && after >= 0, arg, "a pad is negative") &&
           NNOPT__REQUIRE(mode != NNOPT_PAD_REFLECT || (before < n && after < n), arg,
                          "a reflect pad must be smaller than the side it mirrors") &&
           NNOPT__REQUIRE(mode != NNOPT_PAD_SYMMETRIC || (before <= n && after <= n), arg,
                          "a symmetric pad must not exceed the side it mirrors");
}

static int nnopt__fill_ok(const float *fill, int channels)
{
    int c;
    if (!fill) return 1;
    for (c = 0; c < channels; c++) if (!nnopt__finite(fill[c])) return 0;
    return 1;
}

static nnopt_status nnopt__pad(const nnopt_image *src, const nnopt_image *dst, int left, int top, int right,
                               int bottom, nnopt_pad_mode mode, const float *fill, void *scratch, size_t bytes)
{
    nnopt__geo g = nnopt__geo_plain();
    int xa[2], ya[2], c;
    if (!nnopt__img_pair_ok(src, dst) ||
        !NNOPT__REQUIRE(nnopt__pad_mode_ok(mode), "mode", "is not a nnopt_pad_mode") ||
        !nnopt__pad_ok(src->width, left, right, mode, "left, right") ||
        !nnopt__pad_ok(src->height, top, bottom, mode, "top, bottom") ||
        !NNOPT__REQUIRE(nnopt__fill_ok(fill, src->channels), "fill", "has a value that is not finite") ||
        !NNOPT__REQUIRE((long)src->width + left + right == dst->width &&
                        (long)src->height + top + bottom == dst->height, "dst",
                        "width and height are not src's plus the pads"))
        return NNOPT_ERR_INVALID;
    g.has_fill = 1;
    for (c = 0; c < src->channels; c++) g.fill[c] = fill ? fill[c] : 0.0f;
    xa[0] = -left; ya[0] = -top; xa[1] = ya[1] = (int)mode;
    return nnopt__geo_run(src, dst, &g, 1, 1, xa, ya, scratch, bytes);
}

static nnopt_status nnopt__resized_crop(const nnopt_image *src, const nnopt_image *dst, int top, int left,
                                        int height, int width, nnopt_interp interp, void *scratch, size_t bytes)
{
    nnopt__geo g = nnopt__geo_plain();
    int xa[3], ya[3];
    if (!nnopt__img_pair_ok(src, dst) || !nnopt__window_ok(src, top, left, height, width, 1) ||
        !NNOPT__REQUIRE(interp == NNOPT_INTERP_BILINEAR || interp == NNOPT_INTERP_NEAREST, "interp",
                        "is not NNOPT_INTERP_BILINEAR or NNOPT_INTERP_NEAREST"))
        return NNOPT_ERR_INVALID;
    g.bilinear = interp == NNOPT_INTERP_BILINEAR;
    xa[0] = left; xa[1] = width; ya[0] = top; ya[1] = height; xa[2] = ya[2] = (int)interp;
    return nnopt__geo_run(src, dst, &g, 3, 3, xa, ya, scratch, bytes);
}

static nnopt_status nnopt__resize(const nnopt_image *src, const nnopt_image *dst, nnopt_interp interp,
                                  void *scratch, size_t bytes)
{
    if (!nnopt__img_ok(src, "src")) return NNOPT_ERR_INVALID;
    return nnopt__resized_crop(src, dst, 0, 0, src->height, src->width, interp, scratch, bytes);
}

NNOPT_API nnopt_status nnopt_aug_hflip(const nnopt_image *src, const nnopt_image *dst)
{ return NNOPT__CHECKED(nnopt__hflip(src, dst, NULL, 0)); }
NNOPT_API nnopt_status nnopt_aug_vflip(const nnopt_image *src, const nnopt_image *dst)
{ return NNOPT__CHECKED(nnopt__vflip(src, dst, NULL, 0)); }
NNOPT_API nnopt_status nnopt_aug_crop(const nnopt_image *src, const nnopt_image *dst, int top, int left)
{ return NNOPT__CHECKED(nnopt__crop(src, dst, top, left, NULL, 0)); }
NNOPT_API nnopt_status nnopt_aug_center_crop(const nnopt_image *src, const nnopt_image *dst)
{ return NNOPT__CHECKED(nnopt__center_crop(src, dst, NULL, 0)); }
NNOPT_API nnopt_status nnopt_aug_pad(const nnopt_image *src, const nnopt_image *dst, int left, int top,
                                     int right, int bottom, nnopt_pad_mode mode, const float *fill)
{ return NNOPT__CHECKED(nnopt__pad(src, dst, left, top, right, bottom, mode, fill, NULL, 0)); }
NNOPT_API nnopt_status nnopt_aug_resized_crop(const nnopt_image *src, const nnopt_image *dst, int top,
                                              int left, int height, int width, nnopt_interp interp)
{ return NNOPT__CHECKED(nnopt__resized_crop(src, dst, top, left, height, width, interp, NULL, 0)); }
NNOPT_API nnopt_status nnopt_aug_resize(const nnopt_image *src, const nnopt_image *dst, nnopt_interp interp)
{ return NNOPT__CHECKED(nnopt__resize(src, dst, interp, NULL, 0)); }

/* The caller-memory forms: NULL scratch is invalid here (it means "allocate" inside). */
#define NNOPT__NO_SCRATCH NNOPT__FAIL(NNOPT_ERR_INVALID, "scratch", "is NULL")
NNOPT_API nnopt_status nnopt_aug_hflip_scratch(const nnopt_image *src, const nnopt_image *dst,
                                               void *scratch, size_t bytes)
{ return scratch ? NNOPT__CHECKED(nnopt__hflip(src, dst, scratch, bytes)) : NNOPT__NO_SCRATCH; }
NNOPT_API nnopt_status nnopt_aug_vflip_scratch(const nnopt_image *src, const nnopt_image *dst,
                                               void *scratch, size_t bytes)
{ return scratch ? NNOPT__CHECKED(nnopt__vflip(src, dst, scratch, bytes)) : NNOPT__NO_SCRATCH; }
NNOPT_API nnopt_status nnopt_aug_crop_scratch(const nnopt_image *src, const nnopt_image *dst, int top, int left,
                                              void *scratch, size_t bytes)
{ return scratch ? NNOPT__CHECKED(nnopt__crop(src, dst, top, left, scratch, bytes)) : NNOPT__NO_SCRATCH; }
NNOPT_API nnopt_status nnopt_aug_center_crop_scratch(const nnopt_image *src, const nnopt_image *dst,
                                                     void *scratch, size_t bytes)
{ return scratch ? NNOPT__CHECKED(nnopt__center_crop(src, dst, scratch, bytes)) : NNOPT__NO_SCRATCH; }
NNOPT_API nnopt_status nnopt_aug_pad_scratch(const nnopt_image *src, const nnopt_image *dst, int left, int top,
                                             int right, int bottom, nnopt_pad_mode mode, const float *fill,
                                             void *scratch, size_t bytes)
{
    if (!scratch) return NNOPT__NO_SCRATCH;
    return NNOPT__CHECKED(nnopt__pad(src, dst, left, top, right, bottom, mode, fill, scratch, bytes));
}
NNOPT_API nnopt_status nnopt_aug_resized_crop_scratch(const nnopt_image *src, const nnopt_image *dst, int top,
                                                      int left, int height, int width, nnopt_interp interp,
                                                      void *scratch, size_t bytes)
{
    if (!scratch) return NNOPT__NO_SCRATCH;
    return NNOPT__CHECKED(nnopt__resized_crop(src, dst, top, left, height, width, interp, scratch, bytes));
}
NNOPT_API nnopt_status nnopt_aug_resize_scratch(const nnopt_image *src, const nnopt_image *dst,
                                                nnopt_interp interp, void *scratch, size_t bytes)
{ return scratch ? NNOPT__CHECKED(nnopt__resize(src, dst, interp, scratch, bytes)) : NNOPT__NO_SCRATCH; }

/* Bilinear maps, separable as torch evaluates them: t = x_a l0 + x_b l1 along each source
   row, then out = t_a l0 + t_b l1 down the columns, in float (uint8: rounded half to even).
   Both passes are vector kernels; rows are kept as planes of floats, two source rows cached.
   plan (not NULL): dst is the float CHW image normalized from the rounded bytes, exactly
   what a separate nnopt__normalize would give (the pipeline's fused resize + normalize).
   work: nnopt__bilinear_layout(ow, per) bytes, 64-byte aligned. */
/* How uint8 -> float normalization runs for one mean/std (nnopt__norm_plan): per channel the
   256 values (b / 255 - mean) / std computed by the normalize kernel (the bits it gives a pixel
   of that value), and whether a bilinear stage may normalize its bytes itself with the column
   kernel's split-reciprocal divisions (fused). */

/* v normalizes planes c, c + 1, ... (v->planes of them) as the plan says. */
static void nnopt__vrow_normalize_args(nnopt__aug_vrow_args *v, const nnopt__norm_plan *plan, int c)
{
    v->normalize = 1;
    v->r255[0] = (float)(1.0 / 255.0); v->r255[1] = (float)(1.0 / 255.0 - (double)v->r255[0]);
    v->plane_norm = plan->norm + c;
}

/* The table and the constants (not fused: nnopt__norm_plan_check decides). */
static void nnopt__norm_plan_init(nnopt__norm_plan *plan, int channels, const float *mean, const float *std)
{
    nnopt__aug_norm_args a;
    uint8_t bytes[256];
    int b, c;
    for (b = 0; b < 256; b++) bytes[b] = (uint8_t)b;
    memset(plan, 0, sizeof *plan);
    for (c = 0; c < channels; c++) {
        double r = 1.0 / (double)std[c];
        plan->norm[c][0] = mean[c]; plan->norm[c][1] = std[c];
        plan->norm[c][2] = (float)r; plan->norm[c][3] = (float)(r - (double)(float)r);
        a.n = 256; a.u8 = bytes; a.f32 = NULL; a.out = plan->table[c]; a.mean = mean[c]; a.std = std[c];
        NNOPT__PICK(aug_normalize)(&a);
    }
}

/* fused: the column kernel normalizing bytes gives the table's bits for all 256 values of
   every channel, on every path this CPU has (the portable one divides, so it always does; the
   vector ones share one arithmetic), so one plan serves whichever path later runs it. */
static void nnopt__norm_plan_check(nnopt__norm_plan *plan, int channels)
{
    nnopt__aug_vrow_args v;
    void (*vector_rows[2])(nnopt__aug_vrow_args *);
    float ramp[256], zeros[256], check[256];
    int b, c, k, vector_paths = 0;
#ifdef NNOPT__HAVE_AVX2
    if (nnopt_isa_best() >= NNOPT_ISA_AVX2) vector_rows[vector_paths++] = nnopt__aug_vrows_avx2;
#endif
#ifdef NNOPT__HAVE_AVX512
    if (nnopt_isa_best() >= NNOPT_ISA_AVX512) vector_rows[vector_paths++] = nnopt__aug_vrows_avx512;
#endif
    for (b = 0; b < 256; b++) { ramp[b] = (float)b; zeros[b] = 0.0f; }
    plan->fused = 1;
    for (c = 0; c < channels; c++)
        for (k = 0; k < vector_paths; k++) {
            memset(&v, 0, sizeof v);
            v.n = 256; v.ta = ramp; v.tb = zeros; v.l0 = 1.0f; v.l1 = 0.0f; v.out_f32 = check; v.planes = 1;
            nnopt__vrow_normalize_args(&v, plan, c);
            vector_rows[k](&v);
            if (memcmp(check, plan->table[c], sizeof check) != 0) plan->fused = 0;
        }
}

/* The fill of a stage from src, in the output's terms (normalized when the stage normalizes). */
static float nnopt__stage_fill(const nnopt__geo *g, const nnopt_image *src, int c, const nnopt__norm_plan *plan)
{
    float f = nnopt__fill_value(g, src, c);
    return plan ? plan->table[c][(int)f] : f;
}

/* A hint to bring [p, p + len) into the cache ahead of its use. */
static void nnopt__prefetch_bytes(const void *p, size_t len)
{
#if defined(__GNUC__) || defined(__clang__)
    size_t at;
    for (at = 0; at < len; at += 64) __builtin_prefetch((const char *)p + at);
    __builtin_prefetch((const char *)p + len - 1);
#else
    (void)p; (void)len;
#endif
}

/* For the AVX512-VBMI row kernel: per 16 output pixels, the window of source bytes their
   taps read (first byte, length) and, per channel, the offsets of tap a's then tap b's bytes
   in it (lanes past n: 0); the first is -1 where the taps span more than 128 bytes or
   include padded columns (that block gathers). Returns whether any block gathers. */
NNOPT__PRIVATE int nnopt__byte_windows(const nnopt__tap *t, const int32_t *ia, const int32_t *ib, int n,
                                       int channels, int32_t *window, int32_t *index)
{
    int x0, x, c, gathers = 0;
    for (x0 = 0; x0 < n; x0 += 16) {
        int32_t first = ia[x0], last = ia[x0], fill = 0, *w = window + 2 * (x0 / 16);
        int32_t *at = index + (size_t)(x0 / 16) * 32 * (size_t)channels;
        for (x = x0; x < n && x < x0 + 16; x++) {
            fill |= t[x].a < 0;
            if (ia[x] < first) first = ia[x];
            if (ib[x] < first) first = ib[x];
            if (ia[x] > last) last = ia[x];
            if (ib[x] > last) last = ib[x];
        }
        w[0] = first; w[1] = last + channels - first;
        if (fill || w[1] > 128) { w[0] = -1; gathers = 1; continue; }
        for (c = 0; c < channels; c++)
            for (x = 0; x < 16; x++) {
                at[32 * c + x]      = x0 + x < n ? ia[x0 + x] - first + c : 0;
                at[32 * c + 16 + x] = x0 + x < n ? ib[x0 + x] - first + c : 0;
            }
    }
    return gathers;
}

/* One bilinear pass: its memory, kernels and their arguments, and which source rows the row
   cache and the prefetches hold (per plane). */
typedef struct nnopt__bilinear_run {
    const nnopt_image *src, *dst;
    const nnopt__geo *g;
    const nnopt__norm_plan *plan;
    nnopt__bilinear_mem m;
    nnopt__aug_hrow_args h;
    nnopt__aug_vrow_args v;
    void (*hrow)(nnopt__aug_hrow_args *);
    void (*vrows)(nnopt__aug_vrow_args *);
    int u8, channels, per, planes, ow, fill_columns;
    int gathers;                     /* the row kernel may gather 4 bytes per pixel */
    int32_t min_index, max_index;    /* the source offsets the taps read (min_index -1: none) */
    size_t src_plane, dst_plane, src_bytes, src_row;
    int cached[2], fetched[2], next; /* rows in the two cache slots, the last two prefetched, the slot to fill */
} nnopt__bilinear_run;

/* Carves the memory and works out each output column's source offsets and weights. */
static void nnopt__bilinear_setup(nnopt__bilinear_run *b, const nnopt_image *src, const nnopt_image *dst,
                                  const nnopt__geo *g, void *work, const nnopt__norm_plan *plan)
{
    int x;
    memset(b, 0, sizeof *b);
    b->src = src; b->dst = dst; b->g = g; b->plan = plan;
    b->u8 = src->format == NNOPT_IMAGE_U8_HWC; b->channels = src->channels; b->ow = g->ow;
    b->per = b->u8 ? b->channels : 1; b->planes = b->u8 ? 1 : b->channels;
    b->src_plane = nnopt__img_pixels(src); b->dst_plane = (size_t)b->ow * (size_t)g->oh;
    b->src_bytes = nnopt_image_bytes(src); b->src_row = (size_t)src->width * (size_t)b->channels;
    nnopt__bilinear_layout((size_t)b->ow, (size_t)b->per, work, &b->m);
    b->min_index = -1;
    for (x = 0; x < b->ow; x++) {
        const nnopt__tap *k = &g->x[x];
        int32_t *ia = b->m.ia, *ib = b->m.ib;
        if (k->a < 0) { ia[x] = ib[x] = 0; b->m.wa[x] = b->m.wb[x] = 0.0f; b->fill_columns = 1; continue; }
        ia[x] = k->a * b->per; ib[x] = k->b * b->per; b->m.wa[x] = k->l0; b->m.wb[x] = k->l1;
        if (ib[x] > b->max_index) b->max_index = ib[x];
        if (ia[x] > b->max_index) b->max_index = ia[x];
        if (b->min_index < 0 || ia[x] < b->min_index) b->min_index = ia[x];
        if (ib[x] < b->min_index) b->min_index = ib[x];
    }
    b->hrow = NNOPT__PICK(aug_hrow);
    b->vrows = NNOPT__PICK(aug_vrows);
    b->gathers = 1;
    b->h.n = (size_t)b->ow; b->h.channels = b->per; b->h.ia = b->m.ia; b->h.ib = b->m.ib;
    b->h.wa = b->m.wa; b->h.wb = b->m.wb;
    if (b->u8 && NNOPT__PICK(bytes_fast)()) {
        b->gathers = nnopt__byte_windows(g->x, b->m.ia, b->m.ib, b->ow, b->per, b->m.window, b->m.window_index);
        b->hrow = NNOPT__PICK(aug_hrow_window); b->h.window = b->m.window; b->h.window_index = b->m.window_index;
    }
    b->v.n = (size_t)b->ow;
}

/* The source rows of output row y + 2 not yet fetched into cache: the window row kernel
   fetches one while it computes another (a burst of misses here would stall); what is left
   is fetched after this row's row passes. */
static void nnopt__bilinear_plan_ahead(const nnopt__bilinear_run *b, int y, int ahead[2])
{
    const nnopt__geo *g = b->g;
    int r;
    ahead[0] = ahead[1] = -1;
    if (!b->u8 || b->min_index < 0 || y + 2 >= g->oh || g->y[y + 2].a < 0) return;
    for (r = 0; r < 2; r++) {
        int want = r ? g->y[y + 2].b : g->y[y + 2].a;
        if (want != b->fetched[0] && want != b->fetched[1] && want != ahead[0]) ahead[r] = want;
    }
}

/* The row pass over source row `want` (of this plane) into cache slot `slot`. */
static void nnopt__bilinear_row_pass(nnopt__bilinear_run *b, int plane, int want, int slot, int ahead[2])
{
    nnopt__aug_hrow_args *h = &b->h;
    size_t row_at = (size_t)want * b->src_row;
    int k;
    h->out = b->m.rows[slot];
    if (!b->u8) {
        h->u8 = NULL;
        h->f32 = (const float *)b->src->data + (size_t)plane * b->src_plane + (size_t)want * (size_t)b->src->width;
        b->hrow(h);
        return;
    }
    h->u8 = (const uint8_t *)b->src->data + row_at; h->f32 = NULL;
    /* the vector gathers read 4 bytes per pixel: at the end of the image the portable instance
       does the same arithmetic */
    if (b->gathers && row_at + (size_t)b->max_index + 4 > b->src_bytes) {
        nnopt__aug_hrow_scalar(h);
        return;
    }
    k = h->window ? (ahead[0] >= 0 ? 0 : ahead[1] >= 0 ? 1 : -1) : -1;
    if (k >= 0) {                    /* the window kernel prefetches a row still ahead */
        h->ahead = (const uint8_t *)b->src->data + (size_t)ahead[k] * b->src_row;
        b->fetched[0] = b->fetched[1]; b->fetched[1] = ahead[k]; ahead[k] = -1;
    }
    b->hrow(h);
    h->ahead = NULL;
}

/* Source rows a and b of output row ky into the row cache (slot[r]: where row r is), with a
   row pass for each one not there; filling row b's slot never evicts row a. */
static void nnopt__bilinear_cache_rows(nnopt__bilinear_run *b, const nnopt__tap *ky, int plane, int slot[2],
                                       int ahead[2])
{
    int r;
    for (r = 0; r < 2; r++) {
        int want = r ? ky->b : ky->a;
        if (b->cached[0] == want) slot[r] = 0;
        else if (b->cached[1] == want) slot[r] = 1;
        else {
            if (r == 1 && slot[0] == b->next) b->next ^= 1;
            nnopt__bilinear_row_pass(b, plane, want, b->next, ahead);
            b->cached[b->next] = want; slot[r] = b->next; b->next ^= 1;
        }
    }
    for (r = 0; r < 2; r++)          /* the rows the row kernel did not prefetch */
        if (ahead[r] >= 0) {
            nnopt__prefetch_bytes((const uint8_t *)b->src->data + (size_t)ahead[r] * b->src_row +
                                  (size_t)b->min_index, (size_t)(b->max_index - b->min_index) + (size_t)b->channels);
            b->fetched[0] = b->fetched[1]; b->fetched[1] = ahead[r];
        }
}

/* The column pass of output row y: v = ta l0 + tb l1 from the cached rows, as floats (every
   plane of the row in one call; normalized with a plan) or as bytes, interleaved into the
   pixel row. */
static void nnopt__bilinear_column_pass(nnopt__bilinear_run *b, const nnopt__tap *ky, int y, int plane,
                                        const int slot[2])
{
    nnopt__aug_vrow_args *v = &b->v;
    const nnopt_image *dst = b->dst;
    size_t ow = (size_t)b->ow;
    int c, x;
    v->l0 = ky->l0; v->l1 = ky->l1;
    if (dst->format == NNOPT_IMAGE_F32_CHW) {
        v->ta = b->m.rows[slot[0]]; v->tb = b->m.rows[slot[1]]; v->planes = b->per; v->out_step = b->dst_plane;
        v->out_u8 = NULL; v->out_f32 = (float *)dst->data + (size_t)plane * b->dst_plane + (size_t)y * ow;
        if (b->plan) nnopt__vrow_normalize_args(v, b->plan, plane);
        b->vrows(v);
        return;
    }
    for (c = 0; c < b->per; c++) {
        v->ta = b->m.rows[slot[0]] + (size_t)c * ow; v->tb = b->m.rows[slot[1]] + (size_t)c * ow;
        v->planes = 1; v->out_f32 = NULL;
        v->out_u8 = b->channels == 1 ? (uint8_t *)dst->data + (size_t)y * ow : b->m.bytes;
        b->vrows(v);
        if (v->out_u8 == b->m.bytes) {
            uint8_t *row = (uint8_t *)dst->data + (size_t)y * ow * (size_t)b->per + (size_t)c;
            for (x = 0; x < b->ow; x++) row[(size_t)x * (size_t)b->channels] = b->m.bytes[x];
        }
    }
}

/* Output pixel (x, y) set to the fill: each channel of a uint8 pixel, or this plane's value. */
static void nnopt__bilinear_fill(const nnopt__bilinear_run *b, int x, int y, int plane)
{
    int c;
    for (c = 0; c < b->per; c++)
        nnopt__px_set(b->dst, (size_t)y * (size_t)b->ow + (size_t)x, b->u8 ? c : plane,
                      nnopt__stage_fill(b->g, b->src, b->u8 ? c : plane, b->plan));
}

static void nnopt__geo_bilinear(const nnopt_image *src, const nnopt_image *dst, const nnopt__geo *g,
                                void *work, const nnopt__norm_plan *plan)
{
    nnopt__bilinear_run b;
    int plane, y, x;
    nnopt__bilinear_setup(&b, src, dst, g, work, plan);
    for (plane = 0; plane < b.planes; plane++) {
        b.cached[0] = b.cached[1] = b.fetched[0] = b.fetched[1] = -1;
        b.next = 0;
        for (y = 0; y < g->oh; y++) {
            const nnopt__tap *ky = &g->y[y];
            int slot[2] = { 0, 0 }, ahead[2];
            nnopt__bilinear_plan_ahead(&b, y, ahead);
            if (ky->a < 0) {                       /* a padded row: all fill */
                for (x = 0; x < b.ow; x++) nnopt__bilinear_fill(&b, x, y, plane);
                continue;
            }
            nnopt__bilinear_cache_rows(&b, ky, plane, slot, ahead);
            nnopt__bilinear_column_pass(&b, ky, y, plane, slot);
            if (b.fill_columns)                    /* padded columns */
                for (x = 0; x < b.ow; x++)
                    if (g->x[x].a < 0) nnopt__bilinear_fill(&b, x, y, plane);
        }
    }
}

/* ---- Color -------------------------------------------------------------------------
   Per pixel, in float, in torchvision's operation order; uint8 results clamped to [0, 255]
   and truncated (torch's .to(uint8)), float results clamped to [0, 1]. A 4th channel is
   alpha and is copied. */
typedef enum { NNOPT__BRIGHTNESS, NNOPT__CONTRAST, NNOPT__SATURATION, NNOPT__HUE } nnopt__color_op;

static float nnopt__out_value(const nnopt_image *dst, float v)
{
    if (dst->format == NNOPT_IMAGE_U8_HWC) return nnopt__u8_trunc(v);
    return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;   /* clamp(0, 1); NaN stays */
}

/* 0.2989 R + 0.587 G + 0.114 B in float, as torchvision (then truncated for uint8). */
NNOPT__INLINE float nnopt__gray(float r, float g, float b)
{
    return 0.2989f * r + 0.587f * g + 0.114f * b;
}

static float nnopt__gray_px(const nnopt_image *m, size_t p)
{
    float v;
    if (m->channels == 1) return nnopt__px(m, p, 0);
    v = nnopt__gray(nnopt__px(m, p, 0), nnopt__px(m, p, 1), nnopt__px(m, p, 2));
    return m->format == NNOPT_IMAGE_U8_HWC ? nnopt__u8_trunc(v) : v;
}

/* torchvision _rgb2hsv / adjust / _hsv2rgb on one pixel of [0, 1] floats. */
static void nnopt__hue_shift(float rgb[3], float hue)
{
    float r = rgb[0], g = rgb[1], b = rgb[2];
    float maxc = r > g ? (r > b ? r : b) : (g > b ? g : b);
    float minc = r < g ? (r < b ? r : b) : (g < b ? g : b);
    int eqc = maxc == minc, i;
    float cr = maxc - minc, s = cr / (eqc ? 1.0f : maxc), crd = eqc ? 1.0f : cr;
    float rc = (maxc - r) / crd, gc = (maxc - g) / crd, bc = (maxc - b) / crd, h, f, p, q, t, v = maxc;
    float hr = maxc == r ? bc - gc : 0.0f;
    float hg = (maxc == g && maxc != r) ? 2.0f + rc - bc : 0.0f;
    float hb = (maxc != g && maxc != r) ? 4.0f + gc - rc : 0.0f;
    h = hr + hg + hb;
    h = fmodf(h / 6.0f + 1.0f, 1.0f);
    h = h + hue;                          /* (h + hue) % 1.0, Python's sign rule */
    h = h - floorf(h);
    if (h != h) {   /* a NaN or infinite channel: the pixel is NaN, as in torchvision, and NaN is
                       never converted to int (undefined behaviour) */
        rgb[0] = rgb[1] = rgb[2] = h;
        return;
    }
    i = (int)floorf(h * 6.0f);
    f = h * 6.0f - (float)i;
    p = v * (1.0f - s); p = p < 0.0f ? 0.0f : p > 1.0f ? 1.0f : p;
    q = v * (1.0f - s * f); q = q < 0.0f ? 0.0f : q > 1.0f ? 1.0f : q;
    t = v * (1.0f - s * (1.0f - f)); t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
    switch (i % 6) {
    case 0: rgb[0] = v; rgb[1] = t; rgb[2] = p; break;
    case 1: rgb[0] = q; rgb[1] = v; rgb[2] = p; break;
    case 2: rgb[0] = p; rgb[1] = v; rgb[2] = t; break;
    case 3: rgb[0] = p; rgb[1] = q; rgb[2] = v; break;
    case 4: rgb[0] = t; rgb[1] = p; rgb[2] = v; break;
    default: rgb[0] = v; rgb[1] = p; rgb[2] = q; break;
    }
}

/* src -> dst (same shape; may be the same image). */
static void nnopt__color(const nnopt_image *src, const nnopt_image *dst, nnopt__color_op op, double factor)
{
    size_t n = nnopt__img_pixels(src), p;
    int u8 = src->format == NNOPT_IMAGE_U8_HWC, C = src->channels, colors = C == 1 ? 1 : 3, c;
    float f = (float)factor, omf = (float)(1.0 - factor), mean = 0.0f, hue = (float)factor;
    if (op == NNOPT__CONTRAST) {             /* mean of the grayscale image, in float */
        double sum = 0.0;
        for (p = 0; p < n; p++) sum += (double)nnopt__gray_px(src, p);
        mean = (float)(sum / (double)n);
    }
    for (p = 0; p < n; p++) {
        float v[4], other = 0.0f;
        for (c = 0; c < C; c++) v[c] = nnopt__px(src, p, c);
        if (op == NNOPT__HUE) {
            if (colors == 3) {
                float rgb[3];
                for (c = 0; c < 3; c++) rgb[c] = u8 ? v[c] / 255.0f : v[c];
                nnopt__hue_shift(rgb, hue);
                for (c = 0; c < 3; c++) v[c] = u8 ? nnopt__u8_trunc(rgb[c] * 255.0f) : rgb[c];
            }
        } else if (op != NNOPT__SATURATION || colors == 3) {
            if (op == NNOPT__CONTRAST) other = mean;
            else if (op == NNOPT__SATURATION) other = nnopt__gray_px(src, p);
            for (c = 0; c < colors; c++) v[c] = nnopt__out_value(dst, f * v[c] + omf * other);
        }
        for (c = 0; c < C; c++) nnopt__px_set(dst, p, c, v[c]);
    }
}

static nnopt_status nnopt__color_checked(const nnopt_image *src, const nnopt_image *dst,
                                         nnopt__color_op op, double factor)
{
    int factor_ok = nnopt__finite(factor) &&
                    (op == NNOPT__HUE ? factor >= -0.5 && factor <= 0.5 : factor >= 0.0);
    if (!nnopt__img_pair_ok(src, dst) || !nnopt__img_same_size(src, dst) ||
        !NNOPT__REQUIRE(factor_ok, "factor",
                        op == NNOPT__HUE ? "must lie in [-0.5, 0.5]" : "must be finite and >= 0"))
        return NNOPT_ERR_INVALID;
    nnopt__color(src, dst, op, factor);
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_aug_brightness(const nnopt_image *src, const nnopt_image *dst, double factor)
{ return NNOPT__CHECKED(nnopt__color_checked(src, dst, NNOPT__BRIGHTNESS, factor)); }
NNOPT_API nnopt_status nnopt_aug_contrast(const nnopt_image *src, const nnopt_image *dst, double factor)
{ return NNOPT__CHECKED(nnopt__color_checked(src, dst, NNOPT__CONTRAST, factor)); }
NNOPT_API nnopt_status nnopt_aug_saturation(const nnopt_image *src, const nnopt_image *dst, double factor)
{ return NNOPT__CHECKED(nnopt__color_checked(src, dst, NNOPT__SATURATION, factor)); }
NNOPT_API nnopt_status nnopt_aug_hue(const nnopt_image *src, const nnopt_image *dst, double factor)
{ return NNOPT__CHECKED(nnopt__color_checked(src, dst, NNOPT__HUE, factor)); }

/* Grayscale into dst's channels (1, 3, or 4 keeping alpha); dst may be src. */
static void nnopt__grayscale(const nnopt_image *src, const nnopt_image *dst)
{
    size_t n = nnopt__img_pixels(src), p;
    int c;
    for (p = 0; p < n; p++) {
        float gray = nnopt__gray_px(src, p), alpha = src->channels == 4 ? nnopt__px(src, p, 3) : 0.0f;
        for (c = 0; c < dst->channels && c < 3; c++) nnopt__px_set(dst, p, c, gray);
        if (dst->channels == 4) nnopt__px_set(dst, p, 3, alpha);
    }
}

NNOPT_API nnopt_status nnopt_aug_grayscale(const nnopt_image *src, const nnopt_image *dst)
{
    if (!nnopt__img_ok(src, "src") || !nnopt__img_ok(dst, "dst") ||
        !NNOPT__REQUIRE(src->format == dst->format, "dst", "format differs from src's") ||
        !nnopt__img_same_size(src, dst) ||
        !NNOPT__REQUIRE(!nnopt__img_overlap(src, dst), "dst", "overlaps src") ||
        !NNOPT__REQUIRE(dst->channels == 1 || dst->channels == 3 ||
                        (dst->channels == 4 && src->channels == 4), "dst",
                        "channels must be 1 or 3 (4 only when src has 4)"))
        return NNOPT__FAILED(NNOPT_ERR_INVALID);
    nnopt__grayscale(src, dst);
    return NNOPT_OK;
}

/* ---- Normalize (fused with the uint8 -> float conversion), erase, noise --------------- */

#define NNOPT__AUG_CHUNK 4096

/* Float images: the kernel over each plane with mean[c] and std[c]. uint8 images: a byte has
   256 values, so the plan's table (for the same mean and std) holds what the kernel gives
   each, and the pixels are looked up, which also takes the channel out of the interleaved
   bytes. */
static void nnopt__normalize(const nnopt_image *src, const nnopt_image *dst, const float *mean, const float *std,
                             const nnopt__norm_plan *plan)
{
    size_t n = nnopt__img_pixels(src), p, C = (size_t)src->channels;
    nnopt__aug_norm_args a;
    int c;
    for (c = 0; c < src->channels; c++) {
        float *out = (float *)dst->data + (size_t)c * n;
        if (src->format == NNOPT_IMAGE_F32_CHW) {
            a.n = n; a.u8 = NULL; a.f32 = (const float *)src->data + (size_t)c * n; a.out = out;
            a.mean = mean[c]; a.std = std[c];
            NNOPT__PICK(aug_normalize)(&a);
        } else {
            const float *table = plan->table[c];
            const uint8_t *s = (const uint8_t *)src->data + c;
            for (p = 0; p < n; p++) out[p] = table[s[p * C]];
        }
    }
}

/* mean and std of a normalization: given, finite, std != 0. of_op: a pipeline op's (the
   error detail then names ops). */
static int nnopt__mean_std_ok(const float *mean, const float *std, int channels, int of_op)
{
    int c, mean_ok = 1, std_ok = 1;
    if (!NNOPT__REQUIRE(mean != NULL, "mean", "is NULL") || !NNOPT__REQUIRE(std != NULL, "std", "is NULL"))
        return 0;
    for (c = 0; c < channels; c++) {
        mean_ok = mean_ok && nnopt__finite(mean[c]);
        std_ok = std_ok && nnopt__finite(std[c]) && std[c] != 0.0f;
    }
    return NNOPT__REQUIRE(mean_ok, of_op ? "ops" : "mean",
                          of_op ? "a normalize mean is not finite" : "has a value that is not finite") &&
           NNOPT__REQUIRE(std_ok, of_op ? "ops" : "std",
                          of_op ? "a normalize std is 0 or not finite"
                                : "has a value that is 0 or not finite");
}

NNOPT_API nnopt_status nnopt_aug_normalize(const nnopt_image *src, const nnopt_image *dst,
                                           const float *mean, const float *std)
{
    nnopt__norm_plan plan;         /* 4 KB: on the stack, so nothing is allocated */
    if (!nnopt__img_ok(src, "src") || !nnopt__img_ok(dst, "dst") ||
        !NNOPT__REQUIRE(dst->format == NNOPT_IMAGE_F32_CHW, "dst", "is not a float CHW image") ||
        !NNOPT__REQUIRE(src->channels == dst->channels, "dst", "channels differ from src's") ||
        !nnopt__img_same_size(src, dst) ||
        !NNOPT__REQUIRE(!nnopt__img_overlap(src, dst), "dst", "overlaps src") ||
        !nnopt__mean_std_ok(mean, std, src->channels, 0))
        return NNOPT__FAILED(NNOPT_ERR_INVALID);
    if (src->format == NNOPT_IMAGE_U8_HWC) nnopt__norm_plan_init(&plan, src->channels, mean, std);
    else memset(&plan, 0, sizeof plan);          /* float images do not read it */
    nnopt__normalize(src, dst, mean, std, &plan);
    return NNOPT_OK;
}

static void nnopt__erase(const nnopt_image *img, int top, int left, int height, int width, const float *value)
{
    int x, y, c;
    for (y = top; y < top + height; y++)
        for (x = left; x < left + width; x++)
            for (c = 0; c < img->channels; c++) {
                float v = value ? value[c] : 0.0f;
                nnopt__px_set(img, (size_t)y * (size_t)img->width + (size_t)x, c,
                              img->format == NNOPT_IMAGE_U8_HWC ? nnopt__u8_trunc(v) : v);
            }
}

NNOPT_API nnopt_status nnopt_aug_erase(const nnopt_image *img, int top, int left, int height,
                                       int width, const float *value)
{
    if (!nnopt__img_ok(img, "img") || !nnopt__window_ok(img, top, left, height, width, 0) ||
        !NNOPT__REQUIRE(nnopt__fill_ok(value, img->channels), "value", "has a value that is not finite"))
        return NNOPT__FAILED(NNOPT_ERR_INVALID);
    nnopt__erase(img, top, left, height, width, value);
    return NNOPT_OK;
}

/* The window of a float CHW image gets normal numbers offset .. offset + C h w - 1, in the
   window's CHW order (the caller checked that the last index exists): whole chunks are drawn
   at once and poured into the window's rows. */
static nnopt_status nnopt__erase_normal(const nnopt_image *img, int top, int left, int height, int width,
                                        uint64_t seed, uint64_t stream, uint64_t offset)
{
    size_t total = (size_t)img->channels * (size_t)height * (size_t)width, at, p, run;
    size_t row = 0, col = 0;                 /* position of the next value: row c*height + y */
    float *data = (float *)img->data;
    for (at = 0; at < total; at += NNOPT__AUG_CHUNK) {
        float z[NNOPT__AUG_CHUNK];
        size_t len = total - at < NNOPT__AUG_CHUNK ? total - at : NNOPT__AUG_CHUNK;
        nnopt_rng rng;
        nnopt_status st;
        rng.seed = seed; rng.stream = stream; rng.offset = offset + at;
        st = nnopt_random_normal(&rng, z, len, 0.0, 1.0);
        if (st != NNOPT_OK) return st;
        for (p = 0; p < len; p += run) {
            size_t c = row / (size_t)height, y = (size_t)top + row % (size_t)height;
            run = (size_t)width - col < len - p ? (size_t)width - col : len - p;
            memcpy(data + (c * (size_t)img->height + y) * (size_t)img->width + (size_t)left + col, z + p,
                   run * sizeof(float));
            col += run;
            if (col == (size_t)width) { col = 0; row++; }
        }
    }
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_aug_erase_normal(const nnopt_image *img, int top, int left, int height,
                                              int width, uint64_t seed, uint64_t stream, uint64_t offset)
{
    uint64_t total;
    if (!nnopt__img_ok(img, "img") ||
        !NNOPT__REQUIRE(img->format == NNOPT_IMAGE_F32_CHW, "img", "is not a float CHW image") ||
        !nnopt__window_ok(img, top, left, height, width, 0))
        return NNOPT__FAILED(NNOPT_ERR_INVALID);
    total = (uint64_t)img->channels * (uint64_t)height * (uint64_t)width;
    NNOPT__CHECK(nnopt__stream_holds(offset, total), "offset",
                 "the window's normals run past the end of the stream");
    return nnopt__erase_normal(img, top, left, height, width, seed, stream, offset);
}

/* src -> dst (may be the same image); normal number e of values in CHW order. */
static nnopt_status nnopt__noise(const nnopt_image *src, const nnopt_image *dst, double mean, double sigma,
                                 int clip, uint64_t seed, uint64_t stream, uint64_t offset)
{
    size_t n = nnopt__img_pixels(src), at, p;
    int c, u8 = src->format == NNOPT_IMAGE_U8_HWC;
    float m = (float)mean, s = (float)sigma, hi = u8 ? 255.0f : 1.0f;
    for (c = 0; c < src->channels; c++)
        for (at = 0; at < n; at += NNOPT__AUG_CHUNK) {
            float z[NNOPT__AUG_CHUNK];
            size_t len = n - at < NNOPT__AUG_CHUNK ? n - at : NNOPT__AUG_CHUNK;
            nnopt_rng rng;
            nnopt_status st;
            rng.seed = seed; rng.stream = stream; rng.offset = offset + (size_t)c * n + at;
            st = nnopt_random_normal(&rng, z, len, 0.0f, 1.0f);
            if (st != NNOPT_OK) return st;
            for (p = 0; p < len; p++) {
                float noise = m + s * z[p], v;
                if (u8) noise = 255.0f * noise;
                v = nnopt__px(src, at + p, c) + noise;
                if (clip || u8) v = v < 0.0f ? 0.0f : v > hi ? hi : v;
                nnopt__px_set(dst, at + p, c, u8 ? nnopt__u8_round(v) : v);
            }
        }
    return NNOPT_OK;
}

NNOPT_API nnopt_status nnopt_aug_gaussian_noise(const nnopt_image *src, const nnopt_image *dst,
                                                double mean, double sigma, int clip,
                                                uint64_t seed, uint64_t stream, uint64_t offset)
{
    if (!nnopt__img_pair_ok(src, dst) || !nnopt__img_same_size(src, dst) ||
        !NNOPT__REQUIRE(nnopt__finite(mean), "mean", "is not finite") ||
        !NNOPT__REQUIRE(nnopt__finite(sigma) && sigma >= 0.0, "sigma", "must be finite and >= 0") ||
        !NNOPT__REQUIRE(nnopt__stream_holds(offset, nnopt__img_pixels(src) * (size_t)src->channels), "offset",
                        "the image's normals run past the end of the stream"))
        return NNOPT__FAILED(NNOPT_ERR_INVALID);
    return nnopt__noise(src, dst, mean, sigma, clip, seed, stream, offset);
}

/* ---- Random parameters (host code, shared by every path) ---------------------------- */

static uint32_t nnopt__aug_word(uint64_t seed, uint64_t stream, uint64_t index)
{
    return nnopt_random_word(seed, stream, index);
}
/* word * 2^-32 in [0, 1), and (word + 1) 2^-32 in (0, 1] for logarithms. */
static double nnopt__aug_u01(uint64_t seed, uint64_t stream, uint64_t index)
{
    return (double)nnopt__aug_word(seed, stream, index) * (1.0 / 4294967296.0);
}
static double nnopt__aug_u01_open(uint64_t seed, uint64_t stream, uint64_t index)
{
    return ((double)nnopt__aug_word(seed, stream, index) + 1.0) * (1.0 / 4294967296.0);
}
/* Uniform integer in [0, n): the high word of word * n. */
static int nnopt__aug_below(uint64_t seed, uint64_t stream, uint64_t index, int n)
{
    return (int)(((uint64_t)nnopt__aug_word(seed, stream, index) * (uint64_t)n) >> 32);
}
/* The project's Bernoulli rule: the 24-bit uniform < p. */
static int nnopt__aug_event(uint64_t seed, uint64_t stream, uint64_t index, double p)
{
    return (double)nnopt_random_uniform_at(seed, stream, index) < p;
}

/* Gamma(a) by Marsaglia-Tsang from the words at base, base + 1, ... (shape < 1: boosted
   from a + 1 by u^(1/a), u = word base). Attempt t uses words base + 1 + 3t .. + 3. */
static double nnopt__aug_gamma(uint64_t seed, uint64_t stream, uint64_t base, double a)
{
    double boost = 1.0, d, c;
    int t;
    if (a < 1.0) {
        boost = pow(nnopt__aug_u01_open(seed, stream, base), 1.0 / a);
        a += 1.0;
    }
    d = a - 1.0 / 3.0; c = 1.0 / sqrt(9.0 * d);
    for (t = 0; t < 8192; t++) {
        uint64_t i = base + 1 + 3 * (uint64_t)t;
        double x = sqrt(-2.0 * log(nnopt__aug_u01_open(seed, stream, i))) *
                   cos(6.283185307179586 * nnopt__aug_u01(seed, stream, i + 1));
        double v = 1.0 + c * x, u;
        if (v <= 0.0) continue;
        v = v * v * v;
        u = nnopt__aug_u01_open(seed, stream, i + 2);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v * boost;
    }
    return d * boost;   /* not reached in practice: each attempt succeeds with probability > 0.95 */
}

NNOPT_API double nnopt_random_beta_at(uint64_t seed, uint64_t stream, uint64_t index, double alpha, double beta)
{
    uint64_t base = index << 16;
    double x, y;
    if (!nnopt__finite(alpha) || !nnopt__finite(beta) || alpha <= 0.0 || beta <= 0.0) return NAN;
    x = nnopt__aug_gamma(seed, stream, base, alpha);
    y = nnopt__aug_gamma(seed, stream, base + 32768, beta);
    if (x + y == 0.0) return (nnopt__aug_word(seed, stream, base + 65535) & 1) ? 1.0 : 0.0;
    return x / (x + y);
}

/* ---- MixUp and CutMix --------------------------------------------------------------- */

/* A batch of n images of image_size values in format f (float: aligned), soft labels and
   labels that fit, no two of images, out, soft labels and labels overlapping. */
static int nnopt__mix_ok(const void *images, const void *out, size_t n, size_t image_size, nnopt_image_format f,
                         const int *labels, size_t classes, const float *soft)
{
    size_t i, bytes, sb, elem = nnopt__fmt_size(f);
    const int f32 = f == NNOPT_IMAGE_F32_CHW;
    if (!NNOPT__REQUIRE(n != 0, "n", "is 0") || !NNOPT__REQUIRE(image_size != 0, "image_size", "is 0") ||
        !NNOPT__REQUIRE(images != NULL, "images", "is NULL") ||
        !NNOPT__REQUIRE(out != NULL, "out", "is NULL") ||
        !NNOPT__REQUIRE(!f32 || nnopt__ptr_ok(images, 1), "images", "is not aligned to float") ||
        !NNOPT__REQUIRE(!f32 || nnopt__ptr_ok(out, 1), "out", "is not aligned to float") ||
        !NNOPT__REQUIRE(image_size <= ((size_t)-1 / elem) / n, "n", "the batch is larger than size_t holds"))
        return 0;
    bytes = n * image_size * elem;
    if (!NNOPT__REQUIRE(!nnopt__ranges_overlap(images, bytes, out, bytes), "out", "overlaps images") ||
        !NNOPT__REQUIRE(!labels == !soft, "labels, soft_labels", "must both be NULL or both be given"))
        return 0;
    if (!labels) return 1;
    if (!NNOPT__REQUIRE(classes != 0, "classes", "is 0") ||
        !NNOPT__REQUIRE(nnopt__ptr_ok(soft, 1), "soft_labels", "is not aligned to float") ||
        !NNOPT__REQUIRE(classes <= ((size_t)-1 / sizeof(float)) / n, "classes", "times n overflows"))
        return 0;
    sb = n * classes * sizeof(float);
    if (!NNOPT__REQUIRE(!nnopt__ranges_overlap(soft, sb, out, bytes), "soft_labels", "overlaps out") ||
        !NNOPT__REQUIRE(!nnopt__ranges_overlap(soft, sb, images, bytes), "soft_labels", "overlaps images") ||
        !NNOPT__REQUIRE(!nnopt__ranges_overlap(soft, sb, labels, n * sizeof(int)), "soft_labels",
                        "overlaps labels"))
        return 0;
    for (i = 0; i < n; i++)
        if (!NNOPT__REQUIRE(labels[i] >= 0 && (size_t)labels[i] < classes, "labels",
                            "a label is outside [0, classes)"))
            return 0;
    return 1;
}

/* soft_i = (1 - lam) onehot(y_{i-1}) + lam onehot(y_i), as torchvision's rolled.mul_(1 - lam)
   .add_(batch.mul_(lam)) in float. */
static void nnopt__mix_labels(const int *labels, size_t n, size_t classes, float *soft, double lam)
{
    float l = (float)lam, oml = (float)(1.0 - lam);
    size_t i, k;
    if (!labels) return;
    for (i = 0; i < n; i++) {
        int prev = labels[i == 0 ? n - 1 : i - 1];
        for (k = 0; k < classes; k++)
            soft[i * classes + k] = (prev == (int)k ? 1.0f : 0.0f) * oml + (labels[i] == (int)k ? 1.0f : 0.0f) * l;
    }
}

/* MixUp of n images of image_size values in format f (the layout does not matter): the value
   is (1 - lam) prev + lam x in float, as torchvision's rolled.mul_(1 - lam).add_(batch.mul_(lam));
   uint8 rounds it half to even (V(aug_mix), one call per image). */
static nnopt_status nnopt__mixup(const void *images, void *out, size_t n, size_t image_size, nnopt_image_format f,
                                 const int *labels, size_t classes, float *soft_labels, double lam)
{
    nnopt__aug_mix_args a;
    void (*kernel)(nnopt__aug_mix_args *) = NNOPT__PICK(aug_mix);
    size_t i;
    if (!nnopt__mix_ok(images, out, n, image_size, f, labels, classes, soft_labels) ||
        !NNOPT__REQUIRE(nnopt__finite(lam) && lam >= 0.0 && lam <= 1.0, "lam", "must lie in [0, 1]"))
        return NNOPT_ERR_INVALID;
    memset(&a, 0, sizeof a);
    a.n = image_size;
    a.lam = (float)lam;
    a.one_minus_lam = (float)(1.0 - lam);
    for (i = 0; i < n; i++) {
        size_t at = i * image_size, prev = (i == 0 ? n - 1 : i - 1) * image_size;
        if (f == NNOPT_IMAGE_F32_CHW) {
            a.prev_f32 = (const float *)images + prev; a.x_f32 = (const float *)images + at;
            a.out_f32 = (float *)out + at;
        } else {
            a.prev_u8 = (const uint8_t *)images + prev; a.x_u8 = (const uint8_t *)images + at;
            a.out_u8 = (uint8_t *)out + at;
        }
        kernel(&a);
    }
    nnopt__mix_labels(labels, n, classes, soft_labels, lam);
    return NNOPT_OK;
}

/* CutMix of n images in format f: out = images, then each image's box (x1, y1) .. (x2, y2)
   copied from its predecessor, byte for byte; labels mixed with 1 - box area / image area. */
static nnopt_status nnopt__cutmix(const void *images, void *out, size_t n, nnopt_image_format f, int channels,
                                  int height, int width, const int *labels, size_t classes, float *soft_labels,
                                  int x1, int y1, int x2, int y2, double *lam_adjusted)
{
    size_t i, image_size, elem = nnopt__fmt_size(f), planes, plane_bytes, pixel_bytes, row_bytes, k;
    int y;
    double lam;
    if (!nnopt__shape_ok(f, width, height, channels) ||
        !NNOPT__REQUIRE(x1 >= 0 && y1 >= 0, "x1, y1", "must be >= 0") ||
        !NNOPT__REQUIRE(x2 >= x1 && y2 >= y1, "x2, y2", "must be >= x1, y1") ||
        !NNOPT__REQUIRE(x2 <= width && y2 <= height, "x2, y2", "must be <= width, height"))
        return NNOPT_ERR_INVALID;
    image_size = nnopt__img_values(f, width, height, channels);
    if (!nnopt__mix_ok(images, out, n, image_size, f, labels, classes, soft_labels)) return NNOPT_ERR_INVALID;
    /* the box: in each plane (CHW: one per channel; HWC: one), rows y1 .. y2 - 1 of pixels x1 .. x2 - 1 */
    planes = f == NNOPT_IMAGE_F32_CHW ? (size_t)channels : 1;
    plane_bytes = image_size * elem / planes;
    pixel_bytes = image_size * elem / planes / ((size_t)width * (size_t)height);
    row_bytes = (size_t)width * pixel_bytes;
    lam = 1.0 - (double)(x2 - x1) * (double)(y2 - y1) / ((double)width * (double)height);
    memcpy(out, images, n * image_size * elem);
    for (i = 0; i < n; i++) {
        const char *prev = (const char *)images + (i == 0 ? n - 1 : i - 1) * image_size * elem;
        char *o = (char *)out + i * image_size * elem;
        for (k = 0; k < planes; k++)
            for (y = y1; y < y2; y++) {
                size_t at = k * plane_bytes + (size_t)y * row_bytes + (size_t)x1 * pixel_bytes;
                memcpy(o + at, prev + at, (size_t)(x2 - x1) * pixel_bytes);
            }
    }
    nnopt__mix_labels(labels, n, classes, soft_labels, lam);
    if (lam_adjusted) *lam_adjusted = lam;
    return NNOPT_OK;
}

/* The random forms' draws, one definition for every format: lam = Beta draw 0 of the stream;
   CutMix's box centre x = word 65536, y = word 65537, half sizes int(0.5 sqrt(1 - lam) W)
   (and H), the box clipped to the image. */
static double nnopt__mix_lam(uint64_t seed, uint64_t stream, double alpha)
{
    return nnopt_random_beta_at(seed, stream, 0, alpha, alpha);
}

static void nnopt__cutmix_box(uint64_t seed, uint64_t stream, double lam, int width, int height, int box[4])
{
    int cx = nnopt__aug_below(seed, stream, 65536, width), cy = nnopt__aug_below(seed, stream, 65537, height);
    double r = 0.5 * sqrt(1.0 - lam);
    int hw = (int)(r * width), hh = (int)(r * height);
    box[0] = cx - hw < 0 ? 0 : cx - hw; box[2] = cx + hw > width ? width : cx + hw;
    box[1] = cy - hh < 0 ? 0 : cy - hh; box[3] = cy + hh > height ? height : cy + hh;
}

static nnopt_status nnopt__mixup_random(const void *images, void *out, size_t n, size_t image_size,
                                        nnopt_image_format f, const int *labels, size_t classes,
                                        float *soft_labels, double alpha, uint64_t seed, uint64_t stream,
                                        double *lam)
{
    double l;
    nnopt_status st;
    if (!NNOPT__REQUIRE(nnopt__finite(alpha) && alpha > 0.0, "alpha", "must be finite and > 0"))
        return NNOPT_ERR_INVALID;
    l = nnopt__mix_lam(seed, stream, alpha);
    st = nnopt__mixup(images, out, n, image_size, f, labels, classes, soft_labels, l);
    if (st == NNOPT_OK && lam) *lam = l;
    return st;
}

static nnopt_status nnopt__cutmix_random(const void *images, void *out, size_t n, nnopt_image_format f,
                                         int channels, int height, int width, const int *labels,
                                         size_t classes, float *soft_labels, double alpha, uint64_t seed,
                                         uint64_t stream, double params[6])
{
    double l, lam_adj;
    int box[4];
    nnopt_status st;
    if (!NNOPT__REQUIRE(nnopt__finite(alpha) && alpha > 0.0, "alpha", "must be finite and > 0") ||
        !NNOPT__REQUIRE(width > 0 && height > 0, "width, height", "must be > 0"))
        return NNOPT_ERR_INVALID;
    l = nnopt__mix_lam(seed, stream, alpha);
    nnopt__cutmix_box(seed, stream, l, width, height, box);
    st = nnopt__cutmix(images, out, n, f, channels, height, width, labels, classes, soft_labels,
                       box[0], box[1], box[2], box[3], &lam_adj);
    if (st == NNOPT_OK && params) {
        params[0] = l; params[1] = box[0]; params[2] = box[1]; params[3] = box[2]; params[4] = box[3];
        params[5] = lam_adj;
    }
    return st;
}

NNOPT_API nnopt_status nnopt_aug_mixup(const float *images, float *out, size_t n, size_t image_size,
                                       const int *labels, size_t classes, float *soft_labels, double lam)
{
    return NNOPT__CHECKED(nnopt__mixup(images, out, n, image_size, NNOPT_IMAGE_F32_CHW, labels, classes,
                                       soft_labels, lam));
}

NNOPT_API nnopt_status nnopt_aug_mixup_u8(const uint8_t *images, uint8_t *out, size_t n, size_t image_size,
                                          const int *labels, size_t classes, float *soft_labels, double lam)
{
    return NNOPT__CHECKED(nnopt__mixup(images, out, n, image_size, NNOPT_IMAGE_U8_HWC, labels, classes,
                                       soft_labels, lam));
}

NNOPT_API nnopt_status nnopt_aug_cutmix(const float *images, float *out, size_t n, int channels,
                                        int height, int width, const int *labels, size_t classes,
                                        float *soft_labels, int x1, int y1, int x2, int y2,
                                        double *lam_adjusted)
{
    return NNOPT__CHECKED(nnopt__cutmix(images, out, n, NNOPT_IMAGE_F32_CHW, channels, height, width, labels,
                                        classes, soft_labels, x1, y1, x2, y2, lam_adjusted));
}

NNOPT_API nnopt_status nnopt_aug_cutmix_u8(const uint8_t *images, uint8_t *out, size_t n, int channels,
                                           int height, int width, const int *labels, size_t classes,
                                           float *soft_labels, int x1, int y1, int x2, int y2,
                                           double *lam_adjusted)
{
    return NNOPT__CHECKED(nnopt__cutmix(images, out, n, NNOPT_IMAGE_U8_HWC, channels, height, width, labels,
                                        classes, soft_labels, x1, y1, x2, y2, lam_adjusted));
}

NNOPT_API nnopt_status nnopt_aug_mixup_random(const float *images, float *out, size_t n,
                                              size_t image_size, const int *labels, size_t classes,
                                              float *soft_labels, double alpha, uint64_t seed,
                                              uint64_t stream, double *lam)
{
    return NNOPT__CHECKED(nnopt__mixup_random(images, out, n, image_size, NNOPT_IMAGE_F32_CHW, labels,
                                              classes, soft_labels, alpha, seed, stream, lam));
}

NNOPT_API nnopt_status nnopt_aug_mixup_random_u8(const uint8_t *images, uint8_t *out, size_t n,
                                                 size_t image_size, const int *labels, size_t classes,
                                                 float *soft_labels, double alpha, uint64_t seed,
                                                 uint64_t stream, double *lam)
{
    return NNOPT__CHECKED(nnopt__mixup_random(images, out, n, image_size, NNOPT_IMAGE_U8_HWC, labels,
                                              classes, soft_labels, alpha, seed, stream, lam));
}

NNOPT_API nnopt_status nnopt_aug_cutmix_random(const float *images, float *out, size_t n, int channels,
                                               int height, int width, const int *labels,
                                               size_t classes, float *soft_labels, double alpha,
                                               uint64_t seed, uint64_t stream, double params[6])
{
    return NNOPT__CHECKED(nnopt__cutmix_random(images, out, n, NNOPT_IMAGE_F32_CHW, channels, height, width,
                                               labels, classes, soft_labels, alpha, seed, stream, params));
}

NNOPT_API nnopt_status nnopt_aug_cutmix_random_u8(const uint8_t *images, uint8_t *out, size_t n,
                                                  int channels, int height, int width,
                                                  const int *labels, size_t classes,
                                                  float *soft_labels, double alpha, uint64_t seed,
                                                  uint64_t stream, double params[6])
{
    return NNOPT__CHECKED(nnopt__cutmix_random(images, out, n, NNOPT_IMAGE_U8_HWC, channels, height, width,
                                               labels, classes, soft_labels, alpha, seed, stream, params));
}

/* ---- Pipelines ---------------------------------------------------------------------- */

NNOPT_API nnopt_aug_op nnopt_aug_op_defaults(nnopt_aug_kind kind)
{
    nnopt_aug_op op;
    int c;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    op.p = kind == NNOPT_AUG_GRAYSCALE ? 0.1 : 0.5;
    op.pad_mode = NNOPT_PAD_CONSTANT;
    op.interp = NNOPT_INTERP_BILINEAR;
    if (kind == NNOPT_AUG_RANDOM_ERASING) {
        op.scale[0] = 0.02; op.scale[1] = 0.33; op.ratio[0] = 0.3; op.ratio[1] = 3.3;
    } else {
        op.scale[0] = 0.08; op.scale[1] = 1.0; op.ratio[0] = 3.0 / 4.0; op.ratio[1] = 4.0 / 3.0;
    }
    op.brightness[0] = op.brightness[1] = 1.0;
    op.contrast[0] = op.contrast[1] = 1.0;
    op.saturation[0] = op.saturation[1] = 1.0;
    for (c = 0; c < 4; c++) op.std[c] = 1.0f;
    op.noise_sigma = 0.1; op.clip = 1;
    return op;
}

static int nnopt__aug_geometric(nnopt_aug_kind k)
{
    return k == NNOPT_AUG_PAD || k == NNOPT_AUG_CROP || k == NNOPT_AUG_CENTER_CROP ||
           k == NNOPT_AUG_RANDOM_CROP || k == NNOPT_AUG_RESIZE || k == NNOPT_AUG_RANDOM_RESIZED_CROP ||
           k == NNOPT_AUG_HFLIP || k == NNOPT_AUG_VFLIP;
}

static int nnopt__range_ok(const double r[2], double lo, double hi)
{
    return nnopt__finite(r[0]) && nnopt__finite(r[1]) && lo <= r[0] && r[0] <= r[1] && r[1] <= hi;
}

/* RandomCrop pads twice, as torchvision: the op's pad, then (pad_if_needed) the padded image
   again by (crop - size) on both sides of a side shorter than the crop. These are the second
   pads (left, top, right, bottom) for a padded image of pw x ph; reflect and symmetric
   padding of an already padded image mirror at its new border. */
static void nnopt__random_crop_extra(const nnopt_aug_op *op, int pw, int ph, int extra[4])
{
    extra[0] = extra[1] = extra[2] = extra[3] = 0;
    if (!op->pad_if_needed) return;
    if (pw < op->width) extra[0] = extra[2] = op->width - pw;
    if (ph < op->height) extra[1] = extra[3] = op->height - ph;
}

/* The output sizes of the sized ops: 1 .. 2^24 (pad_if_needed grows an image to them). */
static int nnopt__aug_side_ok(int n) { return n > 0 && n <= (1 << 24); }

static int nnopt__aug_p_ok(const nnopt_aug_op *op)
{
    return NNOPT__REQUIRE(nnopt__finite(op->p) && op->p >= 0.0 && op->p <= 1.0, "ops",
                          "an op's p must lie in [0, 1]");
}

/* PAD and RANDOM_CROP (which pads first, then crops): nnopt__aug_op_check's rules. */
static int nnopt__aug_pad_check(const nnopt_aug_op *op, int *w, int *h, int c)
{
    int k, extra[4], pads_ok = 1;
    if (op->kind == NNOPT_AUG_RANDOM_CROP &&
        !NNOPT__REQUIRE(nnopt__aug_side_ok(op->width) && nnopt__aug_side_ok(op->height), "ops",
                        "a random crop's width and height must lie in [1, 2^24]"))
        return 0;
    for (k = 0; k < 4; k++) pads_ok = pads_ok && op->pad[k] >= 0 && op->pad[k] <= (1 << 24);
    if (!NNOPT__REQUIRE(pads_ok, "ops", "a pad must lie in [0, 2^24]") ||
        !NNOPT__REQUIRE(nnopt__pad_mode_ok(op->pad_mode), "ops", "a pad_mode is not a nnopt_pad_mode") ||
        !nnopt__pad_ok(*w, op->pad[0], op->pad[2], op->pad_mode, "ops") ||
        !nnopt__pad_ok(*h, op->pad[1], op->pad[3], op->pad_mode, "ops") ||
        !NNOPT__REQUIRE(nnopt__fill_ok(op->fill, c), "ops", "a pad's fill value is not finite"))
        return 0;
    *w += op->pad[0] + op->pad[2]; *h += op->pad[1] + op->pad[3];
    if (op->kind != NNOPT_AUG_RANDOM_CROP) return 1;
    nnopt__random_crop_extra(op, *w, *h, extra);
    if (!nnopt__pad_ok(*w, extra[0], extra[2], op->pad_mode, "ops") ||
        !nnopt__pad_ok(*h, extra[1], extra[3], op->pad_mode, "ops"))
        return 0;
    *w += extra[0] + extra[2]; *h += extra[1] + extra[3];
    if (!NNOPT__REQUIRE(op->width <= *w && op->height <= *h, "ops",
                        "a random crop is larger than its padded input"))
        return 0;
    *w = op->width; *h = op->height;
    return 1;
}

/* CROP, CENTER_CROP, RESIZE and RANDOM_RESIZED_CROP: nnopt__aug_op_check's rules. */
static int nnopt__aug_sized_check(const nnopt_aug_op *op, int *w, int *h)
{
    const int rrc = op->kind == NNOPT_AUG_RANDOM_RESIZED_CROP;
    if (op->kind == NNOPT_AUG_CROP) {
        if (!NNOPT__REQUIRE(op->width > 0 && op->height > 0, "ops",
                            "a crop's width and height must be > 0") ||
            !NNOPT__REQUIRE(op->top >= 0 && op->left >= 0, "ops", "a crop's top and left must be >= 0") ||
            !NNOPT__REQUIRE(op->top <= *h - op->height && op->left <= *w - op->width, "ops",
                            "a crop's window does not fit in its input"))
            return 0;
    } else if (!NNOPT__REQUIRE(nnopt__aug_side_ok(op->width) && nnopt__aug_side_ok(op->height), "ops",
                               "a resize's or center crop's width and height must lie in [1, 2^24]") ||
               !NNOPT__REQUIRE(op->kind == NNOPT_AUG_CENTER_CROP || op->interp == NNOPT_INTERP_BILINEAR ||
                               op->interp == NNOPT_INTERP_NEAREST, "ops",
                               "an interp is not NNOPT_INTERP_BILINEAR or NNOPT_INTERP_NEAREST") ||
               !NNOPT__REQUIRE(!rrc || nnopt__range_ok(op->scale, 0.0, 1e300), "ops",
                               "a random resized crop's scale is not a finite range 0 <= lo <= hi") ||
               !NNOPT__REQUIRE(!rrc || nnopt__range_ok(op->ratio, 1e-300, 1e300), "ops",
                               "a random resized crop's ratio is not a finite range 0 < lo <= hi")) {
        return 0;
    }
    *w = op->width; *h = op->height;
    return 1;
}

/* RANDOM_ERASING on an image of format f, w x h x c: nnopt__aug_op_check's rules. Random
   values: float images only (see nnopt_aug_erase_normal), and the window's indices must stay
   below the next op's 2^32. */
static int nnopt__aug_erasing_check(const nnopt_aug_op *op, nnopt_image_format f, int w, int h, int c)
{
    return NNOPT__REQUIRE(!op->random_value || f == NNOPT_IMAGE_F32_CHW, "ops",
                          "random erasing with random_value needs a float image") &&
           NNOPT__REQUIRE(!op->random_value || (uint64_t)w * (uint64_t)h * (uint64_t)c <= ((uint64_t)1 << 32),
                          "ops", "random erasing with random_value needs an image of at most 2^32 values") &&
           nnopt__aug_p_ok(op) &&
           NNOPT__REQUIRE(nnopt__range_ok(op->scale, 0.0, 1.0), "ops",
                          "a random erasing's scale is not a range 0 <= lo <= hi <= 1") &&
           NNOPT__REQUIRE(nnopt__range_ok(op->ratio, 1e-300, 1e300), "ops",
                          "a random erasing's ratio is not a finite range 0 < lo <= hi") &&
           NNOPT__REQUIRE(nnopt__fill_ok(op->value, c), "ops", "a random erasing value is not finite");
}

/* Checks op against the image shape before it and gives the shape after. A failure names
   "ops" and the rule (nnopt_last_error). */
static int nnopt__aug_op_check(const nnopt_aug_op *op, nnopt_image_format *f, int *w, int *h, int c)
{
    switch (op->kind) {
    case NNOPT_AUG_PAD:
    case NNOPT_AUG_RANDOM_CROP:
        return nnopt__aug_pad_check(op, w, h, c);
    case NNOPT_AUG_CROP:
    case NNOPT_AUG_CENTER_CROP:
    case NNOPT_AUG_RESIZE:
    case NNOPT_AUG_RANDOM_RESIZED_CROP:
        return nnopt__aug_sized_check(op, w, h);
    case NNOPT_AUG_HFLIP:
    case NNOPT_AUG_VFLIP:
    case NNOPT_AUG_GRAYSCALE:
        return nnopt__aug_p_ok(op);
    case NNOPT_AUG_COLOR_JITTER:
        return NNOPT__REQUIRE(nnopt__range_ok(op->brightness, 0.0, 1e300), "ops",
                              "a color jitter's brightness is not a finite range 0 <= lo <= hi") &&
               NNOPT__REQUIRE(nnopt__range_ok(op->contrast, 0.0, 1e300), "ops",
                              "a color jitter's contrast is not a finite range 0 <= lo <= hi") &&
               NNOPT__REQUIRE(nnopt__range_ok(op->saturation, 0.0, 1e300), "ops",
                              "a color jitter's saturation is not a finite range 0 <= lo <= hi") &&
               NNOPT__REQUIRE(nnopt__range_ok(op->hue, -0.5, 0.5), "ops",
                              "a color jitter's hue is not a range -0.5 <= lo <= hi <= 0.5");
    case NNOPT_AUG_RANDOM_ERASING:
        return nnopt__aug_erasing_check(op, *f, *w, *h, c);
    case NNOPT_AUG_GAUSSIAN_NOISE:
        return NNOPT__REQUIRE(nnopt__finite(op->noise_mean), "ops",
                              "a noise op's noise_mean is not finite") &&
               NNOPT__REQUIRE(nnopt__finite(op->noise_sigma) && op->noise_sigma >= 0.0, "ops",
                              "a noise op's noise_sigma must be finite and >= 0");
    case NNOPT_AUG_NORMALIZE:
        if (!nnopt__mean_std_ok(op->mean, op->std, c, 1)) return 0;
        *f = NNOPT_IMAGE_F32_CHW;
        return 1;
    default:
        return nnopt__reject("ops", "a kind is not a nnopt_aug_kind");
    }
}

/* Scratch of one sample: two image buffers, five axis maps, the bilinear pass's memory
   (sized by nnopt__bilinear_layout for the widest stage, every channel interleaved), each
   64-byte aligned from base. 0: more than size_t holds. */
typedef struct nnopt__aug_scratch {
    void *buf[2];
    nnopt__tap *gx, *gy, *qx, *qy, *tmp;
    void *work;
} nnopt__aug_scratch;

static size_t nnopt__aug_scratch_layout(size_t image_bytes, size_t max_dim, size_t max_width, int channels,
                                        char *base, nnopt__aug_scratch *s)
{
    size_t at = 0, taps, pass = nnopt__bilinear_layout(max_width, (size_t)channels, NULL, NULL);
    int k;
    if (!pass || pass > (size_t)-1 / 8 || image_bytes > (size_t)-1 / 8 ||
        max_dim > (size_t)-1 / 64 / sizeof(nnopt__tap))
        return 0;                                 /* more than size_t holds */
    taps = NNOPT__AUG_ALIGN(max_dim * sizeof(nnopt__tap));
    if (s) { s->buf[0] = base; s->buf[1] = base + NNOPT__AUG_ALIGN(image_bytes); }
    at = 2 * NNOPT__AUG_ALIGN(image_bytes);
    if (s) {
        nnopt__tap **t[5];
        t[0] = &s->gx; t[1] = &s->gy; t[2] = &s->qx; t[3] = &s->qy; t[4] = &s->tmp;
        for (k = 0; k < 5; k++) *t[k] = (nnopt__tap *)(void *)(base + at + (size_t)k * taps);
        s->work = base + at + 5 * taps;
    }
    return at + 5 * taps + pass;
}

NNOPT_API nnopt_status nnopt_aug_pipeline_init(nnopt_aug_pipeline *pl, const nnopt_aug_op *ops, int count,
                                               nnopt_image_format format, int width, int height,
                                               int channels)
{
    nnopt_image_format f = format;
    int w = width, h = height, j;
    size_t max_bytes, max_dim, max_width, scratch;
    NNOPT__CHECK(pl, "pl", "is NULL");
    NNOPT__CHECK(count >= 0 && count <= NNOPT_AUG_MAX_OPS, "count", "must lie in [0, NNOPT_AUG_MAX_OPS]");
    NNOPT__CHECK(!count || ops, "ops", "is NULL");
    if (!nnopt__shape_ok(format, width, height, channels)) return NNOPT__FAILED(NNOPT_ERR_INVALID);
    max_bytes = nnopt__img_values(f, w, h, channels) * nnopt__fmt_size(f);
    max_dim = (size_t)(w > h ? w : h); max_width = (size_t)w;
    for (j = 0; j < count; j++) {
        int pw = w, ph = h;
        size_t bytes;
        if (!nnopt__aug_op_check(&ops[j], &f, &w, &h, channels)) return NNOPT__FAILED(NNOPT_ERR_INVALID);
        bytes = nnopt__img_values(f, w, h, channels) * nnopt__fmt_size(f);
        NNOPT__CHECK(bytes, "ops", "an op's output is larger than size_t holds");
        if (bytes > max_bytes) max_bytes = bytes;
        /* RandomCrop's padded intermediate never becomes an image, but its maps have that size */
        if (ops[j].kind == NNOPT_AUG_RANDOM_CROP) {
            int extra[4];
            pw += ops[j].pad[0] + ops[j].pad[2]; ph += ops[j].pad[1] + ops[j].pad[3];
            nnopt__random_crop_extra(&ops[j], pw, ph, extra);
            pw += extra[0] + extra[2]; ph += extra[1] + extra[3];
        }
        if ((size_t)pw > max_dim) max_dim = (size_t)pw;
        if ((size_t)ph > max_dim) max_dim = (size_t)ph;
        if ((size_t)w > max_dim) max_dim = (size_t)w;
        if ((size_t)h > max_dim) max_dim = (size_t)h;
        if ((size_t)pw > max_width) max_width = (size_t)pw;   /* every stage's width, padded ones too */
        if ((size_t)w > max_width) max_width = (size_t)w;
    }
    scratch = nnopt__aug_scratch_layout(max_bytes, max_dim, max_width, channels, NULL, NULL);
    NNOPT__CHECK(scratch, "ops", "need more working memory than size_t holds");
    memset(pl, 0, sizeof *pl);
    pl->count = count;
    for (j = 0; j < count; j++) pl->op[j] = ops[j];
    pl->in_format = format; pl->out_format = f;
    pl->in_width = width; pl->in_height = height; pl->channels = channels;
    pl->out_width = w; pl->out_height = h;
    pl->layout[0] = max_bytes; pl->layout[1] = max_dim; pl->layout[2] = max_width;
    pl->scratch_bytes = scratch + 63;
    for (j = 0, f = format; j < count; j++)       /* the NORMALIZE op that sees bytes, if any */
        if (ops[j].kind == NNOPT_AUG_NORMALIZE && f == NNOPT_IMAGE_U8_HWC) {
            nnopt__norm_plan_init(&pl->norm, channels, ops[j].mean, ops[j].std);
            nnopt__norm_plan_check(&pl->norm, channels);
            f = NNOPT_IMAGE_F32_CHW;
        }
    return NNOPT_OK;
}

/* One sample's run: the image so far (src), the pending geometric stage (maps gx, gy from
   the logical size w x h back to src), and where the final step writes. */
typedef struct nnopt__aug_run {
    const nnopt_aug_pipeline *pl;
    nnopt__aug_scratch s;
    nnopt_image src, out;
    nnopt__geo g;
    int pending, w, h;
    uint64_t seed, stream;
} nnopt__aug_run;

/* A scratch buffer that src does not live in. */
static void *nnopt__aug_other(const nnopt__aug_run *r)
{
    return r->src.data == r->s.buf[0] ? r->s.buf[1] : r->s.buf[0];
}

static nnopt_image nnopt__aug_target(const nnopt__aug_run *r, nnopt_image_format f, int last, int in_place)
{
    nnopt_image d;
    if (last) d = r->out;
    else {
        d.data = (in_place && (r->src.data == r->s.buf[0] || r->src.data == r->s.buf[1]))
                 ? r->src.data : nnopt__aug_other(r);
    }
    d.format = f; d.width = r->w; d.height = r->h; d.channels = r->src.channels;
    return d;
}

/* Runs the pending stage into scratch (or out when last). With mean/std, the stage (bilinear,
   from uint8) also normalizes: its rounded bytes go straight to a float CHW image. */
static void nnopt__aug_flush_normalized(nnopt__aug_run *r, int last, const nnopt__norm_plan *plan)
{
    nnopt_image d;
    if (!r->pending) return;
    d = nnopt__aug_target(r, plan ? NNOPT_IMAGE_F32_CHW : r->src.format, last, 0);
    r->g.x = r->s.gx; r->g.y = r->s.gy; r->g.ow = r->w; r->g.oh = r->h;
    if (plan) nnopt__geo_bilinear(&r->src, &d, &r->g, r->s.work, plan);
    else nnopt__geo_apply(&r->src, &d, &r->g, r->s.work);
    r->src = d;
    r->pending = 0;
}

static void nnopt__aug_flush(nnopt__aug_run *r, int last) { nnopt__aug_flush_normalized(r, last, NULL); }

static void nnopt__aug_begin(nnopt__aug_run *r)
{
    if (r->pending) return;
    nnopt__axis_identity(r->s.gx, r->w);
    nnopt__axis_identity(r->s.gy, r->h);
    r->g.bilinear = 0; r->g.has_fill = 0;
    r->pending = 1;
}

/* Adds the maps qx (mw taps) and qy (mh taps) in r->s to the pending stage; a bilinear map
   over a stage that already interpolates or fills, or a second fill value, runs the stage
   first. fill: the value of the maps' fill taps (NULL if they have none). */
static void nnopt__aug_add(nnopt__aug_run *r, int mw, int mh, int bilinear, const float *fill, int channels)
{
    int q_fill = fill && (nnopt__axis_has_fill(r->s.qx, mw) || nnopt__axis_has_fill(r->s.qy, mh));
    nnopt__aug_begin(r);
    if ((bilinear && (r->g.bilinear || r->g.has_fill)) ||
        (q_fill && r->g.has_fill && memcmp(fill, r->g.fill, (size_t)channels * sizeof(float)) != 0)) {
        nnopt__aug_flush(r, 0);
        nnopt__aug_begin(r);
    }
    nnopt__axis_compose(r->s.tmp, r->s.gx, r->s.qx, mw, bilinear);
    memcpy(r->s.gx, r->s.tmp, (size_t)mw * sizeof(nnopt__tap));
    nnopt__axis_compose(r->s.tmp, r->s.gy, r->s.qy, mh, bilinear);
    memcpy(r->s.gy, r->s.tmp, (size_t)mh * sizeof(nnopt__tap));
    r->g.bilinear |= bilinear;
    if (q_fill && !r->g.has_fill) { r->g.has_fill = 1; memcpy(r->g.fill, fill, (size_t)channels * sizeof(float)); }
    r->w = mw; r->h = mh;
}

static void nnopt__aug_shift(nnopt__aug_run *r, int mw, int mh, int dx, int dy, nnopt_pad_mode mode, const float *fill)
{
    nnopt__axis_shift(r->s.qx, mw, r->w, dx, mode);
    nnopt__axis_shift(r->s.qy, mh, r->h, dy, mode);
    nnopt__aug_add(r, mw, mh, 0, fill, r->src.channels);
}

/* torchvision RandomResizedCrop.get_params with this stream's words: attempt t uses words
   base + 4t (scale), + 1 (log ratio), + 2 (top), + 3 (left). */
static void nnopt__aug_rrc_box(const nnopt__aug_run *r, const nnopt_aug_op *op, uint64_t base, nnopt_aug_choice *ch)
{
    double area = (double)r->w * (double)r->h, lr0 = log(op->ratio[0]), lr1 = log(op->ratio[1]);
    double in_ratio = (double)r->w / (double)r->h;
    int t, bw, bh;
    for (t = 0; t < 10; t++) {
        uint64_t i = base + 4 * (uint64_t)t;
        double target = area * (op->scale[0] + (op->scale[1] - op->scale[0]) * nnopt__aug_u01(r->seed, r->stream, i));
        double aspect = exp(lr0 + (lr1 - lr0) * nnopt__aug_u01(r->seed, r->stream, i + 1));
        double fw = nnopt__round_even(sqrt(target * aspect)), fh = nnopt__round_even(sqrt(target / aspect));
        if (fw > 0 && fw <= r->w && fh > 0 && fh <= r->h) {
            ch->width = (int)fw; ch->height = (int)fh;
            ch->top = nnopt__aug_below(r->seed, r->stream, i + 2, r->h - ch->height + 1);
            ch->left = nnopt__aug_below(r->seed, r->stream, i + 3, r->w - ch->width + 1);
            return;
        }
    }
    bw = r->w; bh = r->h;                                       /* central fallback */
    if (in_ratio < op->ratio[0]) bh = (int)nnopt__round_even(bw / op->ratio[0]);
    else if (in_ratio > op->ratio[1]) bw = (int)nnopt__round_even(bh * op->ratio[1]);
    ch->width = bw; ch->height = bh; ch->top = (r->h - bh) / 2; ch->left = (r->w - bw) / 2;
}

/* torchvision RandomErasing.get_params: word base decides, attempt t uses base + 1 + 4t ... */
static int nnopt__aug_erasing_box(const nnopt__aug_run *r, const nnopt_aug_op *op, uint64_t base, nnopt_aug_choice *ch)
{
    double area = (double)r->w * (double)r->h, lr0 = log(op->ratio[0]), lr1 = log(op->ratio[1]);
    int t;
    for (t = 0; t < 10; t++) {
        uint64_t i = base + 1 + 4 * (uint64_t)t;
        double target = area * (op->scale[0] + (op->scale[1] - op->scale[0]) * nnopt__aug_u01(r->seed, r->stream, i));
        double aspect = exp(lr0 + (lr1 - lr0) * nnopt__aug_u01(r->seed, r->stream, i + 1));
        double fh = nnopt__round_even(sqrt(target * aspect)), fw = nnopt__round_even(sqrt(target / aspect));
        if (!(fh < r->h && fw < r->w)) continue;
        ch->height = (int)fh; ch->width = (int)fw;
        ch->top = nnopt__aug_below(r->seed, r->stream, i + 2, r->h - ch->height + 1);
        ch->left = nnopt__aug_below(r->seed, r->stream, i + 3, r->w - ch->width + 1);
        return 1;
    }
    return 0;
}

static void nnopt__aug_geometric_op(nnopt__aug_run *r, const nnopt_aug_op *op, uint64_t base, nnopt_aug_choice *ch)
{
    static const float zeros[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
    int C = r->src.channels;
    switch (op->kind) {
    case NNOPT_AUG_PAD:
        nnopt__aug_shift(r, r->w + op->pad[0] + op->pad[2], r->h + op->pad[1] + op->pad[3],
                         -op->pad[0], -op->pad[1], op->pad_mode, op->fill);
        ch->applied = 1;
        break;
    case NNOPT_AUG_CROP:
        nnopt__aug_shift(r, op->width, op->height, op->left, op->top, NNOPT_PAD_CONSTANT, NULL);
        ch->applied = 1; ch->top = op->top; ch->left = op->left; ch->width = op->width; ch->height = op->height;
        break;
    case NNOPT_AUG_CENTER_CROP:
        ch->left = nnopt__center_offset(r->w, op->width); ch->top = nnopt__center_offset(r->h, op->height);
        nnopt__aug_shift(r, op->width, op->height, ch->left, ch->top, NNOPT_PAD_CONSTANT, zeros);
        ch->applied = 1; ch->width = op->width; ch->height = op->height;
        break;
    case NNOPT_AUG_RANDOM_CROP: {
        const int *pads = op->pad;
        int extra[4];
        if (pads[0] || pads[1] || pads[2] || pads[3])
            nnopt__aug_shift(r, r->w + pads[0] + pads[2], r->h + pads[1] + pads[3], -pads[0], -pads[1],
                             op->pad_mode, op->fill);
        nnopt__random_crop_extra(op, r->w, r->h, extra);
        if (extra[0] || extra[1])
            nnopt__aug_shift(r, r->w + extra[0] + extra[2], r->h + extra[1] + extra[3], -extra[0], -extra[1],
                             op->pad_mode, op->fill);
        ch->top = nnopt__aug_below(r->seed, r->stream, base, r->h - op->height + 1);
        ch->left = nnopt__aug_below(r->seed, r->stream, base + 1, r->w - op->width + 1);
        ch->width = op->width; ch->height = op->height; ch->applied = 1;
        nnopt__aug_shift(r, op->width, op->height, ch->left, ch->top, NNOPT_PAD_CONSTANT, NULL);
        break;
    }
    case NNOPT_AUG_RESIZE:
    case NNOPT_AUG_RANDOM_RESIZED_CROP:
        if (op->kind == NNOPT_AUG_RESIZE) { ch->top = ch->left = 0; ch->width = r->w; ch->height = r->h; }
        else nnopt__aug_rrc_box(r, op, base, ch);
        nnopt__axis_resize(r->s.qx, op->width, ch->left, ch->width, op->interp);
        nnopt__axis_resize(r->s.qy, op->height, ch->top, ch->height, op->interp);
        nnopt__aug_add(r, op->width, op->height, op->interp == NNOPT_INTERP_BILINEAR, NULL, C);
        ch->applied = 1;
        break;
    default:   /* flips */
        ch->applied = nnopt__aug_event(r->seed, r->stream, base, op->p);
        if (!ch->applied) break;
        if (op->kind == NNOPT_AUG_HFLIP) { nnopt__axis_flip(r->s.qx, r->w); nnopt__axis_identity(r->s.qy, r->h); }
        else { nnopt__axis_identity(r->s.qx, r->w); nnopt__axis_flip(r->s.qy, r->h); }
        nnopt__aug_add(r, r->w, r->h, 0, NULL, C);
        break;
    }
}

/* The ops that work pixel by pixel run src -> dst, in place when src is scratch. */
static nnopt_status nnopt__aug_pixel_op(nnopt__aug_run *r, const nnopt_aug_op *op, int j, int last,
                                        nnopt_aug_choice *ch)
{
    uint64_t base = (uint64_t)j * 64;
    nnopt_image d;
    int k;
    if (op->kind == NNOPT_AUG_NORMALIZE && r->pending && r->g.bilinear && r->src.format == NNOPT_IMAGE_U8_HWC &&
        r->pl->norm.fused) {
        nnopt__aug_flush_normalized(r, last, &r->pl->norm);         /* resize + normalize fused */
        ch->applied = 1;
        return NNOPT_OK;
    }
    nnopt__aug_flush(r, 0);
    if (op->kind == NNOPT_AUG_NORMALIZE) {
        d = nnopt__aug_target(r, NNOPT_IMAGE_F32_CHW, last, 0);
        nnopt__normalize(&r->src, &d, op->mean, op->std, &r->pl->norm);
        ch->applied = 1;
        r->src = d;
        return NNOPT_OK;
    }
    d = nnopt__aug_target(r, r->src.format, last, 1);
    if (d.data != r->src.data) memcpy(d.data, r->src.data, nnopt_image_bytes(&d));
    switch (op->kind) {
    case NNOPT_AUG_COLOR_JITTER: {
        const double *range[4];
        int order[4] = { 0, 1, 2, 3 };
        range[0] = op->brightness; range[1] = op->contrast; range[2] = op->saturation; range[3] = op->hue;
        for (k = 3; k > 0; k--) {             /* Fisher-Yates with words base + 3 .. base + 1 */
            int pick = nnopt__aug_below(r->seed, r->stream, base + (uint64_t)k, k + 1), t = order[k];
            order[k] = order[pick]; order[pick] = t;
        }
        for (k = 0; k < 4; k++) {
            double lo = range[k][0], hi = range[k][1], center = k == 3 ? 0.0 : 1.0;
            ch->order[k] = order[k];
            ch->factor[k] = (lo == center && hi == center) ? center
                            : lo + (hi - lo) * nnopt__aug_u01(r->seed, r->stream, base + 4 + (uint64_t)k);
        }
        for (k = 0; k < 4; k++) {
            int which = order[k];
            if (range[which][0] == (which == 3 ? 0.0 : 1.0) && range[which][1] == range[which][0]) continue;
            nnopt__color(&d, &d, (nnopt__color_op)which, ch->factor[which]);
        }
        ch->applied = 1;
        break;
    }
    case NNOPT_AUG_GRAYSCALE:
        ch->applied = nnopt__aug_event(r->seed, r->stream, base, op->p);
        if (ch->applied) nnopt__grayscale(&d, &d);
        break;
    case NNOPT_AUG_RANDOM_ERASING:
        ch->applied = nnopt__aug_event(r->seed, r->stream, base, op->p) && nnopt__aug_erasing_box(r, op, base, ch);
        if (ch->applied && op->random_value) {
            nnopt_status st = nnopt__erase_normal(&d, ch->top, ch->left, ch->height, ch->width, r->seed,
                                                  r->stream, ((uint64_t)j + 1) << 32);
            if (st != NNOPT_OK) return st;
        } else if (ch->applied) {
            nnopt__erase(&d, ch->top, ch->left, ch->height, ch->width, op->value);
        }
        break;
    default: {                                /* Gaussian noise */
        nnopt_status st = nnopt__noise(&d, &d, op->noise_mean, op->noise_sigma, op->clip, r->seed, r->stream,
                                       ((uint64_t)j + 1) << 32);
        if (st != NNOPT_OK) return st;
        ch->applied = 1;
        break;
    }
    }
    r->src = d;
    return NNOPT_OK;
}

static nnopt_status nnopt__aug_sample(const nnopt_aug_pipeline *pl, const void *in, void *out, uint64_t seed,
                                      uint64_t stream, nnopt_aug_choice *rec, char *scratch)
{
    nnopt__aug_run r;
    int j, wrote_out = 0;
    memset(&r, 0, sizeof r);
    r.pl = pl; r.seed = seed; r.stream = stream;
    r.src.format = pl->in_format; r.src.width = pl->in_width; r.src.height = pl->in_height;
    r.src.channels = pl->channels; r.src.data = (void *)(uintptr_t)in;
    r.out.format = pl->out_format; r.out.width = pl->out_width; r.out.height = pl->out_height;
    r.out.channels = pl->channels; r.out.data = out;
    r.w = pl->in_width; r.h = pl->in_height;
    nnopt__aug_scratch_layout(pl->layout[0], pl->layout[1], pl->layout[2], pl->channels, scratch, &r.s);
    for (j = 0; j < pl->count; j++) {
        const nnopt_aug_op *op = &pl->op[j];
        nnopt_aug_choice local, *ch = rec ? &rec[j] : &local;
        memset(ch, 0, sizeof *ch);
        if (nnopt__aug_geometric(op->kind)) nnopt__aug_geometric_op(&r, op, (uint64_t)j * 64, ch);
        else {
            int last = j == pl->count - 1;
            nnopt_status st = nnopt__aug_pixel_op(&r, op, j, last, ch);
            if (st != NNOPT_OK) return st;
            wrote_out |= last;
        }
    }
    if (r.pending) { nnopt__aug_flush(&r, 1); wrote_out = 1; }
    if (!wrote_out) memcpy(out, r.src.data, nnopt_image_bytes(&r.out));
    return NNOPT_OK;
}

#define NNOPT__NOT_A_PIPELINE "is not a pipeline made by nnopt_aug_pipeline_init()"
/* The arguments of an apply call, the pipeline's own fields included; *in_bytes and *out_bytes
   receive the size of one image. */
static int nnopt__aug_apply_ok(const nnopt_aug_pipeline *pl, const void *in, const void *out, size_t count,
                               const nnopt_aug_record *records, size_t *in_bytes, size_t *out_bytes)
{
    size_t ib, ob, rb = count * sizeof *records;
    if (!NNOPT__REQUIRE(pl != NULL, "pl", "is NULL") ||
        !NNOPT__REQUIRE(pl->count >= 0 && pl->count <= NNOPT_AUG_MAX_OPS, "pl", NNOPT__NOT_A_PIPELINE))
        return 0;
    ib = nnopt__img_values(pl->in_format, pl->in_width, pl->in_height, pl->channels) * nnopt__fmt_size(pl->in_format);
    ob = nnopt__img_values(pl->out_format, pl->out_width, pl->out_height, pl->channels) * nnopt__fmt_size(pl->out_format);
    *in_bytes = ib; *out_bytes = ob;
    return NNOPT__REQUIRE(ib && ob, "pl", NNOPT__NOT_A_PIPELINE) &&
           NNOPT__REQUIRE(!count || in, "in", "is NULL") && NNOPT__REQUIRE(!count || out, "out", "is NULL") &&
           NNOPT__REQUIRE(pl->in_format != NNOPT_IMAGE_F32_CHW || nnopt__ptr_ok(in, 1), "in",
                          "is NULL or not aligned to float") &&
           NNOPT__REQUIRE(pl->out_format != NNOPT_IMAGE_F32_CHW || nnopt__ptr_ok(out, 1), "out",
                          "is NULL or not aligned to float") &&
           NNOPT__REQUIRE(!count || (ib <= (size_t)-1 / count && ob <= (size_t)-1 / count), "count",
                          "images are more bytes than size_t holds") &&
           NNOPT__REQUIRE(!nnopt__ranges_overlap(in, count * ib, out, count * ob), "out", "overlaps in") &&
           NNOPT__REQUIRE(!records || !nnopt__ranges_overlap(records, rb, out, count * ob), "records",
                          "overlaps out") &&
           NNOPT__REQUIRE(!records || !nnopt__ranges_overlap(records, rb, in, count * ib), "records",
                          "overlaps in");
}

NNOPT_API size_t nnopt_aug_pipeline_scratch_size(const nnopt_aug_pipeline *pl)
{
    size_t bytes;
    if (!pl || !nnopt__img_values(pl->in_format, pl->in_width, pl->in_height, pl->channels)) return 0;
    bytes = nnopt__aug_scratch_layout(pl->layout[0], pl->layout[1], pl->layout[2], pl->channels, NULL, NULL);
    return bytes ? bytes + 63 : 0;   /* 63: to align the caller's memory to 64 bytes */
}

/* Every sample, one after the other in the same scratch. */
static nnopt_status nnopt__aug_apply_in(const nnopt_aug_pipeline *pl, const void *in, void *out, size_t count,
                                        uint64_t seed, uint64_t first_index, nnopt_aug_record *records,
                                        size_t in_bytes, size_t out_bytes, void *scratch)
{
    char *base = (char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    nnopt_status st = NNOPT_OK;
    size_t k;
    for (k = 0; k < count && st == NNOPT_OK; k++)
        st = nnopt__aug_sample(pl, (const char *)in + k * in_bytes, (char *)out + k * out_bytes, seed,
                               first_index + k, records ? records[k].op : NULL, base);
    return st;
}

NNOPT_API nnopt_status nnopt_aug_apply(const nnopt_aug_pipeline *pl, const void *in, void *out,
                                       size_t count, uint64_t seed, uint64_t first_index,
                                       nnopt_aug_record *records)
{
    size_t in_bytes, out_bytes, bytes;
    void *scratch;
    nnopt_status st;
    if (!nnopt__aug_apply_ok(pl, in, out, count, records, &in_bytes, &out_bytes))
        return NNOPT__FAILED(NNOPT_ERR_INVALID);
    if (count == 0) return NNOPT_OK;
    bytes = nnopt_aug_pipeline_scratch_size(pl);
    scratch = bytes ? NNOPT_MALLOC(bytes) : NULL;
    if (!scratch) return NNOPT__FAIL(NNOPT_ERR_NOMEM, NULL, "out of memory");
    st = nnopt__aug_apply_in(pl, in, out, count, seed, first_index, records, in_bytes, out_bytes, scratch);
    NNOPT_FREE(scratch);
    return st;
}

NNOPT_API nnopt_status nnopt_aug_apply_scratch(const nnopt_aug_pipeline *pl, const void *in, void *out,
                                               size_t count, uint64_t seed, uint64_t first_index,
                                               nnopt_aug_record *records, void *scratch, size_t bytes)
{
    size_t in_bytes, out_bytes, need;
    if (!nnopt__aug_apply_ok(pl, in, out, count, records, &in_bytes, &out_bytes))
        return NNOPT__FAILED(NNOPT_ERR_INVALID);
    need = nnopt_aug_pipeline_scratch_size(pl);
    NNOPT__CHECK(scratch, "scratch", "is NULL");
    NNOPT__CHECK(need, "pl", "needs more working memory than size_t holds");
    NNOPT__CHECK(bytes >= need, "bytes", "is too small: see nnopt_aug_pipeline_scratch_size()");
    NNOPT__CHECK(!nnopt__ranges_overlap(scratch, bytes, in, count * in_bytes), "scratch", "overlaps in");
    NNOPT__CHECK(!nnopt__ranges_overlap(scratch, bytes, out, count * out_bytes), "scratch", "overlaps out");
    NNOPT__CHECK(!records || !nnopt__ranges_overlap(scratch, bytes, records, count * sizeof *records),
                 "scratch", "overlaps records");
    if (count == 0) return NNOPT_OK;
    return nnopt__aug_apply_in(pl, in, out, count, seed, first_index, records, in_bytes, out_bytes, scratch);
}

#endif /* NNOPT_NO_AUGMENT */



#if defined(__clang__)
#  pragma float_control(pop)
#elif defined(__GNUC__)
#  pragma GCC pop_options
#endif

#ifdef __cplusplus
}
#endif
#endif /* NNOPT_IMPLEMENTATION */

/* =====================================================================================
   Kernels — this section is compiled once per instruction set (see "The kernels, once per
   instruction set" above). It opens with the vocabulary, one block per instruction set: the
   only code here that knows the instruction set, so a new path is one new block. The kernels
   below it use the vocabulary alone (no intrinsics, no test of the instruction set). Each
   block defines
     V(name)      the path's instance of name; NNOPT__W lanes; NNOPT__TARGET the functions'
                  target attribute, NNOPT__TARGET_BYTES that of functions calling bytes_pick
     floats       V(vec), V(mask): NNOPT__W floats, a lane mask; V(set1); V(loadn) V(storen):
                  load/store the first k <= W lanes (others: 0); V(add) V(sub) V(mul) V(div)
                  V(fma) V(sqrt) V(min) V(max) V(neg) V(abs) V(lt) V(le) V(gt) V(eq)
                  V(select) V(all); V(div_split)(a, b, hi, lo): a / b, with 1/b = hi + lo
     sums         V(dacc): 16 double lanes for fixed-order sums (V(dacc_zero) V(dacc_add)
                  V(dacc_add_sq) V(dacc_add_and_sq) V(dacc_max) V(dacc_store))
     integers     V(ivec): NNOPT__W lanes of uint32 (V(iset1) V(iota) V(iadd) V(ixor)
                  V(ixor3) V(iand) V(ior) V(isrl) V(isll) V(iload) V(istore) V(itest)
                  V(imulhilo) V(itof) V(ftoi) V(asfloat) V(asint)); V(uniform_below)
                  V(store_flags) for random bits
     memory       V(prefetch)(p, ahead) a hint for the stream at p, `ahead` floats on (and
                  four times as far into L2): for streams written without being read (the
                  hardware prefetcher follows loads, not stores) and for read-only reduction
                  passes, whose few loads per cycle leave the hardware prefetcher too little
                  lead to reach the memory roof; V(prefetch_line)(p) the line at p into L1
     bytes        V(aug_load_u8) V(aug_store_u8) V(aug_round) V(aug_gather_px)
                  V(aug_gather_f32); V(bytes) a window of up to 128 source bytes,
                  V(bytes_load) V(bytes_pick), and V(bytes_fast)(): whether picking from a
                  window beats gathering on this CPU (a run-time answer: AVX512-VBMI)
     sections     dropout V(drop_kept) V(drop_scaled) V(drop_bits) V(drop_from_bits); batch
                  norm V(bn_keep) V(bn_prefetch) V(bn_dacc_load) V(bn_dacc_save)
                  V(bn_dacc_add_mul)
   and below the blocks, written once from these: V(sign) V(ema) V(philox).
   with the semantics of the scalar definitions: min/max as (a < b ? a : b), comparisons
   false on NaN, fma fused, sqrt and div exactly rounded.
   A kernel is a block function V(name_block)(args, i, k) over elements [i, i+k), run by
   NNOPT__KERNEL(name, args_type) over full blocks and one masked tail.
   ===================================================================================== */
#ifdef NNOPT__KERNEL_PASS
#pragma push_macro("V")
#undef V
#define NNOPT__OP NNOPT__INLINE NNOPT__TARGET

/* ---- Vocabulary: portable C (the reference semantics) ----------------------------- */
#if defined(NNOPT__ISA_SCALAR)
#  define V(name) nnopt__##name##_scalar
#  define NNOPT__W 1
#  define NNOPT__TARGET
#  define NNOPT__TARGET_BYTES
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
/* a / b where 1/b is also given as the float pair hi + lo; the vector paths multiply by the
   pair (see aug_fast_normalize); here it divides (fmaf may be a library call). */
NNOPT__OP float V(div_split)(float a, float b, float hi, float lo) { (void)hi; (void)lo; return a / b; }
NNOPT__OP void  V(prefetch)(const float *p, size_t ahead) { (void)p; (void)ahead; }
NNOPT__OP void  V(prefetch_line)(const void *p) { (void)p; }
/* Reductions: 16 double lanes; element o of each 16-element block adds into lane o. */
typedef struct { double d[16]; } V(dacc);
NNOPT__OP void V(dacc_zero)(V(dacc) *s) { int l; for (l = 0; l < 16; l++) s->d[l] = 0.0; }
NNOPT__OP void V(dacc_add)(V(dacc) *s, float x, size_t part) { s->d[part] = s->d[part] + (double)x; }
NNOPT__OP void V(dacc_add_sq)(V(dacc) *s, float x, size_t part)
{ double v = (double)x, sq = v * v; s->d[part] = s->d[part] + sq; }
NNOPT__OP void V(dacc_add_and_sq)(V(dacc) *s, V(dacc) *s_sq, float x, size_t part)
{ V(dacc_add)(s, x, part); V(dacc_add_sq)(s_sq, x, part); }
NNOPT__OP void V(dacc_max)(V(dacc) *s, float x, size_t part)
{ double v = (double)x; s->d[part] = s->d[part] > v ? s->d[part] : v; }
NNOPT__OP void V(dacc_store)(const V(dacc) *s, double *out) { int l; for (l = 0; l < 16; l++) out[l] = s->d[l]; }
/* Integers: V(ivec) holds NNOPT__W lanes of uint32. */
typedef uint32_t V(ivec);
NNOPT__OP uint32_t V(iset1)(uint32_t x) { return x; }
NNOPT__OP uint32_t V(iota)(void) { return 0; }
NNOPT__OP uint32_t V(iadd)(uint32_t a, uint32_t b) { return a + b; }
NNOPT__OP uint32_t V(ixor)(uint32_t a, uint32_t b) { return a ^ b; }
NNOPT__OP uint32_t V(ixor3)(uint32_t a, uint32_t b, uint32_t c) { return a ^ b ^ c; }
NNOPT__OP uint32_t V(iand)(uint32_t a, uint32_t b) { return a & b; }
NNOPT__OP uint32_t V(ior)(uint32_t a, uint32_t b) { return a | b; }
NNOPT__OP uint32_t V(isrl)(uint32_t a, int n) { return a >> n; }
NNOPT__OP uint32_t V(isll)(uint32_t a, int n) { return a << n; }
NNOPT__OP uint32_t V(iload)(const uint32_t *p) { return *p; }
NNOPT__OP void     V(istore)(uint32_t *p, uint32_t v) { *p = v; }
NNOPT__OP int      V(itest)(uint32_t a, uint32_t bits) { return (a & bits) != 0; }
/* lo = low half of a * m, *hi = high half (32 x 32 -> 64 bits) */
NNOPT__OP uint32_t V(imulhilo)(uint32_t a, uint32_t m, uint32_t *hi)
{ uint64_t p = (uint64_t)a * m; *hi = (uint32_t)(p >> 32); return (uint32_t)p; }
NNOPT__OP float    V(itof)(uint32_t a) { return (float)(int32_t)a; }   /* signed, exact below 2^24 */
NNOPT__OP uint32_t V(ftoi)(float a) { return (uint32_t)(int32_t)a; }   /* truncates */
NNOPT__OP float    V(asfloat)(uint32_t a) { float f; memcpy(&f, &a, sizeof f); return f; }
NNOPT__OP uint32_t V(asint)(float a) { uint32_t u; memcpy(&u, &a, sizeof u); return u; }
/* random bits: the lanes whose word w has (w >> 8) < threshold; a mask as bytes of 0 or 1 */
NNOPT__OP int      V(uniform_below)(uint32_t w, uint32_t threshold) { return (w >> 8) < threshold; }
NNOPT__OP void     V(store_flags)(uint8_t *p, int m) { *p = (uint8_t)(m != 0); }
/* Bytes. aug_load_u8(p, k): the first k <= W bytes at p as floats (others 0).
   aug_gather_px(base, idx, k, channels): lane l = the little-endian word of the bytes at
   base + idx[l] (the vector paths read 4 bytes, the caller keeps that inside the buffer; this
   path reads `channels`). aug_gather_f32(base, idx, k): floats base[idx[l]]. Both fill the
   first k lanes (others 0). aug_round(v): nearest integer, ties to even. aug_store_u8(p, v,
   k): the first k lanes (integers in [0, 255]) as bytes. */
NNOPT__OP float V(aug_load_u8)(const uint8_t *p, size_t k) { (void)k; return (float)p[0]; }
NNOPT__OP uint32_t V(aug_gather_px)(const uint8_t *b, const int32_t *idx, size_t k, int channels)
{
    uint32_t w = 0;
    int c;
    (void)k;
    for (c = 0; c < channels; c++) w |= (uint32_t)b[idx[0] + c] << (8 * c);
    return w;
}
NNOPT__OP float V(aug_gather_f32)(const float *b, const int32_t *idx, size_t k) { (void)k; return b[idx[0]]; }
NNOPT__OP float V(aug_round)(float v)
{
    float r = (float)(int32_t)v, d = v - r;          /* |v| < 2^31 here */
    if (d > 0.5f || (d == 0.5f && ((int32_t)r & 1))) r += 1.0f;
    return r;
}
NNOPT__OP void V(aug_store_u8)(uint8_t *p, float v, size_t k) { (void)k; *p = (uint8_t)v; }
/* Byte windows: bytes_load(p, len) the window [p, p + len), len <= 128; bytes_pick(w, idx)
   lane l = byte idx[l] < 128 of the window; bytes_fast(): whether the kernels should pick
   from windows rather than gather (here they gather). */
typedef const uint8_t *V(bytes);
NNOPT__OP const uint8_t *V(bytes_load)(const uint8_t *p, unsigned len) { (void)len; return p; }
NNOPT__OP uint32_t V(bytes_pick)(const uint8_t *w, const int32_t *idx) { return w[idx[0]]; }
NNOPT__PRIVATE int V(bytes_fast)(void) { return 0; }
/* Dropout: the keep test on a vector of words, a mask as bits (lane l = bit l), a mask from
   bits, and kept ? x * scale : dropped (one masked multiply on AVX-512). */
NNOPT__OP int V(drop_kept)(uint32_t w, uint32_t threshold) { return (w >> 8) >= threshold; }
NNOPT__OP float V(drop_scaled)(int kept, float x, float scale, float dropped) { return kept ? x * scale : dropped; }
NNOPT__OP uint64_t V(drop_bits)(int m) { return (uint64_t)(m != 0); }
NNOPT__OP int V(drop_from_bits)(unsigned bits) { return (int)(bits & 1u); }
/* Batch norm. bn_keep(v, k): lanes >= k set to 0. bn_dacc_add_mul(s, a, b, part): a * b into
   the 16-lane accumulator like dacc_add_sq (a product of two floats is exact in double, so
   fma and multiply-then-add agree). bn_dacc_load / bn_dacc_save: the first k of the W lanes
   of part 0 from / to doubles in memory (NHWC: one double per channel, lane = channel; the
   other lanes load as 0). bn_prefetch: a hint to fetch into L2. */
NNOPT__OP float V(bn_keep)(float v, size_t k) { (void)k; return v; }
NNOPT__OP void V(bn_prefetch)(const float *p, size_t ahead) { (void)p; (void)ahead; }
NNOPT__OP void V(bn_dacc_load)(V(dacc) *s, const double *m, size_t k) { (void)k; V(dacc_zero)(s); s->d[0] = m[0]; }
NNOPT__OP void V(bn_dacc_save)(const V(dacc) *s, double *m, size_t k) { (void)k; m[0] = s->d[0]; }
NNOPT__OP void V(bn_dacc_add_mul)(V(dacc) *s, float a, float b, size_t part)
{ double p = (double)a * (double)b; s->d[part] = s->d[part] + p; }

/* ---- Vocabulary: AVX2 + FMA ------------------------------------------------------- */
#elif defined(NNOPT__ISA_AVX2)
#  define V(name) nnopt__##name##_avx2
#  define NNOPT__W 8
#  define NNOPT__TARGET __attribute__((target("avx2,fma")))
#  define NNOPT__TARGET_BYTES NNOPT__TARGET
typedef __m256 V(vec);
typedef __m256 V(mask);
/* Masked tails: the mask for the first k lanes starts at index 8 - k. */
static const int32_t V(tail_mask_table)[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };
NNOPT__OP __m256i V(tail_mask)(size_t k)
{ return _mm256_loadu_si256((const __m256i *)(V(tail_mask_table) + 8 - k)); }
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
/* fma(a, hi, a lo): within about 2^-48 of a / b (nnopt__norm_plan_init checks the bits) */
NNOPT__OP __m256 V(div_split)(__m256 a, float b, float hi, float lo)
{ (void)b; return V(fma)(a, V(set1)(hi), V(mul)(a, V(set1)(lo))); }
NNOPT__OP void V(prefetch)(const float *p, size_t ahead) { nnopt__prefetch_stream(p, ahead); }
NNOPT__OP void V(prefetch_line)(const void *p) { _mm_prefetch((const char *)p, _MM_HINT_T0); }
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
NNOPT__OP void V(dacc_add_and_sq)(V(dacc) *s, V(dacc) *s_sq, __m256 x, size_t part)
{ __m256d lo, hi; V(dacc_split)(x, &lo, &hi);
  s->d[2 * part] = _mm256_add_pd(s->d[2 * part], lo); s->d[2 * part + 1] = _mm256_add_pd(s->d[2 * part + 1], hi);
  s_sq->d[2 * part] = _mm256_fmadd_pd(lo, lo, s_sq->d[2 * part]);
  s_sq->d[2 * part + 1] = _mm256_fmadd_pd(hi, hi, s_sq->d[2 * part + 1]); }
NNOPT__OP void V(dacc_max)(V(dacc) *s, __m256 x, size_t part)
{ __m256d lo, hi; V(dacc_split)(x, &lo, &hi);
  s->d[2 * part] = _mm256_max_pd(s->d[2 * part], lo); s->d[2 * part + 1] = _mm256_max_pd(s->d[2 * part + 1], hi); }
NNOPT__OP void V(dacc_store)(const V(dacc) *s, double *out)
{ int l; for (l = 0; l < 4; l++) _mm256_storeu_pd(out + 4 * l, s->d[l]); }
typedef __m256i V(ivec);
NNOPT__OP __m256i V(iset1)(uint32_t x) { return _mm256_set1_epi32((int)x); }
NNOPT__OP __m256i V(iota)(void) { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
NNOPT__OP __m256i V(iadd)(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
NNOPT__OP __m256i V(ixor)(__m256i a, __m256i b) { return _mm256_xor_si256(a, b); }
NNOPT__OP __m256i V(ixor3)(__m256i a, __m256i b, __m256i c) { return _mm256_xor_si256(_mm256_xor_si256(a, b), c); }
NNOPT__OP __m256i V(iand)(__m256i a, __m256i b) { return _mm256_and_si256(a, b); }
NNOPT__OP __m256i V(ior)(__m256i a, __m256i b) { return _mm256_or_si256(a, b); }
NNOPT__OP __m256i V(isrl)(__m256i a, int n) { return _mm256_srli_epi32(a, n); }
NNOPT__OP __m256i V(isll)(__m256i a, int n) { return _mm256_slli_epi32(a, n); }
NNOPT__OP __m256i V(iload)(const uint32_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
NNOPT__OP void    V(istore)(uint32_t *p, __m256i v) { _mm256_storeu_si256((__m256i *)p, v); }
NNOPT__OP __m256  V(itest)(__m256i a, __m256i bits)
{ __m256i zero = _mm256_cmpeq_epi32(_mm256_and_si256(a, bits), _mm256_setzero_si256());
  return _mm256_castsi256_ps(_mm256_xor_si256(zero, _mm256_set1_epi32(-1))); }
/* No 32-bit high multiply: even lanes, then odd lanes shifted down, recombined. */
NNOPT__OP __m256i V(imulhilo)(__m256i a, __m256i m, __m256i *hi)
{
    __m256i even = _mm256_mul_epu32(a, m), odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}
NNOPT__OP __m256  V(itof)(__m256i a) { return _mm256_cvtepi32_ps(a); }
NNOPT__OP __m256i V(ftoi)(__m256 a) { return _mm256_cvttps_epi32(a); }
NNOPT__OP __m256  V(asfloat)(__m256i a) { return _mm256_castsi256_ps(a); }
NNOPT__OP __m256i V(asint)(__m256 a) { return _mm256_castps_si256(a); }
/* (w >> 8) < threshold; both below 2^25, so the signed compare is exact */
NNOPT__OP __m256  V(uniform_below)(__m256i w, uint32_t threshold)
{ return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)threshold), _mm256_srli_epi32(w, 8))); }
NNOPT__OP void    V(store_flags)(uint8_t *p, __m256 m)   /* 8 lanes -> 8 bytes of 0 or 1 */
{
    __m256i one = _mm256_and_si256(_mm256_castps_si256(m), _mm256_set1_epi32(1));
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(one), _mm256_extracti128_si256(one, 1));
    _mm_storel_epi64((__m128i *)p, _mm_packus_epi16(w, w));
}
NNOPT__OP __m256 V(aug_load_u8)(const uint8_t *p, size_t k)
{
    __m128i b;
    if (k == 8) b = _mm_loadl_epi64((const __m128i *)(const void *)p);
    else {
        uint8_t tmp[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
        memcpy(tmp, p, k);
        b = _mm_loadl_epi64((const __m128i *)(const void *)tmp);
    }
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
}
NNOPT__OP __m256i V(aug_gather_px)(const uint8_t *b, const int32_t *idx, size_t k, int channels)
{
    __m256i m = V(tail_mask)(k), i = _mm256_maskload_epi32((const int *)idx, m);
    (void)channels;
    return _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)(const void *)b, i, m, 1);
}
NNOPT__OP __m256 V(aug_gather_f32)(const float *b, const int32_t *idx, size_t k)
{
    __m256i m = V(tail_mask)(k), i = _mm256_maskload_epi32((const int *)idx, m);
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), b, i, _mm256_castsi256_ps(m), 4);
}
NNOPT__OP __m256 V(aug_round)(__m256 v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
NNOPT__OP void V(aug_store_u8)(uint8_t *p, __m256 v, size_t k)
{
    __m256i i = _mm256_cvtps_epi32(v);
    __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
    __m128i b = _mm_packus_epi16(w, w);
    if (k == 8) _mm_storel_epi64((__m128i *)(void *)p, b);
    else { uint8_t tmp[16]; _mm_storeu_si128((__m128i *)(void *)tmp, b); memcpy(p, tmp, k); }
}
/* No byte permute across 128 bytes: a window is its bytes in place, picked one by one. */
typedef const uint8_t *V(bytes);
NNOPT__OP const uint8_t *V(bytes_load)(const uint8_t *p, unsigned len) { (void)len; return p; }
NNOPT__OP __m256i V(bytes_pick)(const uint8_t *w, const int32_t *idx)
{ return _mm256_setr_epi32(w[idx[0]], w[idx[1]], w[idx[2]], w[idx[3]], w[idx[4]], w[idx[5]], w[idx[6]], w[idx[7]]); }
NNOPT__PRIVATE int V(bytes_fast)(void) { return 0; }
/* No unsigned compare: (w >> 8) < 2^24 is a positive int, and threshold - 1 wraps to -1 for 0. */
NNOPT__OP __m256 V(drop_kept)(__m256i w, uint32_t threshold)
{ return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_srli_epi32(w, 8), _mm256_set1_epi32((int)(threshold - 1u)))); }
NNOPT__OP uint64_t V(drop_bits)(__m256 m) { return (uint64_t)(unsigned)_mm256_movemask_ps(m); }
NNOPT__OP __m256 V(drop_from_bits)(unsigned bits)
{
    __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), lane), lane));
}
NNOPT__OP __m256 V(drop_scaled)(__m256 kept, __m256 x, __m256 scale, __m256 dropped)
{ return V(select)(kept, V(mul)(x, scale), dropped); }
NNOPT__OP void V(bn_prefetch)(const float *p, size_t ahead)   /* into L2; may pass the end */
{ _mm_prefetch((const char *)((uintptr_t)p + ahead * sizeof(float)), _MM_HINT_T1); }
NNOPT__OP __m256 V(bn_keep)(__m256 v, size_t k)
{ return k == 8 ? v : _mm256_and_ps(v, _mm256_castsi256_ps(V(tail_mask)(k))); }
NNOPT__OP __m256i V(bn_mask_pd)(size_t k)            /* the first k (0..4) of 4 double lanes */
{ return _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)(V(tail_mask_table) + 8 - k))); }
NNOPT__OP __m256d V(bn_fma_pd)(__m256d a, __m256d b, __m256d c) { return _mm256_fmadd_pd(a, b, c); }
NNOPT__OP void V(bn_dacc_load)(V(dacc) *s, const double *m, size_t k)
{
    V(dacc_zero)(s);
    if (k == 8) { s->d[0] = _mm256_loadu_pd(m); s->d[1] = _mm256_loadu_pd(m + 4); return; }
    s->d[0] = _mm256_maskload_pd(m, V(bn_mask_pd)(k < 4 ? k : 4));
    s->d[1] = _mm256_maskload_pd(m + 4, V(bn_mask_pd)(k < 4 ? 0 : k - 4));
}
NNOPT__OP void V(bn_dacc_save)(const V(dacc) *s, double *m, size_t k)
{
    if (k == 8) { _mm256_storeu_pd(m, s->d[0]); _mm256_storeu_pd(m + 4, s->d[1]); return; }
    _mm256_maskstore_pd(m, V(bn_mask_pd)(k < 4 ? k : 4), s->d[0]);
    _mm256_maskstore_pd(m + 4, V(bn_mask_pd)(k < 4 ? 0 : k - 4), s->d[1]);
}
NNOPT__OP void V(bn_dacc_add_mul)(V(dacc) *s, __m256 a, __m256 b, size_t part)
{
    __m256d alo, ahi, blo, bhi; V(dacc_split)(a, &alo, &ahi); V(dacc_split)(b, &blo, &bhi);
    s->d[2 * part] = V(bn_fma_pd)(alo, blo, s->d[2 * part]);
    s->d[2 * part + 1] = V(bn_fma_pd)(ahi, bhi, s->d[2 * part + 1]);
}

/* ---- Vocabulary: AVX-512 (F, VL, BW, DQ; VBMI where the CPU has it) -------------- */
#elif defined(NNOPT__ISA_AVX512)
#  define V(name) nnopt__##name##_avx512
#  define NNOPT__W 16
#  define NNOPT__TARGET __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")))
#  define NNOPT__TARGET_BYTES __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq,avx512vbmi")))
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
NNOPT__OP __m512 V(div_split)(__m512 a, float b, float hi, float lo)   /* as on AVX2 */
{ (void)b; return V(fma)(a, V(set1)(hi), V(mul)(a, V(set1)(lo))); }
NNOPT__OP void V(prefetch)(const float *p, size_t ahead) { nnopt__prefetch_stream(p, ahead); }
NNOPT__OP void V(prefetch_line)(const void *p) { _mm_prefetch((const char *)p, _MM_HINT_T0); }
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
NNOPT__OP void V(dacc_add_and_sq)(V(dacc) *s, V(dacc) *s_sq, __m512 x, size_t part)
{ __m512d lo, hi; (void)part; V(dacc_split)(x, &lo, &hi);
  s->d[0] = _mm512_add_pd(s->d[0], lo); s->d[1] = _mm512_add_pd(s->d[1], hi);
  s_sq->d[0] = _mm512_fmadd_pd(lo, lo, s_sq->d[0]); s_sq->d[1] = _mm512_fmadd_pd(hi, hi, s_sq->d[1]); }
NNOPT__OP void V(dacc_max)(V(dacc) *s, __m512 x, size_t part)
{ __m512d lo, hi; (void)part; V(dacc_split)(x, &lo, &hi);
  s->d[0] = _mm512_maskz_max_pd(0xFF, s->d[0], lo); s->d[1] = _mm512_maskz_max_pd(0xFF, s->d[1], hi); }
NNOPT__OP void V(dacc_store)(const V(dacc) *s, double *out)
{ _mm512_storeu_pd(out, s->d[0]); _mm512_storeu_pd(out + 8, s->d[1]); }
typedef __m512i V(ivec);
NNOPT__OP __m512i V(iset1)(uint32_t x) { return _mm512_set1_epi32((int)x); }
NNOPT__OP __m512i V(iota)(void)
{ return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
NNOPT__OP __m512i V(iadd)(__m512i a, __m512i b) { return _mm512_add_epi32(a, b); }
NNOPT__OP __m512i V(ixor)(__m512i a, __m512i b) { return _mm512_xor_si512(a, b); }
NNOPT__OP __m512i V(ixor3)(__m512i a, __m512i b, __m512i c) { return _mm512_ternarylogic_epi32(a, b, c, 0x96); }
NNOPT__OP __m512i V(iand)(__m512i a, __m512i b) { return _mm512_and_si512(a, b); }
NNOPT__OP __m512i V(ior)(__m512i a, __m512i b) { return _mm512_or_si512(a, b); }
NNOPT__OP __m512i V(isrl)(__m512i a, int n) { return _mm512_maskz_srli_epi32(0xFFFF, a, (unsigned)n); }
NNOPT__OP __m512i V(isll)(__m512i a, int n) { return _mm512_maskz_slli_epi32(0xFFFF, a, (unsigned)n); }
NNOPT__OP __m512i V(iload)(const uint32_t *p) { return _mm512_loadu_si512((const void *)p); }
NNOPT__OP void    V(istore)(uint32_t *p, __m512i v) { _mm512_storeu_si512((void *)p, v); }
NNOPT__OP __mmask16 V(itest)(__m512i a, __m512i bits) { return _mm512_test_epi32_mask(a, bits); }
/* The high and low halves of the even and odd products gathered with one permute each
   (two ops fewer than shifting and blending: Philox is bound by these ops' ports). */
NNOPT__OP __m512i V(imulhilo)(__m512i a, __m512i m, __m512i *hi)
{
    __m512i even = _mm512_maskz_mul_epu32(0xFF, a, m);
    __m512i odd = _mm512_maskz_mul_epu32(0xFF, _mm512_maskz_srli_epi64(0xFF, a, 32), m);
    *hi = _mm512_permutex2var_epi32(even, _mm512_setr_epi32(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31), odd);
    return _mm512_permutex2var_epi32(even, _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30), odd);
}
NNOPT__OP __m512  V(itof)(__m512i a) { return _mm512_maskz_cvtepi32_ps(0xFFFF, a); }
NNOPT__OP __m512i V(ftoi)(__m512 a) { return _mm512_maskz_cvttps_epi32(0xFFFF, a); }
NNOPT__OP __m512  V(asfloat)(__m512i a) { return _mm512_castsi512_ps(a); }
NNOPT__OP __m512i V(asint)(__m512 a) { return _mm512_castps_si512(a); }
NNOPT__OP __mmask16 V(uniform_below)(__m512i w, uint32_t threshold)
{ return _mm512_cmplt_epu32_mask(V(isrl)(w, 8), _mm512_set1_epi32((int)threshold)); }
NNOPT__OP void    V(store_flags)(uint8_t *p, __mmask16 m)
{ _mm_storeu_si128((__m128i *)p, _mm_maskz_mov_epi8(m, _mm_set1_epi8(1))); }
NNOPT__OP __m512 V(aug_load_u8)(const uint8_t *p, size_t k)
{
    __m128i b = k == 16 ? _mm_loadu_si128((const __m128i *)(const void *)p)
                        : _mm_maskz_loadu_epi8((__mmask16)((1u << k) - 1u), p);
    return _mm512_maskz_cvtepi32_ps(0xFFFF, _mm512_maskz_cvtepu8_epi32(0xFFFF, b));
}
NNOPT__OP __m512i V(aug_gather_px)(const uint8_t *b, const int32_t *idx, size_t k, int channels)
{
    __mmask16 m = V(tail_mask)(k);
    (void)channels;
    return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, _mm512_maskz_loadu_epi32(m, idx),
                                       (const void *)b, 1);
}
NNOPT__OP __m512 V(aug_gather_f32)(const float *b, const int32_t *idx, size_t k)
{
    __mmask16 m = V(tail_mask)(k);
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, _mm512_maskz_loadu_epi32(m, idx), (const void *)b, 4);
}
NNOPT__OP __m512 V(aug_round)(__m512 v)
{ return _mm512_maskz_roundscale_ps(0xFFFF, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
NNOPT__OP void V(aug_store_u8)(uint8_t *p, __m512 v, size_t k)
{
    __m128i b = _mm512_maskz_cvtepi32_epi8(0xFFFF, _mm512_maskz_cvtps_epi32(0xFFFF, v));
    _mm_mask_storeu_epi8(p, V(tail_mask)(k), b);
}
/* A window in two registers, read by two masked loads; one two-register byte permute
   (AVX512-VBMI) picks each lane's byte into byte 0 of the lane (offsets < 128), instead of a
   16-lane gather (tens of cycles on recent cores). */
typedef struct { __m512i lo, hi; } V(bytes);
NNOPT__OP V(bytes) V(bytes_load)(const uint8_t *p, unsigned len)
{
    V(bytes) w;
    w.lo = _mm512_maskz_loadu_epi8(len >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << len) - 1, p);
    w.hi = _mm512_maskz_loadu_epi8(len >= 128 ? ~(__mmask64)0 : len > 64 ? ((__mmask64)1 << (len - 64)) - 1 : 0, p + 64);
    return w;
}
NNOPT__INLINE NNOPT__TARGET_BYTES __m512i V(bytes_pick)(V(bytes) w, const int32_t *idx)
{ return _mm512_maskz_permutex2var_epi8(0x1111111111111111ull, w.lo, _mm512_loadu_si512(idx), w.hi); }
NNOPT__PRIVATE int nnopt__has_vbmi(void);   /* CPUID, beside the path detection below */
NNOPT__PRIVATE int V(bytes_fast)(void) { return nnopt__has_vbmi(); }
/* (w >> 8) >= t  <=>  w >= t 2^8 for t < 2^24, one op fewer per word; t = 2^24 keeps nothing
   and only comes with all-zero words (random = 0), which UINT32_MAX refuses. */
NNOPT__OP __mmask16 V(drop_kept)(__m512i w, uint32_t threshold)
{ return _mm512_cmpge_epu32_mask(w, _mm512_set1_epi32((int)(threshold < (1u << 24) ? threshold << 8 : 0xFFFFFFFFu))); }
/* One masked multiply (gcc does not always fuse select(kept, mul) into one). */
NNOPT__OP __m512 V(drop_scaled)(__mmask16 kept, __m512 x, __m512 scale, __m512 dropped)
{ return _mm512_mask_mul_ps(dropped, kept, x, scale); }
NNOPT__OP uint64_t V(drop_bits)(__mmask16 m) { return (uint64_t)m; }
NNOPT__OP __mmask16 V(drop_from_bits)(unsigned bits) { return (__mmask16)bits; }
NNOPT__OP void V(bn_prefetch)(const float *p, size_t ahead)   /* into L2; may pass the end */
{ _mm_prefetch((const char *)((uintptr_t)p + ahead * sizeof(float)), _MM_HINT_T1); }
NNOPT__OP __m512 V(bn_keep)(__m512 v, size_t k) { return k == 16 ? v : _mm512_maskz_mov_ps(V(tail_mask)(k), v); }
NNOPT__OP __mmask8 V(bn_mask_pd)(size_t k) { return (__mmask8)((1u << k) - 1u); }   /* k <= 8 */
NNOPT__OP void V(bn_dacc_load)(V(dacc) *s, const double *m, size_t k)
{
    if (k == 16) { s->d[0] = _mm512_loadu_pd(m); s->d[1] = _mm512_loadu_pd(m + 8); return; }
    s->d[0] = _mm512_maskz_loadu_pd(V(bn_mask_pd)(k < 8 ? k : 8), m);
    s->d[1] = _mm512_maskz_loadu_pd(V(bn_mask_pd)(k < 8 ? 0 : k - 8), m + 8);
}
NNOPT__OP void V(bn_dacc_save)(const V(dacc) *s, double *m, size_t k)
{
    if (k == 16) { _mm512_storeu_pd(m, s->d[0]); _mm512_storeu_pd(m + 8, s->d[1]); return; }
    _mm512_mask_storeu_pd(m, V(bn_mask_pd)(k < 8 ? k : 8), s->d[0]);
    _mm512_mask_storeu_pd(m + 8, V(bn_mask_pd)(k < 8 ? 0 : k - 8), s->d[1]);
}
NNOPT__OP void V(bn_dacc_add_mul)(V(dacc) *s, __m512 a, __m512 b, size_t part)
{
    __m512d alo, ahi, blo, bhi; (void)part; V(dacc_split)(a, &alo, &ahi); V(dacc_split)(b, &blo, &bhi);
    s->d[0] = _mm512_fmadd_pd(alo, blo, s->d[0]); s->d[1] = _mm512_fmadd_pd(ahi, bhi, s->d[1]);
}
#endif

/* ---- Derived operations, written once for every path ------------------------------ */

/* sign(x): 1, -1 or 0 (and 0 for NaN: torch's gradient of |x| at 0 too). */
NNOPT__OP V(vec) V(sign)(V(vec) x)
{
    V(vec) zero = V(set1)(0.0f);
    return V(select)(V(gt)(x, zero), V(set1)(1.0f), V(select)(V(lt)(x, zero), V(set1)(-1.0f), zero));
}

/* x*b + (1-b)*y with both coefficients given: the exponential moving average every
   adaptive method keeps (torch: x.mul_(b).add_(y, alpha=1-b)). */
NNOPT__OP V(vec) V(ema)(V(vec) x, float b, V(vec) y, float one_minus_b)
{
    return V(fma)(y, V(set1)(one_minus_b), V(mul)(x, V(set1)(b)));
}

/* Philox4x32-10 on NNOPT__W counters at once: lane l computes block `block + l` of `stream`
   (block & 15 plus the width stays within 16, so the low counter word never carries). */
NNOPT__OP void V(philox)(uint32_t k0, uint32_t k1, uint64_t block, uint64_t stream, V(ivec) out[4])
{
    V(ivec) c0 = V(iadd)(V(iset1)((uint32_t)block), V(iota)()), c1 = V(iset1)((uint32_t)(block >> 32));
    V(ivec) c2 = V(iset1)((uint32_t)stream), c3 = V(iset1)((uint32_t)(stream >> 32));
    V(ivec) m0 = V(iset1)(NNOPT__PHILOX_M0), m1 = V(iset1)(NNOPT__PHILOX_M1);
    int round;
#if defined(__GNUC__) && !defined(__clang__)
#  pragma GCC unroll 10      /* gcc -O2 keeps the loop (and its register moves); clang unrolls */
#endif
    for (round = 0; round < 10; round++) {
        V(ivec) hi0, hi1, lo0 = V(imulhilo)(c0, m0, &hi0), lo1 = V(imulhilo)(c2, m1, &hi1);
        if (round > 0) { k0 += NNOPT__PHILOX_W0; k1 += NNOPT__PHILOX_W1; }
        c0 = V(ixor3)(hi1, c1, V(iset1)(k0));
        c1 = lo1;
        c2 = V(ixor3)(hi0, c3, V(iset1)(k1));
        c3 = lo0;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* How far ahead (floats) reduction passes prefetch what they read: 4 KB, measured to take the
   norm passes from 0.70-0.75 of the read roof to 0.98-1.0 at 16M (2 KB: 0.98; 512 B: 0.82). */
#define NNOPT__READ_AHEAD 1024

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

/* NNOPT__REDUCING_KERNEL(name, args_type): like NNOPT__KERNEL, for blocks that also add into
   two 16-lane double sums (args->sum[0], args->sum[1]). Elements go through in blocks of 16;
   within one, `part` numbers the vectors (0..16/W-1), so element o of a block always lands in
   double lane o, on every path. */
#define NNOPT__REDUCING_KERNEL(name, args_type)                                            \
    NNOPT__PRIVATE NNOPT__TARGET void V(name)(args_type *args)                             \
    {                                                                                      \
        args_type a = *args;                                                               \
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

/* Masked-off tail lanes load as 0, which is finite. */
NNOPT__OP void V(all_finite_block)(nnopt__finite_args *a, size_t i, size_t k)
{
    V(vec) x = V(loadn)(a->x + i, k);
    a->ok &= V(all)(V(lt)(V(abs)(x), V(set1)(INFINITY)));
}
NNOPT__KERNEL(all_finite, nnopt__finite_args)

/* ---- Optimizer kernels ------------------------------------------------------------ */
#ifndef NNOPT_NO_OPTIM


/* What every optimizer does to the gradient first: negate it to maximize, add coupled weight
   decay wd*p, or shrink p by the decoupled factor. */
NNOPT__OP V(vec) V(grad_prologue)(const nnopt__optim_args *a, V(vec) *p, V(vec) g)
{
    if (a->maximize) g = V(neg)(g);
    if (a->weight_decay != 0.0f) g = V(fma)(*p, V(set1)(a->weight_decay), g);
    if (a->decay != 1.0f) *p = V(mul)(*p, V(set1)(a->decay));
    return g;
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
        V(prefetch)(a->s[0] + i, 512);
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
    V(prefetch)(a->s[2] + i, 512);           /* u is only written here */
    V(prefetch)(a->param + i, NNOPT__READ_AHEAD);
    V(prefetch)(a->grad + i, NNOPT__READ_AHEAD);
    V(prefetch)(a->s[0] + i, NNOPT__READ_AHEAD);
    V(prefetch)(a->s[1] + i, NNOPT__READ_AHEAD);
    NNOPT__STORE(a->s[2], u);
    /* A tail's unused lanes hold u = 0/(0 + eps), NaN when eps is 0: sum the stored u back */
    if (k < NNOPT__W) u = NNOPT__LOAD(a->s[2]);    /* with those lanes read as 0. */
    V(dacc_add_sq)(p_sq, p, part);
    V(dacc_add_sq)(u_sq, u, part);
}
NNOPT__REDUCING_KERNEL(lamb_moments, nnopt__optim_args)
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
    V(prefetch)(a->param + i, NNOPT__READ_AHEAD);
    V(prefetch)(a->grad + i, NNOPT__READ_AHEAD);
    V(dacc_add_sq)(p_sq, p, part);
    V(dacc_add_sq)(u_sq, V(lars_update)(a, p, NNOPT__LOAD(a->grad)), part);
}
NNOPT__REDUCING_KERNEL(lars_norms, nnopt__optim_args)
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
    V(prefetch)(a->grad + i, NNOPT__READ_AHEAD);
    V(dacc_add_sq)(sq, g, part);
    if (a->k.clip.absolute) V(dacc_add)(ab, V(abs)(g), part);
}
NNOPT__REDUCING_KERNEL(grad_sums, nnopt__optim_args)
NNOPT__OP void V(grad_max_abs_block)(nnopt__optim_args *a, size_t i, size_t k, size_t part,
                                     V(dacc) *mx, V(dacc) *unused)
{
    (void)unused;
    V(prefetch)(a->grad + i, NNOPT__READ_AHEAD);
    V(dacc_max)(mx, V(abs)(NNOPT__LOAD(a->grad)), part);
}
NNOPT__REDUCING_KERNEL(grad_max_abs, nnopt__optim_args)
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
    V(prefetch)(a->param + i, NNOPT__READ_AHEAD);
    V(prefetch)(a->s[0] + i, NNOPT__READ_AHEAD);
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
#endif /* NNOPT_NO_OPTIM */

/* ---- Random-number kernels -------------------------------------------------------- */
/* The 64 words of super-block `super` in index order. */
NNOPT__OP void V(random_super)(uint32_t k0, uint32_t k1, uint64_t stream, uint64_t super, uint32_t words[64])
{
    size_t h;
    int j;
    for (h = 0; h < 16; h += NNOPT__W) {
        V(ivec) w[4];
        V(philox)(k0, k1, super * 16 + h, stream, w);
        for (j = 0; j < 4; j++) V(istore)(words + 16 * j + h, w[j]);
    }
}

/* (x >> 8) * 2^-24: exact, in [0, 1). */
NNOPT__OP V(vec) V(u01)(V(ivec) x) { return V(mul)(V(itof)(V(isrl)(x, 8)), V(set1)(5.9604644775390625e-8f)); }

/* ln x for x in (0, 1]: x = 2^e m with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s) with
   s = (m - 1) / (m + 1), |s| < 0.172, as an odd series to s^13 (truncation below 1e-9). */
NNOPT__OP V(vec) V(log_unit)(V(vec) x)
{
    V(ivec) bits = V(asint)(x);
    V(vec) e = V(itof)(V(isrl)(bits, 23)), m = V(asfloat)(V(ior)(V(iand)(bits, V(iset1)(0x007FFFFFu)), V(iset1)(0x3F800000u)));
    V(mask) big = V(gt)(m, V(set1)(1.41421356f));
    V(vec) s, z, poly;
    m = V(select)(big, V(mul)(m, V(set1)(0.5f)), m);
    e = V(sub)(V(select)(big, V(add)(e, V(set1)(1.0f)), e), V(set1)(127.0f));
    s = V(div)(V(sub)(m, V(set1)(1.0f)), V(add)(m, V(set1)(1.0f)));
    z = V(mul)(s, s);
    poly = V(fma)(z, V(set1)(2.0f / 13.0f), V(set1)(2.0f / 11.0f));
    poly = V(fma)(z, poly, V(set1)(2.0f / 9.0f));
    poly = V(fma)(z, poly, V(set1)(2.0f / 7.0f));
    poly = V(fma)(z, poly, V(set1)(2.0f / 5.0f));
    poly = V(fma)(z, poly, V(set1)(2.0f / 3.0f));
    poly = V(fma)(z, poly, V(set1)(2.0f));
    /* e ln2 split in two so e * ln2_hi is exact */
    return V(fma)(e, V(set1)(0.693145751953125f), V(fma)(s, poly, V(mul)(e, V(set1)(1.4286068203094172e-6f))));
}

/* Box-Muller: u1 = ((w1 >> 8) + 1) 2^-24 in (0, 1], angle = 2 pi (w2 >> 8) 2^-24. The angle is
   reduced exactly in quarter turns (4t - k, k the nearest integer) and sine and cosine of the
   remainder (|x| <= pi/4) come from Taylor polynomials to x^9 and x^10 (error below 2e-9). */
NNOPT__OP void V(normal_pair)(V(ivec) w1, V(ivec) w2, V(vec) *cos_out, V(vec) *sin_out)
{
    V(vec) u1 = V(mul)(V(itof)(V(iadd)(V(isrl)(w1, 8), V(iset1)(1))), V(set1)(5.9604644775390625e-8f));
    V(vec) r = V(sqrt)(V(mul)(V(set1)(-2.0f), V(log_unit)(u1)));
    V(vec) quarter = V(mul)(V(u01)(w2), V(set1)(4.0f));
    V(ivec) k = V(ftoi)(V(add)(quarter, V(set1)(0.5f)));
    V(vec) x = V(mul)(V(sub)(quarter, V(itof)(k)), V(set1)(1.57079637f));
    V(vec) z = V(mul)(x, x), sp, cp, s, c;
    sp = V(fma)(z, V(set1)(2.7557319e-6f), V(set1)(-1.98412698e-4f));
    sp = V(fma)(z, sp, V(set1)(8.33333333e-3f));
    sp = V(fma)(z, sp, V(set1)(-0.166666667f));
    s = V(fma)(V(mul)(z, x), sp, x);
    cp = V(fma)(z, V(set1)(2.4801587e-5f), V(set1)(-1.38888889e-3f));
    cp = V(fma)(z, cp, V(set1)(4.16666667e-2f));
    cp = V(fma)(z, cp, V(set1)(-0.5f));
    c = V(fma)(z, cp, V(set1)(1.0f));
    {   /* angle = k pi/2 + x: odd k swaps sine and cosine; k = 2, 3 negate the sine, k = 1, 2 the cosine */
        V(mask) swap = V(itest)(k, V(iset1)(1));
        V(vec) sin_x = V(select)(swap, c, s), cos_x = V(select)(swap, s, c);
        *sin_out = V(mul)(r, V(select)(V(itest)(k, V(iset1)(2)), V(neg)(sin_x), sin_x));
        *cos_out = V(mul)(r, V(select)(V(itest)(V(iadd)(k, V(iset1)(1)), V(iset1)(2)), V(neg)(cos_x), cos_x));
    }
}

/* The 64 outputs of super-block `super`, written to dst (elements of the kind's size). */
NNOPT__OP void V(random_fill_super)(const nnopt__random_args *a, uint64_t super, void *dst)
{
    size_t h;
    int j;
    for (h = 0; h < 16; h += NNOPT__W) {
        V(ivec) w[4];
        V(philox)(a->key[0], a->key[1], super * 16 + h, a->stream, w);
        if (a->kind == NNOPT__RANDOM_U32) {
            for (j = 0; j < 4; j++) V(istore)((uint32_t *)dst + 16 * j + h, w[j]);
        } else if (a->kind == NNOPT__RANDOM_UNIFORM) {
            for (j = 0; j < 4; j++) V(storen)((float *)dst + 16 * j + h, V(u01)(w[j]), NNOPT__W);
        } else if (a->kind == NNOPT__RANDOM_BERNOULLI) {
            for (j = 0; j < 4; j++) V(store_flags)((uint8_t *)dst + 16 * j + h, V(uniform_below)(w[j], a->threshold));
        } else {
            V(vec) std = V(set1)(a->std), mean = V(set1)(a->mean), c, s;
            for (j = 0; j < 4; j += 2) {
                V(normal_pair)(w[j], w[j + 1], &c, &s);
                V(storen)((float *)dst + 16 * j + h, V(fma)(std, c, mean), NNOPT__W);
                V(storen)((float *)dst + 16 * j + 16 + h, V(fma)(std, s, mean), NNOPT__W);
            }
        }
    }
}

/* Numbers first .. last (inclusive: the last index of the space is reachable) into out:
   whole super-blocks straight to out, partial ones through a local block. */
NNOPT__PRIVATE NNOPT__TARGET void V(random_run)(const nnopt__random_args *a, void *out, size_t elem,
                                                uint64_t first, uint64_t last)
{
    uint64_t super;
    for (super = first >> 6; super <= last >> 6; super++) {
        uint64_t lo = super << 6, hi = lo + 63;
        char *dst = (char *)out + (size_t)(lo > first ? lo - first : 0) * elem;
        if (lo >= first && hi <= last) {
            V(random_fill_super)(a, super, dst);
        } else {
            union { uint32_t u[64]; float f[64]; uint8_t b[64]; } local;
            uint64_t from = lo > first ? lo : first, to = hi < last ? hi : last;
            V(random_fill_super)(a, super, &local);
            memcpy(dst, (char *)&local + (size_t)(from - lo) * elem, (size_t)(to - from + 1) * elem);
        }
        if (super == UINT64_MAX >> 6) break;
    }
}



#ifndef NNOPT_NO_REG
/* ---- Regularization kernels ------------------------------------------------------- */
#define NNOPT__RLOAD(ptr)      V(loadn)((ptr) + i, k)
#define NNOPT__RSTORE(ptr, v)  V(storen)((ptr) + i, (v), k)


/* Penalties: g = (g + l1 sign(w)) + l2 w, two fused multiply-adds (l1 sign(w) is exact);
   sums of |w| (s0) and w^2 (s1) for the value. Masked-off tail lanes load as 0 and add 0. */
NNOPT__OP void V(penalty_block)(nnopt__reg_args *a, size_t i, size_t k, size_t part,
                                V(dacc) *s_abs, V(dacc) *s_sq)
{
    V(vec) w = NNOPT__RLOAD(a->w);
    V(prefetch)(a->w + i, NNOPT__READ_AHEAD);
    if (a->g) {
        V(vec) g = NNOPT__RLOAD(a->g);
        V(prefetch)(a->g + i, NNOPT__READ_AHEAD);
        if (a->l1 != 0.0f) g = V(fma)(V(sign)(w), V(set1)(a->l1), g);
        if (a->l2 != 0.0f) g = V(fma)(w, V(set1)(a->l2), g);
        NNOPT__RSTORE(a->g, g);
    }
    if (a->want_sums) V(dacc_add_and_sq)(s_abs, s_sq, V(abs)(w), part);   /* |w|^2 = w^2 exactly */
}
NNOPT__REDUCING_KERNEL(penalty, nnopt__reg_args)

/* Proximal step: v = w - lr g (one fma; skipped without a gradient), then
   t = |v| - threshold; w = t <= 0 ? +0 : sign(v) t, divided by denom = 1 + lr l2 unless 1.
   A NaN v fails t <= 0 and stays NaN. */
NNOPT__OP void V(prox_block)(nnopt__reg_args *a, size_t i, size_t k)
{
    V(vec) zero = V(set1)(0.0f), v = NNOPT__RLOAD(a->w), t, r;
    if (a->grad_in) v = V(fma)(NNOPT__RLOAD(a->grad_in), V(set1)(a->neg_lr), v);
    t = V(sub)(V(abs)(v), V(set1)(a->threshold));
    r = V(select)(V(le)(t, zero), zero, V(select)(V(lt)(v, zero), V(neg)(t), t));
    if (a->denom != 1.0f) r = V(div)(r, V(set1)(a->denom));
    NNOPT__RSTORE(a->w, r);
}
NNOPT__KERNEL(prox, nnopt__reg_args)

/* Max-norm: a row's sum of squares (s0), then the row times scale. */
NNOPT__OP void V(sum_squares_block)(nnopt__reg_args *a, size_t i, size_t k, size_t part,
                                    V(dacc) *s_sq, V(dacc) *unused)
{
    (void)unused;
    V(prefetch)(a->w + i, NNOPT__READ_AHEAD);
    V(dacc_add_sq)(s_sq, NNOPT__RLOAD(a->w), part);
}
NNOPT__REDUCING_KERNEL(sum_squares, nnopt__reg_args)
NNOPT__OP void V(reg_scale_block)(nnopt__reg_args *a, size_t i, size_t k)
{
    NNOPT__RSTORE(a->w, V(mul)(NNOPT__RLOAD(a->w), V(set1)(a->scale)));
}
NNOPT__KERNEL(reg_scale, nnopt__reg_args)

#undef NNOPT__RLOAD
#undef NNOPT__RSTORE
#endif /* NNOPT_NO_REG */



#ifndef NNOPT_NO_DROPOUT
/* ---- Dropout and DropConnect kernels ---------------------------------------------- */
/* The words of consecutive indices, 64 at a time, from whole super-blocks: index + 64c + j is
   words_next's j-th word on its c-th call. An index not on a super-block boundary reads
   across two of them (buf holds super-blocks s and s + 1; r = index mod 64). */
typedef struct {
    uint32_t key[2];
    uint64_t stream, next;
    unsigned r;
    int random;
    uint32_t buf[128];
} V(wordgen);

NNOPT__OP void V(words_init)(V(wordgen) *g, const uint32_t key[2], uint64_t stream, uint64_t index,
                             int random)
{
    g->key[0] = key[0]; g->key[1] = key[1];
    g->stream = stream;
    g->next = index >> 6;
    g->r = (unsigned)(index & 63);
    g->random = random;
    if (!random) memset(g->buf, 0, 80 * sizeof(uint32_t));   /* what a chunk can read */
    else if (g->r) V(random_super)(key[0], key[1], stream, g->next++, g->buf + 64);
}

NNOPT__OP const uint32_t *V(words_next)(V(wordgen) *g)
{
    if (!g->random) return g->buf;
    if (!g->r) {
        V(random_super)(g->key[0], g->key[1], g->stream, g->next++, g->buf);
        return g->buf;
    }
    memcpy(g->buf, g->buf + 64, 64 * sizeof(uint32_t));
    V(random_super)(g->key[0], g->key[1], g->stream, g->next++, g->buf + 64);
    return g->buf + g->r;
}

#ifndef NNOPT__DROP_AHEAD
#  define NNOPT__DROP_AHEAD 1024   /* floats: measured best of 256 to 4096 */
#endif
/* Elements [i, i + k), k <= 64, i a multiple of 64; words[j] belongs to element i + j. */
NNOPT__OP void V(dropout_chunk)(const nnopt__dropout_args *a, size_t i, size_t k, const uint32_t *words)
{
    V(vec) scale = V(set1)(a->scale), bias = V(set1)(a->bias), dropped = V(set1)(a->dropped);
    uint64_t bits = 0;
    size_t j;
    /* The Philox rounds of a chunk keep the core busy for a while: asking for the data of a
       chunk well ahead lets memory work meanwhile instead of after. */
    for (j = 0; j < 64; j += 16) {
        V(prefetch)(a->x + i + j, NNOPT__DROP_AHEAD);
        V(prefetch)(a->y + i + j, NNOPT__DROP_AHEAD);
    }
    for (j = 0; j < k; j += NNOPT__W) {
        size_t kk = k - j < NNOPT__W ? k - j : NNOPT__W;
        V(mask) kept = V(drop_kept)(V(iload)(words + j), a->threshold);
        V(vec) x = V(loadn)(a->x + i + j, kk);
        V(storen)(a->y + i + j, a->affine ? V(select)(kept, V(add)(V(mul)(x, scale), bias), dropped)
                                          : V(drop_scaled)(kept, x, scale, dropped), kk);
        bits |= V(drop_bits)(kept) << j;
    }
    if (a->bits) {
        size_t b, bytes = (k + 7) / 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (k == 64) { memcpy(a->bits + i / 8, &bits, 8); return; }   /* bytes in memory order */
#endif
        if (k < 64) bits &= ((uint64_t)1 << k) - 1;
        for (b = 0; b < bytes; b++) a->bits[i / 8 + b] = (uint8_t)(bits >> (8 * b));
    }
}

NNOPT__PRIVATE NNOPT__TARGET void V(dropout)(nnopt__dropout_args *args)
{
    nnopt__dropout_args a = *args;
    V(wordgen) g;
    size_t i;
    V(words_init)(&g, a.key, a.stream, a.offset, a.random);
    for (i = 0; i < a.n; i += 64)
        V(dropout_chunk)(&a, i, a.n - i < 64 ? a.n - i : 64, V(words_next)(&g));
}

/* Backward from stored bits: the W bits of elements [i, i + k) (i a multiple of W). */
NNOPT__OP void V(dropout_bits_block)(nnopt__dropout_args *a, size_t i, size_t k)
{
    size_t q, bytes = (i % 8 + k + 7) / 8;
    unsigned bits = 0;
    for (q = 0; q < bytes; q++) bits |= (unsigned)a->bits_in[i / 8 + q] << (8 * q);
    {
        V(mask) kept = V(drop_from_bits)(bits >> (i % 8));
        V(vec) v = V(mul)(V(loadn)(a->x + i, k), V(set1)(a->scale));
        V(storen)(a->y + i, V(select)(kept, v, V(set1)(0.0f)), k);
    }
}
NNOPT__KERNEL(dropout_bits, nnopt__dropout_args)

/* Channel dropout: y = x * scale over a kept NCHW channel; y = f ? x * f : 0 with one
   factor per channel over an NHWC pixel (f = 0 for a dropped channel). */
NNOPT__OP void V(dropout_scale_block)(nnopt__dropout_args *a, size_t i, size_t k)
{
    V(storen)(a->y + i, V(mul)(V(loadn)(a->x + i, k), V(set1)(a->scale)), k);
}
NNOPT__KERNEL(dropout_scale, nnopt__dropout_args)
NNOPT__OP void V(dropout_factors_block)(nnopt__dropout_args *a, size_t i, size_t k)
{
    V(vec) f = V(loadn)(a->factors + i, k), zero = V(set1)(0.0f);
    V(storen)(a->y + i, V(select)(V(eq)(f, zero), zero, V(mul)(V(loadn)(a->x + i, k), f)), k);
}
NNOPT__KERNEL(dropout_factors, nnopt__dropout_args)

/* DropConnect, one (sample, unit) row: the masked dot sum_i kept_i w_i x_i (s0) and
   sum_i (kept_i w_i x_i)^2 (s1, the Gaussian variance without a mask) into double lanes, or
   the backward rows. Element i of the row lands in lane i mod 16 on every path; the backward
   updates run lane-wise, in the same order for every element. */
NNOPT__PRIVATE NNOPT__TARGET void V(dropconnect_row)(nnopt__dropconnect_args *args)
{
    nnopt__dropconnect_args a = *args;
    V(wordgen) g;
    V(dacc) s0, s1;
    V(vec) dy = V(set1)(a.dy), zero = V(set1)(0.0f);
    size_t i, j;
    V(dacc_zero)(&s0); V(dacc_zero)(&s1);
    V(words_init)(&g, a.key, a.stream, a.offset, a.random);
    for (i = 0; i <= a.in; i += 64) {
        const uint32_t *words = V(words_next)(&g);
        size_t k = a.in - i < 64 ? a.in - i : 64;
        for (j = 0; j < k; j += NNOPT__W) {
            size_t kk = k - j < NNOPT__W ? k - j : NNOPT__W, at = i + j;
            /* A dropped connection adds nothing, not 0 times its input (NaN for a NaN or
               infinite x or dy), as a dropped bias and dropout's dropped elements. */
            V(mask) kept = V(drop_kept)(V(iload)(words + j), a.threshold);
            V(vec) w = V(loadn)(a.w + at, kk);
            if (a.dx) {
                V(vec) dx = V(loadn)(a.dx + at, kk);
                V(storen)(a.dx + at, V(select)(kept, V(fma)(w, dy, dx), dx), kk);
            }
            if (a.dw) {
                V(vec) dw = V(loadn)(a.dw + at, kk);
                V(storen)(a.dw + at, V(select)(kept, V(fma)(V(loadn)(a.x + at, kk), dy, dw), dw), kk);
            }
            if (!a.dx && !a.dw) {
                V(vec) wx = V(select)(kept, V(mul)(w, V(loadn)(a.x + at, kk)), zero);
                V(dacc_add)(&s0, wx, (j % 16) / NNOPT__W);
                V(dacc_add_sq)(&s1, wx, (j % 16) / NNOPT__W);
            }
        }
        if (a.in - i < 64) a.bias_kept = (words[a.in - i] >> 8) >= a.threshold;
    }
    V(dacc_store)(&s0, args->sum[0]);
    V(dacc_store)(&s1, args->sum[1]);
    args->bias_kept = a.bias_kept;
}
#endif /* NNOPT_NO_DROPOUT */



#ifndef NNOPT_NO_BATCHNORM
/* ---- Batch-normalization kernels -------------------------------------------------- */
/* The coefficients of nnopt__bn_coefs as vectors, by the same names. */
#define NNOPT__BN_VEC_FIELD(field) V(vec) field;
typedef struct { NNOPT__BN_FIELDS(NNOPT__BN_VEC_FIELD) } V(bn_coefv);
#undef NNOPT__BN_VEC_FIELD

/* The coefficients in `reads` for columns [i, i+k): one vector per column (NHWC) or the
   tile's single value in every lane (NCHW); the others are 0. Written out field by field: a
   loop here stays a loop at -O2 and keeps the vectors in memory. */
NNOPT__OP void V(bn_coefs)(const nnopt__bn_tile *t, size_t i, size_t k, int per_column, unsigned reads,
                           V(bn_coefv) *c)
{
#define NNOPT__BN_LOAD_FIELD(field)                                                                 \
    c->field = !(reads & NNOPT__BN_COEF(field)) ? V(set1)(0.0f)                                     \
               : per_column ? V(loadn)(t->coef.field + i, k) : V(set1)(t->coef.field[0]);
    NNOPT__BN_FIELDS(NNOPT__BN_LOAD_FIELD)
#undef NNOPT__BN_LOAD_FIELD
}

/* The gradient that reaches the normalization: dy, or with the fused ReLU 0 where the
   forward's output fma(xc, scale, shift) was not positive (torch's relu backward: dy where
   y > 0), recomputed from xc = x - mean with the forward's own operations. */
NNOPT__OP V(vec) V(bn_grad)(V(vec) dy, V(vec) xc, const V(bn_coefv) *c, int relu)
{
    V(vec) zero = V(set1)(0.0f);
    return relu ? V(select)(V(gt)(V(fma)(xc, c->scale, c->shift), zero), dy, zero) : dy;
}

/* The two summed quantities at [at, at+k): s0 adds u, s1 adds p*q. Forward: x - K and its
   square; backward: g and (x - mean) g. Lanes past k are 0 so they add nothing. */
NNOPT__OP void V(bn_terms)(const nnopt__bn_tile *t, size_t at, size_t k, const V(bn_coefv) *c,
                           int kind, int relu, V(vec) *u, V(vec) *p, V(vec) *q)
{
    V(vec) xc = V(bn_keep)(V(sub)(V(loadn)(t->x + at, k), c->centre), k);
    if (kind == NNOPT__BN_FORWARD) { *u = *p = *q = xc; return; }
    *u = *q = V(bn_grad)(V(loadn)(t->dy + at, k), xc, c, relu);
    *p = xc;
}

/* Forward: y = fma(x - mean, scale, shift) (max(y, 0) with relu). Backward, training:
   dx = fma(x - mean, xc_scale, fma(g, dy_scale, dx_shift)); inference: dx = g dy_scale. */
NNOPT__OP V(vec) V(bn_out)(const nnopt__bn_tile *t, size_t at, size_t k, const V(bn_coefv) *c,
                           int kind, int relu)
{
    V(vec) xc, g;
    if (kind == NNOPT__BN_BACKWARD_INFER && !relu) return V(mul)(V(loadn)(t->dy + at, k), c->dy_scale);
    xc = V(sub)(V(loadn)(t->x + at, k), c->centre);
    if (kind == NNOPT__BN_FORWARD) {
        V(vec) y = V(fma)(xc, c->scale, c->shift);   /* the ReLU keeps a NaN (max alone gives 0), as torch.relu */
        return relu ? V(select)(V(eq)(y, y), V(max)(y, V(set1)(0.0f)), y) : y;
    }
    g = V(bn_grad)(V(loadn)(t->dy + at, k), xc, c, relu);
    if (kind == NNOPT__BN_BACKWARD_INFER) return V(mul)(g, c->dy_scale);
    return V(fma)(xc, c->xc_scale, V(fma)(g, c->dy_scale, c->dx_shift));
}

/* NCHW sums of one channel. Element s of each plane adds into double lane s mod 16 (planes in
   order, then the lanes by a fixed tree on the host): the same order on every path. The
   plane after next is fetched ahead (short planes defeat the hardware prefetcher). */
NNOPT__OP void V(bn_plane_sums_kind)(const nnopt__bn_tile *t, double lanes[2][16], int kind, int relu)
{
    V(dacc) s0, s1;
    V(bn_coefv) c;
    V(vec) u, p, q;
    size_t r;
    V(bn_coefs)(t, 0, NNOPT__W, 0, nnopt__bn_reads(kind, relu, 0), &c);
    V(dacc_zero)(&s0); V(dacc_zero)(&s1);
    for (r = 0; r < t->rows; r++) {
        size_t row = r * t->stride, i, part, at, k;
        for (i = 0; i + 16 <= t->width; i += 16) {
            V(bn_prefetch)(t->x + row + i, 2 * t->stride);
            if (kind != NNOPT__BN_FORWARD) V(bn_prefetch)(t->dy + row + i, 2 * t->stride);
            for (part = 0; part < 16 / NNOPT__W; part++) {
                V(bn_terms)(t, row + i + part * NNOPT__W, NNOPT__W, &c, kind, relu, &u, &p, &q);
                V(dacc_add)(&s0, u, part);
                V(bn_dacc_add_mul)(&s1, p, q, part);
            }
        }
        for (part = 0; (at = i + part * NNOPT__W) < t->width; part++) {
            k = t->width - at < NNOPT__W ? t->width - at : NNOPT__W;
            V(bn_terms)(t, row + at, k, &c, kind, relu, &u, &p, &q);
            V(dacc_add)(&s0, u, part);
            V(bn_dacc_add_mul)(&s1, p, q, part);
        }
    }
    V(dacc_store)(&s0, lanes[0]);
    V(dacc_store)(&s1, lanes[1]);
}

/* NHWC sums of a strip of channels: each channel's double in s0[], s1[] adds its values row
   after row (the same order whatever the vector width or the columns a thread takes). Rows
   go in blocks of 4 so the accumulators stay in registers across a block. */
NNOPT__OP void V(bn_row_sums_kind)(const nnopt__bn_tile *t, double *s0, double *s1, int kind, int relu)
{
    size_t r, i, k, rr;
    for (r = 0; r < t->rows; r += 4) {
        size_t rows = t->rows - r < 4 ? t->rows - r : 4;
        for (i = 0; i < t->width; i += k) {
            V(bn_coefv) c;
            V(vec) u, p, q;
            V(dacc) a0, a1;
            k = t->width - i < NNOPT__W ? t->width - i : NNOPT__W;
            V(bn_coefs)(t, i, k, 1, nnopt__bn_reads(kind, relu, 0), &c);
            V(bn_dacc_load)(&a0, s0 + i, k);
            V(bn_dacc_load)(&a1, s1 + i, k);
            for (rr = 0; rr < rows; rr++) {
                V(bn_terms)(t, (r + rr) * t->stride + i, k, &c, kind, relu, &u, &p, &q);
                V(dacc_add)(&a0, u, 0);
                V(bn_dacc_add_mul)(&a1, p, q, 0);
            }
            V(bn_dacc_save)(&a0, s0 + i, k);
            V(bn_dacc_save)(&a1, s1 + i, k);
        }
    }
}

/* The elementwise pass. NCHW (one set of coefficients): with `prefetch`, the next channel's
   inputs are fetched into L2 while this one is still there. */
NNOPT__OP void V(bn_apply_kind)(const nnopt__bn_tile *t, int kind, int relu)
{
    V(bn_coefv) c;
    size_t r, i, k;
    const unsigned reads = nnopt__bn_reads(kind, relu, 1);
    V(bn_coefs)(t, 0, t->width < NNOPT__W ? t->width : NNOPT__W, t->per_column, reads, &c);
    for (r = 0; r < t->rows; r++)
        for (i = 0; i < t->width; i += k) {
            size_t at = r * t->stride + i;
            k = t->width - i < NNOPT__W ? t->width - i : NNOPT__W;
            if (t->per_column) V(bn_coefs)(t, i, k, 1, reads, &c);
            if (t->prefetch) {
                V(bn_prefetch)(t->x + at, t->prefetch);
                if (kind != NNOPT__BN_FORWARD) V(bn_prefetch)(t->dy + at, t->prefetch);
            }
            V(storen)(t->out + at, V(bn_out)(t, at, k, &c, kind, relu), k);
        }
}

/* One instance per kind of pass. The arguments are copied to a local so the compiler knows
   the stores cannot change them. */
#define NNOPT__BN_KINDS(call)                                                              \
    switch (a.dy ? (a.centered ? NNOPT__BN_BACKWARD : NNOPT__BN_BACKWARD_INFER) : NNOPT__BN_FORWARD) { \
    case NNOPT__BN_FORWARD:  if (a.relu) call(NNOPT__BN_FORWARD, 1); else call(NNOPT__BN_FORWARD, 0); break; \
    case NNOPT__BN_BACKWARD: if (a.relu) call(NNOPT__BN_BACKWARD, 1); else call(NNOPT__BN_BACKWARD, 0); break; \
    default: if (a.relu) call(NNOPT__BN_BACKWARD_INFER, 1); else call(NNOPT__BN_BACKWARD_INFER, 0); break; \
    }

NNOPT__PRIVATE NNOPT__TARGET void V(bn_plane_sums)(const nnopt__bn_tile *tile, double lanes[2][16])
{
    nnopt__bn_tile a = *tile;
#define NNOPT__BN_CALL(kind, relu) V(bn_plane_sums_kind)(&a, lanes, kind, relu)
    NNOPT__BN_KINDS(NNOPT__BN_CALL)
#undef NNOPT__BN_CALL
}

NNOPT__PRIVATE NNOPT__TARGET void V(bn_row_sums)(const nnopt__bn_tile *tile, double *s0, double *s1)
{
    nnopt__bn_tile a = *tile;
#define NNOPT__BN_CALL(kind, relu) V(bn_row_sums_kind)(&a, s0, s1, kind, relu)
    NNOPT__BN_KINDS(NNOPT__BN_CALL)
#undef NNOPT__BN_CALL
}

NNOPT__PRIVATE NNOPT__TARGET void V(bn_apply)(const nnopt__bn_tile *tile)
{
    nnopt__bn_tile a = *tile;
#define NNOPT__BN_CALL(kind, relu) V(bn_apply_kind)(&a, kind, relu)
    NNOPT__BN_KINDS(NNOPT__BN_CALL)
#undef NNOPT__BN_CALL
}
#undef NNOPT__BN_KINDS
#endif /* NNOPT_NO_BATCHNORM */



#ifndef NNOPT_NO_AUGMENT
/* ---- Augmentation kernels --------------------------------------------------------- */
/* torch's upsample along the row: x[a] l0 + x[b] l1, k values to out (the weights loaded once
   per block: the stores of one channel could otherwise overwrite them for the compiler). */
NNOPT__OP void V(aug_hrow_mix)(float *out, size_t k, V(vec) xa, V(vec) xb, V(vec) wa, V(vec) wb)
{
    V(storen)(out, V(add)(V(mul)(xa, wa), V(mul)(xb, wb)), k);
}

/* One gather per pixel for every channel. */
NNOPT__OP void V(aug_hrow_block)(nnopt__aug_hrow_args *a, size_t i, size_t k)
{
    if (a->u8) {
        V(ivec) pa = V(aug_gather_px)(a->u8, a->ia + i, k, a->channels);
        V(ivec) pb = V(aug_gather_px)(a->u8, a->ib + i, k, a->channels);
        V(ivec) byte = V(iset1)(0xFFu);
        V(vec) wa = V(loadn)(a->wa + i, k), wb = V(loadn)(a->wb + i, k);
        int c;
        for (c = 0; c < a->channels; c++)
            V(aug_hrow_mix)(a->out + (size_t)c * a->n + i, k, V(itof)(V(iand)(V(isrl)(pa, 8 * c), byte)),
                            V(itof)(V(iand)(V(isrl)(pb, 8 * c), byte)), wa, wb);
    } else {
        V(aug_hrow_mix)(a->out + i, k, V(aug_gather_f32)(a->f32, a->ia + i, k), V(aug_gather_f32)(a->f32, a->ib + i, k),
                        V(loadn)(a->wa + i, k), V(loadn)(a->wb + i, k));
    }
}
NNOPT__KERNEL(aug_hrow, nnopt__aug_hrow_args)

/* The uint8 row pass where V(bytes_fast) says picking beats gathering (AVX512-VBMI): where
   the taps of 16 pixels lie within a window of 128 source bytes (a->window: its first byte
   and length, or -1: that block gathers), each vector loads the window and picks its pixels'
   bytes into their lanes, per channel and tap. The same bytes, so the same bits. One row,
   vector by vector (W divides 16): the arguments read once into locals (the row's stores are floats, so nothing needs reloading; a copy of the whole
   struct would be one wide load over the narrow stores the caller just made, which waits for
   them), the channel loop unrolled for RGB. */
NNOPT__INLINE NNOPT__TARGET_BYTES void V(aug_hrow_window_row)(nnopt__aug_hrow_args *a, int channels)
{
    const size_t n = a->n;
    const uint8_t *src = a->u8, *ahead = a->ahead;
    const int32_t *windows = a->window, *indices = a->window_index;
    const float *weight_a = a->wa, *weight_b = a->wb;
    float *out = a->out;
    size_t i;
    for (i = 0; i < n; i += NNOPT__W) {
        size_t k = n - i < NNOPT__W ? n - i : NNOPT__W, j = i % 16;
        const int32_t *win = windows + 2 * (i / 16), *at = indices + (i / 16) * 32 * (size_t)channels + j;
        unsigned len = (unsigned)win[1];
        V(bytes) bytes;
        V(vec) wa, wb;
        int c;
        if (win[0] < 0) { V(aug_hrow_block)(a, i, k); continue; }
        bytes = V(bytes_load)(src + win[0], len);
        if (ahead && j == 0) {                         /* the window's lines, a row ahead */
            V(prefetch_line)(ahead + win[0]);
            V(prefetch_line)(ahead + win[0] + len - 1);
            if (len > 64) V(prefetch_line)(ahead + win[0] + 64);
        }
        wa = V(loadn)(weight_a + i, k); wb = V(loadn)(weight_b + i, k);
        for (c = 0; c < channels; c++) {
            V(vec) xa = V(itof)(V(bytes_pick)(bytes, at + 32 * c));
            V(vec) xb = V(itof)(V(bytes_pick)(bytes, at + 32 * c + 16));
            V(aug_hrow_mix)(out + (size_t)c * n + i, k, xa, xb, wa, wb);
        }
    }
}
NNOPT__PRIVATE NNOPT__TARGET_BYTES void V(aug_hrow_window)(nnopt__aug_hrow_args *args)
{
    if (args->channels == 3) V(aug_hrow_window_row)(args, 3);
    else V(aug_hrow_window_row)(args, args->channels);
}

/* (v / 255 - mean) / std. The vector paths replace each division a / b by a (1/b) with 1/b
   as a pair of floats, fma(a, hi, a lo) (V(div_split)): within about 2^-48 of the quotient,
   so its correctly rounded value except when the quotient lies that close to a rounding
   boundary; nnopt__norm_plan_check tries every byte value before a stage may use it, so all
   paths give the divisions' bits. The portable path divides. */
NNOPT__OP V(vec) V(aug_fast_normalize)(const nnopt__aug_vrow_args *a, V(vec) v)
{
    V(vec) d = V(sub)(V(div_split)(v, 255.0f, a->r255[0], a->r255[1]), V(set1)(a->mean));
    return V(div_split)(d, a->std, a->rstd[0], a->rstd[1]);
}

/* ... then down the column, ta l0 + tb l1; for bytes rounded. Bytes come from bytes: the
   weights of each pass are in [0, 1] and sum to at most 1 + 2^-24, so v lies in
   [0, 255 (1 + 2^-21)] and rounds into [0, 255] with no clamp (torch's clamp changes nothing). */
NNOPT__OP void V(aug_vrow_block)(nnopt__aug_vrow_args *a, size_t i, size_t k)
{
    V(vec) v = V(add)(V(mul)(V(loadn)(a->ta + i, k), V(set1)(a->l0)), V(mul)(V(loadn)(a->tb + i, k), V(set1)(a->l1)));
    if (a->out_u8 || a->normalize) v = V(aug_round)(v);
    if (a->normalize) v = V(aug_fast_normalize)(a, v);
    if (a->out_u8) V(aug_store_u8)(a->out_u8 + i, v, k);
    else V(storen)(a->out_f32 + i, v, k);
}
NNOPT__KERNEL(aug_vrow, nnopt__aug_vrow_args)

/* Every plane of an output row in one call (one dispatch, one setup, per row). */
NNOPT__PRIVATE NNOPT__TARGET void V(aug_vrows)(nnopt__aug_vrow_args *args)
{
    nnopt__aug_vrow_args a = *args;
    int c;
    for (c = 0; c < args->planes; c++) {
        a.ta = args->ta + (size_t)c * args->n; a.tb = args->tb + (size_t)c * args->n;
        if (args->out_f32) a.out_f32 = args->out_f32 + (size_t)c * args->out_step;
        if (args->normalize) {
            a.mean = args->plane_norm[c][0]; a.std = args->plane_norm[c][1];
            a.rstd[0] = args->plane_norm[c][2]; a.rstd[1] = args->plane_norm[c][3];
        }
        V(aug_vrow)(&a);
    }
}

/* MixUp: prev (1 - lam) + x lam, as torchvision's rolled.mul_(1 - lam).add_(batch.mul_(lam)). */
NNOPT__OP void V(aug_mix_block)(nnopt__aug_mix_args *a, size_t i, size_t k)
{
    V(vec) prev = a->out_u8 ? V(aug_load_u8)(a->prev_u8 + i, k) : V(loadn)(a->prev_f32 + i, k);
    V(vec) x = a->out_u8 ? V(aug_load_u8)(a->x_u8 + i, k) : V(loadn)(a->x_f32 + i, k);
    V(vec) v = V(add)(V(mul)(prev, V(set1)(a->one_minus_lam)), V(mul)(x, V(set1)(a->lam)));
    if (a->out_u8) V(aug_store_u8)(a->out_u8 + i, V(aug_round)(v), k);
    else V(storen)(a->out_f32 + i, v, k);
}
NNOPT__KERNEL(aug_mix, nnopt__aug_mix_args)

/* torchvision ConvertImageDtype (x / 255) then Normalize ((x - mean) / std): exact divisions,
   so every path and torch agree bit for bit. */
NNOPT__OP void V(aug_normalize_block)(nnopt__aug_norm_args *a, size_t i, size_t k)
{
    V(vec) x = a->u8 ? V(div)(V(aug_load_u8)(a->u8 + i, k), V(set1)(255.0f)) : V(loadn)(a->f32 + i, k);
    V(storen)(a->out + i, V(div)(V(sub)(x, V(set1)(a->mean)), V(set1)(a->std)), k);
}
NNOPT__KERNEL(aug_normalize, nnopt__aug_norm_args)
#endif /* NNOPT_NO_AUGMENT */



#undef NNOPT__KERNEL
#undef NNOPT__REDUCING_KERNEL
#undef NNOPT__READ_AHEAD
#undef NNOPT__OP
#undef NNOPT__TARGET
#undef NNOPT__TARGET_BYTES
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
