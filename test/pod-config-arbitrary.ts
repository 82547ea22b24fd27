/** fast-check generators of POD configurations covering every option of the wrappers' contract. */
import fc from "fast-check";
import type { PodConfig, SideConfig } from "./attention-fixture.ts";

const sideArb = (prefill: boolean): fc.Arbitrary<SideConfig> =>
  fc
    .record({
      causal: prefill ? fc.boolean() : fc.constant(false),
      mask: prefill ? fc.constantFrom("none", "none", "dense", "packed") : fc.constant("none"),
      windowLeft: fc.oneof(fc.constant(-1), fc.constant(-1), fc.integer({ min: 0, max: 12 })),
      posEncoding: fc.constantFrom("NONE", "NONE", "ROPE_LLAMA", "ALIBI"),
      smScale: fc.option(fc.double({ min: 0.02, max: 0.3, noNaN: true }), { nil: undefined }),
      logitsSoftCap: fc.oneof(fc.constant(0), fc.constant(0), fc.double({ min: 1, max: 30, noNaN: true })),
      ropeScale: fc.option(fc.double({ min: 0.5, max: 4, noNaN: true }), { nil: undefined }),
      ropeTheta: fc.option(fc.constantFrom(1e4, 5e5, 100), { nil: undefined }),
    } as const)
    .map((o) => (o.causal && o.mask !== "none" ? { ...o, mask: "none" as const } : o));

/** Sizes stay small: the float64 reference runs in JavaScript. */
export function podConfigArb(wrapper: "single" | "batch", scale: "small" | "large" = "small"): fc.Arbitrary<PodConfig> {
  // "large" reaches several KV tiles, row tiles and split KV ranges (for the GPU, checked against the CPU backend).
  const maxKv = scale === "large" ? 400 : 40;
  const maxQo = scale === "large" ? 48 : 10;
  return fc
    .record({
      seed: fc.integer({ min: 0, max: 0x7fffffff }),
      dtype: fc.constantFrom("float16", "bfloat16"),
      headDim: fc.constantFrom(64, 64, 128, 256),
      numKvHeads: fc.integer({ min: 1, max: 2 }),
      group: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 4 }), weight: 9 }, { arbitrary: fc.integer({ min: 17, max: 20 }), weight: 1 }),
      layout: fc.constantFrom("NHD", "HND"),
      pageSize: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constantFrom(8, 16)),
      decodeKvLens: fc.array(fc.integer({ min: 0, max: maxKv }), { minLength: 0, maxLength: 3 }),
      prefillRaw: fc.array(fc.tuple(fc.integer({ min: 0, max: maxQo }), fc.integer({ min: 0, max: (maxKv * 3) / 4 })), {
        minLength: 0,
        maxLength: wrapper === "single" ? 1 : 3,
      }),
      prefillOptions: sideArb(true),
      decodeOptions: sideArb(false),
      returnLse: fc.boolean(),
      fusedQkv: fc.boolean(),
      cachePair: fc.boolean(),
      preallocate: fc.boolean(),
    } as const)
    .map(({ prefillRaw, ...c }): PodConfig => {
      // Causal attention aligns queries to the end of the KV, so each request needs kvLen >= qoLen.
      const prefill = prefillRaw.map(([qo, kv]): [number, number] => [qo, c.prefillOptions.causal ? Math.max(kv, qo) : kv]);
      // Large GQA groups only with head_dim 64, to keep the reference fast.
      const headDim = c.group > 4 ? 64 : c.headDim;
      // fused q/k/v needs qo == kv (one projection); make it so when asked for.
      if (wrapper === "single" && c.fusedQkv && prefill.length === 1) prefill[0] = [prefill[0]![0], prefill[0]![0]];
      return { ...c, headDim, prefill, wrapper } as PodConfig;
    });
}

const scalesArb = fc.option(fc.tuple(fc.double({ min: 0.5, max: 2, noNaN: true }), fc.double({ min: 0.5, max: 2, noNaN: true }),
  fc.double({ min: 0.5, max: 2, noNaN: true })), { nil: undefined });

/** Configurations on fp8 KV caches (e4m3 or e5m2) with random dequantization scales per side. */
export function fp8PodConfigArb(wrapper: "single" | "batch", scale: "small" | "large" = "small"): fc.Arbitrary<PodConfig> {
  return fc
    .tuple(podConfigArb(wrapper, scale), fc.constantFrom("float8_e4m3fn", "float8_e5m2"), fc.boolean(), scalesArb, scalesArb)
    .map(([cfg, kvDtype, fp8Prefill, scalesP, scalesD]): PodConfig => {
      const out: PodConfig = { ...cfg, kvDtype, fp8Prefill };
      if (scalesP) out.scalesP = scalesP;
      if (scalesD) out.scalesD = scalesD;
      return out;
    });
}
