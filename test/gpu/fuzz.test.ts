/**
 * The malformed input of test/fuzz-fixture.ts on a GPU: bad arguments fail in plan() or run() as on
 * the CPU; workspaces and fixed buffers overwritten after plan() (values out of range included) must
 * neither crash nor hang the kernels: the kernels skip what is out of range and record it, and
 * check() (or the next plan()/run()) reports a PodError naming floatWorkspaceBuffer. Afterwards the
 * wrappers compute what they did, and fresh configurations match the reference. Skips without a
 * CUDA device.
 */
import { describe, expect, test } from "bun:test";
import { Device } from "../../src/index.ts";
import { checkAfterFuzz, fuzzWrappers } from "../fuzz-fixture.ts";
import { testGpu } from "./test-device.ts";

const reason = Device.cudaUnavailableReason();

describe.skipIf(reason !== undefined)("fuzz: malformed input on CUDA", () => {
  test("400 malformed calls end in a PodError naming an argument; the wrappers still compute what they did", () => {
    const { cases } = fuzzWrappers(testGpu(), 400);
    expect(cases).toBeGreaterThanOrEqual(400);
    testGpu().synchronize(); // no launch left an error behind (an illegal address would surface here)
  }, 600_000);

  test("valid calls afterwards match the float64 reference", () => {
    checkAfterFuzz(testGpu(), 3);
  }, 600_000);
});
