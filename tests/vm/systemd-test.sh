#!/usr/bin/env bash
# tests/vm/systemd-test.sh — the operator's service under a real systemd:
# a Debian 12 root file system (debootstrap, cached) with Debian's 6.1
# kernel and its modules, kexdump installed from its .deb
# (scripts/build-deb.sh, then `apt-get install ./kexdump_*.deb` in the root),
# the default configuration as installed (no edits: dumps go into
# /var/crash, which does not exist yet, on the root file system found by its
# UUID), and `systemctl enable kexdump`.
#
#   boot 1  kexdump.service arms at boot; `kexdump status` exits 0 and says
#           ARMED; `kexdump test --yes` crashes the machine; the capture
#           kernel saves the dump into /var/crash and the VM stops
#   boot 2  the service arms again; `kexdump status` exits 0 and reports the
#           self-test PASSED (also in --json); `kexdump list` shows the dump;
#           the /etc/kernel/postinst.d hook re-arms through the service
#   boot 3  without crashkernel=: kexdump.service failed (not skipped), its
#           journal naming the fix (`kexdump crashkernel set auto`)
#   host    the dump read back from the root image: its kexdump.json carries
#           the test id of /var/lib/kexdump/test.json, modes 0700/0600, and
#           crash opens it with the sysrq panic named
#   boot 4  a remote ssh target, armed by the service. Before it, on the
#           host: the test sshd (tests/vm/servers.sh: SFTP only, chrooted, on
#           127.0.0.1, reached by the guest as 10.0.2.100:22 through QEMU's
#           guestfwd) and, written into the root image with debugfs, what an
#           operator sets up: /etc/kexdump.toml's target = "ssh://root@
#           10.0.2.100/dumps", /etc/kexdump/id_ed25519 (the key the server
#           authorizes; 0600, directory 0700), /etc/kexdump/known_hosts with
#           the server's host key as `kexdump propagate` records it, a
#           systemd-networkd .network file (DHCP on the NIC, matched by its
#           MAC) and systemd-networkd enabled (the links `systemctl enable`
#           makes). In the guest: networkd's DHCP lease, network-online.target
#           reached before kexdump.service started, `kexdump status` ARMED
#           with the ssh target, `kexdump propagate --yes` finding the host
#           key unchanged and the key authorized, `kexdump test --yes`; the
#           capture kernel brings the NIC up by DHCP and sends the dump over
#           ssh. On the host: the image's etc/kexdump-capture.conf (the VM's
#           MAC, dhcp, the server's host key, the ssh target, virtio_net and
#           virtio_pci) and the ssh key in it; the server received
#           vmcore.flat, dmesg.txt and kexdump.json (complete, the self-test's
#           id); `kexdump verify`, `kexdump convert DIR`, and crash opens it
#
#   tests/vm/systemd-test.sh        Prints PASS/FAIL per check; the last
#                                   line is "N passed, N failed".
# The work directory ($KX_CACHE/systemd-test, or $KEXDUMP_SYSTEMD_TEST_DIR)
# is kept for inspection; the sshd is stopped at exit.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=servers.sh
source "$HERE/servers.sh"

kx_need_cmds debootstrap mkfs.ext4 debugfs systemctl depmod crash python3 make dpkg-deb chroot zstd cpio
kx_need_kernel
[[ -f $KX_VMLINUX ]] || kx_die "no debug vmlinux at $KX_VMLINUX (run: bash scripts/deps.sh)"
[[ $(id -u) -eq 0 ]] || kx_die "building the root file system (debootstrap, file owners) needs root"

MIRROR=${KEXDUMP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS_TAR=$KX_CACHE/rootfs-bookworm-systemd.tar
# The same root with iproute2 (`kexdump arm` runs `ip` to find the way to
# a remote target; minbase has no iproute2): a second cached layer, so the
# first one stays as it was.
ROOTFS_IP_TAR=$KX_CACHE/rootfs-bookworm-systemd-iproute2.tar
ROOT_UUID=6b657864-756d-7000-0000-000000000010
OUT=${KEXDUMP_SYSTEMD_TEST_DIR:-$KX_CACHE/systemd-test}

passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
# expect LOG REGEX WHAT — PASS when LOG has a line matching REGEX.
expect() {
    if grep -Eq "$2" "$1"; then pass "$3"; else fail "$3 (no /$2/ in $1)"; fi
}
finish() { echo "$passed passed, $failed failed"; ((failed == 0)); exit; }

# --- the Debian root, once ---------------------------------------------
if [[ ! -f $ROOTFS_TAR ]]; then
    kx_log "debootstrap bookworm (systemd, udev, kmod) from $MIRROR into the cache"
    part=$KX_CACHE/rootfs-bookworm.part
    rm -rf "$part"
    debootstrap --variant=minbase --include=systemd-sysv,udev,kmod bookworm "$part" "$MIRROR" \
        >"$KX_CACHE/rootfs-bookworm.log" 2>&1 || kx_die "debootstrap failed; see $KX_CACHE/rootfs-bookworm.log"
    rm -rf "$part"/var/cache/apt/archives/*.deb
    tar -C "$part" -cf "$ROOTFS_TAR.part" . && mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
    rm -rf "$part"
fi
if [[ ! -f $ROOTFS_IP_TAR ]]; then
    kx_log "adding iproute2 to the cached root (apt-get in a chroot)"
    part=$(mktemp -d "$KX_CACHE/rootfs-bookworm-iproute2.XXXXXX") || kx_die "mktemp failed"
    tar -C "$part" -xf "$ROOTFS_TAR" || kx_die "cannot unpack $ROOTFS_TAR"
    cp -p "$part/etc/resolv.conf" "$part.resolv.conf" && cp /etc/resolv.conf "$part/etc/resolv.conf"
    { chroot "$part" apt-get update && chroot "$part" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends iproute2; } >"$KX_CACHE/rootfs-bookworm-iproute2.log" 2>&1 ||
        kx_die "apt-get install iproute2 in the root failed; see $KX_CACHE/rootfs-bookworm-iproute2.log"
    mv "$part.resolv.conf" "$part/etc/resolv.conf"
    rm -rf "$part"/var/cache/apt/archives/*.deb
    [[ -x $part/usr/bin/ip || -x $part/bin/ip ]] || kx_die "no ip in the root after installing iproute2"
    tar -C "$part" -cf "$ROOTFS_IP_TAR.part.$$" . && mv "$ROOTFS_IP_TAR.part.$$" "$ROOTFS_IP_TAR"
    rm -rf "$part"
fi
# The servers' packages now, not after three boots.
kx_srv_need_pkgs

# --- this machine's root: kernel, kexdump, configuration -----------------
rm -rf "$OUT" && mkdir -p "$OUT"
R=$OUT/rootfs
mkdir "$R" && tar -C "$R" -xf "$ROOTFS_IP_TAR"
install -D -m 644 "$KX_VMLINUZ" "$R/boot/vmlinuz-$KX_KVER"
mkdir -p "$R/usr/lib/modules"
cp -a "$KX_MODDIR" "$R/usr/lib/modules/"
depmod -b "$R" "$KX_KVER" || kx_die "depmod for the root file system failed"
# Installed as an operator does: the Debian package, with apt.
deb=$(bash "$ROOT/scripts/build-deb.sh" 2>"$OUT/build-deb.log") || kx_die "scripts/build-deb.sh failed; see $OUT/build-deb.log"
cp "$deb" "$R/tmp/"
chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "/tmp/${deb##*/}" \
    >"$OUT/apt-install.log" 2>&1 || kx_die "apt-get install ./${deb##*/} in the root failed; see $OUT/apt-install.log"
rm -f "$R/tmp/${deb##*/}"
# No configuration step: the installed /etc/kexdump.toml is the commented
# example, and its default target /var/crash is made by the first capture.
grep -q '^#target = "/var/crash"' "$R/etc/kexdump.toml" || kx_die "the package did not install the example configuration"
rm -rf "$R/var/crash"
echo kxvm-systemd >"$R/etc/hostname"
echo "UUID=$ROOT_UUID / ext4 rw,errors=remount-ro 0 1" >"$R/etc/fstab"
install -m 755 "$HERE/guest/systemd-driver.sh" "$R/usr/local/sbin/kexdump-vmtest"
install -m 644 "$HERE/guest/kexdump-vmtest.service" "$R/etc/systemd/system/kexdump-vmtest.service"
# What an operator runs (offline here: the same symlinks).
systemctl --root="$R" enable kexdump.service kexdump-vmtest.service >"$OUT/enable.log" 2>&1 ||
    kx_die "systemctl enable failed: $(cat "$OUT/enable.log")"
# The driver writes to ttyS0; no getty competes for it.
systemctl --root="$R" mask serial-getty@ttyS0.service getty@tty1.service >/dev/null 2>&1
# Boot 4 has systemd-networkd enabled, boots 1-3 not (they have no NIC,
# and systemd-networkd-wait-online would wait 2 min for one): the links
# `systemctl enable systemd-networkd` makes are noted here and made in the
# image before boot 4.
links() { find "$R/etc/systemd/system" -type l -printf '%P %l\n' | LC_ALL=C sort; }
links >"$OUT/links.before"
systemctl --root="$R" enable systemd-networkd.service >"$OUT/networkd-enable.log" 2>&1 ||
    kx_die "systemctl enable systemd-networkd failed: $(cat "$OUT/networkd-enable.log")"
links | LC_ALL=C comm -13 "$OUT/links.before" - >"$OUT/networkd.links"
systemctl --root="$R" disable systemd-networkd.service >>"$OUT/networkd-enable.log" 2>&1
links | cmp -s "$OUT/links.before" - || kx_die "systemctl disable systemd-networkd left other links than before"
grep -q '^multi-user.target.wants/systemd-networkd.service ' "$OUT/networkd.links" ||
    kx_die "systemctl enable systemd-networkd made no multi-user.target.wants link: $(cat "$OUT/networkd.links")"
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 -q -F -L kxroot -U "$ROOT_UUID" -d "$R" \
    -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$OUT/root.img" 3G >/dev/null ||
    kx_die "mkfs.ext4 -d of the root failed"
rm -rf "$R"

# --- the primary's initramfs: mount the root, switch_root to systemd ------
kx_stage_skeleton "$OUT/initrd"
kx_stage_busybox "$OUT/initrd"
kx_stage_modules "$OUT/initrd" "${KX_MODS_VIRTIO_BLK[@]}" "${KX_MODS_EXT4[@]}"
kx_stage_init "$OUT/initrd" "$HERE/guest/switch-root-init.sh"
kx_make_cpio "$OUT/initrd" "$OUT/primary.img" zstd
rm -rf "$OUT/initrd"

APPEND="console=ttyS0 crashkernel=128M panic=10 systemd.show_status=1"
APPEND_CK=$APPEND
# boot NAME [kx_qemu_run options...]
boot() {
    local name=$1
    shift
    kx_qemu_run --log "$OUT/$name.log" --timeout 1200 --mem 2G --smp 2 \
        --initrd "$OUT/primary.img" --append "$APPEND" --disk "$OUT/root.img,root" "$@"
}

kx_log "boot 1: systemd arms, kexdump test --yes crashes, the capture kernel saves"
boot boot1 || fail "QEMU (boot 1) exited $?"
B1=$OUT/boot1.log
expect "$B1" 'VMTEST: boot 1' "boot 1: the driver ran under systemd"
expect "$B1" 'VMTEST: enabled=enabled active=active' "boot 1: kexdump.service enabled and active"
expect "$B1" 'kexdump: ARMED' "boot 1: kexdump status says ARMED"
expect "$B1" 'VMTEST: status rc=0' "boot 1: kexdump status exits 0"
expect "$B1" 'self-test [0-9T-]+[0-9a-f]{8}: crashing' "boot 1: kexdump test --yes starts the crash"
expect "$B1" 'Kernel panic - not syncing: sysrq triggered crash' "boot 1: the kernel panics"
expect "$B1" 'kexdump [0-9.]+ capture: target UUID='"$ROOT_UUID" "capture kernel: PID 1 targets the root UUID"
expect "$B1" 'self-test [0-9T-]+[0-9a-f]{8}$' "capture kernel: PID 1 has the test id from its command line"
expect "$B1" "capture complete in" "capture kernel: capture complete"
if grep -q 'VMTEST: kexdump test returned' "$B1"; then fail "boot 1: kexdump test returned instead of crashing"; fi

kx_log "boot 2: systemd arms again, kexdump status reports the self-test"
boot boot2 || fail "QEMU (boot 2) exited $?"
B2=$OUT/boot2.log
expect "$B2" 'VMTEST: boot 2' "boot 2: the driver ran"
expect "$B2" 'VMTEST: status rc=0' "boot 2: kexdump status exits 0 (armed again at boot)"
expect "$B2" 'self-test: +[0-9T-]+[0-9a-f]{8} \(started [^)]*\): PASSED, dump saved in ' "boot 2: status reports the self-test PASSED"
expect "$B2" 'VMTEST-JSON: +"result": "passed"' "boot 2: status --json has the test result passed"
expect "$B2" 'VMTEST: list rc=0' "boot 2: kexdump list exits 0"
expect "$B2" 'VMTEST: postinst hook re-armed: yes' "boot 2: the /etc/kernel/postinst.d hook re-arms (service reload)"
expect "$B2" 'VMTEST: status after the hook rc=0' "boot 2: still armed after the hook"

kx_log "boot 3: no crashkernel=, the unit fails and says how to reserve"
APPEND=${APPEND/crashkernel=128M /}
boot boot3 || fail "QEMU (boot 3) exited $?"
B3=$OUT/boot3.log
expect "$B3" 'VMTEST: boot 3' "boot 3: the driver ran"
expect "$B3" 'VMTEST: unit=failed' "boot 3: without crashkernel= kexdump.service failed (not skipped)"
expect "$B3" 'VMTEST-JOURNAL: .*no crashkernel= reservation.*kexdump crashkernel set auto' "boot 3: its journal gives the fix"

# --- the dump, read back from the root image ------------------------------
debugfs -R "rdump /var/crash $OUT" "$OUT/root.img" 2>"$OUT/debugfs.err" || true
debugfs -R "dump /var/lib/kexdump/test.json $OUT/test.json" "$OUT/root.img" 2>>"$OUT/debugfs.err" || true
dir=$(find "$OUT/crash" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort | tail -1)
if [[ -z $dir || ! -f $OUT/test.json ]]; then
    fail "no dump directory in /var/crash or no test.json on the root image"
else
    if python3 - "$dir/kexdump.json" "$OUT/test.json" <<'PY'; then pass "the dump's record carries the test id, complete"; else fail "record vs test.json"; fi
import json, sys
r = json.load(open(sys.argv[1])); t = json.load(open(sys.argv[2]))
print("record:", r["status"], r.get("test_id"), "test:", t["id"])
sys.exit(0 if r["status"] == "complete" and r.get("test_id") == t["id"] else 1)
PY
    m=$(stat -c %a "$dir"); [[ $m == 700 ]] && pass "dump directory is 0700" || fail "dump directory is $m"
    bad=$(find "$dir" -type f ! -perm 600 | head -1)
    [[ -z $bad ]] && pass "dump files are 0600" || fail "$bad is not 0600"
    if kx_crash_ok "$dir/vmcore" >"$OUT/crash.out" 2>&1; then pass "crash opens the self-test's dump"; else
        fail "crash on the self-test's dump"; tail -20 "$OUT/crash.out"; fi
fi

# --- boot 4: an ssh server, the network by systemd-networkd -------------
kx_log "boot 4: the ssh server; networkd, /etc/kexdump.toml and the keys written into the root image"
trap kx_srv_stop_all EXIT
export KX_SRV_LOGDIR=$OUT/servers
rm -rf "$OUT/servers" "$OUT/etc4" "$OUT/capture4" "$OUT/deb"
mkdir -p "$OUT/servers"
kx_srv_sshd "$OUT/servers/ssh"
URL=ssh://$KX_SSHD_USER@10.0.2.100$KX_SSHD_DUMP_PATH
E=$OUT/etc4
mkdir -p "$E"
# The installed example with its target line set, as an operator edits it.
debugfs -R "dump /etc/kexdump.toml $E/kexdump.toml.installed" "$OUT/root.img" 2>>"$OUT/debugfs.err"
sed 's|^#target = "/var/crash"$|target = "'"$URL"'"|' "$E/kexdump.toml.installed" >"$E/kexdump.toml"
grep -qxF "target = \"$URL\"" "$E/kexdump.toml" || kx_die "could not set the target in the installed /etc/kexdump.toml"
chmod 644 "$E/kexdump.toml"
install -m 600 "$KX_SSH_CLIENT_KEY" "$E/id_ed25519"
install -m 644 "$KX_SSH_CLIENT_KEY.pub" "$E/id_ed25519.pub"
# What `kexdump propagate` records (src/known_hosts.rs): the bare address for port 22.
printf '10.0.2.100 %s\n' "$KX_SSHD_HOSTKEY_PUB" >"$E/known_hosts"
chmod 644 "$E/known_hosts"
printf '%s\n' "# tests/vm/systemd-test.sh, boot 4: the virtio NIC on QEMU's user network, by DHCP" \
    "[Match]" "MACAddress=$KX_NET_MAC" "" "[Network]" "DHCP=ipv4" >"$E/50-kxvm-nic.network"
chmod 644 "$E/50-kxvm-nic.network"
{
    echo "rm /etc/kexdump.toml"
    echo "write $E/kexdump.toml /etc/kexdump.toml"
    echo "mkdir /etc/kexdump"
    echo "sif /etc/kexdump mode 040700"
    for f in id_ed25519 id_ed25519.pub known_hosts; do echo "write $E/$f /etc/kexdump/$f"; done
    echo "write $E/50-kxvm-nic.network /etc/systemd/network/50-kxvm-nic.network"
    while read -r link to; do
        [[ $link == */* ]] && echo "mkdir /etc/systemd/system/${link%/*}"
        echo "symlink /etc/systemd/system/$link $to"
    done <"$OUT/networkd.links"
} >"$E/debugfs.cmds"
debugfs -w -f "$E/debugfs.cmds" "$OUT/root.img" >"$E/debugfs.out" 2>&1
# Read back what the guest will find.
ok=1
for f in /etc/kexdump.toml:kexdump.toml /etc/kexdump/id_ed25519:id_ed25519 /etc/kexdump/known_hosts:known_hosts \
    /etc/systemd/network/50-kxvm-nic.network:50-kxvm-nic.network; do
    debugfs -R "cat ${f%%:*}" "$OUT/root.img" 2>/dev/null | cmp -s - "$E/${f#*:}" || { ok=0; echo "${f%%:*} differs in the image"; }
done
mode() { debugfs -R "stat $1" "$OUT/root.img" 2>/dev/null | sed -n 's/.*Mode: *\([0-7]*\).*/\1/p'; }
[[ $(mode /etc/kexdump) == 0700 && $(mode /etc/kexdump/id_ed25519) == 0600 ]] || { ok=0; echo "/etc/kexdump or its key has the wrong mode"; }
while read -r link to; do
    # debugfs shows the destination of a fast (short) link; of another only its size.
    st=$(debugfs -R "stat /etc/systemd/system/$link" "$OUT/root.img" 2>/dev/null)
    got=$(sed -n 's/^Fast link dest: "\(.*\)"$/\1/p' <<<"$st")
    [[ $got == "$to" ]] || { [[ -z $got ]] && grep -q "Type: symlink" <<<"$st" && grep -q "Size: ${#to}\$" <<<"$st"; } ||
        { ok=0; echo "/etc/systemd/system/$link -> '$got', not $to"; }
done <"$OUT/networkd.links"
if ((ok)); then pass "boot 4 setup: configuration, keys, .network file and networkd's links in the image"; else
    fail "boot 4 setup in the image (debugfs: $E/debugfs.out)"; fi

rule=$(kx_srv_guestfwd "10.0.2.100:22" "$KX_SSHD_PORT" "$OUT/servers/guestfwd.log") || kx_die "kx_srv_guestfwd failed"
APPEND=$APPEND_CK
kx_log "boot 4: networkd's DHCP, the service arms for $URL, kexdump test --yes, the capture sends over ssh"
boot boot4 --net "$rule" || fail "QEMU (boot 4) exited $?"
B4=$OUT/boot4.log
expect "$B4" 'VMTEST: boot 4' "boot 4: the driver ran"
expect "$B4" 'VMTEST: networkd=active online=active unit=active' \
    "boot 4: systemd-networkd active, network-online.target reached, kexdump.service active"
expect "$B4" 'VMTEST-NET: .* inet 10\.0\.2\.15/24 .*dynamic' "boot 4: networkd's DHCP lease (10.0.2.15/24, dynamic)"
expect "$B4" 'VMTEST: kexdump.service after: .*network-online\.target' "boot 4: kexdump.service is ordered after network-online.target"
t_online="" t_arm=""
read -r t_online t_arm < <(sed -n 's/.*VMTEST: network-online at \([0-9]*\), kexdump arm started at \([0-9]*\).*/\1 \2/p' "$B4" | head -1)
if [[ -n $t_online && -n $t_arm ]] && ((t_online > 0 && t_arm >= t_online)); then
    pass "boot 4: kexdump arm started $(((t_arm - t_online) / 1000)) ms after network-online.target"
else
    fail "boot 4: kexdump arm did not start after network-online.target (online ${t_online:-?}, arm ${t_arm:-?})"
fi
expect "$B4" 'kexdump: ARMED' "boot 4: kexdump status says ARMED"
expect "$B4" 'VMTEST: status rc=0' "boot 4: kexdump status exits 0"
expect "$B4" "target: +ssh://root@10\.0\.2\.100(:22)?$KX_SSHD_DUMP_PATH \(remote\): [0-9.]+ MiB free on the server" \
    "boot 4: kexdump status shows the ssh target and the server's free space"
expect "$B4" 'VMTEST: propagate rc=0' "boot 4: kexdump propagate --yes exits 0"
expect "$B4" 'VMTEST-PROPAGATE: +host key: +SHA256:[^ ]+ unchanged in /etc/kexdump/known_hosts' \
    "boot 4: propagate finds the recorded host key unchanged (the known_hosts line is in its format)"
expect "$B4" 'VMTEST-PROPAGATE: +login: +already authorized' "boot 4: propagate logs in with /etc/kexdump/id_ed25519"
expect "$B4" 'VMTEST: status after propagate rc=0' "boot 4: still armed after propagate"
expect "$B4" 'self-test [0-9T-]+[0-9a-f]{8}: crashing' "boot 4: kexdump test --yes starts the crash"
expect "$B4" 'Kernel panic - not syncing: sysrq triggered crash' "boot 4: the kernel panics"
expect "$B4" 'kexdump-capture: network up: [^ ]+ 10\.0\.2\.15/24 \(dhcp\)' "capture kernel (boot 4): network up by DHCP"
expect "$B4" "kexdump-capture: connected to ssh://root@10\.0\.2\.100:22$KX_SSHD_DUMP_PATH" \
    "capture kernel (boot 4): connected to the ssh server"
expect "$B4" 'capture complete in' "capture kernel (boot 4): capture complete"
if grep -q 'VMTEST: kexdump test returned' "$B4"; then fail "boot 4: kexdump test returned instead of crashing"; fi
if grep -q 'kexdump-capture: falling back' "$B4"; then fail "boot 4: the capture fell back"; fi
cp "$KX_SSHD_DIR/sshd.log" "$OUT/server-sshd.log" 2>/dev/null
kx_srv_stop_all

# The image the service built, as the capture kernel read it.
mkdir -p "$OUT/capture4"
debugfs -R "dump /var/lib/kexdump/capture.img $OUT/capture4.img" "$OUT/root.img" 2>>"$OUT/debugfs.err"
(cd "$OUT/capture4" && zstdcat "$OUT/capture4.img" | cpio -id --quiet) 2>"$OUT/capture4.err"
C=$OUT/capture4/etc/kexdump-capture.conf
conf() { sed -n "s/^$1 = //p" "$C" 2>/dev/null; }
want=ssh://root@10.0.2.100:22$KX_SSHD_DUMP_PATH
if [[ $(conf target) == "$want" ]]; then pass "image: target = $want"; else fail "image: target = '$(conf target)'"; fi
if [[ $(conf net_mac) == "$KX_NET_MAC" ]]; then pass "image: net_mac = the VM's MAC ($KX_NET_MAC)"; else
    fail "image: net_mac = '$(conf net_mac)'"; fi
if [[ $(conf net_address) == dhcp ]]; then pass "image: net_address = dhcp (networkd's address is dynamic)"; else
    fail "image: net_address = '$(conf net_address)'"; fi
if [[ $(conf ssh_host_key) == "$KX_SSHD_HOSTKEY_PUB" ]]; then pass "image: ssh_host_key = the server's host key"; else
    fail "image: ssh_host_key = '$(conf ssh_host_key)'"; fi
mods=",$(conf modules),"
if [[ $mods == *,virtio_net,* && $mods == *,virtio_pci,* ]]; then
    pass "image: modules have virtio_net and virtio_pci (the NIC's driver from sysfs, and its transport)"
else
    fail "image: modules = $(conf modules)"
fi
key_in=$(find "$OUT/capture4" -type f -exec cmp -s {} "$KX_SSH_CLIENT_KEY" \; -printf '%P %m\n' | head -1)
if [[ $key_in == *\ 600 ]]; then pass "image: the ssh key is in it (${key_in% *}, 0600)"; else
    fail "image: no copy of the ssh key with mode 0600 ('$key_in')"; fi

# What the server received.
debugfs -R "dump /var/lib/kexdump/test.json $OUT/test4.json" "$OUT/root.img" 2>>"$OUT/debugfs.err"
mapfile -t sdirs < <(find "$KX_SSHD_DUMPS/crash" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | LC_ALL=C sort)
if ((${#sdirs[@]} != 1)); then
    fail "server: expected one crash/* directory, found ${#sdirs[@]}: ${sdirs[*]}"
    finish
fi
sd=${sdirs[0]}
ls -l "$sd" >"$OUT/server-dump.ls"
got=$(cd "$sd" && find . -type f -printf '%P\n' | LC_ALL=C sort | paste -sd' ')
if [[ $got == "dmesg.txt kexdump.json vmcore.flat" ]]; then
    pass "server: ${sd##*/} has dmesg.txt, kexdump.json, vmcore.flat (nothing .incomplete)"
else
    fail "server: ${sd##*/} has: $got"
fi
if python3 - "$sd/kexdump.json" "$OUT/test4.json" <<'PY'; then pass "server: kexdump.json complete, with boot 4's self-test id"; else fail "server: record vs test.json"; fi
import json, sys
r = json.load(open(sys.argv[1])); t = json.load(open(sys.argv[2]))
print("record:", r["status"], r.get("test_id"), "test:", t["id"])
sys.exit(0 if r["status"] == "complete" and r.get("test_id") == t["id"] else 1)
PY
m=$(stat -c %a "$sd"); [[ $m == 700 ]] && pass "server: dump directory is 0700" || fail "server: dump directory is $m"
# The installed kexdump (from the .deb) checks and converts; crash opens the result.
dpkg-deb -x "$deb" "$OUT/deb"
KEXDUMP=$OUT/deb/usr/bin/kexdump
if "$KEXDUMP" verify "$sd/vmcore.flat" >"$OUT/verify4.out" 2>&1; then pass "server: kexdump verify vmcore.flat"; else
    fail "server: kexdump verify vmcore.flat"; tail -5 "$OUT/verify4.out"; fi
if "$KEXDUMP" convert -q "$sd" >"$OUT/convert4.out" 2>&1 && [[ -f $sd/vmcore && ! -e $sd/vmcore.flat ]]; then
    pass "server: kexdump convert DIR made vmcore (vmcore.flat removed)"
else
    fail "server: kexdump convert DIR"; tail -5 "$OUT/convert4.out"; ls -l "$sd"
fi
if kx_crash_ok "$sd/vmcore" >"$OUT/crash4.out" 2>&1; then pass "crash opens the dump sent over ssh"; else
    fail "crash on the dump sent over ssh"; tail -20 "$OUT/crash4.out"; fi
finish
