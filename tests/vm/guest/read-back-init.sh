#!/bin/sh
# /init of the read-back VM (kx_read_back in lib.sh; busybox sh): mount the
# disk with serial "kxdump" read-only and write a tar of its whole file
# system onto the raw disk with serial "kxout", so the host can read a file
# system it cannot mount without root (xfs).
. /lib/kxvm-common.sh
. /etc/kxread.conf
load_modules
src=$(disk_by_serial kxdump) || die "no disk with serial kxdump"
out=$(disk_by_serial kxout) || die "no disk with serial kxout"
mount -t "$FSTYPE" -o ro /dev/$src /mnt || die "mount -t $FSTYPE /dev/$src"
# What the mount did (xfs: log recovery after a power cut), for the host.
dmesg | grep -iE "$FSTYPE|recover" | sed 's/^/KXVM: kernel: /'
(cd /mnt && tar -cf /dev/$out .) || die "tar of /mnt"
umount /mnt
sync
mark "read-back done"
poweroff -f
