/**
 * Tensor-parallel POD: the attention heads of one layer split evenly across devices, each device
 * running POD on its own heads, on its own stream. Shard i of n holds query heads
 * [i·H/n, (i+1)·H/n) and KV heads [i·KH/n, (i+1)·KH/n): a complete attention problem of its own, with
 * the same requests and page table on every device. Shared by `bench/tp.ts` and the GPU test.
 */
import { Device, PODWithPagedKVCacheWrapper, Stream, Tensor, type HalfDType } from "../src/index.ts";
import { shuffledPages } from "./common.ts";

export interface TpConfig {
  qo: number; kv: number;            // prefill: queries over keys (one causal request, contiguous k/v)
  batch: number; decodeKv: number;   // decode: requests of decodeKv keys each, paged
  heads: number; kvHeads: number; headDim: number; pageSize: number; dtype: HalfDType;
}

export interface Shard {
  device: Device; stream: Stream; wrapper: PODWithPagedKVCacheWrapper;
  tensors: { workspace: Tensor; qP: Tensor; kP: Tensor; vP: Tensor; qD: Tensor; cache: Tensor; oP: Tensor; oD: Tensor };
}

/** Shard `index` of `count` on `device`. Its inputs depend only on (seed, index, count), not on the
 * device, so the same shard on the CPU backend is its reference. */
export function makeShard(device: Device, c: TpConfig, index: number, count: number, seed = 1): Shard {
  if (c.kvHeads % count !== 0) throw new Error(`tensor parallel: ${c.kvHeads} KV heads do not split evenly across ${count} devices`);
  const h = c.heads / count, kh = c.kvHeads / count, D = c.headDim;
  const pagesPer = Math.ceil(c.decodeKv / c.pageSize), pages = c.batch * pagesPer;
  const rnd = (shape: number[], k: number) => Tensor.random(shape, c.dtype, { device, seed: seed * 1000 + index * 10 + k });
  const tensors = {
    workspace: Tensor.empty([128 << 20], "uint8", { device }),
    qP: rnd([c.qo, h, D], 1), kP: rnd([c.kv, kh, D], 2), vP: rnd([c.kv, kh, D], 3),
    qD: rnd([c.batch, h, D], 4), cache: rnd([pages, 2, c.pageSize, kh, D], 5),
    oP: Tensor.empty([c.qo, h, D], c.dtype, { device }), oD: Tensor.empty([c.batch, h, D], c.dtype, { device }),
  };
  const wrapper = new PODWithPagedKVCacheWrapper(tensors.workspace, "NHD");
  wrapper.plan({
    indptr: Int32Array.from({ length: c.batch + 1 }, (_, i) => i * pagesPer), indices: shuffledPages(pages, seed),
    lastPageLen: new Int32Array(c.batch).fill(c.decodeKv - (pagesPer - 1) * c.pageSize),
    numQoHeads: h, numKvHeads: kh, headDim: D, pageSize: c.pageSize, qDataType: c.dtype,
  });
  return { device, stream: new Stream(device), wrapper, tensors };
}

/** One shard per device, shard i on devices[i]. */
export function makeShards(devices: Device[], c: TpConfig, seed = 1): Shard[] {
  return devices.map((d, i) => makeShard(d, c, i, devices.length, seed));
}

/** Queues one layer's POD on every shard's stream; returns at once (the devices run concurrently). */
export function runStep(shards: readonly Shard[]): void {
  for (const s of shards) {
    const { qP, kP, vP, qD, cache, oP, oD } = s.tensors;
    s.wrapper.run({ qP, kP, vP, causalP: true, qD, pagedKvCacheD: cache, outP: oP, outD: oD, stream: s.stream });
  }
}

export function synchronize(shards: readonly Shard[]): void {
  for (const s of shards) s.stream.synchronize();
}

export function destroyShards(shards: readonly Shard[]): void {
  for (const s of shards) {
    s.wrapper.destroy();
    s.stream.destroy();
    for (const t of Object.values(s.tensors)) t.destroy();
  }
}
