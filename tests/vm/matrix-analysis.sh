#!/usr/bin/env bash
# tests/vm/matrix-analysis.sh — kexdump dmesg and inspect on the real sysrq
# vmcores of every matrix kernel already in the cache (no VM is started:
# the vmcores come from matrix-tests.sh, which runs before it).
#
#   tests/vm/matrix-analysis.sh [--kexdump PATH]
#
# For each kernel whose vmcore, debug vmlinux and System.map are cached:
#   - kexdump dmesg equals upstream makedumpfile's --dump-dmesg byte for
#     byte (the oracle in $KX_CACHE/oracles), and --no-caller-id equals
#     Debian's makedumpfile 1.7.2 (when installed);
#   - kexdump inspect --json names the panic, the crashing CPU with
#     certainty and a sysrq_handle_crash <- __handle_sysrq <-
#     write_sysrq_trigger chain whose symbols agree with nm of the debug
#     vmlinux (tests/tools/inspect_check.py): from the dump's kallsyms
#     (6.1, 6.12, 7.x place-relative) or, on 5.10 (no kallsyms in
#     VMCOREINFO), from --system-map;
#   - with --vmlinux: every frame's file:line agrees with addr2line;
#   - without any symbols (5.10), the report says what to install.
# Each check prints PASS/FAIL; the last line is "N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

KEXDUMP=$ROOT/target/release/kexdump
[[ ${1:-} == --kexdump ]] && KEXDUMP=$2
[[ -x $KEXDUMP ]] || kx_die "no kexdump binary at $KEXDUMP (cargo build --release)"
kx_need_cmds python3 nm addr2line
ORACLE=$KX_CACHE/oracles/makedumpfile-b7587f1

T=$(mktemp -d "${TMPDIR:-/tmp}/kexdump-matrix-analysis.XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() {
    local name=$1; shift
    if "$@" >"$T/out" 2>&1; then pass "$name"; else fail "$name"; sed 's/^/    /' "$T/out" | tail -20; fi
}

# The vmcore of kernel $1: the newest 4-level matrix one, or 6.1's kaslr-1G.
vmcore_of() {
    local v
    v=$(ls -t "$KX_VMCORES"/matrix-"$1"-4l-*.vmcore 2>/dev/null | head -1)
    [[ -z $v && $1 == 6.1.0-56-amd64 ]] && v=$KX_VMCORES/kaslr-1G.vmcore
    [[ -f $v ]] && echo "$v"
}

dmesg_oracle() {
    rm -f "$T/md.txt"
    "$ORACLE" --dump-dmesg "$1" "$T/md.txt" >/dev/null 2>&1 || return 1
    "$KEXDUMP" dmesg "$1" >"$T/kd.txt" || return 1
    grep -q 'sysrq triggered crash' "$T/kd.txt" && cmp "$T/md.txt" "$T/kd.txt" &&
        echo "$(wc -l <"$T/kd.txt") lines identical"
}
dmesg_172() {
    rm -f "$T/md.txt"
    makedumpfile --dump-dmesg "$1" "$T/md.txt" >/dev/null 2>&1 || return 1
    "$KEXDUMP" dmesg --no-caller-id "$1" >"$T/kd.txt" || return 1
    cmp "$T/md.txt" "$T/kd.txt"
}
# inspect_ok NM VMCORE [ARGS...] [-- VMLINUX]: JSON checked against nm
# (and addr2line when a vmlinux follows --).
inspect_ok() {
    local nm=$1 core=$2; shift 2
    local args=() lines=()
    while (($#)); do
        if [[ $1 == -- ]]; then lines=("$2"); shift 2; else args+=("$1"); shift; fi
    done
    "$KEXDUMP" inspect --json "${args[@]}" "$core" >"$T/inspect.json" || return 1
    python3 "$ROOT/tests/tools/inspect_check.py" "$T/inspect.json" "$nm" "${lines[@]}"
}
says_what_to_install() {
    "$KEXDUMP" inspect --symbol-root "$T/empty-root" "$1" >"$T/inspect.txt" || return 1
    grep -q "apt-get install linux-image-$2-dbg" "$T/inspect.txt" || { cat "$T/inspect.txt"; return 1; }
}
mkdir -p "$T/empty-root"

# The kernels of the matrix (scripts/matrix-deps.sh), KX_MATRIX's subset:
# a kernel asked for whose vmcore, oracle or symbols are missing fails.
[[ -s $KX_CACHE/matrix/kernels ]] || kx_die "no $KX_CACHE/matrix/kernels (run: bash scripts/matrix-deps.sh)"
want=${KX_MATRIX:-5.10 6.1 6.12 7}
while read -r label kver _ <&3; do
    [[ " $want " == *" $label "* ]] || continue
    if ! core=$(vmcore_of "$kver"); then
        fail "$kver: no vmcore in $KX_VMCORES (tests/vm/matrix-tests.sh makes them)"
        continue
    fi
    vmlinux=$KX_CACHE/vmlinux-$kver map=$KX_CACHE/System.map-$kver
    echo "--- $kver: $(basename "$core")"
    if [[ -x $ORACLE ]]; then
        check "$kver: kexdump dmesg equals upstream makedumpfile --dump-dmesg" dmesg_oracle "$core"
    else
        fail "$kver: no oracle at $ORACLE (scripts/deps.sh builds it)"
    fi
    command -v makedumpfile >/dev/null &&
        check "$kver: kexdump dmesg --no-caller-id equals makedumpfile 1.7.2" dmesg_172 "$core"
    if [[ ! -f $vmlinux || ! -f $map ]]; then
        fail "$kver: no $vmlinux or $map (run: bash scripts/matrix-deps.sh)"
        continue
    fi
    nm -n "$vmlinux" >"$T/nm.txt"
    if [[ $kver == 5.10.* ]]; then
        check "$kver: no kallsyms, no symbol files: inspect says what to install" says_what_to_install "$core" "$kver"
        check "$kver: inspect --system-map: chain and symbols agree with nm" inspect_ok "$T/nm.txt" "$core" --system-map "$map"
    else
        check "$kver: inspect (the dump's kallsyms): chain and symbols agree with nm" inspect_ok "$T/nm.txt" "$core"
    fi
    check "$kver: inspect --vmlinux: symbols agree with nm, file:line with addr2line" \
        inspect_ok "$T/nm.txt" "$core" --vmlinux "$vmlinux" -- "$vmlinux"
done 3<"$KX_CACHE/matrix/kernels"

echo "$passed passed, $failed failed"
((failed == 0))
