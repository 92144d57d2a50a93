#!/usr/bin/env bash
# Fuzz the dump engine's parsers (fuzz/, cargo-fuzz + libFuzzer, nightly).
# For CI's optional deeper run and for local use; see docs/fuzzing.md.
#
#   scripts/fuzz.sh                      # every target, 60 s each
#   FUZZ_SECONDS=300 scripts/fuzz.sh save_mutated
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_RSS_MB    libFuzzer -rss_limit_mb (default 2048)
#   FUZZ_TIMEOUT   libFuzzer -timeout, seconds per input (default 10)
#   FUZZ_FORK      if set to N: run N fork-mode workers that keep going
#                  after crashes/timeouts (collects every artifact instead
#                  of stopping at the first)
#   FUZZ_SKIP_REGRESSIONS=1  do not replay fuzz/regressions first
#
# Steps: install cargo-fuzz (and a nightly toolchain) if missing, write
# seed corpora if fuzz/corpus/<target> is empty, replay every file in
# fuzz/regressions/<target>/ (each one separately, so one known failure
# does not hide the others), then fuzz each target. Exit status: 0 when no
# regression failed and no new crash was found, 1 otherwise. Artifacts go
# to fuzz/artifacts/<target>/, logs to fuzz/logs/.

set -uo pipefail

cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
rss=${FUZZ_RSS_MB:-2048}
timeout=${FUZZ_TIMEOUT:-10}

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: installing a nightly toolchain (cargo-fuzz needs -Z flags)"
    rustup toolchain install nightly --profile minimal || exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked || exit 1
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

need_seeds=0
for t in "${targets[@]}"; do
    if [ -z "$(ls -A "fuzz/corpus/$t" 2>/dev/null)" ]; then need_seeds=1; fi
done
if [ $need_seeds = 1 ]; then
    echo "fuzz.sh: writing seed corpora"
    cargo run --quiet --release --manifest-path fuzz/Cargo.toml --example make_seeds -- fuzz/corpus || exit 1
fi

echo "fuzz.sh: building ${targets[*]}"
cargo +nightly fuzz build || exit 1

mkdir -p fuzz/logs
status=0
declare -a summary

# Replay the regression inputs, one process each.
if [ "${FUZZ_SKIP_REGRESSIONS:-0}" != 1 ]; then
    for t in "${targets[@]}"; do
        dir=fuzz/regressions/$t
        [ -d "$dir" ] || continue
        for f in "$dir"/*; do
            [ -f "$f" ] || continue
            log=fuzz/logs/regression-$t-$(basename "$f").log
            if cargo +nightly fuzz run "$t" "$f" -- -timeout="$timeout" -rss_limit_mb="$rss" >"$log" 2>&1; then
                summary+=("regression $t/$(basename "$f"): ok")
            else
                why=$(grep -m1 -oE "panicked at [^ ]+|libFuzzer: timeout|out-of-memory|deadly signal" "$log" || echo "failed")
                summary+=("regression $t/$(basename "$f"): FAILED ($why; see $log)")
                status=1
            fi
        done
    done
fi

for t in "${targets[@]}"; do
    args=(-max_total_time="$seconds" -rss_limit_mb="$rss" -timeout="$timeout" -print_final_stats=1)
    case $t in
        # Seeds are <= 72 KiB; larger inputs only slow the mutations down.
        vmcore_parse) args+=(-dict=fuzz/vmcoreinfo.dict -max_len=131072) ;;
        vmcoreinfo_parse) args+=(-dict=fuzz/vmcoreinfo.dict) ;;
        # 1 control byte + at most 64 records of 5 bytes (fuzz/src/lib.rs).
        save_mutated | dump_mutated) args+=(-max_len=321) ;;
    esac
    if [ -n "${FUZZ_FORK:-}" ]; then
        args+=(-fork="$FUZZ_FORK" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    fi
    log=fuzz/logs/$t.log
    echo "fuzz.sh: $t for ${seconds}s (log: $log)"
    mkdir -p "fuzz/corpus/$t"
    before=$(ls "fuzz/artifacts/$t" 2>/dev/null | wc -l)
    start=$(date +%s)
    cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- "${args[@]}" >"$log" 2>&1
    rc=$?
    elapsed=$(($(date +%s) - start))
    after=$(ls "fuzz/artifacts/$t" 2>/dev/null | wc -l)
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
    [ -n "$runs" ] || runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    line="$t: ${elapsed}s, ${runs:-?} runs, ${cov:-cov ?}, new artifacts: $((after - before))"
    if [ $rc -ne 0 ] || [ "$after" -gt "$before" ]; then
        why=$(grep -m1 -oE "panicked at [^ ]+|libFuzzer: timeout|out-of-memory|deadly signal" "$log" || echo "exit $rc")
        line="$line — FAILED ($why)"
        status=1
    fi
    summary+=("$line")
done

echo
echo "fuzz.sh summary:"
printf '  %s\n' "${summary[@]}"
exit $status
