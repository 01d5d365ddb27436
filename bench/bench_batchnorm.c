/* Benchmarks of the batchnorm section (filled in with the section). */
#include "bench.h"

void register_batchnorm_benchmarks(void)
{
}
