// The C shim over Google Benchmark (Debian libbenchmark-dev 1.7.1): registration by name with
// a C callback, the keep-running loop, timing control and counters.
#include "shim.h"

#include <benchmark/benchmark.h>

struct nb_state { benchmark::State *st; };

extern "C" {

void nb_register(const char *name, nb_fn fn, void *ctx)
{
    benchmark::RegisterBenchmark(name, [fn, ctx](benchmark::State &st) {
        nb_state s{&st};
        fn(&s, ctx);
    })->UseRealTime();
}

int nb_keep_running(nb_state *s) { return s->st->KeepRunning() ? 1 : 0; }
void nb_pause(nb_state *s) { s->st->PauseTiming(); }
void nb_resume(nb_state *s) { s->st->ResumeTiming(); }
int64_t nb_iterations(const nb_state *s) { return (int64_t)s->st->iterations(); }
void nb_set_bytes(nb_state *s, int64_t total) { s->st->SetBytesProcessed(total); }
void nb_set_items(nb_state *s, int64_t total) { s->st->SetItemsProcessed(total); }
void nb_counter(nb_state *s, const char *name, double value) { s->st->counters[name] = value; }
void nb_skip(nb_state *s, const char *why) { s->st->SkipWithError(why); }
void nb_label(nb_state *s, const char *label) { s->st->SetLabel(label); }

int nb_main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

}
