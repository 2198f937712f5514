#!/usr/bin/env bash
# Cross-compiles the integer kernels (kernels/base, the int8 references and configs,
# kernels/arm/**) and their tests for AArch64 and runs them under qemu-user, twice:
#   -cpu max         (Armv8.x with dotprod and i8mm: the NEON-dotprod variants run)
#   -cpu cortex-a57  (Armv8.0, no dotprod: the dispatch must fall back to plain NEON)
# Correctness only (qemu timings mean nothing).
#
# Installs nothing. Needs Debian's gcc-aarch64-linux-gnu (with libc6-dev-arm64-cross) and
# qemu-user; exits 77 (skip) when they are missing, non-zero on any failure.
#
# Usage: scripts/test-arm.sh [BUILD_DIR]   (default: build-aarch64 in the repository)
# Environment: QS_TEST_SEED is passed to the tests; CC_AARCH64 / QEMU_AARCH64 override the
# tool names; QS_ARM_CPUS="max cortex-a57" the qemu CPU models to run on.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/build-aarch64}"
cc="${CC_AARCH64:-aarch64-linux-gnu-gcc}"
qemu="${QEMU_AARCH64:-}"
if [[ -z "$qemu" ]]; then
    for q in qemu-aarch64 qemu-aarch64-static; do
        if command -v "$q" >/dev/null 2>&1; then qemu="$q"; break; fi
    done
fi
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "SKIP: $cc not found (Debian package gcc-aarch64-linux-gnu)"
    exit 77
fi
if [[ -z "$qemu" ]] || ! command -v "$qemu" >/dev/null 2>&1; then
    echo "SKIP: qemu-aarch64 not found (Debian package qemu-user)"
    exit 77
fi
if ! echo 'int main(void){return 0;}' | "$cc" -x c -static -o /dev/null - 2>/dev/null; then
    echo "SKIP: $cc cannot link static programs (Debian package libc6-dev-arm64-cross)"
    exit 77
fi

cd "$root"
mkdir -p "$out/obj"
# The project's warnings (CMakeLists.txt QS_WARN) as errors. ISO C17 keeps floating-point
# contraction off, which the bit-exact F32 epilogues rely on; said again explicitly.
cflags=(-std=c17 -D_GNU_SOURCE -O2 -g -ffp-contract=off -Wall -Wextra -Wshadow
        -Wno-unused-parameter -Wstrict-prototypes -Wvla -Werror
        -I"$root" -I"$root/kernels/include" -I"$root/tests" -DQS_NO_HWLOC -pthread
        -DQS_ENABLE_NEON=1 -DQS_ENABLE_NEON_DOT=1)
base_arch=-march=armv8-a
dot_arch=-march=armv8.2-a+dotprod

shopt -s nullglob
srcs=()
for f in kernels/base/*.c; do
    # The kernel tests need only the allocator, log, status, CPU detection and the pool;
    # anything tied to a host library stays out.
    if grep -Eq '#include <(cblas|openblas|gsl/|yaml|protobuf)' "$f"; then
        echo "test-arm: leaving out $f (host library)"
        continue
    fi
    srcs+=("$f")
done
srcs+=(kernels/ref/qgemm*.c kernels/ref/qu8-*.c kernels/ref/qdwconv*.c)
srcs+=(kernels/config/qgemm*.c kernels/config/qdwconv*.c)
# Sparse kernels (issue 4): formats, packing, scalar references and their selection.
srcs+=(kernels/ref/spmm*.c kernels/ref/f32-spmm*.c kernels/config/spmm*.c)
neon=(kernels/arm/neon/*.c)
neondot=(kernels/arm/neondot/*.c)

objs=()
compile() {  # compile ARCH FILE
    local o="$out/obj/$(echo "$2" | tr '/' '_').o"
    "$cc" "${cflags[@]}" "$1" -c "$2" -o "$o"
    objs+=("$o")
}
echo "test-arm: compiling ${#srcs[@]} + ${#neon[@]} NEON + ${#neondot[@]} NEON-dotprod sources"
for f in "${srcs[@]}" "${neon[@]}"; do compile "$base_arch" "$f"; done
for f in "${neondot[@]}"; do compile "$dot_arch" "$f"; done

tests=()
for t in tests/kernels/test-qgemm.c tests/kernels/test-qgemm-conv.c tests/kernels/test-qdwconv.c \
         tests/kernels/test-spmm.c; do
    if [[ ! -f "$t" ]]; then
        echo "test-arm: $t does not exist (yet); not built"
        continue
    fi
    name="$(basename "$t" .c)"
    "$cc" "${cflags[@]}" "$base_arch" -static "$t" "${objs[@]}" -lm -o "$out/$name"
    tests+=("$out/$name")
done
if [[ ${#tests[@]} -eq 0 ]]; then
    echo "test-arm: no test to run" >&2
    exit 1
fi

pass=0
fail=0
for cpu in ${QS_ARM_CPUS:-max cortex-a57}; do
    for t in "${tests[@]}"; do
        log="$out/$(basename "$t").$cpu.log"
        if "$qemu" -cpu "$cpu" "$t" >"$log" 2>&1; then
            echo "PASS $(basename "$t") (qemu -cpu $cpu): $(tail -n 1 "$log")"
            pass=$((pass + 1))
        else
            echo "FAIL $(basename "$t") (qemu -cpu $cpu), log $log:"
            tail -n 20 "$log"
            fail=$((fail + 1))
        fi
    done
done
echo "test-arm: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
