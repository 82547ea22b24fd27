/**
 * The options table (src/options.ts) against cuda/pod.h's `pod_attention_options`, and the names
 * every wrapper accepts: camelCase, FlashInfer's snake_case, unsuffixed FlashInfer names and old
 * aliases map to the same options; unknown names are rejected with the closest known one; C's
 * argument names come back as the caller wrote them.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { OPTIONS } from "../src/abi.ts";
import {
  BatchDecodeWithPagedKVCacheWrapper,
  BatchPODWithPagedKVCacheWrapper,
  BatchPrefillWithPagedKVCacheWrapper,
  Device,
  PODWithPagedKVCacheWrapper,
  PodError,
  singlePrefillWithKVCache,
  Tensor,
} from "../src/index.ts";
import { ATTENTION_FIELDS, ATTENTION_NAMES, OPTION_TABLE, SIGNATURES, snake, type OptionName } from "../src/options.ts";

const header = readFileSync(join(import.meta.dir, "..", "cuda", "pod.h"), "utf8");

/** The fields of `typedef struct name { ... } name;`: [C type, field name]. */
function cStruct(name: string): [string, string][] {
  const block = new RegExp(`typedef\\s+struct\\s+${name}\\s*\\{([^}]*)\\}\\s*${name}\\s*;`).exec(header);
  if (!block) throw new Error(`no struct ${name} in cuda/pod.h`);
  return block[1]!
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .split(";")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((decl) => {
      const m = /^([a-z0-9_]+)\s+([a-z0-9_]+)$/.exec(decl.replace(/\s+/g, " "));
      if (!m) throw new Error(`${name}: cannot read "${decl}"`);
      return [m[1]!, m[2]!];
    });
}

const KIND_C_TYPE: Record<string, string> = { boolean: "int32_t", posEncoding: "int32_t", window: "int32_t", finite: "float" };

describe("the options table and pod_attention_options", () => {
  const fields = cStruct("pod_attention_options");

  test("struct_size comes first, then every field the table fills, in order, with the same C types", () => {
    expect(fields[0]).toEqual(["uint32_t", "struct_size"]);
    const table = ATTENTION_NAMES.map((n) => {
      const f = (OPTION_TABLE[n] as { cField: { name: string; type: string } }).cField;
      return [f.type, f.name];
    });
    expect(table).toEqual(fields.slice(1));
  });

  test("each attention option's value kind agrees with its C type", () => {
    for (const n of ATTENTION_NAMES) {
      const spec = OPTION_TABLE[n] as { type: string; cField: { type: string } };
      expect(`${n}: ${KIND_C_TYPE[spec.type]}`).toBe(`${n}: ${spec.cField.type}`);
    }
  });

  test("the packed layout (abi.ts OPTIONS) is the table's: 4 bytes a field", () => {
    expect(ATTENTION_FIELDS.map(([f]) => (OPTIONS.at as Record<string, number>)[f])).toEqual(ATTENTION_FIELDS.map((_, i) => 4 + 4 * i));
    expect(OPTIONS.size).toBe(4 + 4 * ATTENTION_FIELDS.length);
  });

  test("every option of the table is accepted by some call, under each of its FlashInfer spellings", () => {
    const all = new Set(Object.values(SIGNATURES).flatMap((s) => s.spellings));
    for (const [name, spec] of Object.entries(OPTION_TABLE) as [OptionName, { flashinfer: readonly string[]; sides: string }][]) {
      if (name === "q" || name === "k" || name === "v") continue; // positional in singlePrefillWithKVCache, suffixed elsewhere
      const accepted = spec.flashinfer.filter((f) => all.has(f) || all.has(`${f}_p`) || all.has(`${f}_d`));
      expect(`${name}: ${accepted.length > 0}`).toBe(`${name}: true`);
    }
  });

  test("every camelCase name also goes by its snake_case spelling", () => {
    for (const sig of Object.values(SIGNATURES))
      for (const name of sig.spellings) if (!name.includes("_")) expect(sig.spellings).toContain(snake(name));
  });
});

const cpu = Device.cpu();
const on = { device: cpu };
const H = 2, KH = 1, D = 64, PAGE = 4;
const f16 = (shape: number[], start: number, step = 1e-3) => Tensor.empty(shape, "float16", on).fill(start, step);
const qP = f16([3, 2, D], 0.0);
const kP = f16([5, 1, D], 0.1);
const vP = f16([5, 1, D], -0.1);
const qD = f16([2, 2, D], 0.2, -1e-3);
const cache = f16([3, 2, PAGE, 1, D], -0.3);
const sizes = { numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE };
const table = { indptr: [0, 1, 3], indices: [0, 1, 2], lastPageLen: [2, 4] };
const ws = () => Tensor.empty([1 << 16], "uint8", on);
const same = (a: Tensor | undefined, b: Tensor | undefined) => expect(Array.from(a!.toFloat32Array())).toEqual(Array.from(b!.toFloat32Array()));

function podError(fn: () => unknown): PodError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PodError) return e;
    throw e;
  }
  throw new Error("expected a PodError");
}

describe("FlashInfer's spellings and the aliases map to the same options", () => {
  test("single POD wrapper: snake_case plan and run equal camelCase; windowLeftD in plan as in run", () => {
    using a = new PODWithPagedKVCacheWrapper(ws());
    using b = new PODWithPagedKVCacheWrapper(ws());
    using c = new PODWithPagedKVCacheWrapper(ws());
    a.plan({ ...table, ...sizes, windowLeftD: 1, smScaleD: 0.2 });
    b.plan({ indptr: table.indptr, indices: table.indices, last_page_len: table.lastPageLen, num_qo_heads: H, num_kv_heads: KH, head_dim: D,
      page_size: PAGE, window_left: 1, sm_scale: 0.2 });
    c.plan({ ...table, ...sizes, windowLeft: 1, smScale: 0.2 }); // the old (unsuffixed) spelling
    using ra = a.run({ qP, kP, vP, qD, pagedKvCacheD: cache, causalP: true, returnLseP: true, returnLseD: true, windowLeftD: 1 });
    using rb = b.run({ q_p: qP, k_p: kP, v_p: vP, q_d: qD, paged_kv_cache_d: cache, causal_p: true, return_lse_p: true, return_lse_d: true,
      window_left_d: 1 });
    using rc = c.run({ qP, kP, vP, qD, pagedKvCacheD: cache, causalP: true, returnLse: true });
    for (const r of [rb, rc]) {
      same(r.oP, ra.oP);
      same(r.oD, ra.oD);
      same(r.lseP, ra.lseP);
      same(r.lseD, ra.lseD);
    }
  });

  test("batch POD wrapper: snake_case plan, and a run-time causal_p equal to plan's", () => {
    const plan = { qoIndptrP: [0, 2, 3], kvIndptrP: [0, 1, 2], kvIndicesP: [0, 1], lastPageLenP: [3, 4], kvIndptrD: table.indptr,
      kvIndicesD: table.indices, lastPageLenD: table.lastPageLen, ...sizes, causalP: true };
    using a = new BatchPODWithPagedKVCacheWrapper(ws());
    using b = new BatchPODWithPagedKVCacheWrapper(ws());
    a.plan(plan);
    b.plan({ qo_indptr_p: plan.qoIndptrP, kv_indptr_p: plan.kvIndptrP, kv_indices_p: plan.kvIndicesP, last_page_len_p: plan.lastPageLenP,
      kv_indptr_d: plan.kvIndptrD, kv_indices_d: plan.kvIndicesD, last_page_len_d: plan.lastPageLenD, num_qo_heads: H, num_kv_heads: KH,
      head_dim: D, page_size: PAGE, causal_p: true, q_data_type: "float16" });
    const cacheP = f16([2, 2, PAGE, 1, D], 0.05);
    using ra = a.run({ qP, pagedKvCacheP: cacheP, qD, pagedKvCacheD: cache });
    using rb = b.run({ q_p: qP, paged_kv_cache_p: cacheP, q_d: qD, paged_kv_cache_d: cache, causal_p: true });
    same(rb.oP, ra.oP);
    same(rb.oD, ra.oD);
  });

  test("standalone kernels: snake_case, return_lse and data_type", () => {
    using a = new BatchDecodeWithPagedKVCacheWrapper(ws());
    a.plan({ indptr: table.indptr, indices: table.indices, last_page_len: table.lastPageLen, num_qo_heads: H, num_kv_heads: KH, head_dim: D,
      page_size: PAGE, data_type: "float16", logits_soft_cap: 5 });
    using r = a.run({ q: qD, paged_kv_cache: cache, return_lse: true });
    expect(r.lse.shape).toEqual([2, 2]);
    using s = singlePrefillWithKVCache(qP, kP, vP, { causal: true, return_lse: true, kv_layout: "NHD" });
    using t = singlePrefillWithKVCache(qP, kP, vP, { causal: true, returnLse: true });
    same(s.out, t.out);
    same(s.lse, t.lse);
  });

  test("graph buffers: one name scheme (…Buffer), the …Buf spellings as aliases", () => {
    const buffers = () => ({ qo: Tensor.zeros([3], "int32", on), indptr: Tensor.zeros([3], "int32", on), indices: Tensor.zeros([4], "int32", on),
      last: Tensor.zeros([2], "int32", on) });
    const x = buffers(), y = buffers();
    using a = new BatchPrefillWithPagedKVCacheWrapper(ws(), "NHD", { useCudaGraph: true, qoIndptrBuffer: x.qo, pagedKvIndptrBuffer: x.indptr,
      pagedKvIndicesBuffer: x.indices, pagedKvLastPageLenBuffer: x.last });
    using b = new BatchPrefillWithPagedKVCacheWrapper(ws(), "NHD", { useCudaGraph: true, qoIndptrBuf: y.qo, paged_kv_indptr_buf: y.indptr,
      pagedKvIndicesBuf: y.indices, pagedKvLastPageLenBuffer: y.last });
    const plan = { qoIndptr: [0, 2, 3], pagedKvIndptr: [0, 1, 2], pagedKvIndices: [0, 1], pagedKvLastPageLen: [3, 4], ...sizes };
    a.plan(plan);
    b.plan(plan);
    expect(Array.from(y.indptr.toFloat32Array())).toEqual([0, 1, 2]);
    const cacheP = f16([2, 2, PAGE, 1, D], 0.05);
    using ra = a.run({ q: qP, pagedKvCache: cacheP });
    using rb = b.run({ q: qP, pagedKvCache: cacheP });
    same(rb.out, ra.out);
  });

  test("one option under two names is an error naming both", () => {
    using w = new PODWithPagedKVCacheWrapper(ws());
    expect(podError(() => w.plan({ ...table, ...sizes, windowLeft: 1, window_left_d: 1 } as never)).message).toMatch(
      /^window_left_d: the same option as windowLeft; give one of them/,
    );
  });
});

describe("unknown names", () => {
  const w = new PODWithPagedKVCacheWrapper(ws());
  w.plan({ ...table, ...sizes });
  const cases: [string, () => unknown, RegExp][] = [
    ["a typo of a camelCase name", () => w.run({ qP, kP, vP, windowLeftp: 2 } as never), /^run: unknown or unsupported argument "windowLeftp"; did you mean "windowLeftP"\?/],
    ["a typo of a snake_case name", () => w.run({ qP, kP, vP, window_lft_p: 2 } as never), /"window_lft_p"; did you mean "window_left_p"\?/],
    ["a misspelt plan option", () => w.plan({ ...table, ...sizes, numQoHead: 2 } as never), /"numQoHead"; did you mean "numQoHeads"\?/],
    ["nothing close", () => w.plan({ ...table, ...sizes, jitArgs: [] } as never), /unknown or unsupported argument "jitArgs" \[INVALID_ARGUMENT\]$/],
    ["a prefill option in the single wrapper's plan", () => w.plan({ ...table, ...sizes, causalP: true } as never), /unknown or unsupported argument "causalP"/],
  ];
  for (const [name, call, message] of cases) test(name, () => expect(podError(call).message).toMatch(message));
});

describe("errors name the argument as the caller wrote it", () => {
  const w = new PODWithPagedKVCacheWrapper(ws());
  w.plan({ ...table, ...sizes });
  const cases: [string, () => unknown, RegExp][] = [
    ["a snake_case run argument", () => w.run({ q_p: f16([3, 2 * D], 0), k_p: kP, v_p: vP }), /^q_p: expected 3 dimensions/],
    ["a snake_case decode option restated at run", () => w.run({ qD, paged_kv_cache_d: cache, window_left_d: 3 }), /^window_left_d: run\(\) got 3 but plan\(\) set -1/],
    ["a snake_case plan table", () => w.plan({ ...sizes, indptr: [1, 2, 3], indices: table.indices, lastPageLen: [2, 4] }), /^indptr: must start at 0/],
    ["names inside the message", () => w.plan({ ...sizes, indptr: [0, 1, 5], indices: table.indices, lastPageLen: [2, 4] }), /^indices: indptr ends at 5/],
    ["a standalone kernel's snake_case cache", () => {
      using d = new BatchDecodeWithPagedKVCacheWrapper(ws());
      d.plan({ ...table, ...sizes, kv_data_type: "float8_e4m3fn" });
      return d.run({ q: qD, paged_kv_cache: cache });
    }, /^paged_kv_cache: expected dtype float8_e4m3fn, got float16/],
    ["a standalone kernel's decode cache", () => {
      using d = new BatchDecodeWithPagedKVCacheWrapper(ws());
      d.plan({ ...table, ...sizes });
      return d.run({ q: qD, pagedKvCache: [f16([3, PAGE, 1, D], 0), Tensor.zeros([3, PAGE, 1, D], "bfloat16", on)] });
    }, /^pagedKvCache\[1\]: expected dtype float16, got bfloat16/],
    ["singlePrefillWithKVCache's positional q", () => singlePrefillWithKVCache(f16([3, 2 * D], 0), kP, vP), /^q: expected 3 dimensions/],
    ["a prefill-only kernel's mask", () => singlePrefillWithKVCache(qP, kP, vP, { custom_mask: Tensor.zeros([3, 4], "bool", on) }), /^custom_mask: expected shape \[3, 5\]/],
    ["a graph buffer under its FlashInfer name", () => new BatchPrefillWithPagedKVCacheWrapper(ws(), "NHD", { useCudaGraph: true, qoIndptrBuf: Tensor.zeros([3], "int32", on) }),
      /^paged(KvIndptrBuffer|KvIndicesBuffer|KvLastPageLenBuffer): missing/],
  ];
  for (const [name, call, message] of cases) test(name, () => expect(podError(call).message).toMatch(message));
});

describe("plan()'s launch choice", () => {
  test("both POD wrappers take launch auto, fused or serial; the CPU backend reports its own launch; others are rejected", () => {
    for (const launch of ["auto", "fused", "serial"] as const) {
      using w = new PODWithPagedKVCacheWrapper(ws());
      w.plan({ ...table, ...sizes, launch });
      using r = w.run({ qP, kP, vP, qD, pagedKvCacheD: cache, causalP: true });
      expect(r.launch).toBe("cpu");
      using b = new BatchPODWithPagedKVCacheWrapper(ws());
      b.plan({ qoIndptrP: [0, 2], kvIndptrP: [0, 1], kvIndicesP: [0], lastPageLenP: [3], kvIndptrD: table.indptr, kvIndicesD: table.indices,
        lastPageLenD: table.lastPageLen, ...sizes, launch });
    }
    using w = new PODWithPagedKVCacheWrapper(ws());
    expect(() => w.plan({ ...table, ...sizes, launch: "twice" as never })).toThrow(/^launch: expected one of "auto", "fused", "serial", got "twice"/);
    expect(() => w.plan({ ...table, ...sizes, lunch: "fused" } as never)).toThrow(/did you mean "launch"/);
  });
});
