/**
 * GPU differential sweep on fp8 KV caches (e4m3 and e5m2, random per-side dequantization scales):
 * both POD wrappers and the standalone kernels on CUDA against the CPU backend, half of the
 * configurations with up to 400 keys and 48 queries per request. Tolerances: GPU_TOLERANCE in
 * ../attention-fixture.ts (the fp8 values convert exactly, so fp16/bf16 tolerances hold). Skips
 * without a CUDA device.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Device } from "../../src/index.ts";
import { checkGpuAgainstCpu } from "../attention-fixture.ts";
import { fp8PodConfigArb } from "../pod-config-arbitrary.ts";
import { testGpu } from "./test-device.ts";

const reason = Device.cudaUnavailableReason();
const RUNS = Number(process.env.POD_GPU_SWEEP_RUNS ?? 48);

describe.skipIf(reason !== undefined)("CUDA kernels on fp8 caches vs the CPU backend", () => {
  for (const wrapper of ["single", "batch"] as const) {
    for (const api of ["pod", "standalone"] as const) {
      for (const scale of ["small", "large"] as const) {
        test(`${wrapper} wrapper, ${api} API, ${scale} configurations`, () => {
          const gpu = testGpu();
          let runs = 0;
          fc.assert(
            fc.property(fp8PodConfigArb(wrapper, scale), (cfg) => {
              checkGpuAgainstCpu(cfg, gpu, api);
              runs++;
            }),
            {
              seed: 0xf8f8 + (wrapper === "batch" ? 1 : 0) + (api === "pod" ? 0 : 2) + (scale === "small" ? 0 : 4),
              numRuns: RUNS,
              endOnFailure: true,
              includeErrorInReport: true,
            },
          );
          expect(runs).toBe(RUNS);
        }, 120_000);
      }
    }
  }
});
