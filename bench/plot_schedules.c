/* Draws every learning-rate schedule with nnopt's own schedulers, as small SVG line plots
   for docs/schedules.md:  plot_schedules OUTPUT_DIR   (writes schedule_<name>.svg) */
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"
#include "svg.h"

#include <stdio.h>
#include <string.h>

#define STEPS 300
#define W 360.0
#define H 140.0
#define PAD 34.0

typedef struct {
    const char *name;
    int composition;
    nnopt_sched_params p[3];
    int count;
    int milestones[2];
    int metric;          /* plateau: driven by a loss curve that flattens */
} plot;

static void svg(const char *dir, const plot *pl)
{
    char path[512];
    double lr[STEPS + 1], mom[STEPS + 1], top = 0;
    int t, has_mom = 0;
    nnopt_scheduler s;
    FILE *f;
    nnopt_status st = pl->composition == 1 ? nnopt_sched_init_sequential(&s, pl->p, pl->count, pl->milestones, 0.1)
                    : pl->composition == 2 ? nnopt_sched_init_chained(&s, pl->p, pl->count, 0.1)
                    : nnopt_sched_init(&s, &pl->p[0], 0.1);
    if (st != NNOPT_OK) { fprintf(stderr, "%s: %s\n", pl->name, nnopt_status_str(st)); return; }
    for (t = 0; t <= STEPS; t++) {
        if (t > 0) {
            if (pl->metric) nnopt_sched_step_metric(&s, 1.0 / (1.0 + (t < 120 ? t : 120) * 0.05));
            else nnopt_sched_step(&s);
        }
        lr[t] = nnopt_sched_lr(&s);
        has_mom |= nnopt_sched_momentum(&s, &mom[t]);
        if (lr[t] > top) top = lr[t];
    }
    if (top <= 0) top = 1;
    snprintf(path, sizeof path, "%s/schedule_%s.svg", dir, pl->name);
    f = svg_begin(path, W, H);
    if (!f) return;
    svg_line(f, PAD, H - PAD / 2, W - 8, H - PAD / 2, "#888");
    svg_line(f, PAD, 8, PAD, H - PAD / 2, "#888");
    fprintf(f, "<text x=\"%g\" y=\"14\">%.3g</text><text x=\"4\" y=\"%g\">0</text>\n", 2.0, H - PAD / 2, top);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">step %d</text>\n", W - 8, H - 4, STEPS);
    fprintf(f, "<text x=\"%g\" y=\"14\">%s</text>\n", PAD + 6, pl->name);
    fprintf(f, "<polyline fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"1.5\" points=\"");
    for (t = 0; t <= STEPS; t++)
        fprintf(f, "%.1f,%.1f ", PAD + (W - 8 - PAD) * t / STEPS, (H - PAD / 2) - (H - PAD / 2 - 8) * lr[t] / top);
    fprintf(f, "\"/>\n");
    if (has_mom) {   /* momentum on its own scale [0.8, 1] */
        fprintf(f, "<polyline fill=\"none\" stroke=\"#d0602a\" stroke-dasharray=\"3,2\" points=\"");
        for (t = 0; t <= STEPS; t++)
            fprintf(f, "%.1f,%.1f ", PAD + (W - 8 - PAD) * t / STEPS, (H - PAD / 2) - (H - PAD / 2 - 8) * (mom[t] - 0.8) / 0.2);
        fprintf(f, "\"/>\n<text x=\"%g\" y=\"28\" fill=\"#d0602a\">momentum 0.8-1 (dashed)</text>\n", W - 150);
    }
    svg_end(f);
}

int main(int argc, char **argv)
{
    static plot plots[16];
    int n = 0, i;
    const char *dir = argc > 1 ? argv[1] : "docs/figures";
#define ONE(nm, kind, ...) do { plot *p_ = &plots[n++]; memset(p_, 0, sizeof *p_); p_->name = nm; p_->count = 1; \
        p_->p[0] = nnopt_sched_defaults(kind); { nnopt_sched_params *q = &p_->p[0]; (void)q; __VA_ARGS__; } } while (0)
    ONE("constant", NNOPT_SCHED_CONSTANT, q->factor = 0.5; q->total_iters = 50);
    ONE("step", NNOPT_SCHED_STEP, q->step_size = 60; q->gamma = 0.5);
    ONE("multistep", NNOPT_SCHED_MULTISTEP, q->milestone_count = 3; q->milestones[0] = 100; q->milestones[1] = 200; q->milestones[2] = 250);
    ONE("exponential", NNOPT_SCHED_EXPONENTIAL, q->gamma = 0.99);
    ONE("inverse_time", NNOPT_SCHED_INVERSE_TIME, q->gamma = 0.02);
    ONE("cosine", NNOPT_SCHED_COSINE, q->T_max = 100);
    ONE("cosine_restarts", NNOPT_SCHED_COSINE_RESTARTS, q->T_0 = 20; q->T_mult = 2);
    ONE("linear_warmup", NNOPT_SCHED_LINEAR, q->start_factor = 0.05; q->total_iters = 60);
    ONE("polynomial", NNOPT_SCHED_POLYNOMIAL, q->total_iters = 250; q->power = 2.0);
    ONE("one_cycle", NNOPT_SCHED_ONE_CYCLE, q->max_lr = 0.1; q->total_steps = 300);
    ONE("one_cycle_three_phase", NNOPT_SCHED_ONE_CYCLE, q->max_lr = 0.1; q->total_steps = 300; q->three_phase = 1; q->anneal_linear = 1);
    ONE("plateau", NNOPT_SCHED_PLATEAU, q->patience = 10; q->factor = 0.5); plots[n - 1].metric = 1;
    ONE("swa", NNOPT_SCHED_SWA, q->swa_lr = 0.02; q->anneal_epochs = 50);
    {   /* warm-up then cosine */
        plot *p = &plots[n++];
        memset(p, 0, sizeof *p);
        p->name = "sequential_warmup_cosine"; p->composition = 1; p->count = 2; p->milestones[0] = 30;
        p->p[0] = nnopt_sched_defaults(NNOPT_SCHED_LINEAR); p->p[0].start_factor = 0.01; p->p[0].total_iters = 30;
        p->p[1] = nnopt_sched_defaults(NNOPT_SCHED_COSINE); p->p[1].T_max = 270;
        p = &plots[n++];
        memset(p, 0, sizeof *p);
        p->name = "chained_step_cosine"; p->composition = 2; p->count = 2;
        p->p[0] = nnopt_sched_defaults(NNOPT_SCHED_STEP); p->p[0].step_size = 100; p->p[0].gamma = 0.5;
        p->p[1] = nnopt_sched_defaults(NNOPT_SCHED_COSINE); p->p[1].T_max = 50;
    }
    for (i = 0; i < n; i++) svg(dir, &plots[i]);
    printf("wrote %d plots to %s\n", n, dir);
    return 0;
}
