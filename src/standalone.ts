/**
 * The kernels on their own, with FlashInfer's names: batch decode and batch prefill on a paged KV
 * cache, and single-request prefill. Each is a POD wrapper with the other side empty, so they share
 * the planner, the validation and the kernels with POD (and are the serial baseline POD is measured
 * against). Their options are the POD wrappers' without side suffix (options.ts maps them).
 */
import { Device } from "./device.ts";
import { invalid } from "./errors.ts";
import {
  SIGNATURES,
  type AttentionOptionsOf,
  type DecodeAttentionName,
  type HalfDType,
  type Int32s,
  type KvDType,
  type KvLayout,
  type PagedKvCache,
  type Spelled,
} from "./options.ts";
import {
  BatchPODWithPagedKVCacheWrapper,
  PLAN_WITH,
  PODWithPagedKVCacheWrapper,
  RUN_WITH,
  type LsePresence,
  type PodRunResult,
} from "./pod.ts";
import type { Stream } from "./stream.ts";
import { Tensor } from "./tensor.ts";

/** Attention options of one side, as FlashInfer's standalone wrappers spell them. */
export type AttentionOptions = AttentionOptionsOf<"", DecodeAttentionName>;

/** What run() returns: the output and, when asked for, the LSE (natural log, float32 [tokens, heads]). */
export interface AttentionResult {
  /** Like q. */
  out: Tensor;
  lse?: Tensor;
}

/** run()'s result for arguments A: `lse` is a Tensor with returnLse (or a given lse), absent without; disposable. */
export type AttentionOutputs<A> = { out: Tensor } & ("yes" extends LsePresence<A, "", "returnLse" | "return_lse", "lse">
  ? { lse: Tensor }
  : "maybe" extends LsePresence<A, "", "returnLse" | "return_lse", "lse">
    ? { lse?: Tensor }
    : { lse?: undefined }) &
  Disposable;

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
  /** Rejected when true: q.k is always reduced in fp32. */
  useFp16QkReduction?: boolean;
}

/** One side's result of a POD run, as a one-sided kernel returns it (it owns what the run allocated). */
function oneSide(r: PodRunResult & Disposable, side: "P" | "D"): AttentionResult & Disposable {
  const out = side === "P" ? r.oP : r.oD;
  const lse = side === "P" ? r.lseP : r.lseD;
  if (!out) throw invalid(`q: the ${side === "P" ? "prefill" : "decode"} queries are required`);
  const result: AttentionResult = lse ? { out, lse } : { out };
  Object.defineProperty(result, Symbol.dispose, { value: () => r[Symbol.dispose]() });
  return result as AttentionResult & Disposable;
}

/** plan()'s sizes and dtypes. */
interface PlanSizes {
  /** Query heads; a multiple of numKvHeads. */
  numQoHeads: number;
  numKvHeads: number;
  /** 64, 128 or 256. */
  headDim: number;
  pageSize: number;
  /** Default: the queries' dtype (float16 until a run() shows another). */
  qDataType?: HalfDType;
  /** Default qDataType; or "float8_e4m3fn" / "float8_e5m2" (dequantize with qScale/kScale/vScale in run). */
  kvDataType?: KvDType;
  /** FlashInfer's older name setting qDataType and kvDataType at once. */
  dataType?: HalfDType;
  /** false: plan() returns once its copies to the device are complete; true (default): it does not wait. */
  nonBlocking?: boolean;
  /** The stream that copies the page tables into the workspace. */
  stream?: Stream;
}

/** plan() of {@link BatchDecodeWithPagedKVCacheWrapper}: page tables, sizes and options. */
export interface BatchDecodePlanArgs extends PlanSizes, AttentionOptions {
  /** Page-table offsets [batch + 1]: request r owns indices[indptr[r] .. indptr[r + 1]). */
  indptr: Int32s;
  /** Page indices. */
  indices: Int32s;
  /** Tokens in each request's last page, 1..pageSize. */
  lastPageLen: Int32s;
}

/** run() of {@link BatchDecodeWithPagedKVCacheWrapper}; options repeated here must equal plan()'s. */
export interface BatchDecodeRunArgs extends RunOutputs, AttentionOptionsOf<""> {
  /** [batch, numQoHeads, headDim] */
  q: Tensor;
  /** The paged KV cache, in the wrapper's layout. */
  pagedKvCache: PagedKvCache;
}

/** Constructor options of BatchDecodeWithPagedKVCacheWrapper (FlashInfer's names; `…Buf` also accepted). */
export interface BatchDecodeWrapperOptions {
  /** CUDA graph mode (see docs/serving.md, "CUDA graphs"): needs the three fixed buffers below. */
  useCudaGraph?: boolean;
  /** Programmatic dependent launch default for run() (default: on where supported). */
  enablePdl?: boolean;
  /** int32 [batch + 1]; fixes the batch. */
  pagedKvIndptrBuffer?: Tensor;
  /** int32 [most pages a plan may use]. */
  pagedKvIndicesBuffer?: Tensor;
  /** int32 [batch]. */
  pagedKvLastPageLenBuffer?: Tensor;
  /** Another name of pagedKvIndptrBuffer. */
  pagedKvIndptrBuf?: Tensor;
  /** Another name of pagedKvIndicesBuffer. */
  pagedKvIndicesBuf?: Tensor;
  /** Another name of pagedKvLastPageLenBuffer. */
  pagedKvLastPageLenBuf?: Tensor;
}

/** Constructor options of BatchPrefillWithPagedKVCacheWrapper (`…Buf`, FlashInfer's names, also accepted). */
export interface BatchPrefillWrapperOptions {
  /** CUDA graph mode (see docs/serving.md, "CUDA graphs"): needs the four fixed buffers below. */
  useCudaGraph?: boolean;
  /** Programmatic dependent launch default for run() (default: on where supported). */
  enablePdl?: boolean;
  /** int32 [batch + 1]; fixes the batch (the total query count is fixed by the first plan). */
  qoIndptrBuffer?: Tensor;
  /** int32 [batch + 1]. */
  pagedKvIndptrBuffer?: Tensor;
  /** int32 [most pages a plan may use]. */
  pagedKvIndicesBuffer?: Tensor;
  /** int32 [batch]. */
  pagedKvLastPageLenBuffer?: Tensor;
  /** FlashInfer's name of qoIndptrBuffer. */
  qoIndptrBuf?: Tensor;
  /** FlashInfer's name of pagedKvIndptrBuffer. */
  pagedKvIndptrBuf?: Tensor;
  /** FlashInfer's name of pagedKvIndicesBuffer. */
  pagedKvIndicesBuf?: Tensor;
  /** FlashInfer's name of pagedKvLastPageLenBuffer. */
  pagedKvLastPageLenBuf?: Tensor;
}

/** Decode attention for a batch of requests on a paged KV cache (FlashInfer's wrapper of that name). */
export class BatchDecodeWithPagedKVCacheWrapper {
  private readonly pod: BatchPODWithPagedKVCacheWrapper;

  /**
   * @param floatWorkspaceBuffer a uint8 tensor on the device that runs the attention; one per wrapper.
   * @param options CUDA graph mode (`useCudaGraph` with the fixed buffers) and the PDL default; see {@link BatchDecodeWrapperOptions}.
   */
  constructor(floatWorkspaceBuffer: Tensor, kvLayout: KvLayout = "NHD", options: Spelled<BatchDecodeWrapperOptions> = {}) {
    this.pod = new BatchPODWithPagedKVCacheWrapper(floatWorkspaceBuffer, kvLayout, SIGNATURES.decodeCreate.read(options) as never);
  }

  /** Another workspace (see BatchPODWithPagedKVCacheWrapper.resetWorkspaceBuffer); plan again before run(). */
  resetWorkspaceBuffer(floatWorkspaceBuffer: Tensor, intWorkspaceBuffer?: Tensor | null): void {
    this.pod.resetWorkspaceBuffer(floatWorkspaceBuffer, intWorkspaceBuffer);
  }

  /** Plans from host page tables; copies them into the workspace. */
  plan(args: Spelled<BatchDecodePlanArgs>): void {
    this.pod[PLAN_WITH](SIGNATURES.decodePlan.read(args));
  }

  /** Decode attention of the planned requests; `using` the result frees what run() allocated. */
  run<const A extends Spelled<BatchDecodeRunArgs>>(args: A): AttentionOutputs<A> {
    const a = SIGNATURES.decodeRun.read(args);
    if (!a.has("qD")) throw invalid(`${a.name("qD")}: the decode queries are required`);
    return oneSide(this.pod[RUN_WITH](a, "paged"), "D") as AttentionOutputs<A>;
  }

  /** Throws when the plan in the workspace was overwritten (see BatchPODWithPagedKVCacheWrapper.check); waits for the device. */
  check(): void {
    this.pod.check();
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
export interface BatchPrefillPlanArgs extends PlanSizes, AttentionOptionsOf<""> {
  /** Query offsets of the requests [requests + 1]. */
  qoIndptr: Int32s;
  /** Page-table offsets [requests + 1]. */
  pagedKvIndptr: Int32s;
  /** Page indices. */
  pagedKvIndices: Int32s;
  /** Tokens in each request's last page, 1..pageSize. */
  pagedKvLastPageLen: Int32s;
  /** Rejected when true: q.k is always reduced in fp32. */
  useFp16QkReduction?: boolean;
}

/** run() of {@link BatchPrefillWithPagedKVCacheWrapper}; options repeated here must equal plan()'s. */
export interface BatchPrefillRunArgs extends RunOutputs, AttentionOptionsOf<""> {
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
  constructor(floatWorkspaceBuffer: Tensor, kvLayout: KvLayout = "NHD", options: Spelled<BatchPrefillWrapperOptions> = {}) {
    this.pod = new BatchPODWithPagedKVCacheWrapper(floatWorkspaceBuffer, kvLayout, SIGNATURES.prefillCreate.read(options) as never);
  }

  /** Another workspace (see BatchPODWithPagedKVCacheWrapper.resetWorkspaceBuffer); plan again before run(). */
  resetWorkspaceBuffer(floatWorkspaceBuffer: Tensor, intWorkspaceBuffer?: Tensor | null): void {
    this.pod.resetWorkspaceBuffer(floatWorkspaceBuffer, intWorkspaceBuffer);
  }

  /** Plans from host page tables; copies them into the workspace. */
  plan(args: Spelled<BatchPrefillPlanArgs>): void {
    this.pod[PLAN_WITH](SIGNATURES.prefillPlan.read(args));
  }

  /** Prefill attention of the planned requests; `using` the result frees what run() allocated. */
  run<const A extends Spelled<BatchPrefillRunArgs>>(args: A): AttentionOutputs<A> {
    const a = SIGNATURES.prefillRun.read(args);
    if (!a.has("qP")) throw invalid(`${a.name("qP")}: the prefill queries are required`);
    return oneSide(this.pod[RUN_WITH](a, "paged"), "P") as AttentionOutputs<A>;
  }

  /** Throws when the plan in the workspace was overwritten (see BatchPODWithPagedKVCacheWrapper.check); waits for the device. */
  check(): void {
    this.pod.check();
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
export interface SinglePrefillOptions extends AttentionOptionsOf<"">, RunOutputs {
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
    w.plan({ indptr: [0], indices: [], lastPageLen: [], numQoHeads: 1, numKvHeads: 1, headDim: 64, pageSize: 1, qDataType: "float16" });
    singleWrappers.set(device, w);
  }
  return w;
}

/**
 * Attention of one request with contiguous k/v: q [qoLen, numQoHeads, headDim], k/v
 * [kvLen, numKvHeads, headDim] (NHD) or [numKvHeads, kvLen, headDim] (HND). k and v are in q's
 * dtype or both in one fp8 dtype. `using` the result frees what the call allocated.
 */
export function singlePrefillWithKVCache<const A extends Spelled<SinglePrefillOptions> = {}>(q: Tensor, k: Tensor, v: Tensor, options?: A): AttentionOutputs<A> {
  const a = SIGNATURES.singlePrefill.read(options ?? {}, { qP: q, kP: k, vP: v });
  if (!(q instanceof Tensor)) throw invalid("q: expected a Tensor");
  return oneSide(singleWrapper(q.device)[RUN_WITH](a, "contiguous"), "P") as AttentionOutputs<A>;
}
