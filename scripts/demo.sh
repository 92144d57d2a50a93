#!/usr/bin/env bash
# scripts/demo.sh — kexdump end to end, on a fresh Debian 12 machine:
#
#   1. install what the demo needs (scripts/deps.sh: apt packages, Debian's
#      6.1 kernel and its debug vmlinux, into ~/.cache/kexdump)
#   2. build the host CLI `kexdump` and the static `kexdump-capture`
#   3. crash a VM and capture it: Debian's kernel boots in QEMU (software
#      emulation, KASLR on) with crashkernel=, runs a workload; `kexdump
#      initramfs` has built the capture initramfs and `kexdump arm` loads it
#      (kexec_file_load); `echo c > /proc/sysrq-trigger` panics it. In the
#      capture kernel the static kexdump-capture is PID 1: it loads the disk
#      modules, finds the dump disk by LABEL, saves dmesg.txt, a filtered,
#      zstd-compressed dump and kexdump.json, and reboots
#   4. read the dump disk back and show what was saved
#   5. open it with crash 8.0.2: sys, bt, log
#
#   bash scripts/demo.sh [options]
#     --mem SIZE           guest RAM (default 1G)
#     --crashkernel SIZE   the capture kernel's reservation (default 256M)
#     --sweep              afterwards, also try crashkernel=128M and 96M
#                          (one more VM cycle each, ~90 s) and report which work
#     --no-deps            skip step 1 (scripts/deps.sh)
#
# Everything downloaded, built or produced lives under ~/.cache/kexdump
# (or $KEXDUMP_CACHE) and target/. Takes ~3 minutes once the caches are
# warm; the first run also downloads ~930 MB (kernel + debug vmlinux).
# Exits non-zero as soon as a step fails.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

mem=1G ck=256M sweep=0 deps=1
while (($#)); do
    case $1 in
    --mem) mem=$2; shift 2 ;;
    --crashkernel) ck=$2; shift 2 ;;
    --sweep) sweep=1; shift ;;
    --no-deps) deps=0; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

CACHE=${KEXDUMP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kexdump}
KVER=${KEXDUMP_KVER:-6.1.0-56-amd64}
VMLINUX=$CACHE/vmlinux-$KVER
OUT=$CACHE/demo
TARGET=x86_64-unknown-linux-gnu
CAPTURE_BIN=$ROOT/target/$TARGET/release/kexdump-capture
T_START=$SECONDS

B='' R='' N=''
if [[ -t 1 ]]; then B=$'\033[1m' R=$'\033[1;31m' N=$'\033[0m'; fi
step_no=0
step() {
    step_no=$((step_no + 1))
    printf '\n%s==== %d. %s%s\n' "$B" "$step_no" "$*" "$N"
}
say() { printf '  %s\n' "$*"; }
failed=0
die() { failed=1; printf '\n%sdemo FAILED in step %d: %s%s\n' "$R" "$step_no" "$*" "$N" >&2; exit 1; }
trap 'rc=$?; ((rc == 0 || failed)) || printf "\n%sdemo FAILED in step %d (exit %d)%s\n" "$R" "$step_no" "$rc" "$N" >&2' EXIT
indent() { sed 's/^/  | /'; }
num() { printf '%s' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|[^0-9]\)/\1,\2\3/' -e 'ta'; }

# ------------------------------------------------------------------------
step "Dependencies (scripts/deps.sh: apt packages, Debian kernel $KVER, debug vmlinux)"
if ((deps)); then
    bash scripts/deps.sh
else
    say "skipped (--no-deps)"
fi
command -v cargo >/dev/null ||
    die "no Rust toolchain: install it with https://rustup.rs (Debian 12's rustc is too old; kexdump needs >= 1.80)"
# The static capture binary links glibc statically: it needs a C toolchain
# and libc.a (build-essential).
if ! command -v cc >/dev/null || [[ ! -f /usr/lib/x86_64-linux-gnu/libc.a ]]; then
    say "installing build-essential (cc and the static glibc for kexdump-capture)"
    SUDO=; [[ $(id -u) -eq 0 ]] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends build-essential >/dev/null
fi
[[ -f $VMLINUX ]] || die "no debug vmlinux at $VMLINUX (run: bash scripts/deps.sh)"
say "cache: $CACHE"

# ------------------------------------------------------------------------
step "Build: the host CLI (kexdump) and the static capture binary (kexdump-capture)"
say "cargo build --release"
cargo build --release 2>&1 | indent || die "cargo build --release failed"
say "bash scripts/build-capture.sh   (static, stripped)"
bash scripts/build-capture.sh 2>&1 >/dev/null | indent || die "building kexdump-capture failed"
[[ -x target/release/kexdump && -x $CAPTURE_BIN ]] || die "a binary is missing after the build"
say "target/release/kexdump: $(stat -c %s target/release/kexdump) bytes"
say "$(file -b "$CAPTURE_BIN" | cut -d, -f1-2,4) ($(stat -c %s "$CAPTURE_BIN") bytes)"

# ------------------------------------------------------------------------
step "Crash a VM and capture it (QEMU TCG, $mem guest, crashkernel=$ck, KASLR on)"
cat <<EOF
  Host:    kexdump initramfs --target LABEL=kxdump --fstype ext4 --bus virtio ...
           (kexdump-capture as /init + virtio/ext4 modules, zstd cpio)
  Primary: workload (page cache, tmpfs, anonymous and free pages), then
           kexdump arm --kernel /boot/vmlinuz --initrd /boot/capture.img
           echo c > /proc/sysrq-trigger
  Capture: kexdump-capture (PID 1) mounts the disk labelled kxdump and saves
           crash/<time>-<host>/{dmesg.txt,vmcore,kexdump.json}, then reboots.
  This takes ~1-2 minutes. Lines stamped [seconds] are the VM's serial
  console, in host seconds.

EOF
run=$OUT/crashkernel-$ck
bash tests/vm/capture-cycle.sh "$run" --mem "$mem" --crashkernel "$ck" 2>&1 | indent ||
    die "the capture cycle failed (serial log: $run/serial.log)"
# shellcheck disable=SC1091
source "$run/cycle.env"
[[ $STATUS == complete ]] || die "the capture did not complete (status '$STATUS'); see $run/serial.log"
DUMP=$DUMP_DIR/vmcore

# ------------------------------------------------------------------------
step "What the capture kernel saved (read back from the guest's disk with debugfs)"
say "$ ls -l $DUMP_DIR"
(cd "$DUMP_DIR" && ls -l) | indent
echo
say "kexdump.json:"
indent <"$DUMP_DIR/kexdump.json"
echo
say "dmesg.txt, the last 8 lines:"
tail -8 "$DUMP_DIR/dmesg.txt" | indent
echo
python3 tests/vm/kdump-info.py "$DUMP" | sed 's/^  /  /' || die "kdump-info.py: the dump is marked incomplete"
VMCORE_BYTES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vmcore_bytes"])' "$DUMP_DIR/kexdump.json")
DUMP_BYTES=$(stat -c %s "$DUMP")
say "/proc/vmcore was $(num "$VMCORE_BYTES") bytes; the dump is $(num "$DUMP_BYTES") bytes ($(awk -v a="$DUMP_BYTES" -v b="$VMCORE_BYTES" 'BEGIN{printf "%.1f", 100*a/b}')%)"

# ------------------------------------------------------------------------
step "kexdump inspect: the triage, without a debugger or debug packages"
say "$ kexdump inspect $DUMP"
inspect_out=$run/inspect.txt
"$ROOT/target/release/kexdump" inspect "$DUMP" >"$inspect_out" 2>&1 || die "kexdump inspect failed"
indent <"$inspect_out"
grep -q '^Panic  *sysrq triggered crash$' "$inspect_out" || die "inspect does not name the panic"
grep -q 'sysrq_handle_crash' "$inspect_out" || die "inspect's call chain lacks sysrq_handle_crash"
"$ROOT/target/release/kexdump" verify "$DUMP" | indent || die "kexdump verify failed"

# ------------------------------------------------------------------------
step "crash 8.0.2 reads the dump: sys, bt, log | tail -20"
say "printf 'sys\\nbt\\nlog | tail -20\\nq\\n' | crash -s $VMLINUX $DUMP"
crash_out=$run/crash.txt
set +e
printf 'sys\nbt\nlog | tail -20\nq\n' |
    timeout 300 crash -s "$VMLINUX" "$DUMP" >"$crash_out" 2>&1
crc=$?
set -e
indent <"$crash_out"
((crc == 0)) || die "crash exited $crc"
for want in "RELEASE: $KVER" 'PANIC: "Kernel panic - not syncing: sysrq triggered crash"' \
    'sysrq_handle_crash' 'entry_SYSCALL_64'; do
    grep -qF -- "$want" "$crash_out" || die "crash's output lacks '$want'"
done
say "(crash 8.0.2 cannot walk this kernel's PID hash, hence the warning and TASKS: 3;"
say " it says so for makedumpfile's dumps and the raw vmcore too — see docs/vm-harness.md)"

# ------------------------------------------------------------------------
if ((sweep)); then
    step "How small may crashkernel= be? (one more VM cycle per size)"
    smallest=$ck
    for size in 128M 96M; do
        say "crashkernel=$size ..."
        if bash tests/vm/capture-cycle.sh "$OUT/crashkernel-$size" --mem "$mem" --crashkernel "$size" \
            >"$OUT/crashkernel-$size.log" 2>&1 &&
            grep -q '^STATUS=complete' "$OUT/crashkernel-$size/cycle.env"; then
            ( source "$OUT/crashkernel-$size/cycle.env"
              say "crashkernel=$size: dump saved, panic -> saved ${T_PANIC_TO_SAVED} s" )
            smallest=$size
        else
            say "crashkernel=$size: FAILED: $(grep -m1 -E 'ERROR|FAIL' "$OUT/crashkernel-$size.log" | sed 's/^\[vm [0-9:]*\] //')"
            say "  log: $OUT/crashkernel-$size.log, serial: $OUT/crashkernel-$size/serial.log"
            break
        fi
    done
    say "smallest reservation that saved a dump: crashkernel=$smallest"
fi

# ------------------------------------------------------------------------
step "Summary"
cat <<EOF
  capture initramfs      $(num "$CAPTURE_IMG_BYTES") bytes zstd ($(num "$CAPTURE_CPIO_BYTES") unpacked)
  crashkernel=           $CRASHKERNEL
  panic -> capture init  ${T_PANIC_TO_INIT} s   (capture kernel boot, under TCG)
  module load            ${T_MODULES} s
  find disk + mount      ${T_MOUNT} s
  dmesg.txt              ${T_DMESG} s
  dump                   ${T_DUMP} s
  record, sync, umount   ${T_FINISH} s
  panic -> dump saved    ${T_PANIC_TO_SAVED} s
  panic -> reboot        ${T_PANIC_TO_END} s
  the dump               $DUMP
  serial console         $run/serial.log
  crash's output         $crash_out
  demo wall time         $((SECONDS - T_START)) s
EOF
printf '\n%sdemo OK%s\n' "$B" "$N"
