/**
 * `bun bench/paged-prefill.ts`: batch prefill on a paged cache against the same work on contiguous
 * K/V, across page sizes and both layouts (32 query / 8 KV heads, head_dim 128, causal, fp16).
 * Scenes: a ragged batch of 4 requests (3072, 1024, 2560, 1536 tokens, shuffled pages) against the
 * same requests as contiguous single prefills back to back; one 8192-token prompt as 2 and 4 chunks
 * (chunk i sees the keys up to its last query, the chunks share the prompt's pages) against the
 * 8192² single prefill. GPU time (a busy GPU ahead of each call), medians of 30.
 *
 * (The sm_90a prefill takes TMA boxes for pages of 8 or more that are powers of two and gathers rows
 * with cp.async for other page sizes.) Writes bench/results/<gpu>-paged-prefill.json: {device, date,
 * rows: [{scene, page, layout, pagedMs, contiguousMs, ratio}]}.
 */
import { BatchPrefillWithPagedKVCacheWrapper, singlePrefillWithKVCache, Tensor, version, type KvLayout } from "../src/index.ts";
import { benchDevice, counter, progress, shuffledPages, writeResults } from "./common.ts";
import { GpuTimer } from "./gpu-time.ts";

const H = 32, KH = 8, D = 128, DTYPE = "float16" as const;
const PAGES = [1, 4, 8, 16, 32, 64, 128];
const LAYOUTS: KvLayout[] = ["NHD", "HND"];
const { device } = benchDevice();
const timer = new GpuTimer(device);
const workspace = Tensor.empty([256 << 20], "uint8", { device });

/** A scene: requests (queries, keys) whose page lists are prefixes of `order` per prompt. */
interface Scene {
  name: string;
  /** [queries, keys, prompt]: requests of one prompt share its pages (chunks of one prompt). */
  requests: [number, number, number][];
  prompts: number[];
  shuffle: boolean;
  contiguous: () => number;
}

function single(qo: number, kv: number, seed: number): { call: () => void; free: () => void } {
  const q = Tensor.random([qo, H, D], DTYPE, { device, seed });
  const k = Tensor.random([kv, KH, D], DTYPE, { device, seed: seed + 1 });
  const v = Tensor.random([kv, KH, D], DTYPE, { device, seed: seed + 2 });
  const out = Tensor.empty([qo, H, D], DTYPE, { device });
  return { call: () => void singlePrefillWithKVCache(q, k, v, { causal: true, out }), free: () => [q, k, v, out].forEach((t) => t.destroy()) };
}

function contiguousOf(pairs: [number, number][]): () => number {
  return () => {
    const singles = pairs.map(([qo, kv], i) => single(qo, kv, 10 + 3 * i));
    const ms = timer.gpuMs(() => singles.forEach((s) => s.call()));
    singles.forEach((s) => s.free());
    return ms;
  };
}

const ragged = [3072, 1024, 2560, 1536];
const chunks = (n: number): [number, number, number][] => Array.from({ length: n }, (_, i) => [8192 / n, ((i + 1) * 8192) / n, 0]);
const SCENES: Scene[] = [
  { name: "ragged-4", requests: ragged.map((n, i) => [n, n, i]), prompts: ragged, shuffle: true, contiguous: contiguousOf(ragged.map((n) => [n, n])) },
  { name: "chunks-2-of-8192", requests: chunks(2), prompts: [8192], shuffle: false, contiguous: contiguousOf([[8192, 8192]]) },
  { name: "chunks-4-of-8192", requests: chunks(4), prompts: [8192], shuffle: false, contiguous: contiguousOf([[8192, 8192]]) },
];

interface Row { scene: string; page: number; layout: KvLayout; pagedMs: number; contiguousMs: number; ratio: number }
const rows: Row[] = [];
const step = counter(SCENES.length * PAGES.length * LAYOUTS.length);

for (const scene of SCENES) {
  const contiguousMs = scene.contiguous();
  const total = scene.requests.reduce((a, [qo]) => a + qo, 0);
  using q = Tensor.random([total, H, D], DTYPE, { device, seed: 6 });
  using out = Tensor.empty([total, H, D], DTYPE, { device });
  for (const page of PAGES) {
    // Each prompt's pages, in cache order or shuffled through the cache.
    const promptPages = scene.prompts.map((n) => Math.ceil(n / page));
    const count = promptPages.reduce((a, b) => a + b, 0);
    const order = scene.shuffle ? shuffledPages(count, 3) : Int32Array.from({ length: count }, (_, i) => i);
    const firstPage = promptPages.map((_, i) => promptPages.slice(0, i).reduce((a, b) => a + b, 0));
    const qoIndptr = [0], kvIndptr = [0], kvIndices: number[] = [], lastPageLen: number[] = [];
    for (const [qo, kv, prompt] of scene.requests) {
      const pages = Math.ceil(kv / page);
      for (let p = 0; p < pages; p++) kvIndices.push(order[firstPage[prompt]! + p]!);
      qoIndptr.push(qoIndptr[qoIndptr.length - 1]! + qo);
      kvIndptr.push(kvIndices.length);
      lastPageLen.push(kv - (pages - 1) * page);
    }
    for (const layout of LAYOUTS) {
      step(`${scene.name} page ${page} ${layout}`);
      const shape = layout === "NHD" ? [count, 2, page, KH, D] : [count, 2, KH, page, D];
      using cache = Tensor.random(shape, DTYPE, { device, seed: 5 });
      using w = new BatchPrefillWithPagedKVCacheWrapper(workspace, layout);
      w.plan({ qoIndptr, pagedKvIndptr: kvIndptr, pagedKvIndices: kvIndices, pagedKvLastPageLen: lastPageLen, numQoHeads: H, numKvHeads: KH,
        headDim: D, pageSize: page, causal: true, qDataType: DTYPE });
      const pagedMs = timer.gpuMs(() => void w.run({ q, pagedKvCache: cache, out }));
      rows.push({ scene: scene.name, page, layout, pagedMs, contiguousMs, ratio: pagedMs / contiguousMs });
    }
  }
}

const f = (x: number, d = 3) => x.toFixed(d);
const lines = [`### Paged prefill on ${device.properties.name} (pod-attention ${version()})`, "",
  "GPU time (busy GPU ahead of each call), ms; contiguous: the same tokens on contiguous K/V.", "",
  "| scene | page | layout | paged ms | contiguous ms | paged / contiguous |", "|---|---|---|---|---|---|"];
for (const r of rows) lines.push(`| ${r.scene} | ${r.page} | ${r.layout} | ${f(r.pagedMs)} | ${f(r.contiguousMs)} | ${f(r.ratio, 2)} |`);
console.log(lines.join("\n"));
const file = writeResults(device, "paged-prefill", { device: device.properties.name, date: new Date().toISOString().slice(0, 10), rows });
progress(`wrote ${file}`);
