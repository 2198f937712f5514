// Architecture-independent half of CPU detection: the once-only initialisation, the
// QS_CPU_DISABLE mask and the ISA name table. The per-architecture probes live in
// cpuinfo-x86.c and cpuinfo-arm.c; each defines qs__cpu_detect() for its architecture.
#include "kernels/base/cpuinfo-impl.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>

#define QS_XX(name, bit, str) \
    _Static_assert(QS_ISA_##name == UINT64_C(1) << QS_ISA_BIT_##name, "QS_ISA_" #name);
QS_ISA_MAP(QS_XX)
#undef QS_XX

static const struct {
    uint64_t flag;
    const char *name;
} isa_names[] = {
#define QS_XX(name, bit, str) {QS_ISA_##name, str},
    QS_ISA_MAP(QS_XX)
#undef QS_XX
};

#if !QS_CPU_HAVE_PROBE
void qs__cpu_detect(struct qs_cpu_info *info) {
    (void)info;  // Unknown architecture: no flags, the reference kernels everywhere.
}
#endif

static struct qs_cpu_info g_info;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static uint64_t flag_by_name(const char *s, size_t n) {
    for (size_t i = 0; i < QS_COUNTOF(isa_names); i++)
        if (strlen(isa_names[i].name) == n && strncasecmp(isa_names[i].name, s, n) == 0)
            return isa_names[i].flag;
    return 0;
}

static uint64_t disabled_by_env(void) {
    const char *env = getenv("QS_CPU_DISABLE");
    uint64_t mask = 0;
    while (env && *env) {
        while (*env == ',' || isspace((unsigned char)*env)) env++;
        size_t n = strcspn(env, ", \t\n");
        if (n) {
            uint64_t f = flag_by_name(env, n);
            if (!f) qs__log(QS_LOG_WARN, "QS_CPU_DISABLE: unknown ISA '%.*s'", (int)n, env);
            mask |= f;
        }
        env += n;
    }
    return mask;
}

// An extension is usable only with the ones it builds on: hiding AVX-512F hides every
// AVX-512 extension, hiding AVX2 hides AVX-VNNI and AVX-512, hiding NEON hides all of ARM.
static uint64_t closure(uint64_t f) {
    const uint64_t avx512 = QS_ISA_X86_AVX512F | QS_ISA_X86_AVX512CD | QS_ISA_X86_AVX512BW |
                            QS_ISA_X86_AVX512DQ | QS_ISA_X86_AVX512VL | QS_ISA_X86_AVX512IFMA |
                            QS_ISA_X86_AVX512VBMI | QS_ISA_X86_AVX512VNNI |
                            QS_ISA_X86_AVX512BF16 | QS_ISA_X86_AVX512FP16;
    if (!(f & QS_ISA_X86_AVX))
        f &= ~(QS_ISA_X86_F16C | QS_ISA_X86_FMA | QS_ISA_X86_AVX2 | QS_ISA_X86_AVXVNNI | avx512);
    if (!(f & QS_ISA_X86_AVX2)) f &= ~(QS_ISA_X86_AVXVNNI | avx512);
    if (!(f & QS_ISA_X86_AVX512F)) f &= ~avx512;
    if (!(f & QS_ISA_ARM_NEON))
        f &= ~(QS_ISA_ARM_NEON_FP16 | QS_ISA_ARM_NEON_DOT | QS_ISA_ARM_NEON_I8MM |
               QS_ISA_ARM_NEON_BF16 | QS_ISA_ARM_SVE | QS_ISA_ARM_SVE2);
    return f;
}

static void detect_once(void) {
    struct qs_cpu_info info = {.arch = QS_CPU_ARCH_UNKNOWN};
    snprintf(info.vendor, sizeof info.vendor, "unknown");
    snprintf(info.name, sizeof info.name, "unknown");
    qs__cpu_detect(&info);
    uint64_t off = disabled_by_env();
    if (off) info.isa_flags = closure(info.isa_flags & ~off);
    g_info = info;
    char buf[512];
    qs_cpu_isa_string(info.isa_flags, buf, sizeof buf);
    qs__log(QS_LOG_DEBUG, "cpu: %s (%s): %s", info.name, info.vendor, buf);
}

const struct qs_cpu_info *qs_cpu_info_get(void) {
    pthread_once(&g_once, detect_once);
    return &g_info;
}

const char *qs_cpu_isa_name(uint64_t flag) {
    for (size_t i = 0; i < QS_COUNTOF(isa_names); i++)
        if (flag & isa_names[i].flag) return isa_names[i].name;
    return "unknown";
}

size_t qs_cpu_isa_string(uint64_t flags, char *buf, size_t size) {
    size_t len = 0;
    if (size) buf[0] = '\0';
    for (size_t i = 0; i < QS_COUNTOF(isa_names); i++) {
        if (!(flags & isa_names[i].flag)) continue;
        int w = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0, "%s%s",
                         len ? " " : "", isa_names[i].name);
        len += (size_t)w;
    }
    return len;
}
