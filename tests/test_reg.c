/* Tests of the reg section (filled in with the section). */
#include "harness.h"

void register_reg_tests(void)
{
}
