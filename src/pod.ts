/**
 * The POD wrappers: FlashInfer's `PODWithPagedKVCacheWrapper` and `BatchPODWithPagedKVCacheWrapper`
 * with camelCase options (FlashInfer's snake_case spellings are accepted too; options.ts declares
 * every name). Validation and planning happen in C (libpod); this module turns JavaScript arguments
 * into the ABI's structs, rejects what C cannot see (unknown keys, non-integers), allocates outputs
 * that the caller did not provide and names arguments in C's messages as the caller wrote them.
 */
import { CREATE_ARGS, GRAPH_BUFFERS, PLAN_ARGS, RUN_ARGS, StructBuffer, TABLE, TENSOR } from "./abi.ts";
import type { Device } from "./device.ts";
import { DTYPE_CODE } from "./dtype.ts";
import { KV_LAYOUT, LAUNCH, LAUNCH_CHOICE, MASK_KIND, UNSET, WRAPPER_KIND } from "./enums.ts";
import { check, invalid, PodError, Status, type ArgumentNames } from "./errors.ts";
import { lib } from "./ffi.ts";
import {
  Args,
  checkValue,
  HALF_TYPES,
  SIGNATURES,
  type AttentionOptionsOf,
  type DecodeAttentionName,
  type HalfDType,
  type Int32s,
  type KvDType,
  type KvLayout,
  type LaunchChoice,
  type PagedKvCache,
  type Spelled,
} from "./options.ts";
import { Stream, streamHandle } from "./stream.ts";
import { Tensor } from "./tensor.ts";
import { describe, int32Array, optionalChoice } from "./validate.ts";

export type { HalfDType, KvDType, KvLayout, PagedKvCache } from "./options.ts";

/** Options of every wrapper's constructor. */
interface CommonWrapperOptions {
  /**
   * CUDA graph mode: run() may be captured into a graph, and plan() keeps everything the graph holds
   * (addresses, launch shapes), so replays compute with each new plan. Each paged side needs its fixed
   * buffers; their lengths fix its batch (see docs/serving.md, "CUDA graphs").
   */
  useCudaGraph?: boolean;
  /**
   * Programmatic dependent launch for run() (a run() argument overrides it): kernels may start while
   * the kernel before them drains. Default: on where the device supports it (sm_90+).
   */
  enablePdl?: boolean;
}

/**
 * Options of PODWithPagedKVCacheWrapper: the decode side's fixed int32 buffers in CUDA graph mode,
 * written by each plan() and read by the kernels. Each also goes by FlashInfer's unsuffixed name
 * (pagedKvIndptrBuffer, …) and by the snake_case spellings.
 */
export interface WrapperOptions extends CommonWrapperOptions {
  /** Decode: int32 [batch + 1]; fixes the batch. */
  pagedKvIndptrBufferD?: Tensor;
  /** Decode: int32 [most pages a plan may use]. */
  pagedKvIndicesBufferD?: Tensor;
  /** Decode: int32 [batch]. */
  pagedKvLastPageLenBufferD?: Tensor;
  /** FlashInfer's name of pagedKvIndptrBufferD. */
  pagedKvIndptrBuffer?: Tensor;
  /** FlashInfer's name of pagedKvIndicesBufferD. */
  pagedKvIndicesBuffer?: Tensor;
  /** FlashInfer's name of pagedKvLastPageLenBufferD. */
  pagedKvLastPageLenBuffer?: Tensor;
}

/** Options of BatchPODWithPagedKVCacheWrapper: fixed buffers of both sides in CUDA graph mode. */
export interface BatchWrapperOptions extends CommonWrapperOptions {
  /** Prefill: int32 [requests + 1]; fixes the batch (the total query count is fixed by the first plan). */
  qoIndptrBufferP?: Tensor;
  /** Prefill: int32 [requests + 1]. */
  pagedKvIndptrBufferP?: Tensor;
  /** Prefill: int32 [most pages a plan may use]. */
  pagedKvIndicesBufferP?: Tensor;
  /** Prefill: int32 [requests]. */
  pagedKvLastPageLenBufferP?: Tensor;
  /** Decode: int32 [batch + 1]; fixes the batch. */
  pagedKvIndptrBufferD?: Tensor;
  /** Decode: int32 [most pages a plan may use]. */
  pagedKvIndicesBufferD?: Tensor;
  /** Decode: int32 [batch]. */
  pagedKvLastPageLenBufferD?: Tensor;
}

/** How a run() launched its work (see {@link PodRunResult.launch}). */
export type PodLaunch = "none" | "cpu" | "one-side" | "serial" | "fused";
const LAUNCH_NAMES: Record<number, PodLaunch> = {
  [LAUNCH.NONE]: "none", [LAUNCH.CPU]: "cpu", [LAUNCH.ONE_SIDE]: "one-side", [LAUNCH.SERIAL]: "serial", [LAUNCH.FUSED]: "fused",
};

/** The outputs of run() of a POD wrapper. A side that was not given has no output. */
export interface PodRunResult {
  /** Prefill output, like qP. */
  oP?: Tensor;
  /** Decode output, like qD. */
  oD?: Tensor;
  /** Prefill log-sum-exp (natural log), float32 [tokens, numQoHeads], when requested. */
  lseP?: Tensor;
  /** Decode log-sum-exp (natural log), float32 [batch, numQoHeads], when requested. */
  lseD?: Tensor;
  /**
   * How the work was launched: "fused" (both sides in one launch), "serial" (both sides, their own
   * kernels back to back: the faster way for this work on this device), "one-side" (only one side had
   * work), "cpu" (the CPU backend) or "none" (nothing to compute).
   */
  launch: PodLaunch;
}

// ---- result types that follow the arguments: an output is a Tensor when its input was given, an LSE
// when returnLse* was true or an LSE tensor was passed, and absent when neither.
type Presence = "yes" | "maybe" | "no";
type FlagOf<A, K> = K extends keyof A ? (A[K] extends true ? "yes" : A[K] extends false | null | undefined ? "no" : "maybe") : "no";
type TensorOf<A, K> = K extends keyof A ? (A[K] extends Tensor ? "yes" : A[K] extends null | undefined ? "no" : "maybe") : "no";
type Field<P extends Presence, Name extends string> = "yes" extends P
  ? { [N in Name]: Tensor }
  : "maybe" extends P
    ? { [N in Name]?: Tensor }
    : { [N in Name]?: undefined };
/** Whether the LSE of side S comes back, for run() arguments A (FlashInfer's spellings included). */
export type LsePresence<A, S extends string, Flags extends string, Tensors extends string> = FlagOf<A, Flags | `returnLse${S}`> | TensorOf<A, Tensors>;
/** run()'s result for arguments A: disposing it releases the tensors run() allocated. */
export type PodRunOutputs<A> = { launch: PodLaunch } & Field<TensorOf<A, "qP" | "q_p">, "oP"> & Field<TensorOf<A, "qD" | "q_d">, "oD"> &
  Field<LsePresence<A, "P", "returnLse" | "return_lse" | "return_lse_p", "lseP" | "lse_p">, "lseP"> &
  Field<LsePresence<A, "D", "returnLse" | "return_lse" | "return_lse_d", "lseD" | "lse_d">, "lseD"> & Disposable;

/**
 * Outputs and run-time switches shared by both wrappers' run(). The decode options (windowLeftD, …)
 * belong to plan(); given here they must equal the plan's.
 */
interface CommonRunArgs extends AttentionOptionsOf<"D"> {
  /** Decode queries [batch, numQoHeads, headDim], one per planned request; omit for no decode side. */
  qD?: Tensor | null;
  /** The decode side's paged KV cache (layout of the wrapper's kvLayout). */
  pagedKvCacheD?: PagedKvCache | null;
  /** Prefill mask instead of causal: bool/uint8 [qoLen, kvLen] per request, flattened; true = visible. */
  customMaskP?: Tensor | null;
  /** The same mask bit-packed (uint8, little-endian bits, each request starting on a byte). */
  packedCustomMaskP?: Tensor | null;
  /** Also return the prefill LSE (allocated unless lseP is given). */
  returnLseP?: boolean;
  /** Also return the decode LSE (allocated unless lseD is given). */
  returnLseD?: boolean;
  /** Both sides' returnLse* at once (a side's own switch wins). */
  returnLse?: boolean;
  /** Preallocated prefill output, like qP; allocated when left out. */
  outP?: Tensor | null;
  /** Preallocated decode output, like qD; allocated when left out. */
  outD?: Tensor | null;
  /** Preallocated prefill LSE, float32 [tokens, numQoHeads]. */
  lseP?: Tensor | null;
  /** Preallocated decode LSE, float32 [batch, numQoHeads]. */
  lseD?: Tensor | null;
  /** The stream to run on; default: the device's default stream. */
  stream?: Stream;
  /** FlashInfer's decode-side layout: accepted when it is the wrapper's. */
  kvLayoutD?: KvLayout;
  /** Rejected: custom masks apply to the prefill side only. */
  customMaskD?: never;
  /** Rejected: custom masks apply to the prefill side only. */
  packedCustomMaskD?: never;
  /**
   * Dequantization scales of both sides (meant for fp8 caches, honoured for every dtype): scores use
   * smScale·qScale·kScale and the output is multiplied by vScale. Default 1.
   */
  qScale?: number;
  kScale?: number;
  vScale?: number;
  /** Prefill-side scales, overriding qScale/kScale/vScale there. */
  qScaleP?: number;
  kScaleP?: number;
  vScaleP?: number;
  /** Decode-side scales, overriding qScale/kScale/vScale there. */
  qScaleD?: number;
  kScaleD?: number;
  vScaleD?: number;
  /** Rejected when true: q.k is always reduced in fp32. */
  useFp16QkReduction?: boolean;
  /** Programmatic dependent launch for this call (default: the wrapper's enablePdl). */
  enablePdl?: boolean;
}

/** plan()'s sizes and dtypes, shared by every wrapper. */
interface CommonPlanArgs {
  /** Query heads; a multiple of numKvHeads (grouped-query attention). */
  numQoHeads: number;
  numKvHeads: number;
  /** 64, 128 or 256. */
  headDim: number;
  /** Tokens per page of the paged caches, ≥ 1. */
  pageSize: number;
  /**
   * dtype of q (and of the caches unless kvDataType says otherwise). Default: the queries' dtype —
   * left out, plan() assumes that of the last run() (float16 at first) and the next run() plans
   * again if its queries have the other one.
   */
  qDataType?: HalfDType;
  /** dtype of the paged KV caches: qDataType (default), "float8_e4m3fn" or "float8_e5m2". */
  kvDataType?: KvDType;
  /** FlashInfer's older name setting qDataType and kvDataType at once. */
  dataType?: HalfDType;
  /** false: plan() returns once its copies to the device are complete; true (default): it does not wait for them. */
  nonBlocking?: boolean;
  /** The stream that copies the page tables into the workspace. */
  stream?: Stream;
}

/** plan() of both POD wrappers. */
interface PodCommonPlanArgs extends CommonPlanArgs {
  /** How run() launches the two sides: "auto" (default), "fused" or "serial" (see {@link LaunchChoice}). */
  launch?: LaunchChoice;
}

/**
 * plan() of {@link PODWithPagedKVCacheWrapper}: the decode side's page tables and options. Each
 * decode option goes by its D-suffixed name (windowLeftD) or FlashInfer's unsuffixed one (windowLeft).
 */
export interface PodPlanArgs extends PodCommonPlanArgs, AttentionOptionsOf<"D", DecodeAttentionName>, AttentionOptionsOf<"", DecodeAttentionName> {
  /** Decode side: page-table indptr [batch + 1]. */
  indptr: Int32s;
  /** Decode side: page indices. */
  indices: Int32s;
  /** Decode side: tokens in each request's last page, 1..pageSize. */
  lastPageLen: Int32s;
}

/** run() of {@link PODWithPagedKVCacheWrapper}: both sides' tensors and the prefill options. */
export interface PodRunArgs extends CommonRunArgs, AttentionOptionsOf<"P"> {
  /** Prefill queries [qoLen, numQoHeads, headDim]; omit (or zero tokens) for no prefill. */
  qP?: Tensor | null;
  /** Prefill keys, [kvLen, numKvHeads, headDim] (NHD) or [numKvHeads, kvLen, headDim] (HND). */
  kP?: Tensor | null;
  /** Prefill values, shaped like kP. */
  vP?: Tensor | null;
  /** Layout of kP/vP; default the wrapper's kvLayout. */
  kvLayoutP?: KvLayout;
}

/** plan() of {@link BatchPODWithPagedKVCacheWrapper}: page tables and options of both sides. */
export interface BatchPodPlanArgs extends PodCommonPlanArgs, AttentionOptionsOf<"P">, AttentionOptionsOf<"D", DecodeAttentionName> {
  /** Prefill side: query offsets of the requests [requests + 1]. */
  qoIndptrP: Int32s;
  /** Prefill side: page-table offsets [requests + 1]. */
  kvIndptrP: Int32s;
  /** Prefill side: page indices. */
  kvIndicesP: Int32s;
  /** Prefill side: tokens in each request's last page, 1..pageSize. */
  lastPageLenP: Int32s;
  /** Decode side; if given, must be [0, 1, ..., batch] (one query per request). */
  qoIndptrD?: Int32s;
  /** Decode side: page-table offsets [batch + 1]. */
  kvIndptrD: Int32s;
  /** Decode side: page indices. */
  kvIndicesD: Int32s;
  /** Decode side: tokens in each request's last page, 1..pageSize. */
  lastPageLenD: Int32s;
  /** Rejected when true: q.k is always reduced in fp32. */
  useFp16QkReduction?: boolean;
}

/** run() of {@link BatchPODWithPagedKVCacheWrapper}; prefill options repeated here must equal plan()'s. */
export interface BatchPodRunArgs extends CommonRunArgs, AttentionOptionsOf<"P"> {
  /** Prefill queries of all requests [sum qoLen, numQoHeads, headDim]. */
  qP?: Tensor | null;
  /** The prefill side's paged KV cache. */
  pagedKvCacheP?: PagedKvCache | null;
  /** Accepted when it is the wrapper's layout. */
  kvLayoutP?: KvLayout;
}

/** The argument readers of the standalone kernels (not exported from the package). */
export const PLAN_WITH = Symbol("plan with read arguments");
export const RUN_WITH = Symbol("run with read arguments");

function tensorArg(a: Args, key: string): Tensor | undefined {
  return tensorValue(a.name(key), a.raw(key));
}

function tensorValue(name: string, value: unknown): Tensor | undefined {
  if (value === undefined || value === null) return undefined;
  if (!(value instanceof Tensor)) throw invalid(`${name}: expected a Tensor, got ${describe(value)}`);
  if (value.destroyed) throw invalid(`${name}: the tensor was destroyed`);
  return value;
}

function pagedCacheArg(a: Args, key: string): [Tensor | undefined, Tensor | undefined] {
  const value = a.raw(key);
  const name = a.name(key);
  if (value === undefined || value === null) return [undefined, undefined];
  if (Array.isArray(value)) {
    if (value.length !== 2) throw invalid(`${name}: expected a tensor with a k/v axis or a [k, v] pair, got an array of length ${value.length}`);
    return [tensorValue(`${name}[0]`, value[0]), tensorValue(`${name}[1]`, value[1])];
  }
  return [tensorValue(name, value), undefined];
}

const SCALES = ["qScale", "kScale", "vScale"] as const;
const BUFFER_FIELDS = [
  ["qoIndptrBuffer", GRAPH_BUFFERS.at.qoIndptr],
  ["pagedKvIndptrBuffer", GRAPH_BUFFERS.at.kvIndptr],
  ["pagedKvIndicesBuffer", GRAPH_BUFFERS.at.kvIndices],
  ["pagedKvLastPageLenBuffer", GRAPH_BUFFERS.at.kvLastPageLen],
] as const;

/** A plan made without qDataType, kept so that run() can plan it again for its queries' dtype. */
interface ImplicitDtypePlan {
  bytes: Uint8Array;
  arrays: Int32Array[]; // what `bytes` points at
  dtype: HalfDType;
}

abstract class PodWrapperBase {
  /** The workspace's device, where plan() and run() execute. */
  readonly device: Device;
  /** Layout of the paged caches. */
  readonly kvLayout: KvLayout;
  private handleValue: bigint;
  private readonly planBuf = new StructBuffer(PLAN_ARGS.size);
  private readonly runBuf = new StructBuffer(RUN_ARGS.size);
  private readonly launchOut = new Int32Array(1); // pod_wrapper_last_launch writes here

  /** Whether the wrapper is in CUDA graph mode. */
  readonly useCudaGraph: boolean;
  private workspaceTensor: Tensor;
  /** The fixed buffers (graph mode), kept to check that their memory outlives the wrapper's use of it. */
  private readonly buffers: { name: string; tensor: Tensor }[];
  private implicitPlan: ImplicitDtypePlan | undefined;
  /** The queries' dtype of the last run(): what a plan without qDataType assumes. */
  private lastQueryDtype: HalfDType | undefined;
  /** The constructor's arguments, for the names of the fixed buffers in later messages. */
  private readonly createArgs: Args;

  protected constructor(kind: number, floatWorkspaceBuffer: Tensor, kvLayout: KvLayout, options: Args) {
    const ws = tensorValue("floatWorkspaceBuffer", floatWorkspaceBuffer);
    if (!ws) throw invalid("floatWorkspaceBuffer: a uint8 workspace tensor is required");
    const layout = optionalChoice("kvLayout", kvLayout, Object.keys(KV_LAYOUT) as KvLayout[]) ?? "NHD";
    const useGraph = options.get("useCudaGraph", "useCudaGraph") ?? false;
    const pdl = options.get("enablePdl", "enablePdl");
    const buf = new StructBuffer(CREATE_ARGS.size);
    const at = CREATE_ARGS.at;
    buf.i32(at.kind, kind);
    buf.i32(at.kvLayout, KV_LAYOUT[layout]);
    buf.tensor(at.workspace, ws);
    buf.i32(at.useCudaGraph, useGraph ? 1 : 0);
    buf.i32(at.enablePdl, pdl === undefined ? UNSET : pdl ? 1 : 0);
    const buffers: { name: string; tensor: Tensor }[] = [];
    for (const [side, offset] of [["D", at.decodeBuffers], ["P", at.prefillBuffers]] as const) {
      for (const [option, field] of BUFFER_FIELDS) {
        const t = tensorArg(options, option + side);
        if (!t) continue;
        buffers.push({ name: options.name(option + side), tensor: t });
        buf.tensor(offset + field, t);
      }
    }
    const out = new BigUint64Array(1);
    check(lib.pod_wrapper_create(buf.bytes, out), options);
    this.createArgs = options;
    this.handleValue = out[0]!;
    this.device = ws.device;
    this.kvLayout = layout;
    this.workspaceTensor = ws;
    this.useCudaGraph = useGraph;
    this.buffers = buffers;
  }

  /**
   * Renames the C library's argument names in a message of this wrapper: those of the call `a`, the
   * constructor's fixed buffers (decode_buffers.kv_indptr, …) and the workspace, as the caller wrote them.
   */
  private names(a?: Args): ArgumentNames {
    const created = this.createArgs;
    return {
      rename: (message) => (a ?? created).rename(message).replace(/\b(?:decode|prefill)_buffers\.[a-z_]+\b/g, (c) => created.rename(c)),
    };
  }

  /** The workspace the wrapper plans into. */
  protected get workspace(): Tensor {
    return this.workspaceTensor;
  }

  protected get handle(): bigint {
    if (this.handleValue === 0n) throw new PodError(Status.INVALID_HANDLE, `${this.constructor.name}: used after destroy()`);
    // The C side holds the workspace's (and the fixed buffers') addresses; their memory must still be ours.
    if (this.workspaceTensor.destroyed) throw invalid("floatWorkspaceBuffer: the workspace tensor was destroyed; the wrapper cannot plan or run");
    for (const { name, tensor } of this.buffers)
      if (tensor.destroyed) throw invalid(`${name}: the buffer tensor was destroyed; the wrapper cannot plan or run`);
    return this.handleValue;
  }

  /**
   * Gives the wrapper another workspace on its device (FlashInfer's reset_workspace_buffer); plan()
   * again before run(). The library keeps plans and partial results in one workspace, so an int
   * workspace is rejected rather than ignored. Graphs that captured run() keep the old addresses:
   * capture them again.
   */
  resetWorkspaceBuffer(floatWorkspaceBuffer: Tensor, intWorkspaceBuffer?: Tensor | null): void {
    const ws = tensorValue("floatWorkspaceBuffer", floatWorkspaceBuffer);
    if (!ws) throw invalid("floatWorkspaceBuffer: a uint8 workspace tensor is required");
    if (intWorkspaceBuffer !== undefined && intWorkspaceBuffer !== null)
      throw invalid("intWorkspaceBuffer: this library keeps plans and partial results in the one float workspace; pass none");
    const b = new StructBuffer(TENSOR.size);
    b.bytes.fill(0);
    b.tensor(0, ws);
    check(lib.pod_wrapper_reset_workspace(this.handle, b.bytes), this.names());
    this.workspaceTensor = ws;
    this.implicitPlan = undefined;
  }

  /**
   * Throws a PodError (status WORKSPACE_CORRUPT) when the wrapper's plan is no longer intact: its bytes
   * in the workspace (or, in CUDA graph mode, its fixed buffers) were overwritten after plan(), or a
   * kernel of an earlier run() found a value of the plan out of range (it skipped that work, so that
   * run()'s outputs are incomplete); NOT_PLANNED when another wrapper planned into the workspace
   * since. Waits for all work on the wrapper's device first. Without a plan it only waits.
   */
  check(): void {
    check(lib.pod_wrapper_check(this.handle), this.names());
  }

  /** Releases the wrapper (idempotent; not the workspace, which the caller owns). */
  destroy(): void {
    if (this.handleValue === 0n) return;
    const h = this.handleValue;
    this.handleValue = 0n;
    this.implicitPlan = undefined;
    check(lib.pod_wrapper_destroy(h));
  }

  [Symbol.dispose](): void {
    this.destroy();
  }

  /** Plans from read arguments (internal keys of the batch wrapper's scheme). */
  [PLAN_WITH](a: Args): void {
    const handle = this.handle;
    const b = this.planBuf;
    b.reset();
    const at = PLAN_ARGS.at;
    for (const key of ["numQoHeads", "numKvHeads", "headDim", "pageSize"] as const) b.i32(at[key], checkValue("positiveInteger", a.name(key), a.raw(key)) as number);
    let q = a.get("qDataType", "qDataType");
    let kv = a.get("kvDataType", "kvDataType");
    const both = a.get("dataType", "dataType");
    if (both !== undefined) {
      if (q !== undefined || kv !== undefined)
        throw invalid(`${a.name("dataType")}: sets both ${a.name("qDataType")} and ${a.name("kvDataType")}; give it alone or use those two`);
      q = kv = both;
    }
    const implicit = q === undefined;
    const dtype: HalfDType = q ?? this.lastQueryDtype ?? "float16";
    b.i32(at.qDtype, DTYPE_CODE[dtype]);
    b.i32(at.kvDtype, kv === undefined ? UNSET : DTYPE_CODE[kv]);
    if (a.get("useFp16QkReduction", "useFp16QkReduction"))
      throw new PodError(Status.NOT_IMPLEMENTED, `${a.name("useFp16QkReduction")}: not supported (q.k is always reduced in fp32); pass false or omit it`);
    const launch = a.signature.param("launch") ? a.get("launch", "launch") : undefined;
    b.i32(at.launch, LAUNCH_CHOICE[(launch ?? "auto").toUpperCase() as Uppercase<LaunchChoice>]);
    const nonBlocking = a.get("nonBlocking", "nonBlocking");
    const stream = a.raw("stream") as Stream | undefined;
    b.u64(at.stream, Number(streamHandle(stream, this.device)));

    const arrays: Int32Array[] = [];
    // A side whose tables the call does not take (a one-sided kernel) is planned empty.
    const packTable = (offset: number, side: "P" | "D") => {
      const taken = a.signature.param(`kvIndptr${side}`) !== undefined;
      const read = (option: string, empty: readonly number[]) => {
        const key = option + side;
        const ints = taken ? int32Array(a.name(key), a.raw(key)) : Int32Array.from(empty);
        const kept = implicit ? ints.slice() : ints; // kept for planning again in run()
        arrays.push(kept);
        return kept;
      };
      if (side === "P") b.hostI32(offset + TABLE.at.qoIndptr, read("qoIndptr", [0]));
      b.hostI32(offset + TABLE.at.kvIndptr, read("kvIndptr", [0]));
      b.hostI32(offset + TABLE.at.kvIndices, read("kvIndices", []));
      b.hostI32(offset + TABLE.at.kvLastPageLen, read("lastPageLen", []));
    };
    if (this.kind === WRAPPER_KIND.BATCH_PREFILL) {
      packTable(at.prefill, "P");
      b.options(at.prefillOptions, a.attention("P"));
    } else {
      b.options(at.prefillOptions, {});
    }
    packTable(at.decode, "D");
    if (a.has("qoIndptrD")) {
      const qoD = int32Array(a.name("qoIndptrD"), a.raw("qoIndptrD"));
      const batch = arrays[arrays.length - 3]!.length - 1; // the decode kvIndptr
      const ok = qoD.length === batch + 1 && qoD.every((v, i) => v === i);
      if (!ok) throw invalid(`${a.name("qoIndptrD")}: the decode side has one query per request, so it must be [0, 1, ..., batch]`);
    }
    b.options(at.decodeOptions, a.attention("D"));
    check(lib.pod_wrapper_plan(handle, b.bytes), this.names(a));
    this.implicitPlan = implicit ? { bytes: b.bytes.slice(), arrays, dtype } : undefined;
    // FlashInfer's non_blocking=False: return once the copies to the device are done.
    if (nonBlocking === false) check(lib.pod_stream_synchronize(this.device.id, streamHandle(stream, this.device)));
  }

  protected abstract readonly kind: number;

  /**
   * A plan made without qDataType assumed `implicitPlan.dtype`; queries of the other half type plan
   * it again for theirs (not inside a graph capture, and not in CUDA graph mode, whose first plan
   * fixes the dtype).
   */
  private matchPlanDtype(q: Tensor, name: string, stream: Stream | undefined): void {
    const plan = this.implicitPlan;
    if (!plan || q.dtype === plan.dtype || !HALF_TYPES.includes(q.dtype as HalfDType)) return;
    const dtype = q.dtype as HalfDType;
    const why = this.useCudaGraph
      ? " (in CUDA graph mode the first plan fixes the dtype)"
      : stream?.isCapturing()
        ? " (the stream is capturing a graph, which cannot plan)"
        : undefined;
    if (why !== undefined)
      throw invalid(`qDataType: plan() was given none and planned for ${plan.dtype}, but ${name} is ${dtype}; pass qDataType: "${dtype}" to plan()${why}`);
    const view = new DataView(plan.bytes.buffer);
    view.setInt32(PLAN_ARGS.at.qDtype, DTYPE_CODE[dtype], true);
    const s = Number(streamHandle(stream, this.device));
    view.setUint32(PLAN_ARGS.at.stream, s % 0x100000000, true);
    view.setUint32(PLAN_ARGS.at.stream + 4, Math.floor(s / 0x100000000), true);
    check(lib.pod_wrapper_plan(this.handle, plan.bytes), this.names());
    plan.dtype = dtype;
  }

  /**
   * Packs run(), allocates missing outputs, calls C, and frees what it allocated if the call fails.
   * `prefill`: contiguous kP/vP (single wrapper) or a paged cache (batch wrapper).
   */
  [RUN_WITH](a: Args, prefill: "contiguous" | "paged"): PodRunResult & Disposable {
    const at = RUN_ARGS.at;
    const b = this.runBuf;
    b.reset();
    a.reject(["customMaskD", "packedCustomMaskD"], "custom masks apply to the prefill side only");
    const layoutD = a.get("kvLayoutD", "kvLayout");
    if (layoutD !== undefined && layoutD !== this.kvLayout)
      throw invalid(`${a.name("kvLayoutD")}: ${layoutD} differs from the wrapper's ${this.kvLayout}; the decode cache uses the wrapper's layout`);
    for (const scale of SCALES) {
      b.f32(at[`${scale}P`], a.forSide(scale, "P") ?? NaN);
      b.f32(at[`${scale}D`], a.forSide(scale, "D") ?? NaN);
    }
    if (a.get("useFp16QkReduction", "useFp16QkReduction"))
      throw new PodError(Status.NOT_IMPLEMENTED, `${a.name("useFp16QkReduction")}: not supported (q.k is always reduced in fp32); pass false or omit it`);
    const pdl = a.get("enablePdl", "enablePdl");
    const stream = a.raw("stream") as Stream | undefined;
    b.u64(at.stream, Number(streamHandle(stream, this.device)));
    b.i32(at.enablePdl, pdl === undefined ? UNSET : pdl ? 1 : 0);
    b.options(at.optionsD, a.attention("D"));

    const qP = tensorArg(a, "qP");
    b.tensor(at.qP, qP);
    if (prefill === "contiguous") {
      b.tensor(at.kP, tensorArg(a, "kP"));
      b.tensor(at.vP, tensorArg(a, "vP"));
    } else {
      const [kP, vP] = pagedCacheArg(a, "pagedKvCacheP");
      b.tensor(at.kP, kP);
      b.tensor(at.vP, vP);
    }
    const layoutP = a.get("kvLayoutP", "kvLayout");
    b.i32(at.kvLayoutP, layoutP === undefined ? UNSET : KV_LAYOUT[layoutP]);
    b.options(at.optionsP, a.attention("P"));
    const maskDense = tensorArg(a, "customMaskP");
    const maskPacked = tensorArg(a, "packedCustomMaskP");
    if (maskDense && maskPacked)
      throw invalid(`${a.name("customMaskP")}: give ${a.name("customMaskP")} or ${a.name("packedCustomMaskP")}, not both`);
    b.tensor(at.maskP, maskDense ?? maskPacked);
    b.i32(at.maskPPacked, maskPacked ? MASK_KIND.PACKED : MASK_KIND.DENSE);

    const qD = tensorArg(a, "qD");
    const [kD, vD] = pagedCacheArg(a, "pagedKvCacheD");
    b.tensor(at.qD, qD);
    b.tensor(at.pagedKD, kD);
    b.tensor(at.pagedVD, vD);
    // The plan's dtype is that of the paged sides' queries (the single wrapper's prefill side has its own).
    const query = prefill === "paged" ? (qP ?? qD) : qD;
    if (query) {
      this.matchPlanDtype(query, a.name(query === qP ? "qP" : "qD"), stream);
      if (HALF_TYPES.includes(query.dtype as HalfDType)) this.lastQueryDtype = query.dtype as HalfDType;
    }

    const allocated: Tensor[] = [];
    const output = (key: string, like: Tensor | undefined, lse: boolean, wanted: boolean): Tensor | undefined => {
      const t = tensorArg(a, key);
      if (t || !like || !wanted) return t;
      // A graph would own an output allocated while capturing: outputs must exist before the capture.
      if (stream?.isCapturing()) {
        const name = a.name(key);
        throw invalid(`${name}: the stream is capturing a graph; pass a preallocated ${name} (outputs cannot be allocated inside a capture)`);
      }
      const shape = lse ? like.shape.slice(0, 2) : like.shape;
      const made = Tensor.empty(shape, lse ? "float32" : like.dtype, { device: this.device, ...(stream ? { stream } : {}) });
      allocated.push(made);
      return made;
    };
    try {
      const oP = output("outP", qP, false, true);
      const oD = output("outD", qD, false, true);
      const lseP = output("lseP", qP, true, a.forSide("returnLse", "P") ?? false);
      const lseD = output("lseD", qD, true, a.forSide("returnLse", "D") ?? false);
      b.tensor(at.oP, oP);
      b.tensor(at.oD, oD);
      b.tensor(at.lseP, lseP);
      b.tensor(at.lseD, lseD);
      b.i32(at.returnLseP, lseP ? 1 : 0);
      check(lib.pod_wrapper_run(this.handle, b.bytes), this.names(a));
      check(lib.pod_wrapper_last_launch(this.handle, this.launchOut));
      const result: PodRunResult = { launch: LAUNCH_NAMES[this.launchOut[0]!] ?? "none" };
      if (oP) result.oP = oP;
      if (oD) result.oD = oD;
      if (lseP) result.lseP = lseP;
      if (lseD) result.lseD = lseD;
      return disposable(result, allocated);
    } catch (e) {
      for (const t of allocated) t.destroy();
      throw e;
    }
  }
}

/** `result` with a non-enumerable [Symbol.dispose] that destroys the tensors run() allocated for it. */
export function disposable<T extends object>(result: T, allocated: readonly Tensor[]): T & Disposable {
  Object.defineProperty(result, Symbol.dispose, {
    value: () => {
      for (const t of allocated) t.destroy();
    },
  });
  return result as T & Disposable;
}

/**
 * One prefill request with contiguous k/v plus a batch of decode requests on a paged KV cache,
 * computed together (FlashInfer's `PODWithPagedKVCacheWrapper`). Decode options are set in plan();
 * prefill options are given to run().
 */
export class PODWithPagedKVCacheWrapper extends PodWrapperBase {
  protected readonly kind = WRAPPER_KIND.SINGLE_PREFILL;

  /**
   * @param floatWorkspaceBuffer a uint8 tensor on the device that runs the attention (its device is
   *   the wrapper's); plan() reports when it is too small.
   * @param kvLayout layout of the paged cache and the default for kP/vP.
   * @param options CUDA graph mode (`useCudaGraph` with the decode side's fixed buffers) and the PDL default.
   */
  constructor(floatWorkspaceBuffer: Tensor, kvLayout: KvLayout = "NHD", options: Spelled<WrapperOptions> = {}) {
    super(WRAPPER_KIND.SINGLE_PREFILL, floatWorkspaceBuffer, kvLayout, SIGNATURES.podCreate.read(options));
  }

  /** Plans the decode side from host page tables; copies them into the workspace. */
  plan(args: Spelled<PodPlanArgs>): void {
    this[PLAN_WITH](SIGNATURES.podPlan.read(args));
  }

  /** Runs both sides; returns their outputs (and LSEs when asked); `using` the result frees what run() allocated. */
  run<const A extends Spelled<PodRunArgs>>(args: A): PodRunOutputs<A> {
    return this[RUN_WITH](SIGNATURES.podRun.read(args), "contiguous") as PodRunOutputs<A>;
  }
}

/**
 * A batch of prefill requests and a batch of decode requests, each on a paged KV cache, computed
 * together (FlashInfer's `BatchPODWithPagedKVCacheWrapper`). Options of both sides are set in plan().
 */
export class BatchPODWithPagedKVCacheWrapper extends PodWrapperBase {
  protected readonly kind = WRAPPER_KIND.BATCH_PREFILL;

  /**
   * @param floatWorkspaceBuffer a uint8 tensor on the device that runs the attention; give each
   *   wrapper its own.
   * @param kvLayout layout of both paged caches.
   * @param options CUDA graph mode (`useCudaGraph` with both sides' fixed buffers) and the PDL default.
   */
  constructor(floatWorkspaceBuffer: Tensor, kvLayout: KvLayout = "NHD", options: Spelled<BatchWrapperOptions> = {}) {
    // The standalone kernels pass their constructor options already read (their names in messages).
    const read = (options as unknown) instanceof Args ? (options as unknown as Args) : SIGNATURES.batchPodCreate.read(options);
    super(WRAPPER_KIND.BATCH_PREFILL, floatWorkspaceBuffer, kvLayout, read);
  }

  /** Plans both sides from host page tables; copies them into the workspace. */
  plan(args: Spelled<BatchPodPlanArgs>): void {
    this[PLAN_WITH](SIGNATURES.batchPodPlan.read(args));
  }

  /** Runs both sides; returns their outputs (and LSEs when asked); `using` the result frees what run() allocated. */
  run<const A extends Spelled<BatchPodRunArgs>>(args: A): PodRunOutputs<A> {
    return this[RUN_WITH](SIGNATURES.batchPodRun.read(args), "paged") as PodRunOutputs<A>;
  }
}
