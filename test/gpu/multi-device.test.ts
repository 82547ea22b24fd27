/**
 * Several GPUs in one process: each Device is bound to its ordinal, with its own context, kernels and
 * streams. Wrappers on two devices, used in alternation, each equal the CPU backend; a tensor, stream
 * or raw CUstream of one device given to another device's call is an error naming the argument.
 * Needs two CUDA devices; skips (saying why) otherwise.
 */
import { describe, expect, test } from "bun:test";
import { Device, PODWithPagedKVCacheWrapper, Stream, Tensor } from "../../src/index.ts";
import { GPU_TOLERANCE, worstError } from "../attention-fixture.ts";
import { pageTable } from "../serving-fixture.ts";

const count = Device.cudaCount();
const reason = count >= 2 ? undefined : `needs 2 CUDA devices, ${count} present${count === 0 ? ` (${Device.cudaUnavailableReason()})` : ""}`;
if (reason) console.log(`GPU tests skipped (multi-device): ${reason}`);

const HEADS = { numQoHeads: 16, numKvHeads: 4, headDim: 128, pageSize: 16 } as const;

describe.skipIf(reason !== undefined)("several CUDA devices", () => {
  function setup(device: Device, seed: number) {
    const ws = Tensor.empty([64 << 20], "uint8", { device });
    const w = new PODWithPagedKVCacheWrapper(ws, "NHD");
    const t = pageTable([1500, 40, 3000], 16, 400, seed);
    w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...HEADS });
    const rnd = (shape: number[], k: number) => Tensor.random(shape, "float16", { device, seed: seed * 10 + k });
    const inputs = { qP: rnd([100, 16, 128], 1), kP: rnd([300, 4, 128], 2), vP: rnd([300, 4, 128], 3), qD: rnd([3, 16, 128], 4),
      cache: rnd([400, 2, 16, 4, 128], 5) };
    return { device, ws, w, t, inputs };
  }

  test("wrappers on cuda:0 and cuda:1 in alternation each equal the CPU backend", () => {
    const a = setup(Device.cuda(0), 1), b = setup(Device.cuda(1), 2);
    expect(a.device).not.toBe(b.device);
    using s0 = new Stream(a.device);
    using s1 = new Stream(b.device);
    const results: Record<string, Float32Array>[] = [];
    for (let i = 0; i < 4; i++)
      for (const [x, s] of [[a, s0], [b, s1]] as const) {
        const { qP, kP, vP, qD, cache } = x.inputs;
        const r = x.w.run({ qP, kP, vP, causalP: true, qD, pagedKvCacheD: cache, stream: s });
        s.synchronize();
        results.push({ oP: r.oP!.toFloat32Array(), oD: r.oD!.toFloat32Array() });
        r.oP!.destroy(), r.oD!.destroy();
      }
    for (const [k, x] of [[0, a], [1, b]] as const) {
      const cpu = Device.cpu();
      using ws = Tensor.empty([64 << 20], "uint8", { device: cpu });
      using w = new PODWithPagedKVCacheWrapper(ws, "NHD");
      w.plan({ indptr: x.t.indptr, indices: x.t.indices, lastPageLen: x.t.last, ...HEADS });
      const c = Object.fromEntries(Object.entries(x.inputs).map(([n, t]) => [n, t.to(cpu)])) as typeof x.inputs;
      const r = w.run({ qP: c.qP, kP: c.kP, vP: c.vP, causalP: true, qD: c.qD, pagedKvCacheD: c.cache });
      for (let i = k; i < results.length; i += 2) {
        expect(worstError(results[i]!.oP!, Float64Array.from(r.oP!.toFloat32Array()), GPU_TOLERANCE.float16.atol, GPU_TOLERANCE.float16.rtol)).toBeLessThanOrEqual(1);
        expect(worstError(results[i]!.oD!, Float64Array.from(r.oD!.toFloat32Array()), GPU_TOLERANCE.float16.atol, GPU_TOLERANCE.float16.rtol)).toBeLessThanOrEqual(1);
      }
    }
    const m0 = a.device.memoryStats(), m1 = b.device.memoryStats();
    console.log(`cuda:0 pool in use ${m0.poolUsed} B, cuda:1 pool in use ${m1.poolUsed} B`);
    for (const x of [a, b]) {
      x.w.destroy();
      for (const t of [x.ws, ...Object.values(x.inputs)]) t.destroy();
    }
  }, 120_000);

  test("a tensor, stream or CUstream of another device is an error naming the argument", () => {
    const a = setup(Device.cuda(0), 3), b = setup(Device.cuda(1), 4);
    expect(() => b.w.run({ qD: a.inputs.qD, pagedKvCacheD: b.inputs.cache })).toThrow(/qD: is on device cuda:0, expected cuda:1/);
    expect(() => b.w.run({ qD: b.inputs.qD, pagedKvCacheD: a.inputs.cache })).toThrow(/pagedKvCacheD: is on device cuda:0, expected cuda:1/);
    using s0 = new Stream(a.device);
    expect(() => b.w.run({ qD: b.inputs.qD, pagedKvCacheD: b.inputs.cache, stream: s0 })).toThrow(/stream: belongs to cuda:0, the call is on cuda:1/);
    expect(() => Stream.fromPointer(b.device, s0.nativeHandle)).toThrow(/cu_stream: belongs to another CUDA context than the primary context of cuda:1/);
    expect(() => Tensor.fromPointer(a.inputs.qD.ptr, [3, 16, 128], "float16", { device: b.device })).toThrow(/ptr: is memory of cuda:0, not of cuda:1/);
    for (const x of [a, b]) {
      x.w.destroy();
      for (const t of [x.ws, ...Object.values(x.inputs)]) t.destroy();
    }
  }, 60_000);
});
