/**
 * POD in one launch gives the outputs of the standalone kernels: both wrappers on CUDA against
 * singlePrefill / BatchPrefill + BatchDecode on the same inputs (GPU_TOLERANCE, 200 configurations).
 * Skips without a CUDA device.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Device } from "../../src/index.ts";
import { GPU_TOLERANCE, runPodCase, worstError } from "../attention-fixture.ts";
import { podConfigArb } from "../pod-config-arbitrary.ts";
import { testGpu } from "./test-device.ts";

const reason = Device.cudaUnavailableReason();
const RUNS = Number(process.env.POD_GPU_SWEEP_RUNS ?? 50);

describe.skipIf(reason !== undefined)("POD launch vs the standalone kernels on CUDA", () => {
  for (const wrapper of ["single", "batch"] as const) {
    for (const scale of ["small", "large"] as const) {
      test(`${wrapper} wrapper, ${scale} configurations`, () => {
        const gpu = testGpu();
        let runs = 0;
        fc.assert(
          fc.property(podConfigArb(wrapper, scale), (cfg) => {
            const pod = runPodCase(cfg, gpu, false, "pod");
            const alone = runPodCase(cfg, gpu, false, "standalone");
            try {
              const tol = GPU_TOLERANCE[cfg.dtype];
              const pairs = [
                ["oP", pod.result.oP, alone.result.oP, tol],
                ["oD", pod.result.oD, alone.result.oD, tol],
                ["lseP", pod.result.lseP, alone.result.lseP, GPU_TOLERANCE.lse],
                ["lseD", pod.result.lseD, alone.result.lseD, GPU_TOLERANCE.lse],
              ] as const;
              for (const [name, x, y, t] of pairs) {
                if (!x && !y) continue;
                if (!x || !y) throw new Error(`${name}: present in one run only`);
                const err = worstError(x.toFloat32Array(), Float64Array.from(y.toFloat32Array()), t.atol, t.rtol);
                if (!(err <= 1)) throw new Error(`${name}: POD vs standalone error ${err.toFixed(2)}x tolerance for ${JSON.stringify(cfg)}`);
              }
            } finally {
              pod.dispose();
              alone.dispose();
            }
            runs++;
          }),
          { seed: 0x90d + (wrapper === "batch" ? 1 : 0) + (scale === "large" ? 2 : 0), numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
        );
        expect(runs).toBe(RUNS);
      }, 120_000);
    }
  }
});
