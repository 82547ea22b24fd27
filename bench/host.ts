/**
 * `bun bench/host.ts [cpu|cuda:N]`: host time of the calls a server makes per layer and per step —
 * run() (bindings, validation and kernel launches), plan() for 256 requests, and a graph launch of 32
 * layers — as the median of individually timed calls (10,000 for run(), 1,000 for plan()). Runs on the
 * best device, or the one named. On CUDA the stream is synchronized outside the timing — every 256
 * run() calls and every 8 graph launches, so the launch queue never fills and blocks, and before each
 * plan(), as a server plans a step after the last one's copies finished (plan() waits for the copies
 * of the plan before it, which reuse its staging memory). On the CPU backend run() also computes the
 * attention (a minimal problem: one head, one key), so it bounds the bindings from above but does not
 * show the cost of a GPU launch. Prints a markdown table and writes bench/results/<device>-host.json.
 */
import {
  BatchDecodeWithPagedKVCacheWrapper,
  Device,
  PODWithPagedKVCacheWrapper,
  Stream,
  Tensor,
  version,
} from "../src/index.ts";
import { median, progress, shuffledPages, writeResults } from "./common.ts";

const device = Device.parse(process.argv[2] ?? Device.best());
const cuda = !device.isCpu;
progress(`host overhead on ${device} (${device.properties.name})`);

/**
 * Median and 90th percentile in µs of `calls` timed calls of fn (after `warmup`); `sync` runs every
 * `syncEvery` calls, outside the timing.
 */
function hostTime(fn: (i: number) => void, calls: number, warmup: number, sync?: () => void, syncEvery = 256): { median: number; p90: number } {
  for (let i = 0; i < warmup; i++) fn(i);
  sync?.();
  const times = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    if (sync && i % syncEvery === 0) sync();
    const t0 = Bun.nanoseconds();
    fn(i);
    times[i] = (Bun.nanoseconds() - t0) / 1e3;
  }
  sync?.();
  const sorted = Array.from(times).sort((a, b) => a - b);
  return { median: median(sorted), p90: sorted[Math.floor(0.9 * (sorted.length - 1))]! };
}

// Shapes: on CUDA a serving-sized layer (32 query / 8 KV heads, head_dim 128, page 16); on the CPU
// backend the smallest problem, so the timing is mostly the library, not the reference computation.
const H = cuda ? 32 : 1, KH = cuda ? 8 : 1, D = cuda ? 128 : 64, PAGE = 16;
const BATCH = cuda ? 32 : 1, DECODE_KV = cuda ? 2048 : 1, PREFILL = cuda ? 256 : 1;
const on = { device };
const stream = new Stream(device);
const sync = cuda ? () => stream.synchronize() : undefined;

function table(batch: number, kv: number, seed = 1) {
  const per = Math.ceil(kv / PAGE);
  const indices = shuffledPages(batch * per, seed);
  const indptr = Int32Array.from({ length: batch + 1 }, (_, i) => i * per);
  const last = new Int32Array(batch).fill(kv - (per - 1) * PAGE);
  return { indptr, indices, lastPageLen: last, pages: batch * per };
}

const rows: { call: string; shape: string; medianUs: number; p90Us: number; target?: number }[] = [];
const record = (call: string, shape: string, t: { median: number; p90: number }, target?: number) => {
  rows.push({ call, shape, medianUs: +t.median.toFixed(2), p90Us: +t.p90.toFixed(2), ...(target !== undefined ? { target } : {}) });
  progress(`${call}: median ${t.median.toFixed(2)} µs, p90 ${t.p90.toFixed(2)} µs`);
};

// run(): POD (prefill + decode in one launch) and batch decode, outputs preallocated.
{
  const t = table(BATCH, DECODE_KV);
  const ws = Tensor.empty([128 << 20], "uint8", on);
  const pod = new PODWithPagedKVCacheWrapper(ws, "NHD");
  pod.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.lastPageLen, numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE, stream });
  const cache = Tensor.zeros([t.pages, 2, PAGE, KH, D], "float16", on);
  const qD = Tensor.zeros([BATCH, H, D], "float16", on), oD = Tensor.empty([BATCH, H, D], "float16", on);
  const qP = Tensor.zeros([PREFILL, H, D], "float16", on), oP = Tensor.empty([PREFILL, H, D], "float16", on);
  const kP = Tensor.zeros([PREFILL, KH, D], "float16", on), vP = Tensor.zeros([PREFILL, KH, D], "float16", on);
  const args = { qP, kP, vP, causalP: true, qD, pagedKvCacheD: cache, outP: oP, outD: oD, stream };
  record("POD run()", `${PREFILL} prefill + ${BATCH}@${DECODE_KV} decode`, hostTime(() => pod.run(args), 10_000, 500, sync), 10);

  const ws2 = Tensor.empty([128 << 20], "uint8", on);
  const dec = new BatchDecodeWithPagedKVCacheWrapper(ws2, "NHD");
  dec.plan({ indptr: t.indptr, indices: t.indices, lastPageLen: t.lastPageLen, numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE, stream });
  const decArgs = { q: qD, pagedKvCache: cache, out: oD, stream };
  record("BatchDecode run()", `${BATCH}@${DECODE_KV}`, hostTime(() => dec.run(decArgs), 10_000, 500, sync), 10);

  // A graph of 32 layers' POD run() (CUDA graph mode): one launch per step.
  const bufs = {
    pagedKvIndptrBuffer: Tensor.zeros([BATCH + 1], "int32", on),
    pagedKvIndicesBuffer: Tensor.zeros([t.pages], "int32", on),
    pagedKvLastPageLenBuffer: Tensor.zeros([BATCH], "int32", on),
  };
  const ws3 = Tensor.empty([128 << 20], "uint8", on);
  const gpod = new PODWithPagedKVCacheWrapper(ws3, "NHD", { useCudaGraph: true, ...bufs });
  const planArgs = { indptr: t.indptr, indices: t.indices, lastPageLen: t.lastPageLen, numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE, stream };
  gpod.plan(planArgs);
  gpod.run(args);
  sync?.();
  const graph = stream.capture(() => {
    for (let l = 0; l < 32; l++) gpod.run(args);
  });
  record("graph launch (32 POD layers)", `${PREFILL} prefill + ${BATCH}@${DECODE_KV} decode per layer`, hostTime(() => graph.launch(), 2_000, 50, sync, 8));

  // plan(): 256 requests (Int32Array tables, as a server keeps them).
  const big = table(256, cuda ? 2048 : 64, 2);
  const pws = Tensor.empty([256 << 20], "uint8", on);
  const planner = new PODWithPagedKVCacheWrapper(pws, "NHD");
  const bigArgs = { indptr: big.indptr, indices: big.indices, lastPageLen: big.lastPageLen, numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE, stream };
  record("plan()", `256 requests × ${cuda ? 2048 : 64} keys (${big.pages} pages)`, hostTime(() => planner.plan(bigArgs), 1_000, 50, sync, 1), 30);
  const gbufs = {
    pagedKvIndptrBuffer: Tensor.zeros([257], "int32", on),
    pagedKvIndicesBuffer: Tensor.zeros([big.pages], "int32", on),
    pagedKvLastPageLenBuffer: Tensor.zeros([256], "int32", on),
  };
  const gws = Tensor.empty([256 << 20], "uint8", on);
  const gplanner = new PODWithPagedKVCacheWrapper(gws, "NHD", { useCudaGraph: true, ...gbufs });
  record("plan() in CUDA graph mode", `256 requests × ${cuda ? 2048 : 64} keys (${big.pages} pages)`, hostTime(() => gplanner.plan(bigArgs), 1_000, 50, sync, 1), 30);
  graph.destroy();
}

const cpuName = Device.cpu().properties.name;
console.log(`\nHost time per call on ${device.properties.name} (${device}), pod-attention ${version()}, Bun ${Bun.version}; host CPU: ${cpuName}`);
if (!cuda) console.log("CPU backend: run() includes the reference computation of a minimal problem; GPU launch costs are not represented.\n");
console.log("| call | shape | median µs | p90 µs | target µs |");
console.log("|---|---|---|---|---|");
for (const r of rows) console.log(`| ${r.call} | ${r.shape} | ${r.medianUs} | ${r.p90Us} | ${r.target ?? ""} |`);
const file = writeResults(device, "host", { device: device.properties.name, deviceId: String(device), version: version(), bun: Bun.version, hostCpu: cpuName, rows });
console.log(`\nwrote ${file}`);
