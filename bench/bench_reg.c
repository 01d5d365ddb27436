/* Benchmarks of the reg section (filled in with the section). */
#include "bench.h"

void register_reg_benchmarks(void)
{
}
