/* The one translation unit of the test suite that holds the implementation; the others
   include nnopt.h for its declarations only, so the suite also checks linking. Failures are
   counted through the NNOPT_ON_ERROR hook (test_optim_api.c checks it is called). */
#include <stddef.h>
size_t th_error_hook_calls;
#define NNOPT_ON_ERROR(status, function, argument, reason) \
    ((void)(status), (void)(function), (void)(argument), (void)(reason), th_error_hook_calls++)
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"
