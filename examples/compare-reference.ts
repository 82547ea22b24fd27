/**
 * `bun examples/compare-reference.ts [scale]`: an accuracy experiment. For each dtype and a few
 * attention variants (plain causal, sliding window, ALiBi, RoPE, soft cap), runs
 * PODWithPagedKVCacheWrapper on the best device and compares both sides against the float64
 * `referenceAttention`, which sees exactly the inputs the device sees (rounded to the dtype). Prints
 * the largest and mean absolute error of the outputs, the largest error relative to the output's
 * scale, and the largest LSE error. With a CUDA device present the CPU backend is measured too.
 * `scale` (default 1) multiplies the problem size.
 */
import { Device, PODWithPagedKVCacheWrapper, Tensor, referenceAttention, type HalfDType, type ReferenceOptions } from "../src/index.ts";

const SCALE = Number(process.argv[2] ?? 1);
const H = 8, KH = 2, D = 128, PAGE = 16;
const QO = 64 * SCALE, KV = 192 * SCALE; // prefill: the last QO of KV tokens
const DECODE = [37, 150, 16, 201].map((n) => n * SCALE); // decode requests' KV lengths

const VARIANTS: { name: string; prefill: ReferenceOptions & { causal: boolean }; decode: ReferenceOptions }[] = [
  { name: "causal", prefill: { causal: true }, decode: {} },
  { name: "window 48", prefill: { causal: true, windowLeft: 48 }, decode: { windowLeft: 48 } },
  { name: "ALiBi", prefill: { causal: true, posEncoding: "ALIBI" }, decode: { posEncoding: "ALIBI" } },
  { name: "RoPE", prefill: { causal: true, posEncoding: "ROPE_LLAMA" }, decode: { posEncoding: "ROPE_LLAMA" } },
  { name: "soft cap 30", prefill: { causal: true, logitsSoftCap: 30 }, decode: { logitsSoftCap: 30 } },
];

interface Stats { maxAbs: number; meanAbs: number; maxRel: number; maxLse: number }

function compare(out: Float32Array, ref: Float64Array, lse: Float32Array, refLse: Float64Array): Stats {
  let maxAbs = 0, sumAbs = 0, scale = 0, maxLse = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(out[i]! - ref[i]!);
    maxAbs = Math.max(maxAbs, e);
    sumAbs += e;
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  for (let i = 0; i < refLse.length; i++) maxLse = Math.max(maxLse, Math.abs(lse[i]! - refLse[i]!));
  return { maxAbs, meanAbs: sumAbs / ref.length, maxRel: maxAbs / scale, maxLse };
}

/** Inputs of one run, made on the host (deterministic) and rounded to the dtype by Tensor.from. */
function inputs(dtype: HalfDType, device: Device) {
  let s = 12345;
  const rand = (n: number) => Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1);
  const pages = DECODE.map((n) => Math.ceil(n / PAGE));
  const indptr = [0];
  for (const p of pages) indptr.push(indptr.at(-1)! + p);
  const total = indptr.at(-1)!;
  const indices = Array.from({ length: total }, (_, i) => total - 1 - i); // pages in reverse order
  return {
    qP: Tensor.from(rand(QO * H * D), [QO, H, D], dtype, { device }),
    kP: Tensor.from(rand(KV * KH * D), [KV, KH, D], dtype, { device }),
    vP: Tensor.from(rand(KV * KH * D), [KV, KH, D], dtype, { device }),
    qD: Tensor.from(rand(DECODE.length * H * D), [DECODE.length, H, D], dtype, { device }),
    cache: Tensor.from(rand(total * 2 * PAGE * KH * D), [total, 2, PAGE, KH, D], dtype, { device }),
    indptr, indices, lastPageLen: DECODE.map((n, i) => n - (pages[i]! - 1) * PAGE),
  };
}

function run(device: Device): void {
  console.log(`\n${device} (${device.properties.name}); prefill ${QO}/${KV}, decode ${DECODE.join(", ")}; ${H}/${KH} heads, head_dim ${D}`);
  console.log("| dtype | variant | side | max abs | mean abs | max abs / largest ref | max LSE abs |");
  console.log("|---|---|---|---|---|---|---|");
  using workspace = Tensor.empty([32 << 20], "uint8", { device });
  for (const dtype of ["float16", "bfloat16"] as const) {
    const x = inputs(dtype, device);
    const host = { qP: x.qP.toFloat32Array(), kP: x.kP.toFloat32Array(), vP: x.vP.toFloat32Array(), qD: x.qD.toFloat32Array(), cache: x.cache.toFloat32Array() };
    for (const v of VARIANTS) {
      using pod = new PODWithPagedKVCacheWrapper(workspace, "NHD");
      // Decode options belong to plan() (suffix D), prefill options to run() (suffix P); an option left
      // undefined counts as not given.
      pod.plan({ indptr: x.indptr, indices: x.indices, lastPageLen: x.lastPageLen, numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE,
        qDataType: dtype, posEncodingModeD: v.decode.posEncoding, windowLeftD: v.decode.windowLeft, logitsSoftCapD: v.decode.logitsSoftCap });
      using r = pod.run({ qP: x.qP, kP: x.kP, vP: x.vP, qD: x.qD, pagedKvCacheD: x.cache, causalP: true, returnLse: true,
        posEncodingModeP: v.prefill.posEncoding, windowLeftP: v.prefill.windowLeft, logitsSoftCapP: v.prefill.logitsSoftCap });

      const refP = referenceAttention(host.qP, host.kP, host.vP, { qoLen: QO, kvLen: KV, numQoHeads: H, numKvHeads: KH, headDim: D }, v.prefill);
      // Decode: gather each request's keys and values from its pages, then one reference call per request.
      const refOut = new Float64Array(DECODE.length * H * D), refLse = new Float64Array(DECODE.length * H);
      DECODE.forEach((n, b) => {
        const k = new Float32Array(n * KH * D), vv = new Float32Array(n * KH * D);
        for (let j = 0; j < n; j++) {
          const base = (x.indices[x.indptr[b]! + Math.floor(j / PAGE)]! * 2 * PAGE + (j % PAGE)) * KH * D;
          k.set(host.cache.subarray(base, base + KH * D), j * KH * D);
          vv.set(host.cache.subarray(base + PAGE * KH * D, base + (PAGE + 1) * KH * D), j * KH * D);
        }
        const ref = referenceAttention(host.qD.subarray(b * H * D, (b + 1) * H * D), k, vv, { qoLen: 1, kvLen: n, numQoHeads: H, numKvHeads: KH, headDim: D }, v.decode);
        refOut.set(ref.out, b * H * D);
        refLse.set(ref.lse, b * H);
      });
      const sides = [
        ["prefill", compare(r.oP.toFloat32Array(), refP.out, r.lseP.toFloat32Array(), refP.lse)],
        ["decode", compare(r.oD.toFloat32Array(), refOut, r.lseD.toFloat32Array(), refLse)],
      ] as const;
      for (const [side, s] of sides)
        console.log(`| ${dtype} | ${v.name} | ${side} | ${s.maxAbs.toExponential(2)} | ${s.meanAbs.toExponential(2)} | ${s.maxRel.toExponential(2)} | ${s.maxLse.toExponential(2)} |`);
    }
    for (const t of [x.qP, x.kP, x.vP, x.qD, x.cache]) t.destroy();
  }
}

const best = Device.best();
run(best);
if (!best.isCpu) run(Device.cpu());
