/**
 * `bun bench/kernels.ts [peer.json]`: batch decode on the first CUDA device — 32 query / 8 KV heads,
 * head_dim 128, paged cache with shuffled pages — fp16, bf16 and fp16 queries on fp8 (e4m3, e5m2)
 * caches; page sizes 1 to 128 and the HND layout; window, soft cap, ALiBi and RoPE. Each row reports
 * GPU time (busy GPU ahead of each call, medians of 30), latency from an idle GPU (medians of 20), TB/s
 * of KV bytes read and the device copy bandwidth measured in the same run. peer.json, written by
 * `python3 bench/decode_peer.py peer.json` in the same device call, adds torch SDPA decode on a
 * contiguous cache. Writes bench/results/<gpu>-kernels.json.
 */
import { existsSync, readFileSync } from "node:fs";
import { BatchDecodeWithPagedKVCacheWrapper, Tensor, version, type HalfDType, type KvDType, type KvLayout, type PosEncoding } from "../src/index.ts";
import { benchDevice, counter, progress, shuffledPages, writeResults } from "./common.ts";
import { GpuTimer } from "./gpu-time.ts";

const QO_HEADS = 32, KV_HEADS = 8, HEAD_DIM = 128;
// A widely used library's tensor-core decode on an NVIDIA H200 (2026-12-02), fp16, page 16, GPU time.
const PEER_DECODE_MS: Record<string, number> = { "16@2048": 0.044, "64@4096": 0.249, "128@4096": 0.483, "128@8192": 0.954, "256@2048": 0.494 };
const SHAPES = [[16, 2048], [64, 4096], [128, 4096], [128, 8192], [256, 2048]] as const;

const peerFile = process.argv[2];
const peer: Record<string, { sdpaMs?: number | null; sdpaLatencyMs?: number | null; backend?: string }> =
  peerFile && existsSync(peerFile) ? JSON.parse(readFileSync(peerFile, "utf8")).rows : {};

interface Variant { dtype: HalfDType; kvDtype: KvDType; page: number; layout: KvLayout; options: string; plan: Record<string, number | string> }
interface Row {
  batch: number; kv: number; dtype: HalfDType; kvDtype: KvDType; page: number; layout: KvLayout; options: string;
  oursMs: number; latencyMs: number; tbs: number; copyTbs: number; ofCopy: number;
  peerMs?: number; torchSdpaMs?: number | null; torchSdpaLatencyMs?: number | null;
}

const variants: [readonly (readonly [number, number])[], Variant][] = [];
const plain = (dtype: HalfDType, kvDtype: KvDType): Variant => ({ dtype, kvDtype, page: 16, layout: "NHD", options: "", plan: {} });
for (const [d, kv] of [["float16", "float16"], ["bfloat16", "bfloat16"], ["float16", "float8_e4m3fn"], ["float16", "float8_e5m2"]] as const)
  variants.push([SHAPES, plain(d, kv)]);
const at128 = [[128, 4096]] as const;
for (const page of [1, 32, 128]) variants.push([at128, { ...plain("float16", "float16"), page }]);
variants.push([at128, { ...plain("float16", "float16"), layout: "HND" }]);
const options: [string, Record<string, number | string>][] = [
  ["window 1023", { windowLeft: 1023 }],
  ["soft cap 30", { logitsSoftCap: 30 }],
  ["ALiBi", { posEncodingMode: "ALIBI" satisfies PosEncoding }],
  ["RoPE", { posEncodingMode: "ROPE_LLAMA" satisfies PosEncoding }],
];
for (const [name, plan] of options) variants.push([at128, { ...plain("float16", "float16"), options: name, plan }]);

const { device, copyTBs } = benchDevice();
const timer = new GpuTimer(device);
const workspace = Tensor.empty([256 << 20], "uint8", { device });
const step = counter(variants.reduce((n, [shapes]) => n + shapes.length, 0));
const rows: Row[] = [];

for (const [shapes, v] of variants) {
  const kvBytes = v.kvDtype.startsWith("float8") ? 1 : 2;
  for (const [batch, kv] of shapes) {
    step(`decode ${v.dtype} on ${v.kvDtype} ${batch}@${kv} page ${v.page} ${v.layout} ${v.options}`);
    const pagesPer = Math.ceil(kv / v.page), pages = batch * pagesPer;
    const shape = v.layout === "NHD" ? [pages, 2, v.page, KV_HEADS, HEAD_DIM] : [pages, 2, KV_HEADS, v.page, HEAD_DIM];
    using cache = Tensor.random(shape, v.kvDtype, { device, seed: 7 });
    using q = Tensor.random([batch, QO_HEADS, HEAD_DIM], v.dtype, { device, seed: 8 });
    using out = Tensor.empty([batch, QO_HEADS, HEAD_DIM], v.dtype, { device });
    using w = new BatchDecodeWithPagedKVCacheWrapper(workspace, v.layout);
    w.plan({
      indptr: Int32Array.from({ length: batch + 1 }, (_, i) => i * pagesPer), indices: shuffledPages(pages),
      lastPageLen: new Int32Array(batch).fill(kv - (pagesPer - 1) * v.page), numQoHeads: QO_HEADS, numKvHeads: KV_HEADS,
      headDim: HEAD_DIM, pageSize: v.page, qDataType: v.dtype, kvDataType: v.kvDtype, ...v.plan,
    });
    const call = () => w.run({ q, pagedKvCache: cache, out });
    const oursMs = timer.gpuMs(call);
    const latencyMs = timer.latencyMs(call);
    // Keys read: a window of w keys reads the last w + 1 of each request.
    const keysRead = typeof v.plan.windowLeft === "number" ? Math.min(kv, v.plan.windowLeft + 1) : kv;
    const tbs = (batch * keysRead * KV_HEADS * HEAD_DIM * 2 * kvBytes) / (oursMs * 1e-3) / 1e12;
    const row: Row = { batch, kv, dtype: v.dtype, kvDtype: v.kvDtype, page: v.page, layout: v.layout, options: v.options, oursMs, latencyMs, tbs, copyTbs: copyTBs, ofCopy: tbs / copyTBs };
    const plainRow = v.page === 16 && v.layout === "NHD" && v.options === "";
    if (plainRow && v.dtype === "float16" && v.kvDtype === "float16" && PEER_DECODE_MS[`${batch}@${kv}`]) row.peerMs = PEER_DECODE_MS[`${batch}@${kv}`];
    const p = plainRow && v.kvDtype === v.dtype ? peer[`${v.dtype}:${batch}@${kv}`] : undefined;
    if (p) row.torchSdpaMs = p.sdpaMs ?? null, row.torchSdpaLatencyMs = p.sdpaLatencyMs ?? null;
    rows.push(row);
  }
}

const f = (x: number | null | undefined, d = 3) => (x == null ? "" : x.toFixed(d));
const lines = [
  `### Batch decode on ${device.properties.name} (pod-attention ${version()})`, "",
  `32 query / 8 KV heads, head_dim 128, shuffled pages. GPU time (busy GPU ahead of each call) and latency from idle, ms; KV read TB/s against the device copy bandwidth of this run (${f(copyTBs, 2)} TB/s).`, "",
  "| q / KV | batch@KV | page | layout | options | GPU ms | latency ms | KV TB/s | of copy | peer ms | peer / ours | torch SDPA ms |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.dtype} / ${r.kvDtype} | ${r.batch}@${r.kv} | ${r.page} | ${r.layout} | ${r.options} | ${f(r.oursMs)} | ${f(r.latencyMs)} | ${f(r.tbs, 2)} | ${f(r.ofCopy * 100, 0)}% | ${f(r.peerMs)} | ${r.peerMs ? f(r.peerMs / r.oursMs, 2) : ""} | ${f(r.torchSdpaMs)} |`),
];
console.log(lines.join("\n"));
const file = writeResults(device, "kernels", {
  device: device.properties.name, version: version(), date: new Date().toISOString(), runs: 30, latencyRuns: 20,
  copyTbs: copyTBs, peer: "a widely used library's tensor-core decode, NVIDIA H200, 2026-12-02", decode: rows,
});
progress(`wrote ${file}`);
