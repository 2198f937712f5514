// Private to kernels/base/cpuinfo*.c: the per-architecture probe.
#pragma once

#include "kernels/internal.h"
#include "qsearch/cpu.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__aarch64__) || defined(__arm__)
#define QS_CPU_HAVE_PROBE 1
#else
#define QS_CPU_HAVE_PROBE 0
#endif

/// Fills arch, vendor, name, family/model/stepping, isa_flags_hw and isa_flags (usable:
/// hardware and OS support) for the running CPU. Called once, from qs_cpu_info_get.
/// Defined by cpuinfo-x86.c or cpuinfo-arm.c, or as a no-op by cpuinfo.c elsewhere.
QS_INTERNAL void qs__cpu_detect(struct qs_cpu_info *info);
