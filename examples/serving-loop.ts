/**
 * `bun examples/serving-loop.ts [steps]`: the attention part of an inference server's loop, replayed
 * from a CUDA graph. Every step prefills the next chunk of the prompt at the head of the queue
 * (chunked prefill) while all running requests decode one token, in one POD launch per layer. The
 * run() calls of all layers are captured once into a graph; each step appends the new tokens' keys
 * and values to the layers' paged KV caches, re-plans both sides for the grown page tables and replays
 * the graph, which computes with the new plan. Requests finish after a fixed number of tokens and give
 * their pages back.
 *
 * The wrapper is in CUDA graph mode (`useCudaGraph` with fixed page-table buffers), which keeps the
 * shapes the graph captured: the decode batch is padded to MAX_BATCH with empty requests, and every
 * step prefills exactly CHUNK queries (a prompt's last chunk is its last CHUNK tokens, so it recomputes
 * rows the chunk before already computed). Every buffer is allocated once. Runs on cuda:0, else on the
 * CPU backend, whose graphs record the captured run() calls and replay them. The last step is checked:
 * the replay against an eager run() of the same plan, and one decode and the prefill chunk against the
 * float64 reference.
 */
import { BatchPODWithPagedKVCacheWrapper, CudaGraph, Device, Event, Stream, Tensor, referenceAttention } from "../src/index.ts";

const STEPS = Number(process.argv[2] ?? 12);
const LAYERS = 4;
const H = 8, KH = 2, D = 64, PAGE = 16; // query heads, KV heads, head_dim, tokens per page
const PROMPT = [96, 40, 160, 72]; // prompt lengths, in turn; each at least CHUNK
const CHUNK = 32; // prefill queries per step
const GENERATE = 6; // tokens each request decodes before it finishes
const MAX_BATCH = 16, POOL_PAGES = 256;

const device = Device.best();
console.log(`serving loop on ${device}: ${STEPS} steps, ${LAYERS} layers in one CUDA graph, ${H} query / ${KH} KV heads, ` +
  `head_dim ${D}, page ${PAGE}, prefill chunk ${CHUNK}, decode batch padded to ${MAX_BATCH}`);

// Allocated once. The fixed buffers receive each plan's page tables; their lengths fix the batches
// (one prefill request, MAX_BATCH decode requests) and the pages a plan may use.
using workspace = Tensor.empty([64 << 20], "uint8", { device });
const i32 = (n: number) => Tensor.zeros([n], "int32", { device });
const fixed = {
  qoIndptrBufferP: i32(2), pagedKvIndptrBufferP: i32(2), pagedKvIndicesBufferP: i32(POOL_PAGES), pagedKvLastPageLenBufferP: i32(1),
  pagedKvIndptrBufferD: i32(MAX_BATCH + 1), pagedKvIndicesBufferD: i32(POOL_PAGES), pagedKvLastPageLenBufferD: i32(MAX_BATCH),
};
using pod = new BatchPODWithPagedKVCacheWrapper(workspace, "NHD", { useCudaGraph: true, ...fixed });
using stream = new Stream(device); // graphs are captured on and launched to a stream of the library (or Stream.fromPointer)

interface Layer { cache: Tensor; qP: Tensor; qD: Tensor; oP: Tensor; oD: Tensor }
const layers: Layer[] = Array.from({ length: LAYERS }, () => ({
  cache: Tensor.zeros([POOL_PAGES, 2, PAGE, KH, D], "float16", { device }), // [pages, k/v, slot, head, dim], shared by both sides
  qP: Tensor.empty([CHUNK, H, D], "float16", { device }),
  qD: Tensor.empty([MAX_BATCH, H, D], "float16", { device }),
  oP: Tensor.empty([CHUNK, H, D], "float16", { device }),
  oD: Tensor.empty([MAX_BATCH, H, D], "float16", { device }),
}));
// New tokens' keys and values, written into the caches (a model's projections would produce them).
using kNew = Tensor.empty([Math.max(CHUNK, MAX_BATCH), KH, D], "float16", { device });
using vNew = Tensor.empty([Math.max(CHUNK, MAX_BATCH), KH, D], "float16", { device });

interface Request { id: number; promptLen: number; pages: number[]; length: number; generated: number }
const freePages = Array.from({ length: POOL_PAGES }, (_, i) => POOL_PAGES - 1 - i);
const running: Request[] = [];
let prefilling: Request | null = null;

/** Writes `k`/`v` ([n, KH, D]) to the slots of tokens [from, from + n) of `r` in `cache`, page by page. */
function storeKv(cache: Tensor, r: Request, from: number, k: Tensor, v: Tensor): void {
  for (let done = 0; done < k.shape[0]!; ) {
    const pos = from + done, slot = pos % PAGE;
    const n = Math.min(PAGE - slot, k.shape[0]! - done);
    const page = cache.select(0, r.pages[Math.floor(pos / PAGE)]!);
    page.select(0, 0).narrow(0, slot, n).copyFrom(k.narrow(0, done, n));
    page.select(0, 1).narrow(0, slot, n).copyFrom(v.narrow(0, done, n));
    done += n;
  }
}

function growTo(r: Request, length: number): void {
  while (r.pages.length * PAGE < length) {
    const page = freePages.pop();
    if (page === undefined) throw new Error("out of KV cache pages");
    r.pages.push(page);
  }
  r.length = length;
}

/** Appends one request's page table (its first `length` tokens) to indptr / indices / lastPageLen. */
function addTable(t: { indptr: number[]; indices: number[]; lastPageLen: number[] }, r: Request | undefined): void {
  const used = r ? Math.ceil(r.length / PAGE) : 0; // no request: an empty one (no pages, no keys)
  if (r) t.indices.push(...r.pages.slice(0, used));
  t.indptr.push(t.indices.length);
  t.lastPageLen.push(r ? r.length - (used - 1) * PAGE : 1);
}

/** One step's attention: every layer's POD run() on the capture stream, into the preallocated outputs. */
function runLayers(): void {
  for (const l of layers) pod.run({ qP: l.qP, pagedKvCacheP: l.cache, qD: l.qD, pagedKvCacheD: l.cache, outP: l.oP, outD: l.oD, stream });
}

let seed = 1;
let nextId = 0;
let totalMs = 0;
let graph: CudaGraph | null = null;
const start = new Event(device), end = new Event(device);

for (let step = 0; step < STEPS; step++) {
  // Decode side: each running request appends the keys and values of its newest token, in every layer.
  for (const r of running) growTo(r, r.length + 1);
  for (const l of layers) {
    l.qD.fillRandom(seed++), kNew.fillRandom(seed++), vNew.fillRandom(seed++);
    running.forEach((r, i) => storeKv(l.cache, r, r.length - 1, kNew.narrow(0, i, 1), vNew.narrow(0, i, 1)));
  }

  // Prefill side: the next CHUNK tokens of the prompt at the head of the queue (a new prompt when the
  // last one is done); the last chunk ends at the prompt's end.
  const p: Request = prefilling ??= { id: nextId, promptLen: PROMPT[nextId++ % PROMPT.length]!, pages: [], length: 0, generated: 0 };
  const done = p.length;
  const from = Math.min(done, p.promptLen - CHUNK);
  growTo(p, from + CHUNK);
  for (const l of layers) {
    l.qP.fillRandom(seed++), kNew.fillRandom(seed++), vNew.fillRandom(seed++);
    const fresh = from + CHUNK - done; // tokens not yet in the cache
    storeKv(l.cache, p, done, kNew.narrow(0, CHUNK - fresh, fresh), vNew.narrow(0, CHUNK - fresh, fresh));
  }

  // Re-plan both sides for this step's page tables (host arrays; plan writes them to the fixed buffers).
  // qDataType is given: in CUDA graph mode the first plan fixes the dtype, and run() cannot plan again
  // for queries of another one.
  const tP = { indptr: [0], indices: [] as number[], lastPageLen: [] as number[] };
  const tD = { indptr: [0], indices: [] as number[], lastPageLen: [] as number[] };
  addTable(tP, p);
  for (let i = 0; i < MAX_BATCH; i++) addTable(tD, running[i]);
  pod.plan({
    qoIndptrP: [0, CHUNK], kvIndptrP: tP.indptr, kvIndicesP: tP.indices, lastPageLenP: tP.lastPageLen,
    kvIndptrD: tD.indptr, kvIndicesD: tD.indices, lastPageLenD: tD.lastPageLen,
    numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE, qDataType: "float16", causalP: true, stream,
  });

  if (!graph) {
    // Run once before capturing (kernels load on first use, and the calls are checked), then capture.
    runLayers();
    stream.synchronize();
    graph = stream.capture(runLayers);
    console.log(`captured ${LAYERS} layers of POD run() into one graph; every step replays it after plan()`);
  }
  start.record(stream);
  graph.launch(stream); // computes with this step's plan
  end.record(stream);
  const ms = end.elapsedSince(start);
  totalMs += ms;
  const kvTokens = running.reduce((a, r) => a + r.length, 0);
  console.log(`step ${String(step).padStart(2)}: prefill tokens ${String(from).padStart(3)}..${String(from + CHUNK - 1).padStart(3)} of ` +
    `prompt ${p.id} (${String(p.promptLen).padStart(3)}) + decode ${String(running.length).padStart(2)} requests ` +
    `(${String(kvTokens).padStart(4)} keys, ${String(POOL_PAGES - freePages.length).padStart(3)} pages in use) ${ms.toFixed(3)} ms`);
  if (step === STEPS - 1) check(p, from);

  // Requests that produced their last token leave; a fully prefilled prompt joins the decode batch.
  for (const r of running) r.generated++;
  for (const r of running.filter((r) => r.generated >= GENERATE)) {
    freePages.push(...r.pages);
    running.splice(running.indexOf(r), 1);
  }
  if (p.length === p.promptLen) {
    prefilling = null;
    if (running.length < MAX_BATCH) running.push(p);
    else freePages.push(...p.pages); // no room: the request is turned away
  }
}
console.log(`${STEPS} steps in ${totalMs.toFixed(3)} ms of attention (${LAYERS} layers each)`);

graph?.destroy();
start.destroy(), end.destroy();
pod.destroy();
for (const t of Object.values(fixed)) t.destroy();
for (const l of layers) for (const t of [l.cache, l.qP, l.qD, l.oP, l.oD]) t.destroy();

/**
 * Layer 0 of the last step: the replayed outputs against an eager run() of the same plan, and the
 * first decode request and the prefill chunk against the float64 reference over their cached keys.
 */
function check(p: Request, from: number): void {
  const l = layers[0]!;
  using oP = Tensor.empty([CHUNK, H, D], "float16", { device });
  using oD = Tensor.empty([MAX_BATCH, H, D], "float16", { device });
  pod.run({ qP: l.qP, pagedKvCacheP: l.cache, qD: l.qD, pagedKvCacheD: l.cache, outP: oP, outD: oD, stream });
  stream.synchronize();
  const same = (a: Tensor, b: Tensor) => {
    const x = a.rawBytes(), y = b.rawBytes();
    return x.length === y.length && x.every((byte, i) => byte === y[i]);
  };
  console.log(`graph replay vs eager run(): ${same(l.oP, oP) && same(l.oD, oD) ? "identical" : "DIFFERENT"}`);

  const all = l.cache.toFloat32Array();
  const keys = (r: Request, n: number) => {
    const k = new Float32Array(n * KH * D), v = new Float32Array(n * KH * D);
    for (let j = 0; j < n; j++) {
      const base = (r.pages[Math.floor(j / PAGE)]! * 2 * PAGE + (j % PAGE)) * KH * D;
      k.set(all.subarray(base, base + KH * D), j * KH * D);
      v.set(all.subarray(base + PAGE * KH * D, base + PAGE * KH * D + KH * D), j * KH * D);
    }
    return { k, v };
  };
  const maxErr = (got: Float32Array, ref: Float64Array) => got.reduce((m, x, i) => Math.max(m, Math.abs(x - ref[i]!)), 0);
  const r = running[0];
  if (r) {
    const { k, v } = keys(r, r.length);
    const ref = referenceAttention(l.qD.narrow(0, 0, 1).toFloat32Array(), k, v, { qoLen: 1, kvLen: r.length, numQoHeads: H, numKvHeads: KH, headDim: D });
    console.log(`request ${r.id} (${r.length} tokens): max |decode output - reference| = ${maxErr(l.oD.narrow(0, 0, 1).toFloat32Array(), ref.out).toExponential(2)}`);
  }
  const { k, v } = keys(p, from + CHUNK);
  const ref = referenceAttention(l.qP.toFloat32Array(), k, v, { qoLen: CHUNK, kvLen: from + CHUNK, numQoHeads: H, numKvHeads: KH, headDim: D },
    { causal: true });
  console.log(`prompt ${p.id} (tokens ${from}..${from + CHUNK - 1}): max |prefill output - reference| = ${maxErr(l.oP.toFloat32Array(), ref.out).toExponential(2)}`);
}
