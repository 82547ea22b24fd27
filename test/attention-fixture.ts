/**
 * Builds random POD problems (inputs on a device plus their float64 reference outputs) for the
 * differential tests. Inputs are rounded to their dtype on the host first, so the reference sees
 * exactly what the device sees.
 */
import {
  BatchDecodeWithPagedKVCacheWrapper,
  BatchPODWithPagedKVCacheWrapper,
  BatchPrefillWithPagedKVCacheWrapper,
  Device,
  PODWithPagedKVCacheWrapper,
  Tensor,
  referenceAttention,
  singlePrefillWithKVCache,
} from "../src/index.ts";
import type { KvLayout, PodRunResult } from "../src/pod.ts";
import type { LaunchChoice } from "../src/options.ts";
import { roundTo, type DType, type Fp8DType } from "../src/dtype.ts";
import { rng, shuffledRange } from "./rng.ts";
import type { PosEncoding, ReferenceOptions } from "../src/reference.ts";

export interface SideConfig {
  causal: boolean;
  mask: "none" | "dense" | "packed";
  windowLeft: number;
  posEncoding: PosEncoding;
  smScale?: number;
  logitsSoftCap: number;
  ropeScale?: number;
  ropeTheta?: number;
}

export interface PodConfig {
  seed: number;
  wrapper: "single" | "batch";
  dtype: "float16" | "bfloat16";
  headDim: 64 | 128 | 256;
  numKvHeads: number;
  group: number;
  layout: KvLayout;
  pageSize: number;
  decodeKvLens: number[];
  /** [qoLen, kvLen] per prefill request (single wrapper: at most one; none = no prefill side). */
  prefill: [number, number][];
  prefillOptions: SideConfig;
  decodeOptions: SideConfig;
  returnLse: boolean;
  fusedQkv: boolean;
  cachePair: boolean;
  preallocate: boolean;
  /** An fp8 KV cache (both sides' paged caches; the single wrapper's kP/vP too when fp8Prefill). */
  kvDtype?: Fp8DType;
  fp8Prefill?: boolean;
  /** Dequantization scales [q, k, v] of the prefill and decode sides. */
  scalesP?: [number, number, number];
  scalesD?: [number, number, number];
  /** The POD wrappers' plan() launch choice (default "auto"). */
  launch?: LaunchChoice;
}

/** The plan() argument of a config's launch choice (none: the default). */
const launchOf = (cfg: PodConfig) => (cfg.launch ? { launch: cfg.launch } : {});

const NO_SCALES: [number, number, number] = [1, 1, 1];

function randomValues(n: number, dtype: DType, next: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = roundTo(dtype, next() * 2 - 1);
  return out;
}

/** A paged cache holding the given requests' keys and values, pages shuffled and with spare pages. */
function buildPagedCache(kvLens: number[], cfg: PodConfig, next: () => number, device: Device) {
  const { pageSize: P, numKvHeads: KH, headDim: D } = cfg;
  const dtype = cfg.kvDtype ?? cfg.dtype;
  const pagesPer = kvLens.map((n) => Math.ceil(n / P));
  const used = pagesPer.reduce((a, b) => a + b, 0);
  const total = used + 1 + Math.floor(next() * 3);
  const order = shuffledRange(total, next);
  const indptr = [0];
  const indices: number[] = [];
  const last: number[] = [];
  kvLens.forEach((n, r) => {
    for (let p = 0; p < pagesPer[r]!; p++) indices.push(order[indices.length]!);
    indptr.push(indices.length);
    last.push(n === 0 ? 1 : n - (pagesPer[r]! - 1) * P);
  });
  const kData = randomValues(total * P * KH * D, dtype, next);
  const vData = randomValues(total * P * KH * D, dtype, next);
  // Element index of (page, slot, head, d) in a [pages, ...] cache of the configured layout.
  const at = (page: number, slot: number, h: number, d: number) =>
    cfg.layout === "NHD" ? ((page * P + slot) * KH + h) * D + d : ((page * KH + h) * P + slot) * D + d;
  const inner = cfg.layout === "NHD" ? [P, KH, D] : [KH, P, D];
  let cache: Tensor | [Tensor, Tensor];
  if (cfg.cachePair) {
    cache = [Tensor.from(kData, [total, ...inner], dtype, { device }), Tensor.from(vData, [total, ...inner], dtype, { device })];
  } else {
    const per = P * KH * D;
    const both = new Float64Array(total * 2 * per);
    for (let p = 0; p < total; p++) {
      both.set(kData.subarray(p * per, (p + 1) * per), (2 * p) * per);
      both.set(vData.subarray(p * per, (p + 1) * per), (2 * p + 1) * per);
    }
    cache = Tensor.from(both, [total, 2, ...inner], dtype, { device });
  }
  /** Request r's keys and values as dense [kvLen, KH, D]. */
  const dense = (r: number): [Float64Array, Float64Array] => {
    const n = kvLens[r]!;
    const k = new Float64Array(n * KH * D);
    const v = new Float64Array(n * KH * D);
    for (let j = 0; j < n; j++) {
      const page = indices[indptr[r]! + Math.floor(j / P)]!;
      for (let h = 0; h < KH; h++)
        for (let d = 0; d < D; d++) {
          k[(j * KH + h) * D + d] = kData[at(page, j % P, h, d)]!;
          v[(j * KH + h) * D + d] = vData[at(page, j % P, h, d)]!;
        }
    }
    return [k, v];
  };
  return { cache, indptr, indices, last, dense };
}

function refOptions(o: SideConfig, headDim: number, scales: [number, number, number], mask?: Uint8Array): ReferenceOptions {
  const r: ReferenceOptions = { causal: o.causal, windowLeft: o.windowLeft, posEncoding: o.posEncoding, logitsSoftCap: o.logitsSoftCap };
  r.smScale = (o.smScale ?? 1 / Math.sqrt(headDim)) * scales[0] * scales[1];
  if (o.ropeScale !== undefined) r.ropeScale = o.ropeScale;
  if (o.ropeTheta !== undefined) r.ropeTheta = o.ropeTheta;
  if (mask) r.mask = mask;
  return r;
}

/** Options of one side with the wrapper's suffix (P or D, or none for the single wrapper's plan). */
function apiOptions(o: SideConfig, suffix: string, withCausal: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { [`posEncodingMode${suffix}`]: o.posEncoding, [`windowLeft${suffix}`]: o.windowLeft };
  if (withCausal) out[`causal${suffix}`] = o.causal;
  if (o.logitsSoftCap > 0) out[`logitsSoftCap${suffix}`] = o.logitsSoftCap;
  if (o.smScale !== undefined) out[`smScale${suffix}`] = o.smScale;
  if (o.ropeScale !== undefined) out[`ropeScale${suffix}`] = o.ropeScale;
  if (o.ropeTheta !== undefined) out[`ropeTheta${suffix}`] = o.ropeTheta;
  return out;
}

/** The run() scale arguments of a side (suffix P or D), or the standalone wrappers' (no suffix). */
function apiScales(scales: [number, number, number] | undefined, suffix: string): Record<string, number> {
  if (!scales) return {};
  return { [`qScale${suffix}`]: scales[0], [`kScale${suffix}`]: scales[1], [`vScale${suffix}`]: scales[2] };
}

/** The reference output of a side times its v scale. */
function scaled(out: Float64Array, scales: [number, number, number]): Float64Array {
  return scales[2] === 1 ? out : out.map((x) => x * scales[2]);
}

function packBits(bits: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => {
    if (b) out[i >> 3]! |= 1 << (i & 7);
  });
  return out;
}

export interface PodCase {
  result: PodRunResult;
  /** Expected outputs, [tokens, H, D] and [tokens, H]. */
  expected: { oP?: Float64Array; lseP?: Float64Array; oD?: Float64Array; lseD?: Float64Array };
  dispose(): void;
}

/**
 * Which API runs a configuration: the POD wrapper of cfg.wrapper (both sides in one call), or the
 * standalone kernels (BatchDecode for the decode side; singlePrefill or BatchPrefill for the prefill).
 */
export type AttentionApi = "pod" | "standalone";

/** Plans and runs one configuration on `device` and computes the reference. */
export function runPodCase(cfg: PodConfig, device: Device, withReference = true, api: AttentionApi = "pod"): PodCase {
  const next = rng(cfg.seed);
  const { dtype, headDim: D, numKvHeads: KH } = cfg;
  const H = KH * cfg.group;
  const owned: { destroy(): void }[] = [];
  const keep = <T extends { destroy(): void }>(t: T): T => (owned.push(t), t);
  const expected: PodCase["expected"] = {};
  const ws = keep(Tensor.empty([8 << 20], "uint8", { device }));

  // Decode side.
  const dec = buildPagedCache(cfg.decodeKvLens, cfg, next, device);
  for (const t of [dec.cache].flat()) keep(t);
  const B = cfg.decodeKvLens.length;
  const qDData = randomValues(B * H * D, dtype, next);
  const qD = B > 0 || next() < 0.5 ? keep(Tensor.from(qDData, [B, H, D], dtype, { device })) : null;
  expected.oD = new Float64Array(B * H * D);
  expected.lseD = new Float64Array(B * H);
  for (let r = 0; r < B && withReference; r++) {
    const [k, v] = dec.dense(r);
    const sc = cfg.scalesD ?? NO_SCALES;
    const ref = referenceAttention(qDData.subarray(r * H * D, (r + 1) * H * D), k, v,
      { qoLen: 1, kvLen: cfg.decodeKvLens[r]!, numQoHeads: H, numKvHeads: KH, headDim: D }, refOptions(cfg.decodeOptions, D, sc));
    expected.oD.set(scaled(ref.out, sc), r * H * D);
    expected.lseD.set(ref.lse, r * H);
  }

  // Prefill side: dense inputs per request, then device tensors in the wrapper's form.
  const reqs = cfg.prefill;
  const tokens = reqs.reduce((a, [qo]) => a + qo, 0);
  const qPData = randomValues(tokens * H * D, dtype, next);
  const masks = reqs.map(([qo, kv]) => Uint8Array.from({ length: qo * kv }, () => (next() < 0.75 ? 1 : 0)));
  expected.oP = new Float64Array(tokens * H * D);
  expected.lseP = new Float64Array(tokens * H);
  let maskTensor: Tensor | undefined;
  if (cfg.prefillOptions.mask !== "none" && reqs.length > 0) {
    const flat = cfg.prefillOptions.mask === "dense" ? masks : masks.map(packBits);
    const bytes = new Uint8Array(flat.reduce((a, m) => a + m.length, 0));
    let o = 0;
    for (const m of flat) bytes.set(m, (o += m.length) - m.length);
    const shape = cfg.wrapper === "single" && cfg.prefillOptions.mask === "dense" ? [reqs[0]![0], reqs[0]![1]] : [bytes.length];
    maskTensor = keep(Tensor.from(bytes, shape, cfg.prefillOptions.mask === "dense" ? "bool" : "uint8", { device }));
  }
  const prefillRef = (r: number, k: Float64Array, v: Float64Array, qStart: number) => {
    if (!withReference) return;
    const [qo, kv] = reqs[r]!;
    const sc = cfg.scalesP ?? NO_SCALES;
    const ref = referenceAttention(qPData.subarray(qStart * H * D, (qStart + qo) * H * D), k, v,
      { qoLen: qo, kvLen: kv, numQoHeads: H, numKvHeads: KH, headDim: D },
      refOptions(cfg.prefillOptions, D, sc, cfg.prefillOptions.mask === "none" ? undefined : masks[r]));
    expected.oP!.set(scaled(ref.out, sc), qStart * H * D);
    expected.lseP!.set(ref.lse, qStart * H);
  };

  let result: PodRunResult;
  const kvType = cfg.kvDtype ? { kvDataType: cfg.kvDtype } : {};
  const runScales = { ...apiScales(cfg.scalesP, "P"), ...apiScales(cfg.scalesD, "D") };
  // The standalone decode kernel on the same page table; its own workspace.
  const runDecodeStandalone = (q: Tensor | null): { out: Tensor; lse?: Tensor } | undefined => {
    if (!q) return undefined;
    const dw = keep(new BatchDecodeWithPagedKVCacheWrapper(keep(Tensor.empty([8 << 20], "uint8", { device })), cfg.layout));
    dw.plan({ indptr: dec.indptr, indices: dec.indices, lastPageLen: dec.last, numQoHeads: H, numKvHeads: KH, headDim: D,
      pageSize: cfg.pageSize, qDataType: dtype, ...kvType, ...apiOptions(cfg.decodeOptions, "", false) } as never);
    const run: Record<string, unknown> = { q, pagedKvCache: dec.cache, returnLse: cfg.returnLse, ...apiScales(cfg.scalesD, "") };
    if (cfg.preallocate) run.out = keep(Tensor.empty(q.shape, dtype, { device }));
    return dw.run(run as never);
  };
  const combine = (p?: { out: Tensor; lse?: Tensor }, d?: { out: Tensor; lse?: Tensor }): PodRunResult => {
    const r: PodRunResult = { launch: p && d ? "serial" : "one-side" };
    if (p) r.oP = p.out;
    if (d) r.oD = d.out;
    if (p?.lse) r.lseP = p.lse;
    if (d?.lse) r.lseD = d.lse;
    return r;
  };
  const outputs = (qP: Tensor | null, qDt: Tensor | null) => {
    const o: Record<string, unknown> = { returnLseP: cfg.returnLse, returnLseD: cfg.returnLse };
    if (cfg.preallocate) {
      if (qP) o.outP = keep(Tensor.empty(qP.shape, dtype, { device }));
      if (qDt) o.outD = keep(Tensor.empty(qDt.shape, dtype, { device }));
    }
    return o;
  };
  if (cfg.wrapper === "single") {
    const w = keep(new PODWithPagedKVCacheWrapper(ws, cfg.layout));
    w.plan({ indptr: dec.indptr, indices: dec.indices, lastPageLen: dec.last, numQoHeads: H, numKvHeads: KH, headDim: D,
      pageSize: cfg.pageSize, qDataType: dtype, ...kvType, ...launchOf(cfg), ...apiOptions(cfg.decodeOptions, "", false) } as never);
    let qP: Tensor | null = null, kP: Tensor | null = null, vP: Tensor | null = null;
    if (reqs.length === 1) {
      const [qo, kv] = reqs[0]!;
      const kvDtype: DType = cfg.fp8Prefill && cfg.kvDtype ? cfg.kvDtype : dtype;
      const k = randomValues(kv * KH * D, kvDtype, next);
      const v = randomValues(kv * KH * D, kvDtype, next);
      prefillRef(0, k, v, 0);
      if (cfg.fusedQkv && cfg.layout === "NHD" && qo === kv && kvDtype === dtype) {
        // q, k and v as head slices of one fused [tokens, H + 2 KH, D] projection, read in place.
        const W = H + 2 * KH;
        const fused = new Float64Array(qo * W * D);
        for (let t = 0; t < qo; t++) {
          fused.set(qPData.subarray(t * H * D, (t + 1) * H * D), t * W * D);
          fused.set(k.subarray(t * KH * D, (t + 1) * KH * D), (t * W + H) * D);
          fused.set(v.subarray(t * KH * D, (t + 1) * KH * D), (t * W + H + KH) * D);
        }
        const f = keep(Tensor.from(fused, [qo, W, D], dtype, { device }));
        [qP, kP, vP] = [f.narrow(1, 0, H), f.narrow(1, H, KH), f.narrow(1, H + KH, KH)];
      } else {
        qP = keep(Tensor.from(qPData, [qo, H, D], dtype, { device }));
        const toLayout = (x: Float64Array) => {
          const t = keep(Tensor.from(x, [kv, KH, D], kvDtype, { device }));
          return cfg.layout === "NHD" ? t : keep(Tensor.from(t.permute([1, 0, 2]).toFloat32Array(), [KH, kv, D], kvDtype, { device }));
        };
        [kP, vP] = [toLayout(k), toLayout(v)];
      }
    }
    if (api === "standalone") {
      const decoded = runDecodeStandalone(qD);
      let prefilled: { out: Tensor; lse?: Tensor } | undefined;
      if (qP) {
        const opts: Record<string, unknown> = { ...apiOptions(cfg.prefillOptions, "", true), kvLayout: cfg.layout, returnLse: cfg.returnLse,
          ...apiScales(cfg.scalesP, "") };
        if (cfg.preallocate) opts.out = keep(Tensor.empty(qP.shape, dtype, { device }));
        if (maskTensor) opts[cfg.prefillOptions.mask === "dense" ? "customMask" : "packedCustomMask"] = maskTensor;
        prefilled = singlePrefillWithKVCache(qP, kP!, vP!, opts as never);
      }
      result = combine(prefilled, decoded);
    } else {
      const run: Record<string, unknown> = { qP, kP, vP, qD, pagedKvCacheD: dec.cache, ...apiOptions(cfg.prefillOptions, "P", true), ...outputs(qP, qD),
        ...runScales };
      if (maskTensor) run[cfg.prefillOptions.mask === "dense" ? "customMaskP" : "packedCustomMaskP"] = maskTensor;
      result = w.run(run as never);
    }
  } else {
    const pre = buildPagedCache(reqs.map(([, kv]) => kv), cfg, next, device);
    for (const t of [pre.cache].flat()) keep(t);
    let q0 = 0;
    reqs.forEach(([qo], r) => {
      if (withReference) {
        const [k, v] = pre.dense(r);
        prefillRef(r, k, v, q0);
      }
      q0 += qo;
    });
    const qoIndptr = [0];
    for (const [qo] of reqs) qoIndptr.push(qoIndptr[qoIndptr.length - 1]! + qo);
    const w = keep(new BatchPODWithPagedKVCacheWrapper(ws, cfg.layout));
    w.plan({ qoIndptrP: qoIndptr, kvIndptrP: pre.indptr, kvIndicesP: pre.indices, lastPageLenP: pre.last, kvIndptrD: dec.indptr,
      kvIndicesD: dec.indices, lastPageLenD: dec.last, numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: cfg.pageSize,
      qDataType: dtype, ...kvType, ...launchOf(cfg), ...apiOptions(cfg.prefillOptions, "P", true), ...apiOptions(cfg.decodeOptions, "D", false) } as never);
    const qP = reqs.length > 0 ? keep(Tensor.from(qPData, [tokens, H, D], dtype, { device })) : null;
    if (api === "standalone") {
      const decoded = runDecodeStandalone(qD);
      let prefilled: { out: Tensor; lse?: Tensor } | undefined;
      if (qP) {
        const bw = keep(new BatchPrefillWithPagedKVCacheWrapper(keep(Tensor.empty([8 << 20], "uint8", { device })), cfg.layout));
        bw.plan({ qoIndptr, pagedKvIndptr: pre.indptr, pagedKvIndices: pre.indices, pagedKvLastPageLen: pre.last, numQoHeads: H,
          numKvHeads: KH, headDim: D, pageSize: cfg.pageSize, qDataType: dtype, ...kvType, ...apiOptions(cfg.prefillOptions, "", true) } as never);
        const run: Record<string, unknown> = { q: qP, pagedKvCache: pre.cache, returnLse: cfg.returnLse, ...apiScales(cfg.scalesP, "") };
        if (cfg.preallocate) run.out = keep(Tensor.empty(qP.shape, dtype, { device }));
        if (maskTensor) run[cfg.prefillOptions.mask === "dense" ? "customMask" : "packedCustomMask"] = maskTensor;
        prefilled = bw.run(run as never);
      }
      result = combine(prefilled, decoded);
    } else {
      const run: Record<string, unknown> = { qP, pagedKvCacheP: reqs.length > 0 ? pre.cache : null, qD, pagedKvCacheD: dec.cache, ...outputs(qP, qD),
        ...runScales };
      if (maskTensor) run[cfg.prefillOptions.mask === "dense" ? "customMaskP" : "packedCustomMaskP"] = maskTensor;
      result = w.run(run as never);
    }
  }
  for (const t of [result.oP, result.oD, result.lseP, result.lseD]) if (t) owned.push(t);
  return { result, expected, dispose: () => owned.reverse().forEach((t) => t.destroy()) };
}

/** Largest |actual - expected| relative to a tolerance (> 1 fails); -inf must match -inf exactly. */
export function worstError(actual: Float32Array, expected: Float64Array, atol: number, rtol: number): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (e === -Infinity || a === -Infinity) {
      if (a !== e) return Infinity;
      continue;
    }
    if (!Number.isFinite(a)) return Infinity;
    worst = Math.max(worst, Math.abs(a - e) / (atol + rtol * Math.abs(e)));
  }
  return worst;
}

/** Output tolerances per dtype: the output is rounded once to the dtype, plus fp32 accumulation. */
export const TOLERANCE = { float16: { atol: 2e-3, rtol: 4e-3 }, bfloat16: { atol: 8e-3, rtol: 1.6e-2 }, lse: { atol: 2e-4, rtol: 2e-4 } };

/** Output tolerances grow with the v scales (outputs are multiplied by them). */
function scaleTolerance(t: { atol: number; rtol: number }, cfg: PodConfig): { atol: number; rtol: number } {
  const v = Math.max(1, (cfg.scalesP ?? NO_SCALES)[2], (cfg.scalesD ?? NO_SCALES)[2]);
  return { atol: t.atol * v, rtol: t.rtol };
}

/** Runs a configuration and throws, naming the output and the configuration, if any output misses the reference. */
export function checkConfig(cfg: PodConfig, dev: Device, api: AttentionApi = "pod"): void {
  const c = runPodCase(cfg, dev, true, api);
  try {
    const tol = scaleTolerance(TOLERANCE[cfg.dtype], cfg);
    const sides = [
      ["P", c.result.oP, c.result.lseP, c.expected.oP, c.expected.lseP],
      ["D", c.result.oD, c.result.lseD, c.expected.oD, c.expected.lseD],
    ] as const;
    for (const [side, o, lse, expectedO, expectedLse] of sides) {
      if (!o) continue;
      const err = worstError(o.toFloat32Array(), expectedO!, tol.atol, tol.rtol);
      if (!(err <= 1)) throw new Error(`o${side}: error ${err.toFixed(2)}x tolerance for ${JSON.stringify(cfg)}`);
      if (cfg.returnLse) {
        if (!lse) throw new Error(`lse${side} missing for ${JSON.stringify(cfg)}`);
        const lerr = worstError(lse.toFloat32Array(), expectedLse!, TOLERANCE.lse.atol, TOLERANCE.lse.rtol);
        if (!(lerr <= 1)) throw new Error(`lse${side}: error ${lerr.toFixed(2)}x tolerance for ${JSON.stringify(cfg)}`);
      } else if (lse) {
        throw new Error(`lse${side} returned without returnLse`);
      }
    }
  } finally {
    c.dispose();
  }
}


/**
 * GPU vs CPU backend tolerances. The GPU rounds the softmax weights to the input dtype before P·V
 * (and RoPE-rotated q/k to the dtype in shared memory), so it sits a little further from the CPU
 * backend than the output rounding alone.
 */
export const GPU_TOLERANCE = {
  float16: { atol: 4e-3, rtol: 1e-2 },
  bfloat16: { atol: 2.4e-2, rtol: 4e-2 },
  lse: { atol: 2e-3, rtol: 2e-3 },
  ropeLse: { atol: 3e-2, rtol: 1e-2 },
};

/** Runs a configuration on `gpu` and on the CPU backend and throws if any output differs beyond GPU_TOLERANCE. */
export function checkGpuAgainstCpu(cfg: PodConfig, gpu: Device, api: AttentionApi = "pod"): void {
  const a = runPodCase(cfg, gpu, false, api);
  const b = runPodCase(cfg, Device.cpu(), false, api);
  try {
    const tol = scaleTolerance(GPU_TOLERANCE[cfg.dtype], cfg);
    const pairs = [
      ["oP", a.result.oP, b.result.oP, tol, false],
      ["oD", a.result.oD, b.result.oD, tol, false],
      ["lseP", a.result.lseP, b.result.lseP, cfg.prefillOptions.posEncoding === "ROPE_LLAMA" ? GPU_TOLERANCE.ropeLse : GPU_TOLERANCE.lse, true],
      ["lseD", a.result.lseD, b.result.lseD, cfg.decodeOptions.posEncoding === "ROPE_LLAMA" ? GPU_TOLERANCE.ropeLse : GPU_TOLERANCE.lse, true],
    ] as const;
    for (const [name, x, y, t] of pairs) {
      if (!x && !y) continue;
      if (!x || !y) throw new Error(`${name}: present on one device only for ${JSON.stringify(cfg)}`);
      const xs = x.toFloat32Array(), ys = Float64Array.from(y.toFloat32Array());
      const err = worstError(xs, ys, t.atol, t.rtol);
      if (!(err <= 1)) {
        let at = 0;
        for (let i = 0; i < xs.length; i++) if (!(Math.abs(xs[i]! - ys[i]!) <= Math.abs(xs[at]! - ys[at]!))) at = i;
        throw new Error(`${name}: GPU vs CPU error ${err.toFixed(2)}x tolerance (element ${at} of [${x.shape.join(", ")}]: ` +
          `GPU ${xs[at]}, CPU ${ys[at]}) for ${JSON.stringify(cfg)}`);
      }
    }
  } finally {
    a.dispose();
    b.dispose();
  }
}
