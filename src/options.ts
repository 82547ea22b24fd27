/**
 * Every option of every wrapper's constructor, plan() and run() and of the standalone kernels,
 * declared once: its camelCase name, FlashInfer's spelling, its type and default, the sides it
 * exists for and the C field it fills. From this table come
 * - the argument lists (signatures) of each call, with the names they accept: the camelCase name,
 *   its snake_case FlashInfer spelling and the aliases listed in the signature;
 * - the validation of each value, naming the argument as the caller wrote it;
 * - the packing of `pod_attention_options` (abi.ts builds its layout from ATTENTION_FIELDS);
 * - the translation of the C library's argument names in its messages back to the caller's.
 *
 * An attention option is added here (one row of OPTION_TABLE, and its name in the signatures'
 * lists when it is not a per-side attention option), in cuda/pod.h and in the C code that reads it.
 * test/options.test.ts fails when this table and `pod_attention_options` drift apart.
 */
import { closest, distance } from "fastest-levenshtein";
import { KV_LAYOUT, LAUNCH_CHOICE, POS_ENCODING } from "./enums.ts";
import { invalid } from "./errors.ts";
import type { Stream } from "./stream.ts";
import type { Tensor } from "./tensor.ts";
import { describe, int32Array, integer, optionalBoolean, optionalChoice, optionalFinite } from "./validate.ts";

/** KV layout: "NHD" puts tokens before heads ([…, tokens, heads, dim]), "HND" heads before tokens. */
export type KvLayout = keyof typeof KV_LAYOUT;
/** Positional encoding applied inside attention. */
export type PosEncoding = keyof typeof POS_ENCODING;
/**
 * How run() launches a plan whose two sides both have work: "auto" (default) the way measured faster
 * for the kernels that take the sides on this device, "fused" one launch for both sides wherever their
 * kernels can share one, "serial" each side's kernel back to back. run() reports what it did (`launch`).
 */
export type LaunchChoice = Lowercase<keyof typeof LAUNCH_CHOICE>;
export const LAUNCH_CHOICES = Object.keys(LAUNCH_CHOICE).map((k) => k.toLowerCase()) as LaunchChoice[];
/** The dtypes attention runs on (q and, unless fp8, the KV cache). */
export type HalfDType = "float16" | "bfloat16";
/** dtypes of KV caches: q's, or fp8 (converted exactly to q's dtype as tiles load). */
export type KvDType = HalfDType | "float8_e4m3fn" | "float8_e5m2";
/** A paged KV cache: one tensor with a k/v axis ([pages, 2, ...]) or a (k, v) pair. */
export type PagedKvCache = Tensor | readonly [Tensor, Tensor];
/** A host array of int32: an Int32Array or integers. */
export type Int32s = Int32Array | readonly number[];

export const POS_ENCODINGS = Object.keys(POS_ENCODING) as PosEncoding[];
export const LAYOUTS = Object.keys(KV_LAYOUT) as KvLayout[];
export const HALF_TYPES: readonly HalfDType[] = ["float16", "bfloat16"];
export const KV_TYPES: readonly KvDType[] = ["float16", "bfloat16", "float8_e4m3fn", "float8_e5m2"];

/** What a value is: how it is checked and which TypeScript type it has. */
interface KindTypes {
  boolean: boolean;
  positiveInteger: number;
  /** -1 (off) or a size ≥ 0. */
  window: number;
  finite: number;
  posEncoding: PosEncoding;
  halfDType: HalfDType;
  kvDType: KvDType;
  layout: KvLayout;
  launchChoice: LaunchChoice;
  int32Array: Int32s;
  tensor: Tensor | null;
  pagedCache: PagedKvCache | null;
  stream: Stream;
}
export type Kind = keyof KindTypes;

/**
 * Where an option applies: one value per side ("prefill", "decode" or "both": suffixed P and D on
 * the POD wrappers, unsuffixed on a one-sided kernel), or one value for the whole call ("call").
 */
export type Sides = "prefill" | "decode" | "both" | "call";

/** C types of the fields of `pod_attention_options`. */
export type CFieldType = "int32_t" | "float";

export interface OptionSpec {
  readonly type: Kind;
  /** Default when left out, as documentation (C applies the attention options' defaults). */
  readonly default?: string | number | boolean;
  readonly sides: Sides;
  /** FlashInfer's spellings of the unsuffixed name (snake_case); a side adds `_p` / `_d`. */
  readonly flashinfer: readonly string[];
  /** The `pod_attention_options` field it fills, and that field's C type. */
  readonly cField?: { readonly name: string; readonly type: CFieldType };
  /**
   * The names the C library gives the argument in its messages: `{s}` is the side's letter (p, d),
   * `{side}` its name (prefill, decode). Several names are the parts of one argument (a k/v pair).
   */
  readonly cNames?: readonly string[] | { readonly p: readonly string[]; readonly d: readonly string[] };
  /** The unsuffixed name sets both sides of a POD wrapper (e.g. qScale); a side's own name wins. */
  readonly bothSides?: true;
}

/** The options, by camelCase name without side suffix. */
export const OPTION_TABLE = {
  // ---- attention options: the fields of pod_attention_options, one struct per side
  /** Hide keys after each query's position (a request's queries are the last of its keys). */
  causal: { type: "boolean", default: false, sides: "prefill", flashinfer: ["causal"], cField: { name: "causal", type: "int32_t" } },
  /** "NONE" (default), "ROPE_LLAMA" or "ALIBI". */
  posEncodingMode: { type: "posEncoding", default: "NONE", sides: "both", flashinfer: ["pos_encoding_mode"], cField: { name: "pos_encoding", type: "int32_t" } },
  /** Keys more than this many positions before the query are hidden; -1 (default) = off. */
  windowLeft: { type: "window", default: -1, sides: "both", flashinfer: ["window_left"], cField: { name: "window_left", type: "int32_t" } },
  /** Scale of q·k; default 1/√headDim. */
  smScale: { type: "finite", default: "1/√headDim", sides: "both", flashinfer: ["sm_scale"], cField: { name: "sm_scale", type: "float" } },
  /** RoPE position interpolation factor; default 1. */
  ropeScale: { type: "finite", default: 1, sides: "both", flashinfer: ["rope_scale"], cField: { name: "rope_scale", type: "float" } },
  /** RoPE base; default 1e4. */
  ropeTheta: { type: "finite", default: 1e4, sides: "both", flashinfer: ["rope_theta"], cField: { name: "rope_theta", type: "float" } },
  /** score = c·tanh(score / c) when c > 0; default 0 (off). */
  logitsSoftCap: { type: "finite", default: 0, sides: "both", flashinfer: ["logits_soft_cap"], cField: { name: "logits_soft_cap", type: "float" } },

  // ---- plan(): sizes, dtypes, page tables
  numQoHeads: { type: "positiveInteger", sides: "call", flashinfer: ["num_qo_heads"], cNames: ["num_qo_heads"] },
  numKvHeads: { type: "positiveInteger", sides: "call", flashinfer: ["num_kv_heads"], cNames: ["num_kv_heads"] },
  headDim: { type: "positiveInteger", sides: "call", flashinfer: ["head_dim"], cNames: ["head_dim"] },
  pageSize: { type: "positiveInteger", sides: "call", flashinfer: ["page_size"], cNames: ["page_size"] },
  qDataType: { type: "halfDType", default: "the queries' dtype", sides: "call", flashinfer: ["q_data_type"], cNames: ["q_dtype"] },
  kvDataType: { type: "kvDType", default: "qDataType", sides: "call", flashinfer: ["kv_data_type"], cNames: ["kv_dtype"] },
  dataType: { type: "halfDType", sides: "call", flashinfer: ["data_type"] },
  nonBlocking: { type: "boolean", default: true, sides: "call", flashinfer: ["non_blocking"] },
  /** How run() launches both sides: "auto", "fused" or "serial" (not in FlashInfer). */
  launch: { type: "launchChoice", default: "auto", sides: "call", flashinfer: ["launch"], cNames: ["launch"] },
  qoIndptr: { type: "int32Array", sides: "both", flashinfer: ["qo_indptr"], cNames: ["{side}.qo_indptr"] },
  kvIndptr: { type: "int32Array", sides: "both", flashinfer: ["kv_indptr", "paged_kv_indptr", "indptr"], cNames: ["{side}.kv_indptr"] },
  kvIndices: { type: "int32Array", sides: "both", flashinfer: ["kv_indices", "paged_kv_indices", "indices"], cNames: ["{side}.kv_indices"] },
  lastPageLen: { type: "int32Array", sides: "both", flashinfer: ["last_page_len", "paged_kv_last_page_len"], cNames: ["{side}.kv_last_page_len"] },

  // ---- run(): tensors, outputs, switches
  q: { type: "tensor", sides: "both", flashinfer: ["q"], cNames: ["q_{s}"] },
  k: { type: "tensor", sides: "prefill", flashinfer: ["k"], cNames: ["k_p"] },
  v: { type: "tensor", sides: "prefill", flashinfer: ["v"], cNames: ["v_p"] },
  pagedKvCache: { type: "pagedCache", sides: "both", flashinfer: ["paged_kv_cache"], cNames: { p: ["k_p", "v_p"], d: ["paged_k_d", "paged_v_d"] } },
  customMask: { type: "tensor", sides: "prefill", flashinfer: ["custom_mask"], cNames: ["mask_p"] },
  packedCustomMask: { type: "tensor", sides: "prefill", flashinfer: ["packed_custom_mask"], cNames: ["mask_p"] },
  kvLayout: { type: "layout", default: "the wrapper's", sides: "both", flashinfer: ["kv_layout"], cNames: ["kv_layout_{s}"] },
  returnLse: { type: "boolean", default: false, sides: "both", flashinfer: ["return_lse"], bothSides: true },
  out: { type: "tensor", sides: "both", flashinfer: ["out"], cNames: ["o_{s}"] },
  lse: { type: "tensor", sides: "both", flashinfer: ["lse"], cNames: ["lse_{s}"] },
  qScale: { type: "finite", default: 1, sides: "both", flashinfer: ["q_scale"], cNames: ["q_scale_{s}"], bothSides: true },
  kScale: { type: "finite", default: 1, sides: "both", flashinfer: ["k_scale"], cNames: ["k_scale_{s}"], bothSides: true },
  vScale: { type: "finite", default: 1, sides: "both", flashinfer: ["v_scale"], cNames: ["v_scale_{s}"], bothSides: true },
  useFp16QkReduction: { type: "boolean", default: false, sides: "call", flashinfer: ["use_fp16_qk_reduction"] },
  stream: { type: "stream", default: "the device's default stream", sides: "call", flashinfer: ["stream"], cNames: ["stream"] },
  enablePdl: { type: "boolean", default: "on where the device supports it", sides: "call", flashinfer: ["enable_pdl"], cNames: ["enable_pdl"] },

  // ---- constructors: CUDA graph mode
  useCudaGraph: { type: "boolean", default: false, sides: "call", flashinfer: ["use_cuda_graph"], cNames: ["use_cuda_graph"] },
  qoIndptrBuffer: { type: "tensor", sides: "prefill", flashinfer: ["qo_indptr_buffer", "qo_indptr_buf"], cNames: ["{side}_buffers.qo_indptr"] },
  pagedKvIndptrBuffer: { type: "tensor", sides: "both", flashinfer: ["paged_kv_indptr_buffer", "paged_kv_indptr_buf"], cNames: ["{side}_buffers.kv_indptr"] },
  pagedKvIndicesBuffer: { type: "tensor", sides: "both", flashinfer: ["paged_kv_indices_buffer", "paged_kv_indices_buf"], cNames: ["{side}_buffers.kv_indices"] },
  pagedKvLastPageLenBuffer: {
    type: "tensor", sides: "both", flashinfer: ["paged_kv_last_page_len_buffer", "paged_kv_last_page_len_buf"], cNames: ["{side}_buffers.kv_last_page_len"],
  },
} as const satisfies Record<string, OptionSpec>;

type Table = typeof OPTION_TABLE;
export type OptionName = keyof Table;
/** The options that fill `pod_attention_options`. */
export type AttentionName = { [K in OptionName]: Table[K] extends { cField: object } ? K : never }[OptionName];
/** The TypeScript type of an option's value. */
export type OptionValue<K extends OptionName> = KindTypes[Table[K]["type"]];

const TABLE: Readonly<Record<string, OptionSpec>> = OPTION_TABLE;
export const ATTENTION_NAMES = (Object.keys(OPTION_TABLE) as OptionName[]).filter((n): n is AttentionName => TABLE[n]!.cField !== undefined);

/** The fields of `pod_attention_options` after struct_size, in the table's order, with their ABI kinds. */
export const ATTENTION_FIELDS: readonly (readonly [field: string, kind: "i32" | "f32"])[] = ATTENTION_NAMES.map((n) => {
  const f = TABLE[n]!.cField!;
  return [f.name, f.type === "float" ? "f32" : "i32"] as const;
});

// ---- spellings

/** FlashInfer's snake_case spelling of a camelCase name ("windowLeftP" → "window_left_p"). */
export function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** snake() at the type level. */
export type Snake<S extends string> = S extends `${infer H}${infer T}`
  ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${Snake<T>}`
  : S;

/** An arguments type spelled all in camelCase or all in FlashInfer's snake_case. */
export type Spelled<T> = T | { [K in keyof T as K extends string ? Snake<K> : K]: T[K] };

/** Attention options of one side, named with suffix S ("" on a one-sided kernel). */
export type AttentionOptionsOf<S extends "" | "P" | "D", N extends AttentionName = AttentionName> = {
  -readonly [K in N as `${K}${S}`]?: OptionValue<K>;
};
/** Decode-side attention options (decode attention has no causal mask of its own). */
export type DecodeAttentionName = Exclude<AttentionName, "causal">;

// ---- signatures: the arguments each call accepts

type SideLetter = "P" | "D";

/** One argument of a call: its internal key, the option it is, and every name it goes by. */
export interface Param {
  /** The POD wrappers' camelCase name (e.g. "windowLeftD"): how the implementation reads it. */
  readonly key: string;
  readonly option: OptionName;
  readonly spec: OptionSpec;
  readonly side: SideLetter | undefined;
  /** Sets both sides (the unsuffixed qScale of a POD wrapper). */
  readonly both: boolean;
  /** The name errors use when the caller did not write the argument (the first of `names`). */
  readonly name: string;
  /** Every accepted spelling: the camelCase names and their snake_case forms. */
  readonly names: readonly string[];
  /** Given positionally (not accepted in the options object; named in messages). */
  readonly positional: boolean;
}

interface ParamDecl {
  option: OptionName;
  side?: SideLetter;
  both?: true;
  names?: readonly string[];
  positional?: boolean;
}

/** An option of one side under its suffixed name (windowLeftD), with further camelCase aliases. */
function sided(option: OptionName, side: SideLetter, ...aliases: string[]): ParamDecl {
  return { option, side, names: [option + side, ...aliases] };
}
/** An option of one side under other names (a one-sided kernel: `indptr` is the decode kvIndptr). */
function named(option: OptionName, side: SideLetter, ...names: string[]): ParamDecl {
  return { option, side, names: names.length ? names : [option] };
}
/** A both-sides option under its unsuffixed name (qScale), which each side's own name overrides. */
function both(option: OptionName): ParamDecl {
  return { option, both: true };
}
function call(...options: OptionName[]): ParamDecl[] {
  return options.map((option) => ({ option }));
}
/** The attention options of a side; `unsuffixed`: also (or, for a one-sided kernel, only) without suffix. */
function attention(side: SideLetter, style: "suffixed" | "alsoUnsuffixed" | "unsuffixed", names: readonly AttentionName[] = ATTENTION_NAMES): ParamDecl[] {
  return names.map((option) => {
    if (style === "unsuffixed") return named(option, side, option);
    return style === "alsoUnsuffixed" ? sided(option, side, option) : sided(option, side);
  });
}
const DECODE_ATTENTION = ATTENTION_NAMES.filter((n) => n !== "causal");

/** The arguments of one call and how to read them. */
export class Signature {
  readonly params: readonly Param[];
  private readonly bySpelling = new Map<string, Param>();
  private readonly byKey = new Map<string, Param>();
  private cNameMap: Map<string, { keys: string[]; part: number }> | undefined;

  /** @param what how errors name the call ("plan", "run", "options"). */
  constructor(readonly what: string, decls: readonly ParamDecl[]) {
    this.params = decls.map((d) => {
      const spec = TABLE[d.option]!;
      const key = d.option + (d.side ?? "");
      const camel = d.names ?? [d.option];
      const names = [...new Set(camel.flatMap((n) => [n, snake(n)]))];
      return { key, option: d.option, spec, side: d.side, both: d.both ?? false, name: camel[0]!, names, positional: d.positional ?? false };
    });
    for (const p of this.params) {
      if (this.byKey.has(p.key)) throw new Error(`${this.what}: ${p.key} declared twice`);
      this.byKey.set(p.key, p);
      if (p.positional) continue;
      for (const n of p.names) {
        if (this.bySpelling.has(n)) throw new Error(`${this.what}: the name ${n} is taken by ${this.bySpelling.get(n)!.key} and ${p.key}`);
        this.bySpelling.set(n, p);
      }
    }
  }

  /** Every name the options object accepts. */
  get spellings(): readonly string[] {
    return [...this.bySpelling.keys()];
  }

  param(key: string): Param | undefined {
    return this.byKey.get(key);
  }

  /**
   * The caller's options by internal key, remembering how each was spelled. Unknown names are
   * rejected with the closest known one; one option given under two names is rejected too.
   * Entries whose value is undefined count as not given.
   */
  read(args: unknown, positional: Record<string, unknown> = {}): Args {
    if (args === null || typeof args !== "object" || Array.isArray(args)) throw invalid(`${this.what}: expected an options object, got ${describe(args)}`);
    const values: Record<string, unknown> = { ...positional };
    const spelled: Record<string, string> = {};
    for (const name in args) {
      if (!Object.prototype.hasOwnProperty.call(args, name)) continue;
      const p = this.bySpelling.get(name);
      if (!p) throw invalid(`${this.what}: unknown or unsupported argument "${name}"${this.suggest(name)}`);
      const value = (args as Record<string, unknown>)[name];
      if (value === undefined) continue;
      const earlier = spelled[p.key];
      if (earlier !== undefined) throw invalid(`${name}: the same option as ${earlier}; give one of them`);
      values[p.key] = value;
      spelled[p.key] = name;
    }
    return new Args(this, values, spelled);
  }

  /** `; did you mean "x"?` for the known name closest to `name`, or "" when none is close. */
  suggest(name: string): string {
    const pool = name.includes("_") ? this.spellings.filter((s) => s.includes("_") || s === snake(s)) : this.spellings.filter((s) => !s.includes("_"));
    if (pool.length === 0) return "";
    const fold = (s: string) => s.replace(/_/g, "").toLowerCase();
    const same = pool.find((s) => fold(s) === fold(name));
    const best = same ?? closest(name, pool);
    const limit = Math.max(2, Math.floor(name.length / 4));
    return same || distance(name.toLowerCase(), best.toLowerCase()) <= limit ? `; did you mean "${best}"?` : "";
  }

  /** The C library's argument names → internal keys (and the part of a k/v pair), made on first use. */
  cNames(): Map<string, { keys: string[]; part: number }> {
    if (this.cNameMap) return this.cNameMap;
    const map = new Map<string, { keys: string[]; part: number }>();
    const add = (cName: string, key: string, part: number) => {
      const entry = map.get(cName);
      if (!entry) map.set(cName, { keys: [key], part });
      else if (!entry.keys.includes(key)) entry.keys.push(key);
    };
    const expand = (template: string, side: SideLetter) =>
      template.replaceAll("{s}", side.toLowerCase()).replaceAll("{side}", side === "P" ? "prefill" : "decode");
    // Sided parameters first, so that a side's own name wins over a both-sides one (qScaleP over qScale).
    const ordered = [...this.params.filter((p) => !p.both), ...this.params.filter((p) => p.both)];
    for (const p of ordered) {
      const sides: SideLetter[] = p.side ? [p.side] : p.both ? ["P", "D"] : [];
      const cNames = p.spec.cNames;
      if (p.spec.cField) {
        for (const s of sides) {
          add(`${s === "P" ? "prefill" : "decode"}_options.${p.spec.cField.name}`, p.key, 0);
          add(`options_${s.toLowerCase()}.${p.spec.cField.name}`, p.key, 0);
        }
      } else if (Array.isArray(cNames)) {
        if (sides.length === 0) for (const c of cNames as readonly string[]) add(c, p.key, 0);
        for (const s of sides) (cNames as readonly string[]).forEach((c, i) => add(expand(c, s), p.key, i));
      } else if (cNames) {
        const bySide = cNames as { p: readonly string[]; d: readonly string[] };
        for (const s of sides) (s === "P" ? bySide.p : bySide.d).forEach((c, i) => add(c, p.key, i));
      }
    }
    this.cNameMap = map;
    return map;
  }
}

// Call-level names that C messages may mention in any call (run() errors name num_qo_heads).
const GLOBAL_C_NAMES: ReadonlyMap<string, string> = new Map(
  (Object.keys(OPTION_TABLE) as OptionName[]).flatMap((n) => {
    const spec = TABLE[n]!;
    return spec.sides === "call" && Array.isArray(spec.cNames) ? (spec.cNames as readonly string[]).map((c) => [c, n] as [string, string]) : [];
  }),
);

// Positional arguments that C messages name: the wrappers' constructors take the workspace first.
const POSITIONAL_C_NAMES: ReadonlyMap<string, string> = new Map([["workspace", "floatWorkspaceBuffer"]]);

const NO_FIELDS: Readonly<Record<string, number>> = Object.freeze({});

/** One call's arguments, read through its Signature. */
export class Args {
  constructor(
    readonly signature: Signature,
    /** Values by internal key. */
    readonly values: Record<string, unknown>,
    /** The name each given argument was written under, by internal key. */
    readonly spelled: Record<string, string>,
  ) {}

  /** Whether the argument was given (and is not null). */
  has(key: string): boolean {
    const v = this.values[key];
    return v !== undefined && v !== null;
  }

  raw(key: string): unknown {
    return this.values[key];
  }

  /** How messages name the argument: as written, else by its first name in this call. */
  name(key: string): string {
    return this.spelled[key] ?? this.signature.param(key)?.name ?? key;
  }

  /** The value of a scalar option, checked by its kind; undefined when not given. */
  get<K extends OptionName>(key: string, option?: K): OptionValue<K> | undefined {
    const p = this.signature.param(key);
    if (!p) return undefined;
    const v = this.values[key];
    if (v === undefined || v === null) return undefined;
    return checkValue(p.spec.type, this.name(key), v) as OptionValue<K>;
  }

  /** A both-sides option for one side: the side's own (qScaleP), else the shared one (qScale). */
  forSide<K extends OptionName>(option: K, side: SideLetter): OptionValue<K> | undefined {
    return this.get(option + side, option) ?? this.get(option, option);
  }

  /** The fields of `pod_attention_options` for one side; an empty object when none was given. */
  attention(side: SideLetter): Readonly<Record<string, number>> {
    let out: Record<string, number> | undefined;
    for (const option of ATTENTION_NAMES) {
      const key = option + side;
      const value = this.get(key, option);
      if (value === undefined) continue;
      out ??= {};
      out[TABLE[option]!.cField!.name] = encodeAttention(option, value);
    }
    return out ?? NO_FIELDS;
  }

  /** Rejects each of `keys` that was given, with `why`. */
  reject(keys: readonly string[], why: string): void {
    for (const key of keys) if (this.has(key)) throw invalid(`${this.name(key)}: ${why}`);
  }

  /**
   * A message of the C library with its argument names (q_p, paged_k_d, options_d.causal,
   * decode.kv_indptr, …) replaced by the caller's names for this call.
   */
  rename(message: string): string {
    const map = this.signature.cNames();
    const callerName = (cName: string, scope: string): string | undefined => {
      const hit = map.get(cName) ?? (scope ? map.get(`${scope}.${cName}`) : undefined);
      if (!hit) {
        const global = GLOBAL_C_NAMES.get(cName);
        return global === undefined ? POSITIONAL_C_NAMES.get(cName) : (this.spelled[global] ?? global);
      }
      const key = hit.keys.find((k) => this.spelled[k] !== undefined) ?? hit.keys[0]!;
      const name = this.name(key);
      const pair = this.signature.param(key)?.spec.type === "pagedCache" && Array.isArray(this.values[key]);
      return pair ? `${name}[${hit.part}]` : name;
    };
    const lead = /^([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)?)(?=[: ])/.exec(message);
    const scope = lead?.[1]!.includes(".") ? lead[1]!.slice(0, lead[1]!.indexOf(".")) : "";
    return message.replace(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)*(?:\.[a-z][a-z0-9_]*)?\b/g, (token, offset: number) => {
      // Plain words are left alone except the leading argument name; identifiers have an underscore or a dot.
      if (offset !== 0 && !/[_.]/.test(token)) return token;
      return callerName(token, scope) ?? token;
    });
  }
}

function encodeAttention(option: AttentionName, value: unknown): number {
  switch (TABLE[option]!.type) {
    case "boolean":
      return value ? 1 : 0;
    case "posEncoding":
      return POS_ENCODING[value as PosEncoding];
    default:
      return value as number;
  }
}

/** Checks a value of the given kind (tensors and paged caches are checked by the wrappers). */
export function checkValue(kind: Kind, name: string, value: unknown): unknown {
  switch (kind) {
    case "boolean":
      return optionalBoolean(name, value);
    case "positiveInteger":
      return integer(name, value, 1);
    case "window":
      return integer(name, value, -1);
    case "finite":
      return optionalFinite(name, value);
    case "posEncoding":
      return optionalChoice(name, value, POS_ENCODINGS);
    case "halfDType":
      return optionalChoice(name, value, HALF_TYPES);
    case "kvDType":
      return optionalChoice(name, value, KV_TYPES);
    case "layout":
      return optionalChoice(name, value, LAYOUTS);
    case "launchChoice":
      return optionalChoice(name, value, LAUNCH_CHOICES);
    case "int32Array":
      return int32Array(name, value);
    case "tensor":
    case "pagedCache":
    case "stream":
      return value;
  }
}

// ---- the calls

const PLAN_CALL = call("numQoHeads", "numKvHeads", "headDim", "pageSize", "qDataType", "kvDataType", "dataType", "nonBlocking", "stream");
const RUN_CALL = call("stream", "enablePdl", "useFp16QkReduction");
const CREATE_CALL = call("useCudaGraph", "enablePdl");
const SCALES = ["qScale", "kScale", "vScale"] as const;
/** Both POD wrappers' run(): outputs, LSE switches and scales of both sides. */
const POD_RUN_OUTPUTS: ParamDecl[] = [
  sided("q", "P"), sided("q", "D"), sided("pagedKvCache", "D"), sided("customMask", "P"), sided("packedCustomMask", "P"),
  sided("customMask", "D"), sided("packedCustomMask", "D"), both("returnLse"), sided("returnLse", "P"), sided("returnLse", "D"),
  sided("out", "P"), sided("out", "D"), sided("lse", "P"), sided("lse", "D"), sided("kvLayout", "P"), sided("kvLayout", "D"),
  ...SCALES.flatMap((s) => [both(s), sided(s, "P"), sided(s, "D")]),
];
/** A one-sided kernel's run(): unsuffixed names of one side. */
function oneSidedRun(side: SideLetter): ParamDecl[] {
  return [named("q", side), named("pagedKvCache", side), named("out", side), named("lse", side), named("returnLse", side),
    ...SCALES.map((s) => named(s, side))];
}

/** The signatures of every call of the public API. */
export const SIGNATURES = {
  podCreate: new Signature("options", [...CREATE_CALL, ...(["pagedKvIndptrBuffer", "pagedKvIndicesBuffer", "pagedKvLastPageLenBuffer"] as const).map((o) => sided(o, "D", o))]),
  batchPodCreate: new Signature("options", [
    ...CREATE_CALL, sided("qoIndptrBuffer", "P"),
    ...(["pagedKvIndptrBuffer", "pagedKvIndicesBuffer", "pagedKvLastPageLenBuffer"] as const).flatMap((o) => [sided(o, "P"), sided(o, "D")]),
  ]),
  decodeCreate: new Signature("options", [
    ...CREATE_CALL, named("pagedKvIndptrBuffer", "D", "pagedKvIndptrBuffer", "pagedKvIndptrBuf"),
    named("pagedKvIndicesBuffer", "D", "pagedKvIndicesBuffer", "pagedKvIndicesBuf"),
    named("pagedKvLastPageLenBuffer", "D", "pagedKvLastPageLenBuffer", "pagedKvLastPageLenBuf"),
  ]),
  prefillCreate: new Signature("options", [
    ...CREATE_CALL, named("qoIndptrBuffer", "P", "qoIndptrBuffer", "qoIndptrBuf"), named("pagedKvIndptrBuffer", "P", "pagedKvIndptrBuffer", "pagedKvIndptrBuf"),
    named("pagedKvIndicesBuffer", "P", "pagedKvIndicesBuffer", "pagedKvIndicesBuf"),
    named("pagedKvLastPageLenBuffer", "P", "pagedKvLastPageLenBuffer", "pagedKvLastPageLenBuf"),
  ]),
  podPlan: new Signature("plan", [
    ...PLAN_CALL, ...call("launch"), named("kvIndptr", "D", "indptr"), named("kvIndices", "D", "indices"), named("lastPageLen", "D", "lastPageLen"),
    ...attention("D", "alsoUnsuffixed", DECODE_ATTENTION),
  ]),
  batchPodPlan: new Signature("plan", [
    ...PLAN_CALL, ...call("useFp16QkReduction", "launch"),
    ...(["qoIndptr", "kvIndptr", "kvIndices", "lastPageLen"] as const).flatMap((o) => [sided(o, "P"), sided(o, "D")]),
    ...attention("P", "suffixed"), ...attention("D", "suffixed", DECODE_ATTENTION),
  ]),
  decodePlan: new Signature("plan", [
    ...PLAN_CALL, named("kvIndptr", "D", "indptr"), named("kvIndices", "D", "indices"), named("lastPageLen", "D", "lastPageLen"),
    ...attention("D", "unsuffixed", DECODE_ATTENTION),
  ]),
  prefillPlan: new Signature("plan", [
    ...PLAN_CALL, ...call("useFp16QkReduction"), named("qoIndptr", "P", "qoIndptr"), named("kvIndptr", "P", "pagedKvIndptr"),
    named("kvIndices", "P", "pagedKvIndices"), named("lastPageLen", "P", "pagedKvLastPageLen"), ...attention("P", "unsuffixed"),
  ]),
  podRun: new Signature("run", [
    ...RUN_CALL, ...POD_RUN_OUTPUTS, sided("k", "P"), sided("v", "P"), ...attention("P", "suffixed"), ...attention("D", "suffixed"),
  ]),
  batchPodRun: new Signature("run", [
    ...RUN_CALL, ...POD_RUN_OUTPUTS, sided("pagedKvCache", "P"), ...attention("P", "suffixed"), ...attention("D", "suffixed"),
  ]),
  decodeRun: new Signature("run", [...RUN_CALL, ...oneSidedRun("D"), ...attention("D", "unsuffixed")]),
  prefillRun: new Signature("run", [
    ...RUN_CALL, ...oneSidedRun("P"), named("customMask", "P"), named("packedCustomMask", "P"), ...attention("P", "unsuffixed"),
  ]),
  singlePrefill: new Signature("options", [
    ...RUN_CALL, { option: "q", side: "P", names: ["q"], positional: true }, { option: "k", side: "P", names: ["k"], positional: true },
    { option: "v", side: "P", names: ["v"], positional: true }, named("out", "P"), named("lse", "P"), named("returnLse", "P"),
    ...SCALES.map((s) => named(s, "P")), named("customMask", "P"), named("packedCustomMask", "P"), named("kvLayout", "P"), ...attention("P", "unsuffixed"),
  ]),
} as const;
