/* Writes tests/golden/checkpoints/v<format>_<kind>.ckpt: the checkpoint of each kind's run in
   tests/checkpoint_cases.h, in the checkpoint format of the nnopt.h it is built with.
   Files of every past format stay committed; the suite loads them all (test_optim_api.c).
     cc -O2 -I. tests/golden/make_checkpoints.c -o /tmp/mk -lm && /tmp/mk tests/golden/checkpoints */
#define NNOPT_IMPLEMENTATION
#include "../../nnopt.h"
#include "../checkpoint_cases.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int kind;
    if (argc != 2) { fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]); return 2; }
    for (kind = 0; kind < NNOPT_KIND_COUNT; kind++) {
        float p[CKCASE_N];
        nnopt_optimizer *opt = ckcase_run((nnopt_kind)kind, p);
        size_t size = opt ? nnopt_save_size(opt) : 0;
        unsigned char *bytes = (unsigned char *)malloc(size ? size : 1);
        unsigned version;
        char path[1024];
        FILE *f;
        if (!opt || !bytes || nnopt_save(opt, bytes, size) != NNOPT_OK) {
            fprintf(stderr, "%s: cannot run or save\n", nnopt_kind_name((nnopt_kind)kind));
            return 1;
        }
        version = bytes[8] | (unsigned)bytes[9] << 8;       /* after the 8-byte magic */
        snprintf(path, sizeof path, "%s/v%u_%s.ckpt", argv[1], version, nnopt_kind_name((nnopt_kind)kind));
        f = fopen(path, "wb");
        if (!f || fwrite(bytes, 1, size, f) != size || fclose(f) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            return 1;
        }
        printf("%s: %zu bytes\n", path, size);
        free(bytes);
        nnopt_destroy(opt);
    }
    return 0;
}
