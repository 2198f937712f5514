// CPU detection (qsearch/cpu.h): the flags agree with what Linux reports in /proc/cpuinfo,
// the name table round-trips, and QS_CPU_DISABLE removes exactly the named extensions
// (checked in a child process, since detection happens once per process).
#include "qsearch/cpu.h"
#include "test.h"

#include <sys/wait.h>
#include <unistd.h>

// Whole-word search in the first "flags" line of /proc/cpuinfo; -1 when unreadable.
static int proc_has(const char *flag) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return -1;
    char line[8192];
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0 && strncmp(line, "Features", 8) != 0) continue;
        found = 0;
        size_t n = strlen(flag);
        for (char *p = strchr(line, ':'); p && *p; p++) {
            if ((p[-1] == ' ' || p[-1] == ':') && strncmp(p, flag, n) == 0 &&
                (p[n] == ' ' || p[n] == '\n' || p[n] == '\0')) {
                found = 1;
                break;
            }
        }
        break;
    }
    fclose(f);
    return found;
}

static int child(const char *disable) {
    const struct qs_cpu_info *cpu = qs_cpu_info_get();
    // The parent passes what it saw; the child must see exactly that minus the disabled set.
    uint64_t expect = strtoull(getenv("QS_TEST_EXPECT"), NULL, 16);
    (void)disable;
    return cpu->isa_flags == expect ? 0 : 3;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--child") == 0) return child(argv[2]);

    const struct qs_cpu_info *cpu = qs_cpu_info_get();
    ASSERT_TRUE(cpu == qs_cpu_info_get());
    ASSERT_TRUE((cpu->isa_flags & ~cpu->isa_flags_hw) == 0);
    char buf[1024];
    size_t len = qs_cpu_isa_string(cpu->isa_flags, buf, sizeof buf);
    ASSERT_EQ(len, strlen(buf));
    printf("cpu: %s (%s, family %u model %u): %s\n", cpu->name, cpu->vendor, cpu->family,
           cpu->model, buf);
    // Truncation still terminates and reports the full length.
    char tiny[4];
    ASSERT_EQ(qs_cpu_isa_string(cpu->isa_flags, tiny, sizeof tiny), len);
    ASSERT_TRUE(strlen(tiny) <= 3);
    ASSERT_TRUE(strcmp(qs_cpu_isa_name(QS_ISA_X86_AVX512VNNI), "avx512vnni") == 0);
    ASSERT_TRUE(strcmp(qs_cpu_isa_name(QS_ISA_ARM_NEON_DOT), "neon-dot") == 0);
    ASSERT_TRUE(strcmp(qs_cpu_isa_name(0), "unknown") == 0);

#if defined(__x86_64__)
    ASSERT_EQ(cpu->arch, QS_CPU_ARCH_X86_64);
    // Linux lists a flag when the CPU has it and the kernel supports its state.
    static const struct {
        uint64_t flag;
        const char *proc;
    } pairs[] = {
        {QS_ISA_X86_SSE2, "sse2"},           {QS_ISA_X86_SSSE3, "ssse3"},
        {QS_ISA_X86_AVX, "avx"},             {QS_ISA_X86_FMA, "fma"},
        {QS_ISA_X86_AVX2, "avx2"},           {QS_ISA_X86_AVX512F, "avx512f"},
        {QS_ISA_X86_AVX512BW, "avx512bw"},   {QS_ISA_X86_AVX512VL, "avx512vl"},
        {QS_ISA_X86_AVX512VNNI, "avx512_vnni"}, {QS_ISA_X86_AVXVNNI, "avx_vnni"},
    };
    if (proc_has("sse2") >= 0 && !getenv("QS_CPU_DISABLE")) {
        for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
            int want = proc_has(pairs[i].proc);
            int got = (cpu->isa_flags & pairs[i].flag) != 0;
            if (want != got) {
                fprintf(stderr, "%s: /proc/cpuinfo %d, qs_cpu_info %d\n", pairs[i].proc, want, got);
                return 1;
            }
        }
    }
#endif

    if (getenv("QS_CPU_DISABLE")) return 0;  // the child check assumes a clean environment
    // QS_CPU_DISABLE in a child: every extension present here, then two of them removed.
    // avx512f takes the other AVX-512 extensions along.
    uint64_t avx512 = QS_ISA_X86_AVX512F | QS_ISA_X86_AVX512CD | QS_ISA_X86_AVX512BW |
                      QS_ISA_X86_AVX512DQ | QS_ISA_X86_AVX512VL | QS_ISA_X86_AVX512IFMA |
                      QS_ISA_X86_AVX512VBMI | QS_ISA_X86_AVX512VNNI | QS_ISA_X86_AVX512BF16 |
                      QS_ISA_X86_AVX512FP16;
    uint64_t drop = cpu->isa_flags & (QS_ISA_X86_AVXVNNI | avx512 | QS_ISA_ARM_NEON_DOT);
    char expect[32], list[128];
    snprintf(expect, sizeof expect, "%llx", (unsigned long long)(cpu->isa_flags & ~drop));
    snprintf(list, sizeof list, "avxvnni, avx512f,neon-dot");
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        setenv("QS_CPU_DISABLE", list, 1);
        setenv("QS_TEST_EXPECT", expect, 1);
        execl("/proc/self/exe", argv[0], "--child", list, (char *)NULL);
        _exit(2);
    }
    int st = 0;
    ASSERT_TRUE(waitpid(pid, &st, 0) == pid);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 0);
    printf("QS_CPU_DISABLE=\"%s\" checked in a child process\n", list);
    return 0;
}
