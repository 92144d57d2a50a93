#!/bin/sh
# /init of the capture kernel in kexdump's VM harness (busybox sh).
# Copies /proc/vmcore byte for byte to the raw virtio disk with serial
# "kxout" and writes a one-line record to the disk with serial "kxmeta":
#   KXVMCORE size=<bytes of /proc/vmcore> rc=<dd status> secs=<copy time>
. /lib/kxvm-common.sh


mark "capture init $(uname -r) cmdline: $(cat /proc/cmdline)"
[ -e /proc/vmcore ] || die "no /proc/vmcore"
load_modules
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
