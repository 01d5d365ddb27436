#!/usr/bin/env bash
# nnopt build driver.
#   ./build.sh            the main job: quick benchmarks and the convergence summary
#   ./build.sh test       the conformance suite over every build configuration
#   ./build.sh check [FILTER]   quick tier: the suite built once (gcc -O2), installs nothing;
#                         FILTER runs only the tests whose names contain it (-l lists the names)
#   ./build.sh bench      all microbenchmarks -> bench/results/*.json, docs/performance.md
#   ./build.sh converge   convergence suite
#   ./build.sh examples   build and run examples/
#   ./build.sh install PREFIX   install nnopt.h, the CMake package, nnopt.pc and the docs
#   ./build.sh docs       redraw the figures in docs/ (schedule plots)
#   ./build.sh fuzz [s]   run each fuzz harness for s seconds (default 60; libFuzzer, ASan+UBSan)
#   ./build.sh coverage   line and branch coverage of nnopt.h from the suite -> build/coverage/
#   ./build.sh all        test, examples, bench, converge
#   ./build.sh clean      remove build/
set -u
CALLER_DIR=$(pwd)   # relative paths given on the command line are relative to this
cd "$(dirname "$0")"
ROOT=$(pwd)
BUILD=$ROOT/build

WARN="-Wall -Wextra -Wpedantic -Werror"

usage() {   # the comment block at the top of this file
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

# ---- tools ---------------------------------------------------------------------------

APT_UPDATED=0
apt_install() {   # apt_install PACKAGE...
    if [ "$(id -u)" != 0 ]; then
        echo "build.sh: missing $*; install them (apt-get install $*) or run as root" >&2
        exit 2
    fi
    echo "build.sh: installing $* with apt-get"
    if [ $APT_UPDATED = 0 ]; then
        apt-get update -qq || { echo "build.sh: apt-get update failed" >&2; exit 2; }
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null ||
        { echo "build.sh: apt-get install $* failed" >&2; exit 2; }
}

need_compilers() {
    local pkgs=()
    command -v gcc >/dev/null || pkgs+=(gcc)
    command -v g++ >/dev/null || pkgs+=(g++)
    command -v clang >/dev/null || pkgs+=(clang)
    command -v clang++ >/dev/null || pkgs+=(clang)
    # gcc's sanitizer runtimes
    if command -v gcc >/dev/null && ! echo 'int main(void){return 0;}' |
        gcc -x c -fsanitize=address,undefined -o /dev/null - 2>/dev/null; then
        pkgs+=(libasan8 libubsan1)
    fi
    if command -v gcc >/dev/null && ! echo 'int main(void){return 0;}' |
        gcc -x c -fsanitize=thread -o /dev/null - 2>/dev/null; then
        pkgs+=(libtsan2)
    fi
    # a non-x86 target for the portable path: aarch64 cross compiler, run under qemu
    command -v aarch64-linux-gnu-gcc >/dev/null || pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
    command -v qemu-aarch64 >/dev/null || pkgs+=(qemu-user)
    [ ${#pkgs[@]} = 0 ] || apt_install $(printf '%s\n' "${pkgs[@]}" | sort -u)
}

need_integration_tools() {
    local pkgs=()
    command -v cmake >/dev/null || pkgs+=(cmake)
    command -v make >/dev/null || pkgs+=(make)
    command -v pkg-config >/dev/null || pkgs+=(pkg-config)
    [ ${#pkgs[@]} = 0 ] || apt_install "${pkgs[@]}"
}

# ---- test ----------------------------------------------------------------------------

PASSED=0
FAILED=0
record() {   # record NAME STATUS(0 = pass)
    if [ "$2" = 0 ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); echo "FAIL $1"; fi
}

# Compiling the header dominates the test time, so builds run in the background, $JOBS at a
# time (one per core), and their programs run afterwards, one at a time, in a fixed order.
JOBS=${NNOPT_JOBS:-$(nproc 2>/dev/null || echo 2)}
bg_job() {   # bg_job COMMAND...: run in the background once fewer than $JOBS jobs run
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    "$@" &
}

# build_suite NAME COMPILER LANGFLAGS CFLAGS... : compile the suite in one configuration;
# run_suite NAME then runs it and adds its "N passed, M failed" line to the totals.
SUITE_SOURCES="tests/harness.c tests/impl.c tests/quadratic.c $(ls tests/test_*.c | tr "\n" " ")"
build_suite() {
    local name=$1 cc=$2 lang=$3; shift 3
    if $cc $lang "$@" $WARN $SUITE_SOURCES -o "$BUILD/test/nnopt_test_$name" -lm >"$BUILD/test/$name.log" 2>&1
    then echo ok > "$BUILD/test/$name.built"; else echo failed > "$BUILD/test/$name.built"; fi
}
# run_suite NAME [ENV=VALUE...]: with RUNNER set (e.g. an emulator), the binary runs under it.
run_suite() {
    local name=$1 exe=$BUILD/test/nnopt_test_$1; shift
    if [ "$(cat "$BUILD/test/$name.built" 2>/dev/null)" != ok ]; then
        echo "== $name: build failed"; cat "$BUILD/test/$name.log"; record "$name (build)" 1; return
    fi
    run_binary "$name" "$@" ${RUNNER:-} "$exe"
}

run_binary() {   # run_binary NAME [ENV=VALUE...] COMMAND...
    local name=$1; shift
    local out line p f
    out=$(env "$@" 2>&1); local status=$?
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -z "$line" ]; then
        echo "== $name: no result line (exit $status)"; printf '%s\n' "$out" | tail -n 20
        record "$name" 1; return
    fi
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
    if [ "$f" != 0 ] || [ $status != 0 ]; then
        printf '%s\n' "$out" | grep -v -E '^[0-9]+ passed' | head -n 40
        [ "$f" != 0 ] || record "$name (exit $status)" 1
    fi
    printf '%-28s %s\n' "$name" "$line"
}

# check_build NAME COMMAND... : a build (and run) that must succeed.
check_build() {
    local name=$1; shift
    local log=$BUILD/test/check_$(printf '%s' "$name" | tr -c 'A-Za-z0-9_.-' '_').log
    if "$@" >"$log" 2>&1; then record "$name" 0; else echo "== $name"; tail -n 20 "$log"; record "$name" 1; fi
}

# bg_check NAME COMMAND... : check_build in the background; collect_checks waits for them and
# records them in the order they were started.
BG_CHECKS=()
bg_check() {
    local name=$1 tag; shift
    tag=$BUILD/test/bg_$(printf '%s' "$name" | tr -c 'A-Za-z0-9_.-' '_')
    BG_CHECKS+=("$name|$tag")
    rm -f "$tag.status"
    bg_job bg_run "$tag" "$@"
}
bg_run() { local tag=$1; shift; "$@" >"$tag.log" 2>&1; echo $? >"$tag.status"; }
collect_checks() {
    local entry name tag
    wait
    for entry in "${BG_CHECKS[@]}"; do
        name=${entry%%|*}; tag=${entry#*|}
        if [ "$(cat "$tag.status" 2>/dev/null)" = 0 ]; then record "$name" 0
        else echo "== $name"; tail -n 20 "$tag.log"; record "$name" 1; fi
    done
    BG_CHECKS=()
}

# check_fails NAME COMMAND... : a build that must be refused.
check_fails() {
    local name=$1; shift
    if "$@" >/dev/null 2>&1; then record "$name (should not build)" 1; else record "$name" 0; fi
}

# The names docs/design.md gives in code must exist in nnopt.h (tests/doc_names.sh), and the
# CONTENTS list at the top of nnopt.h must match its banners (tests/header_contents.sh).
check_docs() {
    check_build "docs/design.md names only what nnopt.h has" sh tests/doc_names.sh nnopt.h docs/design.md
    check_build "nnopt.h CONTENTS lists its banners in order" sh tests/header_contents.sh nnopt.h
}

cmd_test() {
    unset NNOPT_TEST_FILTER   # every configuration runs every test
    need_compilers
    need_fuzzer
    need_analysis_tools
    need_integration_tools
    mkdir -p "$BUILD/test"
    rm -f "$BUILD"/test/*.built
    local t0=$SECONDS
    local C99="-x c -std=c99" CXX="-x c++ -std=c++17"
    echo "== building the suite in 15 configurations, $JOBS at a time"
    bg_job build_suite gcc-O2            gcc     "$C99" -O2
    bg_job build_suite gcc-no-simd       gcc     "$C99" -O2 -DNNOPT_NO_SIMD
    bg_job build_suite gcc-no-avx512     gcc     "$C99" -O2 -DNNOPT_NO_AVX512
    bg_job build_suite gcc-O3-native     gcc     "$C99" -O3 -march=native
    bg_job build_suite clang-O2          clang   "$C99" -O2
    bg_job build_suite clang-no-simd     clang   "$C99" -O2 -DNNOPT_NO_SIMD
    bg_job build_suite clang-no-avx512   clang   "$C99" -O2 -DNNOPT_NO_AVX512
    bg_job build_suite clang-O3-native   clang   "$C99" -O3 -march=native
    bg_job build_suite gcc-openmp        gcc     "$C99" -O2 -fopenmp
    bg_job build_suite g++-c++17         g++     "$CXX" -O2
    bg_job build_suite clang++-c++17     clang++ "$CXX" -O2
    bg_job build_suite gcc-asan-ubsan    gcc     "$C99" -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
    bg_job build_suite aarch64-qemu      aarch64-linux-gnu-gcc "$C99" -O2
    bg_job build_suite clang-asan-ubsan  clang   "$C99" -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
    # MemorySanitizer does not model AVX2's masked store (vmaskmovps with a run-time mask), so a
    # vector tail written into fresh memory would look uninitialized: MSan checks the portable path.
    bg_job build_suite clang-msan        clang   "$C99" -O1 -g -fsanitize=memory -fsanitize-memory-track-origins -fno-omit-frame-pointer -DNNOPT_NO_SIMD
    wait

    echo "== conformance suite (tests run on every ISA path this CPU has: best is $(best_isa_name))"
    local name
    for name in gcc-O2 gcc-no-simd gcc-no-avx512 gcc-O3-native clang-O2 clang-no-simd clang-no-avx512 \
                clang-O3-native gcc-openmp g++-c++17 clang++-c++17 gcc-asan-ubsan; do
        run_suite $name
    done
    RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" run_suite aarch64-qemu

    echo "== initial path from NNOPT_ISA"
    local isa
    for isa in scalar avx2 avx512 bogus; do
        run_binary "gcc-O2 NNOPT_ISA=$isa" NNOPT_ISA=$isa "$BUILD/test/nnopt_test_gcc-O2"
    done

    echo "== build configurations"
    local toggle
    for toggle in NNOPT_NO_OPTIM NNOPT_NO_SCHED NNOPT_NO_REG NNOPT_NO_DROPOUT NNOPT_NO_BATCHNORM \
                  NNOPT_NO_AUGMENT NNOPT_NO_SIMD NNOPT_NO_AVX512; do
        bg_check "toggle $toggle (gcc)" sh -c "gcc $C99 $WARN -D$toggle tests/build_toggles.c -o '$BUILD/test/toggle_gcc_$toggle' -lm && '$BUILD/test/toggle_gcc_$toggle'"
        bg_check "toggle $toggle (clang++)" sh -c "clang++ $CXX $WARN -D$toggle tests/build_toggles.c -o '$BUILD/test/toggle_clang_$toggle' && '$BUILD/test/toggle_clang_$toggle'"
    done
    bg_check "all toggles together" sh -c "gcc $C99 $WARN -DNNOPT_NO_OPTIM -DNNOPT_NO_SCHED -DNNOPT_NO_REG -DNNOPT_NO_DROPOUT -DNNOPT_NO_BATCHNORM -DNNOPT_NO_AUGMENT -DNNOPT_NO_SIMD tests/build_toggles.c -o '$BUILD/test/toggle_all' -lm && '$BUILD/test/toggle_all'"
    bg_check "NNOPT_STATIC in two units" sh -c "gcc $C99 $WARN tests/build_static_a.c tests/build_static_b.c -o '$BUILD/test/static' -lm && '$BUILD/test/static'"
    bg_check "NNOPT_MALLOC/NNOPT_FREE" sh -c "gcc $C99 $WARN tests/build_allocator.c -o '$BUILD/test/alloc' -lm && '$BUILD/test/alloc'"
    bg_check "threads: first use and stress while switching paths (TSan)" sh -c "gcc $C99 $WARN -O1 -g -fsanitize=thread -pthread tests/build_threads.c -o '$BUILD/test/threads' -lm && '$BUILD/test/threads'"
    collect_checks
    check_fails "NNOPT_MALLOC without NNOPT_FREE is an error" gcc $C99 -DNNOPT_TEST_ONLY_MALLOC -c tests/build_allocator.c -o "$BUILD/test/alloc.o"

    echo "== hardening (docs/reliability.md)"
    run_suite clang-asan-ubsan
    run_suite clang-msan
    bg_check "allocation failures (ASan+LSan)" sh -c "gcc $C99 $WARN -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all tests/alloc_fail.c -o '$BUILD/test/alloc_fail' -lm && '$BUILD/test/alloc_fail'"
    local h
    for h in $FUZZ_HARNESSES; do
        bg_check "fuzz smoke: $h ($(fuzz_smoke_runs $h) runs)" fuzz_smoke "$h"
        bg_check "fuzz corpus replay: $h (MSan)" sh -c "clang $C99 $WARN -O1 -g -fsanitize=memory -fno-omit-frame-pointer -DNNOPT_NO_SIMD tests/fuzz/fuzz_$h.c tests/fuzz/replay.c -o '$BUILD/test/replay_$h' -lm && '$BUILD/test/replay_$h' tests/fuzz/corpus/$h/*"
    done
    bg_check "cppcheck (tests/cppcheck-suppressions.txt)" run_cppcheck
    bg_check "clang-tidy (.clang-tidy)" run_clang_tidy
    bg_check "example builds with plain cc -O2" sh -c "cc -O2 examples/minimal.c -o '$BUILD/test/minimal' -lm && '$BUILD/test/minimal' >/dev/null"
    # The examples that need nothing but a C compiler run here too (a second each); the MPI one
    # and augment_folder (libstb-dev) run in ./build.sh examples.
    local example
    for example in transfer checkpoint mlp_spiral; do
        bg_check "example $example" sh -c "cc -O2 $WARN examples/$example.c -o '$BUILD/test/$example' -lm && cd '$BUILD/test' && './$example'"
    done
    collect_checks

    echo "== docs"
    check_docs

    echo "== integration: CMake, pkg-config, ./build.sh install (tests/integration/)"
    local mode
    for mode in subdirectory find_package pkg-config; do
        check_build "integration $mode" tests/integration/run.sh $mode "$BUILD/test/integration"
    done

    echo "== $((SECONDS - t0)) s"
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" = 0 ]
}

# ./build.sh check [FILTER]: the quick tier for iteration. One configuration of the suite
# (gcc, C99, -O2, the warning flags) run on every path the CPU has, and the docs check; it
# installs nothing. FILTER (or NNOPT_TEST_FILTER) runs only the tests whose names contain it;
# ./build.sh check -l lists the names.
cmd_check() {
    command -v gcc >/dev/null || { echo "build.sh check: needs gcc" >&2; return 2; }
    local t0=$SECONDS filter=${1:-${NNOPT_TEST_FILTER:-}}
    mkdir -p "$BUILD/test"
    echo "== building the suite once: gcc -std=c99 -O2 $WARN"
    build_suite check-gcc-O2 gcc "-x c -std=c99" -O2
    if [ "$filter" = -l ]; then   # the test names, one a line
        [ "$(cat "$BUILD/test/check-gcc-O2.built")" = ok ] || { cat "$BUILD/test/check-gcc-O2.log"; return 1; }
        "$BUILD/test/nnopt_test_check-gcc-O2" -l; return
    fi
    echo "== conformance suite${filter:+, tests whose names contain \"$filter\"}"
    run_suite check-gcc-O2 NNOPT_TEST_FILTER="$filter"
    check_docs
    echo "== $((SECONDS - t0)) s"
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" = 0 ]
}

# ---- hardening: fuzzing, static analysis, coverage ---------------------------------------

FUZZ_HARNESSES="checkpoint kernels"
FUZZ_FLAGS="-std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"

need_fuzzer() {
    need_compilers
    echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; return (int)(n & 0); }' |
        clang -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null ||
        apt_install "libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"
}

# cppcheck, clang-tidy and the llvm coverage tools
need_analysis_tools() {
    local pkgs=()
    command -v cppcheck >/dev/null || pkgs+=(cppcheck)
    command -v clang-tidy >/dev/null || pkgs+=(clang-tidy)
    { command -v llvm-cov >/dev/null && command -v llvm-profdata >/dev/null; } || pkgs+=(llvm)
    [ ${#pkgs[@]} = 0 ] || apt_install "${pkgs[@]}"
}

# The kernel harness decodes its input structurally, so comparison tracing (which guides
# mutations toward magic values, as the checkpoint loader's need) buys it little and costs over
# half its speed: it is built without.
build_fuzzer() {   # build_fuzzer NAME -> $BUILD/fuzz/fuzz_NAME
    local extra=""
    [ "$1" = kernels ] && extra="-fno-sanitize-coverage=trace-cmp"
    mkdir -p "$BUILD/fuzz"
    clang $FUZZ_FLAGS $extra $WARN tests/fuzz/fuzz_$1.c -o "$BUILD/fuzz/fuzz_$1" -lm
}

# The smoke run of ./build.sh test: a fixed number of executions from the committed corpus,
# with a fixed seed (a few seconds each).
fuzz_smoke_runs() { case $1 in checkpoint) echo 40000 ;; *) echo 4000 ;; esac; }
fuzz_smoke() {
    local work=$BUILD/fuzz/smoke_$1
    need_fuzzer && build_fuzzer "$1" || return 1
    rm -rf "$work" && mkdir -p "$work"
    "$BUILD/fuzz/fuzz_$1" -seed=1 -runs="$(fuzz_smoke_runs "$1")" -max_len=4096 \
        -artifact_prefix="$BUILD/fuzz/$1-" "$work" "tests/fuzz/corpus/$1"
}

# ./build.sh fuzz [seconds]: each harness for that long, corpus kept in build/fuzz/corpus_NAME
# (the committed seeds in tests/fuzz/corpus are read, never written); findings are written
# to build/fuzz/NAME-crash-*.
cmd_fuzz() {
    local seconds=${1:-60} h status=0 log
    need_fuzzer
    for h in $FUZZ_HARNESSES; do
        build_fuzzer "$h" || return 1
        mkdir -p "$BUILD/fuzz/corpus_$h"
        log=$BUILD/fuzz/$h.log
        echo "== fuzz_$h for $seconds s (log: $log)"
        "$BUILD/fuzz/fuzz_$h" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
            -artifact_prefix="$BUILD/fuzz/$h-" "$BUILD/fuzz/corpus_$h" "tests/fuzz/corpus/$h" >"$log" 2>&1 || status=1
        grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|Done )' "$log" | tail -n 2
        grep -m1 -E 'ERROR|fuzz_[a-z]+: ' "$log" && status=1
        fuzz_coverage "$h"
    done
    return $status
}

# Line and branch coverage of nnopt.h reached by a harness's corpus (committed seeds and the
# working corpus), replayed by an instrumented build.
fuzz_coverage() {
    local h=$1 exe=$BUILD/fuzz/cov_$1 prof=$BUILD/fuzz/cov_$1
    command -v llvm-cov >/dev/null || return 0
    rm -f "$prof"-*.profraw
    clang -std=c99 -O0 -g -fprofile-instr-generate -fcoverage-mapping tests/fuzz/fuzz_$h.c \
        tests/fuzz/replay.c -o "$exe" -lm || return 1
    find "tests/fuzz/corpus/$h" "$BUILD/fuzz/corpus_$h" -type f -print0 |
        LLVM_PROFILE_FILE="$prof-%m.profraw" xargs -0 "$exe" >/dev/null
    llvm-profdata merge -o "$prof.profdata" "$prof"-*.profraw &&
    llvm-cov report "$exe" -instr-profile="$prof.profdata" "$ROOT/nnopt.h" |
        awk '/^TOTAL/ { printf "coverage of nnopt.h by the corpus: lines %s, branches %s\n", $10, $13 }'
}

run_cppcheck() {
    cppcheck --std=c99 --enable=warning,portability,performance,style --error-exitcode=1 --quiet \
        --inline-suppr --suppressions-list=tests/cppcheck-suppressions.txt -D__GNUC__ -D__x86_64__ \
        -I. tests/impl.c tests/alloc_fail.c tests/test_extremes.c tests/build_threads.c tests/fuzz/*.c
}

run_clang_tidy() {
    clang-tidy --quiet tests/impl.c tests/alloc_fail.c tests/test_extremes.c tests/build_threads.c \
        -- -std=c99 -I. -pthread
}

# ./build.sh coverage: clang source-based line and branch coverage of nnopt.h from the suite
# (every test on every path the CPU has) and the allocation-failure driver. Writes
# build/coverage/summary.txt (whole header, then per path: the kernel instances named _scalar,
# _avx2, _avx512) and build/coverage/nnopt.h.txt (annotated source; uncovered lines marked 0).
cmd_coverage() {
    need_compilers
    need_analysis_tools
    local C=$BUILD/coverage flags="-std=c99 -O0 -g -fprofile-instr-generate -fcoverage-mapping"
    rm -rf "$C" && mkdir -p "$C"
    clang $flags $WARN $SUITE_SOURCES -o "$C/suite" -lm &&
    clang $flags $WARN tests/alloc_fail.c -o "$C/alloc_fail" -lm || return 1
    LLVM_PROFILE_FILE="$C/suite.profraw" "$C/suite" | tail -n 1
    local isa
    for isa in scalar bogus; do    # the initial path from the environment
        LLVM_PROFILE_FILE="$C/suite-$isa.profraw" NNOPT_ISA=$isa "$C/suite" >/dev/null
    done
    LLVM_PROFILE_FILE="$C/alloc.profraw" "$C/alloc_fail"
    llvm-profdata merge -o "$C/nnopt.profdata" "$C"/*.profraw || return 1
    local cov="llvm-cov report $C/suite -object $C/alloc_fail -instr-profile=$C/nnopt.profdata"
    {
        echo "nnopt.h coverage from the conformance suite and the allocation-failure driver ($(date -u +%F))"
        echo
        $cov "$ROOT/nnopt.h" | sed -n '1,3p;/^TOTAL/p' | cut -c1-200
        echo
        echo "Per path, from the suite (the kernel instances: functions whose names end in the path suffix):"
        llvm-cov report "$C/suite" -instr-profile="$C/nnopt.profdata" -show-functions "$ROOT/nnopt.h" | awk '
            $1 ~ /_(scalar|avx2|avx512)$/ && NF == 10 {
                isa = $1; sub(/.*_/, "", isa)
                lines[isa] += $5; lmiss[isa] += $6; br[isa] += $8; bmiss[isa] += $9
            }
            END {
                for (isa in lines)
                    printf "  %-7s lines %6.2f%% (%d of %d)   branches %6.2f%% (%d of %d)\n", isa,
                        100 * (lines[isa] - lmiss[isa]) / lines[isa], lines[isa] - lmiss[isa], lines[isa],
                        br[isa] ? 100 * (br[isa] - bmiss[isa]) / br[isa] : 100, br[isa] - bmiss[isa], br[isa]
            }' | sort
    } | tee "$C/summary.txt"
    llvm-cov show "$C/suite" -object "$C/alloc_fail" -instr-profile="$C/nnopt.profdata" \
        -show-branches=count "$ROOT/nnopt.h" > "$C/nnopt.h.txt"
    echo "wrote $C/summary.txt and $C/nnopt.h.txt"
}

best_isa_name() {
    local exe=$BUILD/test/isa_probe
    printf '#define NNOPT_IMPLEMENTATION\n#include "%s/nnopt.h"\n#include <stdio.h>\nint main(void){puts(nnopt_isa_name(nnopt_isa_best()));return 0;}\n' "$ROOT" |
        gcc -x c - -o "$exe" -lm 2>/dev/null && "$exe" || echo unknown
}

# ---- examples ------------------------------------------------------------------------

# Every examples/*.c is built and run. Most need only a C compiler; mpi_*.c are built with
# mpicc (Debian's openmpi, installed when missing) and run on 2 and 4 ranks; augment_folder
# links Debian's libstb-dev (installed when missing).
need_mpi() {
    { command -v mpicc && command -v mpirun; } >/dev/null || apt_install libopenmpi-dev openmpi-bin
}
need_stb() {   # Debian's libstb-dev: the stb headers and libstb with their implementations
    [ -f /usr/include/stb/stb_image.h ] || apt_install libstb-dev
}

run_example() {   # run_example NAME: build and run examples/NAME.c
    local name=$1 exe=$BUILD/examples/$1 np
    case $name in
    mpi_*)
        need_mpi
        mpicc -O2 -Wall -Wextra "examples/$name.c" -o "$exe" -lm || return 1
        for np in 2 4; do
            echo "-- mpirun -np $np"
            mpirun --allow-run-as-root --oversubscribe -np $np "$exe" || return 1
        done ;;
    checkpoint)
        cc -O2 -Wall -Wextra "examples/$name.c" -o "$exe" -lm && "$exe" "$BUILD/examples/checkpoint.bin" ;;
    augment_folder)   # writes its synthetic input folder and contact_sheet.png in build/examples
        need_stb
        cc -O2 -Wall -Wextra "examples/$name.c" -o "$exe" -lstb -lm && (cd "$BUILD/examples" && "$exe") ;;
    *)
        cc -O2 -Wall -Wextra "examples/$name.c" -o "$exe" -lm && "$exe" ;;
    esac
}

cmd_examples() {
    need_compilers
    mkdir -p "$BUILD/examples"
    local src name status=0
    for src in examples/*.c; do
        name=$(basename "$src" .c)
        echo "== examples/$name"
        run_example "$name" || { echo "FAIL examples/$name"; status=1; }
    done
    return $status
}

# ---- install -------------------------------------------------------------------------

# ./build.sh install PREFIX: plain shell, no cmake needed. The same layout as CMakeLists.txt's
# install rules:
#   PREFIX/include/nnopt.h
#   PREFIX/share/cmake/nnopt/nnoptConfig.cmake, nnoptConfigVersion.cmake   find_package(nnopt)
#   PREFIX/share/pkgconfig/nnopt.pc                                        pkg-config nnopt
#   PREFIX/share/doc/nnopt/                                                README, docs, examples
# DESTDIR, when set, is put in front of every path (staged installs; nnopt.pc still says PREFIX).
cmd_install() {
    if [ $# != 1 ] || [ -z "$1" ]; then
        echo "usage: ./build.sh install PREFIX   (e.g. /usr/local)" >&2; return 2
    fi
    local prefix=$1 version dest
    case $prefix in /*) ;; *) prefix=$CALLER_DIR/$prefix ;; esac
    version=$(sed -n 's/^#define NNOPT_VERSION_STRING "\(.*\)"$/\1/p' nnopt.h)
    [ -n "$version" ] || { echo "build.sh install: no NNOPT_VERSION_STRING in nnopt.h" >&2; return 1; }
    dest=${DESTDIR:-}$prefix
    install -d "$dest/include" "$dest/share/cmake/nnopt" "$dest/share/pkgconfig" \
        "$dest/share/doc/nnopt/docs/figures" "$dest/share/doc/nnopt/examples" &&
    install -m 644 nnopt.h "$dest/include/" &&
    install -m 644 cmake/nnoptConfig.cmake cmake/nnoptConfigVersion.cmake "$dest/share/cmake/nnopt/" &&
    sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" nnopt.pc.in > "$dest/share/pkgconfig/nnopt.pc" &&
    chmod 644 "$dest/share/pkgconfig/nnopt.pc" &&
    install -m 644 README.md "$dest/share/doc/nnopt/" &&
    install -m 644 docs/*.md "$dest/share/doc/nnopt/docs/" &&
    install -m 644 docs/figures/* "$dest/share/doc/nnopt/docs/figures/" &&
    install -m 644 examples/*.c "$dest/share/doc/nnopt/examples/" || return 1
    echo "installed nnopt $version in $dest"
    echo "  CMake:      find_package(nnopt) with CMAKE_PREFIX_PATH=$prefix; link nnopt::nnopt"
    echo "  pkg-config: PKG_CONFIG_PATH=$prefix/share/pkgconfig pkg-config --cflags --libs nnopt"
}

# ---- benchmarks ----------------------------------------------------------------------

need_bench_tools() {
    need_compilers
    [ -f /usr/include/benchmark/benchmark.h ] || apt_install libbenchmark-dev
}

# The library and the benchmarks are built the way a user builds: -O2, no -march (plus
# -fopenmp, for the thread-scaling cases; every other case runs on one thread). Only the
# baselines that say so are built otherwise (naive-native: -O3 -march=native; the roof).
BENCH_FLAGS="-O2"
build_bench() {
    need_bench_tools
    local B=$BUILD/bench
    mkdir -p "$B"
    g++ -std=c++17 -O2 -c bench/shim.cc -o "$B/shim.o" &&
    gcc -std=c11 $BENCH_FLAGS -c bench/naive.c -o "$B/naive_O2.o" &&
    gcc -std=c11 -O3 -march=native -fno-math-errno -DNAIVE_STEP=naive_native_step -c bench/naive.c -o "$B/naive_native.o" &&
    gcc -std=c11 -O3 -march=native -mprefer-vector-width=512 -ffast-math -c bench/roof.c -o "$B/roof.o" &&
    gcc -std=c11 $BENCH_FLAGS -fopenmp -Wall -Wextra -c bench/main.c -o "$B/main.o" || return 1
    # oneDNN (Debian libdnnl-dev), when installed: the batch-norm baseline
    local dnnl_flags="" dnnl_libs=""
    if [ -f /usr/include/oneapi/dnnl/dnnl.h ]; then dnnl_flags="-DNNOPT_BENCH_DNNL"; dnnl_libs="-ldnnl"; fi
    local src objs=""
    for src in bench/bench_*.c; do
        gcc -std=c11 $BENCH_FLAGS -fopenmp $dnnl_flags -Wall -Wextra -c "$src" -o "$B/$(basename "$src" .c).o" || return 1
        objs="$objs $B/$(basename "$src" .c).o"
    done
    g++ "$B"/shim.o "$B"/naive_O2.o "$B"/naive_native.o "$B"/roof.o "$B"/main.o $objs \
        -o "$B/nnopt_bench" -fopenmp $dnnl_libs -lbenchmark -lpthread -lm &&
    # the augmentation pipelines as a library: bench/torch_augment.py times them beside torchvision
    gcc -std=c11 $BENCH_FLAGS -Wall -Wextra -shared -fPIC bench/aug_lib.c -o "$B/libnnopt_aug.so" -lm
}

bench_context() {
    local cpu flags
    cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | xargs | tr ',' ' ')
    flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512dq|avx512bw|avx512vl|avx512vbmi)$' | tr '\n' ' ' | xargs)
    echo "nnopt_cpu=$cpu,nnopt_flags=$flags,nnopt_compiler=$(gcc -dumpfullversion) (gcc),nnopt_build=library and benchmarks gcc $BENCH_FLAGS -fopenmp (no -march)"
}

cmd_bench() {
    build_bench || return 1
    mkdir -p bench/results
    local stamp out torch_json=""
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    out=bench/results/bench-$stamp.json
    echo "== benchmarks (full set: every kernel, size and path; about 8 minutes)"
    "$BUILD/bench/nnopt_bench" --benchmark_out="$out" --benchmark_out_format=json \
        --benchmark_min_time=0.3 \
        --benchmark_context="$(bench_context)" "$@" || return 1
    cp "$out" bench/results/latest.json
    # the torch comparisons the speed targets name: Debian's torch 1.13 and torchvision, installed
    # when missing as root (NNOPT_NO_TORCH=1 skips them)
    if [ "${NNOPT_NO_TORCH:-0}" = 0 ] && [ "$(id -u)" = 0 ] &&
        ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
        apt_install python3-torch python3-torchvision
    fi
    if [ "${NNOPT_NO_TORCH:-0}" = 0 ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
        torch_json=bench/results/torch-$stamp.json
        NNOPT_AUG_LIB="$BUILD/bench/libnnopt_aug.so" /usr/bin/python3 bench/compare_torch.py "$torch_json" &&
            cp "$torch_json" bench/results/torch-latest.json
    else
        echo "build.sh bench: torch not installed; no torch comparison (apt-get install python3-torch)"
    fi
    python3 bench/report.py "$out" $torch_json > docs/performance.md && echo "wrote docs/performance.md"
}

# The main job: a quick subset of the benchmarks, printed as the report's tables.
cmd_quick() {
    build_bench || return 1
    local out=$BUILD/bench/quick.json
    echo "== quick benchmarks (adam, sgd_momentum, lamb; ./build.sh bench runs everything)"
    "$BUILD/bench/nnopt_bench" --benchmark_filter='^(adam|sgd_momentum|lamb)/' \
        --benchmark_min_time=0.1 --benchmark_out="$out" --benchmark_out_format=json \
        --benchmark_context="$(bench_context)" >/dev/null || return 1
    python3 bench/report.py --quick "$out"
    cmd_converge
}

# The convergence suite: every optimizer on standard problems -> docs/convergence.md and
# docs/figures/convergence_*.svg (deterministic: two runs give identical files; CPU times go to
# the terminal and build/converge/times.txt only). Fails when an asserted claim fails.
cmd_converge() {
    need_compilers
    mkdir -p "$BUILD/converge" docs/figures
    gcc -std=c99 -O2 $WARN bench/converge/converge.c -o "$BUILD/converge/converge" -lm || return 1
    echo "== convergence suite (about 2 minutes of CPU; times in build/converge/times.txt)"
    "$BUILD/converge/converge" docs "$BUILD/converge/times.txt" || return 1
    tail -n 1 "$BUILD/converge/times.txt"
}

# Figures in docs/ drawn by the project's own code.
cmd_docs() {
    need_compilers
    mkdir -p "$BUILD/docs" docs/figures
    gcc -std=c99 -O2 -Wall -Wextra bench/plot_schedules.c -o "$BUILD/docs/plot_schedules" -lm &&
        "$BUILD/docs/plot_schedules" docs/figures
}

case "${1:-}" in
    "")        cmd_quick ;;
    test)      cmd_test ;;
    check)     shift; cmd_check "$@" ;;
    bench)     shift; cmd_bench "$@" ;;
    converge)  cmd_converge ;;
    docs)      cmd_docs ;;
    fuzz)      shift; cmd_fuzz "$@" ;;
    coverage)  cmd_coverage ;;
    examples)  cmd_examples ;;
    install)   shift; cmd_install "$@" ;;
    all)       cmd_test && cmd_examples && cmd_bench && cmd_converge ;;
    clean)     rm -rf "$BUILD" ;;
    -h|--help|help) usage ;;
    *)         echo "build.sh: unknown command '$1'" >&2; usage >&2; exit 2 ;;
esac
