/**
 * The POD wrappers: FlashInfer's `PODWithPagedKVCacheWrapper` and `BatchPODWithPagedKVCacheWrapper`
 * with camelCase options. Validation and planning happen in C (libpod); this module turns JavaScript
 * arguments into the ABI's structs, rejects what C cannot see (unknown keys, non-integers) and
 * allocates outputs that the caller did not provide.
 */
import { CREATE_ARGS, GRAPH_BUFFERS, PLAN_ARGS, RUN_ARGS, StructBuffer, TENSOR, UNSET, type OptionsDesc } from "./abi.ts";
import { DTYPE_CODE, type Fp8DType } from "./dtype.ts";
import type { Device } from "./device.ts";
import { check, invalid, PodError, Status } from "./errors.ts";
import { lib } from "./ffi.ts";
import type { PosEncoding } from "./reference.ts";
import { Stream, streamHandle } from "./stream.ts";
import { Tensor } from "./tensor.ts";
import { describe, int32Array, integer, knownKeys, optionalBoolean, optionalChoice, optionalFinite, positiveInteger } from "./validate.ts";

/** KV layout: "NHD" puts tokens before heads ([…, tokens, heads, dim]), "HND" heads before tokens. */
export type KvLayout = "NHD" | "HND";
/** The dtypes attention runs on (q and the KV cache share one). */
export type HalfDType = "float16" | "bfloat16";
/** A paged KV cache: one tensor with a k/v axis ([pages, 2, ...]) or a (k, v) pair. */
export type PagedKvCache = Tensor | readonly [Tensor, Tensor];

const POS_ENCODINGS: readonly PosEncoding[] = ["NONE", "ROPE_LLAMA", "ALIBI"];
const POS_CODE: Record<PosEncoding, number> = { NONE: 0, ROPE_LLAMA: 1, ALIBI: 2 };
const LAYOUTS: readonly KvLayout[] = ["NHD", "HND"];
const HALF_TYPES: readonly HalfDType[] = ["float16", "bfloat16"];
/** dtypes of KV caches: q's, or fp8 (converted exactly to q's dtype as tiles load). */
export type KvDType = HalfDType | Fp8DType;
const KV_TYPES: readonly KvDType[] = ["float16", "bfloat16", "float8_e4m3fn", "float8_e5m2"];

/** Options of every wrapper's constructor. */
interface CommonWrapperOptions {
  /**
   * CUDA graph mode: run() may be captured into a graph, and plan() keeps everything the graph holds
   * (addresses, launch shapes), so replays compute with each new plan. Each paged side needs its fixed
   * buffers; their lengths fix its batch (see the README, "Serving").
   */
  useCudaGraph?: boolean;
  /**
   * Programmatic dependent launch for run() (a run() argument overrides it): kernels may start while
   * the kernel before them drains. Default: on where the device supports it (sm_90+).
   */
  enablePdl?: boolean;
}

/**
 * Options of PODWithPagedKVCacheWrapper (and BatchDecodeWithPagedKVCacheWrapper): the decode side's
 * fixed int32 buffers in CUDA graph mode, written by each plan() and read by the kernels:
 * indptr [batch + 1], indices [most pages a plan may use], last page lengths [batch].
 */
export interface WrapperOptions extends CommonWrapperOptions {
  /** Decode: int32 [batch + 1]; fixes the batch. */
  pagedKvIndptrBuffer?: Tensor;
  /** Decode: int32 [most pages a plan may use]. */
  pagedKvIndicesBuffer?: Tensor;
  /** Decode: int32 [batch]. */
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

/** One side's fixed buffers (qo indptr, kv indptr, kv indices, last page lengths), by option name. */
export type BufferNames = readonly [qo: string | null, indptr: string, indices: string, last: string];
const SINGLE_BUFFERS: BufferNames = [null, "pagedKvIndptrBuffer", "pagedKvIndicesBuffer", "pagedKvLastPageLenBuffer"];
const BATCH_BUFFERS_P: BufferNames = ["qoIndptrBufferP", "pagedKvIndptrBufferP", "pagedKvIndicesBufferP", "pagedKvLastPageLenBufferP"];
const BATCH_BUFFERS_D: BufferNames = [null, "pagedKvIndptrBufferD", "pagedKvIndicesBufferD", "pagedKvLastPageLenBufferD"];

/** useFp16QkReduction: q.k is always reduced in fp32, so true is rejected rather than ignored. */
function rejectFp16QkReduction(value: unknown): void {
  if (optionalBoolean("useFp16QkReduction", value))
    throw new PodError(Status.NOT_IMPLEMENTED, "useFp16QkReduction: not supported (q.k is always reduced in fp32); pass false or omit it");
}

/** The outputs of run(). A side that was not given is null. */
export interface PodRunResult {
  /** Prefill output, like qP. */
  oP: Tensor | null;
  /** Decode output, like qD. */
  oD: Tensor | null;
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

/** How a run() launched its work (see {@link PodRunResult.launch}). */
export type PodLaunch = "none" | "cpu" | "one-side" | "serial" | "fused";
const LAUNCHES: readonly PodLaunch[] = ["none", "cpu", "one-side", "serial", "fused"]; // pod_launch in cuda/pod.h

/** Outputs and run-time switches shared by both wrappers' run(). */
interface CommonRunArgs {
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
  // FlashInfer's decode-side run() options: honoured when equal to plan(), rejected otherwise.
  causalD?: boolean;
  posEncodingModeD?: PosEncoding;
  windowLeftD?: number;
  smScaleD?: number;
  ropeScaleD?: number;
  ropeThetaD?: number;
  logitsSoftCapD?: number;
  kvLayoutD?: KvLayout;
  customMaskD?: never;
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

const COMMON_RUN_KEYS = [
  "qD", "pagedKvCacheD", "customMaskP", "packedCustomMaskP", "returnLseP", "returnLseD", "outP", "outD", "lseP", "lseD", "stream",
  "causalD", "posEncodingModeD", "windowLeftD", "smScaleD", "ropeScaleD", "ropeThetaD", "logitsSoftCapD", "kvLayoutD",
  "customMaskD", "packedCustomMaskD", "qScale", "kScale", "vScale", "qScaleP", "kScaleP", "vScaleP", "qScaleD", "kScaleD", "vScaleD",
  "useFp16QkReduction", "enablePdl",
] as const;

/** plan() of {@link PODWithPagedKVCacheWrapper}: the decode side's page tables and options. */
export interface PodPlanArgs {
  /** Decode side: page-table indptr [batch + 1]. */
  indptr: Int32Array | readonly number[];
  /** Decode side: page indices. */
  indices: Int32Array | readonly number[];
  /** Decode side: tokens in each request's last page, 1..pageSize. */
  lastPageLen: Int32Array | readonly number[];
  /** Query heads; a multiple of numKvHeads (grouped-query attention). */
  numQoHeads: number;
  numKvHeads: number;
  /** 64, 128 or 256. */
  headDim: number;
  /** Tokens per page of the paged cache, ≥ 1. */
  pageSize: number;
  /** Decode side: "NONE" (default), "ROPE_LLAMA" or "ALIBI". */
  posEncodingMode?: PosEncoding;
  /** Decode side: keys more than this many positions back are hidden; -1 (default) = off. */
  windowLeft?: number;
  /** Decode side: score = c·tanh(score / c) when c > 0; default 0 (off). */
  logitsSoftCap?: number;
  /** dtype of q (and of the cache unless kvDataType says otherwise); default "float16". */
  qDataType?: HalfDType;
  /** dtype of the paged KV cache: qDataType (default), "float8_e4m3fn" or "float8_e5m2". */
  kvDataType?: KvDType;
  /** Decode side: scale of q·k; default 1/√headDim. */
  smScale?: number;
  /** Decode side, RoPE: position interpolation factor; default 1. */
  ropeScale?: number;
  /** Decode side, RoPE: base; default 1e4. */
  ropeTheta?: number;
  /** Accepted for FlashInfer compatibility: plan never waits for the device. */
  nonBlocking?: boolean;
  /** The stream on which the page tables are copied into the workspace. */
  stream?: Stream;
}

/** run() of {@link PODWithPagedKVCacheWrapper}: both sides' tensors and the prefill options. */
export interface PodRunArgs extends CommonRunArgs {
  /** Prefill queries [qoLen, numQoHeads, headDim]; omit (or zero tokens) for no prefill. */
  qP?: Tensor | null;
  /** Prefill keys, [kvLen, numKvHeads, headDim] (NHD) or [numKvHeads, kvLen, headDim] (HND). */
  kP?: Tensor | null;
  /** Prefill values, shaped like kP. */
  vP?: Tensor | null;
  /** Prefill: hide keys after each query's position (queries are the last qoLen of kvLen tokens). */
  causalP?: boolean;
  /** Layout of kP/vP; default the wrapper's kvLayout. */
  kvLayoutP?: KvLayout;
  /** Prefill: "NONE" (default), "ROPE_LLAMA" or "ALIBI". */
  posEncodingModeP?: PosEncoding;
  /** Prefill: scale of q·k; default 1/√headDim. */
  smScaleP?: number;
  /** Prefill: sliding window, -1 (default) = off. */
  windowLeftP?: number;
  /** Prefill, RoPE: position interpolation factor; default 1. */
  ropeScaleP?: number;
  /** Prefill, RoPE: base; default 1e4. */
  ropeThetaP?: number;
  /** Prefill: soft cap of the scores; 0 (default) = off. */
  logitsSoftCapP?: number;
}

/** plan() of {@link BatchPODWithPagedKVCacheWrapper}: page tables and options of both sides. */
export interface BatchPodPlanArgs {
  /** Prefill side: query offsets of the requests [requests + 1]. */
  qoIndptrP: Int32Array | readonly number[];
  /** Prefill side: page-table offsets [requests + 1]. */
  kvIndptrP: Int32Array | readonly number[];
  /** Prefill side: page indices. */
  kvIndicesP: Int32Array | readonly number[];
  /** Prefill side: tokens in each request's last page, 1..pageSize. */
  lastPageLenP: Int32Array | readonly number[];
  /** Decode side; if given, must be [0, 1, ..., batch] (one query per request). */
  qoIndptrD?: Int32Array | readonly number[];
  /** Decode side: page-table offsets [batch + 1]. */
  kvIndptrD: Int32Array | readonly number[];
  /** Decode side: page indices. */
  kvIndicesD: Int32Array | readonly number[];
  /** Decode side: tokens in each request's last page, 1..pageSize. */
  lastPageLenD: Int32Array | readonly number[];
  /** Query heads; a multiple of numKvHeads (grouped-query attention). */
  numQoHeads: number;
  numKvHeads: number;
  /** 64, 128 or 256. */
  headDim: number;
  /** Tokens per page of both caches, ≥ 1. */
  pageSize: number;
  /** Prefill: hide keys after each query's position (a request's queries are the last of its keys). */
  causalP?: boolean;
  /** Prefill: "NONE" (default), "ROPE_LLAMA" or "ALIBI". */
  posEncodingModeP?: PosEncoding;
  /** Prefill: sliding window, -1 (default) = off. */
  windowLeftP?: number;
  /** Prefill: scale of q·k; default 1/√headDim. */
  smScaleP?: number;
  /** Prefill, RoPE: position interpolation factor; default 1. */
  ropeScaleP?: number;
  /** Prefill, RoPE: base; default 1e4. */
  ropeThetaP?: number;
  /** Prefill: soft cap of the scores; 0 (default) = off. */
  logitsSoftCapP?: number;
  /** Decode: "NONE" (default), "ROPE_LLAMA" or "ALIBI". */
  posEncodingModeD?: PosEncoding;
  /** Decode: sliding window, -1 (default) = off. */
  windowLeftD?: number;
  /** Decode: scale of q·k; default 1/√headDim. */
  smScaleD?: number;
  /** Decode, RoPE: position interpolation factor; default 1. */
  ropeScaleD?: number;
  /** Decode, RoPE: base; default 1e4. */
  ropeThetaD?: number;
  /** Decode: soft cap of the scores; 0 (default) = off. */
  logitsSoftCapD?: number;
  /** dtype of q and the caches; default "float16". */
  qDataType?: HalfDType;
  /** dtype of both paged caches: qDataType (default), "float8_e4m3fn" or "float8_e5m2". */
  kvDataType?: KvDType;
  /** Accepted for FlashInfer compatibility: plan never waits for the device. */
  nonBlocking?: boolean;
  /** The stream that copies the page tables into the workspace. */
  stream?: Stream;
  /** Rejected when true: q.k is always reduced in fp32. */
  useFp16QkReduction?: boolean;
}

/** run() of {@link BatchPODWithPagedKVCacheWrapper}. */
export interface BatchPodRunArgs extends CommonRunArgs {
  /** Prefill queries of all requests [sum qoLen, numQoHeads, headDim]. */
  qP?: Tensor | null;
  /** The prefill side's paged KV cache. */
  pagedKvCacheP?: PagedKvCache | null;
  // Prefill options repeated at run(): honoured when equal to plan(), rejected otherwise.
  causalP?: boolean;
  kvLayoutP?: KvLayout;
  posEncodingModeP?: PosEncoding;
  smScaleP?: number;
  windowLeftP?: number;
  ropeScaleP?: number;
  ropeThetaP?: number;
  logitsSoftCapP?: number;
}

/** The option names of each side, made once (run() is called thousands of times a second). */
const OPTION_BASES = ["causal", "posEncodingMode", "windowLeft", "smScale", "ropeScale", "ropeTheta", "logitsSoftCap"] as const;
const OPTION_NAMES = {
  P: OPTION_BASES.map((n) => `${n}P`),
  D: OPTION_BASES.map((n) => `${n}D`),
  "": OPTION_BASES.map((n) => n),
} as const;
const NO_OPTIONS: OptionsDesc = Object.freeze({});
/** Dequantization scales: the name for both sides, then the prefill and decode ones. */
const SCALE_NAMES = [["qScale", "qScaleP", "qScaleD"], ["kScale", "kScaleP", "kScaleD"], ["vScale", "vScaleP", "vScaleD"]] as const;

function sideOptions(args: Record<string, unknown>, suffix: "P" | "D" | ""): OptionsDesc {
  const names = OPTION_NAMES[suffix];
  const causal = names[0]!, pos = names[1]!, window = names[2]!, smScale = names[3]!, ropeScale = names[4]!, ropeTheta = names[5]!;
  const softCap = names[6]!;
  const given = (name: string) => args[name] !== undefined && args[name] !== null;
  if (!given(causal) && !given(pos) && !given(window) && !given(smScale) && !given(ropeScale) && !given(ropeTheta) && !given(softCap))
    return NO_OPTIONS;
  const p = optionalChoice(pos, args[pos], POS_ENCODINGS);
  const windowLeft = args[window];
  return {
    causal: optionalBoolean(causal, args[causal]),
    posEncoding: p === undefined ? undefined : POS_CODE[p],
    windowLeft: windowLeft === undefined || windowLeft === null ? undefined : integer(window, windowLeft, -1),
    smScale: optionalFinite(smScale, args[smScale]),
    ropeScale: optionalFinite(ropeScale, args[ropeScale]),
    ropeTheta: optionalFinite(ropeTheta, args[ropeTheta]),
    logitsSoftCap: optionalFinite(softCap, args[softCap]),
  };
}

function tensorArg(name: string, value: unknown): Tensor | undefined {
  if (value === undefined || value === null) return undefined;
  if (!(value instanceof Tensor)) throw invalid(`${name}: expected a Tensor, got ${describe(value)}`);
  if (value.destroyed) throw invalid(`${name}: the tensor was destroyed`);
  return value;
}

function pagedCacheArg(name: string, value: unknown): [Tensor | undefined, Tensor | undefined] {
  if (value === undefined || value === null) return [undefined, undefined];
  if (Array.isArray(value)) {
    if (value.length !== 2) throw invalid(`${name}: expected a tensor with a k/v axis or a [k, v] pair, got an array of length ${value.length}`);
    return [tensorArg(`${name}[0]`, value[0]), tensorArg(`${name}[1]`, value[1])];
  }
  return [tensorArg(name, value), undefined];
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

  /**
   * @param sides the option names of the fixed buffers of the decode side and (batch wrapper) the
   *   prefill side; the subclasses' public names differ.
   */
  protected constructor(kind: 0 | 1, floatWorkspaceBuffer: Tensor, kvLayout: KvLayout, options: object,
                        sides: { decode: BufferNames; prefill?: BufferNames }) {
    const ws = tensorArg("floatWorkspaceBuffer", floatWorkspaceBuffer);
    if (!ws) throw invalid("floatWorkspaceBuffer: a uint8 workspace tensor is required");
    const layout = optionalChoice("kvLayout", kvLayout, LAYOUTS) ?? "NHD";
    const names = [...sides.decode, ...(sides.prefill ?? [])].filter((n): n is string => n !== null);
    knownKeys("options", options, ["useCudaGraph", "enablePdl", ...names]);
    const o = options as Record<string, unknown>;
    const useGraph = optionalBoolean("useCudaGraph", o.useCudaGraph) ?? false;
    const pdl = optionalBoolean("enablePdl", o.enablePdl);
    const buf = new StructBuffer(CREATE_ARGS.size);
    const at = CREATE_ARGS.at;
    buf.i32(at.kind, kind);
    buf.i32(at.kvLayout, layout === "NHD" ? 0 : 1);
    buf.tensor(at.workspace, ws);
    buf.i32(at.useCudaGraph, useGraph ? 1 : 0);
    buf.i32(at.enablePdl, pdl === undefined ? UNSET : pdl ? 1 : 0);
    const buffers: { name: string; tensor: Tensor }[] = [];
    const fields = [GRAPH_BUFFERS.at.qoIndptr, GRAPH_BUFFERS.at.kvIndptr, GRAPH_BUFFERS.at.kvIndices, GRAPH_BUFFERS.at.kvLastPageLen];
    const packSide = (offset: number, side: BufferNames) =>
      side.forEach((name, i) => {
        const t = name === null ? undefined : tensorArg(name, o[name]);
        if (!t) return;
        buffers.push({ name: name!, tensor: t });
        buf.tensor(offset + fields[i]!, t);
      });
    packSide(at.decodeBuffers, sides.decode);
    if (sides.prefill) packSide(at.prefillBuffers, sides.prefill);
    const out = new BigUint64Array(1);
    check(lib.pod_wrapper_create(buf.bytes, out));
    this.handleValue = out[0]!;
    this.device = ws.device;
    this.kvLayout = layout;
    this.workspaceTensor = ws;
    this.useCudaGraph = useGraph;
    this.buffers = buffers;
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
    const ws = tensorArg("floatWorkspaceBuffer", floatWorkspaceBuffer);
    if (!ws) throw invalid("floatWorkspaceBuffer: a uint8 workspace tensor is required");
    if (intWorkspaceBuffer !== undefined && intWorkspaceBuffer !== null)
      throw invalid("intWorkspaceBuffer: this library keeps plans and partial results in the one float workspace; pass none");
    const b = new StructBuffer(TENSOR.size);
    b.bytes.fill(0);
    b.tensor(0, ws);
    check(lib.pod_wrapper_reset_workspace(this.handle, b.bytes));
    this.workspaceTensor = ws;
  }

  /** Releases the wrapper (idempotent; not the workspace, which the caller owns). */
  destroy(): void {
    if (this.handleValue === 0n) return;
    const h = this.handleValue;
    this.handleValue = 0n;
    check(lib.pod_wrapper_destroy(h));
  }

  [Symbol.dispose](): void {
    this.destroy();
  }

  /** Fills the plan struct's shared fields and returns it. Arrays are kept alive by the caller. */
  protected planStruct(args: Record<string, unknown>): StructBuffer {
    const b = this.planBuf;
    b.reset();
    const at = PLAN_ARGS.at;
    b.i32(at.numQoHeads, positiveInteger("numQoHeads", args.numQoHeads));
    b.i32(at.numKvHeads, positiveInteger("numKvHeads", args.numKvHeads));
    b.i32(at.headDim, positiveInteger("headDim", args.headDim));
    b.i32(at.pageSize, positiveInteger("pageSize", args.pageSize));
    const q = optionalChoice("qDataType", args.qDataType, HALF_TYPES) ?? "float16";
    const kv = optionalChoice("kvDataType", args.kvDataType, KV_TYPES);
    b.i32(at.qDtype, DTYPE_CODE[q]);
    b.i32(at.kvDtype, kv === undefined ? -0x80000000 : DTYPE_CODE[kv]);
    optionalBoolean("nonBlocking", args.nonBlocking);
    b.u64(at.stream, Number(streamHandle(args.stream as Stream | undefined, this.device)));
    return b;
  }

  protected submitPlan(b: StructBuffer): void {
    check(lib.pod_wrapper_plan(this.handle, b.bytes));
  }

  /**
   * Packs the shared part of run(), allocates missing outputs, calls C, and frees what it allocated
   * if the call fails.
   */
  protected execute(args: CommonRunArgs & Record<string, unknown>, fillPrefill: (b: StructBuffer) => Tensor | undefined): PodRunResult {
    const at = RUN_ARGS.at;
    const b = this.runBuf;
    b.reset();
    if (args.customMaskD !== undefined || args.packedCustomMaskD !== undefined)
      throw invalid("customMaskD: custom masks apply to the prefill side only");
    if (args.kvLayoutD !== undefined && optionalChoice("kvLayoutD", args.kvLayoutD, LAYOUTS) !== this.kvLayout)
      throw invalid(`kvLayoutD: ${args.kvLayoutD} differs from the wrapper's ${this.kvLayout}; the decode cache uses the wrapper's layout`);
    for (const [both, p, d] of SCALE_NAMES) {
      const common = optionalFinite(both, args[both]);
      b.f32(at[p], optionalFinite(p, args[p]) ?? common ?? NaN);
      b.f32(at[d], optionalFinite(d, args[d]) ?? common ?? NaN);
    }
    rejectFp16QkReduction(args.useFp16QkReduction);
    const pdl = optionalBoolean("enablePdl", args.enablePdl);
    const stream = args.stream;
    const streamId = streamHandle(stream, this.device);
    b.u64(at.stream, Number(streamId));
    b.i32(at.enablePdl, pdl === undefined ? UNSET : pdl ? 1 : 0);
    b.options(at.optionsD, sideOptions(args, "D"));

    const qP = fillPrefill(b);
    const maskDense = tensorArg("customMaskP", args.customMaskP);
    const maskPacked = tensorArg("packedCustomMaskP", args.packedCustomMaskP);
    if (maskDense && maskPacked) throw invalid("customMaskP: give customMaskP or packedCustomMaskP, not both");
    b.tensor(at.maskP, maskDense ?? maskPacked);
    b.i32(at.maskPPacked, maskPacked ? 1 : 0);

    const qD = tensorArg("qD", args.qD);
    const [kD, vD] = pagedCacheArg("pagedKvCacheD", args.pagedKvCacheD);
    b.tensor(at.qD, qD);
    b.tensor(at.pagedKD, kD);
    b.tensor(at.pagedVD, vD);

    const allocated: Tensor[] = [];
    const output = (given: unknown, name: string, like: Tensor | undefined, lse: boolean, wanted: boolean): Tensor | undefined => {
      const t = tensorArg(name, given);
      if (t || !like || !wanted) return t;
      // A graph would own an output allocated while capturing: outputs must exist before the capture.
      if (stream?.isCapturing())
        throw invalid(`${name}: the stream is capturing a graph; pass a preallocated ${name} (outputs cannot be allocated inside a capture)`);
      const shape = lse ? like.shape.slice(0, 2) : like.shape;
      const made = Tensor.empty(shape, lse ? "float32" : like.dtype, { device: this.device, ...(stream ? { stream } : {}) });
      allocated.push(made);
      return made;
    };
    try {
      const oP = output(args.outP, "outP", qP, false, true);
      const oD = output(args.outD, "outD", qD, false, true);
      const lseP = output(args.lseP, "lseP", qP, true, optionalBoolean("returnLseP", args.returnLseP) ?? false);
      const lseD = output(args.lseD, "lseD", qD, true, optionalBoolean("returnLseD", args.returnLseD) ?? false);
      b.tensor(at.oP, oP);
      b.tensor(at.oD, oD);
      b.tensor(at.lseP, lseP);
      b.tensor(at.lseD, lseD);
      b.i32(at.returnLseP, lseP ? 1 : 0);
      check(lib.pod_wrapper_run(this.handle, b.bytes));
      check(lib.pod_wrapper_last_launch(this.handle, this.launchOut));
      const result: PodRunResult = { oP: oP ?? null, oD: oD ?? null, launch: LAUNCHES[this.launchOut[0]!] ?? "none" };
      if (lseP) result.lseP = lseP;
      if (lseD) result.lseD = lseD;
      return result;
    } catch (e) {
      for (const t of allocated) t.destroy();
      throw e;
    }
  }
}

/**
 * One prefill request with contiguous k/v plus a batch of decode requests on a paged KV cache,
 * computed together (FlashInfer's `PODWithPagedKVCacheWrapper`). Decode options are set in plan();
 * prefill options are given to run().
 */
export class PODWithPagedKVCacheWrapper extends PodWrapperBase {
  private static readonly PLAN_KEYS = new Set([
    "indptr", "indices", "lastPageLen", "numQoHeads", "numKvHeads", "headDim", "pageSize", "posEncodingMode", "windowLeft",
    "logitsSoftCap", "qDataType", "kvDataType", "smScale", "ropeScale", "ropeTheta", "nonBlocking", "stream",
  ]);
  private static readonly RUN_KEYS = new Set([
    ...COMMON_RUN_KEYS, "qP", "kP", "vP", "causalP", "kvLayoutP", "posEncodingModeP", "smScaleP", "windowLeftP", "ropeScaleP",
    "ropeThetaP", "logitsSoftCapP",
  ]);

  /**
   * @param floatWorkspaceBuffer a uint8 tensor on the device that runs the attention (its device is
   *   the wrapper's); plan() reports when it is too small.
   * @param kvLayout layout of the paged cache and the default for kP/vP.
   * @param options CUDA graph mode (`useCudaGraph` with the decode side's fixed buffers) and the PDL default.
   */
  constructor(floatWorkspaceBuffer: Tensor, kvLayout: KvLayout = "NHD", options: WrapperOptions = {}) {
    super(0, floatWorkspaceBuffer, kvLayout, options, { decode: SINGLE_BUFFERS });
  }

  /** Plans the decode side from host page tables; copies them into the workspace. */
  plan(args: PodPlanArgs): void {
    knownKeys("plan", args, PODWithPagedKVCacheWrapper.PLAN_KEYS);
    const a = args as unknown as Record<string, unknown>;
    const b = this.planStruct(a);
    const indptr = int32Array("indptr", args.indptr);
    const indices = int32Array("indices", args.indices);
    const last = int32Array("lastPageLen", args.lastPageLen);
    const at = PLAN_ARGS.at;
    b.hostI32(at.decode + 16, indptr);
    b.hostI32(at.decode + 32, indices);
    b.hostI32(at.decode + 48, last);
    b.options(at.decodeOptions, sideOptions(a, ""));
    b.options(at.prefillOptions, {});
    this.submitPlan(b);
  }

  /** Runs both sides; returns their outputs (and LSEs when asked). */
  run(args: PodRunArgs): PodRunResult {
    knownKeys("run", args, PODWithPagedKVCacheWrapper.RUN_KEYS);
    const a = args as PodRunArgs & Record<string, unknown>;
    return this.execute(a, (b) => {
      const at = RUN_ARGS.at;
      const qP = tensorArg("qP", args.qP);
      b.tensor(at.qP, qP);
      b.tensor(at.kP, tensorArg("kP", args.kP));
      b.tensor(at.vP, tensorArg("vP", args.vP));
      const layout = optionalChoice("kvLayoutP", args.kvLayoutP, LAYOUTS);
      b.i32(at.kvLayoutP, layout === undefined ? -0x80000000 : layout === "NHD" ? 0 : 1);
      b.options(at.optionsP, sideOptions(a, "P"));
      return qP;
    });
  }
}

/**
 * A batch of prefill requests and a batch of decode requests, each on a paged KV cache, computed
 * together (FlashInfer's `BatchPODWithPagedKVCacheWrapper`). Options of both sides are set in plan().
 */
export class BatchPODWithPagedKVCacheWrapper extends PodWrapperBase {
  private static readonly PLAN_KEYS = new Set([
    "qoIndptrP", "kvIndptrP", "kvIndicesP", "lastPageLenP", "qoIndptrD", "kvIndptrD", "kvIndicesD", "lastPageLenD", "numQoHeads",
    "numKvHeads", "headDim", "pageSize", "causalP", "posEncodingModeP", "windowLeftP", "smScaleP", "ropeScaleP", "ropeThetaP",
    "logitsSoftCapP", "posEncodingModeD", "windowLeftD", "smScaleD", "ropeScaleD", "ropeThetaD", "logitsSoftCapD", "qDataType",
    "kvDataType", "nonBlocking", "stream", "useFp16QkReduction",
  ]);
  private static readonly RUN_KEYS = new Set([
    ...COMMON_RUN_KEYS, "qP", "pagedKvCacheP", "causalP", "kvLayoutP", "posEncodingModeP", "smScaleP", "windowLeftP", "ropeScaleP",
    "ropeThetaP", "logitsSoftCapP",
  ]);

  /**
   * @param floatWorkspaceBuffer a uint8 tensor on the device that runs the attention; give each
   *   wrapper its own.
   * @param kvLayout layout of both paged caches.
   * @param options CUDA graph mode (`useCudaGraph` with both sides' fixed buffers) and the PDL default.
   */
  constructor(floatWorkspaceBuffer: Tensor, kvLayout: KvLayout = "NHD", options: BatchWrapperOptions = {}) {
    super(1, floatWorkspaceBuffer, kvLayout, options, { decode: BATCH_BUFFERS_D, prefill: BATCH_BUFFERS_P });
  }

  /** Plans both sides from host page tables; copies them into the workspace. */
  plan(args: BatchPodPlanArgs): void {
    knownKeys("plan", args, BatchPODWithPagedKVCacheWrapper.PLAN_KEYS);
    rejectFp16QkReduction(args.useFp16QkReduction);
    const a = args as unknown as Record<string, unknown>;
    const b = this.planStruct(a);
    const at = PLAN_ARGS.at;
    const arrays = {
      qoP: int32Array("qoIndptrP", args.qoIndptrP),
      kvP: int32Array("kvIndptrP", args.kvIndptrP),
      idxP: int32Array("kvIndicesP", args.kvIndicesP),
      lastP: int32Array("lastPageLenP", args.lastPageLenP),
      kvD: int32Array("kvIndptrD", args.kvIndptrD),
      idxD: int32Array("kvIndicesD", args.kvIndicesD),
      lastD: int32Array("lastPageLenD", args.lastPageLenD),
    };
    if (args.qoIndptrD !== undefined) {
      const qoD = int32Array("qoIndptrD", args.qoIndptrD);
      const ok = qoD.length === arrays.kvD.length && qoD.every((v, i) => v === i);
      if (!ok) throw invalid("qoIndptrD: the decode side has one query per request, so it must be [0, 1, ..., batch]");
    }
    b.hostI32(at.prefill, arrays.qoP);
    b.hostI32(at.prefill + 16, arrays.kvP);
    b.hostI32(at.prefill + 32, arrays.idxP);
    b.hostI32(at.prefill + 48, arrays.lastP);
    b.hostI32(at.decode + 16, arrays.kvD);
    b.hostI32(at.decode + 32, arrays.idxD);
    b.hostI32(at.decode + 48, arrays.lastD);
    b.options(at.prefillOptions, sideOptions(a, "P"));
    b.options(at.decodeOptions, sideOptions(a, "D"));
    this.submitPlan(b);
  }

  /** Runs both sides; returns their outputs (and LSEs when asked). */
  run(args: BatchPodRunArgs): PodRunResult {
    knownKeys("run", args, BatchPODWithPagedKVCacheWrapper.RUN_KEYS);
    const a = args as BatchPodRunArgs & Record<string, unknown>;
    return this.execute(a, (b) => {
      const at = RUN_ARGS.at;
      const qP = tensorArg("qP", args.qP);
      const [kP, vP] = pagedCacheArg("pagedKvCacheP", args.pagedKvCacheP);
      b.tensor(at.qP, qP);
      b.tensor(at.kP, kP);
      b.tensor(at.vP, vP);
      const layout = optionalChoice("kvLayoutP", args.kvLayoutP, LAYOUTS);
      b.i32(at.kvLayoutP, layout === undefined ? -0x80000000 : layout === "NHD" ? 0 : 1);
      b.options(at.optionsP, sideOptions(a, "P"));
      return qP;
    });
  }
}
