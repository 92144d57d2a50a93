#!/usr/bin/env bash
# scripts/build-deb.sh — build the Debian package from this workspace:
# stripped kexdump and static kexdump-capture, the systemd unit, the kernel
# and udev hooks, completions, man pages and /etc/kexdump.toml as a
# conffile (what `make install` installs, staged and packed with dpkg-deb;
# no debhelper needed). Prints the .deb's path.
#
#   bash scripts/build-deb.sh            -> target/debian/kexdump_<version>_amd64.deb
#   sudo apt-get install ./target/debian/kexdump_*.deb
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v dpkg-deb >/dev/null || { echo "build-deb: needs dpkg-deb (dpkg)" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
[[ -n $version ]] || { echo "build-deb: no workspace version in Cargo.toml" >&2; exit 1; }
arch=$(dpkg --print-architecture)
[[ $arch == amd64 ]] || { echo "build-deb: the capture binary is built for x86_64 only, not $arch" >&2; exit 1; }

cargo build --release --locked --bin kexdump >&2
bash scripts/build-capture.sh >/dev/null

out=target/debian
stage=$out/kexdump_${version}_$arch
rm -rf "$stage" && mkdir -p "$stage"
make -s install DESTDIR="$PWD/$stage" >&2
# The example configuration is the package's conffile, whatever the build
# machine's /etc holds (make install keeps an existing one).
install -m 0644 etc/kexdump.toml "$stage/etc/kexdump.toml"
strip --strip-unneeded "$stage/usr/bin/kexdump"
gzip -9n "$stage"/usr/share/man/man1/*.1 "$stage"/usr/share/man/man5/*.5
install -d -m 0755 "$stage/usr/share/doc/kexdump"
install -m 0644 README.md "$stage/usr/share/doc/kexdump/README.md"

install -d -m 0755 "$stage/DEBIAN"
size_kib=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size_kib/" \
    packaging/debian/control >"$stage/DEBIAN/control"
(cd "$stage" && find etc -type f | sed 's|^|/|' | sort) >"$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "packaging/debian/$s" "$stage/DEBIAN/$s"; done

deb=$out/kexdump_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
rm -rf "$stage"
echo "build-deb: $deb ($(stat -c %s "$deb") bytes)" >&2
echo "$PWD/$deb"
