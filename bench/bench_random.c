/* Benchmarks of the random section (filled in with the section). */
#include "bench.h"

void register_random_benchmarks(void)
{
}
