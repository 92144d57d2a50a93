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
#      (tests/vm/systemd-test.sh, a debootstrapped Debian root, cached);
#      the kernel matrix (tests/vm/matrix-tests.sh, matrix-analysis.sh):
#      Debian's kernels after a workload of THP, hugetlb, large folios, slab,
#      shmem; kexdump's page sets against upstream makedumpfile, crash and
#      drgn task counts, dmesg and inspect against the oracle; and the
#      capture cycle on the newest kernel (tests/vm/kernel-cycles.sh)
#      the fault tier's CI subset: power cuts and I/O errors in the middle of
#      a capture, what is left judged readable (tests/vm/fault-tests.sh --quick);
#      the network targets: ssh (static, DHCP), NFSv4, fallbacks, slow, cut
#      and silent links, one crash cycle each (tests/vm/remote-tests.sh)
#   6. the network tier (root, no VM): the ssh client and `kexdump propagate`
#      against a real sshd on 127.0.0.1 (tests/ssh-live.sh), the capture
#      kernel's DHCP client and rtnetlink code against dnsmasq in network
#      namespaces (tests/net/netns-test.sh)
#
#   scripts/test.sh            everything, the kernel matrix sampled so a
#                              cold run fits CI's hour on 2 cores: 7.x
#                              (4-level) at levels 1 and 31, the capture
#                              cycle on 7.x 5-level
#   scripts/test.sh --full     the whole matrix: 5.10, 6.1, 6.12, 7.x at
#                              levels 0 1 2 4 8 16 31 and the capture cycle
#                              on every kernel, every fault case (about
#                              2 h more)
#   scripts/test.sh --fast     steps 2-4 only (no downloads beyond crates)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fast=0 full=0
case ${1:-} in
--fast) fast=1 ;;
--full) full=1 ;;
"") ;;
*) echo "usage: scripts/test.sh [--fast|--full]" >&2; exit 2 ;;
esac

step() { printf '\n=== %s\n' "$*"; }

if ((!fast)); then
    step "dependencies (scripts/deps.sh)"
    bash scripts/deps.sh
    # The oracle cross-checks of the fast tier must run, not skip.
    export KEXDUMP_REQUIRE_ORACLES=1
fi

# Every tier runs even when one before it failed (a failure must not hide
# the next tier's results); the run exits non-zero at the end if anything
# failed. A tier that dies without its "N passed, N failed" line counts as
# one failure. The last line is the whole suite's "N passed, N failed".
total_p=0 total_f=0
declare -a tier_lines=()
# tally NAME LOG RC — add the tier's own summary line (or one failure).
tally() {
    local name=$1 log=$2 rc=$3 line p f
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1 || true)
    if [[ -n $line ]]; then
        p=$(awk '{print $1}' <<<"$line"); f=$(awk '{print $3}' <<<"$line")
    else
        p=0 f=0
    fi
    if ((rc != 0 && f == 0)); then f=1; line="${line:+$line, }exited $rc"; fi
    total_p=$((total_p + p)) total_f=$((total_f + f))
    tier_lines+=("$(printf '%-58s %s' "$name:" "${line:-$p passed, $f failed}")")
}
# check NAME CMD... — a step with no counts of its own: one pass or one failure.
check() {
    local name=$1 rc=0 log
    shift
    log=$(mktemp)
    "$@" 2>&1 | tee "$log" || rc=$?
    if ((rc == 0)); then echo "1 passed, 0 failed" >>"$log"; else echo "0 passed, 1 failed" >>"$log"; fi
    tally "$name" "$log" "$rc"
    rm -f "$log"
}

step "cargo fmt --check"
check "cargo fmt --check" cargo fmt --all -- --check

step "cargo clippy -D warnings"
check "cargo clippy -D warnings" cargo clippy --workspace --all-targets --locked -- -D warnings

step "fast tier: cargo test"
rc=0
cargo test --workspace --locked 2>&1 | tee /tmp/kexdump-cargo-test.log || rc=$?
grep -E '^test result:' /tmp/kexdump-cargo-test.log |
    awk '{p += $4; f += $6} END {printf "%d passed, %d failed\n", p, f}' >/tmp/kexdump-cargo-test.sum
tally "fast tier (cargo test)" /tmp/kexdump-cargo-test.sum "$rc"

if ((!fast)); then
    # The network pieces without a VM, against real peers on this machine:
    # the ssh client and `kexdump propagate` against OpenSSH's sshd on
    # 127.0.0.1, the capture kernel's DHCP client and rtnetlink code
    # against dnsmasq in network namespaces. Root; no VM.
    step "network tier: ssh client against sshd (tests/ssh-live.sh)"
    rc=0
    bash tests/ssh-live.sh 2>&1 | tee /tmp/kexdump-ssh-live.log || rc=$?
    grep -E '^test result:' /tmp/kexdump-ssh-live.log |
        awk '{p += $4; f += $6} END {printf "%d passed, %d failed\n", p, f}' >/tmp/kexdump-ssh-live.sum
    tally "network tier: ssh client against sshd" /tmp/kexdump-ssh-live.sum "$rc"
fi

step "release build and the static capture binary"
# The VM tiers need these binaries: without them nothing after can run.
if ! cargo build --release --locked || ! bash scripts/build-capture.sh >/dev/null; then
    echo "the release build failed: the VM tier cannot run"
    echo "$total_p passed, $((total_f + 1)) failed"
    exit 1
fi

if ((!fast)); then
    step "network tier: the capture kernel's DHCP and rtnetlink code against dnsmasq (tests/net/netns-test.sh)"
    check "network tier: DHCP and rtnetlink in network namespaces" bash tests/net/netns-test.sh
    # tier NAME LOG CMD... — one VM tier; its exit status is recorded, not fatal.
    tier() {
        local name=$1 log=$2 rc=0
        shift 2
        step "VM tier: $name"
        "$@" 2>&1 | tee "$log" || rc=$?
        tally "VM tier: $name" "$log" "$rc"
    }
    tier "the engine against makedumpfile, crash and gdb" /tmp/kexdump-vm-engine.log bash tests/vm/engine-tests.sh
    tier "the capture path, one crash cycle per scenario" /tmp/kexdump-vm-capture.log bash tests/vm/capture-tests.sh
    # The network dump targets (ssh/SFTP, NFSv4, fallback, slow, cut and
    # silent links), one crash cycle each, against servers on 127.0.0.1.
    # Needs root. tests/vm/net-smoke.sh checks the network alone (~1 min).
    tier "the network targets, one crash cycle per scenario" /tmp/kexdump-vm-remote.log bash tests/vm/remote-tests.sh
    tier "the service under systemd" /tmp/kexdump-vm-systemd.log bash tests/vm/systemd-test.sh
    if ((full)); then
        tier "faults: power cuts and I/O errors" /tmp/kexdump-vm-faults.log bash tests/vm/fault-tests.sh
    else
        tier "faults: power cuts and I/O errors (--quick)" /tmp/kexdump-vm-faults.log bash tests/vm/fault-tests.sh --quick
    fi
    # The kernel matrix: the sample or (--full) all of it. An operator's
    # KX_MATRIX / KX_MATRIX_LEVELS / KX_PAGING still win.
    if ((full)); then
        export KX_MATRIX=${KX_MATRIX:-5.10 6.1 6.12 7} KX_MATRIX_LEVELS=${KX_MATRIX_LEVELS:-0 1 2 4 8 16 31}
        cycles=(env KX_MATRIX="$KX_MATRIX")
    else
        # The newest kernel, whose page-type scheme is furthest from 6.1's
        # (the engine tier's); the fast tier checks every scheme against the
        # oracle at all 32 levels on synthetic vmcores.
        export KX_MATRIX=${KX_MATRIX:-7} KX_MATRIX_LEVELS=${KX_MATRIX_LEVELS:-1 31}
        cycles=(env KX_MATRIX=7 KX_PAGING=5l)
    fi
    tier "the kernel matrix ($KX_MATRIX; levels $KX_MATRIX_LEVELS): page sets, crash, drgn" \
        /tmp/kexdump-vm-matrix.log env KX_PAGING="${KX_PAGING:-$( ((full)) && echo '4l 5l' || echo 4l)}" \
        bash tests/vm/matrix-tests.sh
    tier "the kernel matrix ($KX_MATRIX): dmesg and inspect" /tmp/kexdump-vm-matrix-analysis.log \
        bash tests/vm/matrix-analysis.sh
    tier "the capture cycle per kernel ($( ((full)) && echo "$KX_MATRIX" || echo '7.x 5-level'))" \
        /tmp/kexdump-vm-cycles.log "${cycles[@]}" bash tests/vm/kernel-cycles.sh
fi

step "summary"
printf '%s\n' "${tier_lines[@]}"
echo "$total_p passed, $total_f failed"
((total_f == 0))
