// qsearch/cpu.h: what the running CPU can do, detected once.
//
// Overview
//   qs_cpu_info_get() returns a process-wide, immutable description of the CPU: a bitmask of
//   instruction-set extensions that are usable (the CPU reports them AND the operating system
//   saves their register state), the vendor and the brand string. Kernel families pick their
//   microkernels from `isa_flags` once, at their first use.
//
//     const struct qs_cpu_info *cpu = qs_cpu_info_get();
//     if (cpu->isa_flags & QS_ISA_X86_AVX512VNNI) { ... }
//     char buf[256];
//     qs_cpu_isa_string(cpu->isa_flags, buf, sizeof buf);   // "sse2 ssse3 ... avx512vnni"
//
//   The environment variable QS_CPU_DISABLE, a space- or comma-separated list of ISA names
//   as printed by qs_cpu_isa_string ("avx512f,avxvnni"), removes those flags, and those of
//   the extensions that build on them (avx512f takes every AVX-512 extension along, avx2
//   also AVX-VNNI and AVX-512), at detection time; it exists to test fallbacks on a machine
//   that has everything.
#pragma once

#include "qsearch/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/// The ISA table: XX(NAME, bit, "name"). x86 uses bits 0..31, ARM bits 32..63.
#define QS_ISA_MAP(XX)                      \
    XX(X86_SSE2, 0, "sse2")                 \
    XX(X86_SSSE3, 1, "ssse3")               \
    XX(X86_SSE41, 2, "sse4.1")              \
    XX(X86_SSE42, 3, "sse4.2")              \
    XX(X86_AVX, 4, "avx")                   \
    XX(X86_F16C, 5, "f16c")                 \
    XX(X86_FMA, 6, "fma")                   \
    XX(X86_AVX2, 7, "avx2")                 \
    XX(X86_AVX512F, 8, "avx512f")           \
    XX(X86_AVX512CD, 9, "avx512cd")         \
    XX(X86_AVX512BW, 10, "avx512bw")        \
    XX(X86_AVX512DQ, 11, "avx512dq")        \
    XX(X86_AVX512VL, 12, "avx512vl")        \
    XX(X86_AVX512IFMA, 13, "avx512ifma")    \
    XX(X86_AVX512VBMI, 14, "avx512vbmi")    \
    XX(X86_AVX512VNNI, 15, "avx512vnni")    \
    XX(X86_AVX512BF16, 16, "avx512bf16")    \
    XX(X86_AVX512FP16, 17, "avx512fp16")    \
    XX(X86_AVXVNNI, 18, "avxvnni")          \
    XX(X86_AMX_INT8, 19, "amx-int8")        \
    XX(ARM_NEON, 32, "neon")                \
    XX(ARM_NEON_FP16, 33, "neon-fp16")      \
    XX(ARM_NEON_DOT, 34, "neon-dot")        \
    XX(ARM_NEON_I8MM, 35, "neon-i8mm")      \
    XX(ARM_NEON_BF16, 36, "neon-bf16")      \
    XX(ARM_SVE, 37, "sve")                  \
    XX(ARM_SVE2, 38, "sve2")

enum qs_isa_bit {
#define QS_XX(name, bit, str) QS_ISA_BIT_##name = bit,
    QS_ISA_MAP(QS_XX)
#undef QS_XX
};

/// One mask per row of the table (macros, so that they are constant expressions).
#define QS_ISA_X86_SSE2 (UINT64_C(1) << 0)
#define QS_ISA_X86_SSSE3 (UINT64_C(1) << 1)
#define QS_ISA_X86_SSE41 (UINT64_C(1) << 2)
#define QS_ISA_X86_SSE42 (UINT64_C(1) << 3)
#define QS_ISA_X86_AVX (UINT64_C(1) << 4)
#define QS_ISA_X86_F16C (UINT64_C(1) << 5)
#define QS_ISA_X86_FMA (UINT64_C(1) << 6)
#define QS_ISA_X86_AVX2 (UINT64_C(1) << 7)
#define QS_ISA_X86_AVX512F (UINT64_C(1) << 8)
#define QS_ISA_X86_AVX512CD (UINT64_C(1) << 9)
#define QS_ISA_X86_AVX512BW (UINT64_C(1) << 10)
#define QS_ISA_X86_AVX512DQ (UINT64_C(1) << 11)
#define QS_ISA_X86_AVX512VL (UINT64_C(1) << 12)
#define QS_ISA_X86_AVX512IFMA (UINT64_C(1) << 13)
#define QS_ISA_X86_AVX512VBMI (UINT64_C(1) << 14)
#define QS_ISA_X86_AVX512VNNI (UINT64_C(1) << 15)
#define QS_ISA_X86_AVX512BF16 (UINT64_C(1) << 16)
#define QS_ISA_X86_AVX512FP16 (UINT64_C(1) << 17)
#define QS_ISA_X86_AVXVNNI (UINT64_C(1) << 18)
#define QS_ISA_X86_AMX_INT8 (UINT64_C(1) << 19)
#define QS_ISA_ARM_NEON (UINT64_C(1) << 32)
#define QS_ISA_ARM_NEON_FP16 (UINT64_C(1) << 33)
#define QS_ISA_ARM_NEON_DOT (UINT64_C(1) << 34)
#define QS_ISA_ARM_NEON_I8MM (UINT64_C(1) << 35)
#define QS_ISA_ARM_NEON_BF16 (UINT64_C(1) << 36)
#define QS_ISA_ARM_SVE (UINT64_C(1) << 37)
#define QS_ISA_ARM_SVE2 (UINT64_C(1) << 38)

/// Architectures qsearch knows; `arch` in struct qs_cpu_info.
enum qs_cpu_arch { QS_CPU_ARCH_UNKNOWN = 0, QS_CPU_ARCH_X86_64 = 1, QS_CPU_ARCH_ARM64 = 2,
                   QS_CPU_ARCH_ARM = 3 };

/// The CPU, as detected once per process. All strings are NUL-terminated.
struct qs_cpu_info {
    /// QS_ISA_* bits of every extension that is usable now (hardware and OS support), minus
    /// what QS_CPU_DISABLE removed.
    uint64_t isa_flags;
    /// The bits the hardware reports before the OS check and QS_CPU_DISABLE (for logs).
    uint64_t isa_flags_hw;
    enum qs_cpu_arch arch;
    /// "AuthenticAMD", "GenuineIntel", "ARM", ... or "unknown".
    char vendor[16];
    /// Brand string ("AMD EPYC 9B45 128-Core Processor") or "unknown".
    char name[64];
    /// x86 display family / model / stepping; 0 elsewhere.
    uint32_t family, model, stepping;
};

/// Returns the process-wide CPU description, detecting it on the first call. Never NULL;
/// on an architecture qsearch does not know every flag is 0. Thread-safe; the result lives
/// until the process ends and must not be freed.
QS_API const struct qs_cpu_info *qs_cpu_info_get(void);

/// "avx512vnni" for QS_ISA_X86_AVX512VNNI: the name of the lowest set bit of `flag`, or
/// "unknown" when no bit of `flag` is in the table.
QS_API const char *qs_cpu_isa_name(uint64_t flag);

/// Writes the names of every bit of `flags` in table order, separated by single spaces, to
/// `buf` (always NUL-terminated when size > 0, truncated if needed). Returns the length the
/// full string has, as snprintf does.
QS_API size_t qs_cpu_isa_string(uint64_t flags, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
