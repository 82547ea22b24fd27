/**
 * GPU differential sweep: both POD wrappers (and with one side empty, the standalone prefill and
 * decode paths) on CUDA against the CPU backend, over 640 seeded random configurations (half of them with KV up to
 * 400 keys and 48 queries per request, so several tiles, row tiles and split KV ranges occur) covering the
 * contract. Tolerances: GPU_TOLERANCE in ../attention-fixture.ts. Skips without a CUDA device.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Device } from "../../src/index.ts";
import { checkGpuAgainstCpu } from "../attention-fixture.ts";
import { podConfigArb } from "../pod-config-arbitrary.ts";
import { testGpu } from "./test-device.ts";

const reason = Device.cudaUnavailableReason();
const RUNS = Number(process.env.POD_GPU_SWEEP_RUNS ?? 80);
const BLOCKS = 4;

describe.skipIf(reason !== undefined)("CUDA kernels vs the CPU backend", () => {
  for (const wrapper of ["single", "batch"] as const) {
    for (let block = 0; block < BLOCKS; block++) {
      test(`${wrapper} wrapper, configurations ${block * RUNS}..${(block + 1) * RUNS - 1}`, () => {
        const gpu = testGpu();
        let runs = 0;
        fc.assert(
          fc.property(podConfigArb(wrapper, block % 2 === 0 ? "small" : "large"), (cfg) => {
            checkGpuAgainstCpu(cfg, gpu);
            runs++;
          }),
          { seed: 0x5eed + block * 104729 + (wrapper === "batch" ? 17 : 0), numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
        );
        expect(runs).toBe(RUNS);
      }, 120_000);
    }
  }
});
