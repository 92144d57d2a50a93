#!/usr/bin/env bash
# tests/vm/engine-tests.sh — the dump engine against the real peers, on real
# vmcores of Debian's 6.1 kernel made by make-vmcore.sh (a kdump cycle in
# QEMU after a workload; KASLR on, plus a nokaslr one for gdb).
#
#   tests/vm/engine-tests.sh [--kexdump PATH]
#
# Checks (each prints PASS/FAIL; the last line is "N passed, N failed"):
#   - the 2nd bitmap of our dump equals makedumpfile 1.7.2's, levels 0 1 31
#     (and 2 4 8 16, one bit at a time), and at 31 on a 5-level-paging guest
#   - crash -s VMLINUX OURDUMP runs sys, bt and log without error, for zstd and
#     zlib kdump-compressed, flattened and ELF output
#   - makedumpfile --dump-dmesg OURDUMP equals its text from the vmcore
#   - drgn finds sysrq_handle_crash on the crashed thread's stack (zstd, zlib, ELF)
#   - gdb VMLINUX OUR.elf prints init_uts_ns.name.release (nokaslr guest)
#   - makedumpfile -R turns our flattened output into the same dump bytes
#   - a full target leaves vmcore.incomplete, flagged INCOMPLETE for crash
#   - kexdump inspect (text and --json, schema kexdump.inspect/1) shows the
#     panic message and a call chain with sysrq_handle_crash <-
#     __handle_sysrq <- write_sysrq_trigger, whose symbols (from the dump's
#     kallsyms) agree with nm of the debug vmlinux shifted by KERNELOFFSET;
#     on the KASLR, nokaslr and 5-level vmcores and on our filtered ELF;
#     with --vmlinux, each frame's file:line agrees with binutils' addr2line
#   - the readers: on dumps makedumpfile 1.7.2 made (-c, -l, -p when built
#     with snappy, -E, -F, --split in 2 pieces) and kexdump made (every
#     compression, flattened): kexdump dmesg equals upstream makedumpfile's
#     --dump-dmesg of the vmcore (caller-id column included; without the
#     oracle in the cache, --no-caller-id against 1.7.2), verify passes; convert to ELF is
#     read by crash (sys/bt/log) and gdb (nokaslr); convert flat -> kdump is
#     byte-identical to makedumpfile -R; re-filter 0 -> 31 gives
#     makedumpfile's level-31 page set and crash opens it; split pieces
#     join; verify fails, naming the problem, on each corruption kind and
#     on a CRC32 that differs from kexdump.json's
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

KEXDUMP=$ROOT/target/release/kexdump
[[ ${1:-} == --kexdump ]] && KEXDUMP=$2
[[ -x $KEXDUMP ]] || kx_die "no kexdump binary at $KEXDUMP (cargo build --release)"
kx_need_cmds makedumpfile crash gdb python3
python3 -c 'import drgn' || kx_die "no drgn for python3 (run: bash scripts/deps.sh)"
[[ -f $KX_VMLINUX ]] || kx_die "no debug vmlinux at $KX_VMLINUX (run: bash scripts/deps.sh)"

mkdir -p "$KX_VMCORES"
for name in kaslr-1G nokaslr-1G la57-1G; do
    core=$KX_VMCORES/$name.vmcore
    if [[ ! -f $core ]]; then
        args=()
        [[ $name == nokaslr-* ]] && args+=(--nokaslr)
        # TCG's "max" CPU offers LA57: Debian's kernel then uses 5-level paging.
        cpu=$KX_QEMU_CPU
        [[ $name == la57-* ]] && cpu=max
        KX_QEMU_CPU=$cpu "$HERE/make-vmcore.sh" "$core" "${args[@]}" || kx_die "could not make $core"
    fi
done
KASLR=$KX_VMCORES/kaslr-1G.vmcore
NOKASLR=$KX_VMCORES/nokaslr-1G.vmcore
LA57=$KX_VMCORES/la57-1G.vmcore

T=$(mktemp -d "${TMPDIR:-/tmp}/kexdump-engine-tests.XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
# check NAME CMD... — PASS when CMD exits 0; its output is kept on failure.
check() {
    local name=$1; shift
    if "$@" >"$T/out" 2>&1; then pass "$name"; else fail "$name"; sed 's/^/    /' "$T/out" | tail -20; fi
}

save() { "$KEXDUMP" save -q "$@" 2>>"$T/save.log"; }

# The reference for `kexdump dmesg`: makedumpfile 1.7.5 and later print a
# caller-id column (`[    T123]`) after the time stamp, as kexdump dmesg
# does by default; Debian 12's 1.7.2 does not, and is compared with
# `kexdump dmesg --no-caller-id`. The upstream oracle (scripts/deps.sh
# builds it into the cache) is preferred when present.
DMESG_ORACLE=$KX_CACHE/oracles/makedumpfile-b7587f1
if [[ -x $DMESG_ORACLE ]]; then
    DMESG_REF=$DMESG_ORACLE
    KX_DMESG=("$KEXDUMP" dmesg)
    echo "note: kexdump dmesg is compared with upstream makedumpfile ($DMESG_ORACLE), caller ids included"
else
    DMESG_REF=makedumpfile
    KX_DMESG=("$KEXDUMP" dmesg --no-caller-id)
    echo "note: no $DMESG_ORACLE: kexdump dmesg --no-caller-id is compared with Debian's makedumpfile 1.7.2"
fi

# --- page sets equal makedumpfile's ------------------------------------
for level in 0 1 2 4 8 16 31; do
    rm -f "$T/ours" "$T/theirs"
    save -d "$level" -c zlib "$KASLR" "$T/ours" || { fail "kexdump save -d $level"; continue; }
    makedumpfile -c -d "$level" "$KASLR" "$T/theirs" >/dev/null 2>&1 || { fail "makedumpfile -d $level"; continue; }
    check "level $level: 2nd bitmap equals makedumpfile 1.7.2's" python3 "$ROOT/tests/tools/kdump_pfns.py" "$T/ours" "$T/theirs"
done

# --- 5-level paging (LA57) -------------------------------------------------
rm -f "$T/ours" "$T/theirs"
if save -d 31 -c zlib "$LA57" "$T/ours" && makedumpfile -c -d 31 "$LA57" "$T/theirs" >/dev/null 2>&1; then
    check "5-level paging, level 31: 2nd bitmap equals makedumpfile 1.7.2's" python3 "$ROOT/tests/tools/kdump_pfns.py" "$T/ours" "$T/theirs"
else
    fail "saving the 5-level vmcore"
fi

# --- crash reads every output ------------------------------------------
save -d 31 -c zstd "$KASLR" "$T/zstd.kdump" && check "crash reads zstd kdump-compressed (level 31)" kx_crash_ok "$T/zstd.kdump"
save -d 31 -c zlib "$KASLR" "$T/zlib.kdump" && check "crash reads zlib kdump-compressed (level 31)" kx_crash_ok "$T/zlib.kdump"
save -d 31 -c zstd -f flat "$KASLR" "$T/zstd.flat" && check "crash reads the flattened format (level 31)" kx_crash_ok "$T/zstd.flat"
save -d 31 -f elf "$KASLR" "$T/kaslr.elf" && check "crash reads ELF output (level 31)" kx_crash_ok "$T/kaslr.elf"
save -d 31 -c zstd "$LA57" "$T/la57.kdump" && check "crash reads a 5-level (LA57) dump (level 31)" kx_crash_ok "$T/la57.kdump"
rm -f "$T/kaslr.elf"

# --- drgn reads kdump-compressed (zstd, zlib) and ELF -----------------
for f in zstd.kdump zlib.kdump; do
    check "drgn reads our $f: crashed thread's stack has sysrq_handle_crash" \
        python3 "$ROOT/tests/tools/drgn_check.py" "$T/$f" "$KX_VMLINUX"
done
save -d 31 -f elf "$KASLR" "$T/drgn.elf" &&
    check "drgn reads our ELF dump: crashed thread's stack has sysrq_handle_crash" \
        python3 "$ROOT/tests/tools/drgn_check.py" "$T/drgn.elf" "$KX_VMLINUX"
rm -f "$T/drgn.elf"

# --- makedumpfile -R rebuilds the flattened stream ---------------------
save -d 31 -c zlib -f flat "$KASLR" "$T/zlib.flat"
rearranged() { makedumpfile -R "$T/rearranged" <"$T/zlib.flat" && cmp "$T/rearranged" "$T/zlib.kdump"; }
check "makedumpfile -R of our flattened output equals our kdump file" rearranged
rm -f "$T/rearranged" "$T/zlib.flat" "$T/zstd.flat"

# --- dmesg through makedumpfile ---------------------------------------
dmesg_same() {
    rm -f "$T/dmesg.orig" "$T/dmesg.ours"  # makedumpfile never overwrites
    makedumpfile --dump-dmesg "$KASLR" "$T/dmesg.orig" >/dev/null 2>&1 || return 1
    makedumpfile --dump-dmesg "$1" "$T/dmesg.ours" >/dev/null 2>&1 || { echo "makedumpfile --dump-dmesg $1 failed"; return 1; }
    grep -q 'sysrq triggered crash' "$T/dmesg.ours" || return 1
    cmp "$T/dmesg.orig" "$T/dmesg.ours"
}
# Debian's makedumpfile has no zstd: it reads our zlib and uncompressed dumps.
check "makedumpfile --dump-dmesg on our zlib dump equals the vmcore's" dmesg_same "$T/zlib.kdump"
save -d 31 -c none "$KASLR" "$T/none.kdump" && check "makedumpfile --dump-dmesg on our uncompressed dump equals the vmcore's" dmesg_same "$T/none.kdump"

# --- kexdump dmesg equals makedumpfile --dump-dmesg on the raw vmcores ---
dmesg_equal() {
    rm -f "$T/md.txt"
    "$DMESG_REF" --dump-dmesg "$1" "$T/md.txt" >/dev/null 2>&1 || return 1
    "${KX_DMESG[@]}" "$1" >"$T/kd.txt" || return 1
    grep -q 'sysrq triggered crash' "$T/kd.txt" && cmp "$T/md.txt" "$T/kd.txt"
}
check "kexdump dmesg equals makedumpfile --dump-dmesg (KASLR vmcore)" dmesg_equal "$KASLR"
check "kexdump dmesg equals makedumpfile --dump-dmesg (5-level vmcore)" dmesg_equal "$LA57"

# --- gdb reads our ELF (nokaslr guest) ---------------------------------
gdb_release() {
    local out
    out=$(timeout 300 gdb -batch -ex 'print init_uts_ns.name.release' "$KX_VMLINUX" "$T/nokaslr.elf" 2>&1)
    grep -q "\"$KX_KVER\"" <<<"$out" || { echo "$out" | tail -5; return 1; }
}
save -d 31 -f elf "$NOKASLR" "$T/nokaslr.elf" && check "gdb prints init_uts_ns.name.release from our ELF dump" gdb_release

# --- kexdump inspect: panic, crashing CPU, call chain, symbols = nm ------
nm -n "$KX_VMLINUX" >"$T/nm.txt" 2>/dev/null || fail "nm of the debug vmlinux"
inspect_text() {
    # $1 may be several pieces of a split dump.
    # shellcheck disable=SC2086
    "$KEXDUMP" inspect $1 >"$T/inspect.txt" || return 1
    grep -q '^Panic  *sysrq triggered crash$' "$T/inspect.txt" || { cat "$T/inspect.txt"; return 1; }
    grep -q 'sysrq_handle_crash <- __handle_sysrq.cold <- write_sysrq_trigger' "$T/inspect.txt" || { cat "$T/inspect.txt"; return 1; }
}
inspect_json() {
    "$KEXDUMP" inspect --json "$1" >"$T/inspect.json" || return 1
    python3 "$ROOT/tests/tools/inspect_check.py" "$T/inspect.json" "$T/nm.txt"
}
check "kexdump inspect (KASLR vmcore): panic message and sysrq_handle_crash in the call chain" inspect_text "$KASLR"
for core in "$KASLR" "$NOKASLR" "$LA57"; do
    check "kexdump inspect --json ($(basename "$core")): kexdump.inspect/1, chain, symbols agree with nm" inspect_json "$core"
done
inspect_lines() {
    "$KEXDUMP" inspect --json --vmlinux "$KX_VMLINUX" "$KASLR" >"$T/inspect.json" || return 1
    python3 "$ROOT/tests/tools/inspect_check.py" "$T/inspect.json" "$T/nm.txt" "$KX_VMLINUX"
}
check "kexdump inspect --vmlinux: every frame's file:line (gimli) agrees with addr2line" inspect_lines
save -d 31 -f elf "$KASLR" "$T/inspect.elf" &&
    check "kexdump inspect --json on our level-31 ELF dump: chain, symbols agree with nm" inspect_json "$T/inspect.elf"
rm -f "$T/inspect.elf"
inspect_missing() { ! "$KEXDUMP" inspect "$T/no-such-dump" >/dev/null 2>&1; }
check "kexdump inspect exits non-zero when the dump cannot be opened" inspect_missing

# --- a full target: the partial dump is kept and marked incomplete -------
full_target() {
    local dir=$T/small
    mkdir -p "$dir"
    # 8 MiB: well under any level-31 dump of the 1 GiB guest (19.5-21.4 MiB
    # seen; 20m let one fit, and the test then found no vmcore.incomplete).
    mount -t tmpfs -o size=8m kexdump-test "$dir" || { echo "cannot mount a tmpfs (needs root)"; return 1; }
    local rc=0
    "$KEXDUMP" save -q -d 31 "$KASLR" "$dir/vmcore" 2>"$T/full.err" || rc=$?
    local out
    out=$(printf 'q\n' | timeout 300 crash -s "$KX_VMLINUX" "$dir/vmcore.incomplete" 2>&1)
    local vrc=0
    "$KEXDUMP" verify "$dir/vmcore.incomplete" >"$T/verify-incomplete.out" 2>&1 || vrc=$?
    umount "$dir"
    ((vrc == 4)) && grep -q '^INCOMPLETE: consistent, but' "$T/verify-incomplete.out" ||
        { echo "kexdump verify of the partial dump: exit $vrc"; cat "$T/verify-incomplete.out"; return 1; }
    ((rc != 0)) || { echo "save on a full target exited 0"; return 1; }
    grep -q 'dump incomplete: .* pages written, then: No space left on device' "$T/full.err" || { cat "$T/full.err"; return 1; }
    grep -q 'This dumpfile is incomplete' <<<"$out" || { echo "$out" | head; return 1; }
}
check "a full target: save fails, keeps vmcore.incomplete, crash sees the INCOMPLETE flag, kexdump verify exits 4 (INCOMPLETE)" full_target

# --- a power cut right after the pages saved first ------------------------
# The kdump writer saves the kernel image, page tables, per-CPU areas, the
# crashing task and the printk ring before the rest (first_pages.rs); the
# dump a cut leaves then must open. kdump_cut_first.py makes that dump from
# a whole one (later descriptors zeroed, file cut, INCOMPLETE set).
cut_after_first() {
    python3 "$ROOT/tests/tools/kdump_cut_first.py" "$T/zstd.kdump" "$T/first.kdump" || return 1
    local vrc=0
    "$KEXDUMP" verify "$T/first.kdump" >"$T/first.verify" 2>&1 || vrc=$?
    ((vrc == 4)) || { echo "kexdump verify: exit $vrc"; cat "$T/first.verify"; return 1; }
    "$KEXDUMP" dmesg "$T/first.kdump" 2>/dev/null | grep -q 'Kernel panic - not syncing: sysrq triggered crash' ||
        { echo "kexdump dmesg lacks the panic line"; return 1; }
    local out
    out=$(printf 'log\nsym linux_banner\nq\n' | timeout 300 crash -s --minimal "$KX_VMLINUX" "$T/first.kdump" 2>&1)
    grep -q 'Kernel panic - not syncing: sysrq triggered crash' <<<"$out" && grep -q '(D) linux_banner' <<<"$out" ||
        { echo "crash --minimal:"; echo "$out" | tail -15; return 1; }
    out=$(printf 'sys\nbt\nlog\nq\n' | timeout 300 crash -s --zero_excluded "$KX_VMLINUX" "$T/first.kdump" 2>&1)
    grep -q 'PANIC: "Kernel panic - not syncing: sysrq triggered crash"' <<<"$out" && grep -q 'sysrq_handle_crash' <<<"$out" ||
        { echo "crash --zero_excluded:"; echo "$out" | tail -15; return 1; }
    rm -f "$T/first.kdump"
}
check "a cut right after the pages saved first: verify exits 4, dmesg has the panic, crash --minimal runs log, crash --zero_excluded runs sys/bt/log" cut_after_first

# --- the readers: makedumpfile's and our dumps, any format ----------------
rm -f "$T/md.txt"
"$DMESG_REF" --dump-dmesg "$KASLR" "$T/md.txt" >/dev/null 2>&1 || fail "$DMESG_REF --dump-dmesg of the vmcore"
R=$T/readers
mkdir -p "$R"
mdf() { makedumpfile "$@" >/dev/null 2>&1; }
mdf -c -d 31 "$KASLR" "$R/mdf-zlib.kdump" || fail "makedumpfile -c"
mdf -l -d 31 "$KASLR" "$R/mdf-lzo.kdump" || fail "makedumpfile -l"
mdf -E -d 31 "$KASLR" "$R/mdf.elf" || fail "makedumpfile -E"
makedumpfile -F -c -d 31 "$KASLR" >"$R/mdf-zlib.flat" 2>/dev/null || fail "makedumpfile -F"
mdf -c -d 31 --splitblock-size 1024 --split "$KASLR" "$R/mdf-split.1" "$R/mdf-split.2" || fail "makedumpfile --split"
readers=(mdf-zlib.kdump mdf-lzo.kdump mdf.elf mdf-zlib.flat "mdf-split.1 mdf-split.2")
if makedumpfile -v 2>&1 | grep -q 'snappy.*enabled'; then
    mdf -p -d 31 "$KASLR" "$R/mdf-snappy.kdump" && readers+=(mdf-snappy.kdump)
else
    echo "note: this makedumpfile has no snappy (-p): snappy is checked on kexdump's output only"
fi
for c in zstd zlib snappy lzo none; do
    save -d 31 -c "$c" "$KASLR" "$R/kx-$c.kdump" && readers+=("kx-$c.kdump")
done
save -d 31 -c zstd -f flat "$KASLR" "$R/kx-zstd.flat" && readers+=(kx-zstd.flat)
reader_dmesg() { (cd "$R" && "${KX_DMESG[@]}" $1) >"$T/kd.txt" && cmp "$T/md.txt" "$T/kd.txt"; }
reader_verify() { (cd "$R" && "$KEXDUMP" verify $1); }
# inspect on any format: the panic message and the sysrq call chain.
reader_inspect() { (cd "$R" && inspect_text "$1"); }
for d in "${readers[@]}"; do
    check "kexdump dmesg $d equals makedumpfile --dump-dmesg of the vmcore" reader_dmesg "$d"
    check "kexdump verify $d passes" reader_verify "$d"
    check "kexdump inspect $d: panic message and sysrq_handle_crash in the call chain" reader_inspect "$d"
done

check "crash reads kexdump's LZO output (level 31)" kx_crash_ok "$R/kx-lzo.kdump"
check "crash reads kexdump's snappy output (level 31)" kx_crash_ok "$R/kx-snappy.kdump"
check "makedumpfile --dump-dmesg on kexdump's LZO dump equals the vmcore's" dmesg_same "$R/kx-lzo.kdump"

to_elf_crash() { rm -f "$R/conv.elf"; (cd "$R" && "$KEXDUMP" convert -q $1 conv.elf --format elf) && kx_crash_ok "$R/conv.elf"; }
check "convert makedumpfile -c to ELF: crash runs sys, bt, log" to_elf_crash mdf-zlib.kdump
check "convert makedumpfile -l to ELF: crash runs sys, bt, log" to_elf_crash mdf-lzo.kdump
check "convert makedumpfile --split pieces to ELF: crash runs sys, bt, log" to_elf_crash "mdf-split.1 mdf-split.2"
rm -f "$R/conv.elf"
gdb_from_kdump() {
    rm -f "$R/nk.kdump" "$R/nk.elf"
    mdf -c -d 31 "$NOKASLR" "$R/nk.kdump" || return 1
    "$KEXDUMP" convert -q "$R/nk.kdump" "$R/nk.elf" --format elf || return 1
    local out
    out=$(timeout 300 gdb -batch -ex 'print init_uts_ns.name.release' "$KX_VMLINUX" "$R/nk.elf" 2>&1)
    echo "$out" | grep -q "\"$KX_KVER\"" || { echo "$out" | tail -5; return 1; }
}
check "convert makedumpfile -c (nokaslr) to ELF: gdb prints init_uts_ns.name.release" gdb_from_kdump
rm -f "$R/nk.kdump" "$R/nk.elf"

flat_same_as_R() {
    rm -f "$R/ours.kdump" "$R/theirs.kdump"
    "$KEXDUMP" convert -q "$R/$1" "$R/ours.kdump" 2>/dev/null || return 1
    makedumpfile -R "$R/theirs.kdump" <"$R/$1" >/dev/null 2>&1 || return 1
    cmp "$R/ours.kdump" "$R/theirs.kdump"
}
check "convert makedumpfile -F output to kdump: same bytes as makedumpfile -R" flat_same_as_R mdf-zlib.flat
check "convert kexdump's flattened output to kdump: same bytes as makedumpfile -R" flat_same_as_R kx-zstd.flat

refilter() {
    rm -f "$R/l0.kdump" "$R/l0to31.kdump"
    mdf -c -d 0 "$KASLR" "$R/l0.kdump" || return 1
    "$KEXDUMP" convert -q "$R/l0.kdump" "$R/l0to31.kdump" --level 31 -c zlib 2>/dev/null || return 1
    python3 "$ROOT/tests/tools/kdump_pfns.py" "$R/l0to31.kdump" "$R/mdf-zlib.kdump" || return 1
    kx_crash_ok "$R/l0to31.kdump"
}
check "re-filter a makedumpfile level-0 dump to 31: makedumpfile's level-31 page set, crash opens it" refilter
join_split() {
    rm -f "$R/joined.kdump"
    "$KEXDUMP" convert -q "$R/mdf-split.1" "$R/mdf-split.2" "$R/joined.kdump" -c zlib 2>/dev/null || return 1
    python3 "$ROOT/tests/tools/kdump_pfns.py" "$R/joined.kdump" "$R/mdf-zlib.kdump"
}
check "convert joins makedumpfile --split pieces: same page set as one makedumpfile -c file" join_split
rm -f "$R"/l0*.kdump "$R/joined.kdump" "$R/ours.kdump" "$R/theirs.kdump"

# Corruptions of makedumpfile's -c dump: verify exits non-zero and names it.
corrupt() {  # corrupt KIND OUT: a copy of mdf-zlib.kdump, damaged
    python3 - "$R/mdf-zlib.kdump" "$2" "$1" <<'PY'
import struct, sys
src, dst, kind = sys.argv[1:]
b = bytearray(open(src, 'rb').read())
bs, sub, bmb = struct.unpack_from('<iiI', b, 428)
descs = (1 + sub + bmb) * bs
def desc(i):
    return struct.unpack_from('<qI', b, descs + 24 * i)
if kind == 'header':      # a flipped byte in block_size
    b[429] ^= 0x01
elif kind == 'past-end':  # descriptor 100 points past the end
    struct.pack_into('<q', b, descs + 24 * 100, len(b) + 4096)
elif kind == 'truncated':
    del b[len(b) - 5000:]
elif kind == 'garbage':   # a compressed page's data overwritten
    i = next(i for i in range(200, 10000) if desc(i)[1] < bs)
    off, size = desc(i)
    b[off:off + size] = b'\xa5' * size
open(dst, 'wb').write(b)
PY
}
verify_rejects() {  # verify_rejects FILE PATTERN
    local rc=0 out
    out=$("$KEXDUMP" verify "$1" 2>&1) || rc=$?
    ((rc == 1)) || { echo "exit $rc"; echo "$out"; return 1; }
    echo "$out" | grep -E -q "$2" || { echo "$out"; return 1; }
}
for kind in header past-end truncated garbage; do
    rm -f "$R/bad-$kind"
    corrupt "$kind" "$R/bad-$kind"
done
check "verify: flipped header byte -> exit 1, names offset 0x1ac" verify_rejects "$R/bad-header" 'bad-header: offset 0x1ac: block_size'
check "verify: descriptor past the end -> exit 1, names descriptor offset and pfn" verify_rejects "$R/bad-past-end" 'bad-past-end: offset 0x[0-9a-f]+: pfn 0x[0-9a-f]+: page data .* past the end of the file'
check "verify: truncated file -> exit 1, names offset and pfn" verify_rejects "$R/bad-truncated" 'bad-truncated: offset 0x[0-9a-f]+: pfn 0x[0-9a-f]+: .*past the end'
check "verify: page that does not decompress -> exit 1, names offset and pfn" verify_rejects "$R/bad-garbage" 'bad-garbage: offset 0x[0-9a-f]+: pfn 0x[0-9a-f]+: page data does not decompress'
# A stream cut short (a capture over ssh that lost its link) is the
# INCOMPLETE dump its whole records carry: exit 4, and the reason named.
cut_flat() {
    head -c -16 "$R/mdf-zlib.flat" >"$R/bad.flat"
    local out rc=0
    out=$("$KEXDUMP" verify "$R/bad.flat" 2>&1) || rc=$?
    ((rc == 4)) || { echo "exit $rc"; echo "$out"; return 1; }
    echo "$out" | grep -q 'INCOMPLETE' && echo "$out" | grep -q 'end record' || { echo "$out"; return 1; }
}
check "verify: flattened stream without its end record -> exit 4, INCOMPLETE, says why" cut_flat
dmesg_on_corrupt() { ! "$KEXDUMP" dmesg "$R/bad-garbage" >/dev/null 2>"$T/err" || ! grep -q panicked "$T/err"; }
check "kexdump dmesg on a corrupted dump: an error or the log, never a panic" dmesg_on_corrupt
crc_check() {
    mkdir -p "$R/cap" && cp "$R/mdf-zlib.kdump" "$R/cap/vmcore"
    local crc
    crc=$(python3 -c 'import sys,zlib; print("%08x" % zlib.crc32(open(sys.argv[1],"rb").read()))' "$R/cap/vmcore")
    printf '{"schema": "kexdump.capture/1", "dump": {"file": "vmcore", "crc32": "%s"}}\n' "$crc" >"$R/cap/kexdump.json"
    local out
    out=$("$KEXDUMP" verify "$R/cap/vmcore") || { echo "$out"; return 1; }
    echo "$out" | grep -q "crc32 $crc matches" || { echo "$out"; return 1; }
    printf '{"schema": "kexdump.capture/1", "dump": {"file": "vmcore", "crc32": "0badc0de"}}\n' >"$R/cap/kexdump.json"
    verify_rejects "$R/cap/vmcore" "CRC32 is $crc, but .*kexdump.json records 0badc0de"
}
check "verify: CRC32 checked against kexdump.json beside the dump (match passes, mismatch fails)" crc_check
rm -rf "$R"

echo "--- engine VM tier"
echo "$passed passed, $failed failed"
((failed == 0))
