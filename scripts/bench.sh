#!/usr/bin/env bash
# Benchmark: kexdump save (zstd, level 31) beside makedumpfile -l -d 31
# (Fedora's collector) and -c -d 31 (Debian's) on the same vmcore.
# Medians of whole-process wall time over RUNS runs (default 5), warm page
# cache, median user+system CPU, peak RSS (max over runs), output size.
# Single-threaded everywhere. kexdump fsyncs the dump before renaming it
# into place; makedumpfile does not sync: the wall-minus-CPU gap shows it.
#
#   scripts/bench.sh [VMCORE]     default: the VM tier's kaslr-1G vmcore
# Prints a table; it asserts nothing (figures go to docs/engine.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE=${KEXDUMP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kexdump}
V=${1:-$CACHE/vmcores/kaslr-1G.vmcore}
RUNS=${RUNS:-5}
[[ -f $V ]] || { echo "no vmcore at $V (bash tests/vm/make-vmcore.sh $V)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (bash scripts/deps.sh)" >&2; exit 1; }
cargo build --release --locked -q
K=$PWD/target/release/kexdump
T=$(mktemp -d "${TMPDIR:-/tmp}/kexdump-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
cat "$V" >/dev/null # warm the page cache

# bench NAME CMD... (CMD writes $T/out)
bench() {
    local name=$1; shift
    local times=() cpus=() rss=0 i t m u s
    for ((i = 0; i < RUNS; i++)); do
        rm -f "$T/out"
        /usr/bin/time -f '%e %M %U %S' -o "$T/time" "$@" >/dev/null 2>&1 || { echo "$name failed" >&2; return 1; }
        read -r t m u s <"$T/time"
        times+=("$t")
        cpus+=("$(echo "$u + $s" | bc)")
        ((m > rss)) && rss=$m
    done
    local med cpu
    med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    cpu=$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '%-30s %7s s %7.2f s %8.1f MB %9.1f MB\n' "$name" "$med" "$cpu" "$((rss))e-3" "$(stat -c %s "$T/out")e-6"
}

echo "vmcore: $V ($(stat -c %s "$V") bytes), $RUNS runs each, median wall time"
printf '%-30s %9s %9s %11s %12s\n' tool wall "CPU (u+s)" "peak RSS" output
bench "kexdump save -d 31 (zstd 1)" "$K" save -q -d 31 -c zstd "$V" "$T/out"
bench "kexdump save -d 31 (zstd 3)" "$K" save -q -d 31 -c zstd --compress-level 3 "$V" "$T/out"
bench "kexdump save -d 31 (snappy)" "$K" save -q -d 31 -c snappy "$V" "$T/out"
bench "kexdump save -d 31 (zlib 1)" "$K" save -q -d 31 -c zlib "$V" "$T/out"
bench "makedumpfile 1.7.2 -l -d 31" makedumpfile -l -d 31 "$V" "$T/out"
bench "makedumpfile 1.7.2 -c -d 31" makedumpfile -c -d 31 "$V" "$T/out"
bench "makedumpfile 1.7.2 -p -d 31" makedumpfile -p -d 31 "$V" "$T/out" || true
