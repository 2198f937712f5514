#!/usr/bin/env bash
# Smoke test of `qsearch lut build --target arm` / `lut validate` on AArch64 under qemu-user:
# cross-builds the whole qsearch CLI (NEON kernels included) against arm64 Debian libraries
# unpacked into a private sysroot, builds a table of a tiny model and validates it.
# Correctness only: timings under emulation mean nothing and are never shipped.
#
# Needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user, and the arm64 .debs of the
# libraries (downloaded with `apt-get download`, never installed; this needs the arm64
# architecture in dpkg: `dpkg --add-architecture arm64 && apt-get update`). Exits 77 (skip)
# when something is missing, non-zero on failure.
#
# Usage: scripts/lut-arm-smoke.sh [BUILD_DIR]   (default build-lut-arm in the repository)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/build-lut-arm}"
cc="${CC_AARCH64:-aarch64-linux-gnu-gcc}"
qemu="${QEMU_AARCH64:-qemu-aarch64}"
skip() { echo "SKIP: $*"; exit 77; }
command -v "$cc" >/dev/null 2>&1 || skip "$cc not found (Debian package gcc-aarch64-linux-gnu)"
command -v "$qemu" >/dev/null 2>&1 || skip "$qemu not found (Debian package qemu-user)"
[[ -d /usr/aarch64-linux-gnu/lib ]] || skip "no arm64 C library (libc6-dev-arm64-cross)"

sysroot="$out/sysroot"
# The -dev packages the build needs (CMakeLists.txt) and every arm64 library they pull in.
devs=(libyaml-dev libprotobuf-c-dev libopenblas-pthread-dev libgsl-dev libhwloc-dev zlib1g-dev
      libcairo2-dev)
if [[ ! -f "$sysroot/.done" ]]; then
    dpkg --print-foreign-architectures | grep -qx arm64 ||
        skip "dpkg has no arm64 architecture (dpkg --add-architecture arm64 && apt-get update)"
    mkdir -p "$out/debs" "$sysroot"
    mapfile -t pkgs < <(apt-cache depends --recurse --no-recommends --no-suggests \
        --no-conflicts --no-breaks --no-replaces --no-enhances --no-pre-depends \
        "${devs[@]/%/:arm64}" 2>/dev/null | grep -v '^[ <]' | grep ':arm64$' | grep '^lib' |
        grep -v -- '-bin:\|perl\|-data:\|-doc:' | sort -u)
    pkgs+=(x11proto-dev)  # architecture-independent headers and .pc files cairo needs
    [[ ${#pkgs[@]} -gt 10 ]] || skip "apt-cache knows no arm64 packages (apt-get update)"
    (cd "$out/debs" && for p in "${pkgs[@]}"; do
        ls "${p%:arm64}"_*.deb >/dev/null 2>&1 || apt-get download "$p" >/dev/null ||
            skip "cannot download $p"
    done)
    for d in "$out"/debs/*.deb; do dpkg-deb -x "$d" "$sysroot"; done
    mkdir -p "$sysroot/lib/aarch64-linux-gnu"
    cp -a /usr/aarch64-linux-gnu/lib/*.so* "$sysroot/lib/aarch64-linux-gnu/"
    cp -a /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 "$sysroot/lib/"
    # Debian sets these links with update-alternatives at install time.
    lib="$sysroot/usr/lib/aarch64-linux-gnu"
    cp --remove-destination "$lib/openblas-pthread/pkgconfig/openblas.pc" "$lib/pkgconfig/"
    for f in libopenblas.so.0 libblas.so.3 liblapack.so.3; do
        ln -sf "openblas-pthread/$f" "$lib/$f"
    done
    touch "$sysroot/.done"
fi

cat > "$out/toolchain.cmake" <<TC
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER $cc)
set(CMAKE_FIND_ROOT_PATH $sysroot)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_C_FLAGS_INIT "-isystem $sysroot/usr/include/aarch64-linux-gnu")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,$sysroot/usr/lib/aarch64-linux-gnu -Wl,-rpath-link,$sysroot/lib/aarch64-linux-gnu -Wl,-rpath-link,$sysroot/usr/lib/aarch64-linux-gnu/openblas-pthread")
TC
export PKG_CONFIG_LIBDIR="$sysroot/usr/lib/aarch64-linux-gnu/pkgconfig:$sysroot/usr/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$sysroot"
cmake -S "$root" -B "$out/build" -DCMAKE_TOOLCHAIN_FILE="$out/toolchain.cmake" \
    -DQS_FATAL_WARNINGS=ON -DQS_BUILD_TESTS=OFF -DQS_BUILD_BENCH=OFF \
    -DZLIB_ROOT="$sysroot/usr" >/dev/null
cmake --build "$out/build" -j2 --target qsearch >/dev/null
file "$out/build/qsearch" | grep -q "ARM aarch64" || { echo "not an aarch64 binary"; exit 1; }

run() { "$qemu" -L "$sysroot" "$out/build/qsearch" "$@"; }
model="$root/tests/fixtures/lut/lut_tiny.onnx"
table="$out/smoke.yaml"
rm -f "$table"
for cpu in max cortex-a57; do
    echo "lut-arm-smoke: qemu -cpu $cpu"
    rm -f "$table"
    QEMU_CPU=$cpu run -q lut build --target arm --model "$model" --repeats 2 --mixed 1 \
        --sparsity 0,0.5 -o "$table"
    grep -q 'target: "arm"' "$table" || { echo "table has no arm target"; exit 1; }
    grep -q 'arch: "aarch64"' "$table" || { echo "table has no aarch64 arch"; exit 1; }
    grep 'isa:' "$table"
    QEMU_CPU=$cpu run -q lut validate --model "$model" --lut "$table" --repeats 2 --random 3 \
        --sparsity 0,0.5 > "$out/validate-$cpu.log"
    grep -q "summary (median): 3 candidates" "$out/validate-$cpu.log" ||
        { cat "$out/validate-$cpu.log"; exit 1; }
    if grep -q "ran or were predicted on one side only" "$out/validate-$cpu.log"; then
        echo "the lowering model and the executor disagree on arm"; exit 1
    fi
    # An x86 table must be refused on arm.
    if run -q lut validate --model "$model" --lut "$root/latency_tables/x86-amd-epyc.yaml" \
        --repeats 1 >/dev/null 2>&1; then
        echo "an x86 table was accepted on arm"; exit 1
    fi
done
echo "lut-arm-smoke: passed (correctness only; no timings are kept)"
