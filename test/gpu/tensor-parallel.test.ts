/**
 * Tensor-parallel POD from one process: the heads of a layer split evenly across every visible CUDA
 * device (and, where several are visible, across one device too), each shard planned and run on its
 * own device and stream concurrently, and each shard's outputs checked against the same shard on the
 * CPU backend. With one GPU this runs the single-shard case; the two-GPU split needs two devices.
 * Skips (saying why) without a CUDA device.
 */
import { describe, expect, test } from "bun:test";
import { Device } from "../../src/index.ts";
import { destroyShards, makeShard, makeShards, runStep, synchronize, type TpConfig } from "../../bench/tensor-parallel.ts";
import { GPU_TOLERANCE, worstError } from "../attention-fixture.ts";

const count = Device.cudaCount();
const reason = count >= 1 ? undefined : `no CUDA device (${Device.cudaUnavailableReason()})`;
if (reason) console.log(`GPU tests skipped (tensor parallel): ${reason}`);
if (count === 1) console.log("tensor parallel: one CUDA device visible, so only the single-shard split runs");

// Small enough for the CPU reference: a causal 96-token prefill over 160 keys, 3 decode requests.
const CONFIG: TpConfig = { qo: 96, kv: 160, batch: 3, decodeKv: 300, heads: 64, kvHeads: 8, headDim: 128, pageSize: 16, dtype: "float16" };

describe.skipIf(reason !== undefined)("tensor-parallel POD", () => {
  const splits = [...new Set([1, count].filter((n) => CONFIG.kvHeads % n === 0))];
  for (const n of splits) {
    test(`64 query / 8 KV heads over ${n} device${n > 1 ? "s" : ""}: every shard equals its CPU reference`, () => {
      const devices = Array.from({ length: n }, (_, i) => Device.cuda(i));
      const shards = makeShards(devices, CONFIG, 7);
      for (let step = 0; step < 3; step++) runStep(shards); // concurrent on the devices' streams
      synchronize(shards);
      const tol = GPU_TOLERANCE.float16;
      shards.forEach((s, i) => {
        const ref = makeShard(Device.cpu(), CONFIG, i, n, 7);
        runStep([ref]);
        for (const k of ["oP", "oD"] as const) {
          const worst = worstError(s.tensors[k].toFloat32Array(), Float64Array.from(ref.tensors[k].toFloat32Array()), tol.atol, tol.rtol);
          expect(worst).toBeLessThanOrEqual(1);
        }
        expect(s.device).toBe(devices[i]!);
        destroyShards([ref]);
      });
      destroyShards(shards);
    }, 120_000);
  }
});
