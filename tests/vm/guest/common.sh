# /lib/kxvm-common.sh — sourced first by every busybox /init of the VM
# harness (primary-init.sh, capture-init.sh, read-back-init.sh):
# console and pseudo file systems, "KXVM:" markers (the host parses them;
# keep them stable), failure handling, module loading, disks by serial.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t devtmpfs dev /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys

up() { cut -d' ' -f1 /proc/uptime; }
mark() { echo "KXVM: $* (uptime $(up))"; }
# die WHAT — say what failed and end the VM (a script may redefine it).
die() { echo "KXVM: FAIL $*"; sync; poweroff -f; sleep 5; reboot -f; }

# load_modules — insmod /lib/modules/load-order in order; sets $n.
load_modules() {
    n=0
    for m in $(cat /lib/modules/load-order); do
        insmod /lib/modules/$m.ko || die "insmod $m"
        n=$((n + 1))
    done
}

# disk_by_serial SERIAL -> vdX (virtio-blk exposes QEMU's serial= value);
# waits up to 5 s for the disk to appear.
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
