/* A small SVG writer for the project's figures (no plotting dependency): a canvas with a plot
   box, linear or log axes, polylines, contour lines of a function on a grid (marching squares),
   markers, text and a legend. Numbers are printed with a fixed number of decimals, so the same
   data gives the same file. Used by bench/plot_schedules.c and bench/converge/. */
#ifndef NNOPT_BENCH_SVG_H
#define NNOPT_BENCH_SVG_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct svg_plot {
    FILE *f;
    double width, height;             /* canvas */
    double left, top, right, bottom;  /* plot box in canvas pixels */
    double x0, x1, y0, y1;            /* data range of the box */
    int xlog, ylog;                   /* log10 axes */
    int thin_x;                       /* series: at most one point per pixel column (noisy curves) */
} svg_plot;

/* A palette of distinguishable colours (index modulo its length). */
static inline const char *svg_color(int i)
{
    static const char *const palette[] = {
        "#1f5fbf", "#d0602a", "#2a9d3a", "#c0392b", "#8e44ad", "#8c564b", "#e377c2", "#555555",
        "#b5a300", "#17becf", "#0b2f6b", "#ff9f1c", "#6a9f00", "#7f0000", "#b39ddb", "#2c7873",
        "#f06292", "#000000"
    };
    return palette[i % (int)(sizeof palette / sizeof palette[0])];
}

static inline FILE *svg_begin(const char *path, double width, double height)
{
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); return NULL; }
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" font-family=\"sans-serif\" font-size=\"10\">\n", width, height);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    return f;
}

static inline void svg_end(FILE *f)
{
    fprintf(f, "</svg>\n");
    fclose(f);
}

static inline void svg_line(FILE *f, double x1, double y1, double x2, double y2, const char *stroke)
{
    fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\"/>\n", x1, y1, x2, y2, stroke);
}

/* Text at (x, y); anchor NULL (start), "middle" or "end"; fill NULL (black). */
static inline void svg_text(FILE *f, double x, double y, const char *anchor, const char *fill, const char *text)
{
    fprintf(f, "<text x=\"%g\" y=\"%g\"", x, y);
    if (anchor) fprintf(f, " text-anchor=\"%s\"", anchor);
    if (fill) fprintf(f, " fill=\"%s\"", fill);
    fprintf(f, ">%s</text>\n", text);
}

/* Plot coordinates to canvas pixels. */
static inline double svg_px(const svg_plot *p, double x)
{
    double a = p->xlog ? log10(p->x0) : p->x0, b = p->xlog ? log10(p->x1) : p->x1;
    double v = p->xlog ? log10(x) : x;
    return p->left + (p->right - p->left) * (v - a) / (b - a);
}
static inline double svg_py(const svg_plot *p, double y)
{
    double a = p->ylog ? log10(p->y0) : p->y0, b = p->ylog ? log10(p->y1) : p->y1;
    double v = p->ylog ? log10(y) : y;
    return p->bottom - (p->bottom - p->top) * (v - a) / (b - a);
}

/* Frame, tick labels at the ends of each axis (and every decade of a log axis), title, axis names. */
static inline void svg_axes(const svg_plot *p, const char *title, const char *xname, const char *yname)
{
    char label[64];
    double d;
    fprintf(p->f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#888\"/>\n",
            p->left, p->top, p->right - p->left, p->bottom - p->top);
    if (p->ylog) {
        for (d = ceil(log10(p->y0) - 1e-9); d <= log10(p->y1) + 1e-9; d += 1) {
            double y = svg_py(p, pow(10, d));
            svg_line(p->f, p->left - 3, y, p->left, y, "#888");
            snprintf(label, sizeof label, "1e%d", (int)d);
            svg_text(p->f, p->left - 5, y + 3, "end", NULL, label);
        }
    } else {
        snprintf(label, sizeof label, "%.3g", p->y0); svg_text(p->f, p->left - 5, p->bottom, "end", NULL, label);
        snprintf(label, sizeof label, "%.3g", p->y1); svg_text(p->f, p->left - 5, p->top + 8, "end", NULL, label);
    }
    if (p->xlog) {
        for (d = ceil(log10(p->x0) - 1e-9); d <= log10(p->x1) + 1e-9; d += 1) {
            double x = svg_px(p, pow(10, d));
            svg_line(p->f, x, p->bottom, x, p->bottom + 3, "#888");
            snprintf(label, sizeof label, "1e%d", (int)d);
            svg_text(p->f, x, p->bottom + 12, "middle", NULL, label);
        }
    } else {
        snprintf(label, sizeof label, "%.3g", p->x0); svg_text(p->f, p->left, p->bottom + 12, "middle", NULL, label);
        snprintf(label, sizeof label, "%.3g", p->x1); svg_text(p->f, p->right, p->bottom + 12, "middle", NULL, label);
    }
    if (xname) svg_text(p->f, (p->left + p->right) / 2, p->bottom + 24, "middle", NULL, xname);
    if (yname) svg_text(p->f, p->left - 5, p->top - 6, "end", NULL, yname);
    if (title) svg_text(p->f, p->left, p->top - 6, NULL, NULL, title);
}

/* A polyline through (x[i], y[i]) in plot coordinates, skipping points that move less than
   half a pixel, or with thin_x less than a pixel to the right (keeps long runs small) and stopping at the first non-finite or non-plottable
   point; points outside the box are clamped to its edge so a divergent run shows its exit. */
static inline void svg_series(const svg_plot *p, const double *x, const double *y, size_t n,
                              const char *stroke, double width, const char *dash)
{
    size_t i;
    double lx = -1e30, ly = -1e30;
    int started = 0;
    for (i = 0; i < n; i++) {
        double px, py;
        if (!isfinite(x[i]) || !isfinite(y[i]) || (p->xlog && x[i] <= 0) || (p->ylog && y[i] <= 0)) break;
        px = svg_px(p, x[i]); py = svg_py(p, y[i]);
        px = px < p->left ? p->left : px > p->right ? p->right : px;
        py = py < p->top ? p->top : py > p->bottom ? p->bottom : py;
        if (started && i + 1 < n && (p->thin_x ? px - lx < 1 : fabs(px - lx) < 0.5 && fabs(py - ly) < 0.5)) continue;
        if (!started) {
            fprintf(p->f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%g\"", stroke, width);
            if (dash) fprintf(p->f, " stroke-dasharray=\"%s\"", dash);
            fprintf(p->f, " points=\"");
            started = 1;
        }
        fprintf(p->f, "%.1f,%.1f ", px, py);
        lx = px; ly = py;
    }
    if (started) fprintf(p->f, "\"/>\n");
}

static inline void svg_marker(const svg_plot *p, double x, double y, const char *fill, double r)
{
    fprintf(p->f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%g\" fill=\"%s\"/>\n", svg_px(p, x), svg_py(p, y), r, fill);
}

/* Contour lines of f (sampled on nx by ny grid points over the plot box, row-major, y from
   y0) at the given levels, by marching squares: one path per level. */
static inline void svg_contours(const svg_plot *p, const double *f, int nx, int ny,
                                const double *levels, int nlevels, const char *stroke)
{
    int l, i, j;
    for (l = 0; l < nlevels; l++) {
        double c = levels[l];
        fprintf(p->f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"0.6\" d=\"", stroke);
        for (j = 0; j + 1 < ny; j++) {
            for (i = 0; i + 1 < nx; i++) {
                /* corners counter-clockwise from (i, j); edges 0 bottom, 1 right, 2 top, 3 left */
                double v[4], ex[4], ey[4];
                int k, cut = 0;
                v[0] = f[j * nx + i]; v[1] = f[j * nx + i + 1];
                v[2] = f[(j + 1) * nx + i + 1]; v[3] = f[(j + 1) * nx + i];
                for (k = 0; k < 4; k++) {
                    double a = v[k], b = v[(k + 1) & 3], t;
                    static const int cx[5] = {0, 1, 1, 0, 0}, cy[5] = {0, 0, 1, 1, 0};
                    if ((a < c) == (b < c)) continue;
                    t = (c - a) / (b - a);
                    ex[cut] = i + cx[k] + t * (cx[k + 1] - cx[k]);
                    ey[cut] = j + cy[k] + t * (cy[k + 1] - cy[k]);
                    cut++;
                }
                for (k = 0; k + 1 < cut; k += 2) {   /* 2 or 4 crossings: pair them in order */
                    double xa = p->x0 + (p->x1 - p->x0) * ex[k] / (nx - 1);
                    double ya = p->y0 + (p->y1 - p->y0) * ey[k] / (ny - 1);
                    double xb = p->x0 + (p->x1 - p->x0) * ex[k + 1] / (nx - 1);
                    double yb = p->y0 + (p->y1 - p->y0) * ey[k + 1] / (ny - 1);
                    fprintf(p->f, "M%.1f %.1fL%.1f %.1f", svg_px(p, xa), svg_py(p, ya), svg_px(p, xb), svg_py(p, yb));
                }
            }
        }
        fprintf(p->f, "\"/>\n");
    }
}

/* Legend entries in columns starting at (x, y), `rows` per column, `colw` pixels apart. */
static inline void svg_legend(FILE *f, double x, double y, int rows, double colw,
                              const char *const *names, int count)
{
    int i;
    for (i = 0; i < count; i++) {
        double lx = x + (i / rows) * colw, ly = y + (i % rows) * 12;
        fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                lx, ly - 3, lx + 14, ly - 3, svg_color(i));
        svg_text(f, lx + 18, ly, NULL, NULL, names[i]);
    }
}

#endif
