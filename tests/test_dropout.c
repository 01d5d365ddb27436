/* Tests of the dropout section (filled in with the section). */
#include "harness.h"

void register_dropout_tests(void)
{
}
