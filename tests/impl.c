/* The one translation unit of the test suite that holds the implementation; the others
   include nnopt.h for its declarations only, so the suite also checks linking. */
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"
