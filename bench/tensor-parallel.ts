/**
 * Tensor-parallel POD: the attention heads of one layer split evenly across devices, each device
 * running POD on its own heads, on its own stream. Shard i of n holds query heads
 * [i·H/n, (i+1)·H/n) and KV heads [i·KH/n, (i+1)·KH/n) of one layer's inputs — a complete attention
 * problem of its own, with the same requests and page table on every device — so the shards' outputs,
 * put side by side, are the whole layer's. Shared by `bench/tp.ts` and the GPU test.
 */
import { Device, Event, PODWithPagedKVCacheWrapper, Stream, Tensor, dtypeSize, type HalfDType } from "../src/index.ts";
import { decodeBuffers } from "../test/serving-fixture.ts";
import { shuffledPages } from "./common.ts";

export interface TpConfig {
  qo: number; kv: number;            // prefill: queries over keys (one causal request, contiguous k/v)
  batch: number; decodeKv: number;   // decode: requests of decodeKv keys each, paged
  heads: number; kvHeads: number; headDim: number; pageSize: number; dtype: HalfDType;
}

type InputName = "qP" | "kP" | "vP" | "qD" | "cache";
const INPUTS: readonly InputName[] = ["qP", "kP", "vP", "qD", "cache"];

/** One input of the whole layer, on the host: its bytes, shape and the dimension that indexes heads. */
interface HostInput { bytes: Uint8Array; shape: number[]; headDim: number }
/** The whole layer's inputs (every head) on the host, from which every split is cut. */
export type HostLayer = Record<InputName, HostInput>;

export interface Shard {
  device: Device; stream: Stream; wrapper: PODWithPagedKVCacheWrapper;
  /** Query heads [heads.start, heads.start + heads.count) of the layer. */
  heads: { start: number; count: number };
  /** The inputs, outputs and workspace; in CUDA graph mode also the fixed page-table buffers. */
  tensors: Record<InputName | "workspace" | "oP" | "oD", Tensor> & Partial<ReturnType<typeof decodeBuffers>>;
}

function pagesPerRequest(c: TpConfig): number {
  return Math.ceil(c.decodeKv / c.pageSize);
}

/** The whole layer's random inputs, drawn on `device` (fast on a GPU) and copied to the host. */
export function makeHostLayer(device: Device, c: TpConfig, seed = 1): HostLayer {
  const pages = c.batch * pagesPerRequest(c), D = c.headDim;
  const shapes: Record<InputName, [number[], number]> = {
    qP: [[c.qo, c.heads, D], 1], kP: [[c.kv, c.kvHeads, D], 1], vP: [[c.kv, c.kvHeads, D], 1],
    qD: [[c.batch, c.heads, D], 1], cache: [[pages, 2, c.pageSize, c.kvHeads, D], 3],
  };
  const layer = {} as HostLayer;
  INPUTS.forEach((name, k) => {
    const [shape, headDim] = shapes[name];
    using t = Tensor.random(shape, c.dtype, { device, seed: seed * 10 + k });
    layer[name] = { bytes: t.rawBytes(), shape, headDim };
  });
  return layer;
}

/** Copies `count` heads per row, for `rows` rows of `inner` elements per head, from head `srcStart` of
 * rows of `srcHeads` heads to head `dstStart` of rows of `dstHeads` heads (both row-major). */
function copyHeads<A extends Uint8Array | Float32Array>(src: A, srcHeads: number, srcStart: number, dst: A, dstHeads: number, dstStart: number,
  count: number, rows: number, inner: number): void {
  for (let r = 0; r < rows; r++) {
    const from = (r * srcHeads + srcStart) * inner;
    dst.set(src.subarray(from, from + count * inner), (r * dstHeads + dstStart) * inner);
  }
}

/** The bytes of heads [start, start + count) of a row-major input. */
function sliceHeads(input: HostInput, start: number, count: number, elementSize: number): { bytes: Uint8Array; shape: number[] } {
  const { bytes, shape, headDim } = input;
  const inner = shape.slice(headDim + 1).reduce((a, b) => a * b, 1) * elementSize; // bytes per head
  const rows = shape.slice(0, headDim).reduce((a, b) => a * b, 1);
  const out = new Uint8Array(rows * count * inner);
  copyHeads(bytes, shape[headDim]!, start, out, count, 0, count, rows, inner);
  return { bytes: out, shape: shape.map((n, d) => (d === headDim ? count : n)) };
}

export interface ShardOptions {
  seed?: number;
  /** CUDA graph mode (fixed page-table buffers), so that run() can be captured. */
  cudaGraph?: boolean;
}

/** Shard `index` of `count` of the layer on `device`, planned and ready to run. */
export function makeShard(device: Device, c: TpConfig, layer: HostLayer, index: number, count: number, options: ShardOptions = {}): Shard {
  const seed = options.seed ?? 1;
  if (c.kvHeads % count !== 0) throw new Error(`tensor parallel: ${c.kvHeads} KV heads do not split evenly across ${count} devices`);
  const h = c.heads / count, kh = c.kvHeads / count, size = dtypeSize(c.dtype);
  const tensors = {
    workspace: Tensor.empty([128 << 20], "uint8", { device }),
    oP: Tensor.empty([c.qo, h, c.headDim], c.dtype, { device }), oD: Tensor.empty([c.batch, h, c.headDim], c.dtype, { device }),
  } as Shard["tensors"];
  for (const name of INPUTS) {
    const per = name === "qP" || name === "qD" ? h : kh;
    const { bytes, shape } = sliceHeads(layer[name], index * per, per, size);
    tensors[name] = Tensor.empty(shape, c.dtype, { device });
    tensors[name].copyFromHost(bytes);
  }
  const pagesPer = pagesPerRequest(c), pages = c.batch * pagesPer;
  const buffers = options.cudaGraph ? decodeBuffers(device, c.batch, pages) : undefined;
  Object.assign(tensors, buffers);
  const wrapper = new PODWithPagedKVCacheWrapper(tensors.workspace, "NHD", buffers ? { useCudaGraph: true, ...buffers } : {});
  wrapper.plan({
    indptr: Int32Array.from({ length: c.batch + 1 }, (_, i) => i * pagesPer), indices: shuffledPages(pages, seed),
    lastPageLen: new Int32Array(c.batch).fill(c.decodeKv - (pagesPer - 1) * c.pageSize),
    numQoHeads: h, numKvHeads: kh, headDim: c.headDim, pageSize: c.pageSize, qDataType: c.dtype,
  });
  return { device, stream: new Stream(device), wrapper, heads: { start: index * h, count: h }, tensors };
}

/** One shard per device, shard i on devices[i]. */
export function makeShards(devices: readonly Device[], c: TpConfig, layer: HostLayer, options: ShardOptions = {}): Shard[] {
  return devices.map((d, i) => makeShard(d, c, layer, i, devices.length, options));
}

/** Queues one layer's POD on a shard's stream. */
export function runShard(s: Shard): void {
  const { qP, kP, vP, qD, cache, oP, oD } = s.tensors;
  s.wrapper.run({ qP, kP, vP, causalP: true, qD, pagedKvCacheD: cache, outP: oP, outD: oD, stream: s.stream });
}

/** Queues every shard's launch (runShard, or `launch`) on its stream; returns at once (the devices
 * run concurrently). With `events`, shard i's launch is bracketed by events[i] (its device time). */
export function runStep(shards: readonly Shard[], events?: readonly { start: Event; end: Event }[],
  launch: (s: Shard, i: number) => void = runShard): void {
  shards.forEach((s, i) => {
    events?.[i]!.start.record(s.stream);
    launch(s, i);
    events?.[i]!.end.record(s.stream);
  });
}

export function synchronize(shards: readonly Shard[]): void {
  for (const s of shards) s.stream.synchronize();
}

/** The shards' outputs put side by side along the head dimension: the whole layer's oP and oD. */
export function gatherOutputs(shards: readonly Shard[]): { oP: Float32Array; oD: Float32Array } {
  const join = (name: "oP" | "oD") => {
    const [rows, , D] = shards[0]!.tensors[name].shape as [number, number, number];
    const heads = shards.reduce((n, s) => n + s.heads.count, 0);
    const out = new Float32Array(rows * heads * D);
    for (const s of shards) copyHeads(s.tensors[name].toFloat32Array(), s.heads.count, 0, out, heads, s.heads.start, s.heads.count, rows, D);
    return out;
  };
  return { oP: join("oP"), oD: join("oD") };
}

export function destroyShards(shards: readonly Shard[]): void {
  for (const s of shards) {
    s.wrapper.destroy();
    s.stream.destroy();
    for (const t of Object.values(s.tensors)) t?.destroy();
  }
}
