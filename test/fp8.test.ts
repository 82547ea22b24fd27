/**
 * fp8 KV caches (float8_e4m3fn and float8_e5m2) with dequantization scales, on the CPU backend against
 * the float64 reference: both POD wrappers and the standalone kernels over seeded configurations of
 * the POD generator with an fp8 cache and random per-side scales; plus the contract's errors.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { BatchDecodeWithPagedKVCacheWrapper, Device, PODWithPagedKVCacheWrapper, Tensor } from "../src/index.ts";
import { checkConfig } from "./attention-fixture.ts";
import { fp8PodConfigArb } from "./pod-config-arbitrary.ts";

const device = Device.cpu();
const RUNS = 100;

describe("fp8 KV caches on the CPU backend vs the float64 reference", () => {
  for (const wrapper of ["single", "batch"] as const) {
    for (const api of ["pod", "standalone"] as const) {
      test(`${wrapper} wrapper through the ${api} API`, () => {
        let runs = 0;
        fc.assert(
          fc.property(fp8PodConfigArb(wrapper), (cfg) => {
            checkConfig(cfg, device, api);
            runs++;
          }),
          { seed: 0xf8 + (wrapper === "batch" ? 1 : 0) + (api === "pod" ? 0 : 2), numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
        );
        expect(runs).toBe(RUNS);
      }, 60_000);
    }
  }
});

describe("fp8 contract", () => {
  const plan = { indptr: [0, 1], indices: [0], lastPageLen: [3], numQoHeads: 2, numKvHeads: 1, headDim: 64, pageSize: 4 };

  test("the cache must have the planned fp8 dtype", () => {
    const ws = Tensor.empty([1 << 16], "uint8", { device });
    const w = new BatchDecodeWithPagedKVCacheWrapper(ws);
    w.plan({ ...plan, kvDataType: "float8_e4m3fn" });
    const q = Tensor.zeros([1, 2, 64], "float16", { device });
    const f16Cache = Tensor.zeros([1, 2, 4, 1, 64], "float16", { device });
    expect(() => w.run({ q, pagedKvCache: f16Cache })).toThrow(/^pagedKvCache: expected dtype float8_e4m3fn, got float16/);
    const e5Cache = Tensor.zeros([1, 2, 4, 1, 64], "float8_e5m2", { device });
    expect(() => w.run({ q, pagedKvCache: e5Cache })).toThrow(/^pagedKvCache: expected dtype float8_e4m3fn, got float8_e5m2/);
    const e4Cache = Tensor.zeros([1, 2, 4, 1, 64], "float8_e4m3fn", { device });
    expect(w.run({ q, pagedKvCache: e4Cache }).out.shape).toEqual([1, 2, 64]);
  });

  test("q stays 16-bit; unknown kv dtypes and non-finite scales are rejected by name", () => {
    const ws = Tensor.empty([1 << 16], "uint8", { device });
    const w = new BatchDecodeWithPagedKVCacheWrapper(ws);
    expect(() => w.plan({ ...plan, qDataType: "float8_e4m3fn" as never })).toThrow(/qDataType/);
    expect(() => w.plan({ ...plan, kvDataType: "float32" as never })).toThrow(/kvDataType/);
    w.plan({ ...plan, kvDataType: "float8_e5m2" });
    const q = Tensor.zeros([1, 2, 64], "float16", { device });
    const cache = Tensor.zeros([1, 2, 4, 1, 64], "float8_e5m2", { device });
    expect(() => w.run({ q, pagedKvCache: cache, kScale: Infinity })).toThrow(/kScale/);
    expect(() => w.run({ q, pagedKvCache: cache, vScale: Number.NaN })).toThrow(/vScale/);
  });

  test("single wrapper: k_p and v_p share one dtype, q's or fp8", () => {
    const ws = Tensor.empty([1 << 16], "uint8", { device });
    const w = new PODWithPagedKVCacheWrapper(ws);
    w.plan({ ...plan, indptr: [0], indices: [], lastPageLen: [] });
    const qP = Tensor.zeros([3, 2, 64], "bfloat16", { device });
    const k8 = Tensor.zeros([3, 1, 64], "float8_e4m3fn", { device });
    const v5 = Tensor.zeros([3, 1, 64], "float8_e5m2", { device });
    const k16 = Tensor.zeros([3, 1, 64], "float16", { device });
    expect(() => w.run({ qP, kP: k8, vP: v5 })).toThrow(/^vP: expected dtype float8_e4m3fn, got float8_e5m2/);
    expect(() => w.run({ qP, kP: k16, vP: k16 })).toThrow(/^kP: expected dtype bfloat16 or float8_e4m3fn or float8_e5m2, got float16/);
    expect(w.run({ qP, kP: k8, vP: k8 }).oP!.dtype).toBe("bfloat16");
  });

  test("scales: q·k scales multiply the scores, the v scale the output", () => {
    const ws = Tensor.empty([1 << 16], "uint8", { device });
    const w = new BatchDecodeWithPagedKVCacheWrapper(ws);
    w.plan({ ...plan, kvDataType: "float8_e4m3fn", smScale: 1 });
    const q = Tensor.from(Array.from({ length: 128 }, (_, i) => (i % 64 === 0 ? 1 : 0)), [1, 2, 64], "float16", { device });
    // Keys 0, 1, 2 have k[0] = 0, 1, 2 and values v[0] = 1, 2, 3.
    const cache = Array.from({ length: 2 * 4 * 64 }, () => 0);
    for (let j = 0; j < 3; j++) {
      cache[j * 64] = j;
      cache[4 * 64 + j * 64] = j + 1;
    }
    const kv = Tensor.from(cache, [1, 2, 4, 1, 64], "float8_e4m3fn", { device });
    const run = (s: { qScale?: number; kScale?: number; vScale?: number }) => w.run({ q, pagedKvCache: kv, returnLse: true, ...s });
    const softmax = (scale: number) => {
      const e = [0, 1, 2].map((j) => Math.exp(scale * j));
      const sum = e.reduce((a, b) => a + b, 0);
      return { out: e.reduce((a, x, j) => a + (x / sum) * (j + 1), 0), lse: Math.log(sum) };
    };
    for (const [s, scale, vScale] of [[{}, 1, 1], [{ qScale: 0.5, kScale: 3 }, 1.5, 1], [{ vScale: 0.25, kScale: 2 }, 2, 0.25]] as const) {
      const r = run(s);
      const want = softmax(scale);
      expect(r.out.toFloat32Array()[0]!).toBeCloseTo(want.out * vScale, 2);
      expect(r.lse!.toFloat32Array()[0]!).toBeCloseTo(want.lse, 4);
    }
  });
});
