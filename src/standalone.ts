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
  type KvLayout,
  type PagedKvCache,
} from "./pod.ts";
import type { PosEncoding } from "./reference.ts";
import type { Stream } from "./stream.ts";
import { Tensor } from "./tensor.ts";
import { knownKeys } from "./validate.ts";

/** Attention options of one side, as FlashInfer's standalone wrappers spell them. */
export interface AttentionOptions {
  posEncodingMode?: PosEncoding;
  windowLeft?: number;
  logitsSoftCap?: number;
  smScale?: number;
  ropeScale?: number;
  ropeTheta?: number;
}

/** What run() returns: the output and, when asked for, the LSE (natural log, float32 [tokens, heads]). */
export interface AttentionResult {
  out: Tensor;
  lse?: Tensor;
}

interface RunOutputs {
  out?: Tensor | null;
  lse?: Tensor | null;
  returnLse?: boolean;
  stream?: Stream;
  /** Programmatic dependent launch for this call (default: on where the device supports it). */
  enablePdl?: boolean;
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

export interface BatchDecodePlanArgs extends AttentionOptions {
  indptr: Int32Array | readonly number[];
  indices: Int32Array | readonly number[];
  lastPageLen: Int32Array | readonly number[];
  numQoHeads: number;
  numKvHeads: number;
  headDim: number;
  pageSize: number;
  qDataType?: HalfDType;
  kvDataType?: HalfDType;
  nonBlocking?: boolean;
  stream?: Stream;
}

export interface BatchDecodeRunArgs extends RunOutputs {
  /** [batch, numQoHeads, headDim] */
  q: Tensor;
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
  enablePdl?: boolean;
  /** int32 [batch + 1]; fixes the batch (the total query count is fixed by the first plan). */
  qoIndptrBuf?: Tensor;
  pagedKvIndptrBuf?: Tensor;
  pagedKvIndicesBuf?: Tensor;
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

  constructor(floatWorkspaceBuffer: Tensor, kvLayout: KvLayout = "NHD", options: BatchDecodeWrapperOptions = {}) {
    this.pod = new BatchPODWithPagedKVCacheWrapper(floatWorkspaceBuffer, kvLayout,
      podOptions(options, Object.keys(DECODE_BUFFER_NAMES), DECODE_BUFFER_NAMES));
  }

  /** Another workspace (see BatchPODWithPagedKVCacheWrapper.resetWorkspaceBuffer); plan again before run(). */
  resetWorkspaceBuffer(floatWorkspaceBuffer: Tensor, intWorkspaceBuffer?: Tensor | null): void {
    this.pod.resetWorkspaceBuffer(floatWorkspaceBuffer, intWorkspaceBuffer);
  }

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

  run(args: BatchDecodeRunArgs): AttentionResult {
    knownKeys("run", args, ["q", "pagedKvCache", "out", "lse", "returnLse", "stream", "enablePdl"]);
    if (!args.q) throw invalid("q: the decode queries are required");
    const r = this.pod.run({
      qD: args.q, pagedKvCacheD: args.pagedKvCache, outD: args.out ?? null, lseD: args.lse ?? null, returnLseD: args.returnLse ?? false,
      ...(args.stream ? { stream: args.stream } : {}), ...(args.enablePdl !== undefined ? { enablePdl: args.enablePdl } : {}),
    });
    return r.lseD ? { out: r.oD!, lse: r.lseD } : { out: r.oD! };
  }

  destroy(): void {
    this.pod.destroy();
  }

  [Symbol.dispose](): void {
    this.destroy();
  }
}

export interface BatchPrefillPlanArgs extends AttentionOptions {
  qoIndptr: Int32Array | readonly number[];
  pagedKvIndptr: Int32Array | readonly number[];
  pagedKvIndices: Int32Array | readonly number[];
  pagedKvLastPageLen: Int32Array | readonly number[];
  numQoHeads: number;
  numKvHeads: number;
  headDim: number;
  pageSize: number;
  causal?: boolean;
  qDataType?: HalfDType;
  kvDataType?: HalfDType;
  nonBlocking?: boolean;
  stream?: Stream;
  /** Rejected when true: q.k is always reduced in fp32. */
  useFp16QkReduction?: boolean;
}

export interface BatchPrefillRunArgs extends RunOutputs {
  /** [sum qoLen, numQoHeads, headDim] */
  q: Tensor;
  pagedKvCache: PagedKvCache;
  customMask?: Tensor | null;
  packedCustomMask?: Tensor | null;
}

/** Prefill attention for a batch of requests on a paged KV cache (FlashInfer's wrapper of that name). */
export class BatchPrefillWithPagedKVCacheWrapper {
  private readonly pod: BatchPODWithPagedKVCacheWrapper;

  constructor(floatWorkspaceBuffer: Tensor, kvLayout: KvLayout = "NHD", options: BatchPrefillWrapperOptions = {}) {
    this.pod = new BatchPODWithPagedKVCacheWrapper(floatWorkspaceBuffer, kvLayout,
      podOptions(options, Object.keys(PREFILL_BUFFER_NAMES), PREFILL_BUFFER_NAMES));
  }

  /** Another workspace (see BatchPODWithPagedKVCacheWrapper.resetWorkspaceBuffer); plan again before run(). */
  resetWorkspaceBuffer(floatWorkspaceBuffer: Tensor, intWorkspaceBuffer?: Tensor | null): void {
    this.pod.resetWorkspaceBuffer(floatWorkspaceBuffer, intWorkspaceBuffer);
  }

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

  run(args: BatchPrefillRunArgs): AttentionResult {
    knownKeys("run", args, ["q", "pagedKvCache", "customMask", "packedCustomMask", "out", "lse", "returnLse", "stream", "enablePdl"]);
    if (!args.q) throw invalid("q: the prefill queries are required");
    const r = this.pod.run({
      qP: args.q, pagedKvCacheP: args.pagedKvCache, customMaskP: args.customMask ?? null, packedCustomMaskP: args.packedCustomMask ?? null,
      outP: args.out ?? null, lseP: args.lse ?? null, returnLseP: args.returnLse ?? false, ...(args.stream ? { stream: args.stream } : {}),
      ...(args.enablePdl !== undefined ? { enablePdl: args.enablePdl } : {}),
    });
    return r.lseP ? { out: r.oP!, lse: r.lseP } : { out: r.oP! };
  }

  destroy(): void {
    this.pod.destroy();
  }

  [Symbol.dispose](): void {
    this.destroy();
  }
}

export interface SinglePrefillOptions extends AttentionOptions, RunOutputs {
  causal?: boolean;
  /** Layout of k and v: [kvLen, numKvHeads, headDim] (NHD, default) or [numKvHeads, kvLen, headDim]. */
  kvLayout?: KvLayout;
  customMask?: Tensor | null;
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
 * [kvLen, numKvHeads, headDim] (NHD) or [numKvHeads, kvLen, headDim] (HND).
 */
export function singlePrefillWithKVCache(q: Tensor, k: Tensor, v: Tensor, options: SinglePrefillOptions = {}): AttentionResult {
  knownKeys("options", options, ["causal", "kvLayout", "customMask", "packedCustomMask", "out", "lse", "returnLse", "stream", "enablePdl",
    ...OPTION_KEYS]);
  if (!(q instanceof Tensor)) throw invalid("q: expected a Tensor");
  const r = singleWrapper(q.device).run({
    qP: q, kP: k, vP: v, ...suffixed(options, "P", [...OPTION_KEYS, "causal"]),
    ...(options.kvLayout ? { kvLayoutP: options.kvLayout } : {}),
    customMaskP: options.customMask ?? null, packedCustomMaskP: options.packedCustomMask ?? null,
    outP: options.out ?? null, lseP: options.lse ?? null, returnLseP: options.returnLse ?? false,
    ...(options.stream ? { stream: options.stream } : {}), ...(options.enablePdl !== undefined ? { enablePdl: options.enablePdl } : {}),
  });
  return r.lseP ? { out: r.oP!, lse: r.lseP } : { out: r.oP! };
}
