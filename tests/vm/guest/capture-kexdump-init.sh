#!/bin/sh
# /init of the capture kernel when the dump engine runs in it (busybox sh;
# a Rust PID 1 replaces this script later). Built by tests/vm/capture-cycle.sh.
#
#   mount proc, sys, devtmpfs; insmod virtio + ext4 (lib/modules/load-order);
#   find the virtio disk whose serial is "kxdump" (from /etc/kxcapture.conf:
#   DUMP_SERIAL, DUMP_ARGS); mount it ext4 at /mnt; mkdir -m 0700
#   /mnt/crash/<timestamp>; kexdump-capture /proc/vmcore .../vmcore; sync;
#   umount; reboot -f (QEMU runs with -no-reboot, so it exits).
#
# Lines starting with "KXVM:" are markers the host parses (capture-cycle.sh
# times the phases from them); keep them stable. Any failure prints
# "KXVM: FAIL <what>" and still reboots, so a broken run ends in seconds.
. /lib/kxvm-common.sh

DUMP_SERIAL=kxdump
DUMP_ARGS=""
[ -f /etc/kxcapture.conf ] && . /etc/kxcapture.conf

finish() {
    sync
    grep -q ' /mnt ' /proc/mounts && { umount /mnt || mark "umount /mnt failed"; }
    mark "capture rebooting"
    reboot -f
    sleep 5
    poweroff -f
}
die() { echo "KXVM: FAIL $*"; finish; }

mark "capture init $(uname -r) cmdline: $(cat /proc/cmdline)"
[ -e /proc/vmcore ] || die "no /proc/vmcore (not a capture kernel?)"
mark "capture vmcore $(stat -c %s /proc/vmcore) bytes, $(grep MemTotal /proc/meminfo | tr -s ' ')"

load_modules
mark "capture modules loaded ($n)"

disk=$(disk_by_serial "$DUMP_SERIAL") || die "no disk with serial $DUMP_SERIAL"
mount -t ext4 /dev/$disk /mnt || die "mount -t ext4 /dev/$disk /mnt"
mark "capture mounted /dev/$disk on /mnt"

ts=$(date -u +%Y%m%d-%H%M%S)
dir=/mnt/crash/$ts
mkdir -p -m 700 /mnt/crash && chmod 700 /mnt/crash || die "mkdir /mnt/crash"
mkdir -m 700 "$dir" || die "mkdir $dir"
mark "capture saving /proc/vmcore to $dir/vmcore with: kexdump-capture $DUMP_ARGS"
# shellcheck disable=SC2086 # DUMP_ARGS is a word list on purpose
/bin/kexdump-capture $DUMP_ARGS /proc/vmcore "$dir/vmcore"
rc=$?
[ $rc -eq 0 ] || die "kexdump-capture exited $rc"
mark "capture saved $dir/vmcore ($(stat -c %s "$dir/vmcore") bytes)"
sync
umount /mnt || die "umount /mnt"
mark "capture unmounted"
finish
