/**
 * `bun bench/prefill.ts [peer.json]`: prefill attention on the first CUDA device, 32 query / 8 KV
 * heads, fp16 and bf16: causal squares 1024..16384, 1024 queries over 8192 keys, non-causal 4096²,
 * head_dim 64 and 256 at 4096², window 1023 and soft cap 30 at 4096², and a ragged paged batch (4
 * requests, page 16, shuffled pages) beside the same requests as contiguous single prefills.
 * Reports GPU time (a busy GPU ahead of each call; medians of 30) and latency from an idle GPU
 * (medians of 20). peer.json, written by `python3 bench/prefill_peer.py peer.json` in the same device
 * session, adds torch SDPA's cuDNN and flash times of the same shapes. Writes
 * bench/results/<gpu>-prefill.json.
 */
import { existsSync, readFileSync } from "node:fs";
import { BatchPrefillWithPagedKVCacheWrapper, singlePrefillWithKVCache, Tensor, version, type HalfDType } from "../src/index.ts";
import { benchDevice, counter, progress, shuffledPages, writeResults } from "./common.ts";
import { GpuTimer } from "./gpu-time.ts";
import { PREFILL_SHAPES, type PrefillShape, visiblePairs } from "./prefill-shapes.ts";

const H = 32, KH = 8, PAGE = 16;
const { device, copyTBs, mmaTflops } = benchDevice();
const timer = new GpuTimer(device);
const peerFile = process.argv[2];
const peer: Record<string, { cudnnMs?: number | null; flashMs?: number | null; cudnnLatencyMs?: number | null; flashLatencyMs?: number | null }> =
  peerFile && existsSync(peerFile) ? JSON.parse(readFileSync(peerFile, "utf8")).rows : {};

interface Row {
  name: string; qo: number; kv: number; headDim: number; dtype: HalfDType; causal: boolean; options: Record<string, number>;
  oursMs: number; oursLatencyMs: number; oursTflops: number; cudnnMs: number | null; flashMs: number | null;
  cudnnLatencyMs: number | null; flashLatencyMs: number | null; contiguousMs?: number;
}
const rows: Row[] = [];
const DTYPES: HalfDType[] = ["float16", "bfloat16"];
const step = counter(DTYPES.length * (PREFILL_SHAPES.length + 1));
const workspace = Tensor.empty([256 << 20], "uint8", { device });

function single(shape: PrefillShape, dtype: HalfDType, seed: number): { call: () => void; free: () => void } {
  const q = Tensor.random([shape.qo, H, shape.headDim], dtype, { device, seed });
  const k = Tensor.random([shape.kv, KH, shape.headDim], dtype, { device, seed: seed + 1 });
  const v = Tensor.random([shape.kv, KH, shape.headDim], dtype, { device, seed: seed + 2 });
  const out = Tensor.empty([shape.qo, H, shape.headDim], dtype, { device });
  const options = { causal: shape.causal, out, ...shape.options };
  return { call: () => void singlePrefillWithKVCache(q, k, v, options), free: () => [q, k, v, out].forEach((t) => t.destroy()) };
}

function record(shape: PrefillShape, dtype: HalfDType, oursMs: number, oursLatencyMs: number, pairs: number, extra: Partial<Row> = {}): void {
  const name = `${shape.name}-d${shape.headDim}-${dtype}`;
  const p = peer[name] ?? {};
  rows.push({
    name, qo: shape.qo, kv: shape.kv, headDim: shape.headDim, dtype, causal: shape.causal, options: shape.options,
    oursMs, oursLatencyMs, oursTflops: (4 * pairs * H * shape.headDim) / (oursMs * 1e-3) / 1e12,
    cudnnMs: p.cudnnMs ?? null, flashMs: p.flashMs ?? null, cudnnLatencyMs: p.cudnnLatencyMs ?? null, flashLatencyMs: p.flashLatencyMs ?? null,
    ...extra,
  });
}

for (const dtype of DTYPES) {
  for (const shape of PREFILL_SHAPES) {
    step(`${shape.name} d${shape.headDim} ${dtype}`);
    const s = single(shape, dtype, 1);
    record(shape, dtype, timer.gpuMs(s.call), timer.latencyMs(s.call), visiblePairs(shape.qo, shape.kv, shape.causal, shape.options.windowLeft));
    s.free();
  }
  // Ragged paged batch: 4 causal requests of mixed lengths on a page-16 cache with shuffled pages,
  // against the same requests as contiguous single prefills back to back.
  step(`ragged paged batch ${dtype}`);
  const lens = [3072, 1024, 2560, 1536], D = 128;
  const pagesPer = lens.map((n) => Math.ceil(n / PAGE)), pages = pagesPer.reduce((a, b) => a + b, 0);
  const qoIndptr = [0], kvIndptr = [0];
  for (let i = 0; i < lens.length; i++) qoIndptr.push(qoIndptr[i]! + lens[i]!), kvIndptr.push(kvIndptr[i]! + pagesPer[i]!);
  const total = qoIndptr[lens.length]!;
  using cache = Tensor.random([pages, 2, PAGE, KH, D], dtype, { device, seed: 5 });
  using q = Tensor.random([total, H, D], dtype, { device, seed: 6 });
  using out = Tensor.empty([total, H, D], dtype, { device });
  using w = new BatchPrefillWithPagedKVCacheWrapper(workspace, "NHD");
  w.plan({
    qoIndptr, pagedKvIndptr: kvIndptr, pagedKvIndices: shuffledPages(pages), pagedKvLastPageLen: lens.map((n) => n - (Math.ceil(n / PAGE) - 1) * PAGE),
    numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE, causal: true, qDataType: dtype,
  });
  const call = () => void w.run({ q, pagedKvCache: cache, out });
  const singles = lens.map((n, i) => single({ name: "", qo: n, kv: n, headDim: D, causal: true, options: {} }, dtype, 10 + 3 * i));
  const contiguousMs = timer.gpuMs(() => singles.forEach((s) => s.call()));
  singles.forEach((s) => s.free());
  const pairs = lens.reduce((a, n) => a + visiblePairs(n, n, true), 0);
  record({ name: "ragged-paged-4", qo: total, kv: total, headDim: D, causal: true, options: {} }, dtype, timer.gpuMs(call), timer.latencyMs(call), pairs,
    { contiguousMs });
}

const f = (x: number | null | undefined, d = 3) => (x == null ? "" : x.toFixed(d));
const lines = [`### Prefill on ${device.properties.name} (pod-attention ${version()})`, "",
  `GPU time (busy GPU ahead of each call), ms; bounds in the same run: copy ${f(copyTBs, 2)} TB/s, fp16 MMA ${f(mmaTflops, 0)} TFLOP/s.`, "",
  "| shape | ours ms | TFLOP/s | cuDNN ms | flash ms | vs cuDNN | vs flash | ours latency ms |", "|---|---|---|---|---|---|---|---|"];
for (const r of rows)
  lines.push(`| ${r.name} | ${f(r.oursMs)} | ${f(r.oursTflops, 0)} | ${f(r.cudnnMs)} | ${f(r.flashMs)} | ${r.cudnnMs ? f(r.cudnnMs / r.oursMs, 2) + "x" : ""} | ${r.flashMs ? f(r.flashMs / r.oursMs, 2) + "x" : ""} | ${f(r.oursLatencyMs)} |`);
console.log(lines.join("\n"));
const file = writeResults(device, "prefill", {
  device: device.properties.name, date: new Date().toISOString(), version: version(), runs: 30, latencyRuns: 20,
  bounds: { copyTBs, mmaTflops }, rows,
});
progress(`wrote ${file}`);
timer.destroy();
