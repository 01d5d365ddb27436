#!/usr/bin/env python3
"""Turns a Google Benchmark JSON run of bench/nnopt_bench into docs/performance.md.

    bench/report.py RESULTS.json [TORCH.json] > docs/performance.md
    bench/report.py --quick RESULTS.json          the console summary of ./build.sh

Benchmarks are named KERNEL/VARIANT/SIZE. For each kernel and size the table shows every
ISA path's throughput with its counters (roof: fraction of the streaming roof's bytes/s,
measured in the same run; vs_naive: speed-up over the plain -O2 loop; vs_native: over the
same loop built -O3 -march=native), and the baselines' own throughput. With TORCH.json
(bench/compare_torch.py) a column gives the ratio over torch on one thread.
"""
import json
import sys
from collections import OrderedDict

from sections import load_modules

SIZE_ORDER = {"4K": 0, "16K": 1, "64K": 2, "1M": 3, "16M": 4}


def load_sections():
    """bench/report_<section>.py: each section's own targets. A module lists the benchmark
    kernels it owns in KERNELS, names itself in TITLE, adds its rows with
    targets(get, best, torch, row) and, when its benchmarks count something other than
    elements (items per second), names it in UNIT (e.g. "images")."""
    return load_modules("report_")


SECTIONS = load_sections()
SECTION_KERNELS = {k for m in SECTIONS for k in getattr(m, "KERNELS", ())}
UNIT_OF = {k: m.UNIT for m in SECTIONS if hasattr(m, "UNIT") for k in getattr(m, "KERNELS", ())}

# Debian's libbenchmark reports itself as a debug build; the report says once what that means.
DEBUG_NOTE = ("Google Benchmark prints \"***WARNING*** Library was built as DEBUG. Timings may be "
              "affected.\": Debian's libbenchmark 1.7.1 is compiled without NDEBUG (optimized, with "
              "its internal assertions on), and no option silences the message. It does not affect "
              "these figures: the library only starts, pauses and stops the clock around batches of "
              "iterations (the per-iteration loop test is inline code from benchmark.h, compiled with "
              "the benchmarks); the kernels and baselines are this project's code, built by build.sh; "
              "and `roof`, `vs naive` and `vs native` are timed with the project's own clock "
              "(bench_now in bench/main.c)")


def load(path):
    with open(path) as f:
        return json.load(f)


def targets(rows, torch, quick=False):
    """The speed targets the project set itself, checked against this run. A target whose
    value this run did not measure gets no row: the targets left out are named after the
    table (the quick run measures a few kernels only)."""
    def get(kernel, size, variant, key):
        return rows.get(kernel, {}).get(size, {}).get(variant, {}).get(key)
    best = "avx512" if get("adam", "16M", "avx512", "roof") is not None else "avx2"
    out = ["## Targets\n", "| target | measured (%s path) | met |" % best, "|---|---|---|"]
    unmeasured = OrderedDict()   # section title -> targets without a value

    def table_row(section):
        def row(text, value, ok, fmt="%.3f"):
            if value is None:
                unmeasured.setdefault(section, []).append(text)
                return
            out.append("| %s | %s | %s |" % (text, fmt % value, "yes" if ok(value) else "no"))
        return row
    row = table_row("optimizers")
    row("Adam 16K: at least 4x the plain -O2 loop", get("adam", "16K", best, "vs_naive"), lambda v: v >= 4)
    row("Adam 16K: at least the -O3 -march=native auto-vectorized loop", get("adam", "16K", best, "vs_native"),
        lambda v: v >= 1)
    row("Adam 16M: at least 0.90 of the streaming roof", get("adam", "16M", best, "roof"), lambda v: v >= 0.9)
    for kernel in rows:
        if kernel in ("adam", "clip_grad_norm") or kernel in SECTION_KERNELS:
            continue
        need = 0.9 if kernel in ("swa_update", "ema_update") else 0.85
        row("%s 16M: at least %.2f of its roof" % (kernel, need), get(kernel, "16M", best, "roof"),
            lambda v, need=need: v >= need)
    if torch and torch.get("adam", {}).get("16M"):
        ratio = get("adam", "16M", best, "items_per_second") / torch["adam"]["16M"]
        row("Adam 16M: at least 4x torch.optim.Adam (one thread)", ratio, lambda v: v >= 4)
    for mod in SECTIONS:
        mod.targets(get, best, torch, table_row(getattr(mod, "TITLE", mod.__name__[len("report_"):])))
    out.append("")
    count = sum(len(v) for v in unmeasured.values())
    if count and quick:
        out.append("%d more target%s (%s) %s not measured in the quick run; see ./build.sh bench "
                   "and docs/performance.md.\n" % (count, "s" if count > 1 else "", ", ".join(unmeasured),
                                                  "are" if count > 1 else "is"))
    elif count:
        out.append("Not measured in this run:\n")
        out.extend("- %s" % t for v in unmeasured.values() for t in v)
        out.append("")
    out.append("Ratios come from one run on a shared 2-core virtual machine; repeated runs move "
               "them by a few percent (see the roof notes %s), so a value within a few percent "
               "of its target can read either way from run to run.\n"
               % ("in docs/performance.md" if quick else "above"))
    return out


def load_rows(run):
    """kernel -> size -> variant -> benchmark, in the run's order."""
    rows = OrderedDict()
    for b in run["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        if b.get("error_occurred"):
            continue
        name = b["name"].split("/real_time")[0]
        parts = name.split("/")
        if len(parts) != 3:
            continue
        kernel, variant, size = parts
        rows.setdefault(kernel, OrderedDict()).setdefault(size, {})[variant] = b
    return rows


def header(ctx, path):
    """The page's title and the method: the machine, the build and what each column means."""
    out = []
    out.append("# Performance\n")
    out.append("Generated by `./build.sh bench` (bench/report.py) from `%s`.\n" % path)
    out.append("- date: %s" % ctx.get("date"))
    out.append("- host: %s, %d CPUs at %s MHz, caches: %s" % (
        ctx.get("host_name"), ctx.get("num_cpus", 0), ctx.get("mhz_per_cpu"),
        ", ".join("L%d%s %dK" % (c["level"], c["type"][0].lower(), c["size"] // 1024)
                  for c in ctx.get("caches", []))))
    for key in ("nnopt_cpu", "nnopt_flags", "nnopt_compiler", "nnopt_build"):
        if key in ctx:
            out.append("- %s: %s" % (key[6:], ctx[key]))
    out.append("- one thread; G = 1e9 elements per second; bytes/s counts every array read and "
               "written once per element")
    out.append("- `thread scaling`: with OpenMP, the 16K (in cache) and DRAM-sized cases on every "
               "core over the same case on one thread")
    out.append("- `roof`, `vs naive`, `vs native` are measured by timing the kernel and each baseline "
               "alternately (5 rounds of at least 5 ms each, best round of each), so they compare "
               "like with like even when the machine's speed drifts; G elem/s and GB/s are Google "
               "Benchmark's own measurement of each row")
    out.append("- the roof (bench/roof.c) reads every array the kernel reads and writes back the "
               "ones it writes, one add per element, built -O3 -march=native -mprefer-vector-width=512; "
               "its results go to memory through pointers the compiler cannot see past (or to a "
               "volatile), so it cannot be optimized away. Arrays start 320 bytes apart modulo 4096 "
               "(no 4K aliasing) and 16M cases start from cold caches; a roof fraction slightly above "
               "1 is run-to-run noise, a large one would mean a wrong roof")
    out.append("- `roof`: the kernel's bytes/s over a streaming loop with the same reads and "
               "writes (bench/roof.c, -O3 -march=native); `vs naive`: over the plain C loop "
               "built -O2 with no -march (bench/naive.c); `vs native`: over the same loop built "
               "-O3 -march=native -fno-math-errno")
    if UNIT_OF:
        out.append("- the augmentation pipelines count images: their rows give images/s instead of "
                   "G elem/s (GB/s counts each image's uint8 input and float output once)")
    if ctx.get("library_build_type") == "debug":
        out.append("- " + DEBUG_NOTE)
    out.append("")
    return out


def kernel_table(kernel, sizes, torch):
    """One kernel's rows: every path, then the threaded runs and the baselines, size by size."""
    unit = UNIT_OF.get(kernel)
    out = ["## %s\n" % kernel]
    head = "| size | path | %s | GB/s | roof | vs naive | vs native | thread scaling |" % (
        unit + "/s" if unit else "G elem/s")
    sep = "|---|---|---|---|---|---|---|---|"
    if torch:
        head += " vs torch |"
        sep += "---|"
    out.append(head)
    out.append(sep)
    for size in sorted(sizes, key=lambda s: (SIZE_ORDER.get(s, 99), s)):
        variants = sizes[size]
        threaded = sorted(v for v in variants if v.endswith("threads"))
        for variant in ["avx512", "avx2", "scalar"] + threaded + ["naive-O2", "naive-native", "roof"]:
            b = variants.get(variant)
            if not b:
                continue
            rate = b.get("items_per_second", 0)
            shown = "%.0f" % rate if unit else "%.3f" % (rate / 1e9)
            gbs = "%.1f" % (b["bytes_per_second"] / 1e9) if "bytes_per_second" in b else ""
            cells = ["%.3f" % b[c] if c in b else "" for c in ("roof", "vs_naive", "vs_native", "scaling")]
            line = "| %s | %s | %s | %s | %s |" % (size, variant, shown, gbs, " | ".join(cells))
            if torch:
                t = torch.get(kernel, {}).get(size)
                line += (" %.1f |" % (rate / t) if t and variant in ("avx512", "avx2", "scalar")
                         else " |")
            out.append(line)
    out.append("")
    return out


def torch_tables(torch):
    """torch's own rates: G elements/s by size, and the augmentation pipelines in images/s."""
    kernels = [k for k in torch if not k.startswith("_")]
    plain = [k for k in kernels if k not in UNIT_OF]
    counted = [k for k in kernels if k in UNIT_OF]
    out = ["## torch (one thread)\n"]
    out.append("`bench/compare_torch.py`, torch %s: G elements/s\n" % torch.get("_version", "?"))
    sizes_all = sorted({s for k in plain for s in torch[k]}, key=lambda s: (SIZE_ORDER.get(s, 99), s))
    out.append("| kernel | " + " | ".join(sizes_all) + " |")
    out.append("|---" * (len(sizes_all) + 1) + "|")
    for k in plain:
        v = torch[k]
        out.append("| %s | %s |" % (k, " | ".join("%.3f" % (v[s] / 1e9) if s in v else "" for s in sizes_all)))
    out.append("")
    if counted:
        out.append("| pipeline | batch | torchvision, per second |")
        out.append("|---|---|---|")
        for k in counted:
            for size, rate in torch[k].items():
                out.append("| %s | %s | %.0f %s |" % (k, size, rate, UNIT_OF[k]))
        out.append("")
    return out


def main():
    args = sys.argv[1:]
    quick = bool(args) and args[0] == "--quick"
    if quick:
        args = args[1:]
    run = load(args[0])
    torch = load(args[1]) if len(args) > 1 else None
    ctx = run["context"]
    rows = load_rows(run)
    if quick:   # the console: the method is in docs/performance.md
        out = ["Method and every kernel: docs/performance.md (./build.sh bench).\n"]
        if ctx.get("library_build_type") == "debug":
            out.append("Note: " + DEBUG_NOTE + ".\n")
    else:
        out = header(ctx, args[0])
    out.extend(targets(rows, torch, quick))
    for kernel, sizes in rows.items():
        out.extend(kernel_table(kernel, sizes, torch))
    if torch:
        out.extend(torch_tables(torch))
    print("\n".join(out))


if __name__ == "__main__":
    main()
