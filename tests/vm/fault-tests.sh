#!/usr/bin/env bash
# tests/vm/fault-tests.sh — the fault tier (issue 11, "whatever reached the
# disk stays readable"): real capture cycles (tests/vm/capture-cycle.sh: Debian
# 6.1 in QEMU/TCG, `kexdump arm`, echo c, kexdump-capture as PID 1) broken on
# purpose, and what the dump disk holds afterwards judged by
# tests/tools/fault_judge.py.
#
#   power cuts  QEMU is SIGKILLed when the capture's serial console shows a
#               given line (capture-cycle.sh --kill-at): the guest's RAM and
#               page cache are lost, every write QEMU completed stays in the
#               image (a disk without a volatile write cache). The disk is read
#               back after its journal is replayed: e2fsck -fy on a copy for
#               ext4, the read-back VM's mount for xfs.
#   I/O errors  the dump disk sits behind QEMU's blkdebug driver; when the
#               dump passes 50 % the host moves blkdebug to state 2 (monitor:
#               qemu-io kxd1 "write -z OFFSET 512", an event the guest never
#               causes, over a sector the file system does not use: ext4's
#               boot sector, the last sector of the 1 GiB xfs disk) and the
#               next data write, or the next cache flush, fails with EIO —
#               once, or from then on.
#
# Cases (the name says the fs, the fault and where):
#   ext4-cut-before-dmesg  kill at "waiting up to" (before the mount; the kill
#                          lands 0.1-0.2 s after its line: the table says where)
#   ext4-cut-after-dmesg   kill at "saved dmesg.txt"
#   ext4-cut-dump-10       kill at the first progress line >= 10 %
#   ext4-cut-dump-50       kill at the first progress line >= 50 %
#   ext4-cut-dump-90       kill at the first progress line >= 90 %
#   ext4-cut-after-rename  kill at "saved vmcore" (vmcore renamed, record not final)
#   ext4-cut-crc           kill 0.25 s after "saved vmcore" (reading the CRC32 back)
#   ext4-cut-after-record  kill at "capture complete" (final record written, synced)
#   xfs-cut-*              the same eight points on xfs
#   ext4-eio-data          one data write fails with EIO at 50 %
#   ext4-eio-flush         one cache flush fails with EIO at 50 %
#   ext4-eio-dead          every write and flush fails from 50 % on (the disk died)
#   ext4-eio-record        every write and flush fails from "saved vmcore" on:
#                          the final record's blocks (and the journal's)
#   xfs-eio-data, xfs-eio-flush
#
#   tests/vm/fault-tests.sh [--quick] [--judge-only] [CASE...]
#     (no CASE)     every case above (17; 1.5-4 min each on a shared 2-core
#                   machine, about 40 min)
#     --quick       the CI subset: ext4-cut-dump-90, ext4-cut-after-rename,
#                   xfs-cut-dump-90, ext4-eio-data (437 s measured)
#     --judge-only  judge the outputs of earlier runs again, no VM
#     --list        print the case names
# Outputs under ${KEXDUMP_FAULT_OUT:-~/.cache/kexdump/fault-tests}/<case>/ (the
# capture-cycle.sh directory, plus judge.txt). Prints PASS/FAIL per check,
# then the table (fault | fs | file left | verify | crash | dmesg | record)
# and last "N passed, N failed"; exits 1 when anything failed.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

ALL=(ext4-cut-before-dmesg ext4-cut-after-dmesg ext4-cut-dump-10 ext4-cut-dump-50 ext4-cut-dump-90
     ext4-cut-after-rename ext4-cut-crc ext4-cut-after-record
     xfs-cut-before-dmesg xfs-cut-after-dmesg xfs-cut-dump-10 xfs-cut-dump-50 xfs-cut-dump-90
     xfs-cut-after-rename xfs-cut-crc xfs-cut-after-record
     ext4-eio-data ext4-eio-flush ext4-eio-dead ext4-eio-record xfs-eio-data xfs-eio-flush xfs-eio-record)
# At 90 % one batch of descriptors is durable: the cut checks pages, not only
# an empty prefix.
QUICK=(ext4-cut-dump-90 ext4-cut-after-rename xfs-cut-dump-90 ext4-eio-data)

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }
judge_only=0
cases=()
while (($#)); do
    case $1 in
    --quick) cases+=("${QUICK[@]}"); shift ;;
    --judge-only) judge_only=1; shift ;;
    --list) printf '%s\n' "${ALL[@]}"; exit 0 ;;
    -h | --help) usage 0 ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) cases+=("$1"); shift ;;
    esac
done
((${#cases[@]})) || cases=("${ALL[@]}")

kx_need_cmds crash python3 e2fsck debugfs
[[ -f $KX_VMLINUX ]] || kx_die "no debug vmlinux at $KX_VMLINUX (run: bash scripts/deps.sh)"
OUT=${KEXDUMP_FAULT_OUT:-$KX_CACHE/fault-tests}
mkdir -p "$OUT/bin"
# The binaries under test, copied once: every case of a run (and its judge)
# uses the same ones, whatever is rebuilt meanwhile.
KEXDUMP=$OUT/bin/kexdump
CAPTURE_BIN=$OUT/bin/kexdump-capture
if ((!judge_only)); then
    for b in "$ROOT/target/release/kexdump" "$ROOT/target/x86_64-unknown-linux-gnu/release/kexdump-capture"; do
        [[ -x $b ]] || kx_die "no $b (cargo build --release; bash scripts/build-capture.sh)"
        cp "$b" "$OUT/bin/"
    done
fi
[[ -x $KEXDUMP ]] || kx_die "no kexdump at $KEXDUMP: run the cases before --judge-only"
# A work directory of our own: the read-back VM's is named by file system
# only, and other runs of the harness may share the cache.
export KX_WORK=${KEXDUMP_FAULT_WORK:-$KX_CACHE/vm-work-faults}
# The primary guest's initramfs (kernel, modules, busybox) at zstd -3, not
# -19: ~2 minutes less per case on a loaded 2-core machine, same guest.
export KX_ZSTD_LEVEL=${KX_ZSTD_LEVEL:-3}

# Serial lines (kexdump-capture prints a progress line every 10 % of the
# pages walked: "kexdump-capture:  49%  33.5 MB written  12.3 MB/s").
P_WAIT='kexdump-capture: waiting up to '
P_DMESG='kexdump-capture: saved dmesg.txt'
P10='kexdump-capture: +([1-9][0-9]|100)%'
P50='kexdump-capture: +([5-9][0-9]|100)%'
P90='kexdump-capture: +(9[0-9]|100)%'
P_RENAME='kexdump-capture: saved vmcore:'
P_DONE='kexdump-capture: capture complete'
# Zeroes over zeroes the file system never uses: ext4's boot sector (its
# superblock starts at 1024), the last sector of the 1 GiB xfs disk (whose
# sector 0 is the superblock; the dump is far smaller than an AG).
TRIGGER_ext4='qemu-io kxd1 "write -z 0 512"'
TRIGGER_xfs='qemu-io kxd1 "write -z 1073741312 512"'

# blkdebug rules: state 1 until the host's write-zeroes (pwritev_zero), then
# state 2, where the rules below fire.
rules() {
    local out=$1 kind=$2
    cat >"$out" <<'EOF'
[set-state]
event = "pwritev_zero"
state = "1"
new_state = "2"
EOF
    case $kind in
    data-once) printf '\n[inject-error]\nevent = "write_aio"\nstate = "2"\niotype = "write"\nerrno = "5"\nonce = "on"\n' >>"$out" ;;
    flush-once) printf '\n[inject-error]\nevent = "flush_to_disk"\nstate = "2"\niotype = "flush"\nerrno = "5"\nonce = "on"\n' >>"$out" ;;
    dead) printf '\n[inject-error]\nevent = "write_aio"\nstate = "2"\niotype = "write"\nerrno = "5"\n\n[inject-error]\nevent = "flush_to_disk"\nstate = "2"\niotype = "flush"\nerrno = "5"\n' >>"$out" ;;
    esac
}

# case_def NAME — sets FS, EIO and ARGS (capture-cycle.sh options).
case_def() {
    local name=$1 where
    FS=${name%%-*} EIO=0 ARGS=()
    [[ $FS == ext4 || $FS == xfs ]] || return 1
    where=${name#*-}
    case $where in
    cut-before-dmesg) ARGS=(--kill-at "$P_WAIT") ;;
    cut-after-dmesg) ARGS=(--kill-at "$P_DMESG") ;;
    cut-dump-10) ARGS=(--kill-at "$P10") ;;
    cut-dump-50) ARGS=(--kill-at "$P50") ;;
    cut-dump-90) ARGS=(--kill-at "$P90") ;;
    cut-after-rename) ARGS=(--kill-at "$P_RENAME") ;;
    cut-crc) ARGS=(--kill-at "$P_RENAME+0.25") ;;
    cut-after-record) ARGS=(--kill-at "$P_DONE") ;;
    eio-data | eio-flush | eio-dead)
        EIO=1
        local kind=${where#eio-}
        [[ $kind == dead ]] || kind+=-once
        rules "$OUT/$name.blkdebug" "$kind"
        local trigger=TRIGGER_$FS
        ARGS=(--blkdebug "$OUT/$name.blkdebug" --fault-at "$P50=${!trigger}") ;;
    eio-record)
        # The dump is renamed and durable; the disk dies before the record.
        EIO=1
        rules "$OUT/$name.blkdebug" dead
        local trigger=TRIGGER_$FS
        ARGS=(--blkdebug "$OUT/$name.blkdebug" --fault-at "$P_RENAME=${!trigger}") ;;
    *) return 1 ;;
    esac
}

passed=0 failed=0
declare -A cycle_ok=()
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# judge NAME — fault_judge.py on NAME's output into NAME/judge.txt. crash
# with the 630 MB debug vmlinux takes a minute or two here, so a judge runs
# in the background beside the next case's VM (one judge at a time).
judge_pid=""
judge() {
    local name=$1
    case_def "$name"
    local -a jargs=(--name "$name" --fs "$FS" --kexdump "$KEXDUMP" --vmlinux "$KX_VMLINUX")
    ((EIO)) && jargs+=(--eio)
    python3 "$ROOT/tests/tools/fault_judge.py" "$OUT/$name" "${jargs[@]}" >"$OUT/$name/judge.txt" 2>&1
    echo "exit $?" >"$OUT/$name/judge.rc"
}

for name in "${cases[@]}"; do
    case_def "$name" || kx_die "unknown case $name (see --list)"
    dir=$OUT/$name
    if ((!judge_only)); then
        kx_log "case $name: capture-cycle.sh --fs $FS ${ARGS[*]}"
        if bash "$HERE/capture-cycle.sh" "$dir" --fs "$FS" --kexdump "$KEXDUMP" --capture-bin "$CAPTURE_BIN" \
            "${ARGS[@]}" >"$OUT/$name.log" 2>&1; then
            cycle_ok[$name]=1
            pass "$name: the cycle ran and the fault was injected"
            sed -n 's/^.*  fault: /    fault: /p' "$OUT/$name.log"
        else
            cycle_ok[$name]=0
            fail "$name: the cycle with its fault"
            tail -20 "$OUT/$name.log" | sed 's/^/    /'
            continue
        fi
    elif [[ ! -f $dir/serial.log ]]; then
        cycle_ok[$name]=0
        fail "$name: no output of an earlier run to judge"
        continue
    fi
    cycle_ok[$name]=1
    rm -f "$dir/judge.txt" "$dir/judge.rc"
    [[ -n $judge_pid ]] && wait "$judge_pid"
    judge "$name" &
    judge_pid=$!
done
[[ -n $judge_pid ]] && wait "$judge_pid"

rows=()
for name in "${cases[@]}"; do
    case_def "$name"
    if [[ ${cycle_ok[$name]:-0} != 1 ]]; then
        rows+=("$name	$FS	harness failed	-	-	-	-")
        continue
    fi
    echo "--- $name"
    grep -v '^ROW' "$OUT/$name/judge.txt"
    p=$(grep -c '^PASS:' "$OUT/$name/judge.txt")
    f=$(grep -c '^FAIL:' "$OUT/$name/judge.txt")
    passed=$((passed + p)) failed=$((failed + f))
    jrc=$(cat "$OUT/$name/judge.rc" 2>/dev/null || echo "exit ?")
    # The judge broke: no verdicts, or a failing exit without a FAIL line.
    if ((p + f == 0)) || [[ $jrc != "exit 0" && $f == 0 ]]; then
        fail "$name: the judge ran ($jrc)"
        tail -5 "$OUT/$name/judge.txt" | sed 's/^/    /'
    fi
    row=$(grep '^ROW' "$OUT/$name/judge.txt" | cut -f2-)
    rows+=("${row:-$name	$FS	judge failed	-	-	-	-}")
done

echo
echo "| fault | fs | file left | verify | crash | dmesg | record |"
echo "|---|---|---|---|---|---|---|"
for r in "${rows[@]}"; do
    IFS=$'\t' read -r c1 c2 c3 c4 c5 c6 c7 <<<"$r"
    echo "| ${c1#"$c2"-} | $c2 | $c3 | $c4 | $c5 | $c6 | ${c7//|//} |"
done
echo
echo "$passed passed, $failed failed"
((failed == 0))
