#!/usr/bin/env bash
# tests/vm/net-smoke.sh — the network the remote tests rely on, without
# kexdump: a busybox guest on kx_qemu_run --net (virtio-net on QEMU's user
# network, restrict=on) with the servers of servers.sh behind guestfwd rules.
# Checks: slirp's DHCP answers under restrict=on (10.0.2.15/24 from 10.0.2.2;
# with restrict=on the offer carries no router and no DNS option); a connection to 10.0.2.100:22 reaches the test's sshd (its
# banner); the host (10.0.2.2, even our sshd's port) is unreachable; the
# kernel's NFSv4 client mounts the ganesha export at 10.0.2.100:/kxdump and
# writes a file as root that the host finds with the same bytes, owned by
# root, mode 0600.
#
#   tests/vm/net-smoke.sh [OUTDIR]     (default $KX_CACHE/net-smoke)
# Prints PASS/FAIL per check and "N passed, N failed"; ~1 min under TCG.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=servers.sh
source "$HERE/servers.sh"

out=${1:-$KX_CACHE/net-smoke}
kx_need_cmds "$KX_QEMU" cpio zstd python3 file
kx_need_kernel
kx_srv_need_pkgs
rm -rf "$out"; mkdir -p "$out" || kx_die "cannot create $out"
out=$(realpath "$out")
work=$KX_WORK/net-smoke
rm -rf "$work"; mkdir -p "$work" || kx_die "cannot create $work"
export KX_SRV_LOGDIR=$work
trap kx_srv_stop_all EXIT

passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

kx_srv_sshd "$work/ssh"
kx_srv_nfs "$work/nfs"
root=$work/root
kx_stage_skeleton "$root"
kx_stage_busybox "$root"
kx_stage_modules "$root" virtio_pci virtio_net nfsv4
kx_stage_init "$root" "$HERE/guest/net-smoke-init.sh"
printf 'SSHD_PORT=%s\nNFS_EXPORT=%s\n' "$KX_SSHD_PORT" "$KX_NFS_EXPORT" >"$root/etc/kxnet.conf"
kx_make_cpio "$root" "$work/smoke.img" zstd
rc=0
kx_qemu_run --log "$work/serial.log" --timeout 300 --mem 512M --smp 1 \
    --initrd "$work/smoke.img" --append "console=ttyS0 quiet" \
    --net "$(kx_srv_guestfwd 10.0.2.100:22 "$KX_SSHD_PORT" "$work/guestfwd.log")" \
    --net "$(kx_srv_guestfwd 10.0.2.100:2049 "$KX_NFS_PORT" "$work/guestfwd.log")" || rc=$?
kx_srv_stop_all
cp "$work/serial.log" "$work/serial.log.cmd" "$out/" 2>/dev/null
cp "$work/ssh/sshd.log" "$work/nfs/ganesha.log" "$work/guestfwd.log" "$out/" 2>/dev/null
grep -E 'KXVM: net' "$out/serial.log" | sed 's/^/    /'
log=$out/serial.log
if ((rc == 0)); then pass "the VM ran to its poweroff"; else fail "QEMU exited $rc"; fi
if grep -q 'KXVM: net smoke done' "$log"; then pass "the guest finished its checks"; else fail "the guest did not finish (see $log)"; fi
# libslirp (bootp.c) leaves the router and DNS options out of its offer
# when restricted: a DHCP client must not need them (the servers are
# on-link, 10.0.2.100 in 10.0.2.0/24).
if grep -qE 'KXVM: net dhcp lease: ip=10\.0\.2\.15 mask=24 router= dns= serverid=10\.0\.2\.2' "$log"; then
    pass "slirp's DHCP answers under restrict=on: 10.0.2.15/24 from 10.0.2.2, no router, no DNS option"
else
    fail "DHCP under restrict=on: $(grep -m1 'KXVM: net dhcp' "$log")"
fi
if grep -qE 'KXVM: net ssh banner via 10\.0\.2\.100:22: SSH-2\.0-OpenSSH' "$log"; then
    pass "10.0.2.100:22 reaches the test's sshd (banner)"
else
    fail "no sshd banner through the guestfwd"
fi
if grep -q "KXVM: net host 10.0.2.2:$KX_SSHD_PORT unreachable" "$log"; then
    pass "restrict=on: the host's 127.0.0.1:$KX_SSHD_PORT is out of the guest's reach at 10.0.2.2"
else
    fail "the guest reached the host through 10.0.2.2"
fi
sha=$(sed -n 's/.*KXVM: net nfs wrote smoke\/data sha256 \([0-9a-f]*\).*/\1/p' "$log")
f=$work/nfs/export/smoke/data
if [[ -n $sha && -f $f && $(sha256sum "$f" | cut -d' ' -f1) == "$sha" ]]; then
    pass "NFSv4 mount of 10.0.2.100:$KX_NFS_EXPORT: 4 MiB written by the guest, same bytes on the host"
else
    fail "NFSv4 write through ganesha (guest sha256 ${sha:-none}; host $(ls -l "$f" 2>&1))"
fi
if [[ -f $f && $(stat -c '%u:%g %a' "$f") == "0:0 600" && $(stat -c '%u %a' "${f%/*}") == "0 700" ]]; then
    pass "no root squash: the file is root's, 0600, in a 0700 directory"
else
    fail "owner/modes on the export: $(stat -c '%n %u:%g %a' "$f" "${f%/*}" 2>&1)"
fi
echo "$passed passed, $failed failed"
((failed == 0))
