/**
 * Serving on the CPU backend: graph capture and replay (the CPU device records run() calls and
 * replays them), CUDA graph mode of the wrappers (fixed buffers, fixed plan shape, re-planning under
 * a captured graph), capture rules, streams, workspace reset and memory that stays flat over many
 * plan/run cycles. test/gpu/ runs the same scenarios on CUDA.
 */
import { describe, expect, test } from "bun:test";
import {
  BatchDecodeWithPagedKVCacheWrapper,
  BatchPODWithPagedKVCacheWrapper,
  BatchPrefillWithPagedKVCacheWrapper,
  CudaGraph,
  Device,
  PODWithPagedKVCacheWrapper,
  PodError,
  Stream,
  Tensor,
  singlePrefillWithKVCache,
} from "../src/index.ts";
import { clearOutputs, decodeBuffers, expectSameOutputs, makeLayers, pageTable, runLayer, type ServingShape } from "./serving-fixture.ts";

const cpu = Device.cpu();
const on = { device: cpu };
const SHAPE: ServingShape = {
  layers: 32, numKvHeads: 2, group: 2, headDim: 64, pageSize: 4, dtype: "float16", batch: 3, pages: 40, prefillQo: 6, prefillKv: 9,
};
const heads = { numQoHeads: SHAPE.numKvHeads * SHAPE.group, numKvHeads: SHAPE.numKvHeads, headDim: SHAPE.headDim, pageSize: SHAPE.pageSize };

function expectPodError(fn: () => unknown, status: string, message: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PodError);
    expect((e as PodError).status).toBe(status as never);
    expect((e as PodError).message).toMatch(message);
    return;
  }
  throw new Error(`expected a PodError ${status} matching ${message}`);
}

describe("graphs on the CPU device", () => {
  test("32 layers of POD run() captured, replayed, and replayed again after plans with other KV lengths", () => {
    const { layers, dispose } = makeLayers(cpu, SHAPE);
    using ws = Tensor.empty([1 << 20], "uint8", on);
    const bufs = decodeBuffers(cpu, SHAPE.batch, SHAPE.pages);
    using w = new PODWithPagedKVCacheWrapper(ws, "NHD", { useCudaGraph: true, ...bufs });
    using stream = new Stream(cpu);
    const plan = (lens: number[], seed: number) => {
      const t = pageTable(lens, SHAPE.pageSize, SHAPE.pages, seed);
      w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...heads, stream });
      return t;
    };
    const t1 = plan([5, 17, 30], 1);
    // The plan wrote the page table into the fixed buffers.
    expect(Array.from(bufs.pagedKvIndptrBuffer.toFloat32Array())).toEqual(Array.from(t1.indptr));
    expect(Array.from(bufs.pagedKvIndicesBuffer.toFloat32Array().subarray(0, t1.indices.length))).toEqual(Array.from(t1.indices));
    expect(Array.from(bufs.pagedKvLastPageLenBuffer.toFloat32Array())).toEqual(Array.from(t1.last));

    for (const layer of layers) runLayer(w, layer, 1, stream); // eager (and warm-up)
    const graph = stream.capture(() => {
      for (const layer of layers) runLayer(w, layer, 0, stream);
    });
    // Captured, not run: the graph's outputs are still zero.
    expect(layers[0]!.out[0].oD!.toFloat32Array().every((x) => x === 0)).toBe(true);
    graph.launch();
    expectSameOutputs(layers, "first plan");

    const before = layers[5]!.out[1].oD!.toFloat32Array();
    for (const [lens, seed] of [[[40, 1, 12], 2], [[33, 33, 33], 3], [[0, 7, 2], 4]] as const) {
      plan([...lens], seed);
      for (const layer of layers) runLayer(w, layer, 1, stream);
      clearOutputs(layers, 0);
      graph.launch(stream);
      expectSameOutputs(layers, `plan with KV lengths ${lens}`);
    }
    // The later plans changed what the graph computed.
    expect(Array.from(layers[5]!.out[1].oD!.toFloat32Array())).not.toEqual(Array.from(before));
    graph.destroy();
    dispose();
    for (const t of Object.values(bufs)) t.destroy();
  });

  test("the batch POD wrapper: both sides from fixed buffers, query split changes under a fixed total", () => {
    const B = 2, pages = 40;
    using ws = Tensor.empty([1 << 20], "uint8", on);
    const mk = (shape: number[], seed: number) => Tensor.random(shape, "float16", { device: cpu, seed });
    const H = heads.numQoHeads, D = heads.headDim, KH = heads.numKvHeads;
    const bp = { qoIndptrBufferP: Tensor.zeros([B + 1], "int32", on), pagedKvIndptrBufferP: Tensor.zeros([B + 1], "int32", on),
      pagedKvIndicesBufferP: Tensor.zeros([pages], "int32", on), pagedKvLastPageLenBufferP: Tensor.zeros([B], "int32", on) };
    const bd = { pagedKvIndptrBufferD: Tensor.zeros([B + 1], "int32", on), pagedKvIndicesBufferD: Tensor.zeros([pages], "int32", on),
      pagedKvLastPageLenBufferD: Tensor.zeros([B], "int32", on) };
    using w = new BatchPODWithPagedKVCacheWrapper(ws, "NHD", { useCudaGraph: true, ...bp, ...bd });
    using cacheP = mk([pages, 2, 4, KH, D], 1);
    using cacheD = mk([pages, 2, 4, KH, D], 2);
    using qP = mk([10, H, D], 3);
    using qD = mk([B, H, D], 4);
    const outs = [0, 1].map(() => ({ oP: Tensor.zeros([10, H, D], "float16", on), oD: Tensor.zeros([B, H, D], "float16", on) }));
    using stream = new Stream(cpu);
    const plan = (qo: number[], kvP: number[], kvD: number[], seed: number) => {
      const p = pageTable(kvP, 4, pages, seed), d = pageTable(kvD, 4, pages, seed + 1);
      w.plan({ qoIndptrP: [0, qo[0]!, qo[0]! + qo[1]!], kvIndptrP: p.indptr, kvIndicesP: p.indices, lastPageLenP: p.last,
        kvIndptrD: d.indptr, kvIndicesD: d.indices, lastPageLenD: d.last, ...heads, causalP: true, stream });
    };
    const run = (i: number) => w.run({ qP, pagedKvCacheP: cacheP, qD, pagedKvCacheD: cacheD, outP: outs[i]!.oP, outD: outs[i]!.oD, stream });
    plan([4, 6], [9, 20], [13, 3], 1);
    run(1);
    const graph = stream.capture(() => run(0));
    graph.launch();
    expect(Array.from(outs[0]!.oP.toFloat32Array())).toEqual(Array.from(outs[1]!.oP.toFloat32Array()));
    plan([7, 3], [30, 3], [40, 22], 3); // another split of the 10 queries, other KV lengths
    run(1);
    graph.launch();
    expect(Array.from(outs[0]!.oP.toFloat32Array())).toEqual(Array.from(outs[1]!.oP.toFloat32Array()));
    expect(Array.from(outs[0]!.oD.toFloat32Array())).toEqual(Array.from(outs[1]!.oD.toFloat32Array()));
    // The total number of queries is fixed: the captured qP holds 10 tokens.
    expectPodError(() => plan([4, 7], [9, 20], [13, 3], 5), "INVALID_ARGUMENT", /qoIndptrP \(the total number of queries\): differs from the first plan/);
    graph.destroy();
    for (const o of outs) o.oP.destroy(), o.oD.destroy();
    for (const t of [...Object.values(bp), ...Object.values(bd)]) t.destroy();
  });

  test("standalone decode and prefill wrappers capture in CUDA graph mode; singlePrefillWithKVCache captures as is", () => {
    using ws = Tensor.empty([1 << 20], "uint8", on);
    using ws2 = Tensor.empty([1 << 20], "uint8", on);
    const H = heads.numQoHeads, D = heads.headDim, KH = heads.numKvHeads;
    const bufs = decodeBuffers(cpu, 2, 20);
    using dec = new BatchDecodeWithPagedKVCacheWrapper(ws, "NHD", { useCudaGraph: true, ...bufs });
    const pre = new BatchPrefillWithPagedKVCacheWrapper(ws2, "NHD", { useCudaGraph: true, qoIndptrBuf: Tensor.zeros([2], "int32", on),
      pagedKvIndptrBuf: Tensor.zeros([2], "int32", on), pagedKvIndicesBuf: Tensor.zeros([20], "int32", on),
      pagedKvLastPageLenBuf: Tensor.zeros([1], "int32", on) });
    using cache = Tensor.random([20, 2, 4, KH, D], "float16", { device: cpu, seed: 5 });
    using q = Tensor.random([2, H, D], "float16", { device: cpu, seed: 6 });
    using qp = Tensor.random([5, H, D], "float16", { device: cpu, seed: 7 });
    using k = Tensor.random([8, KH, D], "float16", { device: cpu, seed: 8 });
    using v = Tensor.random([8, KH, D], "float16", { device: cpu, seed: 9 });
    const o = [0, 1].map(() => ({ d: Tensor.zeros([2, H, D], "float16", on), p: Tensor.zeros([5, H, D], "float16", on),
      s: Tensor.zeros([5, H, D], "float16", on) }));
    using stream = new Stream(cpu);
    const plan = (lens: number[], plen: number, seed: number) => {
      const t = pageTable(lens, 4, 20, seed), tp = pageTable([plen], 4, 20, seed + 7);
      dec.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...heads, stream });
      pre.plan({ qoIndptr: [0, 5], pagedKvIndptr: tp.indptr, pagedKvIndices: tp.indices, pagedKvLastPageLen: tp.last, ...heads, causal: true, stream });
    };
    const runAll = (i: number) => {
      dec.run({ q, pagedKvCache: cache, out: o[i]!.d, stream });
      pre.run({ q: qp, pagedKvCache: cache, out: o[i]!.p, stream });
      singlePrefillWithKVCache(qp, k, v, { causal: true, out: o[i]!.s, stream });
    };
    plan([6, 19], 11, 1);
    runAll(1);
    const graph = stream.capture(() => runAll(0));
    for (const [lens, plen, seed] of [[[6, 19], 11, 1], [[30, 2], 5, 2]] as const) {
      plan([...lens], plen, seed);
      runAll(1);
      graph.launch();
      for (const key of ["d", "p", "s"] as const)
        expect(Array.from(o[0]![key].toFloat32Array())).toEqual(Array.from(o[1]![key].toFloat32Array()));
    }
    graph.destroy();
    pre.destroy();
    for (const x of o) for (const t of Object.values(x)) t.destroy();
  });

  test("graph.update takes the parameters of a new capture with the same calls; other calls are refused", () => {
    using ws = Tensor.empty([1 << 20], "uint8", on);
    const bufs = decodeBuffers(cpu, 1, 8);
    using w = new PODWithPagedKVCacheWrapper(ws, "NHD", { useCudaGraph: true, ...bufs });
    const t = pageTable([10], 4, 8, 1);
    w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...heads });
    const H = heads.numQoHeads, D = heads.headDim;
    using cache = Tensor.random([8, 2, 4, heads.numKvHeads, D], "float16", { device: cpu, seed: 1 });
    using qa = Tensor.random([1, H, D], "float16", { device: cpu, seed: 2 });
    using qb = Tensor.random([1, H, D], "float16", { device: cpu, seed: 3 });
    using out = Tensor.zeros([1, H, D], "float16", on);
    using stream = new Stream(cpu);
    const run = (q: Tensor) => w.run({ qD: q, pagedKvCacheD: cache, outD: out, stream });
    using graph = CudaGraph.capture(stream, () => run(qa));
    graph.launch();
    const a = out.toFloat32Array();
    graph.update(() => run(qb));
    graph.launch();
    const b = out.toFloat32Array();
    run(qb);
    expect(Array.from(b)).toEqual(Array.from(out.toFloat32Array()));
    expect(Array.from(a)).not.toEqual(Array.from(b));
    expectPodError(() => graph.update(() => (run(qa), run(qb))), "INVALID_ARGUMENT", /cannot update the executable graph: the topology changed/);
    graph.launch(); // unchanged by the refused update
    expect(Array.from(out.toFloat32Array())).toEqual(Array.from(b));
    for (const x of Object.values(bufs)) x.destroy();
  });

  test("capture rules: what cannot be captured is an error naming the argument", () => {
    using ws = Tensor.empty([1 << 20], "uint8", on);
    using plain = new PODWithPagedKVCacheWrapper(ws, "NHD");
    const t = pageTable([10], 4, 8, 1);
    plain.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...heads });
    const H = heads.numQoHeads, D = heads.headDim;
    using cache = Tensor.random([8, 2, 4, heads.numKvHeads, D], "float16", { device: cpu, seed: 1 });
    using q = Tensor.random([1, H, D], "float16", { device: cpu, seed: 2 });
    using out = Tensor.zeros([1, H, D], "float16", on);
    using stream = new Stream(cpu);
    expect(stream.isCapturing()).toBe(false);
    // A wrapper without useCudaGraph: its next plan would move what the graph reads.
    expectPodError(() => stream.capture(() => plain.run({ qD: q, pagedKvCacheD: cache, outD: out, stream })), "INVALID_ARGUMENT",
      /stream: is capturing a graph, but this wrapper was created without useCudaGraph/);
    expect(stream.isCapturing()).toBe(false); // the failed capture was ended
    // Outputs cannot be allocated inside a capture.
    const bufs = decodeBuffers(cpu, 1, 8);
    using w = new PODWithPagedKVCacheWrapper(ws, "NHD", { useCudaGraph: true, ...bufs });
    w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...heads });
    expectPodError(() => stream.capture(() => w.run({ qD: q, pagedKvCacheD: cache, stream })), "INVALID_ARGUMENT", /outD: the stream is capturing a graph; pass a preallocated outD/);
    // plan() is not captured.
    expectPodError(() => stream.capture(() => w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...heads, stream })),
      "INVALID_ARGUMENT", /stream: is capturing a graph; plan\(\) cannot be captured/);
    // Other work on a capturing CPU stream.
    expectPodError(() => stream.capture(() => out.fill(1, 0, stream)), "NOT_IMPLEMENTED", /graphs record wrapper run\(\) calls only/);
    expectPodError(() => stream.capture(() => stream.synchronize()), "NOT_IMPLEMENTED", /graphs record wrapper run\(\) calls only/);
    // Capture cannot nest on one stream; ending needs a capture.
    using idle = new Stream(cpu);
    expectPodError(() => idle.endCapture(), "INVALID_ARGUMENT", /stream: is not capturing a graph/);
    stream.beginCapture();
    expectPodError(() => stream.beginCapture(), "INVALID_ARGUMENT", /stream: is already capturing a graph/);
    expect(stream.isCapturing()).toBe(true);
    stream.endCapture().destroy();
    expectPodError(() => stream.beginCapture("eager" as never), "INVALID_ARGUMENT", /mode: expected one of "global", "threadLocal", "relaxed"/);
    // An error thrown inside the capture ends it and propagates.
    expect(() => stream.capture(() => { throw new Error("inside"); })).toThrow("inside");
    expect(stream.isCapturing()).toBe(false);
    for (const x of Object.values(bufs)) x.destroy();
  });

  test("CUDA graph mode keeps the plan's shape: batch, page capacity and options are fixed", () => {
    using ws = Tensor.empty([1 << 20], "uint8", on);
    const bufs = decodeBuffers(cpu, 2, 6);
    using w = new PODWithPagedKVCacheWrapper(ws, "NHD", { useCudaGraph: true, ...bufs });
    const plan = (lens: number[], extra: Record<string, unknown> = {}) => {
      const t = pageTable(lens, 4, 40, 1);
      w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...heads, ...extra });
    };
    expectPodError(() => plan([3, 4, 5]), "INVALID_ARGUMENT", /^indptr: the plan has 3 requests, but in CUDA graph mode the batch is fixed at 2 by the length of pagedKvLastPageLenBuffer \[/);
    expectPodError(() => plan([16, 16]), "INVALID_ARGUMENT", /^indices: the plan uses 8 pages, but pagedKvIndicesBuffer holds 6 \[/);
    plan([3, 9]);
    plan([12, 1]); // other KV lengths: fine
    expectPodError(() => plan([3, 9], { windowLeft: 4 }), "INVALID_ARGUMENT", /decode_options: differs from the first plan/);
    expectPodError(() => plan([3, 9], { numQoHeads: 2 * heads.numQoHeads }), "INVALID_ARGUMENT", /^numQoHeads: differs from the first plan/);
    // A new workspace releases the shape.
    using ws2 = Tensor.empty([1 << 20], "uint8", on);
    w.resetWorkspaceBuffer(ws2);
    plan([3, 9], { windowLeft: 4 });
    // A side without buffers stays empty.
    using ws3 = Tensor.empty([1 << 20], "uint8", on);
    using noDecode = new PODWithPagedKVCacheWrapper(ws3, "NHD", { useCudaGraph: true });
    const t = pageTable([3], 4, 40, 1);
    expectPodError(() => noDecode.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...heads }), "INVALID_ARGUMENT",
      /^indptr: the plan has 1 request, but in CUDA graph mode a side without fixed buffers \(pagedKvIndptrBufferD, ...\) stays empty/);
    for (const x of Object.values(bufs)) x.destroy();
  });
});

describe("streams, workspaces and memory on the CPU device", () => {
  test("raw CUDA streams belong to CUDA devices; CPU streams have no native handle", () => {
    expectPodError(() => Stream.fromPointer(cpu, 0x1234), "INVALID_ARGUMENT", /device: the CPU device has no CUDA streams to wrap/);
    expectPodError(() => Stream.fromPointer(cpu, 0), "INVALID_ARGUMENT", /cuStream: expected a non-null CUstream address/);
    using s = new Stream(cpu);
    expect(s.nativeHandle).toBe(0n);
    expect(s.owned).toBe(true);
  });

  test("two wrappers on two streams give the results of serial execution", () => {
    const make = (seed: number) => {
      const ws = Tensor.empty([1 << 20], "uint8", on);
      const w = new PODWithPagedKVCacheWrapper(ws, "NHD");
      const t = pageTable([7, 21], 4, 16, seed);
      w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...heads });
      const cache = Tensor.random([16, 2, 4, heads.numKvHeads, heads.headDim], "float16", { device: cpu, seed });
      const q = Tensor.random([2, heads.numQoHeads, heads.headDim], "float16", { device: cpu, seed: seed + 1 });
      return { ws, w, cache, q };
    };
    const a = make(1), b = make(2);
    const serial = [a, b].map((x) => x.w.run({ qD: x.q, pagedKvCacheD: x.cache }).oD!);
    using s1 = new Stream(cpu);
    using s2 = new Stream(cpu);
    const parallel = [a.w.run({ qD: a.q, pagedKvCacheD: a.cache, stream: s1 }).oD!, b.w.run({ qD: b.q, pagedKvCacheD: b.cache, stream: s2 }).oD!];
    s1.synchronize(), s2.synchronize();
    for (let i = 0; i < 2; i++) expect(Array.from(parallel[i]!.toFloat32Array())).toEqual(Array.from(serial[i]!.toFloat32Array()));
    for (const t of [...serial, ...parallel]) t.destroy();
    for (const x of [a, b]) {
      x.w.destroy(), x.ws.destroy(), x.cache.destroy(), x.q.destroy();
    }
  });

  test("resetWorkspaceBuffer: plan again before run; a too-small workspace is an error", () => {
    using ws = Tensor.empty([1 << 20], "uint8", on);
    using w = new PODWithPagedKVCacheWrapper(ws, "NHD");
    const t = pageTable([7, 21], 4, 16, 1);
    const plan = () => w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...heads });
    plan();
    using cache = Tensor.random([16, 2, 4, heads.numKvHeads, heads.headDim], "float16", { device: cpu, seed: 1 });
    using q = Tensor.random([2, heads.numQoHeads, heads.headDim], "float16", { device: cpu, seed: 2 });
    const first = w.run({ qD: q, pagedKvCacheD: cache }).oD!;
    using small = Tensor.empty([64], "uint8", on);
    w.resetWorkspaceBuffer(small);
    expectPodError(() => w.run({ qD: q, pagedKvCacheD: cache }), "NOT_PLANNED", /run\(\) called before a successful plan\(\)/);
    expectPodError(plan, "WORKSPACE_TOO_SMALL", /^floatWorkspaceBuffer: holds 64 bytes, this plan needs [1-9]\d* \[/);
    using big = Tensor.empty([1 << 16], "uint8", on);
    w.resetWorkspaceBuffer(big);
    plan();
    expect(Array.from(w.run({ qD: q, pagedKvCacheD: cache }).oD!.toFloat32Array())).toEqual(Array.from(first.toFloat32Array()));
  });

  test("memory stays flat over 2000 plan/run cycles (outputs allocated by run and destroyed)", () => {
    using ws = Tensor.empty([1 << 20], "uint8", on);
    using w = new PODWithPagedKVCacheWrapper(ws, "NHD");
    using cache = Tensor.random([16, 2, 4, heads.numKvHeads, heads.headDim], "float16", { device: cpu, seed: 1 });
    using q = Tensor.random([2, heads.numQoHeads, heads.headDim], "float16", { device: cpu, seed: 2 });
    const cycle = (i: number) => {
      const t = pageTable([1 + (i % 13), 1 + ((i * 7) % 29)], 4, 16, i);
      w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...heads });
      const r = w.run({ qD: q, pagedKvCacheD: cache, returnLseD: true });
      r.oD!.destroy();
      r.lseD!.destroy();
    };
    for (let i = 0; i < 50; i++) cycle(i);
    const before = cpu.memoryStats();
    for (let i = 0; i < 2000; i++) cycle(i);
    const after = cpu.memoryStats();
    expect(after.poolUsed).toBe(before.poolUsed);
    expect(before.poolUsed).toBeGreaterThan(0);
  });

  test("Tensor.fromPointer accepts host memory for the CPU device", () => {
    using t = Tensor.zeros([8], "float32", on);
    const view = Tensor.fromPointer(t.ptr, [8], "float32", on);
    expect(Array.from(view.toFloat32Array())).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });
});
