#!/usr/bin/env bash
# scripts/capture-figures.sh — the capture path's figures, measured with real
# crash cycles in QEMU (TCG; tests/vm/capture-cycle.sh), not asserted by tests:
#
#   1. where the time goes between the panic and the capture kernel's reboot
#      (capture kernel boot, module load, finding + mounting the disk,
#      dmesg.txt, the dump, record + sync + umount), over --runs cycles at
#      the first size
#   2. the smallest crashkernel= that still captures: one cycle per size in
#      --sizes, largest first, stopping at the first failure
#
#   bash scripts/capture-figures.sh [--mem 2G] [--runs 3]
#                                   [--sizes "128M 96M 88M 80M 72M 64M"]
#
# Needs what scripts/test.sh installs and builds (target/release/kexdump,
# scripts/build-capture.sh). Each cycle takes ~1 minute; results go to
# ~/.cache/kexdump/figures/. Run it on an idle machine: TCG timings follow
# the host's load.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=../tests/vm/lib.sh
source tests/vm/lib.sh

mem=2G runs=3 sizes="128M 96M 88M 80M 72M 64M"
while (($#)); do
    case $1 in
    --mem) mem=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "capture-figures: unknown option $1" >&2; exit 2 ;;
    esac
done
OUT=$KX_CACHE/figures
mkdir -p "$OUT"
read -r -a size_list <<<"$sizes"

# cycle DIR CRASHKERNEL — one crash cycle; 0 when the dump was saved whole.
cycle() {
    bash tests/vm/capture-cycle.sh "$1" --mem "$mem" --crashkernel "$2" >"$1.log" 2>&1 &&
        grep -q '^STATUS=complete' "$1/cycle.env"
}

echo "== time from the panic to the capture kernel's reboot ($mem guest, crashkernel=${size_list[0]}, $runs runs)"
printf '%-4s %8s %8s %8s %8s %8s %8s %8s %8s %10s\n' run boot modules mount dmesg dump finish total img_kB dump_MB
for i in $(seq 1 "$runs"); do
    d=$OUT/timing-$i
    if cycle "$d" "${size_list[0]}"; then
        (
            source "$d/cycle.env"
            printf '%-4s %8s %8s %8s %8s %8s %8s %8s %8s %10.1f\n' "$i" "$T_PANIC_TO_INIT" "$T_MODULES" "$T_MOUNT" \
                "$T_DMESG" "$T_DUMP" "$T_FINISH" "$T_PANIC_TO_END" $((CAPTURE_IMG_BYTES / 1024)) \
                "$(awk -v b="$(stat -c %s "$DUMP_DIR/vmcore")" 'BEGIN{print b/1e6}')"
        )
    else
        echo "$i  FAILED: see $d.log"
    fi
done
echo "(seconds; boot = panic line -> kexdump-capture's first line; total = panic -> final action)"

echo
echo "== the smallest crashkernel= that captures a $mem guest"
smallest=""
for size in "${size_list[@]}"; do
    d=$OUT/crashkernel-$mem-$size
    if cycle "$d" "$size"; then
        echo "crashkernel=$size: captured ($(source "$d/cycle.env"; echo "panic -> reboot ${T_PANIC_TO_END} s"))"
        smallest=$size
    else
        why=$(grep -m1 -E 'ERROR|FAIL' "$d.log" | sed 's/^\[vm [0-9:]*\] //' || true)
        echo "crashkernel=$size: FAILED: ${why:-see $d.log}"
        break
    fi
done
echo "smallest crashkernel= that captured: ${smallest:-none of $sizes}"
