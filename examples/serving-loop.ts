/**
 * `bun examples/serving-loop.ts [steps]`: the attention part of an inference server's loop. Every step
 * a new prompt arrives and is prefilled while all running requests decode one token, in one POD
 * launch. Each step appends the decode tokens' keys and values to a paged KV cache, re-plans the
 * decode side for the grown lengths and runs; the prompt's keys and values then move into the cache
 * and the request decodes from the next step on. Requests finish after a fixed number of tokens and
 * give their pages back. Buffers are allocated once and reused: the workspace, the cache, and
 * per-step inputs and outputs as views of maximum-size tensors. Runs on cuda:0, else on the CPU
 * backend; at the end one request's decode output is checked against the float64 reference.
 */
import { Device, Event, PODWithPagedKVCacheWrapper, Tensor, referenceAttention } from "../src/index.ts";

const STEPS = Number(process.argv[2] ?? 12);
const H = 8, KH = 2, D = 64, PAGE = 16; // query heads, KV heads, head_dim, tokens per page
const PROMPT = [96, 40, 160, 72]; // prompt lengths, in turn
const GENERATE = 6; // tokens each request decodes before it finishes
const MAX_BATCH = 16, MAX_PROMPT = Math.max(...PROMPT), POOL_PAGES = 256;

const device = Device.best();
console.log(`serving loop on ${device}: ${STEPS} steps, ${H} query / ${KH} KV heads, head_dim ${D}, page ${PAGE}`);

// Allocated once.
using workspace = Tensor.empty([64 << 20], "uint8", { device });
using pod = new PODWithPagedKVCacheWrapper(workspace, "NHD");
using cache = Tensor.zeros([POOL_PAGES, 2, PAGE, KH, D], "float16", { device }); // [pages, k/v, slot, head, dim]
using qDAll = Tensor.empty([MAX_BATCH, H, D], "float16", { device });
using kNewAll = Tensor.empty([MAX_BATCH, KH, D], "float16", { device });
using vNewAll = Tensor.empty([MAX_BATCH, KH, D], "float16", { device });
using oDAll = Tensor.empty([MAX_BATCH, H, D], "float16", { device });
using qPAll = Tensor.empty([MAX_PROMPT, H, D], "float16", { device });
using kPAll = Tensor.empty([MAX_PROMPT, KH, D], "float16", { device });
using vPAll = Tensor.empty([MAX_PROMPT, KH, D], "float16", { device });
using oPAll = Tensor.empty([MAX_PROMPT, H, D], "float16", { device });

interface Request { id: number; pages: number[]; length: number; generated: number }
const freePages = Array.from({ length: POOL_PAGES }, (_, i) => POOL_PAGES - 1 - i);
const running: Request[] = [];

/** Writes `k`/`v` ([n, KH, D]) to the cache slots of tokens [from, from + n) of `r`, page by page. */
function storeKv(r: Request, from: number, k: Tensor, v: Tensor): void {
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

let seed = 1;
let nextId = 0;
let totalMs = 0;
const start = new Event(device), end = new Event(device);

for (let step = 0; step < STEPS; step++) {
  // Decode side: each running request appends the keys and values of its newest token.
  const batch = running.length;
  const qD = qDAll.narrow(0, 0, batch), kNew = kNewAll.narrow(0, 0, batch), vNew = vNewAll.narrow(0, 0, batch);
  qD.fillRandom(seed++), kNew.fillRandom(seed++), vNew.fillRandom(seed++);
  running.forEach((r, i) => {
    growTo(r, r.length + 1);
    storeKv(r, r.length - 1, kNew.narrow(0, i, 1), vNew.narrow(0, i, 1));
  });
  // Re-plan for this step's page tables (host arrays; plan copies them to the workspace).
  const indptr = [0], indices: number[] = [], lastPageLen: number[] = [];
  for (const r of running) {
    const used = Math.ceil(r.length / PAGE);
    indices.push(...r.pages.slice(0, used));
    indptr.push(indices.length);
    lastPageLen.push(r.length - (used - 1) * PAGE);
  }
  pod.plan({ indptr, indices, lastPageLen, numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE });

  // Prefill side: this step's new prompt, with contiguous k/v.
  const promptLen = PROMPT[step % PROMPT.length]!;
  const qP = qPAll.narrow(0, 0, promptLen), kP = kPAll.narrow(0, 0, promptLen), vP = vPAll.narrow(0, 0, promptLen);
  qP.fillRandom(seed++), kP.fillRandom(seed++), vP.fillRandom(seed++);

  // The step's attention in one launch. (CUDA graph capture of this launch is not supported yet:
  // the wrappers reject `useCudaGraph`, so every step plans and launches anew.)
  start.record();
  pod.run({ qP, kP, vP, qD, pagedKvCacheD: cache, causalP: true, outP: oPAll.narrow(0, 0, promptLen), outD: oDAll.narrow(0, 0, batch) });
  end.record();
  const ms = end.elapsedSince(start);
  totalMs += ms;
  const kvTokens = running.reduce((a, r) => a + r.length, 0);
  console.log(`step ${String(step).padStart(2)}: prefill ${String(promptLen).padStart(3)} tokens + decode ${String(batch).padStart(2)} requests ` +
    `(${String(kvTokens).padStart(4)} cached tokens, ${String(POOL_PAGES - freePages.length).padStart(3)} pages) ${ms.toFixed(3)} ms`);
  if (step === STEPS - 1 && batch > 0) checkDecode(running[0]!, qD.narrow(0, 0, 1), oDAll.narrow(0, 0, 1));

  // Requests that produced their last token leave; the new prompt joins the decode batch.
  for (const r of running) r.generated++;
  for (const r of running.filter((r) => r.generated >= GENERATE)) {
    freePages.push(...r.pages);
    running.splice(running.indexOf(r), 1);
  }
  const joined: Request = { id: nextId++, pages: [], length: 0, generated: 0 };
  growTo(joined, promptLen);
  storeKv(joined, 0, kP, vP);
  if (running.length < MAX_BATCH) running.push(joined);
  else freePages.push(...joined.pages); // no room: the request is turned away
}
start.destroy(), end.destroy();
console.log(`${STEPS} steps in ${totalMs.toFixed(3)} ms of attention`);

/** One request's decode output against the float64 reference over its cached keys and values. */
function checkDecode(r: Request, qD: Tensor, oD: Tensor): void {
  const all = cache.toFloat32Array();
  const k = new Float32Array(r.length * KH * D), v = new Float32Array(r.length * KH * D);
  for (let j = 0; j < r.length; j++) {
    const base = (r.pages[Math.floor(j / PAGE)]! * 2 * PAGE + (j % PAGE)) * KH * D;
    k.set(all.subarray(base, base + KH * D), j * KH * D);
    v.set(all.subarray(base + PAGE * KH * D, base + PAGE * KH * D + KH * D), j * KH * D);
  }
  const ref = referenceAttention(qD.toFloat32Array(), k, v, { qoLen: 1, kvLen: r.length, numQoHeads: H, numKvHeads: KH, headDim: D }).out;
  const err = oD.toFloat32Array().reduce((m, x, i) => Math.max(m, Math.abs(x - ref[i]!)), 0);
  console.log(`request ${r.id} (${r.length} tokens): max |decode output - reference| = ${err.toExponential(2)}`);
}
