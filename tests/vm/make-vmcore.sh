#!/usr/bin/env bash
# tests/vm/make-vmcore.sh — produce a REAL /proc/vmcore of a Debian kernel
# (6.1, or KEXDUMP_KVER=<release> from scripts/matrix-deps.sh) from a kdump
# cycle in QEMU (TCG), after a workload.
#
#   tests/vm/make-vmcore.sh OUT_PATH [options]
#     --mem SIZE            guest RAM (default 1G)
#     --crashkernel SIZE    crashkernel= reservation (default 256M)
#     --nokaslr             boot the primary with nokaslr (for gdb); KASLR is
#                           on otherwise
#     --smp N               vCPUs of the primary (default 2)
#     --kexec file|load     kexec_file_load (`kexec -s -p`, default) or
#                           kexec_load (`kexec -c -p`)
#     --capture-initrd FILE use FILE as the capture initramfs instead of the
#                           busybox one; its /init must honour the contract
#                           of guest/capture-init.sh (disks kxout, kxmeta)
#     --primary-overlay DIR copy DIR over the primary initramfs root; an
#                           executable /boot/arm.sh there replaces the
#                           built-in `kexec -p` (e.g. by `kexdump arm`)
#     --workload default|matrix
#                           matrix adds guest/kxmem.c (built static into the
#                           cache) after the default workload: anonymous
#                           THP, hugetlb pages in use, tmpfs huge=always
#                           (large folios), shmem, slab, free pages; the
#                           run fails unless the guest's /proc/meminfo shows
#                           AnonHugePages, hugetlb pages in use and
#                           ShmemHugePages
#     --timeout SECS        QEMU time limit (default 900)
#     --keep-work           keep the work directory (disks, initramfs, logs)
#
# OUT_PATH becomes a byte-exact copy of /proc/vmcore as the capture kernel
# saw it after `echo c > /proc/sysrq-trigger`. Work files go to
# $KX_WORK/<name of OUT_PATH>/ (under the cache); the serial log stays there.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }

out="" mem=1G ck=256M kaslr=1 smp=2 kexec_mode=file capture_initrd="" overlay=""
timeout=900 keep=0 workload=default
while (($#)); do
    case $1 in
    --mem) mem=$2; shift 2 ;;
    --crashkernel) ck=$2; shift 2 ;;
    --nokaslr) kaslr=0; shift ;;
    --smp) smp=$2; shift 2 ;;
    --kexec) kexec_mode=$2; shift 2 ;;
    --capture-initrd) capture_initrd=$(realpath "$2"); shift 2 ;;
    --primary-overlay) overlay=$(realpath "$2"); shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --workload) workload=$2; shift 2 ;;
    --keep-work) keep=1; shift ;;
    -h | --help) usage 0 ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) [[ -z $out ]] || usage; out=$1; shift ;;
    esac
done
[[ -n $out ]] || usage
case $kexec_mode in
file) kexec_flags=-s ;;
load) kexec_flags=-c ;;
*) kx_die "--kexec must be file or load" ;;
esac
[[ $workload == default || $workload == matrix ]] || kx_die "--workload must be default or matrix"

mem_mib=$(kx_to_mib "$mem")
ck_mib=$(kx_to_mib "$ck")
((mem_mib > ck_mib + 256)) || kx_die "--mem $mem leaves too little beside crashkernel=$ck"

kx_need_cmds "$KX_QEMU" cpio zstd mkfs.ext4 python3 objcopy file timeout ldd
kx_need_kernel
command -v kexec >/dev/null || [[ -n $overlay ]] || kx_die "kexec not found (apt-get install kexec-tools)"

name=$(basename "$out"); name=${name%.vmcore}
work=$KX_WORK/$name
rm -rf "$work"; mkdir -p "$work"
kx_log "work dir $work"

primary_append="console=ttyS0 crashkernel=$ck"
((kaslr)) || primary_append+=" nokaslr"

# ------------------------------------------------------------------ build --
kx_phase_begin build
if [[ -z $capture_initrd ]]; then
    croot=$work/capture-root
    kx_stage_skeleton "$croot"
    kx_stage_busybox "$croot"
    kx_stage_modules "$croot" "${KX_MODS_VIRTIO_BLK[@]}"
    kx_stage_init "$croot" "$HERE/guest/capture-init.sh"
    kx_make_cpio "$croot" "$work/capture.img" zstd
    capture_initrd=$work/capture.img
fi

# The crashing guest (primary.img) and its ext4 work disk with seeded data;
# then the raw vmcore target and a small record disk the capture /init
# writes its one-line result to.
kx_build_primary "$work" "$capture_initrd" "$mem_mib" "$ck_mib" "$kexec_flags" "$overlay" "$workload"
kx_make_raw_disk "$work/vmcore.raw" $((mem_mib + 128))M
kx_make_raw_disk "$work/meta.raw" 1M
kx_phase_end build
kx_log "capture initramfs $(stat -c %s "$capture_initrd") bytes, primary initramfs $(stat -c %s "$work/primary.img") bytes"

# -------------------------------------------------------------------- run --
kx_log "booting: -m $mem -smp $smp, append: $primary_append (kexec $kexec_mode)"
log=$work/serial.log
kx_phase_begin qemu
rc=0
kx_qemu_run --log "$log" --timeout "$timeout" --mem "$mem" --smp "$smp" \
    --initrd "$work/primary.img" --append "$primary_append" \
    --disk "$work/work.ext4,kxwork" --disk "$work/vmcore.raw,kxout" \
    --disk "$work/meta.raw,kxmeta" || rc=$?
kx_phase_end qemu
grep 'KXVM:' "$log" >&2 || true
((rc == 0)) || kx_die "QEMU exited $rc; see $log"
grep -q 'KXVM: FAIL' "$log" && kx_die "guest failed: $(grep -m1 'KXVM: FAIL' "$log")"
if [[ $workload == matrix ]]; then
    # The workload must have made what the matrix tests rely on.
    grep -E 'KXMEM: ' "$log" >&2 || true
    grep -q 'KXMEM: ready' "$log" || kx_die "kxmem never got ready; see $log"
    mx() { sed -n "s/.*KXVM: matrix meminfo $1: *\([0-9]*\).*/\1/p" "$log" | head -n1; }
    anon_huge=$(mx AnonHugePages) hp_total=$(mx HugePages_Total) hp_free=$(mx HugePages_Free)
    shmem_huge=$(mx ShmemHugePages) slab=$(mx Slab)
    kx_log "matrix meminfo: AnonHugePages ${anon_huge:-?} kB, HugePages_Total ${hp_total:-?}, HugePages_Free ${hp_free:-?}, ShmemHugePages ${shmem_huge:-?} kB, Slab ${slab:-?} kB"
    [[ -n $anon_huge && -n $hp_total && -n $hp_free && -n $shmem_huge && -n $slab ]] ||
        kx_die "the matrix meminfo lines are missing from $log"
    ((anon_huge > 0)) || kx_die "no anonymous THP in the guest (AnonHugePages 0)"
    ((hp_total > 0 && hp_free < hp_total)) || kx_die "no hugetlb pages in use (HugePages_Total $hp_total, Free $hp_free)"
    ((shmem_huge > 0)) || kx_die "no large tmpfs folios (ShmemHugePages 0)"
fi

# In-guest phases, from the host stamps on the serial log.
t_init=$(kx_log_marker_time "$log" 'KXVM: primary init')
t_wl=$(kx_log_marker_time "$log" 'KXVM: workload done')
t_armed=$(kx_log_marker_time "$log" 'KXVM: armed')
t_cinit=$(kx_log_marker_time "$log" 'KXVM: capture init')
t_copy=$(kx_log_marker_time "$log" 'KXVM: copying /proc/vmcore')
t_done=$(kx_log_marker_time "$log" 'KXVM: copy done')
sub() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }
kx_phase_record "  boot to primary /init" "$t_init"
kx_phase_record "  workload" "$(sub "$t_init" "$t_wl")"
kx_phase_record "  kexec load (arm)" "$(sub "$t_wl" "$t_armed")"
kx_phase_record "  crash to capture /init" "$(sub "$t_armed" "$t_cinit")"
kx_phase_record "  capture modules+disks" "$(sub "$t_cinit" "$t_copy")"
kx_phase_record "  copy /proc/vmcore" "$(sub "$t_copy" "$t_done")"

# ---------------------------------------------------------------- extract --
kx_phase_begin extract
record=$(head -c 512 "$work/meta.raw" | tr -d '\0' | head -n1)
[[ $record =~ ^KXVMCORE\ size=([0-9]+)\ rc=([0-9]+) ]] || kx_die "no record on the meta disk: '$record'"
size=${BASH_REMATCH[1]} ddrc=${BASH_REMATCH[2]}
((ddrc == 0)) || kx_die "dd in the capture kernel failed (rc=$ddrc)"
elf_size=$(kx_elf_core_size "$work/vmcore.raw")
((elf_size == size)) || kx_die "ELF size $elf_size != /proc/vmcore size $size"
truncate -s "$size" "$work/vmcore.raw"
mkdir -p "$(dirname "$out")"
mv -f "$work/vmcore.raw" "$out.part" && mv -f "$out.part" "$out"
kx_phase_end extract
cp "$log" "${out%.vmcore}.serial.log"
((keep)) || rm -f "$work/work.ext4" "$work/primary.img" "$work/meta.raw"
((keep)) || rm -rf "$work/primary-root" "$work/capture-root"

kx_log "wrote $out ($size bytes; $(du -k "$out" | cut -f1) KiB allocated)"
kx_phase_summary >&2
