/**
 * Malformed input on the CPU backend (test/fuzz-fixture.ts): hundreds of generated bad calls across
 * every wrapper, overwritten workspaces and fixed buffers included, each a PodError naming an
 * argument; afterwards the same wrappers, and fresh ones checked against the reference, compute
 * correctly. (test/gpu/fuzz.test.ts runs the same cases on a GPU.)
 */
import { describe, expect, test } from "bun:test";
import { Device } from "../src/index.ts";
import { checkAfterFuzz, fuzzWrappers } from "./fuzz-fixture.ts";

describe("fuzz: malformed input on the CPU backend", () => {
  test("400 malformed calls end in a PodError naming an argument; the wrappers still compute what they did", () => {
    const { cases } = fuzzWrappers(Device.cpu(), 400);
    expect(cases).toBeGreaterThanOrEqual(400);
  }, 60_000);

  test("valid calls afterwards match the float64 reference", () => {
    checkAfterFuzz(Device.cpu(), 3);
  }, 60_000);
});
