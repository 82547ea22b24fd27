/**
 * `bun bench/pod.ts`: POD (prefill and decode in one launch) against the same work done otherwise, on
 * the first CUDA device. For each configuration (32 query / 8 KV heads, head_dim 128, page 16, NHD,
 * causal prefill) and dtype: POD through PODWithPagedKVCacheWrapper (one prefill request, contiguous
 * k/v) and through BatchPODWithPagedKVCacheWrapper with the prefill split into 2 and 4 chunked
 * requests; the prefill alone; the decode alone; serial (the standalone kernels back to back); two
 * streams; and the practical bound max(FLOPs / tensor-core peak, bytes / copy bandwidth) measured in
 * the same run. GPU time (bench/gpu-time.ts: a busy GPU ahead of each call, medians of 30 after 5
 * warm-ups) and, for POD and serial, latency from an idle GPU. `peerBestMs`: a widely used library's
 * best path for the same work (its POD launch, or its warp-specialized prefill then its tensor-core
 * decode), GPU time on an NVIDIA H200 measured on 2026-12-02 (fp16 and bf16 columns); it is a fixed
 * table, since that library is not installed where this runs. Prints a markdown table and writes
 * bench/results/<gpu>-pod.json and its chart bench/results/<gpu>-pod.svg (bench/chart.ts, imported
 * after the JSON is written; where ECharts is not installed it prints how to draw the chart later
 * with `bun bench/chart.ts <results json>`); progress goes to stderr. `bun bench/pod.ts fused` (or
 * `serial`) plans the POD wrappers with that launch choice and writes <gpu>-pod-<launch>.json.
 */
import { copyFileSync } from "node:fs";
import { basename, join } from "node:path";
import {
  BatchDecodeWithPagedKVCacheWrapper,
  BatchPODWithPagedKVCacheWrapper,
  BatchPrefillWithPagedKVCacheWrapper,
  PODWithPagedKVCacheWrapper,
  singlePrefillWithKVCache,
  Stream,
  Tensor,
  version,
  type HalfDType,
  type LaunchChoice,
} from "../src/index.ts";
import { benchDevice, counter, drawChart, progress, shuffledPages, writeResults } from "./common.ts";
import { GpuTimer } from "./gpu-time.ts";

const H = 32, KH = 8, D = 128, PAGE = 16;
const CONFIGS = [
  { name: "C1", qo: 1024, kv: 1024, batch: 64, decodeKv: 4096, peer: { float16: 0.269, bfloat16: 0.27 } },
  { name: "C2", qo: 2048, kv: 2048, batch: 64, decodeKv: 4096, peer: { float16: 0.307, bfloat16: 0.306 } },
  { name: "C3", qo: 1024, kv: 8192, batch: 128, decodeKv: 4096, peer: { float16: 0.665, bfloat16: 0.648 } },
  { name: "C4", qo: 4096, kv: 4096, batch: 128, decodeKv: 4096, peer: { float16: 0.711, bfloat16: 0.693 } },
  { name: "C5", qo: 512, kv: 4096, batch: 32, decodeKv: 8192, peer: { float16: 0.328, bfloat16: 0.327 } },
  { name: "C6", qo: 2048, kv: 8192, batch: 128, decodeKv: 8192, peer: { float16: 1.286, bfloat16: 1.267 } },
  { name: "C7", qo: 256, kv: 256, batch: 256, decodeKv: 2048, peer: { float16: 0.498, bfloat16: 0.497 } },
  { name: "C8", qo: 8192, kv: 8192, batch: 16, decodeKv: 2048, peer: { float16: 0.957, bfloat16: 0.962 } },
];
const launch: LaunchChoice = (process.argv[2] as LaunchChoice | undefined) ?? "auto";
if (!["auto", "fused", "serial"].includes(launch)) throw new Error(`bench/pod.ts [auto|fused|serial]: got ${launch}`);
const PEER = "a widely used library's best path (its POD launch, or its warp-specialized prefill then its tensor-core decode), NVIDIA H200, 2026-12-02";

const { device, copyTBs, mmaTflops } = benchDevice();
// One workspace per live wrapper: a plan owns the workspace it was written into.
const workspace = Tensor.empty([256 << 20], "uint8", { device });
const workspace2 = Tensor.empty([256 << 20], "uint8", { device });
const workspace3 = Tensor.empty([256 << 20], "uint8", { device });
const timer = new GpuTimer(device);

interface Row {
  config: string; dtype: HalfDType; wrapper: "single" | "batch2" | "batch4";
  podMs: number; prefillMs: number; decodeMs: number; serialMs: number; twoStreamsMs?: number; boundMs: number; peerBestMs: number;
  podLatencyMs?: number; serialLatencyMs?: number;
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
    pod.plan({ ...decodeTable, numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE, qDataType: dtype, launch });

    const runPrefill = (stream?: Stream) => singlePrefillWithKVCache(qP, kP, vP, { causal: true, out: oP, ...(stream ? { stream } : {}) });
    const runDecode = (stream?: Stream) => decodeW.run({ q: qD, pagedKvCache: cacheD, out: oD, ...(stream ? { stream } : {}) });
    const prefillMs = timer.gpuMs(() => runPrefill());
    const decodeMs = timer.gpuMs(() => runDecode());
    const serialMs = timer.gpuMs(() => (runPrefill(), runDecode()));
    const podMs = timer.gpuMs(() => pod.run({ qP, kP, vP, qD, pagedKvCacheD: cacheD, causalP: true, outP: oP, outD: oD }));
    using s1 = new Stream(device);
    using s2 = new Stream(device);
    // The library's streams order with the default stream, where the timer's events are recorded.
    const twoStreamsMs = timer.gpuMs(() => (runPrefill(s1), runDecode(s2)));
    const podLatencyMs = timer.latencyMs(() => pod.run({ qP, kP, vP, qD, pagedKvCacheD: cacheD, causalP: true, outP: oP, outD: oD }));
    const serialLatencyMs = timer.latencyMs(() => (runPrefill(), runDecode()));

    // The practical bound: tensor-core time of the FLOPs, or copy time of the bytes, whichever is larger.
    let pairs = 0;
    for (let i = 0; i < c.qo; i++) pairs += Math.min(c.kv, c.kv - c.qo + i + 1);
    const flops = 4 * H * D * (pairs + c.batch * c.decodeKv);
    const bytes = 2 * (c.batch * c.decodeKv * KH * D * 2 + 2 * c.qo * H * D + 2 * c.kv * KH * D + 2 * c.batch * H * D);
    const boundMs = Math.max(flops / (mmaTflops * 1e12), bytes / (copyTBs * 1e12)) * 1e3;
    const peerBestMs = c.peer[dtype];
    rows.push({ config: c.name, dtype, wrapper: "single", podMs, prefillMs, decodeMs, serialMs, twoStreamsMs, boundMs, peerBestMs, podLatencyMs,
      serialLatencyMs });

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
      batchPod.plan({ launch, qoIndptrP: qoIndptr, kvIndptrP: kvIndptr, kvIndicesP: kvIndices, lastPageLenP: lastPageLen,
        kvIndptrD: decodeTable.indptr, kvIndicesD: decodeTable.indices, lastPageLenD: decodeTable.lastPageLen,
        numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE, causalP: true, qDataType: dtype });
      using batchPrefill = new BatchPrefillWithPagedKVCacheWrapper(workspace3, "NHD");
      batchPrefill.plan({ qoIndptr, pagedKvIndptr: kvIndptr, pagedKvIndices: kvIndices, pagedKvLastPageLen: lastPageLen, numQoHeads: H,
        numKvHeads: KH, headDim: D, pageSize: PAGE, causal: true, qDataType: dtype });
      const batchPrefillMs = timer.gpuMs(() => batchPrefill.run({ q: qP, pagedKvCache: cacheP, out: oP }));
      const podBatchMs = timer.gpuMs(() => batchPod.run({ qP, pagedKvCacheP: cacheP, qD, pagedKvCacheD: cacheD, outP: oP, outD: oD }));
      const batchSerialMs = timer.gpuMs(() => {
        batchPrefill.run({ q: qP, pagedKvCache: cacheP, out: oP });
        runDecode();
      });
      rows.push({ config: c.name, dtype, wrapper: n === 2 ? "batch2" : "batch4", podMs: podBatchMs, prefillMs: batchPrefillMs, decodeMs,
        serialMs: batchSerialMs, boundMs, peerBestMs });
    }
  }
}

const f = (x: number, d = 3) => x.toFixed(d);
const lines: string[] = [];
lines.push(`### POD on ${device.properties.name} (pod-attention ${version()}, POD launch: ${launch})`, "");
lines.push(`Bounds measured in the same run: copy ${f(copyTBs, 2)} TB/s, fp16 tensor-core peak ${f(mmaTflops, 0)} TFLOP/s. GPU time in ms (median of 30, busy GPU ahead of each call); latency from idle in ms. Peer: ${PEER}.`, "");
lines.push("| cfg | dtype | wrapper | POD | prefill | decode | serial | two streams | bound | POD/bound | serial/POD | peer best | peer/POD | POD latency | serial latency |");
lines.push("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows)
  lines.push(`| ${r.config} | ${r.dtype} | ${r.wrapper} | ${f(r.podMs)} | ${f(r.prefillMs)} | ${f(r.decodeMs)} | ${f(r.serialMs)} | ${r.twoStreamsMs ? f(r.twoStreamsMs) : ""} | ${f(r.boundMs)} | ${f(r.podMs / r.boundMs, 2)} | ${f(r.serialMs / r.podMs, 2)} | ${f(r.peerBestMs)} | ${f(r.peerBestMs / r.podMs, 2)} | ${r.podLatencyMs ? f(r.podLatencyMs) : ""} | ${r.serialLatencyMs ? f(r.serialLatencyMs) : ""} |`);
const geomean = (dtype: HalfDType) => {
  const single = rows.filter((r) => r.dtype === dtype && r.wrapper === "single");
  return Math.exp(single.reduce((a, r) => a + Math.log(r.peerBestMs / r.podMs), 0) / single.length);
};
const geo = { float16: geomean("float16"), bfloat16: geomean("bfloat16") };
lines.push("", `Geometric mean of peer best / POD (PODWithPagedKVCacheWrapper): fp16 ${f(geo.float16, 2)}x, bf16 ${f(geo.bfloat16, 2)}x`);
console.log(lines.join("\n"));
const file = writeResults(device, launch === "auto" ? "pod" : `pod-${launch}`, {
  device: device.properties.name, version: version(), date: new Date().toISOString(), launch, runs: 30, warmup: 5,
  bounds: { copyTBs, mmaTflops }, configs: Object.fromEntries(CONFIGS.map((c) => [c.name, `${c.qo}/${c.kv} + ${c.batch}@${c.decodeKv}`])),
  peer: PEER, rows, geomeanSpeedupVsPeerBest: geo,
});
progress(`wrote ${file}`);
// The chart library is imported only now, after the results are on disk (see drawChart).
const chart = await drawChart(file);
if (chart) {
  if (process.env.POD_BENCH_OUT) copyFileSync(chart, join(process.env.POD_BENCH_OUT, basename(chart)));
  progress(`wrote ${chart}`);
}
