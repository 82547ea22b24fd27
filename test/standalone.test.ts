/**
 * The standalone kernels (BatchDecodeWithPagedKVCacheWrapper, BatchPrefillWithPagedKVCacheWrapper,
 * singlePrefillWithKVCache) on the CPU backend against the float64 reference, over 300 seeded
 * configurations of the same generator as the POD sweep. Tolerances: TOLERANCE in attention-fixture.ts.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Device } from "../src/index.ts";
import { checkConfig } from "./attention-fixture.ts";
import { podConfigArb } from "./pod-config-arbitrary.ts";

describe("standalone kernels on the CPU backend vs the float64 reference", () => {
  for (const wrapper of ["single", "batch"] as const) {
    test(`${wrapper === "single" ? "singlePrefillWithKVCache" : "BatchPrefillWithPagedKVCacheWrapper"} + BatchDecodeWithPagedKVCacheWrapper`, () => {
      let runs = 0;
      fc.assert(
        fc.property(podConfigArb(wrapper), (cfg) => {
          checkConfig(cfg, Device.cpu(), "standalone");
          runs++;
        }),
        { seed: 0xabc + (wrapper === "batch" ? 1 : 0), numRuns: 150, endOnFailure: true, includeErrorInReport: true },
      );
      expect(runs).toBe(150);
    }, 60_000);
  }
});
