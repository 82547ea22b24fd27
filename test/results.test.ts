/**
 * run() results (typed from the arguments, no nulls, disposable), plan()'s dtype default, nonBlocking,
 * and the Tensor conveniences: printing, Tensor.full, default random seeds, fp16 conversion.
 */
import { describe, expect, test } from "bun:test";
import {
  BatchDecodeWithPagedKVCacheWrapper,
  BatchPODWithPagedKVCacheWrapper,
  Device,
  PODWithPagedKVCacheWrapper,
  PodError,
  singlePrefillWithKVCache,
  Stream,
  Tensor,
} from "../src/index.ts";
import { encodeFloats, f32ToF16Bits, NativeFloat16Array, roundTo } from "../src/dtype.ts";

const cpu = Device.cpu();
const on = { device: cpu };
const H = 2, KH = 1, D = 64, PAGE = 4;
const sizes = { numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE };
const table = { indptr: [0, 1, 3], indices: [0, 1, 2], lastPageLen: [2, 4] };
const half = (shape: number[], dtype: "float16" | "bfloat16" = "float16", seed = 1) => Tensor.random(shape, dtype, { device: cpu, seed });

describe("run() results", () => {
  const qP = half([3, H, D]), kP = half([5, KH, D], "float16", 2), vP = half([5, KH, D], "float16", 3);
  const qD = half([2, H, D], "float16", 4), cache = half([3, 2, PAGE, KH, D], "float16", 5);

  test("a side not given has no output (undefined, not null); outputs and LSEs are typed from the arguments", () => {
    const w = new PODWithPagedKVCacheWrapper(Tensor.empty([1 << 16], "uint8", on));
    w.plan({ ...table, ...sizes });
    const both = w.run({ qP, kP, vP, qD, pagedKvCacheD: cache, returnLseD: true });
    const shapes: number[][] = [both.oP.shape.slice(), both.oD.shape.slice(), both.lseD.shape.slice()]; // typed as Tensor
    expect(shapes).toEqual([[3, H, D], [2, H, D], [2, H]]);
    expect("lseP" in both).toBe(false);
    // @ts-expect-error no returnLseP: lseP is absent
    expect(both.lseP?.shape).toBeUndefined();
    const decodeOnly = w.run({ qD, pagedKvCacheD: cache });
    expect("oP" in decodeOnly).toBe(false);
    expect(decodeOnly.oP).toBeUndefined();
    expect(Object.keys(decodeOnly).sort()).toEqual(["launch", "oD"]);
    w.destroy();
  });

  test("`using` a result frees the tensors run() allocated, never the caller's", () => {
    const w = new BatchPODWithPagedKVCacheWrapper(Tensor.empty([1 << 16], "uint8", on));
    w.plan({ qoIndptrP: [0], kvIndptrP: [0], kvIndicesP: [], lastPageLenP: [], kvIndptrD: table.indptr, kvIndicesD: table.indices,
      lastPageLenD: table.lastPageLen, ...sizes });
    const outD = Tensor.empty([2, H, D], "float16", on);
    let lse: Tensor;
    {
      using r = w.run({ qD, pagedKvCacheD: cache, outD, returnLseD: true });
      lse = r.lseD;
      expect(r.oD).toBe(outD);
    }
    expect(lse.destroyed).toBe(true);
    expect(outD.destroyed).toBe(false);
    w.destroy();
  });

  test("one-sided kernels: lse is a Tensor with returnLse, absent without; results dispose too", () => {
    const d = new BatchDecodeWithPagedKVCacheWrapper(Tensor.empty([1 << 16], "uint8", on));
    d.plan({ ...table, ...sizes });
    const plain = d.run({ q: qD, pagedKvCache: cache });
    expect(Object.keys(plain)).toEqual(["out"]);
    // @ts-expect-error without returnLse the result has no lse
    expect(plain.lse?.shape).toBeUndefined();
    let out: Tensor, lse: Tensor;
    {
      using r = d.run({ q: qD, pagedKvCache: cache, returnLse: true });
      [out, lse] = [r.out, r.lse];
      expect(r.lse.shape).toEqual([2, H]);
    }
    expect([out.destroyed, lse.destroyed]).toEqual([true, true]);
    using s = singlePrefillWithKVCache(qP, kP, vP, { returnLse: true });
    expect(s.lse.dtype).toBe("float32");
    d.destroy();
  });
});

describe("plan()", () => {
  test("without qDataType the plan follows the queries' dtype (bfloat16 runs like an explicit bfloat16 plan)", () => {
    const q = half([2, H, D], "bfloat16", 6), cache = half([3, 2, PAGE, KH, D], "bfloat16", 7);
    const implicit = new BatchDecodeWithPagedKVCacheWrapper(Tensor.empty([1 << 16], "uint8", on));
    const explicit = new BatchDecodeWithPagedKVCacheWrapper(Tensor.empty([1 << 16], "uint8", on));
    implicit.plan({ ...table, ...sizes });
    explicit.plan({ ...table, ...sizes, qDataType: "bfloat16" });
    const a = implicit.run({ q, pagedKvCache: cache }).out.toFloat32Array();
    expect(a).toEqual(explicit.run({ q, pagedKvCache: cache }).out.toFloat32Array());
    implicit.plan({ ...table, ...sizes }); // now assumes bfloat16, the last run's
    expect(implicit.run({ q, pagedKvCache: cache }).out.toFloat32Array()).toEqual(a);
    // An explicit dtype is checked, not followed.
    expect(() => explicit.run({ q: half([2, H, D]), pagedKvCache: half([3, 2, PAGE, KH, D]) })).toThrow(/^q: expected dtype bfloat16, got float16/);
  });

  test("the plan is not redone where it cannot be: CUDA graph mode and capturing streams", () => {
    const buffers = { pagedKvIndptrBuffer: Tensor.zeros([3], "int32", on), pagedKvIndicesBuffer: Tensor.zeros([3], "int32", on),
      pagedKvLastPageLenBuffer: Tensor.zeros([2], "int32", on) };
    const w = new PODWithPagedKVCacheWrapper(Tensor.empty([1 << 16], "uint8", on), "NHD", { useCudaGraph: true, ...buffers });
    w.plan({ ...table, ...sizes });
    expect(() => w.run({ qD: half([2, H, D], "bfloat16"), pagedKvCacheD: half([3, 2, PAGE, KH, D], "bfloat16") })).toThrow(
      /qDataType: plan\(\) was given none and planned for float16, but qD is bfloat16; pass qDataType: "bfloat16" to plan\(\) \(in CUDA graph mode/,
    );
  });

  test("nonBlocking: false waits for the plan's copies; true is the default; both are booleans", () => {
    const w = new PODWithPagedKVCacheWrapper(Tensor.empty([1 << 16], "uint8", on));
    using stream = new Stream(cpu);
    w.plan({ ...table, ...sizes, nonBlocking: false, stream });
    w.plan({ ...table, ...sizes, non_blocking: true });
    expect(() => w.plan({ ...table, ...sizes, nonBlocking: 0 } as never)).toThrow(/nonBlocking: expected a boolean/);
  });

  test("dataType sets both dtypes, and conflicts with qDataType", () => {
    const w = new BatchDecodeWithPagedKVCacheWrapper(Tensor.empty([1 << 16], "uint8", on));
    w.plan({ ...table, ...sizes, dataType: "bfloat16" });
    expect(w.run({ q: half([2, H, D], "bfloat16"), pagedKvCache: half([3, 2, PAGE, KH, D], "bfloat16") }).out.dtype).toBe("bfloat16");
    const err = (() => {
      try {
        w.plan({ ...table, ...sizes, dataType: "bfloat16", qDataType: "float16" });
      } catch (e) {
        return e as PodError;
      }
    })();
    expect(err?.message).toMatch(/^dataType: sets both qDataType and kvDataType/);
  });
});

describe("Tensor conveniences", () => {
  test("printing: dtype, shape, device and the first elements", () => {
    const t = Tensor.from([1.5, 2, 3, 4, 5, 6, 7, 8], [2, 4], "float16", on);
    expect(String(t)).toBe("Tensor(float16, [2, 4], cpu, [1.5, 2, 3, 4, 5, 6, …])");
    expect(Bun.inspect(t)).toBe(String(t));
    expect(`${t.permute([1, 0])}`).toBe("Tensor(float16, [4, 2], cpu, [1.5, 5, 2, 6, 3, 7, …])");
    expect(`${Tensor.zeros([0, 3], "float32", on)}`).toBe("Tensor(float32, [0, 3], cpu, [])");
    t.destroy();
    expect(`${t}`).toBe("Tensor(float16, [2, 4], cpu, destroyed)");
  });

  test("Tensor.full", () => {
    expect(Array.from(Tensor.full([2, 2], 2.5, "bfloat16", on).toFloat32Array())).toEqual([2.5, 2.5, 2.5, 2.5]);
    expect(Array.from(Tensor.full([3], 7, "int32", on).toFloat32Array())).toEqual([7, 7, 7]);
    expect(() => Tensor.full([1], "1" as never, "float32", on)).toThrow(/value: expected a number/);
  });

  test("random tensors without a seed differ from each other; a seed reproduces", () => {
    const a = Tensor.random([64], "float32", on).toFloat32Array();
    const b = Tensor.random([64], "float32", on).toFloat32Array();
    expect(a).not.toEqual(b);
    expect(Tensor.random([64], "float32", { ...on, seed: 3 }).toFloat32Array()).toEqual(Tensor.random([64], "float32", { ...on, seed: 3 }).toFloat32Array());
  });

  test("random tensors without a seed are the same in every run of a program", () => {
    const script = `import { Tensor } from ${JSON.stringify(`${import.meta.dir}/../src/index.ts`)};
      console.log(Array.from(Tensor.random([4], "float32", { device: "cpu" }).toFloat32Array()).join(","));`;
    const run = () => Bun.spawnSync([process.execPath, "-e", script], { stdout: "pipe" }).stdout.toString();
    expect(run()).toBe(run());
  });

  test("fp16 from the engine's Float16Array equals the conversion by hand, which stays for engines without it", () => {
    expect(NativeFloat16Array).toBeDefined();
    const values = [0, -0, 1, 65504, 65520, 1e6, -1e6, 2 ** -24, 2 ** -25, 2 ** -25 + 2 ** -40, 1 + 2 ** -11, 1 + 2 ** -11 + 2 ** -40, Infinity, -Infinity];
    for (let i = 0; i < 5000; i++) values.push((Math.sin(i * 12.9898) * 43758.5453) % 70000);
    const native = new Uint16Array(encodeFloats(values, "float16").buffer);
    expect(Array.from(native)).toEqual(values.map(f32ToF16Bits));
    expect(new Uint16Array(encodeFloats([Number.NaN], "float16").buffer)[0]! & 0x7e00).toBe(0x7e00);
    expect(roundTo("float16", 1 + 2 ** -11 + 2 ** -40)).toBe(1 + 2 ** -10);
  });
});
