#!/usr/bin/env bash
# tests/vm/kernel-cycles.sh — the real capture cycle on every kernel of the
# matrix: Debian's 5.10, 6.1, 6.12 and the newest 7.x boot with
# crashkernel=, `kexdump arm` loads a capture initramfs that `kexdump
# initramfs` built from that kernel's own modules, `echo c`, and the static
# kexdump-capture saves the dump (tests/vm/capture-cycle.sh); the newest
# kernel also on a 5-level-paging guest.
#
#   tests/vm/kernel-cycles.sh                 one cycle per kernel (the VM tier)
#   tests/vm/kernel-cycles.sh --floor [HI]    instead, find per kernel the
#                                             smallest crashkernel= that
#                                             captures, to 8M: a bisection
#                                             between 48M and HI (default
#                                             256M, which captured), ~5
#                                             more cycles per kernel: slow,
#                                             a measurement, not a test
#   KX_MATRIX="6.12 7" tests/vm/kernel-cycles.sh   only these kernels
#   KX_PAGING=4l tests/vm/kernel-cycles.sh         only 4-level paging
#
# Per kernel (PASS/FAIL each; the last line is "N passed, N failed"): the
# cycle ran to its reboot; kexdump.json says complete for that kernel;
# `kexdump verify` passes on the saved dump (and its CRC32 matches the
# record); crash (the release that reads that kernel) opens it and `sys`
# names the panic. Kernels come from scripts/matrix-deps.sh ($CACHE/matrix/kernels).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

floor=0 hi_start=256
if [[ ${1:-} == --floor ]]; then
    floor=1
    [[ -n ${2:-} ]] && hi_start=${2%M}
fi
KEXDUMP=$ROOT/target/release/kexdump
[[ -x $KEXDUMP ]] || kx_die "no kexdump binary at $KEXDUMP (cargo build --release)"
bash "$ROOT/scripts/matrix-deps.sh" || kx_die "scripts/matrix-deps.sh failed"
MX=$KX_CACHE/matrix
[[ -s $MX/kernels ]] || kx_die "matrix-deps.sh wrote no $MX/kernels"
want=${KX_MATRIX:-5.10 6.1 6.12 7}

passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
T=$(mktemp -d "${TMPDIR:-/tmp}/kexdump-kernel-cycles.XXXXXX")
trap 'rm -rf "$T"' EXIT
declare -a table=()

# one_cycle KVER PAGING CK OUT — one capture cycle; 0 when it saved a
# complete dump.
one_cycle() {
    local kver=$1 paging=$2 ck=$3 out=$4 cpu=$KX_QEMU_CPU
    [[ $paging == 5l ]] && cpu=max
    KEXDUMP_KVER=$kver KX_QEMU_CPU=$cpu bash "$HERE/capture-cycle.sh" "$out" --mem 1G --crashkernel "$ck" \
        --timeout 600 >"$out.log" 2>&1 || return 1
    # shellcheck disable=SC1091
    (source "$out/cycle.env" && [[ $STATUS == complete ]])
}

# floor_of KVER PAGING — the smallest crashkernel= that captures, to 8M:
# a bisection where hi captured and lo is taken not to (a capture at 56M is
# reported as "<= 56M"); assumes a larger reservation never captures worse.
floor_of() {
    local kver=$1 paging=$2 lo=48 hi=$hi_start mid
    while ((hi - lo > 8)); do
        mid=$(((lo + hi) / 16 * 8))
        if one_cycle "$kver" "$paging" "${mid}M" "$T/floor"; then
            hi=$mid
            kx_log "$kver $paging: crashkernel=${mid}M captured"
        else
            lo=$mid
            # Why it did not: kept, since a timeout on a busy host is not
            # a reservation too small.
            keep=$KX_CACHE/floor/$kver-$paging-${mid}M
            mkdir -p "$keep" && cp "$T/floor.log" "$keep/cycle.log" 2>/dev/null
            cp "$T/floor/serial.log" "$keep/serial.log" 2>/dev/null
            kx_log "$kver $paging: crashkernel=${mid}M did not capture (logs in $keep):"
            grep -aE 'kexec|Out of memory|oom-kill|Kernel panic|kexdump-capture|timed out|ERROR' \
                "$T/floor/serial.log" "$T/floor.log" 2>/dev/null | tail -6 | sed 's/^/    /' >&2
        fi
    done
    if ((hi == 56)); then echo "<= 56M"; else echo "${hi}M"; fi
}

while read -r label kver crash_bin <&3; do
    [[ " $want " == *" $label "* ]] || continue
    pagings=(4l)
    [[ $label == 7 ]] && pagings+=(5l)
    for paging in "${pagings[@]}"; do
        [[ " ${KX_PAGING:-4l 5l} " == *" $paging "* ]] || continue
        name="$kver $paging"
        out=$T/$label-$paging
        if ((floor)); then
            smallest=$(floor_of "$kver" "$paging")
            kx_log "$name: smallest crashkernel= that captured: $smallest"
            table+=("| $kver | $paging | $smallest |")
            continue
        fi
        t0=$(kx_now)
        if ! one_cycle "$kver" "$paging" 256M "$out"; then
            fail "$name: the capture cycle saved a complete dump"
            tail -20 "$out.log" | sed 's/^/    /'
            [[ -f $out/serial.log ]] && grep -E 'kexdump-capture|Kernel panic|BUG' "$out/serial.log" | tail -10 | sed 's/^/    /'
            continue
        fi
        secs=$(awk -v a="$t0" -v b="$(kx_now)" 'BEGIN{printf "%.0f", b-a}')
        pass "$name: the capture cycle saved a complete dump (${secs}s)"
        # shellcheck disable=SC1091
        source "$out/cycle.env"
        dump=$DUMP_DIR/vmcore
        rel=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kernel_release"])' "$DUMP_DIR/kexdump.json")
        if [[ $rel == "$kver" ]]; then pass "$name: kexdump.json names the kernel"; else fail "$name: kexdump.json says $rel"; fi
        if "$KEXDUMP" verify "$dump" >"$T/verify" 2>&1; then
            pass "$name: kexdump verify (structure and the record's CRC32)"
        else
            fail "$name: kexdump verify"; sed 's/^/    /' "$T/verify"
        fi
        vmlinux=$KX_CACHE/vmlinux-$kver
        crash_args=()
        [[ $label == 7 ]] && crash_args+=(--no_modules)
        if out_crash=$(printf 'sys\nq\n' | timeout 600 "$crash_bin" -s "${crash_args[@]}" "$vmlinux" "$dump" 2>&1) &&
            grep -q 'PANIC: .*sysrq triggered crash' <<<"$out_crash"; then
            pass "$name: crash opens the dump and sys names the panic"
        else
            fail "$name: crash on the captured dump"; head -20 <<<"$out_crash" | sed 's/^/    /'
        fi
        row="| $kver | $paging | $T_PANIC_TO_INIT | $T_DUMP | $T_PANIC_TO_SAVED | $CAPTURE_IMG_BYTES |"
        table+=("$row")
    done
done 3<"$MX/kernels"

echo
if ((floor)); then
    echo "| kernel | paging | smallest crashkernel= that captured (8M steps) |"
else
    echo "| kernel | paging | panic → capture /init (s) | dump (s) | panic → saved (s) | capture image (bytes) |"
fi
printf '%s\n' "${table[@]}"
echo "$passed passed, $failed failed"
((failed == 0))
