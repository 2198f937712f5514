// The worker pool runs every index of every job exactly once and returns only when the
// job is done, also when jobs of different sizes follow each other quickly. Each job lives
// in the caller's stack frame, as an op's context does, and is checked right after
// qs__pool_run returns. (The late-worker race fixed in threadpool.c has a window of a few
// nanoseconds per job: this test states the contract, it does not reliably hit that race.)
#include "kernels/internal.h"
#include "test.h"

#include <stdatomic.h>

typedef struct {
    _Atomic int hits[512];
    int n;
} job;

static void task(void *ctx, size_t b, size_t e) {
    job *j = ctx;
    for (size_t i = b; i < e; i++) atomic_fetch_add(&j->hits[i], 1);
}

static void one_job(qs_pool_t *pool, int n) {
    job j;
    j.n = n;
    for (int i = 0; i < 512; i++) atomic_store(&j.hits[i], 0);
    qs__pool_run(pool, (size_t)n, task, &j);
    for (int i = 0; i < n; i++)
        if (atomic_load(&j.hits[i]) != 1) {
            fprintf(stderr, "job of %d: index %d ran %d times\n", n, i, atomic_load(&j.hits[i]));
            exit(1);
        }
    // Poison the frame: a worker that still used it would now count into garbage.
    memset(&j, 0xa5, sizeof j);
}

int main(void) {
    for (int threads = 2; threads <= 4; threads++) {
        qs_pool_t *pool;
        ASSERT_OK(qs__pool_create(threads, &pool));
        ASSERT_EQ(qs__pool_threads(pool), threads);
        unsigned seed = 1;
        for (int it = 0; it < 20000; it++) {
            seed = seed * 1103515245u + 12345u;
            one_job(pool, 1 + (int)((seed >> 16) % 511));  // sizes vary job to job
        }
        qs__pool_destroy(pool);
    }
    one_job(NULL, 100);  // no pool: inline
    printf("pool: 60000 jobs, every index once\n");
    return 0;
}
