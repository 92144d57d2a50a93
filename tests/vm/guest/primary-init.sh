#!/bin/sh
# /init of the primary (crashing) kernel in kexdump's VM harness.
# busybox sh. Config comes from /etc/kxvm.conf (written by make-vmcore.sh).
# Lines starting with "KXVM:" are markers the host parses; keep them stable.
. /lib/kxvm-common.sh
mount -t tmpfs -o size=90% tmp /tmp
. /etc/kxvm.conf


mark "primary init $(uname -r) cmdline: $(cat /proc/cmdline)"

load_modules
mark "modules loaded"

work=$(disk_by_serial kxwork) || die "no disk with serial kxwork"
mount -t ext4 /dev/$work /mnt || die "mount /dev/$work"
mark "work disk /dev/$work mounted"

# ---- workload: every page class a dump level can filter must exist ----
# Sizes in MiB come from kxvm.conf (scaled by the host to the guest RAM).
# 1. clean page cache (file-backed, not swap-backed): read a seeded file.
cat /mnt/seed.bin >/dev/null
# 2. written page cache, synced (clean again) and some left dirty.
dd if=/mnt/seed.bin of=/mnt/written.bin bs=1M count=$WL_WRITTEN 2>/dev/null
sync
dd if=/mnt/seed.bin of=/mnt/dirty.bin bs=1M count=$WL_DIRTY skip=$WL_WRITTEN 2>/dev/null
# 3. shmem/tmpfs (swap-backed cache): random data and all-zero data.
dd if=/mnt/seed.bin of=/tmp/shm.bin bs=1M count=$WL_SHM 2>/dev/null
dd if=/dev/zero of=/tmp/zero.bin bs=1M count=$WL_SHM_ZERO 2>/dev/null
# 4. freed pages holding non-zero data: fill tmpfs, then delete.
dd if=/mnt/seed.bin of=/tmp/freed.bin bs=1M count=$WL_FREED 2>/dev/null
rm -f /tmp/freed.bin
mark "page cache, shmem and freed pages done"
# 5. anonymous memory, text: a shell holding a base64 string in its heap.
mkfifo /tmp/anon-ready /tmp/zero-fifo
sh -c 'x=$(head -c '$((WL_ANON * 3 / 4 * 1048576))' /mnt/seed.bin | base64); echo "${#x}" >/tmp/anon-ready; while :; do sleep 3600; done' &
read anon_len </tmp/anon-ready
# 6. anonymous memory, zeros: dd's buffer, filled from /dev/zero, blocked
#    writing into a pipe nobody reads.
sleep 999999 </tmp/zero-fifo &
dd if=/dev/zero of=/tmp/zero-fifo bs=${WL_ANON_ZERO}M count=2 2>/dev/null &
sleep 1
mark "anonymous memory done (string of $anon_len bytes, ${WL_ANON_ZERO}M zero buffer)"
# 7. the matrix workload (make-vmcore.sh --workload matrix): /bin/kxmem
#    makes anonymous THP, hugetlb pages in use (and some reserved but free),
#    large page-cache folios on a tmpfs mounted huge=always, shmem, slab and
#    free pages, then sleeps with all of it mapped while the guest panics.
if [ "$WORKLOAD" = matrix ]; then
    echo "$MX_HUGEPAGES" >/proc/sys/vm/nr_hugepages || die "nr_hugepages=$MX_HUGEPAGES"
    mkdir -p /huge /thp
    mount -t hugetlbfs -o pagesize=2M hugetlbfs /huge || die "mount hugetlbfs"
    mount -t tmpfs -o huge=always,size=$((MX_TMPFS * 2))m thp /thp || die "mount tmpfs huge=always"
    grep -E '^(AnonHugePages|HugePages_Total|HugePages_Free|ShmemHugePages|Slab):' /proc/meminfo |
        sed 's/^/KXVM: meminfo before kxmem /'
    /bin/kxmem ready=/tmp/kxmem.ready thp=$MX_THP hugetlb_anon=$MX_HUGETLB_ANON \
        hugetlb_file=/huge/kxmem hugetlb_file_pages=$MX_HUGETLB_FILE tmpfs=/thp tmpfs_mib=$MX_TMPFS \
        shmem_mib=$MX_SHMEM slab_dir=/tmp/slab files=$MX_FILES dirs=$MX_DIRS sockets=$MX_SOCKETS \
        free_mib=$MX_FREE &
    kxmem_pid=$!
    i=0
    while [ ! -s /tmp/kxmem.ready ]; do
        kill -0 $kxmem_pid 2>/dev/null || die "kxmem exited before it was ready"
        i=$((i + 1))
        [ $i -lt 1200 ] || die "kxmem not ready after 600 s"
        sleep 0.5
    done
    grep -E '^(AnonHugePages|HugePages_Total|HugePages_Free|Hugepagesize|ShmemHugePages|ShmemPmdMapped|FileHugePages|Slab|SReclaimable|SUnreclaim|Shmem):' /proc/meminfo |
        sed 's/^/KXVM: matrix meminfo /'
    mark "matrix workload done (kxmem pid $kxmem_pid)"
fi
grep -E '^(MemTotal|MemFree|Buffers|Cached|Shmem|AnonPages|Dirty|Active\(file\)|Inactive\(file\)):' /proc/meminfo |
    sed 's/^/KXVM: meminfo /'
mark "workload done"

# ---- arm the capture kernel and crash ----
if [ -x /boot/arm.sh ]; then
    /boot/arm.sh || die "arm.sh"
else
    kexec $KEXEC_FLAGS -p /boot/vmlinuz --initrd=/boot/capture.img \
        --append="$CAPTURE_APPEND" || die "kexec -p $KEXEC_FLAGS"
fi
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || die "kexec_crash_loaded != 1"
mark "armed (kexec_crash_size $(cat /sys/kernel/kexec_crash_size))"
mark "crashing now"
echo c >/proc/sysrq-trigger
die "still alive after sysrq-trigger"
