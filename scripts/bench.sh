#!/usr/bin/env bash
# Benchmark: kexdump save beside upstream makedumpfile (the oracle build,
# commit b7587f1) on the same vmcores, level 31 everywhere.
#
#   scripts/bench.sh [VMCORE...]
#   RUNS=7 THREADS="1 2" scripts/bench.sh
#
# Default vmcores: the kernel matrix's (matrix-<release>-4l-*.vmcore under
# ~/.cache/kexdump/vmcores, made by tests/vm/matrix-tests.sh: 1 GiB guests
# running the matrix workload) and the VM tier's kaslr-2G.vmcore (a 2 GiB
# guest); whichever exist.
#
# Tools, each run RUNS times (default 5), interleaved (run 1 of every tool,
# then run 2, ...) so a slow spell of the machine hits all of them alike:
#   kexdump save -c zstd -j T      for T in THREADS (default: 1 and nproc)
#   makedumpfile -l, -z, -c, -p    one thread
#   makedumpfile -l, -z --num-threads T   for T > 1 in THREADS
# Every command's output is made durable before its clock stops: kexdump
# fdatasyncs its dump; makedumpfile does not, so it runs as `makedumpfile
# ... && sync -d OUT`, as the distributions' kdump scripts sync after it.
# Warm page cache (the vmcore is read once first). Figures per tool: median
# wall time, median user+system CPU, the largest peak RSS, output bytes,
# and the ratios the issue asks for: wall / makedumpfile -l's wall, bytes /
# makedumpfile -z's bytes, CPU / makedumpfile -z's CPU. kexdump's dumps
# for every T are compared byte for byte (a mismatch fails the script).
# It asserts no timing: the figures go to docs/engine.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE=${KEXDUMP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kexdump}
ORACLE=${KX_ORACLE:-$CACHE/oracles/makedumpfile-b7587f1}
RUNS=${RUNS:-5}
THREADS=${THREADS:-1 $(nproc)}
LEVEL=31

die() { echo "bench.sh: $*" >&2; exit 1; }
[[ -x $ORACLE ]] || die "no oracle at $ORACLE (bash scripts/deps.sh builds it)"
[[ -x /usr/bin/time ]] || die "needs /usr/bin/time (bash scripts/deps.sh)"
command -v python3 >/dev/null || die "needs python3"

vmcores=("$@")
if ((${#vmcores[@]} == 0)); then
    for v in "$CACHE"/vmcores/matrix-*-4l-*.vmcore "$CACHE/vmcores/kaslr-2G.vmcore"; do
        [[ -f $v ]] && vmcores+=("$v")
    done
    ((${#vmcores[@]})) || die "no vmcores under $CACHE/vmcores: run tests/vm/matrix-tests.sh, or name one"
fi
for v in "${vmcores[@]}"; do [[ -f $v ]] || die "no vmcore at $v"; done

cargo build --release --locked -q || die "cargo build --release failed"
K=$PWD/target/release/kexdump
T=$(mktemp -d "${TMPDIR:-/tmp}/kexdump-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
RESULTS=$T/results.tsv
: >"$RESULTS"

# The tools: "NAME<TAB>KIND<TAB>ARGS..." — KIND kexdump or makedumpfile.
tools=()
for t in $THREADS; do
    tools+=("kexdump zstd -j $t	kexdump	save -q -d $LEVEL -c zstd -j $t")
done
for f in l z c p; do
    tools+=("makedumpfile -$f	makedumpfile	-$f -d $LEVEL")
done
for t in $THREADS; do
    ((t > 1)) || continue
    for f in l z; do
        tools+=("makedumpfile -$f --num-threads $t	makedumpfile	-$f -d $LEVEL --num-threads $t")
    done
done

# one VMCORE NAME KIND ARGS — run one tool once; appends a result line.
one() {
    local v=$1 name=$2 kind=$3 args=$4 out=$T/out rc=0 wall maxrss user sys
    local -a argv
    read -r -a argv <<<"$args"
    rm -f "$out"
    if [[ $kind == kexdump ]]; then
        /usr/bin/time -f '%e %M %U %S' -o "$T/time" "$K" "${argv[@]}" "$v" "$out" >"$T/log" 2>&1 || rc=$?
    else
        /usr/bin/time -f '%e %M %U %S' -o "$T/time" \
            sh -c '"$@" && sync -d "$0"' "$out" "$ORACLE" "${argv[@]}" "$v" "$out" >"$T/log" 2>&1 || rc=$?
    fi
    # kexdump exits 4 for a saved dump with a warning (e.g. a kernel newer
    # than the tested range); anything else, or no file, is a failure.
    local ok=0
    ((rc == 0)) && ok=1
    [[ $rc == 4 && $kind == kexdump ]] && ok=1
    if ((ok == 0)) || [[ ! -s $out ]]; then
        tail -5 "$T/log" >&2
        die "$name on $v: exit $rc"
    fi
    read -r wall maxrss user sys <"$T/time" || die "no timing for $name"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$name" "$wall" "$(echo "$user + $sys" | bc)" "$maxrss" \
        "$(stat -c %s "$out")" >>"$RESULTS"
    # kexdump's output for every thread count must be the same bytes.
    if [[ $kind == kexdump ]]; then
        if [[ -f $T/kexdump-ref ]]; then
            cmp -s "$T/kexdump-ref" "$out" || die "$name on $v: not the same bytes as the first kexdump run"
        else
            mv "$out" "$T/kexdump-ref"
        fi
    fi
}

echo "bench: $RUNS interleaved runs per tool, level $LEVEL, threads: $THREADS; $(nproc) CPUs; $(uptime | sed 's/.*load/load/')"
echo "oracle: $("$ORACLE" -v 2>&1 | head -n1)"
for v in "${vmcores[@]}"; do
    rm -f "$T/kexdump-ref"
    cat "$v" >/dev/null # warm the page cache
    for ((r = 0; r < RUNS; r++)); do
        for entry in "${tools[@]}"; do
            IFS=$'\t' read -r name kind args <<<"$entry"
            one "$v" "$name" "$kind" "$args"
        done
    done
done

python3 - "$RESULTS" <<'EOF'
import collections, os, statistics, sys
rows = collections.defaultdict(list)
order = []
for line in open(sys.argv[1]):
    v, name, wall, cpu, rss, size = line.rstrip("\n").split("\t")
    key = (v, name)
    if key not in rows:
        order.append(key)
    rows[key].append((float(wall), float(cpu), int(rss), int(size)))
def med(key, i):
    return statistics.median(r[i] for r in rows[key])
for v in dict.fromkeys(k[0] for k in order):
    names = [k[1] for k in order if k[0] == v]
    ref_l, ref_z = (v, "makedumpfile -l"), (v, "makedumpfile -z")
    print(f"\n{os.path.basename(v)} ({os.path.getsize(v) / 1e9:.2f} GB), medians of {len(rows[ref_l])} runs")
    print("| tool | wall | CPU (u+s) | peak RSS | output | wall / -l | bytes / -z | CPU / -z |")
    print("|---|---|---|---|---|---|---|---|")
    for n in names:
        k = (v, n)
        wall, cpu, size = med(k, 0), med(k, 1), med(k, 3)
        rss = max(r[2] for r in rows[k])
        print(f"| {n} | {wall:.2f} s | {cpu:.2f} s | {rss / 1e3:.1f} MB | {size / 1e6:.1f} MB "
              f"| {wall / med(ref_l, 0):.2f} | {size / med(ref_z, 3):.2f} | {cpu / med(ref_z, 1):.2f} |")
EOF
