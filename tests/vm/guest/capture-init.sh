#!/bin/sh
# /init of the capture kernel in kexdump's VM harness (busybox sh).
# Copies /proc/vmcore byte for byte to the raw virtio disk with serial
# "kxout" and writes a one-line record to the disk with serial "kxmeta":
#   KXVMCORE size=<bytes of /proc/vmcore> rc=<dd status> secs=<copy time>
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t devtmpfs dev /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys

up() { cut -d' ' -f1 /proc/uptime; }
mark() { echo "KXVM: $* (uptime $(up))"; }
die() { echo "KXVM: FAIL $*"; sync; poweroff -f; sleep 5; reboot -f; }

mark "capture init $(uname -r) cmdline: $(cat /proc/cmdline)"
[ -e /proc/vmcore ] || die "no /proc/vmcore"
for m in $(cat /lib/modules/load-order); do
    insmod /lib/modules/$m.ko || die "insmod $m"
done
disk_by_serial() {
    i=0
    while [ $i -lt 50 ]; do
        for b in /sys/block/vd*; do
            [ -e "$b/serial" ] && [ "$(cat $b/serial)" = "$1" ] && { echo "${b##*/}"; return 0; }
        done
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
out=$(disk_by_serial kxout) || die "no disk with serial kxout"
meta=$(disk_by_serial kxmeta) || die "no disk with serial kxmeta"
size=$(stat -c %s /proc/vmcore)
mark "copying /proc/vmcore ($size bytes) to /dev/$out"
t0=$(date +%s)
dd if=/proc/vmcore of=/dev/$out bs=1M 2>/tmp/dd.err
rc=$?
sync
t1=$(date +%s)
cat /tmp/dd.err
echo "KXVMCORE size=$size rc=$rc secs=$((t1 - t0))" >/dev/$meta
sync
mark "copy done rc=$rc in $((t1 - t0))s"
poweroff -f
sleep 5
reboot -f
