/**
 * The kernels on their own, with FlashInfer's names: batch decode and batch prefill on a paged KV
 * cache, and single-request prefill. Each is a POD wrapper with the other side empty, so they share
 * the planner, the validation and the kernels with POD (and are the serial baseline POD is measured
 * against).
 */
import { Device } from "./device.ts";
import { invalid } from "./errors.ts";
import {
  BatchPODWithPagedKVCacheWrapper,
  PODWithPagedKVCacheWrapper,
  type BatchWrapperOptions,
  type HalfDType,
  type KvDType,
  type KvLayout,
  type PagedKvCache,
} from "./pod.ts";
import type { PosEncoding } from "./reference.ts";
import type { Stream } from "./stream.ts";
import { Tensor } from "./tensor.ts";
import { knownKeys } from "./validate.ts";

/** Attention options of one side, as FlashInfer's standalone wrappers spell them. */
export interface AttentionOptions {
  /** "NONE" (default), "ROPE_LLAMA" or "ALIBI". */
  posEncodingMode?: PosEncoding;
  /** Keys more than this many positions before the query are hidden; -1 (default) = off. */
  windowLeft?: number;
  /** score = c·tanh(score / c) when c > 0; default 0 (off). */
  logitsSoftCap?: number;
  /** Scale of q·k; default 1/√headDim. */
  smScale?: number;
  /** RoPE position interpolation factor; default 1. */
  ropeScale?: number;
  /** RoPE base; default 1e4. */
  ropeTheta?: number;
}

/** What run() returns: the output and, when asked for, the LSE (natural log, float32 [tokens, heads]). */
export interface AttentionResult {
  /** Like q. */
  out: Tensor;
  lse?: Tensor;
}

interface RunOutputs {
  /** Preallocated output, like q; allocated when left out. */
  out?: Tensor | null;
  /** Preallocated LSE, float32 [tokens, numQoHeads]. */
  lse?: Tensor | null;
  /** Also return the LSE. */
  returnLse?: boolean;
  /** The stream to run on; default: the device's default stream. */
  stream?: Stream;
  /** Programmatic dependent launch for this call (default: on where the device supports it). */
  enablePdl?: boolean;
  /** Dequantization scales (meant for fp8 caches): scores use smScale·qScale·kScale, the output is multiplied by vScale. Default 1. */
  qScale?: number;
  kScale?: number;
  vScale?: number;
}

const RUN_OUTPUT_KEYS = ["out", "lse", "returnLse", "stream", "enablePdl", "qScale", "kScale", "vScale"] as const;

/** The run-time switches of RunOutputs that pass to the POD wrapper unchanged (it applies the scales to both sides). */
function passThrough(args: RunOutputs): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ["stream", "enablePdl", "qScale", "kScale", "vScale"] as const) if (args[key] !== undefined) out[key] = args[key];
  return out;
}

const OPTION_KEYS = ["posEncodingMode", "windowLeft", "logitsSoftCap", "smScale", "ropeScale", "ropeTheta"] as const;

/** Options renamed with a side suffix (P or D) for the POD wrappers. */
function suffixed(args: object, suffix: "P" | "D", keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const value = (args as Record<string, unknown>)[key];
    if (value !== undefined) out[key + suffix] = value;
  }
  return out;
}

/** plan() of {@link BatchDecodeWithPagedKVCacheWrapper}: page tables, sizes and options. */
export interface BatchDecodePlanArgs extends AttentionOptions {
  /** Page-table offsets [batch + 1]: request r owns indices[indptr[r] .. indptr[r + 1]). */
  indptr: Int32Array | readonly number[];
  /** Page indices. */
  indices: Int32Array | readonly number[];
  /** Tokens in each request's last page, 1..pageSize. */
  lastPageLen: Int32Array | readonly number[];
  /** Query heads; a multiple of numKvHeads. */
  numQoHeads: number;
  numKvHeads: number;
  /** 64, 128 or 256. */
  headDim: number;
  pageSize: number;
  /** Default "float16". */
  qDataType?: HalfDType;
  /** Default qDataType; or "float8_e4m3fn" / "float8_e5m2" (dequantize with qScale/kScale/vScale in run). */
  kvDataType?: KvDType;
  /** Accepted for FlashInfer compatibility: plan never waits for the device. */
  nonBlocking?: boolean;
  /** The stream that copies the page tables into the workspace. */
  stream?: Stream;
}

/** run() of {@link BatchDecodeWithPagedKVCacheWrapper}. */
export interface BatchDecodeRunArgs extends RunOutputs {
  /** [batch, numQoHeads, headDim] */
  q: Tensor;
  /** The paged KV cache, in the wrapper's layout. */
  pagedKvCache: PagedKvCache;
}

/** Constructor options of BatchDecodeWithPagedKVCacheWrapper (FlashInfer's names). */
export interface BatchDecodeWrapperOptions {
  /** CUDA graph mode (see the README, "Serving"): needs the three fixed buffers below. */
  useCudaGraph?: boolean;
  /** Programmatic dependent launch default for run() (default: on where supported). */
  enablePdl?: boolean;
  /** int32 [batch + 1]; fixes the batch. */
  pagedKvIndptrBuffer?: Tensor;
  /** int32 [most pages a plan may use]. */
  pagedKvIndicesBuffer?: Tensor;
  /** int32 [batch]. */
  pagedKvLastPageLenBuffer?: Tensor;
}

/** Constructor options of BatchPrefillWithPagedKVCacheWrapper (FlashInfer's names). */
export interface BatchPrefillWrapperOptions {
  /** CUDA graph mode (see the README, "Serving"): needs the four fixed buffers below. */
  useCudaGraph?: boolean;
  /** Programmatic dependent launch default for run() (default: on where supported). */
  enablePdl?: boolean;
  /** int32 [batch + 1]; fixes the batch (the total query count is fixed by the first plan). */
  qoIndptrBuf?: Tensor;
  /** int32 [batch + 1]. */
  pagedKvIndptrBuf?: Tensor;
  /** int32 [most pages a plan may use]. */
  pagedKvIndicesBuf?: Tensor;
  /** int32 [batch]. */
  pagedKvLastPageLenBuf?: Tensor;
}

/** Renames constructor options onto the batch POD wrapper's (one side's buffers). */
function podOptions(options: object, known: readonly string[], renames: Record<string, string>): BatchWrapperOptions {
  knownKeys("options", options, ["useCudaGraph", "enablePdl", ...known]);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (value !== undefined) out[renames[key] ?? key] = value;
  return out as BatchWrapperOptions;
}

const DECODE_BUFFER_NAMES = { pagedKvIndptrBuffer: "pagedKvIndptrBufferD", pagedKvIndicesBuffer: "pagedKvIndicesBufferD",
  pagedKvLastPageLenBuffer: "pagedKvLastPageLenBufferD" };
const PREFILL_BUFFER_NAMES = { qoIndptrBuf: "qoIndptrBufferP", pagedKvIndptrBuf: "pagedKvIndptrBufferP", pagedKvIndicesBuf: "pagedKvIndicesBufferP",
  pagedKvLastPageLenBuf: "pagedKvLastPageLenBufferP" };

/** Decode attention for a batch of requests on a paged KV cache (FlashInfer's wrapper of that name). */
export class BatchDecodeWithPagedKVCacheWrapper {
  private readonly pod: BatchPODWithPagedKVCacheWrapper;

  /**
   * @param floatWorkspaceBuffer a uint8 tensor on the device that runs the attention; one per wrapper.
   * @param options CUDA graph mode (`useCudaGraph` with the fixed buffers) and the PDL default; see {@link BatchDecodeWrapperOptions}.
   */
  constructor(floatWorkspaceBuffer: Tensor, kvLayout: KvLayout = "NHD", options: BatchDecodeWrapperOptions = {}) {
    this.pod = new BatchPODWithPagedKVCacheWrapper(floatWorkspaceBuffer, kvLayout,
      podOptions(options, Object.keys(DECODE_BUFFER_NAMES), DECODE_BUFFER_NAMES));
  }

  /** Another workspace (see BatchPODWithPagedKVCacheWrapper.resetWorkspaceBuffer); plan again before run(). */
  resetWorkspaceBuffer(floatWorkspaceBuffer: Tensor, intWorkspaceBuffer?: Tensor | null): void {
    this.pod.resetWorkspaceBuffer(floatWorkspaceBuffer, intWorkspaceBuffer);
  }

  /** Plans from host page tables; copies them into the workspace. */
  plan(args: BatchDecodePlanArgs): void {
    knownKeys("plan", args, ["indptr", "indices", "lastPageLen", "numQoHeads", "numKvHeads", "headDim", "pageSize", "qDataType", "kvDataType",
      "nonBlocking", "stream", ...OPTION_KEYS]);
    this.pod.plan({
      qoIndptrP: [0], kvIndptrP: [0], kvIndicesP: [], lastPageLenP: [],
      kvIndptrD: args.indptr, kvIndicesD: args.indices, lastPageLenD: args.lastPageLen,
      numQoHeads: args.numQoHeads, numKvHeads: args.numKvHeads, headDim: args.headDim, pageSize: args.pageSize,
      ...(args.qDataType ? { qDataType: args.qDataType } : {}), ...(args.kvDataType ? { kvDataType: args.kvDataType } : {}),
      ...(args.stream ? { stream: args.stream } : {}), ...(args.nonBlocking !== undefined ? { nonBlocking: args.nonBlocking } : {}),
      ...suffixed(args, "D", OPTION_KEYS),
    });
  }

  /** Decode attention of the planned requests. */
  run(args: BatchDecodeRunArgs): AttentionResult {
    knownKeys("run", args, ["q", "pagedKvCache", ...RUN_OUTPUT_KEYS]);
    if (!args.q) throw invalid("q: the decode queries are required");
    const r = this.pod.run({
      qD: args.q, pagedKvCacheD: args.pagedKvCache, outD: args.out ?? null, lseD: args.lse ?? null, returnLseD: args.returnLse ?? false,
      ...passThrough(args),
    });
    return r.lseD ? { out: r.oD!, lse: r.lseD } : { out: r.oD! };
  }

  /** Releases the wrapper (idempotent; not the workspace). */
  destroy(): void {
    this.pod.destroy();
  }

  [Symbol.dispose](): void {
    this.destroy();
  }
}

/** plan() of {@link BatchPrefillWithPagedKVCacheWrapper}: page tables, sizes and options. */
export interface BatchPrefillPlanArgs extends AttentionOptions {
  /** Query offsets of the requests [requests + 1]. */
  qoIndptr: Int32Array | readonly number[];
  /** Page-table offsets [requests + 1]. */
  pagedKvIndptr: Int32Array | readonly number[];
  /** Page indices. */
  pagedKvIndices: Int32Array | readonly number[];
  /** Tokens in each request's last page, 1..pageSize. */
  pagedKvLastPageLen: Int32Array | readonly number[];
  /** Query heads; a multiple of numKvHeads. */
  numQoHeads: number;
  numKvHeads: number;
  /** 64, 128 or 256. */
  headDim: number;
  pageSize: number;
  /** Hide keys after each query's position (a request's queries are the last of its keys). */
  causal?: boolean;
  /** Default "float16". */
  qDataType?: HalfDType;
  /** Default qDataType; or "float8_e4m3fn" / "float8_e5m2" (dequantize with qScale/kScale/vScale in run). */
  kvDataType?: KvDType;
  /** Accepted for FlashInfer compatibility: plan never waits for the device. */
  nonBlocking?: boolean;
  /** The stream that copies the page tables into the workspace. */
  stream?: Stream;
  /** Rejected when true: q.k is always reduced in fp32. */
  useFp16QkReduction?: boolean;
}

/** run() of {@link BatchPrefillWithPagedKVCacheWrapper}. */
export interface BatchPrefillRunArgs extends RunOutputs {
  /** [sum qoLen, numQoHeads, headDim] */
  q: Tensor;
  /** The paged KV cache, in the wrapper's layout. */
  pagedKvCache: PagedKvCache;
  /** Mask instead of causal: bool/uint8 [qoLen, kvLen] per request, flattened; true = visible. */
  customMask?: Tensor | null;
  /** The same mask bit-packed (uint8, little-endian bits, each request starting on a byte). */
  packedCustomMask?: Tensor | null;
}

/** Prefill attention for a batch of requests on a paged KV cache (FlashInfer's wrapper of that name). */
export class BatchPrefillWithPagedKVCacheWrapper {
  private readonly pod: BatchPODWithPagedKVCacheWrapper;

  /**
   * @param floatWorkspaceBuffer a uint8 tensor on the device that runs the attention; one per wrapper.
   * @param options CUDA graph mode (`useCudaGraph` with the fixed buffers) and the PDL default; see {@link BatchPrefillWrapperOptions}.
   */
  constructor(floatWorkspaceBuffer: Tensor, kvLayout: KvLayout = "NHD", options: BatchPrefillWrapperOptions = {}) {
    this.pod = new BatchPODWithPagedKVCacheWrapper(floatWorkspaceBuffer, kvLayout,
      podOptions(options, Object.keys(PREFILL_BUFFER_NAMES), PREFILL_BUFFER_NAMES));
  }

  /** Another workspace (see BatchPODWithPagedKVCacheWrapper.resetWorkspaceBuffer); plan again before run(). */
  resetWorkspaceBuffer(floatWorkspaceBuffer: Tensor, intWorkspaceBuffer?: Tensor | null): void {
    this.pod.resetWorkspaceBuffer(floatWorkspaceBuffer, intWorkspaceBuffer);
  }

  /** Plans from host page tables; copies them into the workspace. */
  plan(args: BatchPrefillPlanArgs): void {
    knownKeys("plan", args, ["qoIndptr", "pagedKvIndptr", "pagedKvIndices", "pagedKvLastPageLen", "numQoHeads", "numKvHeads", "headDim",
      "pageSize", "causal", "qDataType", "kvDataType", "nonBlocking", "stream", "useFp16QkReduction", ...OPTION_KEYS]);
    this.pod.plan({
      qoIndptrP: args.qoIndptr, kvIndptrP: args.pagedKvIndptr, kvIndicesP: args.pagedKvIndices, lastPageLenP: args.pagedKvLastPageLen,
      kvIndptrD: [0], kvIndicesD: [], lastPageLenD: [],
      numQoHeads: args.numQoHeads, numKvHeads: args.numKvHeads, headDim: args.headDim, pageSize: args.pageSize,
      ...(args.qDataType ? { qDataType: args.qDataType } : {}), ...(args.kvDataType ? { kvDataType: args.kvDataType } : {}),
      ...(args.stream ? { stream: args.stream } : {}), ...(args.nonBlocking !== undefined ? { nonBlocking: args.nonBlocking } : {}),
      ...(args.useFp16QkReduction !== undefined ? { useFp16QkReduction: args.useFp16QkReduction } : {}),
      ...suffixed(args, "P", [...OPTION_KEYS, "causal"]),
    });
  }

  /** Prefill attention of the planned requests. */
  run(args: BatchPrefillRunArgs): AttentionResult {
    knownKeys("run", args, ["q", "pagedKvCache", "customMask", "packedCustomMask", ...RUN_OUTPUT_KEYS]);
    if (!args.q) throw invalid("q: the prefill queries are required");
    const r = this.pod.run({
      qP: args.q, pagedKvCacheP: args.pagedKvCache, customMaskP: args.customMask ?? null, packedCustomMaskP: args.packedCustomMask ?? null,
      outP: args.out ?? null, lseP: args.lse ?? null, returnLseP: args.returnLse ?? false, ...passThrough(args),
    });
    return r.lseP ? { out: r.oP!, lse: r.lseP } : { out: r.oP! };
  }

  /** Releases the wrapper (idempotent; not the workspace). */
  destroy(): void {
    this.pod.destroy();
  }

  [Symbol.dispose](): void {
    this.destroy();
  }
}

/** Options of {@link singlePrefillWithKVCache}. */
export interface SinglePrefillOptions extends AttentionOptions, RunOutputs {
  /** Hide keys after each query's position (the queries are the last qoLen of kvLen tokens). */
  causal?: boolean;
  /** Layout of k and v: [kvLen, numKvHeads, headDim] (NHD, default) or [numKvHeads, kvLen, headDim]. */
  kvLayout?: KvLayout;
  /** Mask instead of causal: bool/uint8 [qoLen, kvLen]; true = visible. */
  customMask?: Tensor | null;
  /** The same mask bit-packed (uint8, little-endian bits). */
  packedCustomMask?: Tensor | null;
}

// One wrapper per device, planned with no decode request; reused by every call.
const singleWrappers = new Map<Device, PODWithPagedKVCacheWrapper>();

function singleWrapper(device: Device): PODWithPagedKVCacheWrapper {
  let w = singleWrappers.get(device);
  if (!w) {
    w = new PODWithPagedKVCacheWrapper(Tensor.empty([4096], "uint8", { device }), "NHD");
    w.plan({ indptr: [0], indices: [], lastPageLen: [], numQoHeads: 1, numKvHeads: 1, headDim: 64, pageSize: 1 });
    singleWrappers.set(device, w);
  }
  return w;
}

/**
 * Attention of one request with contiguous k/v: q [qoLen, numQoHeads, headDim], k/v
 * [kvLen, numKvHeads, headDim] (NHD) or [numKvHeads, kvLen, headDim] (HND). k and v are in q's
 * dtype or both in one fp8 dtype.
 */
export function singlePrefillWithKVCache(q: Tensor, k: Tensor, v: Tensor, options: SinglePrefillOptions = {}): AttentionResult {
  knownKeys("options", options, ["causal", "kvLayout", "customMask", "packedCustomMask", ...RUN_OUTPUT_KEYS, ...OPTION_KEYS]);
  if (!(q instanceof Tensor)) throw invalid("q: expected a Tensor");
  const r = singleWrapper(q.device).run({
    qP: q, kP: k, vP: v, ...suffixed(options, "P", [...OPTION_KEYS, "causal"]),
    ...(options.kvLayout ? { kvLayoutP: options.kvLayout } : {}),
    customMaskP: options.customMask ?? null, packedCustomMaskP: options.packedCustomMask ?? null,
    outP: options.out ?? null, lseP: options.lse ?? null, returnLseP: options.returnLse ?? false, ...passThrough(options),
  });
  return r.lseP ? { out: r.oP!, lse: r.lseP } : { out: r.oP! };
}
