#!/usr/bin/env bash
# tests/vm/capture-tests.sh — the capture path end to end, one real crash
# cycle per scenario (tests/vm/capture-cycle.sh: `kexdump initramfs`,
# `kexdump arm`, echo c, kexdump-capture as PID 1 of the capture kernel),
# each asserting on what the dump disk holds afterwards:
#
#   ext4-virtio   ext4 on virtio-blk, found by LABEL
#   xfs-virtio    xfs on virtio-blk, found by UUID
#   ext4-nvme     ext4 on an NVMe controller, found by LABEL
#   too-small     a 20 MB ext4 disk (about 16 MB free; a 1 GiB guest's level-31
#                 dump is 21-23 MB): dmesg.txt and kexdump.json survive, the
#                 dump stays vmcore.incomplete flagged INCOMPLETE (crash
#                 opens it and says so), and the failure action (poweroff)
#                 still ends the capture
#   retention     three earlier dumps on the disk and `--keep 2`: after the
#                 capture the two oldest are gone, the newest earlier one and
#                 the new dump stay
#   missing       no dump disk: the failure action (poweroff) runs after the
#                 wait, no hang
#   cpus2         `kexdump arm --cpus 2` (QEMU -smp 2): the capture kernel's
#                 command line has nr_cpus=2, PID 1 says 2 CPUs are online,
#                 the record says 2 compression threads, and the dump is
#                 saved and read back like ext4-virtio's
#
# For every saved dump: dir 0700 and files 0600, kexdump.json valid with
# status, release, panic message and a CRC32 equal to the file's, dmesg.txt
# holding the panic line, and crash opening the dump with the panic named.
#
#   tests/vm/capture-tests.sh [SCENARIO...]     (default: all)
# Prints PASS/FAIL per check; the last line is "N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

kx_need_cmds crash python3
[[ -f $KX_VMLINUX ]] || kx_die "no debug vmlinux at $KX_VMLINUX (run: bash scripts/deps.sh)"
OUT=$KX_CACHE/capture-tests
mkdir -p "$OUT"
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(ext4-virtio xfs-virtio ext4-nvme too-small retention missing read-only late cpus2)

passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
T=$(mktemp -d "${TMPDIR:-/tmp}/kexdump-capture-tests.XXXXXX")
trap 'rm -rf "$T"' EXIT
check() {
    local name=$1; shift
    if "$@" >"$T/out" 2>&1; then pass "$name"; else fail "$name"; sed 's/^/    /' "$T/out" | tail -20; fi
}

# record_ok DIR STATUS — kexdump.json parses, says STATUS, names the kernel
# and the panic, and its CRC32 is the dump file's.
record_ok() {
    python3 - "$1" "$2" "$KX_KVER" <<'EOF'
import json, os, sys, zlib
d, want, kver = sys.argv[1:]
r = json.load(open(os.path.join(d, "kexdump.json")))
def need(cond, what):
    if not cond:
        sys.exit(f"{what}: {json.dumps(r, indent=1)}")
need(r["schema"] == "kexdump.capture/1", "schema")
need(r["status"] == want, f"status {r['status']!r} != {want!r}")
need(r["kernel_release"] == kver, "kernel_release")
need(r["hostname"] == "kxvm-primary", "hostname")
need(r["panic_message"] == "sysrq triggered crash", "panic_message")
need(r["crash_time"] is not None, "crash_time")
need(r["dmesg"] and r["dmesg"]["file"] == "dmesg.txt", "dmesg")
dump = r["dump"]
path = os.path.join(d, dump["file"])
data = open(path, "rb").read()
need(dump["bytes"] == len(data), f"dump bytes {dump['bytes']} != {len(data)}")
need(dump["crc32"] == "%08x" % zlib.crc32(data), "crc32")
print(f"status {r['status']}, {dump['file']} {len(data)} bytes, crc32 {dump['crc32']}, durations {r['durations_seconds']}")
EOF
}

# modes_ok DIR — the dump directory is 0700 and every file in it 0600.
modes_ok() {
    local m
    m=$(stat -L -c %a "$1"); [[ $m == 700 ]] || { echo "$1 is $m"; return 1; }
    for f in "$1"/*; do
        m=$(stat -c %a "$f"); [[ $m == 600 ]] || { echo "$f is $m"; return 1; }
    done
}

dmesg_ok() { grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$1/dmesg.txt"; }
incomplete_ok() {
    [[ -f $1/vmcore.incomplete && ! -e $1/vmcore ]] || { ls -l "$1"; return 1; }
    # kdump-info.py exits 1 on an INCOMPLETE dump, after printing its facts.
    local info
    info=$(python3 "$HERE/kdump-info.py" "$1/vmcore.incomplete")
    echo "$info" | grep -E '^ *status +INCOMPLETE'
}
# crash_sees_incomplete DUMP — crash opens the partial dump and warns.
crash_sees_incomplete() {
    local out
    out=$(printf 'q\n' | timeout 300 crash -s "$KX_VMLINUX" "$1" 2>&1)
    grep -q 'This dumpfile is incomplete' <<<"$out" || { echo "$out" | head -20; return 1; }
}
ended_with() { grep -qE "kexdump-capture: $2 \(after" "$1/serial.log"; }
# env_is DIR KEY VALUE — cycle.env says KEY=VALUE (as the shell reads it).
env_is() {
    local got
    got=$(bash -c 'source "$1/cycle.env" && printf %s "${!2}"' _ "$1" "$2") || { echo "cannot read $1/cycle.env"; return 1; }
    [[ $got == "$3" ]] || { echo "$2 is '$got', not '$3'"; return 1; }
}
# cmdline_has DIR OPTION — the capture kernel's command line has OPTION, as a whole word.
cmdline_has() {
    local line
    line=$(bash -c 'source "$1/cycle.env" && printf %s "$CAPTURE_CMDLINE"' _ "$1") || { echo "cannot read $1/cycle.env"; return 1; }
    [[ " $line " == *" $2 "* ]] || { echo "capture cmdline: $line"; return 1; }
}

# cycle NAME ARGS... — run one cycle into $OUT/NAME; FAIL when it breaks.
cycle() {
    local name=$1; shift
    if bash "$HERE/capture-cycle.sh" "$OUT/$name" "$@" >"$OUT/$name.log" 2>&1; then
        pass "$name: the crash cycle ran to the capture kernel's final action"
        grep -E 'phase   ' "$OUT/$name.log" | sed 's/^\[vm [0-9:]*\] phase/   /'
        return 0
    fi
    fail "$name: the crash cycle"
    tail -25 "$OUT/$name.log" | sed 's/^/    /'
    return 1
}

saved_ok() {
    local name=$1 d=$OUT/$1/dump
    check "$name: dump directory 0700, files 0600" modes_ok "$d"
    check "$name: kexdump.json complete, CRC32 matches" record_ok "$d" complete
    check "$name: dmesg.txt holds the panic line" dmesg_ok "$d"
    check "$name: crash opens the dump (sys, bt, log)" kx_crash_ok "$d/vmcore"
    check "$name: rebooted after saving" ended_with "$OUT/$name" reboot
}

for s in "${scenarios[@]}"; do
    case $s in
    ext4-virtio) cycle "$s" --fs ext4 --bus virtio && saved_ok "$s" ;;
    xfs-virtio) cycle "$s" --fs xfs --bus virtio --target "UUID=$KX_DUMP_UUID" && saved_ok "$s" ;;
    ext4-nvme) cycle "$s" --fs ext4 --bus nvme && saved_ok "$s" ;;
    too-small)
        if cycle "$s" --fs ext4 --disk-size 20M --failure-action poweroff; then
            d=$OUT/$s/dump
            check "$s: dmesg.txt saved before the disk filled" dmesg_ok "$d"
            check "$s: kexdump.json says incomplete, CRC32 matches" record_ok "$d" incomplete
            check "$s: the dump stays vmcore.incomplete, flagged INCOMPLETE" incomplete_ok "$d"
            check "$s: crash opens the partial dump and says it is incomplete" crash_sees_incomplete "$d/vmcore.incomplete"
            check "$s: files 0600 in a 0700 directory" modes_ok "$d"
            check "$s: the failure action (poweroff, not the final reboot) ran" ended_with "$OUT/$s" poweroff
        fi ;;
    retention)
        if cycle "$s" --fs ext4 --seed-dumps 3 --initramfs-args "--keep 2"; then
            check "$s: the new dump is complete" record_ok "$OUT/$s/dump" complete
            check "$s: only the newest earlier dump and the new one remain" \
                bash -c '[[ "$(cd "$1/fs/crash" && ls | paste -sd" ")" == "20200103-000000-old $(basename "$(readlink -f "$1/dump")")" ]] || { ls "$1/fs/crash"; exit 1; }' _ "$OUT/$s"
            check "$s: the capture kernel said what it deleted" \
                grep -q 'kexdump-capture: retention (keep 2, min free 0 MB): deleted 20200102-000000-old' "$OUT/$s/serial.log"
        fi ;;
    missing)
        if cycle "$s" --no-disk --wait 8 --failure-action poweroff; then
            check "$s: says the target is missing and lists the disks" \
                grep -E 'kexdump-capture: ERROR: dump target LABEL=kxdump not found after 8 s; block devices: .*vda' "$OUT/$s/serial.log"
            check "$s: the failure action (poweroff) ran" ended_with "$OUT/$s" poweroff
        fi ;;
    read-only)
        # The disk is found (its superblock reads) but refuses writes.
        if cycle "$s" --fs ext4 --disk-ro --failure-action poweroff; then
            check "$s: says the device is read-only, naming its sysfs flag" \
                grep -E 'kexdump-capture: ERROR: .*the device is read-only \(/sys/class/block/vd[a-z]+/ro is 1\)' "$OUT/$s/serial.log"
            check "$s: nothing was written to the disk" bash -c '! ls -A "$1/fs/crash" 2>/dev/null | grep -q .' _ "$OUT/$s"
            check "$s: the failure action (poweroff) ran" ended_with "$OUT/$s" poweroff
        fi ;;
    late)
        # Plugged in 2 s after the capture starts waiting (a slow SAN, a
        # disk that spins up): found by the wait loop, dump saved.
        if cycle "$s" --fs ext4 --disk-late --wait 60; then
            check "$s: the disk came after the capture started waiting" \
                bash -c 'grep -q "^monitor: device_add" "$1/fault.txt" && grep -q "kexdump-capture: waiting up to 60 s" "$1/serial.log"' _ "$OUT/$s"
            saved_ok "$s"
        fi ;;
    cpus2)
        if cycle "$s" --fs ext4 --bus virtio --cpus 2; then
            check "$s: the capture kernel's command line has nr_cpus=2" cmdline_has "$OUT/$s" nr_cpus=2
            check "$s: PID 1 says 2 CPUs are online" \
                grep -qE 'kexdump-capture: 2 CPUs online; memory total [0-9.]+ MiB' "$OUT/$s/serial.log"
            check "$s: the record says 2 compression threads" env_is "$OUT/$s" THREADS 2
            saved_ok "$s"
        fi ;;
    *) kx_die "unknown scenario $s" ;;
    esac
done
echo "$passed passed, $failed failed"
((failed == 0))
