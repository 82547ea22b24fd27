#!/usr/bin/env bash
# The sm_90a kernels' switches side by side on the first CUDA device, each against its default:
# - prefill paged loads (POD_SM90_PAGED_LOADS: `boxes`, the default; `warp`; `gather`): the prefill
#   and POD GPU tests against the CPU backend and bench/paged-prefill.ts for each;
# - decode paged loads (POD_SM90_DECODE_LOADS=gather): the decode and POD GPU tests, bench/kernels.ts;
# - the persistent prefill (POD_SM90_PREFILL_PERSISTENT=1): the prefill, POD, CUDA graph and PDL GPU
#   tests, bench/prefill.ts.
# Every new way also runs under compute-sanitizer's memcheck, racecheck and synccheck (the cases of
# its test file that reach it). Logs and results JSON go to $1 (default: bench/results; the benches
# of the decode and persistent switches write to subfolders). Run from the project root with
# libpod.so and Bun on the PATH (or through the GPU machine's entry script).
set -uo pipefail
out="${1:-bench/results}"
mkdir -p "$out"
status=0

sanitize() { # env, test file, name pattern, log prefix
  for tool in memcheck racecheck synccheck; do
    env "$1" compute-sanitizer --tool "$tool" --error-exitcode 9 bun test "$2" -t "$3" > "$out/$4-$tool.log" 2>&1 ||
      { status=1; echo "$tool reported errors (log: $out/$4-$tool.log)"; }
    echo "== $4 $tool: $(grep -E '^ *[0-9]+ (pass|fail)$' "$out/$4-$tool.log" | tr '\n' ' ') $(grep -m1 'ERROR SUMMARY' "$out/$4-$tool.log")"
  done
}

for mode in boxes warp gather; do
  echo "== prefill $mode: GPU tests"
  POD_SM90_PAGED_LOADS=$mode bun test test/gpu/hopper-prefill.test.ts test/gpu/hopper-pod.test.ts 2>&1 | tail -25 || status=1
  [ "$mode" != boxes ] && sanitize "POD_SM90_PAGED_LOADS=$mode" test/gpu/hopper-prefill.test.ts "batch page" "prefill-$mode"
  echo "== prefill $mode: bench/paged-prefill.ts"
  POD_SM90_PAGED_LOADS=$mode POD_BENCH_OUT="$out" bun bench/paged-prefill.ts || status=1
done

echo "== decode gather: GPU tests"
POD_SM90_DECODE_LOADS=gather bun test test/gpu/hopper-decode.test.ts test/gpu/hopper-pod.test.ts 2>&1 | tail -25 || status=1
sanitize POD_SM90_DECODE_LOADS=gather test/gpu/hopper-decode.test.ts "page" decode-gather
echo "== decode gather: bench/kernels.ts"
mkdir -p "$out/decode-gather"
POD_SM90_DECODE_LOADS=gather POD_BENCH_OUT="$out/decode-gather" bun bench/kernels.ts || status=1

echo "== persistent prefill: GPU tests"
POD_SM90_PREFILL_PERSISTENT=1 bun test test/gpu/hopper-prefill.test.ts test/gpu/hopper-pod.test.ts test/gpu/cuda-graph.test.ts test/gpu/pdl.test.ts 2>&1 |
  tail -25 || status=1
sanitize POD_SM90_PREFILL_PERSISTENT=1 test/gpu/hopper-prefill.test.ts "items" prefill-persistent
echo "== prefill, one item a CTA and persistent: bench/prefill.ts"
mkdir -p "$out/prefill-default" "$out/prefill-persistent"
POD_BENCH_OUT="$out/prefill-default" bun bench/prefill.ts || status=1
POD_SM90_PREFILL_PERSISTENT=1 POD_BENCH_OUT="$out/prefill-persistent" bun bench/prefill.ts || status=1
exit "$status"
