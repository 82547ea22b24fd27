/**
 * CUDA graphs on a GPU: 32 layers of POD run() captured once and replayed, checked bit for bit
 * against eager execution, then re-planned with other KV lengths (short, long enough to split key
 * ranges, and back) and replayed again without capturing anew; with programmatic dependent launch on
 * (where supported) and off. The eager graph-mode outputs are also checked against the CPU backend
 * (graph mode pads the work lists to fixed capacities, a path of its own). Also: the batch POD wrapper
 * with both sides in fixed buffers, a standalone decode wrapper, and graph update. Skips without a
 * CUDA device.
 */
import { describe, expect, test } from "bun:test";
import {
  BatchDecodeWithPagedKVCacheWrapper,
  BatchPODWithPagedKVCacheWrapper,
  Device,
  PODWithPagedKVCacheWrapper,
  Stream,
  Tensor,
} from "../../src/index.ts";
import { GPU_TOLERANCE, worstError } from "../attention-fixture.ts";
import {
  clearOutputs,
  decodeBuffers,
  expectSameOutputs,
  firstDifference,
  makeLayers,
  pageTable,
  runLayer,
  type Layer,
  type ServingShape,
} from "../serving-fixture.ts";
import { testGpu } from "./test-device.ts";

const reason = Device.cudaUnavailableReason();
if (reason) console.log(`GPU tests skipped (cuda-graph): ${reason}`);

const SHAPE: ServingShape = {
  layers: 32, numKvHeads: 8, group: 4, headDim: 128, pageSize: 16, dtype: "float16", batch: 4, pages: 1100, prefillQo: 96, prefillKv: 384,
};
const HEADS = { numQoHeads: 32, numKvHeads: 8, headDim: 128, pageSize: 16 } as const;
// Decode KV lengths of successive plans: long (key ranges split, merges run), short, uneven, full.
const PLANS = [
  [3000, 1500, 4000, 77],
  [50, 9, 200, 1],
  [17, 4096, 600, 2222],
  [4096, 4096, 4096, 4096],
];

/** One layer on the CPU backend with the same inputs and page table; throws beyond GPU_TOLERANCE. */
function checkLayerOnCpu(layer: Layer, table: ReturnType<typeof pageTable>, which: 0 | 1, what: string): void {
  const cpu = Device.cpu();
  using ws = Tensor.empty([64 << 20], "uint8", { device: cpu });
  using w = new PODWithPagedKVCacheWrapper(ws, "NHD");
  w.plan({ indptr: table.indptr, indices: table.indices, lastPageLen: table.last, ...HEADS });
  const [qP, kP, vP, qD, cache] = [layer.qP!, layer.kP!, layer.vP!, layer.qD, layer.cache].map((t) => t.to(cpu));
  const r = w.run({ qP, kP, vP, causalP: true, qD, pagedKvCacheD: cache, returnLseP: true, returnLseD: true });
  const got = layer.out[which];
  const pairs = [
    ["oP", got.oP!, r.oP!, GPU_TOLERANCE.float16],
    ["oD", got.oD!, r.oD!, GPU_TOLERANCE.float16],
    ["lseP", got.lseP!, r.lseP!, GPU_TOLERANCE.lse],
    ["lseD", got.lseD, r.lseD!, GPU_TOLERANCE.lse],
  ] as const;
  for (const [name, gpu, ref, tol] of pairs) {
    const err = worstError(gpu.toFloat32Array(), Float64Array.from(ref.toFloat32Array()), tol.atol, tol.rtol);
    if (!(err <= 1)) throw new Error(`${what}: ${name} differs from the CPU backend by ${err.toFixed(2)}x the tolerance`);
  }
  for (const t of [qP, kP, vP, qD, cache, r.oP!, r.oD!, r.lseP!, r.lseD!]) t!.destroy();
}

describe.skipIf(reason !== undefined)("CUDA graphs", () => {
  const dev = reason ? Device.cpu() : testGpu();

  for (const pdl of [undefined, false] as const) {
    const label = pdl === undefined ? `PDL ${dev.properties.programmaticDependentLaunch ? "on (device default)" : "off (unsupported)"}` : "PDL off";
    test(`32 layers of POD run() replayed equal eager execution, also after plans with other KV lengths (${label})`, () => {
      const { layers, dispose } = makeLayers(dev, SHAPE, 7);
      using ws = Tensor.empty([256 << 20], "uint8", { device: dev });
      const bufs = decodeBuffers(dev, SHAPE.batch, SHAPE.pages);
      using w = new PODWithPagedKVCacheWrapper(ws, "NHD", { useCudaGraph: true, ...bufs, ...(pdl !== undefined ? { enablePdl: pdl } : {}) });
      using stream = new Stream(dev);
      const plan = (i: number) => {
        const t = pageTable(PLANS[i]!, SHAPE.pageSize, SHAPE.pages, 100 + i);
        w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...HEADS, stream });
        return t;
      };
      const eager = () => {
        for (const layer of layers) runLayer(w, layer, 1, stream);
      };
      let table = plan(0);
      eager(); // also the warm-up: kernels load on first use, never inside a capture
      stream.synchronize();
      const graph = stream.capture(() => {
        for (const layer of layers) runLayer(w, layer, 0, stream);
      });
      graph.launch();
      stream.synchronize();
      expectSameOutputs(layers, `plan 0`);
      checkLayerOnCpu(layers[3]!, table, 0, "plan 0, layer 3");
      const first = layers[3]!.out[0].oD!.toFloat32Array();
      for (let i = 1; i < PLANS.length; i++) {
        table = plan(i);
        eager();
        clearOutputs(layers, 0);
        graph.launch(stream);
        stream.synchronize();
        expectSameOutputs(layers, `plan ${i} (KV lengths ${PLANS[i]})`);
        checkLayerOnCpu(layers[i * 7]!, table, 0, `plan ${i}, layer ${i * 7}`);
      }
      // The replays computed with the new plans, not the captured one.
      expect(firstDifference(layers[3]!.out[0].oD!, layers[3]!.out[1].oD!)).toBe(-1);
      expect(Array.from(layers[3]!.out[0].oD!.toFloat32Array())).not.toEqual(Array.from(first));
      // Replays back to back, without a plan between, repeat the last result.
      for (let r = 0; r < 5; r++) graph.launch(stream);
      stream.synchronize();
      expectSameOutputs(layers, "repeated replays");
      graph.destroy();
      dispose();
      for (const t of Object.values(bufs)) t.destroy();
    }, 300_000);
  }

  test("batch POD wrapper: prefill and decode page tables in fixed buffers, re-planned under a graph", () => {
    const B = 2, BD = 4, pages = 700, H = 32, D = 128, KH = 8;
    using ws = Tensor.empty([256 << 20], "uint8", { device: dev });
    const i32 = (n: number) => Tensor.zeros([n], "int32", { device: dev });
    const bufs = {
      qoIndptrBufferP: i32(B + 1), pagedKvIndptrBufferP: i32(B + 1), pagedKvIndicesBufferP: i32(pages), pagedKvLastPageLenBufferP: i32(B),
      pagedKvIndptrBufferD: i32(BD + 1), pagedKvIndicesBufferD: i32(pages), pagedKvLastPageLenBufferD: i32(BD),
    };
    using w = new BatchPODWithPagedKVCacheWrapper(ws, "NHD", { useCudaGraph: true, ...bufs });
    const rnd = (shape: number[], seed: number) => Tensor.random(shape, "float16", { device: dev, seed });
    using cacheP = rnd([pages, 2, 16, KH, D], 1);
    using cacheD = rnd([pages, 2, 16, KH, D], 2);
    using qP = rnd([128, H, D], 3);
    using qD = rnd([BD, H, D], 4);
    const outs = [0, 1].map(() => ({ oP: Tensor.zeros([128, H, D], "float16", { device: dev }), oD: Tensor.zeros([BD, H, D], "float16", { device: dev }) }));
    using stream = new Stream(dev);
    const plans = [
      { qo: [48, 80], kvP: [1000, 300], kvD: [2500, 10, 700, 4000] },
      { qo: [100, 28], kvP: [128, 5000], kvD: [3, 3, 3, 3] },
      { qo: [1, 127], kvP: [1, 6000], kvD: [5000, 5000, 1, 900] },
    ];
    const plan = (i: number) => {
      const p = plans[i]!;
      const tp = pageTable(p.kvP, 16, pages, 10 + i), td = pageTable(p.kvD, 16, pages, 20 + i);
      w.plan({ qoIndptrP: [0, p.qo[0]!, 128], kvIndptrP: tp.indptr, kvIndicesP: tp.indices, lastPageLenP: tp.last, kvIndptrD: td.indptr,
        kvIndicesD: td.indices, lastPageLenD: td.last, ...HEADS, causalP: true, stream });
    };
    const run = (i: number) => w.run({ qP, pagedKvCacheP: cacheP, qD, pagedKvCacheD: cacheD, outP: outs[i]!.oP, outD: outs[i]!.oD, stream });
    plan(0);
    run(1);
    stream.synchronize();
    const graph = stream.capture(() => run(0));
    for (let i = 0; i < plans.length; i++) {
      if (i > 0) {
        plan(i);
        run(1);
      }
      outs[0]!.oP.fill(0, 0, stream), outs[0]!.oD.fill(0, 0, stream);
      graph.launch(stream);
      stream.synchronize();
      expect(firstDifference(outs[0]!.oP, outs[1]!.oP)).toBe(-1);
      expect(firstDifference(outs[0]!.oD, outs[1]!.oD)).toBe(-1);
    }
    graph.destroy();
    for (const o of outs) o.oP.destroy(), o.oD.destroy();
    for (const t of Object.values(bufs)) t.destroy();
  }, 120_000);

  test("standalone decode wrapper in CUDA graph mode; graph update with other tensors", () => {
    using ws = Tensor.empty([64 << 20], "uint8", { device: dev });
    const bufs = decodeBuffers(dev, 3, 800);
    using w = new BatchDecodeWithPagedKVCacheWrapper(ws, "NHD", { useCudaGraph: true, ...bufs });
    using cache = Tensor.random([800, 2, 16, 8, 128], "bfloat16", { device: dev, seed: 9 });
    using qa = Tensor.random([3, 32, 128], "bfloat16", { device: dev, seed: 10 });
    using qb = Tensor.random([3, 32, 128], "bfloat16", { device: dev, seed: 11 });
    using out = Tensor.zeros([3, 32, 128], "bfloat16", { device: dev });
    using ref = Tensor.zeros([3, 32, 128], "bfloat16", { device: dev });
    using stream = new Stream(dev);
    const plan = (lens: number[], seed: number) => {
      const t = pageTable(lens, 16, 800, seed);
      w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...HEADS, qDataType: "bfloat16", stream });
    };
    plan([4000, 12, 900], 1);
    w.run({ q: qa, pagedKvCache: cache, out: ref, stream });
    const graph = stream.capture(() => w.run({ q: qa, pagedKvCache: cache, out, stream }));
    graph.launch();
    stream.synchronize();
    expect(firstDifference(out, ref)).toBe(-1);
    graph.update(() => w.run({ q: qb, pagedKvCache: cache, out, stream }));
    plan([1, 6000, 33], 2);
    w.run({ q: qb, pagedKvCache: cache, out: ref, stream });
    graph.launch();
    stream.synchronize();
    expect(firstDifference(out, ref)).toBe(-1);
    expect(() => graph.update(() => {
      w.run({ q: qb, pagedKvCache: cache, out, stream });
      w.run({ q: qa, pagedKvCache: cache, out, stream });
    })).toThrow(/cannot update the executable graph/);
    graph.destroy();
    for (const t of Object.values(bufs)) t.destroy();
  }, 120_000);
});
