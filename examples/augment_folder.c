/* Image augmentation over a folder: every PNG/JPEG/BMP/... stb_image can read is loaded as
   RGB bytes, run through a pipeline (random resized crop to 96x96, horizontal flip, color
   jitter) for SAMPLES seeded samples each, and written with its original into one contact sheet
   PNG (a row per image). Without a folder, three synthetic images are written first.
   Uses Debian's libstb-dev: cc -O2 examples/augment_folder.c -lstb -lm
   Run: augment_folder [INPUT_DIR [OUTPUT.png]]   (defaults: synthetic, contact_sheet.png) */
#define _POSIX_C_SOURCE 200809L
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#define SAMPLES 6               /* augmented samples per image */
#define S 96                    /* tile size */
#define PAD 4
#define MAX_IMAGES 16
#define TILE(col) (PAD + (col) * (S + PAD))
#define SHEET_W TILE(SAMPLES + 1)

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Three small images with an asymmetric pattern, so crops, flips and colors show. */
static int write_synthetic(const char *dir)
{
    static unsigned char px[120 * 160 * 3];
    int k, x, y, w, h;
    char path[512];
    if (mkdir(dir, 0755) && errno != EEXIST) return 1;
    for (k = 0; k < 3; k++) {
        w = 160 - 32 * k, h = 120;
        for (y = 0; y < h; y++)
            for (x = 0; x < w; x++) {
                unsigned char *p = px + (y * w + x) * 3;
                int in_f = (x > w / 5 && x < w / 5 + 12) ||   /* an "F": flips are visible */
                           (y > h / 5 && y < h / 5 + 12 && x > w / 5 && x < w / 2) ||
                           (y > h / 2 && y < h / 2 + 12 && x > w / 5 && x < 2 * w / 5);
                p[0] = (unsigned char)(in_f ? 250 : 255 * x / w);
                p[1] = (unsigned char)(in_f ? 240 : 80 * k + 60 * ((x / 16 + y / 16) & 1));
                p[2] = (unsigned char)(in_f ? 30 : 255 * y / h);
            }
        snprintf(path, sizeof path, "%s/synthetic%d.png", dir, k);
        if (!stbi_write_png(path, w, h, 3, px, w * 3)) return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "augment_input";
    const char *out_path = argc > 2 ? argv[2] : "contact_sheet.png";
    static unsigned char sheet[(PAD + MAX_IMAGES * (S + PAD)) * SHEET_W * 3], tiles[(SAMPLES + 1) * S * S * 3];
    char *names[MAX_IMAGES], path[1024];
    nnopt_aug_op ops[3];
    nnopt_aug_record rec[SAMPLES];
    struct dirent *e;
    DIR *d;
    int count = 0, i, k, y, w, h, rows = 0, check_w, check_h, check_c;
    unsigned char *check;
    nnopt_status status;

    if (argc < 2 && write_synthetic(dir)) return 1;
    if (!(d = opendir(dir))) { fprintf(stderr, "cannot open %s\n", dir); return 1; }
    while ((e = readdir(d)) && count < MAX_IMAGES)
        if (e->d_name[0] != '.') names[count++] = strdup(e->d_name);
    closedir(d);
    qsort(names, count, sizeof *names, by_name);   /* the same sheet whatever readdir's order */

    ops[0] = nnopt_aug_op_defaults(NNOPT_AUG_RANDOM_RESIZED_CROP);
    ops[0].width = ops[0].height = S, ops[0].scale[0] = 0.25;
    ops[1] = nnopt_aug_op_defaults(NNOPT_AUG_HFLIP);
    ops[2] = nnopt_aug_op_defaults(NNOPT_AUG_COLOR_JITTER);
    ops[2].brightness[0] = ops[2].contrast[0] = ops[2].saturation[0] = 0.6;
    ops[2].brightness[1] = ops[2].contrast[1] = ops[2].saturation[1] = 1.4;
    ops[2].hue[0] = -0.1, ops[2].hue[1] = 0.1;
    memset(sheet, 64, sizeof sheet);
    for (i = 0; i < count; i++) {
        nnopt_aug_pipeline pl;
        nnopt_image src, thumb;
        unsigned char *px;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!(px = stbi_load(path, &w, &h, NULL, 3))) { printf("skip %s (not an image)\n", path); continue; }
        /* A pipeline is built for one input size; sample indices continue across images, and sample
           k of image i is a pure function of (seed, i * SAMPLES + k). */
        src = nnopt_image_u8(px, w, h, 3), thumb = nnopt_image_u8(tiles, S, S, 3);
        status = nnopt_aug_pipeline_init(&pl, ops, 3, NNOPT_IMAGE_U8_HWC, w, h, 3);
        for (k = 0; k < SAMPLES && !status; k++)   /* apply augments `count` different images */
            status = nnopt_aug_apply(&pl, px, tiles + (k + 1) * S * S * 3, 1, 2026,
                                     (uint64_t)i * SAMPLES + k, rec + k);
        if (status || nnopt_aug_resize(&src, &thumb, NNOPT_INTERP_BILINEAR)) {   /* column 0: original */
            printf("FAILED on %s: %s\n", path, nnopt_status_str(status));
            return 1;
        }
        printf("%s (%dx%d):\n", names[i], w, h);
        for (k = 0; k < (i == 0 ? SAMPLES : 2); k++)
            printf("  sample %d: crop top %3d left %3d %3dx%-3d  flip %d  brightness %.2f contrast %.2f"
                   " saturation %.2f hue %+.3f\n", k, rec[k].op[0].top, rec[k].op[0].left,
                   rec[k].op[0].width, rec[k].op[0].height, rec[k].op[1].applied,
                   rec[k].op[2].factor[0], rec[k].op[2].factor[1], rec[k].op[2].factor[2], rec[k].op[2].factor[3]);
        for (k = 0; k <= SAMPLES; k++)
            for (y = 0; y < S; y++)
                memcpy(sheet + ((size_t)(TILE(rows) + y) * SHEET_W + TILE(k)) * 3, tiles + (k * S + y) * S * 3, S * 3);
        rows++;
        stbi_image_free(px);
    }
    for (i = 0; i < count; i++) free(names[i]);
    if (!rows || !stbi_write_png(out_path, SHEET_W, TILE(rows), 3, sheet, SHEET_W * 3)) {
        printf("FAILED: %s\n", rows ? "cannot write the sheet" : "no image in the folder");
        return 1;
    }
    /* PNG is lossless: reading the sheet back must give the same bytes. */
    check = stbi_load(out_path, &check_w, &check_h, &check_c, 3);
    k = check && check_w == SHEET_W && check_h == TILE(rows) &&
        !memcmp(check, sheet, (size_t)check_w * check_h * 3);
    stbi_image_free(check);
    printf("%s: %d images x (original + %d samples), %dx%d pixels%s\n", out_path, rows, SAMPLES,
           SHEET_W, TILE(rows), k ? "" : " FAILED to read back");
    return !k;
}
