/**
 * Streams on a GPU: two wrappers on two streams give exactly the results of serial execution; a raw
 * CUstream of another library wrapped with Stream.fromPointer works like the library's own (and is
 * not destroyed with its handle); tensors and streams of the wrong device are errors naming the
 * argument. Skips without a CUDA device.
 */
import { describe, expect, test } from "bun:test";
import { Device, PODWithPagedKVCacheWrapper, PodError, Stream, Tensor } from "../../src/index.ts";
import { addressOf } from "../../src/ffi.ts";
import { firstDifference, pageTable } from "../serving-fixture.ts";
import { testGpu } from "./test-device.ts";

const reason = Device.cudaUnavailableReason();
if (reason) console.log(`GPU tests skipped (streams): ${reason}`);

const HEADS = { numQoHeads: 32, numKvHeads: 8, headDim: 128, pageSize: 16 } as const;

describe.skipIf(reason !== undefined)("CUDA streams", () => {
  const dev = reason ? Device.cpu() : testGpu();

  /** A planned POD wrapper with its inputs; run(i) writes output set i. */
  function setup(seed: number, decodeLens: number[], runs: number) {
    const pages = 1200;
    const ws = Tensor.empty([128 << 20], "uint8", { device: dev });
    const w = new PODWithPagedKVCacheWrapper(ws, "NHD");
    const t = pageTable(decodeLens, 16, pages, seed);
    w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...HEADS });
    const B = decodeLens.length;
    const rnd = (shape: number[], k: number) => Tensor.random(shape, "float16", { device: dev, seed: seed * 100 + k });
    const inputs = { qP: rnd([512, 32, 128], 1), kP: rnd([1024, 8, 128], 2), vP: rnd([1024, 8, 128], 3), qD: rnd([B, 32, 128], 4),
      cache: rnd([pages, 2, 16, 8, 128], 5) };
    const outs = Array.from({ length: runs }, () => ({ oP: Tensor.empty([512, 32, 128], "float16", { device: dev }),
      oD: Tensor.empty([B, 32, 128], "float16", { device: dev }) }));
    const run = (i: number, stream?: Stream) =>
      w.run({ qP: inputs.qP, kP: inputs.kP, vP: inputs.vP, causalP: true, qD: inputs.qD, pagedKvCacheD: inputs.cache, outP: outs[i]!.oP,
        outD: outs[i]!.oD, ...(stream ? { stream } : {}) });
    const dispose = () => {
      w.destroy();
      for (const x of [ws, ...Object.values(inputs), ...outs.flatMap((o) => [o.oP, o.oD])]) x.destroy();
    };
    return { run, outs, dispose };
  }

  test("two wrappers on two streams, 20 runs each interleaved, equal serial execution bit for bit", () => {
    const RUNS = 20;
    const a = setup(1, [4000, 300, 2000, 17, 900, 3500, 64, 1], RUNS + 1);
    const b = setup(2, [128, 4096, 4096, 777], RUNS + 1);
    // Serial: both on the default stream, one after the other.
    a.run(RUNS);
    b.run(RUNS);
    dev.synchronize();
    using s1 = new Stream(dev);
    using s2 = new Stream(dev);
    for (let i = 0; i < RUNS; i++) {
      a.run(i, s1);
      b.run(i, s2);
    }
    s1.synchronize();
    s2.synchronize();
    for (let i = 0; i < RUNS; i++)
      for (const [x, name] of [[a, "a"], [b, "b"]] as const) {
        const at = [firstDifference(x.outs[i]!.oP, x.outs[RUNS]!.oP), firstDifference(x.outs[i]!.oD, x.outs[RUNS]!.oD)];
        if (at[0] !== -1 || at[1] !== -1) throw new Error(`wrapper ${name}, run ${i} on its own stream differs from serial execution (oP at ${at[0]}, oD at ${at[1]})`);
      }
    a.dispose();
    b.dispose();
  }, 120_000);

  test("a raw CUstream wrapped with Stream.fromPointer runs like the library's streams and outlives its handle", () => {
    const a = setup(3, [2048, 5, 999], 2);
    using owner = new Stream(dev); // stands in for another library's stream
    const raw = owner.nativeHandle;
    expect(raw).not.toBe(0n);
    const wrapped = Stream.fromPointer(dev, raw);
    expect(wrapped.owned).toBe(false);
    expect(wrapped.nativeHandle).toBe(raw);
    a.run(0, wrapped);
    a.run(1, owner);
    wrapped.synchronize();
    owner.synchronize();
    expect(firstDifference(a.outs[0]!.oD, a.outs[1]!.oD)).toBe(-1);
    expect(firstDifference(a.outs[0]!.oP, a.outs[1]!.oP)).toBe(-1);
    wrapped.destroy(); // the CUstream stays: the owner can still use it
    a.run(0, owner);
    owner.synchronize();
    expect(firstDifference(a.outs[0]!.oD, a.outs[1]!.oD)).toBe(-1);
    // Bigint and number addresses are both accepted.
    using again = Stream.fromPointer(dev, Number(raw));
    expect(again.nativeHandle).toBe(raw);
    a.dispose();
  }, 60_000);

  test("wrong-device tensors, streams and pointers are errors naming the argument", () => {
    const a = setup(4, [100, 200], 1);
    using cpuStream = new Stream(Device.cpu());
    expect(() => a.run(0, cpuStream)).toThrow(`stream: belongs to cpu, the call is on ${dev}`);
    using onGpu = Tensor.zeros([16], "float32", { device: dev });
    // Device memory handed to the CPU device, or to another GPU, is refused when the view is made.
    expect(() => Tensor.fromPointer(onGpu.ptr, [16], "float32", { device: "cpu" })).toThrow(`ptr: is memory of ${dev}, not of cpu`);
    expect(() => Tensor.fromPointer(onGpu.ptr, [16], "float32", { device: dev })).not.toThrow();
    // Addresses the driver does not know, and views past their allocation, are refused too.
    expect(() => Tensor.fromPointer(0x1000, [16], "float32", { device: dev })).toThrow(/^ptr: 0x1000 is memory the CUDA driver does not know/);
    const host = new Float32Array(16);
    expect(() => Tensor.fromPointer(addressOf(host), [16], "float32", { device: dev })).toThrow(/^ptr: 0x[0-9a-f]+ is memory the CUDA driver does not know/);
    expect(() => Tensor.fromPointer(onGpu.ptr, [2 ** 38], "float32", { device: dev })).toThrow(/^shape: the view spans 1099511627776 bytes from ptr, but its allocation/);
    expect(() => Tensor.fromPointer(onGpu.ptr, [16, 2 ** 20], "float32", { device: dev, strides: [2 ** 30, 1] })).toThrow(/^shape: the view spans/);
    try {
      Stream.fromPointer(dev, 0n);
      throw new Error("expected a PodError");
    } catch (e) {
      expect(e).toBeInstanceOf(PodError);
    }
    a.dispose();
  });
});
