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
#
#   tests/vm/systemd-test.sh        Prints PASS/FAIL per check; the last
#                                   line is "N passed, N failed".
# The work directory ($KX_CACHE/systemd-test) is kept for inspection.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

kx_need_cmds debootstrap mkfs.ext4 debugfs systemctl depmod crash python3 make dpkg-deb chroot
kx_need_kernel
[[ -f $KX_VMLINUX ]] || kx_die "no debug vmlinux at $KX_VMLINUX (run: bash scripts/deps.sh)"
[[ $(id -u) -eq 0 ]] || kx_die "building the root file system (debootstrap, file owners) needs root"

MIRROR=${KEXDUMP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS_TAR=$KX_CACHE/rootfs-bookworm-systemd.tar
ROOT_UUID=6b657864-756d-7000-0000-000000000010
OUT=$KX_CACHE/systemd-test

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

# --- this machine's root: kernel, kexdump, configuration -----------------
rm -rf "$OUT" && mkdir -p "$OUT"
R=$OUT/rootfs
mkdir "$R" && tar -C "$R" -xf "$ROOTFS_TAR"
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
boot() {
    kx_qemu_run --log "$OUT/$1.log" --timeout 1200 --mem 2G --smp 2 \
        --initrd "$OUT/primary.img" --append "$APPEND" --disk "$OUT/root.img,root"
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
    finish
fi
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
finish
