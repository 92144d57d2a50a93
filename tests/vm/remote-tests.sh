#!/usr/bin/env bash
# tests/vm/remote-tests.sh — the network dump targets end to end, one real
# crash cycle per scenario (tests/vm/capture-cycle.sh --remote: the capture
# kernel's kexdump-capture brings up virtio-net on QEMU's user network,
# restrict=on, and saves to a server of tests/vm/servers.sh at 10.0.2.100,
# which listens on 127.0.0.1 only):
#
#   ssh-static      ssh, address 10.0.2.15/24 gw 10.0.2.2: vmcore.flat,
#                   dmesg.txt and kexdump.json (complete) arrive over SFTP;
#                   `kexdump convert` makes a kdump file of vmcore.flat that
#                   `kexdump verify` passes and crash opens
#   ssh-dhcp        the same with the address from slirp's DHCP
#   nfs             NFSv4 (ganesha, export /kxdump): vmcore as on a local disk;
#                   verify and crash
#   server-down     ssh, nothing listening behind 10.0.2.100:22, --fallback:
#                   "falling back", the dump on the local disk (LABEL=kxdump)
#   wrong-host-key  ssh, the image holds a host key the server has not: the
#                   client refuses the server before authenticating, falls
#                   back to the local disk
#   throttled       ssh through a proxy passing 2 MB/s guest->server (slower
#                   than the dump is made): complete, the proxy's log shows
#                   the rate held
#   link-cut        ssh, the proxy resets the link after 5 MB guest->server:
#                   the server keeps crash/*/vmcore.flat.incomplete (no
#                   vmcore.flat), the capture kernel reaches its failure
#                   action (reboot), no hang
#   link-stall      as link-cut, but the link goes silent (blackhole: no RST,
#                   no FIN, the guest's TCP window just stays shut): only the
#                   capture's own timeouts can end it; it must reboot before
#                   QEMU's time limit (420 s)
#
# For a dump saved remotely: dir 0700 and files 0600 as received, kexdump.json
# valid with status, release, panic message and a CRC32 equal to the dump
# file's, dmesg.txt holding the panic line, the serial log's markers
# ("network up: <if> 10.0.2.15/24", "connected to ssh://..."), and crash
# opening the dump with the panic named.
#
#   tests/vm/remote-tests.sh [--rejudge] [SCENARIO...]     (default: all)
#     --rejudge   boot nothing: judge the results an earlier run left in
#                 $KX_CACHE/remote-tests/<scenario>/ again (after changing a
#                 check)
# Prints PASS/FAIL per check; the last line is "N passed, N failed".
# Needs root (sshd's chroot, ganesha) and the `kexdump initramfs` network
# options (--target ssh://|nfs://, --net-*, --ssh-*, --fallback).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

kx_need_cmds crash python3
[[ -f $KX_VMLINUX ]] || kx_die "no debug vmlinux at $KX_VMLINUX (run: bash scripts/deps.sh)"
[[ $(id -u) -eq 0 ]] || kx_die "the servers need root (sshd's chroot, ganesha's VFS backend)"
KEXDUMP=${KEXDUMP:-$ROOT/target/release/kexdump}
[[ -x $KEXDUMP ]] || kx_die "no kexdump at $KEXDUMP (cargo build --release)"
OUT=$KX_CACHE/remote-tests
mkdir -p "$OUT"
rejudge=0
if [[ ${1:-} == --rejudge ]]; then rejudge=1; shift; fi
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(ssh-static ssh-dhcp nfs server-down wrong-host-key throttled link-cut link-stall)

passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
T=$(mktemp -d "${TMPDIR:-/tmp}/kexdump-remote-tests.XXXXXX")
trap 'rm -rf "$T"' EXIT
check() {
    local name=$1; shift
    if "$@" >"$T/out" 2>&1; then pass "$name"; else fail "$name"; sed 's/^/    /' "$T/out" | tail -20; fi
}

# envv OUTDIR KEY — one value of OUTDIR/cycle.env.
envv() { sed -n "s/^$2=//p" "$1/cycle.env" | head -1 | sed "s/^'\(.*\)'$/\1/"; }

# record_ok DIR STATUS — as in capture-tests.sh: kexdump.json parses, says
# STATUS, names the kernel and the panic, and its CRC32 is the dump file's
# (whatever file it names: vmcore, or vmcore.flat over SFTP).
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
    local m f
    m=$(stat -L -c %a "$1"); [[ $m == 700 ]] || { echo "$1 is $m"; return 1; }
    for f in "$1"/*; do
        m=$(stat -c %a "$f"); [[ $m == 600 ]] || { echo "$f is $m"; return 1; }
    done
}
# files_are DIR NAME... — DIR holds exactly these files.
files_are() {
    local got want
    got=$(cd "$1" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort | paste -sd' ')
    want=$(printf '%s\n' "${@:2}" | LC_ALL=C sort | paste -sd' ')
    [[ $got == "$want" ]] || { echo "in $1: '$got', expected '$want'"; return 1; }
}
dmesg_ok() { grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$1/dmesg.txt"; }
ended_with() { grep -qE "kexdump-capture: $2 \(after" "$1/serial.log" || { grep 'kexdump-capture:' "$1/serial.log" | tail -5; return 1; }; }
log_has() { grep -qE -- "$2" "$1/serial.log" || { echo "no line matching: $2"; grep 'kexdump-capture:' "$1/serial.log" | tail -8; return 1; }; }
env_is() { [[ $(envv "$1" "$2") == "$3" ]] || { echo "$2=$(envv "$1" "$2"), expected $3"; return 1; }; }
# flat_converts_and_verifies DIR — vmcore.flat as received verifies (with the
# CRC of kexdump.json beside it); `kexdump convert` makes a kdump-compressed
# file of it that verifies too and that crash opens.
flat_converts_and_verifies() {
    local d=$1 out
    out=$(dirname "$1")/vmcore.from-flat  # beside OUTDIR/dump, not on the server's copy
    "$KEXDUMP" verify "$d/vmcore.flat" || { echo "kexdump verify vmcore.flat failed"; return 1; }
    rm -f "$out"
    "$KEXDUMP" convert -q "$d/vmcore.flat" "$out" || { echo "kexdump convert vmcore.flat failed"; return 1; }
    "$KEXDUMP" verify "$out" || { echo "kexdump verify of the converted dump failed"; return 1; }
    kx_crash_ok "$out" || { echo "crash does not open the converted dump"; return 1; }
}
# dump_is_local OUTDIR — OUTDIR/dump leads to the local disk's copy.
dump_is_local() { [[ $(readlink "$1/dump") == fs/crash/* && -f $1/dump/vmcore ]] || { ls -l "$1"; return 1; }; }
# server_empty OUTDIR — nothing arrived on the server.
server_empty() { ! find "$1/server" -mindepth 1 | grep -q . || { find "$1/server"; return 1; }; }
# never_authenticated OUTDIR — sshd saw no successful login (the client
# refused the host key before authenticating).
never_authenticated() { ! grep -E 'Accepted publickey' "$1/server-sshd.log"; }
# proxy_rate_held OUTDIR LIMIT — every connection the proxy closed averaged
# at most LIMIT * 1.05 bytes/s guest->server, and the dump's connection
# carried at least the dump's size.
proxy_rate_held() {
    python3 - "$1/proxy.log" "$2" "$(stat -c %s "$1/dump/vmcore.flat")" <<'EOF'
import re, sys
log, limit, size = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
conns = [(int(m.group(1)), float(m.group(2)), float(m.group(3)))
         for m in re.finditer(r"guest->server (\d+) bytes, server->guest \d+ bytes, ([\d.]+) s, guest->server (\d+) B/s", open(log).read())]
if not conns:
    sys.exit("no closed connection in " + log)
for up, secs, rate in conns:
    print(f"{up} bytes in {secs} s: {rate:.0f} B/s")
    if up > 1000000 and rate > limit * 1.05:
        sys.exit(f"rate {rate:.0f} B/s above the limit {limit:.0f}")
if max(c[0] for c in conns) < size:
    sys.exit(f"no connection carried the dump's {size} bytes")
EOF
}
# cut_left_incomplete OUTDIR LIMIT — the server holds crash/*/vmcore.flat.incomplete
# of at most LIMIT bytes and no vmcore.flat; the proxy cut the link.
cut_left_incomplete() {
    local d f
    d=$(envv "$1" SERVER_DUMP_DIR)
    [[ -n $d && -d $d ]] || { echo "no crash/* directory on the server"; find "$1/server"; return 1; }
    f=$d/vmcore.flat.incomplete
    [[ -f $f && ! -e $d/vmcore.flat ]] || { ls -l "$d"; return 1; }
    (($(stat -c %s "$f") <= $2)) || { echo "$f is $(stat -c %s "$f") bytes, more than the $2 let through"; return 1; }
    grep -E "CUT after $2 guest->server bytes" "$1/proxy.log" || { cat "$1/proxy.log"; return 1; }
    ls -l "$d"
}

# cycle NAME ARGS... — run one cycle into $OUT/NAME; FAIL when it breaks.
cycle() {
    local name=$1; shift
    if ((rejudge)); then
        [[ -f $OUT/$name/cycle.env ]] || { fail "$name: no earlier results in $OUT/$name to rejudge"; return 1; }
        echo "($name: the results of an earlier run, $(stat -c %y "$OUT/$name/cycle.env" | cut -d. -f1))"
        return 0
    fi
    if bash "$HERE/capture-cycle.sh" "$OUT/$name" --kexdump "$KEXDUMP" "$@" >"$OUT/$name.log" 2>&1; then
        pass "$name: the crash cycle ran to the capture kernel's final action"
        grep -E 'phase   ' "$OUT/$name.log" | sed 's/^\[vm [0-9:]*\] phase/   /'
        return 0
    fi
    fail "$name: the crash cycle"
    tail -25 "$OUT/$name.log" | sed 's/^/    /'
    return 1
}

# saved_ssh NAME — a complete dump received over SFTP.
saved_ssh() {
    local name=$1 o=$OUT/$1 d=$OUT/$1/dump
    check "$name: saved to the server, no fallback" env_is "$o" FELL_BACK 0
    check "$name: network up at 10.0.2.15/24" log_has "$o" 'kexdump-capture: network up: [a-z0-9]+ 10\.0\.2\.15/24'
    check "$name: connected to the server" log_has "$o" 'kexdump-capture: connected to ssh://root@10\.0\.2\.100:22'
    check "$name: sshd let the client key in" grep -q 'Accepted publickey for root from 127.0.0.1' "$o/server-sshd.log"
    check "$name: vmcore.flat, dmesg.txt, kexdump.json arrived (no .incomplete)" files_are "$d" dmesg.txt kexdump.json vmcore.flat
    check "$name: dump directory 0700, files 0600 on the server" modes_ok "$d"
    check "$name: kexdump.json complete, CRC32 matches vmcore.flat" record_ok "$d" complete
    check "$name: dmesg.txt holds the panic line" dmesg_ok "$d"
    check "$name: vmcore.flat verifies; converted to kdump it verifies and crash opens it" flat_converts_and_verifies "$d"
    check "$name: rebooted after saving" ended_with "$o" reboot
}

# fell_back NAME — the remote target failed, the dump is on the local disk.
fell_back() {
    local name=$1 o=$OUT/$1
    check "$name: the serial log says it fell back to LABEL=kxdump" log_has "$o" 'kexdump-capture: falling back to LABEL=kxdump: '
    check "$name: cycle.env says FELL_BACK=1" env_is "$o" FELL_BACK 1
    check "$name: kexdump.json complete on the local disk, CRC32 matches" record_ok "$o/dump" complete
    check "$name: the dump is on the local disk" dump_is_local "$o"
    check "$name: dmesg.txt holds the panic line" dmesg_ok "$o/dump"
    check "$name: crash opens the dump (sys, bt, log)" kx_crash_ok "$o/dump/vmcore"
    check "$name: nothing arrived on the server" server_empty "$o"
    check "$name: rebooted after saving" ended_with "$o" reboot
}

for s in "${scenarios[@]}"; do
    case $s in
    ssh-static) cycle "$s" --remote ssh --net-address static && saved_ssh "$s" ;;
    ssh-dhcp) cycle "$s" --remote ssh --net-address dhcp && saved_ssh "$s" ;;
    nfs)
        if cycle "$s" --remote nfs --net-address dhcp; then
            o=$OUT/$s d=$OUT/$s/dump
            check "$s: saved to the server, no fallback" env_is "$o" FELL_BACK 0
            check "$s: network up at 10.0.2.15/24" log_has "$o" 'kexdump-capture: network up: [a-z0-9]+ 10\.0\.2\.15/24'
            check "$s: vmcore, dmesg.txt, kexdump.json on the export (no .incomplete)" files_are "$d" dmesg.txt kexdump.json vmcore
            check "$s: dump directory 0700, files 0600 on the export (no root squash)" modes_ok "$d"
            check "$s: kexdump.json complete, CRC32 matches" record_ok "$d" complete
            check "$s: dmesg.txt holds the panic line" dmesg_ok "$d"
            check "$s: kexdump verify passes" "$KEXDUMP" verify "$d/vmcore"
            check "$s: crash opens the dump (sys, bt, log)" kx_crash_ok "$d/vmcore"
            check "$s: rebooted after saving" ended_with "$o" reboot
        fi ;;
    server-down)
        cycle "$s" --remote ssh --server-down --fallback && fell_back "$s" ;;
    wrong-host-key)
        if cycle "$s" --remote ssh --wrong-host-key --fallback; then
            fell_back "$s"
            check "$s: the reason given is the host key" log_has "$OUT/$s" 'kexdump-capture: falling back to LABEL=kxdump: .*[Hh]ost key'
            check "$s: the client never authenticated to the server" never_authenticated "$OUT/$s"
        fi ;;
    throttled)
        if cycle "$s" --remote ssh --net-address static --throttle 2000000; then
            saved_ssh "$s"
            check "$s: the proxy held 2 MB/s and carried the whole dump" proxy_rate_held "$OUT/$s" 2000000
        fi ;;
    link-cut)
        if cycle "$s" --remote ssh --net-address static --cut-after 5000000; then
            check "$s: the server keeps vmcore.flat.incomplete (<= 5 MB), no vmcore.flat" cut_left_incomplete "$OUT/$s" 5000000
            check "$s: the capture kernel rebooted (its failure action), no hang" ended_with "$OUT/$s" reboot
        fi ;;
    link-stall)
        if cycle "$s" --remote ssh --net-address static --cut-after 5000000 --cut-mode blackhole --timeout 420; then
            check "$s: the server keeps vmcore.flat.incomplete (<= 5 MB), no vmcore.flat" cut_left_incomplete "$OUT/$s" 5000000
            check "$s: the capture kernel gave up and rebooted before QEMU's limit" ended_with "$OUT/$s" reboot
        fi ;;
    *) kx_die "unknown scenario $s" ;;
    esac
done
echo "$passed passed, $failed failed"
((failed == 0))
