#!/usr/bin/env bash
# How the save engine scales with the size of RAM (issue 15, goal 3).
#
# For each size in SIZES, builds (once, cached) a synthetic sparse vmcore
# with testgen's gen_large (testgen/src/large.rs: KEPT of its pages kept
# at dump level 31, metadata included), then runs
#     kexdump save -d 31 -c zstd -j T VMCORE OUT
# RUNS times for each T in THREADS and prints the medians: wall time,
# user+sys CPU, peak RSS, pages kept (checked against the generator's
# model), output bytes, CPU µs per kept page and CPU ms per GiB of RAM.
# Wall times are noisy on a shared machine: CPU and peak RSS come from
# /usr/bin/time and are the figures to compare.
#
#   bash scripts/scale.sh                       # SIZES="4G 64G 1T"
#   SIZES=64G THREADS=1 RUNS=1 bash scripts/scale.sh
#
# Environment: SIZES, THREADS (default "1 2"), RUNS (3), KEPT (2%),
# CACHE (~/.cache/kexdump/scale; vmcores are kept there, keyed by size,
# kept fraction and a hash of the generator's source), KEXDUMP (a kexdump
# binary to use instead of building target/release/kexdump).
# A 1 TiB vmcore at 2 % takes about 21 GB of disk (its apparent size is
# 1 TiB: a sparse file) and about 90 s to generate; each dump about 5 GB
# while it exists (deleted after each run).
set -euo pipefail

SIZES=${SIZES:-"4G 64G 1T"}
THREADS=${THREADS:-"1 2"}
RUNS=${RUNS:-3}
KEPT=${KEPT:-2%}
CACHE=${CACHE:-$HOME/.cache/kexdump/scale}

die() { echo "scale.sh: $*" >&2; exit 1; }

for s in $SIZES; do [[ $s =~ ^[0-9]+[KMGT]?$ ]] || die "bad size '$s' (e.g. 64G, 1T)"; done
for t in $THREADS; do [[ $t =~ ^[1-9][0-9]*$ ]] || die "bad thread count '$t'"; done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "bad RUNS '$RUNS'"
[[ $KEPT =~ ^[0-9]+(\.[0-9]+)?%?$ ]] || die "bad KEPT '$KEPT' (e.g. 2%)"
kept_pct=${KEPT%\%}
[[ -x /usr/bin/time ]] || die "/usr/bin/time is needed (GNU time: apt-get install time)"

root=$(cd "$(dirname "$0")/.." && pwd) || die "cannot find the repository"
cd "$root"

cargo build --release --locked -q -p kexdump-testgen --example gen_large || die "building gen_large failed"
gen=$root/target/release/examples/gen_large
if [[ -n ${KEXDUMP:-} ]]; then
    kexdump=$KEXDUMP
else
    cargo build --release --locked -q -p kexdump || die "building kexdump failed"
    kexdump=$root/target/release/kexdump
fi
[[ -x $kexdump ]] || die "no kexdump binary at $kexdump"

src_hash=$(cat testgen/Cargo.toml testgen/src/*.rs testgen/examples/gen_large.rs | sha256sum) \
    || die "hashing the generator's source failed"
src_hash=${src_hash:0:12}
mkdir -p "$CACHE"

# bytes of a size like 64G
bytes_of() {
    local n=${1%[KMGT]} unit=${1##*[0-9]}
    case $unit in
        K) echo $((n << 10)) ;; M) echo $((n << 20)) ;; G) echo $((n << 30)) ;; T) echo $((n << 40)) ;;
        *) echo "$n" ;;
    esac
}

avail_bytes() {
    local a
    a=$(df -B1 --output=avail "$1" | tail -n 1) || die "df $1 failed"
    echo $((a))
}

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

info_get() {
    local v
    v=$(sed -n "s/^$2=//p" "$1") || die "reading $1 failed"
    [[ -n $v ]] || die "$1 has no $2"
    echo "$v"
}

status=0
printf '%-5s %-5s %3s %11s %8s %9s %9s %12s %13s %10s %11s\n' \
    RAM kept T "kept pages" wall "CPU u+s" "peak RSS" "output" "expected ok" "µs/kept" "ms/GiB RAM"
for size in $SIZES; do
    ram=$(bytes_of "$size")
    dir=$CACHE/$size-$kept_pct-$src_hash
    vmcore=$dir/vmcore
    if [[ ! -f $vmcore.info ]]; then
        mkdir -p "$dir"
        # kept pages plus 10 % and 256 MiB of slack
        need=$(awk -v r="$ram" -v k="$kept_pct" 'BEGIN { printf "%d", r * k / 100 * 1.1 + 268435456 }') \
            || die "awk failed"
        have=$(avail_bytes "$dir")
        ((have > need)) || die "$dir: $((have >> 20)) MiB free, generating $size needs about $((need >> 20)) MiB"
        echo "generating $vmcore ($size of RAM, $KEPT kept)..." >&2
        rm -f "$vmcore" "$vmcore.info"
        /usr/bin/time -f '%e s wall, %U s user, %S s sys, %M KB peak' "$gen" --ram "$size" --kept "$kept_pct%" \
            "$vmcore" >"$dir/gen.log" || die "gen_large failed (see $dir/gen.log)"
    fi
    ram_pages=$(info_get "$vmcore.info" ram_pages)
    expected=$(info_get "$vmcore.info" expected_kept_31)
    on_disk=$(du -B1 "$vmcore" | cut -f1) || die "du $vmcore failed"
    apparent=$(du -B1 --apparent-size "$vmcore" | cut -f1) || die "du $vmcore failed"
    echo "$vmcore: apparent $((apparent >> 20)) MiB, on disk $((on_disk >> 20)) MiB, $ram_pages pages of RAM" >&2
    ((on_disk < apparent / 5 || apparent < (1 << 30))) || echo "scale.sh: warning: $vmcore is not sparse" >&2
    out=$dir/out.kdump
    for t in $THREADS; do
        walls=() cpus=() rsss=() outs=() kepts=()
        for ((r = 1; r <= RUNS; r++)); do
            rm -f "$out"
            # room for the dump: at most the kept pages uncompressed
            need=$((expected * 4096 + (64 << 20)))
            have=$(avail_bytes "$dir")
            ((have > need)) || die "$dir: $((have >> 20)) MiB free, a dump may need $((need >> 20)) MiB"
            rc=0
            /usr/bin/time -f '%e %U %S %M' -o "$dir/time" "$kexdump" save -d 31 -c zstd -j "$t" "$vmcore" "$out" \
                >"$dir/save.log" 2>&1 || rc=$?
            ((rc == 0)) || { cat "$dir/save.log" >&2; die "kexdump save failed (exit $rc)"; }
            read -r wall user sys rss <"$dir/time" || die "reading $dir/time failed"
            kept=$(grep -o '[0-9]* of [0-9]* pages kept' "$dir/save.log" | cut -d' ' -f1) \
                || die "no 'pages kept' in $dir/save.log"
            size_out=$(stat -c %s "$out") || die "stat $out failed"
            rm -f "$out"
            walls+=("$wall") cpus+=("$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')")
            rsss+=("$rss") outs+=("$size_out") kepts+=("$kept")
        done
        wall=$(printf '%s\n' "${walls[@]}" | median)
        cpu=$(printf '%s\n' "${cpus[@]}" | median)
        rss=$(printf '%s\n' "${rsss[@]}" | median)
        outb=$(printf '%s\n' "${outs[@]}" | median)
        kept=$(printf '%s\n' "${kepts[@]}" | median)
        ok=yes
        for k in "${kepts[@]}"; do [[ $k == "$expected" ]] || ok="NO ($expected)"; done
        [[ $ok == yes ]] || status=1
        awk -v size="$size" -v kp="$KEPT" -v t="$t" -v kept="$kept" -v wall="$wall" -v cpu="$cpu" -v rss="$rss" \
            -v outb="$outb" -v ok="$ok" -v ram="$ram_pages" 'BEGIN {
            printf "%-5s %-5s %3d %11d %7.2fs %8.2fs %6.1f MB %9.1f MB %13s %10.2f %11.1f\n",
                size, kp, t, kept, wall, cpu, rss / 1000, outb / 1e6, ok,
                cpu * 1e6 / kept, cpu * 1000 / (ram * 4096 / 2^30)
        }' || die "awk failed"
    done
done
exit $status
