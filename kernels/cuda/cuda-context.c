// The process-wide CUDA context (device, stream, events, library handles), its lock, device
// information for the hardware descriptor, error mapping and device buffers.
#include "kernels/cuda/cuda-impl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct qs_cuda_ctx *g_ctx;
// The first failure to find a device is remembered: probing again costs a driver call each
// time and cannot succeed later in the same process.
static enum qs_status g_probe = QS_STATUS_OK;
static struct qs_diag g_probe_diag;

#define QS_CUDA_WORKSPACE (32u << 20)

bool qs__cuda_built(void) { return true; }

enum qs_status qs__cuda_rt(cudaError_t e, struct qs_diag *diag, const char *what) {
    if (e == cudaSuccess) return QS_STATUS_OK;
    enum qs_status st = e == cudaErrorMemoryAllocation ? QS_STATUS_NOMEM
                        : e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
                                  e == cudaErrorInvalidDevice
                            ? QS_STATUS_UNSUPPORTED_HW
                            : QS_STATUS_CUDA;
    return qs__diag(diag, st, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

enum qs_status qs__cuda_blas(cublasStatus_t e, struct qs_diag *diag, const char *what) {
    if (e == CUBLAS_STATUS_SUCCESS) return QS_STATUS_OK;
    enum qs_status st = e == CUBLAS_STATUS_ALLOC_FAILED     ? QS_STATUS_NOMEM
                        : e == CUBLAS_STATUS_NOT_SUPPORTED ? QS_STATUS_UNSUPPORTED
                        : e == CUBLAS_STATUS_ARCH_MISMATCH ? QS_STATUS_UNSUPPORTED_HW
                        : e == CUBLAS_STATUS_INVALID_VALUE ? QS_STATUS_INVALID_ARG
                                                           : QS_STATUS_CUDA;
    return qs__diag(diag, st, "%s: cuBLASLt status %d", what, (int)e);
}

enum qs_status qs__cuda_sparse(cusparseStatus_t e, struct qs_diag *diag, const char *what) {
    if (e == CUSPARSE_STATUS_SUCCESS) return QS_STATUS_OK;
    enum qs_status st = e == CUSPARSE_STATUS_ALLOC_FAILED     ? QS_STATUS_NOMEM
                        : e == CUSPARSE_STATUS_NOT_SUPPORTED ? QS_STATUS_UNSUPPORTED
                        : e == CUSPARSE_STATUS_ARCH_MISMATCH ? QS_STATUS_UNSUPPORTED_HW
                        : e == CUSPARSE_STATUS_INVALID_VALUE ? QS_STATUS_INVALID_ARG
                                                             : QS_STATUS_CUDA;
    return qs__diag(diag, st, "%s: %s", what, cusparseGetErrorString(e));
}

#ifdef QS_HAVE_CUDNN
enum qs_status qs__cuda_dnn(cudnnStatus_t e, struct qs_diag *diag, const char *what) {
    if (e == CUDNN_STATUS_SUCCESS) return QS_STATUS_OK;
    enum qs_status st = e == CUDNN_STATUS_ALLOC_FAILED ? QS_STATUS_NOMEM
                        : e == CUDNN_STATUS_NOT_SUPPORTED ? QS_STATUS_UNSUPPORTED
                        : e == CUDNN_STATUS_BAD_PARAM     ? QS_STATUS_INVALID_ARG
                                                          : QS_STATUS_CUDA;
    return qs__diag(diag, st, "%s: %s", what, cudnnGetErrorString(e));
}
#endif

static void ctx_destroy(struct qs_cuda_ctx *c) {
    if (!c) return;
#ifdef QS_HAVE_CUDNN
    if (c->dnn) cudnnDestroy(c->dnn);
#endif
    if (c->sp) cusparseDestroy(c->sp);
    if (c->lt) cublasLtDestroy(c->lt);
    if (c->workspace) cudaFree(c->workspace);
    if (c->ev0) cudaEventDestroy(c->ev0);
    if (c->ev1) cudaEventDestroy(c->ev1);
    if (c->stream) cudaStreamDestroy(c->stream);
    qs__free(c);
}

static enum qs_status fill_info(struct qs_cuda_ctx *c, struct qs_diag *diag) {
    struct qs_cuda_device_info *in = &c->info;
    struct cudaDeviceProp prop;
    enum qs_status st = qs__cuda_rt(cudaGetDeviceProperties(&prop, c->device), diag,
                                    "cudaGetDeviceProperties");
    if (st) return st;
    in->ordinal = c->device;
    snprintf(in->name, sizeof in->name, "%s", prop.name);
    in->sm_count = prop.multiProcessorCount;
    in->cc_major = prop.major;
    in->cc_minor = prop.minor;
    in->total_mem = (uint64_t)prop.totalGlobalMem;
    cudaDriverGetVersion(&in->driver_version);
    cudaRuntimeGetVersion(&in->runtime_version);
    in->cublaslt_version = cublasLtGetVersion();
    int maj = 0, min = 0, patch = 0;
    cusparseGetProperty(MAJOR_VERSION, &maj);
    cusparseGetProperty(MINOR_VERSION, &min);
    cusparseGetProperty(PATCH_LEVEL, &patch);
    in->cusparse_version = maj * 1000 + min * 100 + patch;
#ifdef QS_HAVE_CUDNN
    in->has_cudnn = true;
    in->cudnn_version = cudnnGetVersion();
#endif
#ifdef QS_HAVE_CUSPARSELT
    in->has_cusparselt = true;
#endif
    snprintf(in->libraries, sizeof in->libraries, "cuBLASLt %zu, cuDNN %zu, cuSPARSE %d%s",
             in->cublaslt_version, in->cudnn_version, in->cusparse_version,
             in->has_cusparselt ? ", cuSPARSELt" : "");
    return QS_STATUS_OK;
}

static enum qs_status ctx_create(struct qs_cuda_ctx **out, struct qs_diag *diag) {
    int count = 0;
    enum qs_status st = qs__cuda_rt(cudaGetDeviceCount(&count), diag, "no CUDA device");
    // Whatever the runtime says here (no driver, no device, a driver too old), there is no
    // device to use: the message keeps the runtime's reason.
    if (st) return st == QS_STATUS_CUDA ? QS_STATUS_UNSUPPORTED_HW : st;
    if (count < 1) return qs__diag(diag, QS_STATUS_UNSUPPORTED_HW, "no CUDA device");
    int dev = 0;
    const char *env = getenv("QS_CUDA_DEVICE");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end || v < 0 || v >= count)
            return qs__diag(diag, QS_STATUS_INVALID_ARG,
                            "QS_CUDA_DEVICE=%s: not a device ordinal in 0..%d", env, count - 1);
        dev = (int)v;
    }
    struct qs_cuda_ctx *c = qs__calloc(1, sizeof *c);
    if (!c) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    c->device = dev;
    c->workspace_size = QS_CUDA_WORKSPACE;
    if ((st = qs__cuda_rt(cudaSetDevice(dev), diag, "cudaSetDevice")) ||
        (st = qs__cuda_rt(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), diag,
                          "cudaStreamCreate")) ||
        (st = qs__cuda_rt(cudaEventCreate(&c->ev0), diag, "cudaEventCreate")) ||
        (st = qs__cuda_rt(cudaEventCreate(&c->ev1), diag, "cudaEventCreate")) ||
        (st = qs__cuda_rt(cudaMalloc(&c->workspace, c->workspace_size), diag,
                          "cudaMalloc(workspace)")) ||
        (st = qs__cuda_blas(cublasLtCreate(&c->lt), diag, "cublasLtCreate")) ||
        (st = qs__cuda_sparse(cusparseCreate(&c->sp), diag, "cusparseCreate")) ||
        (st = qs__cuda_sparse(cusparseSetStream(c->sp, c->stream), diag, "cusparseSetStream")))
        goto fail;
#ifdef QS_HAVE_CUDNN
    if ((st = qs__cuda_dnn(cudnnCreate(&c->dnn), diag, "cudnnCreate")) ||
        (st = qs__cuda_dnn(cudnnSetStream(c->dnn, c->stream), diag, "cudnnSetStream")))
        goto fail;
#endif
    if ((st = fill_info(c, diag))) goto fail;
    qs__log(QS_LOG_INFO, "cuda: device %d %s, %d SMs, cc %d.%d, driver %d, runtime %d, %s",
            dev, c->info.name, c->info.sm_count, c->info.cc_major, c->info.cc_minor,
            c->info.driver_version, c->info.runtime_version, c->info.libraries);
    *out = c;
    return QS_STATUS_OK;
fail:
    ctx_destroy(c);
    return st;
}

enum qs_status qs__cuda_ctx_acquire(struct qs_cuda_ctx **ctx, struct qs_diag *diag) {
    pthread_mutex_lock(&g_lock);
    if (g_probe != QS_STATUS_OK) {
        enum qs_status st = g_probe;
        if (diag) *diag = g_probe_diag;
        pthread_mutex_unlock(&g_lock);
        return st;
    }
    if (!g_ctx) {
        struct qs_diag d;
        enum qs_status st = ctx_create(&g_ctx, &d);
        if (st) {
            if (st == QS_STATUS_UNSUPPORTED_HW) {
                g_probe = st;
                g_probe_diag = d;
            }
            pthread_mutex_unlock(&g_lock);
            if (diag) *diag = d;
            return st;
        }
    }
    // The device is per host thread in the runtime API: set it for this caller every time.
    enum qs_status st = qs__cuda_rt(cudaSetDevice(g_ctx->device), diag, "cudaSetDevice");
    if (st) {
        pthread_mutex_unlock(&g_lock);
        return st;
    }
    *ctx = g_ctx;
    return QS_STATUS_OK;
}

void qs__cuda_ctx_release(void) { pthread_mutex_unlock(&g_lock); }

enum qs_status qs__cuda_available(struct qs_diag *diag) {
    struct qs_cuda_ctx *c;
    enum qs_status st = qs__cuda_ctx_acquire(&c, diag);
    if (st == QS_STATUS_OK) qs__cuda_ctx_release();
    return st;
}

enum qs_status qs__cuda_device_info(struct qs_cuda_device_info *out, struct qs_diag *diag) {
    struct qs_cuda_ctx *c;
    enum qs_status st = qs__cuda_ctx_acquire(&c, diag);
    if (st) return st;
    *out = c->info;
    qs__cuda_ctx_release();
    return QS_STATUS_OK;
}

void qs__cuda_shutdown(void) {
    pthread_mutex_lock(&g_lock);
    ctx_destroy(g_ctx);
    g_ctx = NULL;
    pthread_mutex_unlock(&g_lock);
}

enum qs_status qs__cuda_alloc(struct qs_cuda_bufs *b, size_t size, void **out,
                              struct qs_diag *diag) {
    if (b->n >= QS_CUDA_MAX_BUFS)
        return qs__diag(diag, QS_STATUS_INTERNAL, "cuda: more than %d buffers in one call",
                        QS_CUDA_MAX_BUFS);
    void *p = NULL;
    enum qs_status st = qs__cuda_rt(cudaMalloc(&p, size ? size : 1), diag, "cudaMalloc");
    if (st) return st;
    b->p[b->n++] = p;
    *out = p;
    return QS_STATUS_OK;
}

void qs__cuda_free_all(struct qs_cuda_bufs *b) {
    for (int i = 0; i < b->n; i++) cudaFree(b->p[i]);
    b->n = 0;
}

enum qs_status qs__cuda_upload(struct qs_cuda_ctx *ctx, struct qs_cuda_bufs *b, const void *src,
                               size_t size, void **out, struct qs_diag *diag) {
    void *p = NULL;
    enum qs_status st = qs__cuda_alloc(b, size, &p, diag);
    if (st) return st;
    st = src ? qs__cuda_rt(cudaMemcpyAsync(p, src, size, cudaMemcpyHostToDevice, ctx->stream),
                           diag, "cudaMemcpy(host to device)")
             : qs__cuda_rt(cudaMemsetAsync(p, 0, size ? size : 1, ctx->stream), diag,
                           "cudaMemset");
    if (st) return st;
    *out = p;
    return QS_STATUS_OK;
}

enum qs_status qs__cuda_download(struct qs_cuda_ctx *ctx, void *dst, const void *src,
                                 size_t size, struct qs_diag *diag) {
    enum qs_status st = qs__cuda_rt(
        cudaMemcpyAsync(dst, src, size, cudaMemcpyDeviceToHost, ctx->stream), diag,
        "cudaMemcpy(device to host)");
    if (st) return st;
    return qs__cuda_rt(cudaStreamSynchronize(ctx->stream), diag, "cudaStreamSynchronize");
}
