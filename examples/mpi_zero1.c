/* ZeRO-1 over MPI: sharded optimizer state. Each rank computes the gradient of its part of the
   batch; a reduce-scatter gives each rank the summed gradient of its contiguous shard of the
   parameters, which it steps with its own nnopt optimizer (1/R of Adam's state); an all-gather
   rebuilds the parameters. Rank 0 also trains in one process and compares the bits.
   One summation order for any rank count: the batch is M micro-batches added by a fixed binary
   tree; a rank's M/R micro-batches form a subtree (R a power of two dividing M) and the shard
   owner adds the R subtree sums by the tree's top levels. (MPI_Reduce_scatter's order is the
   implementation's, hence MPI_Alltoallv and local sums.) Adam is elementwise, so a shard's
   update is that part of the full update; LAMB, LARS or norm clipping would need a global norm.
   Build: mpicc -O2 examples/mpi_zero1.c -lm;  run: mpirun -np 2 ./a.out  (or -np 4) */
#define NNOPT_IMPLEMENTATION
#include "../nnopt.h"
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#define P 1001        /* parameters of a linear model (shards of unequal length) */
#define M 8           /* micro-batches */
#define B 16          /* samples per micro-batch */
#define STEPS 200

static float X[M * B][P], y[M * B];

static float uniform(unsigned i)   /* in [-0.5, 0.5), from a hash of i */
{
    i = (i ^ (i >> 16)) * 0x7feb352du, i = (i ^ (i >> 15)) * 0x846ca68bu, i ^= i >> 16;
    return (float)(i >> 8) / 16777216.0f - 0.5f;
}

static float residual(int s, const float *w)   /* model output - target for sample s */
{
    float err = -y[s];
    int j;
    for (j = 0; j < P; j++) err += X[s][j] * w[j];
    return err;
}

/* Gradient of micro-batch m's part of the mean squared error over the whole batch. */
static void micro_gradient(int m, const float *w, float *g)
{
    int s, j;
    memset(g, 0, P * sizeof(float));
    for (s = m * B; s < (m + 1) * B; s++) {
        float err = residual(s, w);
        for (j = 0; j < P; j++) g[j] += 2 * err * X[s][j] / (M * B);
    }
}

/* The first of `count` (a power of two) consecutive vectors of n floats becomes their sum,
   added by the tree: neighbours, then pairs of pairs... */
static void tree_sum(float *v, int count, int n)
{
    int width, i, j;
    for (width = 1; width < count; width *= 2)
        for (i = 0; i + width < count; i += 2 * width)
            for (j = 0; j < n; j++) v[i * n + j] += v[(i + width) * n + j];
}

int main(int argc, char **argv)
{
    static float w[P], ref[P], micro[M][P], recv[M * P];
    int rank, R, r, m, t, ok = 1, lo[M + 1], len[M], rcount[M], rdispl[M];
    nnopt_hparams h = nnopt_defaults(NNOPT_ADAM);
    nnopt_optimizer *shard, *whole = NULL;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &R);
    if (M % R || (R & (R - 1))) {
        if (rank == 0) fprintf(stderr, "the number of ranks must be a power of two dividing %d\n", M);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    for (m = 0; m < M * B; m++) {   /* the same data set everywhere: y = X w* + noise */
        y[m] = 0.01f * uniform(2u * M * B * P + m);
        for (r = 0; r < P; r++) {
            X[m][r] = uniform((unsigned)(m * P + r));
            y[m] += X[m][r] * uniform((unsigned)(M * B * P + r));
        }
    }
    for (r = 0; r <= R; r++) lo[r] = (int)((long)P * r / R);      /* shard r: [lo[r], lo[r+1]) */
    for (r = 0; r < R; r++)   /* shard lengths; what this rank receives: R pieces of its shard */
        len[r] = lo[r + 1] - lo[r], rcount[r] = lo[rank + 1] - lo[rank], rdispl[r] = r * rcount[r];
    h.lr = 1e-2;
    shard = nnopt_create(&h, len[rank]);     /* ZeRO-1: state for this rank's shard only */
    if (rank == 0) whole = nnopt_create(&h, P);
    if (!shard || (rank == 0 && !whole)) MPI_Abort(MPI_COMM_WORLD, 1);
    for (t = 0; t < STEPS; t++) {
        /* This rank's micro-batches, summed into micro[0]; then each shard to its owner. */
        for (m = 0; m < M / R; m++) micro_gradient(rank * (M / R) + m, w, micro[m]);
        tree_sum(micro[0], M / R, P);
        MPI_Alltoallv(micro[0], len, lo, MPI_FLOAT, recv, rcount, rdispl, MPI_FLOAT, MPI_COMM_WORLD);
        tree_sum(recv, R, len[rank]);
        ok &= nnopt_step(shard, w + lo[rank], recv) == NNOPT_OK;
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, w, len, lo, MPI_FLOAT, MPI_COMM_WORLD);
        if (rank == 0) {   /* the single-process reference: all M micro-batches here */
            if (t % 50 == 0) {
                double loss = 0;
                for (m = 0; m < M * B; m++) loss += (double)residual(m, ref) * residual(m, ref);
                printf("step %3d  loss %.3g\n", t, loss / (M * B));
            }
            for (m = 0; m < M; m++) micro_gradient(m, ref, micro[m]);
            tree_sum(micro[0], M, P);
            ok &= nnopt_step(whole, ref, micro[0]) == NNOPT_OK;
        }
    }
    if (rank == 0) ok &= memcmp(w, ref, sizeof w) == 0;
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);   /* every rank's verdict */
    if (rank == 0)
        printf("%d ranks (Adam state per rank %d of %d floats): parameters %s the single-process run\n",
               R, 2 * len[0], 2 * P, ok ? "bit-identical to" : "DIFFER from");
    nnopt_destroy(shard), nnopt_destroy(whole);
    MPI_Finalize();
    return ok ? 0 : 1;
}
