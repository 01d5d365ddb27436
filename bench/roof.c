/* The memory roof: the same reads and writes as a kernel, with one add per element, built
   with -O3 -march=native -mprefer-vector-width=512 -ffast-math so every loop (the read-only
   sum included) is as wide as the machine allows. Results go through pointers the compiler cannot see past (or into
   a volatile), so nothing can be optimized away. */
#include "naive.h"

volatile float roof_sink;   /* where a read-only stream leaves its result */

void roof_stream(float *const *arrays, int reads, int writes, size_t n)
{
    float *a = arrays[0], *b = arrays[1], *c = arrays[reads > 2 ? 2 : 1], *d = arrays[reads > 3 ? 3 : 1];
    float *e = arrays[reads > 4 ? 4 : 1];
    size_t i;
    switch (reads * 10 + writes) {
    case 21: for (i = 0; i < n; i++) a[i] += b[i]; break;
    case 32: for (i = 0; i < n; i++) { float x = b[i]; a[i] += x; c[i] += x; } break;
    case 31: for (i = 0; i < n; i++) a[i] += b[i] + c[i]; break;
    case 42: for (i = 0; i < n; i++) { float x = b[i] + d[i]; a[i] += x; c[i] += x; } break;
    case 43: for (i = 0; i < n; i++) { float x = b[i]; a[i] += x; c[i] += x; d[i] += x; } break;
    case 54: for (i = 0; i < n; i++) { float x = b[i]; a[i] += x; c[i] += x; d[i] += x; e[i] += x; } break;
    case 10: { float s = 0; for (i = 0; i < n; i++) s += b[i] * b[i]; roof_sink = s; break; }
    case 20: { float s = 0; for (i = 0; i < n; i++) s += a[i] * b[i]; roof_sink = s; break; }
    default: for (i = 0; i < n; i++) a[i] += b[i]; break;
    }
}
