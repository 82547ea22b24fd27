/** Tensors, streams, events and devices on the CPU backend. */
import { afterAll, describe, expect, test } from "bun:test";
import { Device, Event, PodError, Stream, Tensor, type DType } from "../src/index.ts";

const cpu = Device.cpu();
const on = { device: cpu };

/** The PodError `fn` throws (fails the test if it throws nothing or something else). */
function podError(fn: () => unknown): PodError {
  let thrown: unknown;
  expect(() => {
    try {
      fn();
    } catch (e) {
      thrown = e;
      throw e;
    }
  }).toThrow(PodError);
  return thrown as PodError;
}

const list = (t: Tensor) => Array.from(t.toFloat32Array());

describe("Tensor.from / toFloat32Array round trips", () => {
  // Values exactly representable in each dtype, so the round trip must be exact.
  const cases: [DType, (number | boolean)[], number[]][] = [
    ["float32", [0, -1.5, 3.25, 1e30, Math.fround(0.1), -(2 ** -126)], [0, -1.5, 3.25, Math.fround(1e30), Math.fround(0.1), -(2 ** -126)]],
    ["float16", [0, -1.5, 3.25, 65504, 2 ** -24, -0.0009765625], [0, -1.5, 3.25, 65504, 2 ** -24, -0.0009765625]],
    ["bfloat16", [0, -1.5, 3.25, 2 ** 100, -(2 ** -100), 256], [0, -1.5, 3.25, 2 ** 100, -(2 ** -100), 256]],
    ["int32", [0, -1, 123456, -(2 ** 24), 2 ** 24, -(2 ** 31)], [0, -1, 123456, -(2 ** 24), 2 ** 24, -(2 ** 31)]],
    ["uint8", [0, 1, 127, 128, 254, 255], [0, 1, 127, 128, 254, 255]],
    ["bool", [true, false, true, false, 0, 7], [1, 0, 1, 0, 0, 1]],
  ];
  for (const [dtype, data, expected] of cases) {
    test(dtype, () => {
      using t = Tensor.from(data as number[], [2, 3], dtype, on);
      expect(t.dtype).toBe(dtype);
      expect(t.shape).toEqual([2, 3]);
      expect(t.device).toBe(cpu);
      expect(list(t)).toEqual(expected);
    });
  }

  test("fp16 and bf16 round to nearest even; integers truncate", () => {
    expect(list(Tensor.from([0.1, 65520, 1e-8], [3], "float16", on))).toEqual([0.0999755859375, Infinity, 0]);
    expect(list(Tensor.from([0.1], [1], "bfloat16", on))).toEqual([0.10009765625]);
    expect(list(Tensor.from([1.7, -1.7], [2], "int32", on))).toEqual([1, -1]);
  });

  test("zero-element tensors", () => {
    using t = Tensor.zeros([0, 3], "float32", on);
    expect(t.numel).toBe(0);
    expect(t.nbytes).toBe(0);
    expect(t.toFloat32Array().length).toBe(0);
  });
});

describe("zeros and fill", () => {
  test("zeros for every dtype", () => {
    for (const dtype of ["float32", "float16", "bfloat16", "int32", "uint8", "bool"] as const) {
      using t = Tensor.zeros([3, 5], dtype, on);
      expect(list(t)).toEqual(new Array(15).fill(0));
    }
  });

  test("fill on a contiguous tensor", () => {
    using f = Tensor.empty([2, 3], "float32", on).fill(1, 0.5);
    expect(list(f)).toEqual([1, 1.5, 2, 2.5, 3, 3.5]);
    using i = Tensor.empty([6], "int32", on).fill(5, -2);
    expect(list(i)).toEqual([5, 3, 1, -1, -3, -5]);
    using h = Tensor.empty([4], "float16", on).fill(-1, 0.25);
    expect(list(h)).toEqual([-1, -0.75, -0.5, -0.25]);
    using c = Tensor.empty([3], "bfloat16", on).fill(7); // step defaults to 0
    expect(list(c)).toEqual([7, 7, 7]);
  });

  test("fill through narrow writes only the rows of the view", () => {
    using base = Tensor.zeros([4, 3], "float32", on);
    const rows = base.narrow(0, 1, 2);
    rows.fill(10, 1);
    expect(list(rows)).toEqual([10, 11, 12, 13, 14, 15]);
    expect(list(base)).toEqual([0, 0, 0, 10, 11, 12, 13, 14, 15, 0, 0, 0]);
  });

  test("fill through a strided narrow (columns)", () => {
    using base = Tensor.zeros([3, 4], "float32", on);
    const cols = base.narrow(1, 1, 2); // strides [4, 1], not contiguous
    expect(cols.isContiguous).toBe(false);
    cols.fill(1, 1);
    expect(list(cols)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(list(base)).toEqual([0, 1, 2, 0, 0, 3, 4, 0, 0, 5, 6, 0]);
  });

  test("fill through select", () => {
    using base = Tensor.zeros([4, 3], "int32", on);
    base.select(1, 2).fill(-1, -1); // column 2
    expect(list(base)).toEqual([0, 0, -1, 0, 0, -2, 0, 0, -3, 0, 0, -4]);
    base.select(0, 0).fill(9); // row 0
    expect(list(base)).toEqual([9, 9, 9, 0, 0, -2, 0, 0, -3, 0, 0, -4]);
  });

  test("fill through permute follows the view's logical order", () => {
    using base = Tensor.zeros([2, 3], "float32", on);
    const t = base.permute([1, 0]); // [3, 2]: element (i, j) lives at base (j, i)
    t.fill(0, 1);
    expect(list(t)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(list(base)).toEqual([0, 2, 4, 1, 3, 5]);
  });
});

describe("views: shapes and strides", () => {
  // Not `using`: a describe body returns before its tests run.
  const base = Tensor.empty([2, 3, 4], "float16", on).fill(0, 1);
  afterAll(() => base.destroy());
  const size = 2; // bytes per float16

  test("a fresh tensor is contiguous", () => {
    expect(base.shape).toEqual([2, 3, 4]);
    expect(base.strides).toEqual([12, 4, 1]);
    expect(base.ndim).toBe(3);
    expect(base.numel).toBe(24);
    expect(base.nbytes).toBe(48);
    expect(base.isContiguous).toBe(true);
  });

  test("narrow", () => {
    const n = base.narrow(1, 1, 2);
    expect(n.shape).toEqual([2, 2, 4]);
    expect(n.strides).toEqual([12, 4, 1]);
    expect(n.ptr).toBe(base.ptr + 4 * size);
    expect(n.isContiguous).toBe(false);
    expect(list(n)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23]);
    // Narrowing the outer dimension keeps it contiguous.
    expect(base.narrow(0, 1, 1).isContiguous).toBe(true);
  });

  test("select", () => {
    const s = base.select(2, 3);
    expect(s.shape).toEqual([2, 3]);
    expect(s.strides).toEqual([12, 4]);
    expect(s.ptr).toBe(base.ptr + 3 * size);
    expect(list(s)).toEqual([3, 7, 11, 15, 19, 23]);
  });

  test("permute", () => {
    const p = base.permute([2, 0, 1]);
    expect(p.shape).toEqual([4, 2, 3]);
    expect(p.strides).toEqual([1, 12, 4]);
    expect(p.ptr).toBe(base.ptr);
    expect(list(p).slice(0, 6)).toEqual([0, 4, 8, 12, 16, 20]);
  });

  test("reshape", () => {
    const r = base.reshape([6, 4]);
    expect(r.shape).toEqual([6, 4]);
    expect(r.strides).toEqual([4, 1]);
    expect(list(r)).toEqual(list(base));
    expect(podError(() => base.permute([1, 0, 2]).reshape([24])).message).toMatch(/not contiguous/);
    expect(podError(() => base.reshape([5, 5])).message).toMatch(/does not hold 24 elements/);
  });

  test("out-of-range view arguments are rejected", () => {
    expect(podError(() => base.narrow(1, 2, 2)).message).toMatch(/length/);
    expect(podError(() => base.narrow(3, 0, 1)).message).toMatch(/dim/);
    expect(podError(() => base.select(0, 2)).message).toMatch(/index/);
    expect(podError(() => base.permute([0, 0, 1])).message).toMatch(/order/);
  });
});

describe("fromPointer", () => {
  test("views existing memory without copying, both ways", () => {
    using owner = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3], "float32", on);
    const view = Tensor.fromPointer(owner.ptr, [3, 2], "float32", on);
    expect(view.ptr).toBe(owner.ptr);
    expect(list(view)).toEqual([1, 2, 3, 4, 5, 6]);
    view.fill(100, 1); // write through the view, read through the owner
    expect(list(owner)).toEqual([100, 101, 102, 103, 104, 105]);
    owner.copyFromHost(new Uint8Array(new Float32Array([6, 5, 4, 3, 2, 1]).buffer)); // and the other way
    expect(list(view)).toEqual([6, 5, 4, 3, 2, 1]);
  });

  test("accepts a bigint address and explicit strides", () => {
    using owner = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3], "float32", on);
    const transposed = Tensor.fromPointer(BigInt(owner.ptr), [3, 2], "float32", { device: cpu, strides: [1, 3] });
    expect(transposed.isContiguous).toBe(false);
    expect(list(transposed)).toEqual([1, 4, 2, 5, 3, 6]);
  });

  test("destroying the view leaves the memory to its owner", () => {
    using owner = Tensor.from([1, 2], [2], "float32", on);
    const view = Tensor.fromPointer(owner.ptr, [2], "float32", on);
    view.destroy();
    expect(view.destroyed).toBe(true);
    expect(owner.destroyed).toBe(false);
    expect(list(owner)).toEqual([1, 2]);
  });
});

describe("destroy", () => {
  test("destroy() twice is fine", () => {
    const t = Tensor.zeros([4], "float32", on);
    t.destroy();
    expect(() => t.destroy()).not.toThrow();
    expect(t.destroyed).toBe(true);
  });

  test("a destroyed tensor and its views throw PodError when used", () => {
    const t = Tensor.zeros([2, 2], "float32", on);
    const v = t.select(0, 1);
    t.destroy();
    expect(v.destroyed).toBe(true);
    for (const use of [() => t.ptr, () => t.toFloat32Array(), () => t.fill(1), () => t.narrow(0, 0, 1), () => v.toFloat32Array()]) {
      expect(podError(use).message).toMatch(/destroy/);
    }
  });

  test("destroying a view does not free its parent", () => {
    using t = Tensor.from([1, 2, 3, 4], [2, 2], "float32", on);
    const v = t.select(0, 0);
    v.destroy();
    expect(podError(() => v.toFloat32Array()).message).toMatch(/destroy/);
    expect(list(t)).toEqual([1, 2, 3, 4]);
  });

  test("`using` disposes tensors, streams and events", () => {
    let t: Tensor, s: Stream, e: Event;
    {
      using tt = Tensor.zeros([2], "float32", on);
      using ss = new Stream(cpu);
      using ee = new Event(cpu);
      [t, s, e] = [tt, ss, ee];
      expect(t.destroyed || s.destroyed || e.destroyed).toBe(false);
    }
    expect(t.destroyed).toBe(true);
    expect(s.destroyed).toBe(true);
    expect(e.destroyed).toBe(true);
  });
});

describe("streams and events on the CPU", () => {
  test("create, record, elapsedSince, destroy", () => {
    const stream = new Stream(cpu);
    expect(stream.device).toBe(cpu);
    stream.synchronize();
    const start = new Event(cpu).record(stream);
    // Work on the stream: CPU streams run it synchronously.
    using t = Tensor.empty([1024], "float32", { device: cpu, stream }).fill(0, 1, stream);
    expect(t.toFloat32Array(stream)[1023]).toBe(1023);
    const end = new Event(cpu).record(stream);
    const ms = end.elapsedSince(start);
    expect(Number.isFinite(ms)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(0);
    // Default stream as well.
    expect(new Event(cpu).record().elapsedSince(end)).toBeGreaterThanOrEqual(0);
    start.destroy();
    end.destroy();
    stream.destroy();
    expect(() => stream.destroy()).not.toThrow();
  });

  test("use after destroy throws INVALID_HANDLE", () => {
    const stream = new Stream(cpu);
    const a = new Event(cpu).record();
    const b = new Event(cpu).record();
    stream.destroy();
    a.destroy();
    const uses: (() => unknown)[] = [
      () => stream.synchronize(),
      () => stream.handle,
      () => b.record(stream),
      () => Tensor.empty([2], "float32", { device: cpu, stream }),
      () => a.record(),
      () => a.synchronize(),
      () => b.elapsedSince(a),
    ];
    for (const use of uses) expect(podError(use).status).toBe("INVALID_HANDLE");
    b.destroy();
  });

  test("elapsedSince an event that was never recorded is rejected", () => {
    using a = new Event(cpu);
    using b = new Event(cpu);
    b.record();
    const err = podError(() => b.elapsedSince(a));
    expect(err.status).toBe("INVALID_ARGUMENT");
    expect(err.message).toMatch(/start: the event was never recorded/);
  });
});

describe("devices", () => {
  test("the CPU's properties", () => {
    const p = cpu.properties;
    expect(typeof p.name).toBe("string");
    expect(p.name.length).toBeGreaterThan(0);
    expect(p.smCount).toBeGreaterThanOrEqual(1);
    expect(p.computeCapability).toEqual([0, 0]);
    expect(p.totalMemory).toBeGreaterThan(0);
    expect(cpu.isCpu).toBe(true);
    expect(cpu.kind).toBe("cpu");
    expect(String(cpu)).toBe("cpu");
  });

  test("cudaCount() is a count, consistent with best()", () => {
    const n = Device.cudaCount();
    expect(typeof n).toBe("number");
    expect(Number.isInteger(n) && n >= 0).toBe(true);
    if (n === 0) {
      expect(Device.best()).toBe(cpu);
      expect(Device.cudaUnavailableReason()).toBeString();
    } else {
      expect(Device.best().id).toBe(0);
    }
  });

  test("parse gives the same Device objects", () => {
    expect(Device.parse("cpu")).toBe(Device.cpu());
    expect(Device.parse(cpu)).toBe(cpu);
    expect(Device.cpu()).toBe(Device.cpu());
  });

  test("memoryInfo returns positive numbers", () => {
    const { free, total } = cpu.memoryInfo();
    expect(free).toBeGreaterThan(0);
    expect(total).toBeGreaterThan(0);
    expect(free).toBeLessThanOrEqual(total);
    cpu.synchronize();
  });
});
