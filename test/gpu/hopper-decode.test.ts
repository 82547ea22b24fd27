/**
 * The sm_90a decode kernel (TMA ring, producer warp, four consumer warps) against the CPU backend
 * through BatchDecodeWithPagedKVCacheWrapper: page sizes 8..128 (TMA per page) and 256 (a tile inside
 * a page), both layouts, GQA groups 1..16, head_dim 64 and 128, empty and one-key requests, last pages
 * partly filled, long requests whose key range the planner splits, window, soft cap, ALiBi and RoPE,
 * fp8 (e4m3 and e5m2) caches with dequantization scales. Page sizes below 8, soft cap beside a
 * position encoding, and plain scores with a negative scale run the portable kernel: a few cases
 * check that too. On other devices the same cases check the portable kernel.
 * Skips without a CUDA device.
 */
import { describe, test } from "bun:test";
import { Device } from "../../src/index.ts";
import { checkGpuAgainstCpu, type PodConfig, type SideConfig } from "../attention-fixture.ts";
import { testGpu } from "./test-device.ts";

const reason = Device.cudaUnavailableReason();
const plain: SideConfig = { causal: false, mask: "none", windowLeft: -1, posEncoding: "NONE", logitsSoftCap: 0 };

function config(over: Partial<PodConfig> & { decodeKvLens: number[] }, options: Partial<SideConfig> = {}): PodConfig {
  return {
    seed: 23, wrapper: "batch", dtype: "float16", headDim: 128, numKvHeads: 2, group: 4, layout: "NHD", pageSize: 16,
    prefill: [], prefillOptions: plain, decodeOptions: { ...plain, ...options }, returnLse: true, fusedQkv: false,
    cachePair: false, preallocate: false, ...over,
  };
}

const CASES: [string, PodConfig][] = [
  ["page 16 NHD f16 mixed lengths", config({ decodeKvLens: [1, 15, 16, 17, 300, 1000] })],
  ["page 16 HND bf16", config({ decodeKvLens: [64, 65, 700], layout: "HND", dtype: "bfloat16" })],
  ["page 8 group 1", config({ decodeKvLens: [9, 130, 511], pageSize: 8, group: 1 })],
  ["page 32 group 8 d64", config({ decodeKvLens: [33, 250, 900], pageSize: 32, group: 8, headDim: 64 })],
  ["page 64 group 16 HND", config({ decodeKvLens: [100, 640], pageSize: 64, group: 16, layout: "HND", numKvHeads: 1 })],
  ["page 128 bf16 d64", config({ decodeKvLens: [129, 1500], pageSize: 128, dtype: "bfloat16", headDim: 64 })],
  ["page 256 (a tile inside a page)", config({ decodeKvLens: [257, 800], pageSize: 256 })],
  ["empty requests beside others", config({ decodeKvLens: [0, 40, 0, 3] })],
  ["one long request (split key range)", config({ decodeKvLens: [6000], numKvHeads: 1, group: 8 })],
  ["many requests", config({ decodeKvLens: Array.from({ length: 40 }, (_, i) => 1 + ((i * 137) % 900)) })],
  ["soft cap 30", config({ decodeKvLens: [200, 999] }, { logitsSoftCap: 30 })],
  ["window 100", config({ decodeKvLens: [50, 101, 1200] }, { windowLeft: 100 })],
  ["custom scale 0.03, d64 bf16", config({ decodeKvLens: [77, 450], headDim: 64, dtype: "bfloat16" }, { smScale: 0.03 })],
  ["page 1 (portable kernel)", config({ decodeKvLens: [5, 300], pageSize: 1 })],
  ["page 1 HND bf16 group 8 (portable kernel)", config({ decodeKvLens: [1, 64, 65, 1000], pageSize: 1, layout: "HND", dtype: "bfloat16", group: 8 })],
  ["page 2 d64 (portable kernel)", config({ decodeKvLens: [3, 129, 400], pageSize: 2, headDim: 64 })],
  ["page 4 one long request (portable kernel)", config({ decodeKvLens: [4100], pageSize: 4, numKvHeads: 1 })],
  ["page 24, not a power of two (portable kernel)", config({ decodeKvLens: [23, 24, 25, 700], pageSize: 24 })],
  ["e5m2 cache page 4 d64 group 16 (portable kernel)", config({ decodeKvLens: [1, 255, 999], kvDtype: "float8_e5m2", pageSize: 4, headDim: 64, group: 16, numKvHeads: 1 })],
  ["ALiBi", config({ decodeKvLens: [5, 300] }, { posEncoding: "ALIBI" })],
  ["ALiBi bf16 group 8 window 200", config({ decodeKvLens: [70, 1300], dtype: "bfloat16", group: 8 }, { posEncoding: "ALIBI", windowLeft: 200 })],
  ["ALiBi one long request d64", config({ decodeKvLens: [5000], headDim: 64, numKvHeads: 1, group: 8 }, { posEncoding: "ALIBI" })],
  ["RoPE", config({ decodeKvLens: [1, 17, 300, 1000] }, { posEncoding: "ROPE_LLAMA" })],
  ["RoPE bf16 HND theta 500000 scale 2", config({ decodeKvLens: [64, 2000], dtype: "bfloat16", layout: "HND" }, { posEncoding: "ROPE_LLAMA", ropeTheta: 500000, ropeScale: 2 })],
  ["RoPE d64 one long request", config({ decodeKvLens: [6000], headDim: 64, numKvHeads: 1, group: 8 }, { posEncoding: "ROPE_LLAMA" })],
  ["negative scale (portable kernel)", config({ decodeKvLens: [40, 300] }, { smScale: -0.05 })],
  ["ALiBi with a negative scale", config({ decodeKvLens: [40, 300] }, { posEncoding: "ALIBI", smScale: -0.05 })],
  ["soft cap and ALiBi (portable kernel)", config({ decodeKvLens: [40, 300] }, { posEncoding: "ALIBI", logitsSoftCap: 30 })],
  ["e4m3 cache page 16", config({ decodeKvLens: [1, 70, 300, 2100], kvDtype: "float8_e4m3fn" })],
  ["e5m2 cache HND bf16 with scales", config({ decodeKvLens: [17, 640], kvDtype: "float8_e5m2", layout: "HND", dtype: "bfloat16", scalesD: [0.5, 2, 0.25] })],
  ["e4m3 cache d64 page 128 group 8 soft cap", config({ decodeKvLens: [129, 1000], kvDtype: "float8_e4m3fn", headDim: 64, pageSize: 128, group: 8 }, { logitsSoftCap: 20 })],
  ["e5m2 cache page 8 window 64, one long request", config({ decodeKvLens: [5000], kvDtype: "float8_e5m2", pageSize: 8, numKvHeads: 1 }, { windowLeft: 64 })],
  ["e4m3 cache page 1 (portable kernel)", config({ decodeKvLens: [70, 300], kvDtype: "float8_e4m3fn", pageSize: 1 })],
  ["e4m3 cache page 2 HND d64 group 1 (portable kernel)", config({ decodeKvLens: [3, 130, 700], kvDtype: "float8_e4m3fn", pageSize: 2, layout: "HND", headDim: 64, group: 1 })],
  ["e5m2 cache d64 bf16 many requests", config({ decodeKvLens: Array.from({ length: 24 }, (_, i) => 1 + ((i * 211) % 1500)), kvDtype: "float8_e5m2", headDim: 64, dtype: "bfloat16" })],
  ["e4m3 cache ALiBi", config({ decodeKvLens: [33, 900], kvDtype: "float8_e4m3fn" }, { posEncoding: "ALIBI" })],
  ["e4m3 cache RoPE bf16 with scales", config({ decodeKvLens: [33, 900], kvDtype: "float8_e4m3fn", dtype: "bfloat16", scalesD: [0.5, 2, 0.25] }, { posEncoding: "ROPE_LLAMA" })],
  ["e5m2 cache RoPE d64 page 32", config({ decodeKvLens: [100, 2500], kvDtype: "float8_e5m2", headDim: 64, pageSize: 32 }, { posEncoding: "ROPE_LLAMA" })],
];

describe.skipIf(reason !== undefined)("sm_90a decode vs the CPU backend", () => {
  for (const [name, cfg] of CASES) {
    test(name, () => checkGpuAgainstCpu(cfg, testGpu(), "standalone"), 60_000);
  }
});
