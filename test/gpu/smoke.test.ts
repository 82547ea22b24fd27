/**
 * GPU smoke test of the CUDA plumbing through the same path users take (Bun -> bun:ffi -> libpod.so
 * -> the driver): device properties, memory and copies both ways, a kernel from the embedded fatbin,
 * streams and events, the plan's copy into the workspace, and device checks on run(). Skips, saying
 * why, where there is no CUDA device.
 */
import { describe, expect, test } from "bun:test";
import { roundTo } from "../../src/dtype.ts";
import { Device, Event, PODWithPagedKVCacheWrapper, PodError, Stream, Tensor } from "../../src/index.ts";
import { testGpu } from "./test-device.ts";

const reason = Device.cudaUnavailableReason();
if (reason) console.log(`GPU tests skipped: ${reason}`);

describe.skipIf(reason !== undefined)("CUDA smoke", () => {
  const dev = reason ? Device.cpu() : testGpu();

  test("device properties", () => {
    const p = dev.properties;
    console.log(`device ${dev}: ${p.name}, ${p.smCount} SMs, compute capability ${p.computeCapability.join(".")}, ` +
      `${(p.totalMemory / 2 ** 30).toFixed(1)} GiB, L2 ${(p.l2Bytes / 2 ** 20).toFixed(0)} MiB, ` +
      `${p.maxSharedMemoryPerBlock} B shared memory per block`);
    expect(p.name.length).toBeGreaterThan(0);
    expect(p.smCount).toBeGreaterThan(0);
    expect(p.computeCapability[0]).toBeGreaterThanOrEqual(8);
    expect(p.totalMemory).toBeGreaterThan(2 ** 30);
    const m = dev.memoryInfo();
    expect(m.total).toBeGreaterThan(0);
    expect(m.free).toBeLessThanOrEqual(m.total);
  });

  test("copies host -> device -> device -> host are exact for every dtype", () => {
    const data = Array.from({ length: 4099 }, (_, i) => ((i * 37) % 101) - 50);
    for (const dtype of ["float32", "float16", "bfloat16", "int32"] as const) {
      using a = Tensor.from(data, [data.length], dtype, { device: dev });
      using b = Tensor.empty([data.length], dtype, { device: dev }).copyFrom(a);
      expect(Array.from(b.toFloat32Array())).toEqual(data);
      using c = b.to("cpu");
      expect(Array.from(c.toFloat32Array())).toEqual(data);
    }
  });

  test("fill kernel from the embedded fatbin writes strided views", () => {
    using t = Tensor.zeros([64, 3, 128], "float16", { device: dev });
    const view = t.narrow(1, 1, 1); // strided: every third row of 128
    view.fill(-2, 0.5);
    const all = t.toFloat32Array();
    const v = view.toFloat32Array();
    for (let i = 0; i < v.length; i++) if (v[i] !== roundTo("float16", -2 + 0.5 * i)) throw new Error(`element ${i}: ${v[i]}`);
    expect(v[0]).toBe(-2);
    expect(v[10]).toBe(3);
    // The other rows stay zero.
    expect(all[0]).toBe(0);
    expect(all[128 * 2]).toBe(0);
    using f = Tensor.empty([1 << 20], "float32", { device: dev }).fill(1, 1);
    const got = f.toFloat32Array();
    expect(got[0]).toBe(1);
    expect(got[(1 << 20) - 1]).toBe(1 << 20);
  });

  test("fp8 fills (round to nearest even, saturating) match the CPU backend bit for bit", () => {
    for (const dtype of ["float8_e4m3fn", "float8_e5m2"] as const) {
      // -600 .. 600 in steps of 0.37: normals, subnormal-free ties and values past e4m3's largest finite.
      using g = Tensor.empty([3243], dtype, { device: dev }).fill(-600, 0.37);
      using c = Tensor.empty([3243], dtype, { device: "cpu" }).fill(-600, 0.37);
      expect(Array.from(g.rawBytes())).toEqual(Array.from(c.rawBytes()));
      using gr = Tensor.random([4096], dtype, { device: dev, seed: 9, low: -3, high: 3 });
      using cr = Tensor.random([4096], dtype, { device: "cpu", seed: 9, low: -3, high: 3 });
      expect(Array.from(gr.rawBytes())).toEqual(Array.from(cr.rawBytes()));
      using tiny = Tensor.empty([2000], dtype, { device: dev }).fill(-1e-3, 1e-6); // subnormals of both formats
      using tinyCpu = Tensor.empty([2000], dtype, { device: "cpu" }).fill(-1e-3, 1e-6);
      expect(Array.from(tiny.rawBytes())).toEqual(Array.from(tinyCpu.rawBytes()));
    }
  });

  test("streams and events time a kernel", () => {
    using s = new Stream(dev);
    using start = new Event(dev);
    using end = new Event(dev);
    using t = Tensor.empty([1 << 24], "float32", { device: dev, stream: s });
    start.record(s);
    for (let i = 0; i < 10; i++) t.fill(i, 1, s);
    end.record(s);
    const ms = end.elapsedSince(start);
    console.log(`10 fills of 64 MiB: ${ms.toFixed(3)} ms (${((10 * 64) / 1024 / (ms / 1e3)).toFixed(0)} GiB/s)`);
    expect(ms).toBeGreaterThan(0);
    s.synchronize();
    expect(t.toFloat32Array()[5]).toBe(14);
  }, 60_000); // generous: compute-sanitizer runs this suite too

  test("plan copies the page tables into the workspace; run checks devices and computes", () => {
    using ws = Tensor.zeros([1 << 16], "uint8", { device: dev });
    using w = new PODWithPagedKVCacheWrapper(ws, "NHD");
    w.plan({ indptr: [0, 2, 3], indices: [4, 1, 2], lastPageLen: [5, 16], numQoHeads: 8, numKvHeads: 2, headDim: 128, pageSize: 16 });
    // Workspace image: a 256-byte header ("PODW" first), then qo_indptr [0,1,2] and kv_indptr [0,2,3],
    // each array 16-byte aligned.
    const bytes = ws.rawBytes();
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe("PODW");
    const words = new Int32Array(bytes.buffer, bytes.byteOffset + 256, 12);
    expect(Array.from(words.subarray(0, 3))).toEqual([0, 1, 2]);
    expect(Array.from(words.subarray(4, 7))).toEqual([0, 2, 3]);
    using qD = Tensor.zeros([2, 8, 128], "float16", { device: dev });
    using cache = Tensor.zeros([5, 2, 16, 2, 128], "float16", { device: dev });
    using cpuCache = Tensor.zeros([5, 2, 16, 2, 128], "float16", { device: "cpu" });
    const wrongDevice = () => w.run({ qD, pagedKvCacheD: cpuCache });
    expect(wrongDevice).toThrow(/pagedKvCacheD: is on device cpu/);
    expect(() => w.run({ qD, pagedKvCacheD: cpuCache })).toThrow(PodError);
    const { oD } = w.run({ qD, pagedKvCacheD: cache });
    expect(Array.from(oD!.toFloat32Array().slice(0, 4))).toEqual([0, 0, 0, 0]);
    oD!.destroy();
  });
});
