/* Benchmarks of the augment section (filled in with the section). */
#include "bench.h"

void register_augment_benchmarks(void)
{
}
