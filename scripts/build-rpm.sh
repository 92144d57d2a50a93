#!/usr/bin/env bash
# scripts/build-rpm.sh — build the RPM (packaging/rpm/kexdump.spec) from
# this workspace: the same staged files as scripts/build-deb.sh, stripped.
# Needs rpmbuild (Debian: apt-get install rpm). Prints the .rpm's path.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v rpmbuild >/dev/null || { echo "build-rpm: needs rpmbuild (apt-get install rpm, dnf install rpm-build)" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
cargo build --release --locked --bin kexdump >&2
bash scripts/build-capture.sh >/dev/null

top=$PWD/target/rpm
stage=$top/stage
rm -rf "$top" && mkdir -p "$stage" "$top/out"
make -s install DESTDIR="$stage" >&2
install -m 0644 etc/kexdump.toml "$stage/etc/kexdump.toml"
strip --strip-unneeded "$stage/usr/bin/kexdump"
install -D -m 0644 README.md "$stage/usr/share/doc/kexdump/README.md"
rpmbuild -bb --quiet \
    --define "_topdir $top/build" --define "_rpmdir $top/out" \
    --define "kexdump_version $version" --define "kexdump_stage $stage" \
    packaging/rpm/kexdump.spec >&2
rpm=$(find "$top/out" -name "kexdump-$version-*.rpm" | head -n1)
[[ -n $rpm ]] || { echo "build-rpm: rpmbuild wrote no package" >&2; exit 1; }
rm -rf "$stage" "$top/build"
echo "build-rpm: $rpm ($(stat -c %s "$rpm") bytes)" >&2
echo "$rpm"
