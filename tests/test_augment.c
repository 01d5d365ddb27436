/* Tests of the augment section (filled in with the section). */
#include "harness.h"

void register_augment_tests(void)
{
}
