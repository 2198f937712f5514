// A small fork-join pool: the caller runs the first range itself and waits for the
// workers, which are bound to distinct cores with hwloc (a failure there only warns).
#include "kernels/internal.h"

#include <hwloc.h>
#include <pthread.h>

struct qs_pool {
    int threads;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t generation;
    int pending;
    bool stop;
    qs_pool_task task;
    void *ctx;
    size_t n;
    hwloc_topology_t topo;
    bool have_topo;
};

typedef struct {
    qs_pool_t *pool;
    int index;
} worker_arg;

static void range_of(size_t n, int parts, int i, size_t *b, size_t *e) {
    size_t q = n / (size_t)parts, r = n % (size_t)parts;
    *b = (size_t)i * q + QS_MIN((size_t)i, r);
    *e = *b + q + ((size_t)i < r);
}

static void bind_to_core(qs_pool_t *p, int index) {
    if (!p->have_topo) return;
    int ncores = hwloc_get_nbobjs_by_type(p->topo, HWLOC_OBJ_CORE);
    if (ncores <= 0) return;
    hwloc_obj_t core = hwloc_get_obj_by_type(p->topo, HWLOC_OBJ_CORE, (unsigned)(index % ncores));
    if (!core || hwloc_set_cpubind(p->topo, core->cpuset, HWLOC_CPUBIND_THREAD) != 0)
        qs__log(QS_LOG_DEBUG, "could not bind worker %d to a core", index);
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
        qs_pool_task task = p->task;
        void *ctx = p->ctx;
        size_t n = p->n;
        pthread_mutex_unlock(&p->mu);
        size_t b, e;
        range_of(n, p->threads, index, &b, &e);
        if (b < e) task(ctx, b, e);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

enum qs_status qs__pool_create(int threads, qs_pool_t **pool_out) {
    if (threads < 1) threads = 1;
    qs_pool_t *p = qs__calloc(1, sizeof *p);
    if (!p) return QS_STATUS_NOMEM;
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    if (hwloc_topology_init(&p->topo) == 0) {
        if (hwloc_topology_load(p->topo) == 0)
            p->have_topo = true;
        else
            hwloc_topology_destroy(p->topo);
    }
    if (!p->have_topo) qs__log(QS_LOG_WARN, "hwloc could not load the topology; threads are not bound");
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
    if (p->have_topo) hwloc_topology_destroy(p->topo);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
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
    pthread_mutex_lock(&p->mu);
    p->task = task;
    p->ctx = ctx;
    p->n = n;
    p->pending = p->threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    size_t b, e;
    range_of(n, p->threads, 0, &b, &e);
    if (b < e) task(ctx, b, e);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
