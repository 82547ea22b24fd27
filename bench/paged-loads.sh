#!/usr/bin/env bash
# The sm_90a prefill's three ways of loading paged K/V (POD_SM90_PAGED_LOADS: `boxes`, the default;
# `warp`; `gather`) side by side on the first CUDA device: for each, the prefill and POD GPU tests
# against the CPU backend and bench/paged-prefill.ts; for the two new ones, compute-sanitizer's
# memcheck, racecheck and synccheck over the paged prefill tests. Logs and results JSON go to
# $1 (default: bench/results). Run from the project root with libpod.so and Bun on the PATH (or
# through the GPU machine's entry script).
set -uo pipefail
out="${1:-bench/results}"
mkdir -p "$out"
status=0
for mode in boxes warp gather; do
  echo "== $mode: GPU tests"
  POD_SM90_PAGED_LOADS=$mode bun test test/gpu/hopper-prefill.test.ts test/gpu/hopper-pod.test.ts 2>&1 | tail -25 || status=1
  if [ "$mode" != boxes ]; then
    for tool in memcheck racecheck synccheck; do
      echo "== $mode: compute-sanitizer $tool"
      POD_SM90_PAGED_LOADS=$mode compute-sanitizer --tool "$tool" --error-exitcode 9 bun test test/gpu/hopper-prefill.test.ts -t "batch page" \
        > "$out/paged-loads-$mode-$tool.log" 2>&1 || { status=1; echo "$tool reported errors (log: $out/paged-loads-$mode-$tool.log)"; }
      tail -4 "$out/paged-loads-$mode-$tool.log"
    done
  fi
  echo "== $mode: bench/paged-prefill.ts"
  POD_SM90_PAGED_LOADS=$mode POD_BENCH_OUT="$out" bun bench/paged-prefill.ts || status=1
done
exit "$status"
