#!/usr/bin/env bash
# tests/vm/check-vmcore.sh — check an ELF vmcore (e.g. from make-vmcore.sh)
# with the reference tools: makedumpfile 1.7.2, crash 8.0.2 and, with --gdb
# (needs a nokaslr dump), gdb.
#
#   tests/vm/check-vmcore.sh VMCORE [--gdb] [--keep DIR]
#
# Checks: the ELF size equals the file size; makedumpfile --dump-dmesg finds
# the panic; makedumpfile -d 31 -c writes a dump (page counts are printed);
# crash `sys` shows the sysrq panic and `bt` reaches sysrq_handle_crash;
# gdb reads init_uts_ns.name.release. Exit status 0 only if all pass.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

vmcore="" want_gdb=0 keep=""
while (($#)); do
    case $1 in
    --gdb) want_gdb=1; shift ;;
    --keep) keep=$2; shift 2 ;;
    -*) kx_die "unknown option $1" ;;
    *) vmcore=$1; shift ;;
    esac
done
[[ -f $vmcore ]] || kx_die "usage: $0 VMCORE [--gdb] [--keep DIR]"
kx_need_cmds makedumpfile crash python3
[[ -f $KX_VMLINUX ]] || kx_die "no debug vmlinux at $KX_VMLINUX (run: bash scripts/deps.sh)"

if [[ -n $keep ]]; then tmp=$keep; mkdir -p "$tmp"; else tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; fi
fails=0
ok() { printf 'PASS %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*"; fails=$((fails + 1)); }

# 1. size
size=$(stat -c %s "$vmcore")
elf=$(kx_elf_core_size "$vmcore")
[[ $size == "$elf" ]] && ok "ELF size = file size = $size" || bad "ELF size $elf != file size $size"

# 2. VMCOREINFO
kx_vmcoreinfo "$vmcore" >"$tmp/vmcoreinfo.txt"
printf '     %s\n' "$(grep -E '^(OSRELEASE|KERNELOFFSET|NUMBER\(phys_base\)|CRASHTIME)=' "$tmp/vmcoreinfo.txt" | tr '\n' ' ')"

# 3. makedumpfile --dump-dmesg
rm -f "$tmp/dmesg.txt"
if makedumpfile --dump-dmesg "$vmcore" "$tmp/dmesg.txt" >"$tmp/mdf-dmesg.log" 2>&1 &&
    grep -qE 'sysrq triggered crash|Kernel panic' "$tmp/dmesg.txt"; then
    ok "makedumpfile --dump-dmesg: $(grep -m1 -oE 'Kernel panic - not syncing: .*' "$tmp/dmesg.txt")"
else
    bad "makedumpfile --dump-dmesg (see $tmp/mdf-dmesg.log)"
fi

# 4. makedumpfile -d 31 -c (zlib; Debian's 1.7.2 has no zstd)
rm -f "$tmp/d31.dump"
t0=$(kx_now)
if makedumpfile --message-level 23 -d 31 -c "$vmcore" "$tmp/d31.dump" >"$tmp/mdf-d31.log" 2>&1; then
    dt=$(awk -v a="$t0" -v b="$(kx_now)" 'BEGIN{printf "%.2f", b-a}')
    ok "makedumpfile -d 31 -c: $(stat -c %s "$tmp/d31.dump") bytes in ${dt}s"
    tr '\r' '\n' <"$tmp/mdf-d31.log" | sed -n '/^Original pages/,/^Total pages/p' |
        while read -r l; do
            # print hex counts as decimal too
            if [[ $l =~ ^(.*):\ 0x([0-9a-f]+)$ ]]; then
                printf '     %-28s %8d\n' "${BASH_REMATCH[1]}" "$((16#${BASH_REMATCH[2]}))"
            else
                printf '     %s\n' "$l"
            fi
        done
else
    bad "makedumpfile -d 31 -c (see $tmp/mdf-d31.log)"
fi

# 5. crash: sys, bt, log
printf 'sys\nbt\nlog | tail -5\nq\n' | crash -s "$KX_VMLINUX" "$vmcore" >"$tmp/crash.log" 2>&1 || true
if grep -q 'PANIC: "Kernel panic - not syncing: sysrq triggered crash"' "$tmp/crash.log" &&
    grep -q 'sysrq_handle_crash' "$tmp/crash.log"; then
    ok "crash sys/bt: $(grep -m1 -E '^ +RELEASE:' "$tmp/crash.log" | xargs), bt reaches sysrq_handle_crash"
else
    bad "crash (see $tmp/crash.log)"
fi
grep -E '^WARNING' "$tmp/crash.log" | sed 's/^/     crash: /' || true

# 6. gdb (ELF only; needs nokaslr since gdb does not relocate the vmlinux)
if ((want_gdb)); then
    if gdb -batch -ex 'print init_uts_ns.name.release' "$KX_VMLINUX" "$vmcore" >"$tmp/gdb.log" 2>&1 &&
        grep -q "= \"$(sed -n 's/^OSRELEASE=//p' "$tmp/vmcoreinfo.txt")\"" "$tmp/gdb.log"; then
        ok "gdb: $(grep -m1 '^\$1 = ' "$tmp/gdb.log")"
    else
        bad "gdb (see $tmp/gdb.log)"
    fi
fi

((fails == 0)) && echo "all checks passed" || { echo "$fails check(s) failed"; exit 1; }
