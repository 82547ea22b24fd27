/**
 * `npm start`: plans and runs both POD wrappers on the best device present (CUDA, else the CPU
 * reference backend) and prints shapes, the largest error against the float64 reference and timing.
 */
import {
  BatchPODWithPagedKVCacheWrapper,
  Device,
  Event,
  PODWithPagedKVCacheWrapper,
  PodError,
  Tensor,
  referenceAttention,
  version,
} from "../src/index.ts";

const device = Device.best();
const props = device.properties;
console.log(`pod-attention ${version()} on ${device} (${props.name}, ${props.smCount} ${device.isCpu ? "cores" : "SMs"})`);
if (device.isCpu) console.log(`CUDA: ${Device.cudaUnavailableReason() ?? "available"}`);

const H = 8, KH = 2, D = 128, PAGE = 16;
const qoLen = 64, kvLen = 256; // prefill request
const decodeLens = [300, 77, 512, 129]; // decode requests
const rand = (n: number) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);

// Decode side: a paged cache with one [pages, 2, PAGE, KH, D] tensor.
const pages = decodeLens.map((n) => Math.ceil(n / PAGE));
const indptr = [0];
for (const p of pages) indptr.push(indptr.at(-1)! + p);
const indices = Array.from({ length: indptr.at(-1)! }, (_, i) => i);
const lastPageLen = decodeLens.map((n, i) => n - (pages[i]! - 1) * PAGE);
const cacheData = rand(indices.length * 2 * PAGE * KH * D);
const cache = Tensor.from(cacheData, [indices.length, 2, PAGE, KH, D], "float16", { device });
const qDData = rand(decodeLens.length * H * D);
const qD = Tensor.from(qDData, [decodeLens.length, H, D], "float16", { device });

const qPData = rand(qoLen * H * D), kPData = rand(kvLen * KH * D), vPData = rand(kvLen * KH * D);
const qP = Tensor.from(qPData, [qoLen, H, D], "float16", { device });
const kP = Tensor.from(kPData, [kvLen, KH, D], "float16", { device });
const vP = Tensor.from(vPData, [kvLen, KH, D], "float16", { device });
const workspace = Tensor.empty([8 << 20], "uint8", { device });

function maxError(actual: Float32Array, expected: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  return worst;
}

function timeIt(fn: () => void): number {
  fn(); // warm-up
  const runs = 5;
  const start = new Event(device), end = new Event(device);
  start.record();
  for (let i = 0; i < runs; i++) fn();
  end.record();
  const ms = end.elapsedSince(start) / runs;
  start.destroy(), end.destroy();
  return ms;
}

/** Reference outputs of the decode side, request by request. */
function decodeReference(): Float64Array {
  const out = new Float64Array(decodeLens.length * H * D);
  const f16 = cache.toFloat32Array();
  decodeLens.forEach((n, r) => {
    const k = new Float64Array(n * KH * D), v = new Float64Array(n * KH * D);
    for (let j = 0; j < n; j++) {
      const page = indices[indptr[r]! + Math.floor(j / PAGE)]!;
      const base = (page * 2 * PAGE + (j % PAGE)) * KH * D;
      k.set(f16.subarray(base, base + KH * D), j * KH * D);
      v.set(f16.subarray(base + PAGE * KH * D, base + PAGE * KH * D + KH * D), j * KH * D);
    }
    const q = qD.toFloat32Array().subarray(r * H * D, (r + 1) * H * D);
    out.set(referenceAttention(q, k, v, { qoLen: 1, kvLen: n, numQoHeads: H, numKvHeads: KH, headDim: D }).out, r * H * D);
  });
  return out;
}

/** Runs `run` once against the reference, then times it; each result frees the outputs run() allocated. */
function report(name: string, run: () => { oP: Tensor; oD: Tensor } & Disposable, prefillExpected: Float64Array) {
  try {
    using r = run();
    const errP = maxError(r.oP.toFloat32Array(), prefillExpected);
    const errD = maxError(r.oD.toFloat32Array(), decodeReference());
    const ms = timeIt(() => {
      using _ = run();
    });
    console.log(`${name}: oP [${r.oP.shape.join(", ")}] max error ${errP.toExponential(2)}, ` +
      `oD [${r.oD.shape.join(", ")}] max error ${errD.toExponential(2)}, ${ms.toFixed(3)} ms per run`);
  } catch (e) {
    if (e instanceof PodError && e.status === "NOT_IMPLEMENTED") console.log(`${name}: ${e.message}`);
    else throw e;
  }
}

const prefillExpected = referenceAttention(
  Tensor.from(qPData, [qoLen, H, D], "float16", { device: "cpu" }).toFloat32Array(),
  Tensor.from(kPData, [kvLen, KH, D], "float16", { device: "cpu" }).toFloat32Array(),
  Tensor.from(vPData, [kvLen, KH, D], "float16", { device: "cpu" }).toFloat32Array(),
  { qoLen, kvLen, numQoHeads: H, numKvHeads: KH, headDim: D },
  { causal: true },
).out;

const single = new PODWithPagedKVCacheWrapper(workspace, "NHD");
single.plan({ indptr, indices, lastPageLen, numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE });
report("PODWithPagedKVCacheWrapper", () => single.run({ qP, kP, vP, qD, pagedKvCacheD: cache, causalP: true }), prefillExpected);

// The same prefill as one request of the batch wrapper, its keys in a paged cache of its own.
const prefillPages = Math.ceil(kvLen / PAGE);
const prefillCacheData = new Float32Array(prefillPages * 2 * PAGE * KH * D);
const kF = kP.toFloat32Array(), vF = vP.toFloat32Array();
for (let j = 0; j < kvLen; j++) {
  const base = (Math.floor(j / PAGE) * 2 * PAGE + (j % PAGE)) * KH * D;
  prefillCacheData.set(kF.subarray(j * KH * D, (j + 1) * KH * D), base);
  prefillCacheData.set(vF.subarray(j * KH * D, (j + 1) * KH * D), base + PAGE * KH * D);
}
const prefillCache = Tensor.from(prefillCacheData, [prefillPages, 2, PAGE, KH, D], "float16", { device });
const batch = new BatchPODWithPagedKVCacheWrapper(workspace, "NHD");
batch.plan({
  qoIndptrP: [0, qoLen], kvIndptrP: [0, prefillPages], kvIndicesP: Array.from({ length: prefillPages }, (_, i) => i),
  lastPageLenP: [kvLen - (prefillPages - 1) * PAGE], kvIndptrD: indptr, kvIndicesD: indices, lastPageLenD: lastPageLen,
  numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE, causalP: true,
});
report("BatchPODWithPagedKVCacheWrapper", () => batch.run({ qP, pagedKvCacheP: prefillCache, qD, pagedKvCacheD: cache }), prefillExpected);
