/* Benchmarks of the dropout section (filled in with the section). */
#include "bench.h"

void register_dropout_benchmarks(void)
{
}
