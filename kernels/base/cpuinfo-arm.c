// ARM CPU detection. On Linux the kernel's hwcaps (getauxval) list exactly the extensions
// it lets user space use, so hardware and OS support are one answer there. Elsewhere only
// what the compiler was told to assume is reported (NEON is part of AArch64).
#include "kernels/base/cpuinfo-impl.h"

#if defined(__aarch64__) || defined(__arm__)

#include <stdio.h>
#include <string.h>

#if defined(__linux__)
#include <sys/auxv.h>

// Bits of AT_HWCAP / AT_HWCAP2 (linux/arch/arm64/include/uapi/asm/hwcap.h and
// arch/arm/include/uapi/asm/hwcap.h), spelled out for older libc headers.
#if defined(__aarch64__)
#define HW_ASIMD (1ul << 1)
#define HW_ASIMDHP (1ul << 10)
#define HW_ASIMDDP (1ul << 20)
#define HW_SVE (1ul << 22)
#define HW2_SVE2 (1ul << 1)
#define HW2_I8MM (1ul << 13)
#define HW2_BF16 (1ul << 14)
#else
#define HW_NEON (1ul << 12)
#endif

// "CPU implementer" and "CPU part" of the first core, as "ARM 0xd0c" (no brand string
// exists on ARM Linux); "unknown" when /proc is not there (qemu-user shows the host's).
static void read_name(struct qs_cpu_info *info) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[256], impl[32] = "", part[32] = "";
    while (fgets(line, sizeof line, f) && (!impl[0] || !part[0])) {
        char *v = strchr(line, ':');
        if (!v) continue;
        v++;
        v += strspn(v, " \t");
        v[strcspn(v, "\n")] = '\0';
        if (!impl[0] && strncmp(line, "CPU implementer", 15) == 0)
            snprintf(impl, sizeof impl, "%s", v);
        else if (!part[0] && strncmp(line, "CPU part", 8) == 0)
            snprintf(part, sizeof part, "%s", v);
    }
    fclose(f);
    if (impl[0] && part[0])
        snprintf(info->name, sizeof info->name, "implementer %s part %s", impl, part);
}
#endif

void qs__cpu_detect(struct qs_cpu_info *info) {
    uint64_t f = 0;
#if defined(__aarch64__)
    info->arch = QS_CPU_ARCH_ARM64;
#else
    info->arch = QS_CPU_ARCH_ARM;
#endif
    snprintf(info->vendor, sizeof info->vendor, "ARM");
#if defined(__linux__)
    unsigned long hw = getauxval(AT_HWCAP);
#if defined(__aarch64__)
    unsigned long hw2 = getauxval(AT_HWCAP2);
    if (hw & HW_ASIMD) f |= QS_ISA_ARM_NEON;
    if (hw & HW_ASIMDHP) f |= QS_ISA_ARM_NEON_FP16;
    if (hw & HW_ASIMDDP) f |= QS_ISA_ARM_NEON_DOT;
    if (hw & HW_SVE) f |= QS_ISA_ARM_SVE;
    if (hw2 & HW2_SVE2) f |= QS_ISA_ARM_SVE2;
    if (hw2 & HW2_I8MM) f |= QS_ISA_ARM_NEON_I8MM;
    if (hw2 & HW2_BF16) f |= QS_ISA_ARM_NEON_BF16;
#else
    if (hw & HW_NEON) f |= QS_ISA_ARM_NEON;
#endif
    read_name(info);
#else
#if defined(__aarch64__) || defined(__ARM_NEON)
    f |= QS_ISA_ARM_NEON;
#endif
#if defined(__ARM_FEATURE_DOTPROD)
    f |= QS_ISA_ARM_NEON_DOT;
#endif
#if defined(__ARM_FEATURE_MATMUL_INT8)
    f |= QS_ISA_ARM_NEON_I8MM;
#endif
#endif
    info->isa_flags_hw = f;
    info->isa_flags = f;
}

#endif
