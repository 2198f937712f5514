// The few CUDA kernels the backend needs around cuBLASLt/cuDNN/cuSPARSE: the int8 epilogue
// (bit-exact with kernels/ref/qgemm-ref.c), uint8 -> int8 flips, padding of k, im2col and a
// direct depthwise int8 convolution. All are grid-stride loops over the output; none is
// meant to be fast beyond being memory-bound.
#include "kernels/cuda/cuda-launch.h"

#include <cuda_runtime.h>

namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t count) {
    int64_t b = (count + kThreads - 1) / kThreads;
    return (unsigned)(b < 1 ? 1 : b > (1 << 20) ? (1 << 20) : b);
}

// qs_requant_fp32 (kernels/qgemm.h) with every float operation rounded on its own: nvcc
// would otherwise contract a*b+c into an FMA and the bits would differ from the CPU.
__device__ int32_t requant(int32_t acc, float scale, int32_t zp, int32_t lo, int32_t hi) {
    float f = __fmul_rn((float)acc, scale);
    if (f < 4194304.0f && f > -4194304.0f) f = __fsub_rn(__fadd_rn(f, 12582912.0f), 12582912.0f);
    long long q = f >= 2147483648.0f ? 2147483647LL
                  : f >= -2147483648.0f ? (long long)f : -2147483648LL;
    q += zp;
    return q < lo ? lo : q > hi ? hi : (int32_t)q;
}

__device__ float clamp_f32(float f, float lo, float hi) {
    f = f < lo ? lo : f;
    return f > hi ? hi : f;
}

__device__ void store(const qs_cuda_qepi &e, int32_t acc, int64_t ch, void *out, int64_t i) {
    acc = (int32_t)((uint32_t)acc + (uint32_t)e.corr[ch]);  // wraps like the CPU
    switch (e.out_type) {
    case 0:  // QS_QOUT_U8
        ((uint8_t *)out)[i] = (uint8_t)requant(acc, e.scale[ch], e.out_zp, e.qmin, e.qmax);
        break;
    case 1:  // QS_QOUT_S8
        ((int8_t *)out)[i] = (int8_t)requant(acc, e.scale[ch], e.out_zp, e.qmin, e.qmax);
        break;
    case 2: {  // QS_QOUT_F32
        float f = __fmul_rn((float)acc, e.scale[ch]);
        f = __fadd_rn(f, e.fbias ? e.fbias[ch] : 0.0f);
        ((float *)out)[i] = clamp_f32(f, e.fmin, e.fmax);
        break;
    }
    default:  // QS_QOUT_S32
        ((int32_t *)out)[i] = acc;
        break;
    }
}

__global__ void flip_kernel(const uint8_t *x, int8_t *y, size_t count) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = (int8_t)(x[i] ^ 0x80u);
}

__global__ void pad_rows_kernel(const uint8_t *src, uint8_t *dst, size_t rows, size_t cols,
                                size_t ld, int flip) {
    size_t total = rows * ld;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t r = i / ld, c = i % ld;
        dst[i] = c < cols ? (uint8_t)(src[r * cols + c] ^ (flip ? 0x80u : 0u)) : 0;
    }
}

__global__ void qepilogue_kernel(const int32_t *acc, int64_t acc_ld, void *out, int64_t rows,
                                 int64_t cols, int chan_is_row, qs_cuda_qepi e) {
    int64_t total = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t row = i % rows, col = i / rows;
        store(e, acc[col * acc_ld + row], chan_is_row ? row : col, out, i);
    }
}

__global__ void bias_f32_kernel(float *y, int64_t rows, int64_t cols, int chan_is_row,
                                const float *bias) {
    int64_t total = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = __fadd_rn(y[i], bias[chan_is_row ? i % rows : i / rows]);
}

template <typename T>
__global__ void im2col_kernel(qs_cuda_im2col g, const T *x, T *cols, T pad, unsigned flip) {
    int64_t kk = g.cg * g.kh * g.kw, p_count = g.batch * g.oh * g.ow;
    int64_t total = p_count * g.ldk;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t p = i / g.ldk, k = i % g.ldk;
        T v = 0;
        if (k < kk) {
            int64_t c = k / (g.kh * g.kw), t = k % (g.kh * g.kw), ki = t / g.kw, kj = t % g.kw;
            int64_t b = p / (g.oh * g.ow), pix = p % (g.oh * g.ow);
            int64_t iy = (pix / g.ow) * g.sh - g.ph + ki * g.dh;
            int64_t ix = (pix % g.ow) * g.sw - g.pw + kj * g.dw;
            v = pad;
            if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) {
                v = x[((b * g.c_in + g.c0 + c) * g.h + iy) * g.w + ix];
                if (flip) v = (T)((unsigned)(uint8_t)v ^ flip);
            }
        }
        cols[i] = v;
    }
}

__global__ void qdwconv_kernel(qs_cuda_im2col g, const uint8_t *x, const int8_t *w, void *y,
                               qs_cuda_qepi e, int32_t x_zp) {
    int64_t total = g.batch * g.c_in * g.oh * g.ow;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t ox = i % g.ow, oy = (i / g.ow) % g.oh, bc = i / (g.ow * g.oh);
        int64_t c = bc % g.c_in;
        const uint8_t *plane = x + bc * g.h * g.w;
        const int8_t *wc = w + c * g.kh * g.kw;
        uint32_t acc = 0;
        for (int64_t ki = 0; ki < g.kh; ki++) {
            int64_t iy = oy * g.sh - g.ph + ki * g.dh;
            if (iy < 0 || iy >= g.h) continue;
            for (int64_t kj = 0; kj < g.kw; kj++) {
                int64_t ix = ox * g.sw - g.pw + kj * g.dw;
                if (ix < 0 || ix >= g.w) continue;
                acc += (uint32_t)(((int32_t)plane[iy * g.w + ix] - x_zp) *
                                  (int32_t)wc[ki * g.kw + kj]);
            }
        }
        store(e, (int32_t)acc, c, y, i);
    }
}

}  // namespace

extern "C" {

int qs__cuda_launch_flip(void *stream, const uint8_t *x, int8_t *y, size_t count) {
    flip_kernel<<<blocks_for((int64_t)count), kThreads, 0, (cudaStream_t)stream>>>(x, y, count);
    return (int)cudaGetLastError();
}

int qs__cuda_launch_pad_rows(void *stream, const void *src, void *dst, size_t rows,
                             size_t cols, size_t ld, int flip) {
    pad_rows_kernel<<<blocks_for((int64_t)(rows * ld)), kThreads, 0, (cudaStream_t)stream>>>(
        (const uint8_t *)src, (uint8_t *)dst, rows, cols, ld, flip);
    return (int)cudaGetLastError();
}

int qs__cuda_launch_qepilogue(void *stream, const int32_t *acc, int64_t acc_ld, void *out,
                              int64_t rows, int64_t cols, int chan_is_row,
                              const struct qs_cuda_qepi *e) {
    qepilogue_kernel<<<blocks_for(rows * cols), kThreads, 0, (cudaStream_t)stream>>>(
        acc, acc_ld, out, rows, cols, chan_is_row, *e);
    return (int)cudaGetLastError();
}

int qs__cuda_launch_bias_f32(void *stream, float *y, int64_t rows, int64_t cols,
                             int chan_is_row, const float *bias) {
    bias_f32_kernel<<<blocks_for(rows * cols), kThreads, 0, (cudaStream_t)stream>>>(
        y, rows, cols, chan_is_row, bias);
    return (int)cudaGetLastError();
}

int qs__cuda_launch_im2col(void *stream, const struct qs_cuda_im2col *g, const void *x,
                           void *cols) {
    int64_t total = g->batch * g->oh * g->ow * g->ldk;
    if (g->u8)
        im2col_kernel<uint8_t><<<blocks_for(total), kThreads, 0, (cudaStream_t)stream>>>(
            *g, (const uint8_t *)x, (uint8_t *)cols, (uint8_t)(g->pad_value ^ 0x80u), 0x80u);
    else
        im2col_kernel<float><<<blocks_for(total), kThreads, 0, (cudaStream_t)stream>>>(
            *g, (const float *)x, (float *)cols, 0.0f, 0u);
    return (int)cudaGetLastError();
}

int qs__cuda_launch_qdwconv(void *stream, const struct qs_cuda_im2col *g, const uint8_t *x,
                            const int8_t *w, void *y, const struct qs_cuda_qepi *e,
                            uint8_t x_zp) {
    qdwconv_kernel<<<blocks_for(g->batch * g->c_in * g->oh * g->ow), kThreads, 0,
                     (cudaStream_t)stream>>>(*g, x, w, y, *e, x_zp);
    return (int)cudaGetLastError();
}

}  // extern "C"
