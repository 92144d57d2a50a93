#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine:
#   1. installs what it needs (scripts/deps.sh: apt packages, Debian's kernel
#      and its debug vmlinux, cached under ~/.cache/kexdump)
#   2. fmt and clippy, clean
#   3. the fast tier: unit and synthetic-vmcore tests (no VM, no root)
#   4. the static capture binary builds and is static
#   5. the VM tier: real vmcores from a kdump cycle in QEMU (TCG), read back
#      by makedumpfile, crash and gdb (tests/vm/engine-tests.sh)
#
#   scripts/test.sh            everything
#   scripts/test.sh --fast     steps 2-4 only (no downloads beyond crates)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fast=0
[[ ${1:-} == --fast ]] && fast=1

step() { printf '\n=== %s\n' "$*"; }

if ((!fast)); then
    step "dependencies (scripts/deps.sh)"
    bash scripts/deps.sh
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "fast tier: cargo test"
cargo test --workspace --locked 2>&1 | tee /tmp/kexdump-cargo-test.log
fast_summary=$(grep -E '^test result:' /tmp/kexdump-cargo-test.log |
    awk '{p += $4; f += $6} END {printf "%d passed, %d failed", p, f}')

step "release build and the static capture binary"
cargo build --release --locked
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked -p kexdump-engine --bin kexdump-capture --target x86_64-unknown-linux-gnu
cap=target/x86_64-unknown-linux-gnu/release/kexdump-capture
if ldd "$cap" 2>&1 | grep -q '=>'; then
    echo "FAIL: $cap links shared libraries:"; ldd "$cap"
    exit 1
fi
echo "kexdump-capture is static: $(ldd "$cap" 2>&1 | head -1 | xargs)"

if ((fast)); then
    echo "fast tier: $fast_summary"
    exit 0
fi

step "VM tier: the engine against makedumpfile, crash and gdb on real vmcores"
bash tests/vm/engine-tests.sh | tee /tmp/kexdump-vm-tier.log
vm_summary=$(tail -1 /tmp/kexdump-vm-tier.log)

step "summary"
echo "fast tier (cargo test): $fast_summary"
echo "VM tier: $vm_summary"
p=$(( $(echo "$fast_summary" | awk '{print $1}') + $(echo "$vm_summary" | awk '{print $1}') ))
f=$(( $(echo "$fast_summary" | awk '{print $3}') + $(echo "$vm_summary" | awk '{print $3}') ))
echo "$p passed, $f failed"
((f == 0))
