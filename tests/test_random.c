/* Tests of the random section (filled in with the section). */
#include "harness.h"

void register_random_tests(void)
{
}
