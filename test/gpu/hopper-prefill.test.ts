/**
 * The sm_90a prefill kernel (warp-specialized, TMA + wgmma) against the CPU backend on shapes that
 * reach its paths: several 128-key tiles, causal and window boundary tiles, split key ranges, GQA
 * packing with padding rows, both layouts, page sizes 8..256 (TMA boxes per page, or per tile where a
 * page holds more than a tile), pages of 1, 2, 4 and 24 slots (rows gathered by cp.async), head_dim
 * 64, 128 and 256 (64-key tiles) and soft cap. On other devices (and for options it does not take)
 * the same cases check the portable kernel, and batches of many requests fill more than one wave.
 * Skips without a CUDA device.
 */
import { describe, test } from "bun:test";
import { Device } from "../../src/index.ts";
import { checkGpuAgainstCpu, type PodConfig, type SideConfig } from "../attention-fixture.ts";
import { testGpu } from "./test-device.ts";

const reason = Device.cudaUnavailableReason();
const plain: SideConfig = { causal: false, mask: "none", windowLeft: -1, posEncoding: "NONE", logitsSoftCap: 0 };

function config(over: Partial<PodConfig> & { prefill: [number, number][] }, options: Partial<SideConfig> = {}): PodConfig {
  return {
    seed: 11, wrapper: "single", dtype: "float16", headDim: 128, numKvHeads: 2, group: 4, layout: "NHD", pageSize: 16,
    decodeKvLens: [], prefillOptions: { ...plain, ...options }, decodeOptions: plain, returnLse: true, fusedQkv: false,
    cachePair: false, preallocate: false, ...over,
  };
}

const CASES: [string, PodConfig][] = [
  ["single causal 200/900 f16 d128", config({ prefill: [[200, 900]] }, { causal: true })],
  ["single causal 300/300 bf16 d128", config({ prefill: [[300, 300]], dtype: "bfloat16" }, { causal: true })],
  ["single full 130/1000 d64 HND", config({ prefill: [[130, 1000]], headDim: 64, layout: "HND" })],
  ["single causal window 37 200/700", config({ prefill: [[200, 700]] }, { causal: true, windowLeft: 37 })],
  ["single soft cap 20 causal 150/600 bf16", config({ prefill: [[150, 600]], dtype: "bfloat16" }, { causal: true, logitsSoftCap: 20 })],
  ["single sm_scale 0.05 group 1", config({ prefill: [[257, 513]], group: 1 }, { smScale: 0.05 })],
  ["single negative sm_scale (portable kernel)", config({ prefill: [[130, 400]] }, { causal: true, smScale: -0.05 })],
  ["single negative sm_scale with soft cap 30", config({ prefill: [[130, 400]] }, { causal: true, smScale: -0.05, logitsSoftCap: 30 })],
  ["single group 8 d64 causal", config({ prefill: [[90, 400]], group: 8, headDim: 64 }, { causal: true })],
  ["single group 20 d64 (non power of two)", config({ prefill: [[40, 300]], group: 20, headDim: 64 }, { causal: true })],
  ["single fused qkv 256/256", config({ prefill: [[256, 256]], fusedQkv: true }, { causal: true })],
  ["single request with no keys", config({ prefill: [[2, 0]], headDim: 64, group: 3 })],
  ["batch causal page 16 ragged", config({ wrapper: "batch", prefill: [[100, 700], [3, 129], [250, 250]] }, { causal: true })],
  ["batch page 8 HND bf16", config({ wrapper: "batch", prefill: [[64, 520], [200, 800]], pageSize: 8, layout: "HND", dtype: "bfloat16" })],
  ["batch page 32 window 100", config({ wrapper: "batch", prefill: [[180, 900]], pageSize: 32 }, { causal: true, windowLeft: 100 })],
  ["batch page 64 soft cap d64", config({ wrapper: "batch", prefill: [[120, 1100], [60, 61]], pageSize: 64, headDim: 64 }, { logitsSoftCap: 15 })],
  ["batch page 128 causal", config({ wrapper: "batch", prefill: [[160, 1000], [1, 1]], pageSize: 128 }, { causal: true })],
  ["batch one long request (split key range)", config({ wrapper: "batch", prefill: [[16, 2000]], numKvHeads: 1, group: 8 }, { causal: true })],
  ["batch empty request beside others", config({ wrapper: "batch", prefill: [[0, 100], [50, 300], [0, 0]], pageSize: 16 }, { causal: true })],
  ["single causal 200/900 d256", config({ prefill: [[200, 900]], headDim: 256 }, { causal: true })],
  ["single full 130/700 d256 bf16 HND", config({ prefill: [[130, 700]], headDim: 256, dtype: "bfloat16", layout: "HND" })],
  ["single soft cap 25 window 90 d256", config({ prefill: [[150, 600]], headDim: 256 }, { causal: true, windowLeft: 90, logitsSoftCap: 25 })],
  ["batch page 16 ragged d256 group 1", config({ wrapper: "batch", prefill: [[100, 700], [3, 129]], headDim: 256, group: 1 }, { causal: true })],
  ["batch page 128 d256 HND (tile inside a page)", config({ wrapper: "batch", prefill: [[160, 1000], [40, 70]], headDim: 256, pageSize: 128, layout: "HND" }, { causal: true })],
  ["batch page 256 d128 (tile inside a page)", config({ wrapper: "batch", prefill: [[120, 1300], [9, 300]], pageSize: 256 }, { causal: true })],
  ["batch page 1 ragged causal", config({ wrapper: "batch", prefill: [[100, 300], [40, 129]], pageSize: 1 }, { causal: true })],
  ["batch page 4 HND bf16 d64", config({ wrapper: "batch", prefill: [[64, 300], [7, 7]], pageSize: 4, layout: "HND", dtype: "bfloat16", headDim: 64 })],
  ["batch page 24 (not a power of two) window 60", config({ wrapper: "batch", prefill: [[150, 700]], pageSize: 24 }, { causal: true, windowLeft: 60 })],
  ["batch page 2 d256 group 1", config({ wrapper: "batch", prefill: [[70, 400]], pageSize: 2, headDim: 256, group: 1 }, { causal: true })],
  ["batch one long request d256 (split key range)", config({ wrapper: "batch", prefill: [[16, 2000]], numKvHeads: 1, group: 8, headDim: 256 }, { causal: true })],
  // More work items than an H200 has SMs.
  ["single causal 600/700, 32 KV heads (160 items)", config({ prefill: [[600, 700]], numKvHeads: 32, group: 1 }, { causal: true })],
  ["batch of 48 ragged requests, page 16 (many items, some empty)",
    config({ wrapper: "batch", prefill: Array.from({ length: 48 }, (_, i): [number, number] => [(i * 37) % 90, (i * 37) % 90 + (i * 53) % 300]), numKvHeads: 4 }, { causal: true })],
  ["batch of 40 requests, soft cap, window 50, page 32 d64", config({ wrapper: "batch", prefill: Array.from({ length: 40 }, (_, i): [number, number] => [33 + i, 200 + 7 * i]), numKvHeads: 4, headDim: 64, pageSize: 32 }, { causal: true, windowLeft: 50, logitsSoftCap: 20 })],
  ["batch decode side beside prefill", config({ wrapper: "batch", prefill: [[128, 512]], decodeKvLens: [300, 17] }, { causal: true })],
  ["batch decode side beside prefill d256", config({ wrapper: "batch", prefill: [[128, 512]], decodeKvLens: [300, 17], headDim: 256 }, { causal: true })],
];

describe.skipIf(reason !== undefined)("sm_90a prefill vs the CPU backend", () => {
  for (const [name, cfg] of CASES) {
    // checkGpuAgainstCpu throws, naming the element and both values, where an output is off.
    test(name, () => checkGpuAgainstCpu(cfg, testGpu(), "standalone"), 60_000);
  }
});
