#!/bin/sh
# /init of the network smoke VM (tests/vm/net-smoke.sh; busybox sh): the NIC
# on QEMU's restricted user network, DHCP from slirp, the guestfwd to the
# test's sshd (its banner), the host unreachable, and an NFSv4 mount of the
# test's ganesha export written as root. Every result is a "KXVM: net ..."
# line; the host judges them.
# shellcheck source=common.sh
. /lib/kxvm-common.sh
# shellcheck source=/dev/null # SSHD_PORT, NFS_EXPORT (net-smoke.sh)
. /etc/kxnet.conf
load_modules
mark "net modules loaded: ${n:?}"
ip link set lo up
i=0
while ! ip link show eth0 >/dev/null 2>&1 && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
ip link show eth0 | sed 's/^/KXVM: net link: /'
ip link set eth0 up || die "ip link set eth0 up"

# DHCP: the lease is printed by a script of our own, nothing configured by it.
cat >/bin/lease.sh <<'S'
#!/bin/sh
[ "$1" = bound ] && echo "KXVM: net dhcp lease: ip=$ip mask=$mask router=$router dns=$dns serverid=$serverid lease=$lease"
exit 0
S
chmod 755 /bin/lease.sh
if udhcpc -i eth0 -n -q -f -t 5 -T 2 -s /bin/lease.sh; then
    mark "net dhcp: answered"
else
    mark "net dhcp: NO ANSWER"
fi
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
ip addr show eth0 | sed 's/^/KXVM: net addr: /'

# The forwarded sshd: its banner.
banner=$( (sleep 3) | nc -w 5 10.0.2.100 22 | head -1)
echo "KXVM: net ssh banner via 10.0.2.100:22: ${banner:-NONE}"
# restrict=on: the host's loopback (slirp's 10.0.2.2) is out of reach, even
# the port our own sshd listens on.
out=$( (sleep 2) | nc -w 3 10.0.2.2 "$SSHD_PORT" 2>&1 | head -1)
case $out in
SSH-*) echo "KXVM: net host 10.0.2.2:$SSHD_PORT REACHABLE: $out" ;;
*) echo "KXVM: net host 10.0.2.2:$SSHD_PORT unreachable (restrict=on): ${out:-no answer}" ;;
esac

# NFSv4 through the guestfwd of 2049, written as root (no root squash).
if mount -t nfs4 -o vers=4.2,proto=tcp,port=2049,timeo=50,retrans=2,addr=10.0.2.100 "10.0.2.100:$NFS_EXPORT" /mnt; then
    grep ' /mnt ' /proc/mounts | sed 's/^/KXVM: net nfs mount: /'
    mkdir -p /mnt/smoke && chmod 700 /mnt/smoke
    dd if=/dev/urandom of=/mnt/smoke/data bs=1M count=4 2>/dev/null && chmod 600 /mnt/smoke/data
    sha=$(sha256sum /mnt/smoke/data | cut -d' ' -f1)
    sync
    umount /mnt && echo "KXVM: net nfs wrote smoke/data sha256 $sha"
else
    echo "KXVM: net nfs mount FAILED"
    dmesg | tail -5 | sed 's/^/KXVM: kernel: /'
fi
mark "net smoke done"
poweroff -f
