/**
 * A small, slow, float64 reference implementation of the attention the library computes, following
 * the semantics spelled out in cuda/pod.h (above `pod_wrapper_kind`). It is exported for users'
 * experiments and serves as the oracle in tests; it favours clarity over speed.
 */
import type { PosEncoding } from "./options.ts";

/** Position encoding: none, rotary (Llama's rotate-half) applied to q and k, or ALiBi biases. */
export type { PosEncoding };

export interface ReferenceOptions {
  /** Hide keys after the query's position. Requires qoLen <= kvLen. Default false. */
  causal?: boolean;
  /** Hide keys more than this many positions before the query; negative (default -1) is off. */
  windowLeft?: number;
  /** Default "NONE". */
  posEncoding?: PosEncoding;
  /** Scale applied to q.k; default 1/sqrt(headDim). */
  smScale?: number;
  /** RoPE position interpolation factor; default 1. */
  ropeScale?: number;
  /** RoPE base; default 1e4. */
  ropeTheta?: number;
  /** Soft cap c: score = c * tanh(score / c) when c > 0; default 0 (off). */
  logitsSoftCap?: number;
  /**
   * Dense [qoLen, kvLen] row-major mask, truthy = visible. Combined (AND) with causal and window
   * masking here; the library itself rejects a custom mask together with causal.
   */
  mask?: ArrayLike<boolean | number>;
}

/** Sizes of one request: q [qoLen, numQoHeads, headDim], k/v [kvLen, numKvHeads, headDim]. */
export interface AttentionDims {
  qoLen: number;
  kvLen: number;
  numQoHeads: number;
  numKvHeads: number;
  headDim: number;
}

export interface ReferenceResult {
  /** [qoLen, numQoHeads, headDim]; zeros for rows with no visible key. */
  out: Float64Array;
  /** [qoLen, numQoHeads], natural log; -Infinity for rows with no visible key. */
  lse: Float64Array;
}

/**
 * Standard ALiBi slopes for `numHeads` heads. With m the largest power of two <= numHeads, head
 * i < m gets 2^(-8(i+1)/m); the remaining heads take every other slope of the 2m-head sequence,
 * 2^(-4(2k+1)/m) for k = 0, 1, ...
 */
export function alibiSlopes(numHeads: number): Float64Array {
  if (!Number.isInteger(numHeads) || numHeads < 0) {
    throw new RangeError(`numHeads must be a non-negative integer, got ${numHeads}`);
  }
  const slopes = new Float64Array(numHeads);
  if (numHeads === 0) return slopes;
  // Integer loop rather than log2, which could be off by one ulp for large powers of two.
  let m = 1;
  while (m * 2 <= numHeads) m *= 2;
  for (let i = 0; i < m; i++) slopes[i] = 2 ** ((-8 * (i + 1)) / m);
  for (let k = 0; m + k < numHeads; k++) slopes[m + k] = 2 ** ((-4 * (2 * k + 1)) / m);
  return slopes;
}

/**
 * LLaMA-style (rotate-half, non-interleaved) RoPE applied to `x`, a dense [tokens, heads, headDim]
 * array. Token t is at position `positions(t)`. For d < headDim/2 the pair (x[d], x[d + headDim/2])
 * is rotated by the angle pos * ropeTheta^(-2d/headDim) / ropeScale. Returns a new array.
 */
export function applyRopeLlama(
  x: ArrayLike<number>,
  tokens: number,
  heads: number,
  headDim: number,
  positions: (t: number) => number,
  ropeScale: number,
  ropeTheta: number,
): Float64Array {
  checkCount("tokens", tokens);
  checkCount("heads", heads);
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 2 !== 0) {
    throw new RangeError(`RoPE needs a positive even headDim, got ${headDim}`);
  }
  checkLength("x", x, tokens * heads * headDim);
  const half = headDim / 2;
  // Frequencies depend only on d: compute them once.
  const freqs = new Float64Array(half);
  for (let d = 0; d < half; d++) freqs[d] = ropeTheta ** ((-2 * d) / headDim) / ropeScale;

  const out = new Float64Array(tokens * heads * headDim);
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let t = 0; t < tokens; t++) {
    const pos = positions(t);
    for (let d = 0; d < half; d++) {
      const angle = pos * freqs[d]!;
      cos[d] = Math.cos(angle);
      sin[d] = Math.sin(angle);
    }
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let d = 0; d < half; d++) {
        const a = x[base + d]!;
        const b = x[base + d + half]!;
        out[base + d] = a * cos[d]! - b * sin[d]!;
        out[base + d + half] = b * cos[d]! + a * sin[d]!;
      }
    }
  }
  return out;
}

/**
 * Reference attention for one request.
 *
 * q: [qoLen, numQoHeads, headDim], k/v: [kvLen, numKvHeads, headDim], all dense row-major.
 * Query i sits at position kvLen - qoLen + i, key j at position j. Query head h reads KV head
 * floor(h / (numQoHeads / numKvHeads)). See {@link ReferenceOptions} for masking and scoring.
 *
 * Throws on inconsistent dimensions or lengths, on numQoHeads not divisible by numKvHeads, and on
 * causal attention with qoLen > kvLen.
 */
export function referenceAttention(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dims: AttentionDims,
  options: ReferenceOptions = {},
): ReferenceResult {
  const { qoLen, kvLen, numQoHeads, numKvHeads, headDim } = dims;
  checkCount("qoLen", qoLen);
  checkCount("kvLen", kvLen);
  checkPositive("numQoHeads", numQoHeads);
  checkPositive("numKvHeads", numKvHeads);
  checkPositive("headDim", headDim);
  if (numQoHeads % numKvHeads !== 0) {
    throw new RangeError(`numQoHeads (${numQoHeads}) must be a multiple of numKvHeads (${numKvHeads})`);
  }
  checkLength("q", q, qoLen * numQoHeads * headDim);
  checkLength("k", k, kvLen * numKvHeads * headDim);
  checkLength("v", v, kvLen * numKvHeads * headDim);

  const causal = options.causal ?? false;
  const windowLeft = options.windowLeft ?? -1;
  const posEncoding = options.posEncoding ?? "NONE";
  const smScale = options.smScale ?? 1 / Math.sqrt(headDim);
  const ropeScale = options.ropeScale ?? 1;
  const ropeTheta = options.ropeTheta ?? 1e4;
  const softCap = options.logitsSoftCap ?? 0;
  const mask = options.mask;

  if (causal && qoLen > kvLen) {
    throw new RangeError(`causal attention needs qoLen <= kvLen, got ${qoLen} > ${kvLen}`);
  }
  if (!Number.isInteger(windowLeft)) throw new RangeError(`windowLeft must be an integer, got ${windowLeft}`);
  if (posEncoding !== "NONE" && posEncoding !== "ROPE_LLAMA" && posEncoding !== "ALIBI") {
    throw new RangeError(`unknown posEncoding ${String(posEncoding)}`);
  }
  if (mask !== undefined) checkLength("mask", mask, qoLen * kvLen);

  // Queries are right-aligned with the keys: the last query sits at the last key's position.
  const offset = kvLen - qoLen;

  let qs: ArrayLike<number> = q;
  let ks: ArrayLike<number> = k;
  if (posEncoding === "ROPE_LLAMA") {
    qs = applyRopeLlama(q, qoLen, numQoHeads, headDim, (i) => offset + i, ropeScale, ropeTheta);
    ks = applyRopeLlama(k, kvLen, numKvHeads, headDim, (j) => j, ropeScale, ropeTheta);
  }
  const slopes = posEncoding === "ALIBI" ? alibiSlopes(numQoHeads) : undefined;
  const group = numQoHeads / numKvHeads;

  const out = new Float64Array(qoLen * numQoHeads * headDim);
  const lse = new Float64Array(qoLen * numQoHeads);
  // Per-row scratch: scores of the visible keys and their indices.
  const scores = new Float64Array(kvLen);
  const visible = new Int32Array(kvLen);

  for (let i = 0; i < qoLen; i++) {
    const pos = offset + i;
    for (let h = 0; h < numQoHeads; h++) {
      const kvHead = Math.floor(h / group);
      const qBase = (i * numQoHeads + h) * headDim;
      const row = i * numQoHeads + h;

      let count = 0;
      let max = -Infinity;
      for (let j = 0; j < kvLen; j++) {
        if (causal && j > pos) continue;
        if (windowLeft >= 0 && j < pos - windowLeft) continue;
        if (mask !== undefined && !mask[i * kvLen + j]) continue;

        const kBase = (j * numKvHeads + kvHead) * headDim;
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += qs[qBase + d]! * ks[kBase + d]!;
        let s = smScale * dot;
        if (softCap > 0) s = softCap * Math.tanh(s / softCap);
        if (slopes !== undefined) s += slopes[h]! * (j - pos);

        scores[count] = s;
        visible[count] = j;
        count++;
        if (s > max) max = s;
      }

      if (count === 0) {
        lse[row] = -Infinity; // out stays 0
        continue;
      }
      // Subtract the max so exp cannot overflow; the largest term is exactly 1.
      let sum = 0;
      for (let c = 0; c < count; c++) {
        const w = Math.exp(scores[c]! - max);
        scores[c] = w;
        sum += w;
      }
      lse[row] = max + Math.log(sum);
      for (let c = 0; c < count; c++) {
        const w = scores[c]! / sum;
        const vBase = (visible[c]! * numKvHeads + kvHead) * headDim;
        for (let d = 0; d < headDim; d++) out[qBase + d] = out[qBase + d]! + w * v[vBase + d]!;
      }
    }
  }
  return { out, lse };
}

function checkCount(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got ${n}`);
}

function checkPositive(name: string, n: number): void {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`${name} must be a positive integer, got ${n}`);
}

function checkLength(name: string, a: ArrayLike<unknown>, expected: number): void {
  if (a.length !== expected) throw new RangeError(`${name} has ${a.length} elements, expected ${expected}`);
}
