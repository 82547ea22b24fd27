/**
 * Tensor-parallel POD from one process: the heads of a layer split evenly across every visible CUDA
 * device (and all on one device), each shard planned and run on its
 * own device and stream concurrently. The shards' outputs, put side by side, must equal the whole
 * layer run on the CPU backend. With one GPU the split runs as two shards on two streams of it. Skips (saying why)
 * without a CUDA device.
 */
import { describe, expect, test } from "bun:test";
import { Device } from "../../src/index.ts";
import { destroyShards, gatherOutputs, makeHostLayer, makeShards, runStep, synchronize, type TpConfig } from "../../bench/tensor-parallel.ts";
import { GPU_TOLERANCE, worstError } from "../attention-fixture.ts";

const count = Device.cudaCount();
const reason = count >= 1 ? undefined : `no CUDA device (${Device.cudaUnavailableReason()})`;
if (reason) console.log(`GPU tests skipped (tensor parallel): ${reason}`);
if (count === 1) console.log("tensor parallel: one CUDA device visible, so the two-shard split puts both shards on it");

// Small enough for the CPU reference: a causal 96-token prefill over 160 keys, 3 decode requests.
const CONFIG: TpConfig = { qo: 96, kv: 160, batch: 3, decodeKv: 300, heads: 64, kvHeads: 8, headDim: 128, pageSize: 16, dtype: "float16" };

describe.skipIf(reason !== undefined)("tensor-parallel POD", () => {
  // Device ordinals of each split: all heads on cuda:0; every visible device; two shards on cuda:0
  // (two streams of one device) where only one is visible.
  const splits = [[0], count > 1 ? Array.from({ length: count }, (_, i) => i) : [0, 0]].filter((d) => CONFIG.kvHeads % d.length === 0);
  const cpu = Device.cpu();
  const layer = reason ? undefined : makeHostLayer(cpu, CONFIG, 7);
  const expected = (() => {
    if (!layer) return undefined;
    const whole = makeShards([cpu], CONFIG, layer, { seed: 7 });
    runStep(whole);
    const out = gatherOutputs(whole);
    destroyShards(whole);
    return { oP: Float64Array.from(out.oP), oD: Float64Array.from(out.oD) };
  })();

  for (const ordinals of splits) {
    const where = ordinals.map((i) => `cuda:${i}`).join(", ");
    test(`64 query / 8 KV heads in ${ordinals.length} shard${ordinals.length > 1 ? "s" : ""} on ${where}: together they equal the whole layer on the CPU`, () => {
      const devices = ordinals.map((i) => Device.cuda(i));
      const shards = makeShards(devices, CONFIG, layer!, { seed: 7 });
      shards.forEach((s, i) => expect(s.device).toBe(devices[i]!));
      for (let step = 0; step < 3; step++) runStep(shards); // concurrent on the devices' streams
      synchronize(shards);
      const got = gatherOutputs(shards);
      const tol = GPU_TOLERANCE.float16;
      expect(worstError(got.oP, expected!.oP, tol.atol, tol.rtol)).toBeLessThanOrEqual(1);
      expect(worstError(got.oD, expected!.oD, tol.atol, tol.rtol)).toBeLessThanOrEqual(1);
      destroyShards(shards);
    }, 120_000);
  }
});
