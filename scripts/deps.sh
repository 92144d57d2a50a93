#!/usr/bin/env bash
# Install everything kexdump's build, tests and VM demo need on a fresh Debian
# 12 machine, and fetch the Debian kernel and its debug vmlinux into a cache
# outside the repository. Idempotent: a second run only checks.
#
#   scripts/deps.sh            apt packages + kernel (+ debug vmlinux)
#   scripts/deps.sh --no-dbg   skip the 858 MB debug package (crash/gdb checks
#                              are then skipped by the VM tier)
set -euo pipefail

KVER=${KEXDUMP_KVER:-6.1.0-56-amd64}
CACHE=${KEXDUMP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kexdump}
want_dbg=1
[[ ${1:-} == --no-dbg ]] && want_dbg=0

SUDO=
[[ $(id -u) -eq 0 ]] || SUDO=sudo

pkgs=(qemu-system-x86 crash makedumpfile gdb busybox-static kexec-tools
      e2fsprogs xfsprogs cpio zstd time bc file build-essential libkdumpfile-dev python3-libkdumpfile
      debootstrap systemd kmod
      dnsmasq-base iproute2 iputils-ping
      libelf-dev libdw-dev zlib1g-dev libbz2-dev liblzma-dev liblzo2-dev libsnappy-dev libzstd-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# drgn, a third reader of our dumps (PyPI).
if ! python3 -c 'import drgn' 2>/dev/null; then
    echo "deps: installing drgn 0.3.0 (PyPI)" >&2
    python3 -m pip install -q drgn==0.3.0 >&2 ||
        python3 -m pip install -q --break-system-packages drgn==0.3.0 >&2
fi

mkdir -p "$CACHE"
kdir=$CACHE/linux-$KVER
if [[ ! -f $kdir/boot/vmlinuz-$KVER ]]; then
    echo "deps: fetching linux-image-$KVER into $kdir" >&2
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download "linux-image-$KVER" >&2)
    rm -rf "$kdir.part" && mkdir -p "$kdir.part"
    dpkg -x "$tmp"/linux-image-*.deb "$kdir.part"
    rm -rf "$tmp" "$kdir" && mv "$kdir.part" "$kdir"
fi

dbg=$CACHE/vmlinux-$KVER
if ((want_dbg)) && [[ ! -f $dbg ]]; then
    echo "deps: fetching the debug vmlinux for $KVER (858 MB download, ~1 min to extract)" >&2
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download "linux-image-$KVER-dbg" >&2)
    # Extract only the vmlinux from the data archive.
    (cd "$tmp" && dpkg-deb --fsys-tarfile linux-image-*-dbg*.deb \
        | tar -x --wildcards "./usr/lib/debug/boot/vmlinux-$KVER")
    mv "$tmp/usr/lib/debug/boot/vmlinux-$KVER" "$dbg.part" && mv "$dbg.part" "$dbg"
    rm -rf "$tmp"
fi
# Upstream makedumpfile, the filtering oracle for every kernel (Debian 12's
# 1.7.2 predates the 6.9+ page types): built from the tarball in ../shared.
oracles=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/shared/oracles
if [[ ! -x $CACHE/oracles/makedumpfile-b7587f1 ]]; then
    [[ -f $oracles/build-makedumpfile.sh ]] || { echo "deps: no $oracles/build-makedumpfile.sh (is shared/ beside the repository?)" >&2; exit 1; }
    echo "deps: building upstream makedumpfile (the oracle) into $CACHE/oracles" >&2
    bash "$oracles/build-makedumpfile.sh" "$CACHE/oracles" >/dev/null
fi
command -v cargo >/dev/null || echo "deps: WARNING: no cargo on PATH; install the Rust toolchain (rustup) to build kexdump" >&2
echo "deps: ok (cache $CACHE)" >&2
