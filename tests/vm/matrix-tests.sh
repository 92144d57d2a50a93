#!/usr/bin/env bash
# tests/vm/matrix-tests.sh — the dump engine on every kernel of the matrix
# (Debian's 5.10, 6.1, 6.12 and 7.x from scripts/matrix-deps.sh; 7.x also
# with 5-level paging), on vmcores of a guest that ran the matrix workload
# (make-vmcore.sh --workload matrix: anonymous THP, hugetlb pages in use,
# large tmpfs folios, shmem, lots of slab, free pages, 1G of RAM).
#
#   tests/vm/matrix-tests.sh [--kexdump PATH]
#   KX_MATRIX="6.12 7" tests/vm/matrix-tests.sh      only these kernels
#   KX_MATRIX_LEVELS="0 31" tests/vm/matrix-tests.sh only these levels
#   KX_PAGING=4l tests/vm/matrix-tests.sh            only 4-level paging
#
# Vmcores are cached in $KX_VMCORES as matrix-<release>-<4l|5l>-<harness
# hash>.vmcore (kx_harness_hash: lib.sh, make-vmcore.sh, guest/*), made one
# at a time when missing (4-7 min each under TCG); <name>.secs holds how
# long making it took, <name>.make.log and <name>.serial.log its logs.
#
# Per kernel and paging (PASS/FAIL each; the last line is "N passed, N
# failed", exit 1 on any failure):
#   - the vmcore is that kernel's (OSRELEASE) with that paging
#     (NUMBER(pgtable_l5_enabled))
#   - for each level of 0 1 2 4 8 16 31: `kexdump save -d L` (zstd) and the
#     oracle, upstream makedumpfile b7587f1 `-z -d L`, on the same vmcore
#     keep the same pages and the same zero pages: tests/tools/kdump_pfns.py
#     --zero compares both bitmaps and which pfns point at the shared zero
#     page (kexdump's exit 4, a warning, is recorded, not a failure by
#     itself); and the comparison is seen to fail: our level-31 dump against
#     the oracle's dump of the level before it
#   - at level 31 on our dump: crash (the release that reads that kernel)
#     `ps` lists as many tasks as on the raw vmcore and never says "page
#     excluded"; drgn (tests/tools/drgn_tasks.py) walks as many tasks as on
#     the raw vmcore and as crash (less its PID-0 idle tasks), with no
#     excluded-page error; and both are seen to complain on a copy of our
#     dump without the page of PID 1's task_struct (tests/tools/
#     kdump_drop_pfns.py): crash says "page excluded" or lists fewer tasks
#     (crash 9.0.2 on 7.x says nothing and leaves the tasks out), drgn
#     counts an excluded-page error; `kexdump dmesg` (holds the panic), `kexdump
#     inspect` (names the panic) and `kexdump verify` exit 0, or 4 with the
#     reason they print
# Ends with a markdown table of what was measured.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

KEXDUMP=$ROOT/target/release/kexdump
[[ ${1:-} == --kexdump ]] && KEXDUMP=$2
ORACLE=${KX_ORACLE:-$KX_CACHE/oracles/makedumpfile-b7587f1}
LEVELS=${KX_MATRIX_LEVELS:-0 1 2 4 8 16 31}
want=${KX_MATRIX:-5.10 6.1 6.12 7}

[[ -x $KEXDUMP ]] || kx_die "no kexdump binary at $KEXDUMP (cargo build --release)"
[[ -x $ORACLE ]] || kx_die "no oracle at $ORACLE (run: bash scripts/deps.sh)"
kx_need_cmds python3 timeout
python3 -c 'import drgn' || kx_die "no drgn for python3 (run: bash scripts/deps.sh)"
bash "$ROOT/scripts/matrix-deps.sh" || kx_die "scripts/matrix-deps.sh failed"
MX=$KX_CACHE/matrix
[[ -s $MX/kernels ]] || kx_die "matrix-deps.sh wrote no $MX/kernels"
kx_harness_hash
kx_log "harness hash $KX_HARNESS_HASH; oracle $("$ORACLE" -v 2>&1 | head -n1)"

passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
T=$(mktemp -d "${TMPDIR:-/tmp}/kexdump-matrix-tests.XXXXXX")
trap 'rm -rf "$T"' EXIT
declare -a table=() made=()

# make_core KVER PAGING — sets CORE to the cached vmcore of KVER with PAGING
# (4l/5l), making it when missing; sets MADE to how it was come by.
make_core() {
    local kver=$1 paging=$2 cpu=$KX_QEMU_CPU base t0 secs
    base=$KX_VMCORES/matrix-$kver-$paging-$KX_HARNESS_HASH
    CORE=$base.vmcore
    if [[ -f $CORE ]]; then
        MADE="cached, made in $(cat "$base.secs" 2>/dev/null || echo '?') s"
        return 0
    fi
    [[ $paging == 5l ]] && cpu=max # TCG's max CPU offers LA57; the kernel uses it
    mkdir -p "$KX_VMCORES"
    kx_log "making $CORE (log: $base.make.log)"
    t0=$(kx_now)
    KEXDUMP_KVER=$kver KX_QEMU_CPU=$cpu bash "$HERE/make-vmcore.sh" "$CORE" --workload matrix --mem 1G \
        >"$base.make.log" 2>&1 || { tail -15 "$base.make.log" | sed 's/^/    /'; return 1; }
    secs=$(awk -v a="$t0" -v b="$(kx_now)" 'BEGIN{printf "%.0f", b-a}')
    echo "$secs" >"$base.secs"
    MADE="made now in $secs s"
}

# run_rc OUT CMD... — run CMD with stdout+stderr to OUT; sets RC.
run_rc() {
    local out=$1
    shift
    RC=0
    "$@" >"$out" 2>&1 || RC=$?
}

# crash_ps CRASH KVER DUMP OUT — crash's ps of DUMP into OUT; sets NTASKS
# (every task line) and NIDLE (PID 0 lines).
crash_ps() {
    local crash_bin=$1 kver=$2 dump=$3 out=$4
    local -a args=(-s)
    # crash 9.0.2 on 7.x: module loading fails without it (docs/kernels.md).
    [[ $kver == 7.* ]] && args+=(--no_modules)
    printf 'ps\nq\n' | timeout 900 "$crash_bin" "${args[@]}" "$KX_CACHE/vmlinux-$kver" "$dump" >"$out" 2>&1
    NTASKS=$(grep -cE '^[> ] +[0-9]+ +[0-9]+ +[0-9]+ +[0-9a-f]{8,} ' "$out")
    NIDLE=$(grep -cE '^[> ] +0 +0 +[0-9]+ +[0-9a-f]{8,} ' "$out")
}

# drgn_tasks DUMP KVER OUT — sets DTASKS, DEXCL, DRC, DPID1 (physical
# address of PID 1's task_struct, or empty).
drgn_tasks() {
    DRC=0
    timeout 900 python3 "$ROOT/tests/tools/drgn_tasks.py" "$1" "$KX_CACHE/vmlinux-$2" >"$3" 2>&1 || DRC=$?
    DTASKS=$(sed -n 's/^tasks \([0-9]*\)$/\1/p' "$3")
    DEXCL=$(sed -n 's/^excluded-page errors \([0-9]*\)$/\1/p' "$3")
    DPID1=$(sed -n 's/^pid1-task-phys \(0x[0-9a-f]*\)$/\1/p' "$3")
}

# tool_ok NAME OUT RC — PASS for exit 0, or 4 with a stated reason (the
# output's warning/INCOMPLETE lines); FAIL otherwise.
tool_ok() {
    local name=$1 out=$2 rc=$3 why
    case $rc in
    0) pass "$name: exit 0" ;;
    4)
        why=$(grep -iE 'warning|incomplete|cannot|not ' "$out" | head -3 | tr '\n' ' ')
        if [[ -n $why ]]; then
            pass "$name: exit 4, reason: $why"
        else
            fail "$name: exit 4 without a stated reason"; tail -5 "$out" | sed 's/^/    /'
        fi
        ;;
    *) fail "$name: exit $rc"; tail -10 "$out" | sed 's/^/    /' ;;
    esac
}

while read -r label kver crash_bin <&3; do
    [[ " $want " == *" $label "* ]] || continue
    pagings=(4l)
    [[ $label == 7 ]] && pagings+=(5l)
    for paging in "${pagings[@]}"; do
        [[ " ${KX_PAGING:-4l 5l} " == *" $paging "* ]] || continue
        name="$kver $paging"
        echo
        echo "=== $name"
        if ! make_core "$kver" "$paging"; then
            fail "$name: make the vmcore (make-vmcore.sh --workload matrix)"
            table+=("| $kver | $paging | — | vmcore not made | | FAIL | | |")
            continue
        fi
        made+=("$kver $paging: $MADE")
        kx_log "$name: $CORE ($MADE)"
        info=$(kx_vmcoreinfo "$CORE")
        rel=$(sed -n 's/^OSRELEASE=//p' <<<"$info")
        l5=$(sed -n 's/^NUMBER(pgtable_l5_enabled)=//p' <<<"$info")
        want_l5=0
        [[ $paging == 5l ]] && want_l5=1
        if [[ $rel == "$kver" && ${l5:-0} == "$want_l5" ]]; then
            pass "$name: the vmcore is $rel with pgtable_l5_enabled=${l5:-0 (absent)}"
        else
            fail "$name: the vmcore says OSRELEASE=$rel pgtable_l5_enabled=${l5:-absent}"
            continue
        fi
        grep -E 'KXVM: matrix meminfo (AnonHugePages|HugePages_Total|HugePages_Free|ShmemHugePages|Slab):' \
            "${CORE%.vmcore}.serial.log" | sed 's/^\[ *[0-9.]*\] KXVM: matrix meminfo /    guest: /'

        for level in $LEVELS; do
            ours=$T/ours-$level theirs=$T/theirs-$level
            rm -f "$ours" "$theirs"
            run_rc "$T/save.out" "$KEXDUMP" save -q -c zstd -d "$level" "$CORE" "$ours"
            src=$RC
            if ((src != 0 && src != 4)) || [[ ! -f $ours ]]; then
                fail "$name -d $level: kexdump save exited $src"; tail -5 "$T/save.out" | sed 's/^/    /'
                table+=("| $kver | $paging | $level | save exit $src | | FAIL | | |")
                continue
            fi
            ((src == 4)) && echo "    kexdump save -d $level exit 4: $(grep -iE 'warn' "$T/save.out" | head -3 | tr '\n' ' ')"
            ((level == 31)) && grep -E 'saved|excluded:' "$T/save.out" | sed 's/^/    /'
            run_rc "$T/oracle.out" "$ORACLE" -z -d "$level" "$CORE" "$theirs"
            if ((RC != 0)) || [[ ! -f $theirs ]]; then
                fail "$name -d $level: the oracle exited $RC"; tail -5 "$T/oracle.out" | sed 's/^/    /'
                table+=("| $kver | $paging | $level | | oracle exit $RC | FAIL | | |")
                rm -f "$ours"
                continue
            fi
            onote=$(grep -iE 'not supported|warning' "$T/oracle.out" | head -2 | tr '\n' ' ')
            [[ -n $onote ]] && echo "    oracle -d $level says: $onote"
            # "max_mapnr M present P dumped D zero Z" -> "D (Z zero)"
            counts() { python3 "$ROOT/tests/tools/kdump_pfns.py" --zero "$1" | sed -n 's/.* dumped \([0-9]*\) zero \([0-9]*\)$/\1 (\2 zero)/p'; }
            kept_ours=$(counts "$ours") kept_theirs=$(counts "$theirs")
            if python3 "$ROOT/tests/tools/kdump_pfns.py" --zero "$ours" "$theirs" >"$T/cmp.out" 2>&1; then
                equal=yes
                pass "$name -d $level: page sets and zero pages equal ($kept_ours pages kept by both; save exit $src)"
            else
                equal=NO
                fail "$name -d $level: page sets differ (kexdump ${kept_ours:-?}, oracle ${kept_theirs:-?})"
                sed 's/^/    /' "$T/cmp.out"
            fi
            if ((level == 31)) && [[ -f $T/prev && ${prev_kept%% *} != "${kept_ours%% *}" ]]; then
                # The same comparison on dumps that differ must say so.
                if python3 "$ROOT/tests/tools/kdump_pfns.py" --zero "$ours" "$T/prev" >"$T/cmp.out" 2>&1; then
                    fail "$name: kdump_pfns.py calls our level-31 dump equal to the oracle's level-$prev_level one"
                else
                    pass "$name: kdump_pfns.py tells our level-31 dump ($kept_ours) from the oracle's level-$prev_level one ($prev_kept)"
                fi
            fi
            ctasks="" dcol=""
            if ((level == 31)); then
                # crash ps: the raw vmcore and our dump.
                crash_ps "$crash_bin" "$kver" "$CORE" "$T/crash-raw.out"
                raw_tasks=$NTASKS
                crash_ps "$crash_bin" "$kver" "$ours" "$T/crash-ours.out"
                our_tasks=$NTASKS our_idle=$NIDLE
                excl=$(grep -c 'page excluded' "$T/crash-ours.out")
                ctasks="$raw_tasks/$our_tasks"
                if ((raw_tasks > 0 && raw_tasks == our_tasks && excl == 0)); then
                    pass "$name -d 31: crash ps lists $our_tasks tasks on the raw vmcore and on our dump, no 'page excluded'"
                else
                    fail "$name -d 31: crash ps: raw $raw_tasks tasks, ours $our_tasks, $excl 'page excluded' lines"
                    grep -E 'page excluded|^crash:|^ps:' "$T/crash-ours.out" | head -10 | sed 's/^/    /'
                    tail -5 "$T/crash-raw.out" | sed 's/^/    raw: /'
                fi
                grep -E '^WARNING' "$T/crash-ours.out" | sort -u | sed 's/^/    crash on our dump: /'
                # drgn: the raw vmcore and our dump.
                drgn_tasks "$CORE" "$kver" "$T/drgn-raw.out"
                draw=$DTASKS draw_rc=$DRC
                drgn_tasks "$ours" "$kver" "$T/drgn-ours.out"
                dcol="${DTASKS:-?}/${DEXCL:-?}"
                if ((draw_rc == 0 && DRC == 0)) && [[ -n $DTASKS && $DTASKS == "$draw" && ${DEXCL:-1} == 0 ]] &&
                    ((DTASKS == our_tasks - our_idle)); then
                    pass "$name -d 31: drgn walks $DTASKS tasks on the raw vmcore and on our dump (= crash's $our_tasks less $our_idle idle), no excluded page"
                else
                    fail "$name -d 31: drgn: raw ${draw:-?} tasks (exit $draw_rc), ours ${DTASKS:-?} (exit $DRC, ${DEXCL:-?} excluded-page errors), crash $our_tasks less $our_idle idle"
                    grep -E '^error' "$T/drgn-ours.out" "$T/drgn-raw.out" | head -10 | sed 's/^/    /'
                    grep -vE '^(tasks|excluded|error)' "$T/drgn-ours.out" | tail -5 | sed 's/^/    /'
                fi
                # Negative: the same checks on our dump less the page of
                # PID 1's task_struct must complain.
                if [[ -z $DPID1 ]]; then
                    fail "$name -d 31: drgn gave no address of PID 1's task_struct for the negative check"
                elif ! python3 "$ROOT/tests/tools/kdump_drop_pfns.py" "$ours" "$T/dropped" $((DPID1 >> 12)) >"$T/drop.out" 2>&1; then
                    fail "$name -d 31: kdump_drop_pfns.py"; sed 's/^/    /' "$T/drop.out"
                else
                    crash_ps "$crash_bin" "$kver" "$T/dropped" "$T/crash-dropped.out"
                    nexcl=$(grep -c 'page excluded' "$T/crash-dropped.out")
                    drgn_tasks "$T/dropped" "$kver" "$T/drgn-dropped.out"
                    if ((nexcl > 0 || NTASKS < our_tasks)) && ((DRC == 1)) && [[ ${DEXCL:-0} -gt 0 ]]; then
                        pass "$name -d 31: without PID 1's task_struct page ($(printf '%#x' $((DPID1 >> 12)))) crash prints $nexcl 'page excluded' lines and lists $NTASKS of $our_tasks tasks; drgn counts $DEXCL excluded-page errors"
                    else
                        fail "$name -d 31: without PID 1's task_struct page: crash $nexcl 'page excluded' lines and $NTASKS of $our_tasks tasks, drgn exit $DRC with ${DEXCL:-?} excluded-page errors"
                        head -5 "$T/drgn-dropped.out" | sed 's/^/    /'
                    fi
                    rm -f "$T/dropped"
                fi
                # kexdump's own readers on our dump.
                run_rc "$T/dmesg.out" "$KEXDUMP" dmesg "$ours"
                if grep -q 'sysrq triggered crash' "$T/dmesg.out"; then
                    tool_ok "$name -d 31: kexdump dmesg (holds the panic)" "$T/dmesg.out" "$RC"
                else
                    fail "$name -d 31: kexdump dmesg (exit $RC) has no 'sysrq triggered crash'"; tail -5 "$T/dmesg.out" | sed 's/^/    /'
                fi
                run_rc "$T/inspect.out" "$KEXDUMP" inspect "$ours"
                if grep -qE '^Panic +sysrq triggered crash' "$T/inspect.out"; then
                    tool_ok "$name -d 31: kexdump inspect (names the panic)" "$T/inspect.out" "$RC"
                else
                    fail "$name -d 31: kexdump inspect (exit $RC) names no panic"; head -20 "$T/inspect.out" | sed 's/^/    /'
                fi
                run_rc "$T/verify.out" "$KEXDUMP" verify "$ours"
                tool_ok "$name -d 31: kexdump verify" "$T/verify.out" "$RC"
            fi
            table+=("| $kver | $paging | $level | $kept_ours | $kept_theirs | $equal | ${ctasks:-—} | ${dcol:-—} |")
            rm -f "$ours"
            mv -f "$theirs" "$T/prev"
            prev_level=$level prev_kept=$kept_theirs
        done
        rm -f "$T/prev"
    done
done 3<"$MX/kernels"

echo
echo "vmcores (harness $KX_HARNESS_HASH):"
printf '  %s\n' "${made[@]}"
echo
echo "| kernel | paging | level | pages kept kexdump | pages kept oracle | equal | crash tasks raw/ours | drgn tasks/warnings |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${table[@]}"
echo
echo "$passed passed, $failed failed"
((failed == 0))
