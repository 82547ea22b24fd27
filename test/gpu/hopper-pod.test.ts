/**
 * The sm_90a POD launch (prefill CTAs of the sm_90a prefill kernel beside CTAs of two decode
 * bodies) against the CPU backend, through both POD wrappers: decode batches that leave a partial
 * last decode CTA, split decode key ranges merged inside a slot, empty decode requests, GQA packing,
 * both layouts, page sizes, soft cap and window on either side, RoPE and ALiBi on the decode side.
 * run() launches the two sides back to back where that is faster (cuda/shim/backend/cuda_attention.c),
 * so the cases run twice: as run() chooses, and with plan({ launch: "fused" }). On other devices
 * (and for sides it does not take) the same cases check the portable POD kernel. Skips without a
 * CUDA device.
 */
import { describe, expect, test } from "bun:test";
import { Device, PODWithPagedKVCacheWrapper, Tensor } from "../../src/index.ts";
import { checkGpuAgainstCpu, type PodConfig, type SideConfig } from "../attention-fixture.ts";
import { testGpu } from "./test-device.ts";

const reason = Device.cudaUnavailableReason();
const plain: SideConfig = { causal: false, mask: "none", windowLeft: -1, posEncoding: "NONE", logitsSoftCap: 0 };
const causal: SideConfig = { ...plain, causal: true };

function config(over: Partial<PodConfig> & { prefill: [number, number][]; decodeKvLens: number[] }, prefill: Partial<SideConfig> = {},
  decode: Partial<SideConfig> = {}): PodConfig {
  return {
    seed: 23, wrapper: "single", dtype: "float16", headDim: 128, numKvHeads: 2, group: 4, layout: "NHD", pageSize: 16,
    prefillOptions: { ...causal, ...prefill }, decodeOptions: { ...plain, ...decode }, returnLse: true, fusedQkv: false,
    cachePair: false, preallocate: false, ...over,
  };
}

const lens = (n: number, seed: number) => Array.from({ length: n }, (_, i) => 1 + ((i * 7919 + seed * 104729) % 1500));

const CASES: [string, PodConfig][] = [
  ["single 300/700 + 4 decode f16 d128", config({ prefill: [[300, 700]], decodeKvLens: [300, 17, 1000, 64] })],
  ["single 256/256 + 7 decode bf16 d64 HND", config({ prefill: [[256, 256]], decodeKvLens: lens(7, 1), dtype: "bfloat16", headDim: 64, layout: "HND" })],
  ["single 160/160 + 7 decode, one KV head (a half-filled last decode task)", config({ prefill: [[160, 160]], decodeKvLens: lens(7, 4), numKvHeads: 1, group: 4 })],
  ["single 129/900 + 40 decode (many decode CTAs)", config({ prefill: [[129, 900]], decodeKvLens: lens(40, 2) })],
  ["single + one long decode request (split, merged in a slot)", config({ prefill: [[200, 400]], decodeKvLens: [6000], numKvHeads: 1, group: 8 })],
  ["single + empty decode requests", config({ prefill: [[150, 150]], decodeKvLens: [0, 100, 0, 33] })],
  ["single soft cap both sides", config({ prefill: [[200, 600]], decodeKvLens: lens(5, 3) }, { logitsSoftCap: 20 }, { logitsSoftCap: 30 })],
  ["single window both sides bf16", config({ prefill: [[300, 800]], decodeKvLens: lens(6, 4), dtype: "bfloat16" }, { windowLeft: 64 }, { windowLeft: 200 })],
  ["single decode RoPE", config({ prefill: [[128, 512]], decodeKvLens: lens(5, 5) }, {}, { posEncoding: "ROPE_LLAMA" })],
  ["single decode ALiBi d64", config({ prefill: [[100, 300]], decodeKvLens: lens(5, 6), headDim: 64 }, {}, { posEncoding: "ALIBI" })],
  ["single group 20 d64", config({ prefill: [[40, 300]], decodeKvLens: lens(4, 7), group: 20, headDim: 64 })],
  ["single group 1 non-causal", config({ prefill: [[257, 513]], decodeKvLens: lens(9, 8), group: 1 }, { causal: false })],
  ["batch ragged prefill + 20 decode page 16", config({ wrapper: "batch", prefill: [[100, 700], [3, 129], [250, 250]], decodeKvLens: lens(20, 9) })],
  ["batch page 8 HND bf16", config({ wrapper: "batch", prefill: [[64, 520], [200, 800]], decodeKvLens: lens(11, 10), pageSize: 8, layout: "HND", dtype: "bfloat16" })],
  ["batch page 64 d64 soft cap", config({ wrapper: "batch", prefill: [[120, 1100]], decodeKvLens: lens(8, 11), pageSize: 64, headDim: 64 }, { logitsSoftCap: 15 })],
  ["batch page 128 + decode of 1 key", config({ wrapper: "batch", prefill: [[160, 1000], [1, 1]], decodeKvLens: [1, 1, 2], pageSize: 128 })],
];

describe.skipIf(reason !== undefined)("sm_90a POD vs the CPU backend", () => {
  for (const launch of ["auto", "fused"] as const) {
    for (const [name, cfg] of CASES) {
      // checkGpuAgainstCpu throws, naming the element and both values, where an output is off.
      test(`${name} (launch: ${launch})`, () => checkGpuAgainstCpu({ ...cfg, launch }, testGpu(), "pod"), 60_000);
    }
  }
  test("run() reports its launch: serial where the sm_90a prefill takes a small prefill side, else fused; plan() can choose", () => {
    const gpu = testGpu();
    const on = { device: gpu };
    using ws = Tensor.empty([64 << 20], "uint8", on);
    using w = new PODWithPagedKVCacheWrapper(ws, "NHD");
    const pages = 8, page = 16;
    using qP = Tensor.random([200, 8, 128], "float16", { ...on, seed: 1 });
    using kP = Tensor.random([300, 2, 128], "float16", { ...on, seed: 2 });
    using vP = Tensor.random([300, 2, 128], "float16", { ...on, seed: 3 });
    using qD = Tensor.random([2, 8, 128], "float16", { ...on, seed: 4 });
    using cache = Tensor.random([pages, 2, page, 2, 128], "float16", { ...on, seed: 5 });
    const [major, minor] = gpu.properties.computeCapability;
    for (const launch of [undefined, "auto", "fused", "serial"] as const) {
      w.plan({ indptr: [0, 4, 8], indices: [0, 1, 2, 3, 4, 5, 6, 7], lastPageLen: [16, 9], numQoHeads: 8, numKvHeads: 2, headDim: 128, pageSize: page,
        qDataType: "float16", ...(launch ? { launch } : {}) });
      using r = w.run({ qP, kP, vP, qD, pagedKvCacheD: cache, causalP: true });
      const expected = launch === "fused" || launch === "serial" ? launch : major === 9 && minor === 0 ? "serial" : "fused";
      expect(r.launch).toBe(expected);
      using onlyDecode = w.run({ qP: Tensor.empty([0, 8, 128], "float16", on), kP, vP, qD, pagedKvCacheD: cache });
      expect(onlyDecode.launch).toBe("one-side");
    }
  });

  test("run() fuses comparable sides on sm_90 where the prefill has many CTAs (C4 of bench/pod.ts), and not a long prefill beside a short decode", () => {
    const gpu = testGpu();
    const on = { device: gpu };
    const [major, minor] = gpu.properties.computeCapability;
    using ws = Tensor.empty([256 << 20], "uint8", on);
    using w = new PODWithPagedKVCacheWrapper(ws, "NHD");
    const H = 32, KH = 8, D = 128, page = 16;
    const launchOf = (qo: number, batch: number, kv: number): string => {
      const pagesPer = kv / page;
      using qP = Tensor.random([qo, H, D], "float16", { ...on, seed: 1 });
      using kP = Tensor.random([qo, KH, D], "float16", { ...on, seed: 2 });
      using vP = Tensor.random([qo, KH, D], "float16", { ...on, seed: 3 });
      using qD = Tensor.random([batch, H, D], "float16", { ...on, seed: 4 });
      using cache = Tensor.empty([batch * pagesPer, 2, page, KH, D], "float16", on);
      w.plan({ indptr: Array.from({ length: batch + 1 }, (_, i) => i * pagesPer), indices: Array.from({ length: batch * pagesPer }, (_, i) => i),
        lastPageLen: new Array(batch).fill(page), numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: page, qDataType: "float16" });
      using r = w.run({ qP, kP, vP, qD, pagedKvCacheD: cache, causalP: true });
      return r.launch;
    };
    const sm90 = major === 9 && minor === 0;
    expect(launchOf(4096, 128, 4096)).toBe("fused");
    expect(launchOf(8192, 16, 2048)).toBe(sm90 ? "serial" : "fused");
  }, 60_000);
});
