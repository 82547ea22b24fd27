/**
 * GPU differential sweep through the standalone kernels (BatchDecodeWithPagedKVCacheWrapper,
 * BatchPrefillWithPagedKVCacheWrapper, singlePrefillWithKVCache) against the CPU backend: 512 seeded
 * configurations, half with up to 400 keys and 48 queries per request. Tolerances: GPU_TOLERANCE in
 * ../attention-fixture.ts. Skips without a CUDA device.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Device } from "../../src/index.ts";
import { checkGpuAgainstCpu } from "../attention-fixture.ts";
import { podConfigArb } from "../pod-config-arbitrary.ts";
import { testGpu } from "./test-device.ts";

const reason = Device.cudaUnavailableReason();
const RUNS = Number(process.env.POD_GPU_SWEEP_RUNS ?? 64);
const BLOCKS = 4;

describe.skipIf(reason !== undefined)("standalone CUDA kernels vs the CPU backend", () => {
  for (const wrapper of ["single", "batch"] as const) {
    for (let block = 0; block < BLOCKS; block++) {
      test(`${wrapper} prefill + batch decode, configurations ${block * RUNS}..${(block + 1) * RUNS - 1}`, () => {
        const gpu = testGpu();
        let runs = 0;
        fc.assert(
          fc.property(podConfigArb(wrapper, block % 2 === 0 ? "small" : "large"), (cfg) => {
            checkGpuAgainstCpu(cfg, gpu, "standalone");
            runs++;
          }),
          { seed: 0x57a + block * 7717 + (wrapper === "batch" ? 3 : 0), numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
        );
        expect(runs).toBe(RUNS);
      }, 120_000);
    }
  }
});
