#!/usr/bin/env bash
# scripts/build-capture.sh — build the static, stripped kexdump-capture that
# `kexdump initramfs` puts into the capture initramfs as /init, and check it
# is static. Prints its path.
#
#   RUSTFLAGS: +crt-static links glibc statically (the capture initramfs has
#   no libraries); strip=symbols drops the symbols and debug info, which
#   would otherwise be ~11 MB of the image's unpacked size, i.e. of the
#   crashkernel= reservation. Needs build-essential (libc.a).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TARGET=x86_64-unknown-linux-gnu
RUSTFLAGS="-C target-feature=+crt-static -C strip=symbols" \
    cargo build --release --locked -p kexdump-engine --bin kexdump-capture --target "$TARGET" >&2
cap=$PWD/target/$TARGET/release/kexdump-capture
if ldd "$cap" 2>&1 | grep -q '=>'; then
    echo "build-capture: $cap links shared libraries:" >&2
    ldd "$cap" >&2
    exit 1
fi
echo "build-capture: $cap is static ($(stat -c %s "$cap") bytes)" >&2
echo "$cap"
