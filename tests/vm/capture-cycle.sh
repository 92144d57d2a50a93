#!/usr/bin/env bash
# tests/vm/capture-cycle.sh — one full kdump cycle in QEMU (TCG), the way an
# operator's machine runs it: Debian's 6.1 kernel boots (KASLR on) with
# crashkernel=, runs a workload, and `kexdump arm` loads the capture kernel
# with the capture initramfs that `kexdump initramfs` built (kexec_file_load);
# then `echo c > /proc/sysrq-trigger`. In the capture kernel the static
# `kexdump-capture` is PID 1: it loads the disk and file-system modules,
# finds the dump disk by LABEL/UUID, saves dmesg.txt, the dump and
# kexdump.json under crash/<time>-<host>/, and reboots (QEMU runs with
# -no-reboot and exits). The host then reads the dump disk back (debugfs for
# ext4, a read-back VM for xfs: no mount, no root).
#
#   tests/vm/capture-cycle.sh OUTDIR [options]
#     --mem SIZE            guest RAM (default 1G)
#     --crashkernel SIZE    crashkernel= reservation (default 256M)
#     --nokaslr             boot the primary with nokaslr
#     --smp N               vCPUs of the primary (default 2)
#     --fs ext4|xfs         the dump disk's file system (default ext4)
#     --bus virtio|nvme     the dump disk's controller (default virtio)
#     --disk-size SIZE      the sparse dump disk (default 1G)
#     --no-disk             no dump disk at all (the target is missing)
#     --disk-ro             the dump disk is read-only to the guests
#     --disk-late           the dump disk is plugged in (virtio) only when the
#                           capture starts waiting for it
#     --seed-dumps N        put N earlier captures (crash/2020010<i>-000000-old/,
#                           1 MB each) on the ext4 disk, for retention tests
#     --target SPEC         what the capture looks for (default LABEL=kxdump;
#                           the disk has that label and UUID $KX_DUMP_UUID)
#     --wait SECS           how long the capture waits for it (default 30)
#     --failure-action A    reboot|poweroff|halt (default reboot)
#     --initramfs-args ARGS more options for `kexdump initramfs`, one string
#                           (e.g. "--level 1 --compress zlib")
#     --kexdump FILE        the host CLI (default target/release/kexdump)
#     --capture-bin FILE    the static kexdump-capture (default
#                           target/x86_64-unknown-linux-gnu/release/kexdump-capture)
#     --timeout SECS        QEMU time limit (default 900)
#     --keep-work           keep the work directory (disk images, initramfs)
#   Faults (tests/vm/fault-tests.sh):
#     --kill-at PATTERN[+DELAY]  a power cut: SIGKILL QEMU DELAY seconds
#                           after the first serial line matching the extended
#                           regex PATTERN (e.g. 'kexdump-capture: +[5-9][0-9]%').
#                           The cycle fails if no line matches. The guest's RAM
#                           and page cache are lost, every write QEMU completed
#                           stays in the image.
#     --blkdebug RULES      put the dump disk behind QEMU's blkdebug driver
#                           with this rules file (cache=writeback, errors
#                           reported to the guest)
#     --fault-at PATTERN[+DELAY]=HMP  after that serial line, run the monitor
#                           command HMP (e.g. qemu-io kxd1 "write -z 0 512" to
#                           move blkdebug's state; the dump disk is drive kxd1)
#   After a fault the dump disk is read back from a copy whose journal was
#   replayed: e2fsck -fy for ext4 (its log in fsck.log, exit in cycle.env),
#   the read-back VM's mount for xfs.
#
# Results in OUTDIR (emptied first):
#   fs/                   the dump disk's files, as the capture left them
#   dump                  symlink to fs/crash/<time>-<host>/ (when one exists)
#   serial.log            the stamped serial console (host seconds)
#   initramfs.txt         `kexdump initramfs` report
#   cycle.env             KEY=VALUE facts: sizes, phase times, the status
#   fault.txt             what --kill-at / --fault-at did, and after which line
#   fsck.log              e2fsck's output on the copy (ext4, after a fault)
# Exit status 0 when the VM ran to its end (rebooted or powered off) — or was
# killed by --kill-at as asked — and the disk was read back; what was saved
# is for the caller to judge.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }

outdir="" mem=1G ck=256M kaslr=1 smp=2 timeout=900 keep=0 disk_size=1G
fs=ext4 bus=virtio disk=1 seed_dumps=0 target=LABEL=kxdump wait=30 failure_action=reboot initramfs_args=""
kill_at="" fault_at="" blkdebug="" disk_ro=0 disk_late=0
kexdump=$ROOT/target/release/kexdump
capture_bin=$ROOT/target/x86_64-unknown-linux-gnu/release/kexdump-capture
while (($#)); do
    case $1 in
    --mem) mem=$2; shift 2 ;;
    --crashkernel) ck=$2; shift 2 ;;
    --nokaslr) kaslr=0; shift ;;
    --smp) smp=$2; shift 2 ;;
    --fs) fs=$2; shift 2 ;;
    --bus) bus=$2; shift 2 ;;
    --disk-size) disk_size=$2; shift 2 ;;
    --no-disk) disk=0; shift ;;
    --disk-ro) disk_ro=1; shift ;;
    --disk-late) disk_late=1; shift ;;
    --seed-dumps) seed_dumps=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --wait) wait=$2; shift 2 ;;
    --failure-action) failure_action=$2; shift 2 ;;
    --initramfs-args) initramfs_args=$2; shift 2 ;;
    --kexdump) kexdump=$(realpath "$2"); shift 2 ;;
    --capture-bin) capture_bin=$(realpath "$2"); shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --keep-work) keep=1; shift ;;
    --kill-at) kill_at=$2; shift 2 ;;
    --fault-at) fault_at=$2; shift 2 ;;
    --blkdebug) blkdebug=$(realpath "$2"); shift 2 ;;
    -h | --help) usage 0 ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) [[ -z $outdir ]] || usage; outdir=$1; shift ;;
    esac
done
[[ -n $outdir ]] || usage
[[ -n $kill_at && -n $fault_at ]] && kx_die "--kill-at and --fault-at: one fault per cycle"
[[ -n $blkdebug && ! -f $blkdebug ]] && kx_die "no blkdebug rules file $blkdebug"
[[ -n $fault_at && $fault_at != *=* ]] && kx_die "--fault-at PATTERN[+DELAY]=HMP: no monitor command"
mem_mib=$(kx_to_mib "$mem")
ck_mib=$(kx_to_mib "$ck")
((mem_mib > ck_mib + 256)) || kx_die "--mem $mem leaves too little beside crashkernel=$ck"

kx_need_cmds "$KX_QEMU" cpio zstd mkfs.ext4 debugfs python3 objcopy file timeout ldd tar
[[ $fs == xfs ]] && kx_need_cmds mkfs.xfs
kx_need_kernel
[[ -x $kexdump ]] || kx_die "no kexdump at $kexdump (cargo build --release)"
[[ -x $capture_bin ]] || kx_die "no kexdump-capture at $capture_bin; build it with:
  bash scripts/build-capture.sh"

mkdir -p "$outdir"
outdir=$(realpath "$outdir")
rm -rf "${outdir:?}"/{fs,fs.read-back.log,dump,serial.log,cycle.env,initramfs.txt,fault.txt,fsck.log,blkdebug.conf}
name=cycle-$(basename "$outdir")
work=$KX_WORK/$name
rm -rf "$work"; mkdir -p "$work"
kx_log "work dir $work"

primary_append="console=ttyS0 crashkernel=$ck"
((kaslr)) || primary_append+=" nokaslr"

# ------------------------------------------------------------------ build --
kx_phase_begin build
# The capture initramfs, built by kexdump itself from Debian's module tree.
# shellcheck disable=SC2086 # initramfs_args is a word list on purpose
"$kexdump" initramfs --output "$work/capture.img" --target "$target" --fstype "$fs" --bus "$bus" \
    --modules-dir "$KX_MODDIR" --capture-bin "$capture_bin" --wait-seconds "$wait" \
    --failure-action "$failure_action" $initramfs_args >"$outdir/initramfs.txt" 2>&1 ||
    kx_die "kexdump initramfs failed: $(cat "$outdir/initramfs.txt")"
sed 's/^/  | /' "$outdir/initramfs.txt" >&2
capture_img_bytes=$(stat -c %s "$work/capture.img")
capture_cpio_bytes=$(zstd -qdc "$work/capture.img" | wc -c)

# The primary gets the host CLI (dynamic; its libraries come along) and an
# arm.sh that names the machine and runs `kexdump arm`.
overlay=$work/overlay
mkdir -p "$overlay/boot"
kx_copy_bin "$overlay" "$kexdump" /usr/bin/kexdump
cat >"$overlay/boot/arm.sh" <<'EOF'
#!/bin/sh
hostname kxvm-primary
/usr/bin/kexdump arm --kernel /boot/vmlinuz --initrd /boot/capture.img
EOF
chmod 755 "$overlay/boot/arm.sh"
kx_build_primary "$work" "$work/capture.img" "$mem_mib" "$ck_mib" -s "$overlay"
disk_args=()
if ((disk)); then
    seed=""
    if ((seed_dumps > 0)); then
        seed=$work/seed
        install -d -m 700 "$seed/crash"
        for i in $(seq 1 "$seed_dumps"); do
            d=$seed/crash/2020010$i-000000-old
            install -d -m 700 "$d"
            printf '{"schema": "kexdump.capture/1", "status": "complete"}\n' >"$d/kexdump.json"
            head -c 1048576 /dev/zero >"$d/vmcore"
            chmod 600 "$d/kexdump.json" "$d/vmcore"
        done
    fi
    kx_make_dump_disk "$work/dump.img" "$disk_size" kxdump "$fs" "$seed"
    disk_args=(--disk "$work/dump.img,kxdump,$bus${blkdebug:+,$blkdebug}")
    ((disk_ro)) && disk_args=(--disk "$work/dump.img,kxdump,$bus,ro")
    if ((disk_late)); then
        [[ -z $fault_at && -z $kill_at ]] || kx_die "--disk-late uses the monitor: no other fault"
        disk_args=(--disk "$work/dump.img,kxdump,virtio,late")
        fault_at="kexdump-capture: waiting up to+2=device_add virtio-blk-pci,drive=kxd1,serial=kxdump,id=kxlate"
    fi
    [[ -n $blkdebug ]] && cp "$blkdebug" "$outdir/blkdebug.conf"
fi
kx_phase_end build
kx_log "capture initramfs: $capture_img_bytes bytes zstd ($capture_cpio_bytes unpacked)"

# -------------------------------------------------------------------- run --
kx_log "booting: -m $mem -smp $smp, append: $primary_append; dump disk: $( ((disk)) && echo "$fs on $bus, $disk_size" || echo none)"
log=$work/serial.log
kx_phase_begin qemu
t_qemu0=$(kx_now)
rc=0
fault_args=()
[[ -n $kill_at ]] && fault_args=(--kill-at "$kill_at")
[[ -n $fault_at ]] && fault_args=(--fault-at "$fault_at")
kx_qemu_run --log "$log" --timeout "$timeout" --mem "$mem" --smp "$smp" \
    --initrd "$work/primary.img" --append "$primary_append" \
    --disk "$work/work.ext4,kxwork" "${disk_args[@]}" "${fault_args[@]}" || rc=$?
t_qemu_exit=$(awk -v a="$t_qemu0" -v b="$(kx_now)" 'BEGIN{printf "%.2f", b-a}')
kx_phase_end qemu
cp "$log" "$outdir/serial.log"
grep -E 'KXVM:|kexdump-capture:|kexdump arm|armed' "$log" >&2 || true
killed=0
if [[ -n $kill_at || -n $fault_at ]]; then
    [[ -f $log.fault ]] || kx_die "the fault was never injected: $(cat "$log.fault.none" 2>/dev/null || echo "QEMU exited $rc first"); see $outdir/serial.log"
    cp "$log.fault" "$outdir/fault.txt"
    sed 's/^/  fault: /' "$log.fault" >&2
fi
if [[ -n $kill_at ]]; then
    ((rc == 137)) || kx_die "QEMU exited $rc after the power cut (expected 137: SIGKILL); see $outdir/serial.log"
    killed=1
else
    ((rc == 0)) || kx_die "QEMU exited $rc (124: timed out after ${timeout}s); see $outdir/serial.log"
fi
if [[ -n $fault_at ]] && tail -n +2 "$log.fault" | grep -qiE 'error|failed|not found|unknown|no such'; then
    kx_die "the monitor command failed: $(tail -n +2 "$log.fault")"
fi
if grep -q 'KXVM: FAIL' "$log"; then
    grep -B15 -m1 'KXVM: FAIL' "$log" | sed 's/^/  | /' >&2
    kx_die "guest failed: $(grep -m1 'KXVM: FAIL' "$log")"
fi
if ! grep -q 'kexdump-capture: kexdump .* capture:' "$log"; then
    grep -q 'Kernel panic - not syncing' "$log" || kx_die "the primary never crashed; see $outdir/serial.log"
    if awk '/Kernel panic - not syncing/ {p = 1} p && /Out of memory|out_of_memory|deadlocked on memory/ {f = 1} END {exit !f}' "$log"; then
        kx_die "the capture kernel ran out of memory before /init (crashkernel=$ck is too small); see $outdir/serial.log"
    fi
    kx_die "the capture kernel never started kexdump-capture; see $outdir/serial.log"
fi
end_line=$(grep -m1 -E 'kexdump-capture: (reboot|poweroff|halt) \(after' "$log" || true)
((killed)) || [[ -n $end_line ]] || kx_die "kexdump-capture never reached its final action; see $outdir/serial.log"

# Phases, from the host stamps on the serial log.
mt() { kx_log_marker_time "$log" "$1" || true; }  # "" when the step never ran
sub() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}' || echo ""; }
t_armed=$(mt 'KXVM: armed')
t_panic=$(mt 'Kernel panic - not syncing')
t_cinit=$(mt 'kexdump-capture: kexdump .* capture:')
t_mods=$(mt 'kexdump-capture: loaded [0-9]+ of')
t_mount=$(mt 'kexdump-capture: mounted')
t_dmesg=$(mt 'kexdump-capture: saved dmesg.txt')
t_saved=$(mt 'kexdump-capture: (saved vmcore|ERROR: the dump)')
t_end=$(mt 'kexdump-capture: (reboot|poweroff|halt) \(after')
kx_phase_record "  panic -> capture init" "$(sub "$t_panic" "$t_cinit")"
kx_phase_record "  module load" "$(sub "$t_cinit" "$t_mods")"
kx_phase_record "  find disk + mount" "$(sub "$t_mods" "$t_mount")"
kx_phase_record "  dmesg.txt" "$(sub "$t_mount" "$t_dmesg")"
kx_phase_record "  dump" "$(sub "$t_dmesg" "$t_saved")"
kx_phase_record "  record, sync, umount" "$(sub "$t_saved" "$t_end")"
kx_phase_record "  final action -> QEMU exit" "$(sub "$t_end" "$t_qemu_exit")"
kx_phase_record "  panic -> final action" "$(sub "$t_panic" "$t_end")"

# ---------------------------------------------------------------- extract --
dump_dir=""
status=""
if ((disk)); then
    kx_phase_begin extract
    img=$work/dump.img
    fsck_rc=""
    if ((killed)) || [[ -n $blkdebug ]]; then
        # What a reboot would find: the journal replayed, on a copy.
        cp --sparse=always "$img" "$work/dump-replayed.img"
        img=$work/dump-replayed.img
        if [[ $fs == ext4 ]]; then
            fsck_rc=0
            e2fsck -fy "$img" >"$outdir/fsck.log" 2>&1 || fsck_rc=$?
            kx_log "e2fsck -fy on the copy: exit $fsck_rc"
        fi
    fi
    kx_read_back "$img" "$fs" "$outdir/fs"
    mapfile -t dirs < <(find "$outdir/fs/crash" -mindepth 1 -maxdepth 1 -type d ! -name '*-old' 2>/dev/null | LC_ALL=C sort)
    if ((${#dirs[@]} == 1)); then
        dump_dir=${dirs[0]}
        ln -sfn "${dump_dir#"$outdir"/}" "$outdir/dump"
        # After a fault the record may be cut: "unreadable" is for the caller to judge.
        if [[ -f $dump_dir/kexdump.json ]]; then
            status=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$dump_dir/kexdump.json" 2>/dev/null) ||
                status=unreadable
        fi
    elif ((${#dirs[@]} > 1)); then
        kx_die "expected one crash/* directory, found: ${dirs[*]}"
    fi
    kx_phase_end extract
fi

cat >"$outdir/cycle.env" <<EOF
DUMP_DIR=$dump_dir
STATUS=$status
KILLED=$killed
FSCK_RC=${fsck_rc:-}
END_LINE='${end_line//\'/}'
MEM=$mem
CRASHKERNEL=$ck
FS=$fs
BUS=$bus
CAPTURE_IMG_BYTES=$capture_img_bytes
CAPTURE_CPIO_BYTES=$capture_cpio_bytes
T_ARMED=$t_armed
T_PANIC_TO_INIT=$(sub "$t_panic" "$t_cinit")
T_MODULES=$(sub "$t_cinit" "$t_mods")
T_MOUNT=$(sub "$t_mods" "$t_mount")
T_DMESG=$(sub "$t_mount" "$t_dmesg")
T_DUMP=$(sub "$t_dmesg" "$t_saved")
T_FINISH=$(sub "$t_saved" "$t_end")
T_PANIC_TO_SAVED=$(sub "$t_panic" "$t_saved")
T_PANIC_TO_END=$(sub "$t_panic" "$t_end")
T_PANIC_TO_EXIT=$(sub "$t_panic" "$t_qemu_exit")
EOF

((keep)) || rm -rf "$work"
kx_log "end: ${end_line#*] }"
[[ -n $dump_dir ]] && kx_log "saved: $(cd "$dump_dir" && ls -l | tail -n +2 | awk '{print $1, $5, $9}' | paste -sd';')"
kx_phase_summary >&2
