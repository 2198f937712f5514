// A small fork-join pool: the caller runs the first range itself and waits for the
// workers, which are bound to distinct cores with hwloc (a failure there only warns).
#include "kernels/internal.h"

#include <pthread.h>

// QS_NO_HWLOC: builds without hwloc (the ARM cross-build of the kernel tests); workers are
// then left wherever the OS puts them.
#if !defined(QS_NO_HWLOC)
#include <hwloc.h>
#endif
#include <stdatomic.h>

struct qs_pool {
    int threads;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t go, done_cv;
    uint64_t generation;
    bool stop;
    qs_pool_task task;
    void *ctx;
    size_t n, chunk, n_chunks;
    // (generation << 32) | next chunk: a worker that wakes late cannot take a chunk of a
    // later job, because its compare-and-swap carries the generation it read.
    _Atomic uint64_t cursor;
    _Atomic size_t done;
#if !defined(QS_NO_HWLOC)
    hwloc_topology_t topo;
    bool have_topo;
#endif
};

typedef struct {
    qs_pool_t *pool;
    int index;
} worker_arg;

// Takes chunks of the job of generation `gen` until none is left. Chunks instead of one
// range per thread: on a busy host a descheduled worker must not hold the whole op back,
// the caller simply takes the chunks it did not get to.
static void run_chunks(qs_pool_t *p, uint32_t gen) {
    for (;;) {
        uint64_t cur = atomic_load(&p->cursor);
        if ((uint32_t)(cur >> 32) != gen) return;
        size_t c = (size_t)(cur & 0xffffffffu);
        if (c >= p->n_chunks) return;
        if (!atomic_compare_exchange_weak(&p->cursor, &cur, cur + 1)) continue;
        size_t b = c * p->chunk, e = QS_MIN(p->n, b + p->chunk);
        p->task(p->ctx, b, e);
        if (atomic_fetch_add(&p->done, 1) + 1 == p->n_chunks) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void bind_to_core(qs_pool_t *p, int index) {
#if defined(QS_NO_HWLOC)
    (void)p;
    (void)index;
#else
    if (!p->have_topo) return;
    int ncores = hwloc_get_nbobjs_by_type(p->topo, HWLOC_OBJ_CORE);
    if (ncores <= 0) return;
    hwloc_obj_t core = hwloc_get_obj_by_type(p->topo, HWLOC_OBJ_CORE, (unsigned)(index % ncores));
    if (!core || hwloc_set_cpubind(p->topo, core->cpuset, HWLOC_CPUBIND_THREAD) != 0)
        qs__log(QS_LOG_DEBUG, "could not bind worker %d to a core", index);
#endif
}

static void *worker_main(void *arg) {
    worker_arg *wa = arg;
    qs_pool_t *p = wa->pool;
    int index = wa->index;
    qs__free(wa);
    bind_to_core(p, index);
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->go, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_chunks(p, (uint32_t)seen);
    }
}

enum qs_status qs__pool_create(int threads, qs_pool_t **pool_out) {
    if (threads < 1) threads = 1;
    qs_pool_t *p = qs__calloc(1, sizeof *p);
    if (!p) return QS_STATUS_NOMEM;
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done_cv, NULL);
#if !defined(QS_NO_HWLOC)
    if (hwloc_topology_init(&p->topo) == 0) {
        if (hwloc_topology_load(p->topo) == 0)
            p->have_topo = true;
        else
            hwloc_topology_destroy(p->topo);
    }
    if (!p->have_topo) qs__log(QS_LOG_WARN, "hwloc could not load the topology; threads are not bound");
#endif
    p->tids = qs__calloc((size_t)threads, sizeof(pthread_t));
    if (!p->tids) {
        qs__pool_destroy(p);
        return QS_STATUS_NOMEM;
    }
    bind_to_core(p, 0);
    for (int i = 1; i < threads; i++) {
        worker_arg *wa = qs__malloc(sizeof *wa);
        if (!wa) {
            p->threads = i;
            qs__pool_destroy(p);
            return QS_STATUS_NOMEM;
        }
        wa->pool = p;
        wa->index = i;
        if (pthread_create(&p->tids[i], NULL, worker_main, wa) != 0) {
            qs__free(wa);
            p->threads = i;
            qs__pool_destroy(p);
            return QS_STATUS_INTERNAL;
        }
    }
    *pool_out = p;
    return QS_STATUS_OK;
}

void qs__pool_destroy(qs_pool_t *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->threads && p->tids; i++) pthread_join(p->tids[i], NULL);
#if !defined(QS_NO_HWLOC)
    if (p->have_topo) hwloc_topology_destroy(p->topo);
#endif
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done_cv);
    qs__free(p->tids);
    qs__free(p);
}

int qs__pool_threads(const qs_pool_t *p) { return p ? p->threads : 1; }

void qs__pool_run(qs_pool_t *p, size_t n, qs_pool_task task, void *ctx) {
    if (!n) return;
    if (!p || p->threads == 1 || n < 2) {
        task(ctx, 0, n);
        return;
    }
    size_t parts = (size_t)p->threads * 4;
    pthread_mutex_lock(&p->mu);
    // Close the previous job before its fields change: a worker still looping on it may
    // hold a cursor value of that job, and must fail its compare-and-swap instead of
    // checking it against the new job's chunk count (which ran a chunk twice and let this
    // call return while a worker still used the caller's stack frame).
    atomic_store(&p->cursor, ((uint64_t)(uint32_t)p->generation << 32) | 0xffffffffu);
    p->task = task;
    p->ctx = ctx;
    p->n = n;
    p->chunk = (n + parts - 1) / parts;
    p->n_chunks = (n + p->chunk - 1) / p->chunk;
    atomic_store(&p->done, 0);
    p->generation++;
    uint32_t gen = (uint32_t)p->generation;
    atomic_store(&p->cursor, (uint64_t)gen << 32);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    run_chunks(p, gen);
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->done) < p->n_chunks) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
