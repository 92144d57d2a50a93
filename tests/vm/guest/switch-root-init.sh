#!/bin/sh
# /init of the systemd test's primary initramfs: load the virtio disk and
# ext4 modules, mount the Debian root file system (the disk with serial
# "root") read-write and hand over to its systemd. Debian's own initramfs
# would do the same with 20 MB more; this one is built by the harness.
. /lib/kxvm-common.sh
load_modules
dev=$(disk_by_serial root) || die "no disk with serial root"
mkdir -p /newroot
mount -t ext4 -o rw "/dev/$dev" /newroot || die "mounting /dev/$dev"
mark "switching to systemd on /dev/$dev"
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
