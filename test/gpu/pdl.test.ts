/**
 * Programmatic dependent launch on a GPU. With PDL a kernel may begin while the kernel before it in
 * the stream drains; each kernel of the library waits (griddepcontrol.wait) before touching memory.
 * These tests put a dependency right before each launch and compare bit for bit with PDL off:
 * - a large fill kernel writes q immediately before run() reads it;
 * - a chain of runs where each decode output is the next run's decode query (the merge kernel of one
 *   run, or its fused kernel, is the kernel right before the next run's);
 * - split key ranges, so the merge kernel depends on the partial results of the attention kernel.
 * Also run them under the sanitizer: `compute-sanitizer --tool synccheck bun test test/gpu/pdl.test.ts`
 * (and --tool racecheck, --tool memcheck). Skips without a CUDA device; the PDL cases skip (saying
 * why) on devices before compute capability 9.0, where enablePdl: true is an error.
 */
import { describe, expect, test } from "bun:test";
import { Device, PODWithPagedKVCacheWrapper, Stream, Tensor } from "../../src/index.ts";
import { firstDifference, pageTable } from "../serving-fixture.ts";
import { testGpu } from "./test-device.ts";

const reason = Device.cudaUnavailableReason();
if (reason) console.log(`GPU tests skipped (pdl): ${reason}`);
const dev = reason ? Device.cpu() : testGpu();
const pdlReason = reason ?? (dev.properties.programmaticDependentLaunch ? undefined : `${dev} (compute capability ${dev.properties.computeCapability.join(".")}) has no programmatic dependent launch`);
if (!reason && pdlReason) console.log(`PDL tests skipped: ${pdlReason}`);

const HEADS = { numQoHeads: 32, numKvHeads: 8, headDim: 128, pageSize: 16 } as const;

describe.skipIf(reason !== undefined)("programmatic dependent launch", () => {
  test("the device reports PDL support; enablePdl: true is an error where it is missing", () => {
    console.log(`${dev}: ${dev.properties.name}, programmatic dependent launch ${dev.properties.programmaticDependentLaunch ? "supported" : "not supported"}`);
    expect(dev.properties.programmaticDependentLaunch).toBe(dev.properties.computeCapability[0] >= 9);
    if (!dev.properties.programmaticDependentLaunch) {
      using ws = Tensor.empty([1 << 20], "uint8", { device: dev });
      expect(() => new PODWithPagedKVCacheWrapper(ws, "NHD", { enablePdl: true })).toThrow(/enablePdl: programmatic dependent launch needs compute capability 9.0/);
    }
  });

  describe.skipIf(pdlReason !== undefined)("with PDL", () => {
    test("a fill kernel writes q right before run() reads it: every run sees the whole new q", () => {
      const pages = 640;
      using ws = Tensor.empty([128 << 20], "uint8", { device: dev });
      using w = new PODWithPagedKVCacheWrapper(ws, "NHD");
      const t = pageTable([3000, 100, 4000, 2500, 7], 16, pages, 1);
      w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...HEADS });
      // A large prefill q (32 MiB) takes the fill kernel long enough for an early start to show.
      using qP = Tensor.empty([4096, 32, 128], "float16", { device: dev });
      using kP = Tensor.random([4096, 8, 128], "float16", { device: dev, seed: 2 });
      using vP = Tensor.random([4096, 8, 128], "float16", { device: dev, seed: 3 });
      using qD = Tensor.empty([5, 32, 128], "float16", { device: dev });
      using cache = Tensor.random([pages, 2, 16, 8, 128], "float16", { device: dev, seed: 4 });
      using stream = new Stream(dev);
      const outs = (n: number) => Array.from({ length: n }, () => ({ oP: Tensor.empty([4096, 32, 128], "float16", { device: dev }),
        oD: Tensor.empty([5, 32, 128], "float16", { device: dev }) }));
      const ROUNDS = 6;
      const withPdl = outs(ROUNDS), without = outs(ROUNDS);
      const round = (i: number, pdl: boolean, o: { oP: Tensor; oD: Tensor }) => {
        qD.fillRandom(50 + i, -1, 1, stream);
        qP.fillRandom(100 + i, -1, 1, stream); // the kernel right before run()
        w.run({ qP, kP, vP, causalP: true, qD, pagedKvCacheD: cache, outP: o.oP, outD: o.oD, stream, enablePdl: pdl });
      };
      for (let i = 0; i < ROUNDS; i++) round(i, false, without[i]!);
      for (let i = 0; i < ROUNDS; i++) round(i, true, withPdl[i]!);
      stream.synchronize();
      for (let i = 0; i < ROUNDS; i++) {
        expect(firstDifference(withPdl[i]!.oP, without[i]!.oP)).toBe(-1);
        expect(firstDifference(withPdl[i]!.oD, without[i]!.oD)).toBe(-1);
      }
      for (const o of [...withPdl, ...without]) o.oP.destroy(), o.oD.destroy();
    }, 120_000);

    test("a chain of 16 runs, each decode output the next run's query, equals the chain without PDL", () => {
      const pages = 1100, B = 4;
      using ws = Tensor.empty([128 << 20], "uint8", { device: dev });
      using w = new PODWithPagedKVCacheWrapper(ws, "NHD");
      // Long and short requests: key ranges split, so each run ends with a merge kernel.
      const t = pageTable([4096, 33, 2000, 4096], 16, pages, 2);
      w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, ...HEADS });
      using cache = Tensor.random([pages, 2, 16, 8, 128], "float16", { device: dev, seed: 5 });
      using qP = Tensor.random([64, 32, 128], "float16", { device: dev, seed: 6 });
      using kP = Tensor.random([256, 8, 128], "float16", { device: dev, seed: 7 });
      using vP = Tensor.random([256, 8, 128], "float16", { device: dev, seed: 8 });
      using oP = Tensor.empty([64, 32, 128], "float16", { device: dev });
      using stream = new Stream(dev);
      const chain = (pdl: boolean, withPrefill: boolean) => {
        const qs = Array.from({ length: 17 }, () => Tensor.empty([B, 32, 128], "float16", { device: dev }));
        qs[0]!.fillRandom(9, -1, 1, stream);
        for (let i = 0; i < 16; i++)
          w.run({ ...(withPrefill ? { qP, kP, vP, causalP: true, outP: oP } : {}), qD: qs[i]!, pagedKvCacheD: cache, outD: qs[i + 1]!, stream, enablePdl: pdl });
        stream.synchronize();
        return qs;
      };
      for (const withPrefill of [false, true]) {
        const a = chain(false, withPrefill), b = chain(true, withPrefill);
        for (let i = 1; i <= 16; i++) {
          const at = firstDifference(a[i]!, b[i]!);
          if (at !== -1) throw new Error(`${withPrefill ? "POD" : "decode"} chain step ${i}: PDL result differs at element ${at}`);
        }
        for (const q of [...a, ...b]) q.destroy();
      }
    }, 120_000);

    test("PDL on and off give identical results over split and unsplit schedules, dtypes and head sizes", () => {
      for (const dtype of ["float16", "bfloat16"] as const)
        for (const headDim of [64, 128, 256] as const) {
          const pages = 700;
          using ws = Tensor.empty([128 << 20], "uint8", { device: dev });
          using w = new PODWithPagedKVCacheWrapper(ws, "HND");
          const t = pageTable([1, 2500, 70, 4000, 9, 1024], 16, pages, headDim);
          w.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.last, numQoHeads: 16, numKvHeads: 4, headDim, pageSize: 16, qDataType: dtype });
          const rnd = (shape: number[], seed: number) => Tensor.random(shape, dtype, { device: dev, seed });
          using cache = rnd([pages, 2, 4, 16, headDim], 1);
          using qD = rnd([6, 16, headDim], 2);
          using qP = rnd([300, 16, headDim], 3);
          using kP = rnd([4, 700, headDim], 4);
          using vP = rnd([4, 700, headDim], 5);
          const run = (pdl: boolean) => w.run({ qP, kP, vP, causalP: true, qD, pagedKvCacheD: cache, enablePdl: pdl, returnLseP: true, returnLseD: true });
          const a = run(false), b = run(true);
          for (const key of ["oP", "oD", "lseP", "lseD"] as const) {
            const at = firstDifference(a[key]!, b[key]!);
            if (at !== -1) throw new Error(`${dtype} head_dim ${headDim}: ${key} with PDL differs at element ${at}`);
            a[key]!.destroy(), b[key]!.destroy();
          }
        }
    }, 120_000);
  });
});
