import { describe, expect, test } from "bun:test";
import { alibiSlopes, applyRopeLlama, referenceAttention, type AttentionDims } from "../src/reference";
import { rng } from "./rng.ts";

function randomArray(n: number, rand: () => number): number[] {
  return Array.from({ length: n }, () => rand() * 2 - 1);
}

function randomInputs(dims: AttentionDims, seed: number) {
  const rand = rng(seed);
  const { qoLen, kvLen, numQoHeads, numKvHeads, headDim } = dims;
  return {
    q: randomArray(qoLen * numQoHeads * headDim, rand),
    k: randomArray(kvLen * numKvHeads * headDim, rand),
    v: randomArray(kvLen * numKvHeads * headDim, rand),
  };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (a === e) continue; // covers infinities
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) {
      throw new Error(`element ${i}: ${a} != ${e}`);
    }
  }
}

function buildMask(qoLen: number, kvLen: number, visible: (i: number, j: number) => boolean): boolean[] {
  const mask: boolean[] = [];
  for (let i = 0; i < qoLen; i++) for (let j = 0; j < kvLen; j++) mask.push(visible(i, j));
  return mask;
}

const dims1 = (qoLen: number, kvLen: number, headDim: number): AttentionDims => ({
  qoLen,
  kvLen,
  numQoHeads: 1,
  numKvHeads: 1,
  headDim,
});

describe("hand-checkable cases", () => {
  test("a single key returns its value, lse = its score", () => {
    const q = [1, 2];
    const k = [3, -1];
    const v = [0.25, -7];
    const { out, lse } = referenceAttention(q, k, v, dims1(1, 1, 2));
    expectClose(out, v);
    expectClose(lse, [(1 * 3 + 2 * -1) / Math.SQRT2]);
  });

  test("uniform scores average the values", () => {
    const { out, lse } = referenceAttention([0, 0], [1, 2, 3, 4, 5, 6], [1, 10, 2, 20, 6, 60], dims1(1, 3, 2));
    expectClose(out, [3, 30]);
    expectClose(lse, [Math.log(3)]);
  });

  test("lse of two equal scores is s + ln 2", () => {
    const s = 2.5;
    const { lse } = referenceAttention([1], [s, s], [0, 1], dims1(1, 2, 1), { smScale: 1 });
    expectClose(lse, [s + Math.LN2]);
  });

  test("softmax weights follow the scores", () => {
    // Scores 0 and ln 3 give weights 1/4 and 3/4.
    const { out } = referenceAttention([1], [0, Math.log(3)], [4, 8], dims1(1, 2, 1), { smScale: 1 });
    expectClose(out, [7]);
  });

  test("large scores stay finite (max subtraction)", () => {
    const { out, lse } = referenceAttention([1], [1000, 999], [1, 0], dims1(1, 2, 1), { smScale: 1 });
    expectClose(out, [1 / (1 + Math.exp(-1))]);
    expectClose(lse, [1000 + Math.log1p(Math.exp(-1))]);
  });
});

describe("masking", () => {
  const dims: AttentionDims = { qoLen: 3, kvLen: 6, numQoHeads: 2, numKvHeads: 2, headDim: 4 };
  const { q, k, v } = randomInputs(dims, 1);
  const offset = dims.kvLen - dims.qoLen;

  test("causal equals a manual mask", () => {
    const causal = referenceAttention(q, k, v, dims, { causal: true });
    const manual = referenceAttention(q, k, v, dims, {
      mask: buildMask(dims.qoLen, dims.kvLen, (i, j) => j <= offset + i),
    });
    expectClose(causal.out, manual.out);
    expectClose(causal.lse, manual.lse);
    // And it really differs from no masking for the early queries.
    const full = referenceAttention(q, k, v, dims);
    expect(Math.abs(full.lse[0]! - causal.lse[0]!)).toBeGreaterThan(1e-6);
  });

  test("windowLeft equals a manual mask", () => {
    const windowLeft = 2;
    const windowed = referenceAttention(q, k, v, dims, { causal: true, windowLeft });
    const manual = referenceAttention(q, k, v, dims, {
      mask: buildMask(dims.qoLen, dims.kvLen, (i, j) => j <= offset + i && j >= offset + i - windowLeft),
    });
    expectClose(windowed.out, manual.out);
    expectClose(windowed.lse, manual.lse);
    // windowLeft 0 with causal: each query sees only its own position.
    const own = referenceAttention(q, k, v, dims, { causal: true, windowLeft: 0 });
    const single = referenceAttention(q, k, v, dims, {
      mask: buildMask(dims.qoLen, dims.kvLen, (i, j) => j === offset + i),
    });
    expectClose(own.out, single.out);
  });

  test("numeric masks work like boolean ones", () => {
    const boolMask = buildMask(dims.qoLen, dims.kvLen, (i, j) => (i + j) % 2 === 0);
    const a = referenceAttention(q, k, v, dims, { mask: boolMask });
    const b = referenceAttention(q, k, v, dims, { mask: new Uint8Array(boolMask.map(Number)) });
    expectClose(a.out, b.out);
    expectClose(a.lse, b.lse);
  });

  test("rows with no visible key give 0 and -Infinity", () => {
    const mask = buildMask(dims.qoLen, dims.kvLen, (i) => i !== 1);
    const { out, lse } = referenceAttention(q, k, v, dims, { mask });
    const rowSize = dims.numQoHeads * dims.headDim;
    expect(Array.from(out.subarray(rowSize, 2 * rowSize))).toEqual(new Array(rowSize).fill(0));
    expect(lse[2]).toBe(-Infinity);
    expect(lse[3]).toBe(-Infinity);
    expect(Number.isFinite(lse[0]!)).toBe(true);

    const empty = referenceAttention([1, 2], [], [], dims1(1, 0, 2));
    expect(Array.from(empty.out)).toEqual([0, 0]);
    expect(Array.from(empty.lse)).toEqual([-Infinity]);
    expect(referenceAttention([], [], [], dims1(0, 0, 2), { causal: true }).out.length).toBe(0);
  });
});

describe("GQA", () => {
  test("grouping equals duplicating KV heads", () => {
    const dims: AttentionDims = { qoLen: 2, kvLen: 5, numQoHeads: 6, numKvHeads: 2, headDim: 4 };
    const { q, k, v } = randomInputs(dims, 2);
    const grouped = referenceAttention(q, k, v, dims, { causal: true });

    // Expand each KV head to the 3 query heads that share it: query head h reads kv head h / 3.
    const group = dims.numQoHeads / dims.numKvHeads;
    const expand = (x: number[]): number[] => {
      const outArr: number[] = [];
      for (let t = 0; t < dims.kvLen; t++) {
        for (let h = 0; h < dims.numQoHeads; h++) {
          const src = (t * dims.numKvHeads + Math.floor(h / group)) * dims.headDim;
          outArr.push(...x.slice(src, src + dims.headDim));
        }
      }
      return outArr;
    };
    const mha = referenceAttention(q, expand(k), expand(v), { ...dims, numKvHeads: dims.numQoHeads }, {
      causal: true,
    });
    expectClose(grouped.out, mha.out);
    expectClose(grouped.lse, mha.lse);
  });
});

describe("RoPE", () => {
  test("matches the rotation formula on a hand case", () => {
    // headDim 2: one pair, frequency theta^0 / scale = 1 / scale.
    const x = applyRopeLlama([1, 0], 1, 1, 2, () => 3, 2, 1e4);
    expectClose(x, [Math.cos(1.5), Math.sin(1.5)]);
    // headDim 4: pairs (0, 2) and (1, 3); the second pair's frequency is theta^(-1/2).
    const y = applyRopeLlama([0, 1, 0, 0], 1, 1, 4, () => 1, 1, 100);
    expectClose(y, [0, Math.cos(0.1), 0, Math.sin(0.1)]);
  });

  test("rotation preserves norms, position 0 is the identity", () => {
    const rand = rng(3);
    const tokens = 5;
    const heads = 2;
    const headDim = 8;
    const x = randomArray(tokens * heads * headDim, rand);
    const rotated = applyRopeLlama(x, tokens, heads, headDim, (t) => 17 * t, 1, 1e4);
    for (let r = 0; r < tokens * heads; r++) {
      let before = 0;
      let after = 0;
      for (let d = 0; d < headDim; d++) {
        before += x[r * headDim + d]! ** 2;
        after += rotated[r * headDim + d]! ** 2;
      }
      expect(after).toBeCloseTo(before, 12);
    }
    expectClose(applyRopeLlama(x, tokens, heads, headDim, () => 0, 1, 1e4), x);
    expect(() => applyRopeLlama([1, 2, 3], 1, 1, 3, () => 0, 1, 1e4)).toThrow();
  });

  test("scores depend only on the relative position", () => {
    const rand = rng(4);
    const headDim = 8;
    const qv = randomArray(headDim, rand);
    const kv = randomArray(headDim, rand);
    // One query at position kvLen - 1 attending to the single key at position j (via the mask):
    // its lse is exactly that score.
    const score = (kvLen: number, j: number): number => {
      const k = new Array<number[]>(kvLen).fill(kv).flat();
      const mask = buildMask(1, kvLen, (_, jj) => jj === j);
      const opts = { posEncoding: "ROPE_LLAMA" as const, mask, ropeTheta: 500 };
      return referenceAttention(qv, k, k, dims1(1, kvLen, headDim), opts).lse[0]!;
    };
    expect(score(5, 2)).toBeCloseTo(score(9, 6), 10); // distance 2
    expect(score(4, 0)).toBeCloseTo(score(7, 3), 10); // distance 3
    expect(Math.abs(score(5, 2) - score(5, 1))).toBeGreaterThan(1e-6); // distance matters
  });
});

describe("ALiBi", () => {
  test("slopes for 8 heads are 2^-1 .. 2^-8", () => {
    expect(Array.from(alibiSlopes(8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => 2 ** -i));
  });

  test("slopes for 12 heads match the standard list", () => {
    const standard = [
      0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625, 0.7071067811865476, 0.35355339059327373,
      0.17677669529663687, 0.08838834764831843,
    ];
    expectClose(alibiSlopes(12), standard, 1e-15);
    expectClose(alibiSlopes(1), [2 ** -8]);
    expect(alibiSlopes(0).length).toBe(0);
  });

  test("bias is slope * (j - pos)", () => {
    // q = 0 makes every dot product 0, so the scores are the biases alone.
    const numHeads = 2;
    const kvLen = 3;
    const q = [0, 0, 0, 0];
    const k = new Array(kvLen * numHeads * 2).fill(1);
    const v = new Array(kvLen * numHeads * 2).fill(0);
    const dims: AttentionDims = { qoLen: 1, kvLen, numQoHeads: numHeads, numKvHeads: numHeads, headDim: 2 };
    const { lse } = referenceAttention(q, k, v, dims, { posEncoding: "ALIBI" });
    const slopes = alibiSlopes(numHeads);
    for (let h = 0; h < numHeads; h++) {
      const expected = Math.log([0, 1, 2].reduce((acc, j) => acc + Math.exp(slopes[h]! * (j - 2)), 0));
      expect(lse[h]).toBeCloseTo(expected, 12);
    }
  });
});

describe("logits soft cap", () => {
  test("bounds scores by the cap and is tanh-shaped", () => {
    const cap = 5;
    const single = (s: number) =>
      referenceAttention([s], [1], [1], dims1(1, 1, 1), { smScale: 1, logitsSoftCap: cap }).lse[0]!;
    expect(single(1000)).toBeLessThanOrEqual(cap);
    expect(single(1000)).toBeGreaterThan(cap - 1e-9);
    expect(single(-1000)).toBeGreaterThanOrEqual(-cap);
    expect(single(2)).toBeCloseTo(cap * Math.tanh(2 / cap), 14);
    // Cap 0 means off.
    expect(referenceAttention([7], [1], [1], dims1(1, 1, 1), { smScale: 1, logitsSoftCap: 0 }).lse[0]).toBe(7);
  });

  test("the cap applies before the ALiBi bias", () => {
    const cap = 1;
    const { lse } = referenceAttention([100], [1, 1], [0, 0], dims1(1, 2, 1), {
      smScale: 1,
      logitsSoftCap: cap,
      posEncoding: "ALIBI",
      mask: [true, false], // key 0, one position before the query
    });
    expect(lse[0]).toBeCloseTo(cap * Math.tanh(100) - 2 ** -8, 12);
  });
});

describe("validation", () => {
  const ok = dims1(1, 1, 2);
  test("invalid dims throw", () => {
    expect(() => referenceAttention([1, 2], [1, 2], [1, 2], { ...ok, headDim: 0 })).toThrow();
    expect(() => referenceAttention([1, 2], [1, 2], [1, 2], { ...ok, kvLen: -1 })).toThrow();
    expect(() => referenceAttention([1, 2], [1, 2], [1, 2], { ...ok, qoLen: 1.5 })).toThrow();
    // 3 query heads cannot share 2 KV heads.
    const gqa = { qoLen: 1, kvLen: 1, numQoHeads: 3, numKvHeads: 2, headDim: 1 };
    expect(() => referenceAttention([1, 2, 3], [1, 2], [1, 2], gqa)).toThrow();
    // Wrong array lengths.
    expect(() => referenceAttention([1], [1, 2], [1, 2], ok)).toThrow();
    expect(() => referenceAttention([1, 2], [1, 2], [1], ok)).toThrow();
    expect(() => referenceAttention([1, 2], [1, 2], [1, 2], ok, { mask: [true, true] })).toThrow();
  });

  test("causal with more queries than keys throws", () => {
    expect(() => referenceAttention([1, 2], [1], [1], dims1(2, 1, 1), { causal: true })).toThrow();
    expect(() => referenceAttention([1, 2], [1], [1], dims1(2, 1, 1))).not.toThrow();
  });

  test("RoPE needs an even head dim", () => {
    expect(() => referenceAttention([1], [1], [1], dims1(1, 1, 1), { posEncoding: "ROPE_LLAMA" })).toThrow();
  });
});
