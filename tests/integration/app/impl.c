/* The one translation unit that compiles nnopt's implementation. */
#define NNOPT_IMPLEMENTATION
#include <nnopt.h>
