// x86 CPU detection: CPUID for what the hardware has, XGETBV (XCR0) for the register state
// the OS saves. An AVX instruction faults if the OS has not enabled the YMM state, whatever
// CPUID says (hypervisors and some kernels mask AVX-512 this way).
#include "kernels/base/cpuinfo-impl.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <cpuid.h>
#include <string.h>

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static bool bit(uint32_t v, int b) { return (v >> b) & 1u; }

void qs__cpu_detect(struct qs_cpu_info *info) {
    info->arch = QS_CPU_ARCH_X86_64;
    uint32_t r[4];
    cpuid(0, 0, r);
    uint32_t max_leaf = r[0];
    memcpy(info->vendor, &r[1], 4);
    memcpy(info->vendor + 4, &r[3], 4);
    memcpy(info->vendor + 8, &r[2], 4);
    info->vendor[12] = '\0';

    uint64_t hw = 0;
    bool osxsave = false;
    if (max_leaf >= 1) {
        cpuid(1, 0, r);
        uint32_t base_family = (r[0] >> 8) & 0xf, base_model = (r[0] >> 4) & 0xf;
        info->family = base_family == 0xf ? base_family + ((r[0] >> 20) & 0xff) : base_family;
        info->model = base_family >= 0x6 ? base_model | (((r[0] >> 16) & 0xf) << 4) : base_model;
        info->stepping = r[0] & 0xf;
        if (bit(r[3], 26)) hw |= QS_ISA_X86_SSE2;
        if (bit(r[2], 9)) hw |= QS_ISA_X86_SSSE3;
        if (bit(r[2], 19)) hw |= QS_ISA_X86_SSE41;
        if (bit(r[2], 20)) hw |= QS_ISA_X86_SSE42;
        if (bit(r[2], 28)) hw |= QS_ISA_X86_AVX;
        if (bit(r[2], 29)) hw |= QS_ISA_X86_F16C;
        if (bit(r[2], 12)) hw |= QS_ISA_X86_FMA;
        osxsave = bit(r[2], 27);
    }
    if (max_leaf >= 7) {
        cpuid(7, 0, r);
        uint32_t max_sub = r[0], ebx = r[1], ecx = r[2], edx = r[3];
        if (bit(ebx, 5)) hw |= QS_ISA_X86_AVX2;
        if (bit(ebx, 16)) hw |= QS_ISA_X86_AVX512F;
        if (bit(ebx, 17)) hw |= QS_ISA_X86_AVX512DQ;
        if (bit(ebx, 21)) hw |= QS_ISA_X86_AVX512IFMA;
        if (bit(ebx, 28)) hw |= QS_ISA_X86_AVX512CD;
        if (bit(ebx, 30)) hw |= QS_ISA_X86_AVX512BW;
        if (bit(ebx, 31)) hw |= QS_ISA_X86_AVX512VL;
        if (bit(ecx, 1)) hw |= QS_ISA_X86_AVX512VBMI;
        if (bit(ecx, 11)) hw |= QS_ISA_X86_AVX512VNNI;
        if (bit(edx, 23)) hw |= QS_ISA_X86_AVX512FP16;
        if (bit(edx, 25)) hw |= QS_ISA_X86_AMX_INT8;
        if (max_sub >= 1) {
            cpuid(7, 1, r);
            if (bit(r[0], 4)) hw |= QS_ISA_X86_AVXVNNI;
            if (bit(r[0], 5)) hw |= QS_ISA_X86_AVX512BF16;
        }
    }
    cpuid(0x80000000u, 0, r);
    if (r[0] >= 0x80000004u) {
        char brand[49];
        for (uint32_t i = 0; i < 3; i++) {
            cpuid(0x80000002u + i, 0, r);
            memcpy(brand + 16 * i, r, 16);
        }
        brand[48] = '\0';
        const char *s = brand;
        while (*s == ' ') s++;
        snprintf(info->name, sizeof info->name, "%s", s);
    }
    info->isa_flags_hw = hw;

    // XCR0: bit 1 SSE, bit 2 AVX (YMM upper halves), bits 5-7 AVX-512 (opmask, ZMM0-15
    // upper halves, ZMM16-31), bits 17-18 AMX tile state.
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    uint64_t usable = hw & (QS_ISA_X86_SSE2 | QS_ISA_X86_SSSE3 | QS_ISA_X86_SSE41 |
                            QS_ISA_X86_SSE42);
    const uint64_t avx_state = 0x6, avx512_state = 0xe6, amx_state = 0x60000;
    if ((xcr0 & avx_state) == avx_state) {
        usable |= hw & (QS_ISA_X86_AVX | QS_ISA_X86_F16C | QS_ISA_X86_FMA | QS_ISA_X86_AVX2 |
                        QS_ISA_X86_AVXVNNI);
        if ((xcr0 & avx512_state) == avx512_state)
            usable |= hw & (QS_ISA_X86_AVX512F | QS_ISA_X86_AVX512CD | QS_ISA_X86_AVX512BW |
                            QS_ISA_X86_AVX512DQ | QS_ISA_X86_AVX512VL | QS_ISA_X86_AVX512IFMA |
                            QS_ISA_X86_AVX512VBMI | QS_ISA_X86_AVX512VNNI |
                            QS_ISA_X86_AVX512BF16 | QS_ISA_X86_AVX512FP16);
    }
    if ((xcr0 & amx_state) == amx_state) usable |= hw & QS_ISA_X86_AMX_INT8;
    // Without AVX-512F nothing of AVX-512 is usable, whatever the sub-feature bits say.
    if (!(usable & QS_ISA_X86_AVX512F))
        usable &= ~(QS_ISA_X86_AVX512CD | QS_ISA_X86_AVX512BW | QS_ISA_X86_AVX512DQ |
                    QS_ISA_X86_AVX512VL | QS_ISA_X86_AVX512IFMA | QS_ISA_X86_AVX512VBMI |
                    QS_ISA_X86_AVX512VNNI | QS_ISA_X86_AVX512BF16 | QS_ISA_X86_AVX512FP16);
    info->isa_flags = usable;
}

#endif
