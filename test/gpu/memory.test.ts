/**
 * Device memory stays flat on a GPU: 10,000 plan/run cycles with other KV lengths each time (outputs
 * allocated by run() and destroyed), and 2,000 re-plans with graph replays, leave the memory pool's
 * use exactly where it was and the device's free memory within a few MiB. A workspace too small for
 * a plan is an error, also where split key ranges would need partial results. Skips without a CUDA
 * device.
 */
import { describe, expect, test } from "bun:test";
import { Device, PODWithPagedKVCacheWrapper, PodError, Stream, Tensor } from "../../src/index.ts";
import { decodeBuffers, pageTable } from "../serving-fixture.ts";
import { testGpu } from "./test-device.ts";

const reason = Device.cudaUnavailableReason();
if (reason) console.log(`GPU tests skipped (memory): ${reason}`);

const HEADS = { numQoHeads: 32, numKvHeads: 8, headDim: 128, pageSize: 16 } as const;
const MiB = 1 << 20;

describe.skipIf(reason !== undefined)("device memory over many cycles", () => {
  const dev = reason ? Device.cpu() : testGpu();
  const pages = 2100;

  function report(label: string, before: ReturnType<Device["memoryStats"]>, after: ReturnType<Device["memoryStats"]>): void {
    console.log(`${label}: pool in use ${before.poolUsed} -> ${after.poolUsed} bytes, pool reserved ${(before.poolReserved / MiB).toFixed(1)} -> ` +
      `${(after.poolReserved / MiB).toFixed(1)} MiB, device free ${(before.free / MiB).toFixed(1)} -> ${(after.free / MiB).toFixed(1)} MiB`);
  }

  test("10,000 plan/run cycles with changing KV lengths", () => {
    using ws = Tensor.empty([128 << 20], "uint8", { device: dev });
    using w = new PODWithPagedKVCacheWrapper(ws, "NHD");
    using cache = Tensor.random([pages, 2, 16, 8, 128], "float16", { device: dev, seed: 1 });
    using qD = Tensor.random([8, 32, 128], "float16", { device: dev, seed: 2 });
    using qP = Tensor.random([32, 32, 128], "float16", { device: dev, seed: 3 });
    using kP = Tensor.random([96, 8, 128], "float16", { device: dev, seed: 4 });
    using vP = Tensor.random([96, 8, 128], "float16", { device: dev, seed: 5 });
    const cycle = (i: number) => {
      const lens = Array.from({ length: 8 }, (_, r) => 1 + ((i * 7919 + r * 104729) % 4096));
      const t = pageTable(lens, 16, pages, i);
      w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...HEADS });
      const r = w.run({ qP, kP, vP, causalP: true, qD, pagedKvCacheD: cache, returnLseP: true, returnLseD: true });
      for (const x of [r.oP, r.oD, r.lseP, r.lseD]) x!.destroy();
    };
    for (let i = 0; i < 100; i++) cycle(i);
    dev.synchronize();
    const before = dev.memoryStats();
    for (let i = 0; i < 10_000; i++) cycle(i);
    dev.synchronize();
    const after = dev.memoryStats();
    report("10k plan/run cycles", before, after);
    expect(after.poolUsed).toBe(before.poolUsed);
    expect(after.poolReserved).toBeLessThanOrEqual(before.poolReserved + 32 * MiB);
    expect(before.free - after.free).toBeLessThan(64 * MiB);
  }, 300_000);

  test("2,000 re-plans with graph replays in CUDA graph mode", () => {
    using ws = Tensor.empty([128 << 20], "uint8", { device: dev });
    const bufs = decodeBuffers(dev, 8, pages);
    using w = new PODWithPagedKVCacheWrapper(ws, "NHD", { useCudaGraph: true, ...bufs });
    using cache = Tensor.random([pages, 2, 16, 8, 128], "float16", { device: dev, seed: 1 });
    using qD = Tensor.random([8, 32, 128], "float16", { device: dev, seed: 2 });
    using oD = Tensor.empty([8, 32, 128], "float16", { device: dev });
    using stream = new Stream(dev);
    const plan = (i: number) => {
      const lens = Array.from({ length: 8 }, (_, r) => 1 + ((i * 7919 + r * 104729) % 4096));
      const t = pageTable(lens, 16, pages, i);
      w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...HEADS, stream });
    };
    plan(0);
    w.run({ qD, pagedKvCacheD: cache, outD: oD, stream });
    stream.synchronize();
    using graph = stream.capture(() => {
      for (let l = 0; l < 8; l++) w.run({ qD, pagedKvCacheD: cache, outD: oD, stream });
    });
    for (let i = 0; i < 50; i++) (plan(i), graph.launch());
    stream.synchronize();
    const before = dev.memoryStats();
    for (let i = 0; i < 2000; i++) (plan(i), graph.launch());
    stream.synchronize();
    const after = dev.memoryStats();
    report("2k re-plans with replays", before, after);
    expect(after.poolUsed).toBe(before.poolUsed);
    expect(before.free - after.free).toBeLessThan(64 * MiB);
    for (const t of Object.values(bufs)) t.destroy();
  }, 300_000);

  test("a workspace too small for a plan is an error, never an overflow", () => {
    using cache = Tensor.random([pages, 2, 16, 8, 128], "float16", { device: dev, seed: 1 });
    using qD = Tensor.random([2, 32, 128], "float16", { device: dev, seed: 2 });
    const t = pageTable([4096, 4096], 16, pages, 1);
    const args = { indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...HEADS };
    // Large enough for the tables: the planner splits key ranges only as far as a quarter of the
    // workspace holds their partial results, and the result equals the one with a large workspace.
    using big = Tensor.empty([256 << 20], "uint8", { device: dev });
    using wb = new PODWithPagedKVCacheWrapper(big, "NHD");
    wb.plan(args);
    const ref = wb.run({ qD, pagedKvCacheD: cache }).oD!;
    for (const bytes of [64 << 10, 256 << 10, 1 << 20]) {
      using small = Tensor.empty([bytes], "uint8", { device: dev });
      using ws = new PODWithPagedKVCacheWrapper(small, "NHD");
      ws.plan(args);
      const out = ws.run({ qD, pagedKvCacheD: cache }).oD!;
      const a = out.toFloat32Array(), b = ref.toFloat32Array();
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      expect(worst).toBeLessThan(4e-3);
      out.destroy();
    }
    using tiny = Tensor.empty([256], "uint8", { device: dev });
    using wt = new PODWithPagedKVCacheWrapper(tiny, "NHD");
    try {
      wt.plan(args);
      throw new Error("expected WORKSPACE_TOO_SMALL");
    } catch (e) {
      expect(e).toBeInstanceOf(PodError);
      expect((e as PodError).status).toBe("WORKSPACE_TOO_SMALL");
    }
    // Graph mode reserves the most any plan of its shape may need, and says so up front.
    const bufs = decodeBuffers(dev, 2, pages);
    using tinyGraph = Tensor.empty([1024], "uint8", { device: dev });
    using wg = new PODWithPagedKVCacheWrapper(tinyGraph, "NHD", { useCudaGraph: true, ...bufs });
    expect(() => wg.plan(args)).toThrow(/floatWorkspaceBuffer: holds 1024 bytes/);
    ref.destroy();
    for (const x of Object.values(bufs)) x.destroy();
  }, 120_000);
});
