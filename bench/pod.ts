/**
 * `bun bench/pod.ts`: POD (prefill and decode in one launch) against the same work done otherwise, on
 * the first CUDA device. For each configuration (32 query / 8 KV heads, head_dim 128, page 16, NHD,
 * causal prefill) and dtype: POD through PODWithPagedKVCacheWrapper (one prefill request, contiguous
 * k/v) and through BatchPODWithPagedKVCacheWrapper with the prefill split into 2 and 4 chunked
 * requests; the prefill alone; the decode alone; serial (the standalone kernels back to back); two
 * streams; and the practical bound max(FLOPs / tensor-core peak, bytes / copy bandwidth) measured in
 * the same run. Medians of 30 timed runs after 5 warm-ups. Prints a markdown table and writes
 * bench/results/<gpu>-pod.json and its chart bench/results/<gpu>-pod.svg (bench/chart.ts, imported
 * after the JSON is written; where ECharts is not installed it prints how to draw the chart later
 * with `bun bench/chart.ts <results json>`); progress goes to stderr.
 */
import { copyFileSync } from "node:fs";
import { basename, join } from "node:path";
import {
  BatchDecodeWithPagedKVCacheWrapper,
  BatchPODWithPagedKVCacheWrapper,
  BatchPrefillWithPagedKVCacheWrapper,
  Event,
  PODWithPagedKVCacheWrapper,
  singlePrefillWithKVCache,
  Stream,
  Tensor,
  version,
  type HalfDType,
} from "../src/index.ts";
import { benchDevice, counter, drawChart, median, progress, shuffledPages, timeMs, writeResults } from "./common.ts";

const H = 32, KH = 8, D = 128, PAGE = 16;
const CONFIGS = [
  { name: "C1", qo: 1024, kv: 1024, batch: 64, decodeKv: 4096, reference: 0.488 },
  { name: "C2", qo: 2048, kv: 2048, batch: 64, decodeKv: 4096, reference: 0.504 },
  { name: "C3", qo: 1024, kv: 8192, batch: 128, decodeKv: 4096, reference: 0.906 },
  { name: "C4", qo: 4096, kv: 4096, batch: 128, decodeKv: 4096, reference: 0.887 },
  { name: "C5", qo: 512, kv: 4096, batch: 32, decodeKv: 8192, reference: 0.493 },
  { name: "C6", qo: 2048, kv: 8192, batch: 128, decodeKv: 8192, reference: 1.668 },
  { name: "C7", qo: 256, kv: 256, batch: 256, decodeKv: 2048, reference: 0.856 },
  { name: "C8", qo: 8192, kv: 8192, batch: 16, decodeKv: 2048, reference: 1.691 },
];

const { device, copyTBs, mmaTflops } = benchDevice();
// One workspace per live wrapper: a plan owns the workspace it was written into.
const workspace = Tensor.empty([256 << 20], "uint8", { device });
const workspace2 = Tensor.empty([256 << 20], "uint8", { device });
const workspace3 = Tensor.empty([256 << 20], "uint8", { device });

/** Median ms of work issued on two streams, bracketed by events on the default stream. */
function timeTwoStreams(a: () => void, b: () => void, s1: Stream, s2: Stream, runs = 30, warmup = 5): number {
  const times: number[] = [];
  const start = new Event(device), end = new Event(device);
  for (let i = 0; i < runs + warmup; i++) {
    start.record();
    a();
    b();
    end.record(); // the library's streams order with the default stream
    const ms = end.elapsedSince(start);
    if (i >= warmup) times.push(ms);
  }
  s1.synchronize(), s2.synchronize();
  start.destroy(), end.destroy();
  return median(times);
}

interface Row {
  config: string; dtype: HalfDType; wrapper: "single" | "batch2" | "batch4";
  podMs: number; prefillMs: number; decodeMs: number; serialMs: number; twoStreamsMs?: number; boundMs: number; referenceMs?: number;
}
const rows: Row[] = [];
const step = counter(2 * CONFIGS.length);

for (const dtype of ["float16", "bfloat16"] as const) {
  for (const c of CONFIGS) {
    step(`${c.name} ${dtype}: ${c.qo}/${c.kv} + ${c.batch}@${c.decodeKv}`);
    // Decode side: batch requests of decodeKv keys on a shuffled paged cache.
    const pagesPer = c.decodeKv / PAGE, pages = c.batch * pagesPer;
    using cacheD = Tensor.random([pages, 2, PAGE, KH, D], dtype, { device, seed: 11 });
    using qD = Tensor.random([c.batch, H, D], dtype, { device, seed: 12 });
    using oD = Tensor.empty([c.batch, H, D], dtype, { device });
    const decodeTable = {
      indptr: Int32Array.from({ length: c.batch + 1 }, (_, i) => i * pagesPer), indices: shuffledPages(pages, 5),
      lastPageLen: new Int32Array(c.batch).fill(PAGE),
    };
    // Prefill side: one request, contiguous (single wrapper) and paged (batch wrappers).
    using qP = Tensor.random([c.qo, H, D], dtype, { device, seed: 13 });
    using kP = Tensor.random([c.kv, KH, D], dtype, { device, seed: 14 });
    using vP = Tensor.random([c.kv, KH, D], dtype, { device, seed: 15 });
    using oP = Tensor.empty([c.qo, H, D], dtype, { device });
    const prefillPages = Math.ceil(c.kv / PAGE);
    using cacheP = Tensor.random([prefillPages, 2, PAGE, KH, D], dtype, { device, seed: 16 });

    using decodeW = new BatchDecodeWithPagedKVCacheWrapper(workspace2, "NHD");
    decodeW.plan({ ...decodeTable, numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE, qDataType: dtype });
    using pod = new PODWithPagedKVCacheWrapper(workspace, "NHD");
    pod.plan({ ...decodeTable, numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE, qDataType: dtype });

    const runPrefill = (stream?: Stream) => singlePrefillWithKVCache(qP, kP, vP, { causal: true, out: oP, ...(stream ? { stream } : {}) });
    const runDecode = (stream?: Stream) => decodeW.run({ q: qD, pagedKvCache: cacheD, out: oD, ...(stream ? { stream } : {}) });
    const prefillMs = timeMs(device, () => runPrefill());
    const decodeMs = timeMs(device, () => runDecode());
    const serialMs = timeMs(device, () => (runPrefill(), runDecode()));
    const podMs = timeMs(device, () => pod.run({ qP, kP, vP, qD, pagedKvCacheD: cacheD, causalP: true, outP: oP, outD: oD }));
    using s1 = new Stream(device);
    using s2 = new Stream(device);
    const twoStreamsMs = timeTwoStreams(() => runPrefill(s1), () => runDecode(s2), s1, s2);

    // The practical bound: tensor-core time of the FLOPs, or copy time of the bytes, whichever is larger.
    let pairs = 0;
    for (let i = 0; i < c.qo; i++) pairs += Math.min(c.kv, c.kv - c.qo + i + 1);
    const flops = 4 * H * D * (pairs + c.batch * c.decodeKv);
    const bytes = 2 * (c.batch * c.decodeKv * KH * D * 2 + 2 * c.qo * H * D + 2 * c.kv * KH * D + 2 * c.batch * H * D);
    const boundMs = Math.max(flops / (mmaTflops * 1e12), bytes / (copyTBs * 1e12)) * 1e3;
    rows.push({ config: c.name, dtype, wrapper: "single", podMs, prefillMs, decodeMs, serialMs, twoStreamsMs, boundMs,
      ...(dtype === "float16" ? { referenceMs: c.reference } : {}) });

    // The prefill as 2 and 4 chunks of one prompt (chunked prefill): chunk i covers queries
    // [i qo/n, (i+1) qo/n) and sees the keys up to its last query; chunks share the prompt's pages.
    for (const n of [2, 4] as const) {
      const chunk = c.qo / n;
      const qoIndptr = Array.from({ length: n + 1 }, (_, i) => i * chunk);
      const kvLens = Array.from({ length: n }, (_, i) => c.kv - c.qo + (i + 1) * chunk);
      const kvIndptr = [0];
      const kvIndices: number[] = [];
      for (const len of kvLens) {
        for (let p = 0; p < Math.ceil(len / PAGE); p++) kvIndices.push(p);
        kvIndptr.push(kvIndices.length);
      }
      const lastPageLen = kvLens.map((len) => len - (Math.ceil(len / PAGE) - 1) * PAGE);
      using batchPod = new BatchPODWithPagedKVCacheWrapper(workspace, "NHD");
      batchPod.plan({ qoIndptrP: qoIndptr, kvIndptrP: kvIndptr, kvIndicesP: kvIndices, lastPageLenP: lastPageLen,
        kvIndptrD: decodeTable.indptr, kvIndicesD: decodeTable.indices, lastPageLenD: decodeTable.lastPageLen,
        numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE, causalP: true, qDataType: dtype });
      using batchPrefill = new BatchPrefillWithPagedKVCacheWrapper(workspace3, "NHD");
      batchPrefill.plan({ qoIndptr, pagedKvIndptr: kvIndptr, pagedKvIndices: kvIndices, pagedKvLastPageLen: lastPageLen, numQoHeads: H,
        numKvHeads: KH, headDim: D, pageSize: PAGE, causal: true, qDataType: dtype });
      const batchPrefillMs = timeMs(device, () => batchPrefill.run({ q: qP, pagedKvCache: cacheP, out: oP }));
      const podBatchMs = timeMs(device, () => batchPod.run({ qP, pagedKvCacheP: cacheP, qD, pagedKvCacheD: cacheD, outP: oP, outD: oD }));
      const batchSerialMs = timeMs(device, () => {
        batchPrefill.run({ q: qP, pagedKvCache: cacheP, out: oP });
        runDecode();
      });
      rows.push({ config: c.name, dtype, wrapper: n === 2 ? "batch2" : "batch4", podMs: podBatchMs, prefillMs: batchPrefillMs, decodeMs,
        serialMs: batchSerialMs, boundMs, ...(dtype === "float16" ? { referenceMs: c.reference } : {}) });
    }
  }
}

const f = (x: number, d = 3) => x.toFixed(d);
const lines: string[] = [];
lines.push(`### POD on ${device.properties.name} (pod-attention ${version()})`, "");
lines.push(`Bounds measured in the same run: copy ${f(copyTBs, 2)} TB/s, fp16 tensor-core peak ${f(mmaTflops, 0)} TFLOP/s. Times in ms (median of 30).`, "");
lines.push("| cfg | dtype | wrapper | POD | prefill | decode | serial | two streams | bound | POD/bound | serial/POD | reference | reference/POD |");
lines.push("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows)
  lines.push(`| ${r.config} | ${r.dtype} | ${r.wrapper} | ${f(r.podMs)} | ${f(r.prefillMs)} | ${f(r.decodeMs)} | ${f(r.serialMs)} | ${r.twoStreamsMs ? f(r.twoStreamsMs) : ""} | ${f(r.boundMs)} | ${f(r.podMs / r.boundMs, 2)} | ${f(r.serialMs / r.podMs, 2)} | ${r.referenceMs ?? ""} | ${r.referenceMs ? f(r.referenceMs / r.podMs, 2) : ""} |`);
const single16 = rows.filter((r) => r.dtype === "float16" && r.wrapper === "single" && r.referenceMs);
const geo = Math.exp(single16.reduce((a, r) => a + Math.log(r.referenceMs! / r.podMs), 0) / single16.length);
lines.push("", `Geometric mean of reference/POD (fp16, PODWithPagedKVCacheWrapper): ${f(geo, 2)}x`);
console.log(lines.join("\n"));
const file = writeResults(device, "pod", {
  device: device.properties.name, version: version(), date: new Date().toISOString(), runs: 30, warmup: 5,
  bounds: { copyTBs, mmaTflops }, configs: Object.fromEntries(CONFIGS.map((c) => [c.name, `${c.qo}/${c.kv} + ${c.batch}@${c.decodeKv}`])),
  rows, geomeanSpeedupVsReference: geo,
});
progress(`wrote ${file}`);
// The chart library is imported only now, after the results are on disk (see drawChart).
const chart = await drawChart(file);
if (chart) {
  if (process.env.POD_BENCH_OUT) copyFileSync(chart, join(process.env.POD_BENCH_OUT, basename(chart)));
  progress(`wrote ${chart}`);
}
