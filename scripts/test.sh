#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine:
#   1. installs what it needs (scripts/deps.sh: apt packages, Debian's kernel
#      and its debug vmlinux, cached under ~/.cache/kexdump)
#   2. fmt and clippy, clean
#   3. the fast tier: unit and synthetic-vmcore tests (no VM, no root)
#   4. the static capture binary builds and is static
#   5. the VM tier: real vmcores from a kdump cycle in QEMU (TCG), read back
#      by makedumpfile, crash and gdb (tests/vm/engine-tests.sh); the capture
#      path end to end, one crash cycle per scenario (tests/vm/capture-tests.sh);
#      the operator's service under a real systemd: enable, status, self-test
#      (tests/vm/systemd-test.sh, a debootstrapped Debian root, cached)
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
bash scripts/build-capture.sh >/dev/null

if ((fast)); then
    echo "fast tier: $fast_summary"
    exit 0
fi

step "VM tier: the engine against makedumpfile, crash and gdb on real vmcores"
bash tests/vm/engine-tests.sh | tee /tmp/kexdump-vm-engine.log
step "VM tier: the capture path, one real crash cycle per scenario"
bash tests/vm/capture-tests.sh | tee /tmp/kexdump-vm-capture.log
step "VM tier: the service under systemd: enable at boot, status, kexdump test --yes"
bash tests/vm/systemd-test.sh | tee /tmp/kexdump-vm-systemd.log
vm_summary=$(cat /tmp/kexdump-vm-engine.log /tmp/kexdump-vm-capture.log /tmp/kexdump-vm-systemd.log | grep -E '^[0-9]+ passed, [0-9]+ failed$' |
    awk '{p += $1; f += $3} END {printf "%d passed, %d failed", p, f}')

step "summary"
echo "fast tier (cargo test): $fast_summary"
echo "VM tier: $vm_summary"
p=$(( $(echo "$fast_summary" | awk '{print $1}') + $(echo "$vm_summary" | awk '{print $1}') ))
f=$(( $(echo "$fast_summary" | awk '{print $3}') + $(echo "$vm_summary" | awk '{print $3}') ))
echo "$p passed, $f failed"
((f == 0))
