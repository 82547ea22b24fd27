/**
 * Serving scenarios shared by the CPU and GPU tests: many layers of POD inputs on one device, page
 * tables for a fixed batch with changing KV lengths, wrappers in CUDA graph mode with their fixed
 * buffers, and exact comparison of outputs.
 */
import {
  Device,
  PODWithPagedKVCacheWrapper,
  Stream,
  Tensor,
  type HalfDType,
  type PodRunResult,
} from "../src/index.ts";
import { rng, shuffledRange } from "./rng.ts";

export interface ServingShape {
  layers: number;
  numKvHeads: number;
  group: number;
  headDim: 64 | 128 | 256;
  pageSize: number;
  dtype: HalfDType;
  /** Decode requests (fixed for the graph's life). */
  batch: number;
  /** Pages in each layer's cache. */
  pages: number;
  /** The single wrapper's prefill request (run() inputs): qo and kv lengths; 0 queries: none. */
  prefillQo: number;
  prefillKv: number;
}

/** A page table for `lens` (one request each) over `pages` pages, assigned in a shuffled order. */
export function pageTable(lens: readonly number[], pageSize: number, pages: number, seed: number) {
  const order = shuffledRange(pages, rng(seed));
  const indptr = [0];
  const indices: number[] = [];
  const last: number[] = [];
  for (const n of lens) {
    const p = Math.ceil(n / pageSize);
    for (let k = 0; k < p; k++) indices.push(order[indices.length]!);
    indptr.push(indices.length);
    last.push(n === 0 ? 1 : n - (p - 1) * pageSize);
  }
  if (indices.length > pages) throw new Error(`pageTable: ${indices.length} pages needed, ${pages} in the cache`);
  return { indptr: Int32Array.from(indptr), indices: Int32Array.from(indices), last: Int32Array.from(last) };
}

/** One layer's inputs and two sets of preallocated outputs (graph replay, eager). */
export interface Layer {
  qP: Tensor | null;
  kP: Tensor | null;
  vP: Tensor | null;
  qD: Tensor;
  cache: Tensor;
  out: [PodRunResult & { lseP: Tensor | undefined; lseD: Tensor }, PodRunResult & { lseP: Tensor | undefined; lseD: Tensor }];
}

export function makeLayers(device: Device, s: ServingShape, seed = 1): { layers: Layer[]; dispose(): void } {
  const owned: Tensor[] = [];
  const keep = (t: Tensor) => (owned.push(t), t);
  const H = s.numKvHeads * s.group, D = s.headDim;
  const rand = (shape: number[], k: number) => keep(Tensor.random(shape, s.dtype, { device, seed: seed * 1000 + k, low: -1, high: 1 }));
  const layers: Layer[] = [];
  for (let l = 0; l < s.layers; l++) {
    const k = l * 10;
    const hasPrefill = s.prefillQo > 0;
    const outs = () => ({
      oP: hasPrefill ? keep(Tensor.zeros([s.prefillQo, H, D], s.dtype, { device })) : undefined,
      oD: keep(Tensor.zeros([s.batch, H, D], s.dtype, { device })),
      lseP: hasPrefill ? keep(Tensor.zeros([s.prefillQo, H], "float32", { device })) : undefined,
      lseD: keep(Tensor.zeros([s.batch, H], "float32", { device })),
      launch: "none" as const, // preallocated outputs, not a run's result
    });
    layers.push({
      qP: hasPrefill ? rand([s.prefillQo, H, D], k) : null,
      kP: hasPrefill ? rand([s.prefillKv, s.numKvHeads, D], k + 1) : null,
      vP: hasPrefill ? rand([s.prefillKv, s.numKvHeads, D], k + 2) : null,
      qD: rand([s.batch, H, D], k + 3),
      cache: rand([s.pages, 2, s.pageSize, s.numKvHeads, D], k + 4),
      out: [outs(), outs()],
    });
  }
  return { layers, dispose: () => owned.reverse().forEach((t) => t.destroy()) };
}

/** The fixed decode-side buffers of CUDA graph mode, for `batch` requests and up to `pages` pages. */
export function decodeBuffers(device: Device, batch: number, pages: number) {
  return {
    pagedKvIndptrBuffer: Tensor.zeros([batch + 1], "int32", { device }),
    pagedKvIndicesBuffer: Tensor.zeros([pages], "int32", { device }),
    pagedKvLastPageLenBuffer: Tensor.zeros([batch], "int32", { device }),
  };
}

/** Runs one layer through the single POD wrapper into output set `which`. */
export function runLayer(w: PODWithPagedKVCacheWrapper, layer: Layer, which: 0 | 1, stream?: Stream, enablePdl?: boolean): void {
  const o = layer.out[which];
  w.run({
    qP: layer.qP, kP: layer.kP, vP: layer.vP, causalP: true, qD: layer.qD, pagedKvCacheD: layer.cache,
    outP: o.oP, outD: o.oD, lseP: o.lseP ?? null, lseD: o.lseD, ...(stream ? { stream } : {}),
    ...(enablePdl !== undefined ? { enablePdl } : {}),
  });
}

/** Whether two tensors hold the same bytes; the first differing element's index otherwise. */
export function firstDifference(a: Tensor, b: Tensor): number {
  const x = a.rawBytes(), y = b.rawBytes();
  if (x.length !== y.length) return 0;
  const size = a.dtype === "float32" ? 4 : 2;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return Math.floor(i / size);
  return -1;
}

/** Throws, naming the layer and the output, unless both output sets of every layer are identical. */
export function expectSameOutputs(layers: readonly Layer[], what: string): void {
  layers.forEach((layer, l) => {
    const [g, e] = layer.out;
    const pairs: [string, Tensor | null | undefined, Tensor | null | undefined][] = [
      ["oP", g.oP, e.oP], ["oD", g.oD, e.oD], ["lseP", g.lseP, e.lseP], ["lseD", g.lseD, e.lseD],
    ];
    for (const [name, x, y] of pairs) {
      if (!x && !y) continue;
      const at = firstDifference(x!, y!);
      if (at >= 0) throw new Error(`${what}: layer ${l} ${name} differs from eager execution at element ${at}`);
    }
  });
}

/** Zeroes one output set, so a replay that wrote nothing cannot pass for one that wrote the same. */
export function clearOutputs(layers: readonly Layer[], which: 0 | 1): void {
  for (const l of layers) for (const t of [l.out[which].oP, l.out[which].oD, l.out[which].lseP, l.out[which].lseD]) if (t) t.fill(0);
}
