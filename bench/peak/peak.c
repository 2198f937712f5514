// Peak multiply-add rates of one core: AVX-512 VNNI vpdpbusd (u8 x s8 -> s32, 64 MACs per
// instruction) and fp32 vfmadd (16 FMAs), each on 12 independent register chains so that
// only throughput counts. The ceilings the kernel benchmarks are read against.
//
//   gcc -O2 -march=native bench/peak/peak.c -o /tmp/peak && /tmp/peak
//
// (needs a CPU with AVX-512 VNNI; best of 3 runs of each loop is printed)
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define R12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

int main(void) {
    const __m512i b = _mm512_set1_epi8(3), c = _mm512_set1_epi8(5);
    const __m512 x = _mm512_set1_ps(1.0001f), y = _mm512_set1_ps(0.9999f);
#define DI(i) __m512i a##i = _mm512_set1_epi32(i);
#define DF(i) __m512 f##i = _mm512_set1_ps((float)i);
    R12(DI) R12(DF)
    const long n = 300000000 / 12;
    double best_i = 1e30, best_f = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t = now();
        for (long k = 0; k < n; k++) {
#define SI(i) a##i = _mm512_dpbusd_epi32(a##i, b, c);
            R12(SI)
        }
        t = now() - t;
        best_i = t < best_i ? t : best_i;
        t = now();
        for (long k = 0; k < n; k++) {
#define SF(i) f##i = _mm512_fmadd_ps(f##i, x, y);
            R12(SF)
        }
        t = now() - t;
        best_f = t < best_f ? t : best_f;
    }
    printf("vpdpbusd zmm: %.1f GMAC/s (int8)\n", (double)n * 12 * 64 / best_i / 1e9);
    printf("vfmadd zmm:   %.1f GFLOP/s (fp32, %.1f GFMA/s)\n", (double)n * 12 * 32 / best_f / 1e9,
           (double)n * 12 * 16 / best_f / 1e9);
    // Use the results so that the loops are not removed.
    __m512i s = _mm512_setzero_si512();
    __m512 fs = _mm512_setzero_ps();
#define AC(i) s = _mm512_add_epi32(s, a##i); fs = _mm512_add_ps(fs, f##i);
    R12(AC)
    return (_mm512_reduce_add_epi32(s) + (int)_mm512_reduce_add_ps(fs)) == 42;
}
