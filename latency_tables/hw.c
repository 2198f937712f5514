// The hardware descriptor of a latency table: what was measured where, and whether a table
// fits the running machine.
#include "latency_tables/lut-impl.h"
#include "qsearch/cpu.h"

#include <hwloc.h>
#include <stdio.h>
#include <sys/utsname.h>

const char *qs__lut_native_target(void) {
#if defined(__x86_64__)
    return "x86";
#elif defined(__aarch64__)
    return "arm";
#else
    return "unknown";
#endif
}

// The kernels the executor selects on this CPU (per family), as the build compiled them.
static void selected_isa(const struct qs_cpu_info *cpu, char *buf, size_t size) {
    uint64_t f = cpu->isa_flags;
    const char *i8 = "scalar", *f32 = "scalar";
    (void)f;
#if defined(__x86_64__)
#if defined(QS_ENABLE_AVX2)
    if ((f & QS_ISA_X86_AVX2) && (f & QS_ISA_X86_FMA)) i8 = f32 = "avx2";
#endif
#if defined(QS_ENABLE_AVXVNNI)
    if (f & QS_ISA_X86_AVXVNNI) i8 = "avxvnni";
#endif
#if defined(QS_ENABLE_AVX512VNNI)
    if ((f & QS_ISA_X86_AVX512VNNI) && (f & QS_ISA_X86_AVX512BW)) i8 = "avx512vnni";
#endif
#if defined(QS_ENABLE_AVX512)
    if (f & QS_ISA_X86_AVX512F) f32 = "avx512f";
#endif
#elif defined(__aarch64__)
#if defined(QS_ENABLE_NEON)
    if (f & QS_ISA_ARM_NEON) i8 = f32 = "neon";
#endif
#if defined(QS_ENABLE_NEON_DOT)
    if (f & QS_ISA_ARM_NEON_DOT) i8 = "neon-dot";
#endif
#endif
    snprintf(buf, size, "int8:%s fp32:%s", i8, f32);
}

static bool read_line(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    if (ok) buf[strcspn(buf, "\r\n")] = 0;
    return ok && buf[0];
}

static double cpu_mhz(void) {
    char line[256];
    if (read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", line, sizeof line))
        return atof(line) / 1000.0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0.0;
    double mhz = 0.0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "cpu MHz", 7) && strchr(line, ':')) {
            mhz = atof(strchr(line, ':') + 1);
            break;
        }
    fclose(f);
    return mhz;
}

// Arm CPUs have no brand string: the implementer and part numbers (MIDR) of the first CPU
// from /proc/cpuinfo name the core ("arm 0x41 part 0xd0b" is a Cortex-A76).
static void arm_model(char *buf, size_t size) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[256], impl[32] = "", part[32] = "";
    while (fgets(line, sizeof line, f) && !(impl[0] && part[0])) {
        const char *v = strchr(line, ':');
        if (!v) continue;
        if (!strncmp(line, "CPU implementer", 15) && !impl[0]) sscanf(v + 1, "%31s", impl);
        if (!strncmp(line, "CPU part", 8) && !part[0]) sscanf(v + 1, "%31s", part);
    }
    fclose(f);
    if (impl[0] && part[0]) snprintf(buf, size, "arm %s part %s", impl, part);
}

static void topology(struct qs_lut_hw *hw) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0) return;
    if (hwloc_topology_load(topo) != 0) {
        hwloc_topology_destroy(topo);
        return;
    }
    hw->cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    hw->numa_nodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    hwloc_obj_t o;
    if ((o = hwloc_get_obj_by_type(topo, HWLOC_OBJ_L1CACHE, 0)) && o->attr)
        hw->l1d_bytes = (int64_t)o->attr->cache.size;
    if ((o = hwloc_get_obj_by_type(topo, HWLOC_OBJ_L2CACHE, 0)) && o->attr)
        hw->l2_bytes = (int64_t)o->attr->cache.size;
    int n3 = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_L3CACHE);
    for (int i = 0; i < n3; i++)
        if ((o = hwloc_get_obj_by_type(topo, HWLOC_OBJ_L3CACHE, (unsigned)i)) && o->attr)
            hw->l3_bytes = QS_MAX(hw->l3_bytes, (int64_t)o->attr->cache.size);
    hwloc_topology_destroy(topo);
}

enum qs_status qs_lut_host_descriptor(const char *target, int threads, struct qs_lut_hw *hw,
                                      struct qs_diag *diag) {
    const char *native = qs__lut_native_target();
    if (!target) target = native;
    if (strcmp(target, "x86") && strcmp(target, "arm") && strcmp(target, "cuda"))
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "unknown target '%s' (x86, arm or cuda)",
                        target);
    if (strcmp(target, "cuda") && strcmp(target, native))
        return qs__diag(diag, QS_STATUS_UNSUPPORTED_HW,
                        "target '%s' cannot be measured on this %s machine: build and run "
                        "qsearch on the target itself", target, native);
    if (!strcmp(target, "cuda")) return qs__lut_cuda_descriptor(hw, diag);
    memset(hw, 0, sizeof *hw);
    const struct qs_cpu_info *cpu = qs_cpu_info_get();
    snprintf(hw->target, sizeof hw->target, "%s", target);
    snprintf(hw->arch, sizeof hw->arch, "%s",
             cpu->arch == QS_CPU_ARCH_X86_64 ? "x86_64"
             : cpu->arch == QS_CPU_ARCH_ARM64 ? "aarch64"
             : cpu->arch == QS_CPU_ARCH_ARM   ? "arm"
                                              : "unknown");
    snprintf(hw->cpu_model, sizeof hw->cpu_model, "%s", cpu->name[0] ? cpu->name : "unknown");
    if (!cpu->name[0] || !strcmp(cpu->name, "unknown"))
        arm_model(hw->cpu_model, sizeof hw->cpu_model);
    selected_isa(cpu, hw->isa, sizeof hw->isa);
    struct utsname u;
    if (uname(&u) == 0) {
        u.sysname[32] = 0;  // both fit the field
        u.release[48] = 0;
        snprintf(hw->os, sizeof hw->os, "%.32s %.48s", u.sysname, u.release);
    } else {
        snprintf(hw->os, sizeof hw->os, "unknown");
    }
#if defined(__clang__)
    snprintf(hw->compiler, sizeof hw->compiler, "clang %s", __clang_version__);
#elif defined(__GNUC__)
    snprintf(hw->compiler, sizeof hw->compiler, "gcc %s", __VERSION__);
#else
    snprintf(hw->compiler, sizeof hw->compiler, "unknown");
#endif
    snprintf(hw->build_id, sizeof hw->build_id, "qsearch %s (%s)", QS_VERSION_STRING, __DATE__);
    if (!read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", hw->governor,
                   sizeof hw->governor))
        snprintf(hw->governor, sizeof hw->governor, "unknown");
    hw->freq_mhz = cpu_mhz();
    hw->threads = threads > 0 ? threads : 1;
    topology(hw);
    return QS_STATUS_OK;
}

enum qs_status qs_lut_check_host(const qs_lut_t *lut, bool force, struct qs_diag *diag) {
    struct qs_lut_hw h;
    const struct qs_lut_hw *t = &lut->hw;
    const char *file = lut->path ? lut->path : "table";
    if (strcmp(t->target, "cuda") && strcmp(t->target, qs__lut_native_target())) {
        if (!force)
            return qs__diag(diag, QS_STATUS_UNSUPPORTED_HW,
                            "%s: measured on another machine: target '%s', this machine '%s'",
                            file, t->target, qs__lut_native_target());
        qs__log(QS_LOG_WARN, "%s: a '%s' table used on '%s' (forced)", file, t->target,
                qs__lut_native_target());
        return QS_STATUS_OK;
    }
    enum qs_status st = qs_lut_host_descriptor(t->target, t->threads, &h, diag);
    if (st != QS_STATUS_OK) {
        if (!force) return st;
        qs__log(QS_LOG_WARN, "%s: %s (forced)", file, diag ? diag->msg : "host mismatch");
        return QS_STATUS_OK;
    }
    const char *field = NULL, *want = NULL, *have = NULL;
    char tc[16], hc[16];
    if (strcmp(t->arch, h.arch)) field = "arch", want = t->arch, have = h.arch;
    else if (strcmp(t->cpu_model, h.cpu_model))
        field = "cpu_model", want = t->cpu_model, have = h.cpu_model;
    else if (strcmp(t->isa, h.isa)) field = "isa", want = t->isa, have = h.isa;
    else if (h.cores > 0 && t->threads > h.cores) {
        snprintf(tc, sizeof tc, "%d", t->threads);
        snprintf(hc, sizeof hc, "%d cores", h.cores);
        field = "threads", want = tc, have = hc;
    }
    if (field) {
        if (!force)
            return qs__diag(diag, QS_STATUS_UNSUPPORTED_HW,
                            "%s: measured on another machine: %s '%s', this machine '%s' "
                            "(build a table here with 'qsearch lut build', or force it)",
                            file, field, want, have);
        qs__log(QS_LOG_WARN, "%s: measured on another machine (%s '%s', here '%s'); used anyway",
                file, field, want, have);
    }
    if (t->os[0] && strcmp(t->os, h.os))
        qs__log(QS_LOG_WARN, "%s: measured under %s, running %s", file, t->os, h.os);
    if (t->build_id[0] && (strcmp(t->build_id, h.build_id) || strcmp(t->compiler, h.compiler)))
        qs__log(QS_LOG_INFO, "%s: measured with %s / %s, running %s / %s", file, t->build_id,
                t->compiler, h.build_id, h.compiler);
    if (t->governor[0] && strcmp(t->governor, h.governor))
        qs__log(QS_LOG_WARN, "%s: measured with the '%s' cpufreq governor, now '%s'", file,
                t->governor, h.governor);
    return QS_STATUS_OK;
}
