#!/usr/bin/env bash
# tests/vm/capture-cycle.sh — one full kdump cycle in QEMU (TCG) where the
# DUMP ENGINE RUNS IN THE CAPTURE KERNEL: Debian's 6.1 kernel boots, runs the
# workload, arms a capture kernel with `kexec -s -p`, crashes with
# `echo c > /proc/sysrq-trigger`; the capture kernel's /init
# (guest/capture-kexdump-init.sh) mounts an ext4 disk and runs
# `kexdump-capture /proc/vmcore /mnt/crash/<timestamp>/vmcore`, then
# `reboot -f` (QEMU runs with -no-reboot and exits). The host then copies
# /crash out of the disk image with debugfs (no mount, no root).
#
#   tests/vm/capture-cycle.sh OUTDIR [options]
#     --mem SIZE            guest RAM (default 1G)
#     --crashkernel SIZE    crashkernel= reservation (default 256M)
#     --nokaslr             boot the primary with nokaslr; KASLR is on otherwise
#     --smp N               vCPUs of the primary (default 2)
#     --capture-bin FILE    the static kexdump-capture (default
#                           target/x86_64-unknown-linux-gnu/release/kexdump-capture)
#     --capture-args ARGS   options for kexdump-capture, one string
#                           (default: none, i.e. level 31, zstd, kdump format)
#     --disk-size SIZE      the sparse ext4 dump disk (default 1G)
#     --timeout SECS        QEMU time limit (default 900)
#     --keep-work           keep the work directory (disk image, initramfs trees)
#
# Results in OUTDIR (emptied first):
#   crash/<timestamp>/vmcore  the dump as kexdump-capture wrote it in the guest
#   vmcore                    symlink to it
#   serial.log                the stamped serial console (host seconds)
#   cycle.env                 KEY=VALUE facts: sizes and phase times
# Exit status 0 only when the guest saved a dump and the host extracted it.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }

outdir="" mem=1G ck=256M kaslr=1 smp=2 timeout=900 keep=0 disk_size=1G
capture_bin=$ROOT/target/x86_64-unknown-linux-gnu/release/kexdump-capture
capture_args=""
while (($#)); do
    case $1 in
    --mem) mem=$2; shift 2 ;;
    --crashkernel) ck=$2; shift 2 ;;
    --nokaslr) kaslr=0; shift ;;
    --smp) smp=$2; shift 2 ;;
    --capture-bin) capture_bin=$2; shift 2 ;;
    --capture-args) capture_args=$2; shift 2 ;;
    --disk-size) disk_size=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --keep-work) keep=1; shift ;;
    -h | --help) usage 0 ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) [[ -z $outdir ]] || usage; outdir=$1; shift ;;
    esac
done
[[ -n $outdir ]] || usage
mem_mib=$(kx_to_mib "$mem")
ck_mib=$(kx_to_mib "$ck")
((mem_mib > ck_mib + 256)) || kx_die "--mem $mem leaves too little beside crashkernel=$ck"

kx_need_cmds "$KX_QEMU" cpio zstd mkfs.ext4 debugfs python3 objcopy file timeout ldd kexec
kx_need_kernel
[[ -x $capture_bin ]] || kx_die "no kexdump-capture at $capture_bin; build it with:
  RUSTFLAGS='-C target-feature=+crt-static' cargo build --release -p kexdump-engine --bin kexdump-capture --target x86_64-unknown-linux-gnu"
file -L "$capture_bin" | grep -qE 'static(-pie| pie)? linked|statically linked' ||
    kx_die "$capture_bin is not statically linked (build with RUSTFLAGS='-C target-feature=+crt-static')"

mkdir -p "$outdir"
outdir=$(realpath "$outdir")
rm -rf "${outdir:?}"/{crash,vmcore,serial.log,cycle.env}
name=cycle-$(basename "$outdir")
work=$KX_WORK/$name
rm -rf "$work"; mkdir -p "$work"
kx_log "work dir $work"

primary_append="console=ttyS0 crashkernel=$ck"
((kaslr)) || primary_append+=" nokaslr"

# ------------------------------------------------------------------ build --
kx_phase_begin build
croot=$work/capture-root
kx_stage_skeleton "$croot"
kx_stage_busybox "$croot"
kx_stage_modules "$croot" "${KX_MODS_VIRTIO_BLK[@]}" "${KX_MODS_EXT4[@]}"
strip -o "$work/kexdump-capture" "$capture_bin" 2>/dev/null ||
    objcopy --strip-all "$capture_bin" "$work/kexdump-capture"
kx_stage_file "$croot" "$work/kexdump-capture" bin/kexdump-capture 755
kx_stage_init "$croot" "$HERE/guest/capture-kexdump-init.sh"
cat >"$croot/etc/kxcapture.conf" <<EOF
DUMP_SERIAL=kxdump
DUMP_ARGS='$capture_args'
EOF
# A 1 MiB zstd window: unpacking then needs ~5 MiB less of the reservation
# (KX_CAPTURE_WLOG= empty: zstd's default, a window as large as the archive).
kx_make_cpio "$croot" "$work/capture.img" zstd "${KX_CAPTURE_WLOG-20}"
capture_img_bytes=$(stat -c %s "$work/capture.img")
capture_cpio_bytes=$(zstd -qdc "$work/capture.img" | wc -c)
capture_bin_bytes=$(stat -c %s "$work/kexdump-capture")
capture_mods=$(paste -sd' ' "$croot/lib/modules/load-order")

kx_build_primary "$work" "$work/capture.img" "$mem_mib" "$ck_mib" -s
kx_make_dump_disk "$work/dump.ext4" "$disk_size" kxdump
kx_phase_end build
kx_log "capture initramfs: $capture_img_bytes bytes zstd ($capture_cpio_bytes unpacked): busybox, kexdump-capture ($capture_bin_bytes bytes stripped), modules: $capture_mods"
kx_log "primary initramfs: $(stat -c %s "$work/primary.img") bytes"

# -------------------------------------------------------------------- run --
kx_log "booting: -m $mem -smp $smp, append: $primary_append"
log=$work/serial.log
kx_phase_begin qemu
t_qemu0=$(kx_now)
rc=0
kx_qemu_run --log "$log" --timeout "$timeout" --mem "$mem" --smp "$smp" \
    --initrd "$work/primary.img" --append "$primary_append" \
    --disk "$work/work.ext4,kxwork" --disk "$work/dump.ext4,kxdump" || rc=$?
t_qemu_exit=$(awk -v a="$t_qemu0" -v b="$(kx_now)" 'BEGIN{printf "%.2f", b-a}')
kx_phase_end qemu
cp "$log" "$outdir/serial.log"
grep -E 'KXVM:|kexdump-capture' "$log" >&2 || true
((rc == 0)) || kx_die "QEMU exited $rc; see $outdir/serial.log"
if grep -q 'KXVM: FAIL' "$log"; then
    grep -B15 -m1 'KXVM: FAIL' "$log" | sed 's/^/  | /' >&2
    kx_die "guest failed: $(grep -m1 'KXVM: FAIL' "$log")"
fi
if ! grep -q 'KXVM: capture init' "$log"; then
    grep -q 'Kernel panic - not syncing' "$log" || kx_die "the primary never crashed; see $outdir/serial.log"
    if awk '/Kernel panic - not syncing/ {p = 1} p && /Out of memory|out_of_memory|deadlocked on memory/ {f = 1} END {exit !f}' "$log"; then
        kx_die "the capture kernel ran out of memory before /init (crashkernel=$ck is too small); see $outdir/serial.log"
    fi
    kx_die "the capture kernel never reached /init; see $outdir/serial.log"
fi
grep -q 'KXVM: capture unmounted' "$log" || kx_die "the capture /init did not finish; see $outdir/serial.log"

# In-guest phases, from the host stamps on the serial log.
mt() { kx_log_marker_time "$log" "$1"; }
t_init=$(mt 'KXVM: primary init')
t_wl=$(mt 'KXVM: workload done')
t_armed=$(mt 'KXVM: armed')
t_panic=$(mt 'Kernel panic - not syncing')
t_cinit=$(mt 'KXVM: capture init')
t_mods=$(mt 'KXVM: capture modules loaded')
t_mount=$(mt 'KXVM: capture mounted')
t_save0=$(mt 'KXVM: capture saving')
t_saved=$(mt 'KXVM: capture saved')
t_umount=$(mt 'KXVM: capture unmounted')
t_reboot=$(mt 'KXVM: capture rebooting')
sub() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }
vmcore_bytes=$(sed -n 's/.*KXVM: capture vmcore \([0-9]*\) bytes.*/\1/p' "$log" | head -n1)
capture_memtotal_kb=$(sed -n 's/.*KXVM: capture vmcore .*MemTotal: \([0-9]*\) kB.*/\1/p' "$log" | head -n1)
capture_line=$(grep -m1 'kexdump-capture: saved' "$log" | sed 's/^\[ *[0-9.]*\] //')
save_s=$(sub "$t_save0" "$t_saved")

kx_phase_record "  boot to primary /init" "$t_init"
kx_phase_record "  workload" "$(sub "$t_init" "$t_wl")"
kx_phase_record "  kexec -s -p (arm)" "$(sub "$t_wl" "$t_armed")"
kx_phase_record "  panic -> capture /init" "$(sub "$t_panic" "$t_cinit")"
kx_phase_record "  capture module load" "$(sub "$t_cinit" "$t_mods")"
kx_phase_record "  find disk + mount ext4" "$(sub "$t_mods" "$t_mount")"
kx_phase_record "  save (kexdump-capture)" "$save_s"
kx_phase_record "  sync + umount" "$(sub "$t_saved" "$t_umount")"
kx_phase_record "  reboot -> QEMU exit" "$(sub "$t_reboot" "$t_qemu_exit")"
kx_phase_record "  panic -> dump saved" "$(sub "$t_panic" "$t_saved")"
kx_phase_record "  panic -> QEMU exit" "$(sub "$t_panic" "$t_qemu_exit")"

# ---------------------------------------------------------------- extract --
kx_phase_begin extract
debugfs -R "rdump /crash $outdir" "$work/dump.ext4" 2>"$work/debugfs.err" ||
    kx_die "debugfs rdump failed: $(cat "$work/debugfs.err")"
mapfile -t dumps < <(find "$outdir/crash" -type f -name vmcore | LC_ALL=C sort)
((${#dumps[@]} == 1)) || kx_die "expected one crash/*/vmcore in the disk image, found ${#dumps[@]}: $(find "$outdir/crash" | tr '\n' ' ')"
leftover=$(find "$outdir/crash" -name '*.incomplete' | head -n1)
[[ -z $leftover ]] || kx_die "an incomplete dump was left behind: $leftover"
dump=${dumps[0]}
ln -sfn "${dump#"$outdir"/}" "$outdir/vmcore"
dump_bytes=$(stat -c %s "$dump")
kx_phase_end extract

cat >"$outdir/cycle.env" <<EOF
DUMP=$dump
DUMP_BYTES=$dump_bytes
DUMP_DIR_MODE=$(debugfs -R "stat /crash/$(basename "$(dirname "$dump")")" "$work/dump.ext4" 2>/dev/null | sed -n 's/.*Mode: *\([0-7]*\).*/\1/p')
VMCORE_BYTES=$vmcore_bytes
MEM=$mem
CRASHKERNEL=$ck
KASLR=$kaslr
CAPTURE_MEMTOTAL_KB=$capture_memtotal_kb
CAPTURE_IMG_BYTES=$capture_img_bytes
CAPTURE_CPIO_BYTES=$capture_cpio_bytes
CAPTURE_BIN_BYTES=$capture_bin_bytes
CAPTURE_MODULES='$capture_mods'
CAPTURE_LINE='$capture_line'
T_BOOT_PRIMARY=$t_init
T_WORKLOAD=$(sub "$t_init" "$t_wl")
T_ARM=$(sub "$t_wl" "$t_armed")
T_PANIC_TO_INIT=$(sub "$t_panic" "$t_cinit")
T_MODULES=$(sub "$t_cinit" "$t_mods")
T_MOUNT=$(sub "$t_mods" "$t_mount")
T_SAVE=$save_s
T_UMOUNT=$(sub "$t_saved" "$t_umount")
T_REBOOT=$(sub "$t_reboot" "$t_qemu_exit")
T_PANIC_TO_SAVED=$(sub "$t_panic" "$t_saved")
T_PANIC_TO_EXIT=$(sub "$t_panic" "$t_qemu_exit")
SAVE_MBPS_IN=$(awk -v b="$vmcore_bytes" -v s="$save_s" 'BEGIN{ if (s > 0) printf "%.0f", b/1e6/s; else print "?" }')
EOF

((keep)) || rm -rf "$work/primary-root" "$work/capture-root" "$work/work.ext4" "$work/primary.img" "$work/dump.ext4"
kx_log "dump: $dump ($dump_bytes bytes, from a $vmcore_bytes-byte /proc/vmcore)"
kx_log "guest: $capture_line"
kx_phase_summary >&2
