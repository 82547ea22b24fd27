/**
 * Differential sweep: both POD wrappers on the CPU backend against the float64 reference, over
 * 1,200 seeded random configurations covering every option of the contract (dtypes, head dims, GQA
 * up to 20, layouts, page sizes, causal / mask / window, RoPE / ALiBi, soft cap, scales, LSE, strided
 * views, cache forms, empty sides). Tolerances: see TOLERANCE in attention-fixture.ts.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Device } from "../src/index.ts";
import { checkConfig } from "./attention-fixture.ts";
import { podConfigArb } from "./pod-config-arbitrary.ts";

const device = Device.cpu();
const RUNS_PER_BLOCK = 100;
const BLOCKS = 6;

for (const wrapper of ["single", "batch"] as const) {
  describe(`${wrapper} POD wrapper on the CPU backend vs the float64 reference`, () => {
    for (let block = 0; block < BLOCKS; block++) {
      test(`configurations ${block * RUNS_PER_BLOCK}..${(block + 1) * RUNS_PER_BLOCK - 1}`, () => {
        let runs = 0;
        fc.assert(
          fc.property(podConfigArb(wrapper), (cfg) => {
            checkConfig(cfg, device);
            runs++;
          }),
          { seed: 0x9e3779b1 + block * 7919 + (wrapper === "batch" ? 1 : 0), numRuns: RUNS_PER_BLOCK, endOnFailure: true, includeErrorInReport: true },
        );
        expect(runs).toBe(RUNS_PER_BLOCK);
      }, 60_000);
    }
  });
}
