/**
 * Malformed input for every wrapper, generated with fast-check: bad plan arguments, bad run tensors
 * and options, bad constructors and pointers, workspaces overwritten between plan() and run() (a
 * stray copy, another wrapper's or an older plan copied over it, two wrappers sharing it) and CUDA
 * graph mode's fixed buffers written behind the wrapper's back. Every case must end in a PodError
 * whose message starts with the name of an argument of the call (as the caller wrote it), the process
 * must stay alive, and the wrappers that saw the errors must compute what they computed before.
 *
 * The same cases run on the CPU backend (test/fuzz.test.ts) and on a GPU (test/gpu/fuzz.test.ts). On
 * a GPU, run() does not read the workspace on the host: a corrupted plan is found by the kernels
 * (which skip what is out of range and record a fault) or by the checksum, and reported by the next
 * plan()/run() or by check(); the cases there accept the PodError from either.
 */
import { expect } from "bun:test";
import fc from "fast-check";
import {
  BatchDecodeWithPagedKVCacheWrapper,
  BatchPODWithPagedKVCacheWrapper,
  BatchPrefillWithPagedKVCacheWrapper,
  Device,
  PODWithPagedKVCacheWrapper,
  PodError,
  Tensor,
  singlePrefillWithKVCache,
} from "../src/index.ts";
import { SIGNATURES } from "../src/options.ts";
import { checkConfig, worstError, GPU_TOLERANCE } from "./attention-fixture.ts";
import { podConfigArb } from "./pod-config-arbitrary.ts";

const HD = 64;
const PAGE = 4;
const HEADS = { numQoHeads: 2, numKvHeads: 1, headDim: HD, pageSize: PAGE };

type Args = Record<string, unknown>;

/** A wrapper with one valid plan and run, and the names its calls may report. */
interface Scene {
  name: string;
  plan?: (a: Args) => void;
  run: (a: Args) => { out?: Tensor; oP?: Tensor; oD?: Tensor };
  check?: () => void;
  planArgs?: Args;
  runArgs: Args;
  /** The workspace the wrapper plans into (absent: singlePrefillWithKVCache). */
  workspace?: Tensor;
  /** CUDA graph mode: the fixed buffers, by the option name the constructor was given. */
  buffers?: Record<string, Tensor>;
  names: Set<string>;
  baseline?: Float32Array[];
}

const EXTRA_NAMES = ["floatWorkspaceBuffer", "intWorkspaceBuffer", "ptr", "shape", "strides", "dtype", "kvLayout", "q", "k", "v", "wrapper"];

function namesOf(...signatures: { spellings: readonly string[] }[]): Set<string> {
  return new Set([...signatures.flatMap((s) => s.spellings), ...EXTRA_NAMES]);
}

function outputsOf(r: { out?: Tensor; oP?: Tensor; oD?: Tensor }): Float32Array[] {
  return [r.out, r.oP, r.oD].filter((t): t is Tensor => t !== undefined).map((t) => t.toFloat32Array());
}

/** The tensors and wrappers of every scene on `device`. */
export function buildScenes(device: Device) {
  const on = { device };
  const owned: { destroy(): void }[] = [];
  const keep = <T extends { destroy(): void }>(t: T): T => (owned.push(t), t);
  const rand = (shape: number[], seed: number, dtype: "float16" | "bfloat16" = "float16") =>
    keep(Tensor.random(shape, dtype, { device, seed, low: -0.5, high: 0.5 }));
  const ws = () => keep(Tensor.zeros([1 << 20], "uint8", on));

  // Decode side: 2 requests, pages [0] and [1, 2] of a 4-page cache, kv lengths 2 and 8.
  const decodeTable = { indptr: [0, 1, 3], indices: [0, 1, 2], lastPageLen: [2, 4] };
  const cacheD = rand([4, 2, PAGE, 1, HD], 1);
  const qD = rand([2, 2, HD], 2);
  // Batch prefill side: 2 requests, qo lengths 2 and 1 over kv lengths 3 and 4, pages [0] and [1].
  const cacheP = rand([3, 2, PAGE, 1, HD], 3);
  const qPB = rand([3, 2, HD], 4);
  // Single prefill: qo 3 over kv 5.
  const qP = rand([3, 2, HD], 5);
  const kP = rand([5, 1, HD], 6);
  const vP = rand([5, 1, HD], 7);

  const single = keep(new PODWithPagedKVCacheWrapper(ws(), "NHD"));
  const batch = keep(new BatchPODWithPagedKVCacheWrapper(ws(), "NHD"));
  const decode = keep(new BatchDecodeWithPagedKVCacheWrapper(ws(), "NHD"));
  const prefill = keep(new BatchPrefillWithPagedKVCacheWrapper(ws(), "NHD"));
  const graphBuffers = {
    pagedKvIndptrBuffer: keep(Tensor.zeros([3], "int32", on)),
    pagedKvIndicesBuffer: keep(Tensor.zeros([8], "int32", on)),
    pagedKvLastPageLenBuffer: keep(Tensor.zeros([2], "int32", on)),
  };
  const graph = keep(new BatchDecodeWithPagedKVCacheWrapper(ws(), "NHD", { useCudaGraph: true, ...graphBuffers }));
  const workspaceOf = (w: object) => (w as { workspace?: Tensor; pod?: { workspace: Tensor } }).workspace ?? (w as { pod: { workspace: Tensor } }).pod.workspace;
  // A wrapper's calls and workspace, as a scene holds them.
  type Wrapper = { plan(a: never): unknown; run(a: never): unknown; check(): unknown };
  const callsOf = (w: Wrapper) => ({
    plan: (a: Args) => void w.plan(a as never),
    run: (a: Args) => w.run(a as never) as ReturnType<Scene["run"]>,
    check: () => void w.check(),
    workspace: workspaceOf(w),
  });

  const scenes: Scene[] = [
    {
      name: "PODWithPagedKVCacheWrapper",
      ...callsOf(single),
      planArgs: { ...decodeTable, ...HEADS },
      runArgs: { qP, kP, vP, qD, pagedKvCacheD: cacheD, causalP: true },
      names: namesOf(SIGNATURES.podPlan, SIGNATURES.podRun, SIGNATURES.podCreate),
    },
    {
      name: "BatchPODWithPagedKVCacheWrapper",
      ...callsOf(batch),
      planArgs: {
        qoIndptrP: [0, 2, 3], kvIndptrP: [0, 1, 2], kvIndicesP: [0, 1], lastPageLenP: [3, 4],
        kvIndptrD: decodeTable.indptr, kvIndicesD: decodeTable.indices, lastPageLenD: decodeTable.lastPageLen, ...HEADS,
      },
      runArgs: { qP: qPB, pagedKvCacheP: cacheP, qD, pagedKvCacheD: cacheD },
      names: namesOf(SIGNATURES.batchPodPlan, SIGNATURES.batchPodRun, SIGNATURES.batchPodCreate),
    },
    {
      name: "BatchDecodeWithPagedKVCacheWrapper",
      ...callsOf(decode),
      planArgs: { ...decodeTable, ...HEADS },
      runArgs: { q: qD, pagedKvCache: cacheD },
      names: namesOf(SIGNATURES.decodePlan, SIGNATURES.decodeRun, SIGNATURES.decodeCreate),
    },
    {
      name: "BatchPrefillWithPagedKVCacheWrapper",
      ...callsOf(prefill),
      planArgs: { qoIndptr: [0, 2, 3], pagedKvIndptr: [0, 1, 2], pagedKvIndices: [0, 1], pagedKvLastPageLen: [3, 4], causal: true, ...HEADS },
      runArgs: { q: qPB, pagedKvCache: cacheP },
      names: namesOf(SIGNATURES.prefillPlan, SIGNATURES.prefillRun, SIGNATURES.prefillCreate),
    },
    {
      name: "singlePrefillWithKVCache",
      run: (a) => {
        const { q, k, v, ...options } = a;
        return singlePrefillWithKVCache(q as Tensor, k as Tensor, v as Tensor, options as never);
      },
      runArgs: { q: qP, k: kP, v: vP, causal: true },
      names: namesOf(SIGNATURES.singlePrefill),
    },
    {
      name: "BatchDecodeWithPagedKVCacheWrapper (CUDA graph mode)",
      ...callsOf(graph),
      planArgs: { ...decodeTable, ...HEADS },
      runArgs: { q: qD, pagedKvCache: cacheD },
      buffers: graphBuffers,
      names: namesOf(SIGNATURES.decodePlan, SIGNATURES.decodeRun, SIGNATURES.decodeCreate),
    },
  ];
  // The valid calls' outputs, the reference for "still correct" after the errors.
  for (const s of scenes) {
    Object.defineProperty(s, fc.toStringMethod, { value: () => s.name });
    s.plan?.(s.planArgs!);
    const r = s.run(s.runArgs);
    s.baseline = outputsOf(r);
  }
  return { scenes, on, keep, dispose: () => owned.reverse().forEach((t) => t.destroy()) };
}

type Built = ReturnType<typeof buildScenes>;

/** A malformed call: what to do, and what the PodError must name. */
interface Case {
  what: string;
  /** Throws the PodError (or, for GPU workspace cases, may leave it for check()). */
  call: (scene: Scene, built: Built) => void;
  /** A plan of the scene must exist before the call (restored first). */
  planned?: boolean;
  /** On a GPU the error may come from check() after the call instead of the call itself. */
  deferredOnGpu?: boolean;
}

const badInteger = fc.constantFrom<unknown>(0, -1, 2.5, NaN, Infinity, "2", null, 2 ** 31, -(2 ** 31) - 1, true, [2]);
const badArray = fc.constantFrom<unknown>("0,1,3", 7, { 0: 0 }, new Float32Array([0, 1, 3]), [0, 1.5, 3], [0, NaN, 3], [0, "1", 3], null);

/** A table argument (an int32 array of plan()) made wrong in a way plan() or run() must refuse. */
function breakTable(name: string, table: readonly number[], kind: number, k: number): unknown {
  const t = [...table];
  switch (kind % 6) {
    case 0: // negative entry
      t[k % Math.max(1, t.length)] = -1 - k;
      return t.length ? t : [-1];
    case 1: // one entry more (page indices past kv_indptr's end are allowed: one fewer there)
      if (/indices/i.test(name)) return t.slice(0, -1);
      return [...t, t.length ? t[t.length - 1]! + k + 1 : k + 1];
    case 2: // one entry fewer (or, when empty, one too many)
      return t.length > 1 ? t.slice(0, -1) : [...t, 5, 7];
    case 3: // a value far out of range
      t[k % Math.max(1, t.length)] = 1_000_000 + k;
      return t.length ? t : [1_000_000];
    case 4: // decreasing (an indptr), or a value past every page (indices, last-page lengths)
      if (/indptr/i.test(name)) return t.length >= 3 ? [0, t[2]! + 1, t[2]!, ...t.slice(3)] : [0, -1];
      return [...t.slice(0, -1), 2 ** 30];
    default: // not an array of integers
      return name.toLowerCase().includes("lastpage") ? t.map(() => 0) : [0.5, ...t.slice(1)];
  }
}

const planCases: fc.Arbitrary<Case> = fc.oneof(
  fc.record({ key: fc.constantFrom("numQoHeads", "numKvHeads", "headDim", "pageSize"), value: badInteger }).map(({ key, value }) => ({
    what: `plan ${key} = ${String(value)}`,
    call: (s: Scene) => s.plan!({ ...s.planArgs!, [key]: value }),
  })),
  fc.constantFrom(
    { numQoHeads: 3, numKvHeads: 2 }, { headDim: 96 }, { qDataType: "float32" }, { qDataType: "float16", kvDataType: "bfloat16" },
    { dataType: "float16", qDataType: "float16" }, { kvDataType: "int8" }, { windowLeft: -2 }, { smScale: NaN }, { logitsSoftCap: -1 },
    { ropeScale: 0 }, { ropeTheta: -5 }, { posEncodingMode: "ROPE" }, { useFp16QkReduction: true }, { nonBlocking: "no" },
    { jitArgs: [] }, { stream: 5 }, { launch: "sideways" },
  ).map((extra) => ({ what: `plan ${JSON.stringify(extra)}`, call: (s: Scene) => s.plan!({ ...s.planArgs!, ...extra }) })),
  fc.record({ which: fc.nat(), kind: fc.nat(), k: fc.nat({ max: 7 }), bad: badArray, useBad: fc.boolean() }).map(({ which, kind, k, bad, useBad }) => ({
    what: `plan table #${which} broken (${useBad ? "not an array" : `kind ${kind % 6}`})`,
    planned: true,
    call: (s: Scene) => {
      const keys = Object.keys(s.planArgs!).filter((key) => Array.isArray(s.planArgs![key]));
      const key = keys[which % keys.length]!;
      const value = useBad ? bad : breakTable(key, s.planArgs![key] as number[], kind, k);
      s.plan!({ ...s.planArgs!, [key]: value });
      s.run(s.runArgs); // a table plan() accepts may still be refused by run() (pages past the cache, queries)
    },
  })),
);

/** A tensor argument replaced by one run() must refuse. */
function breakTensor(t: Tensor, kind: number, built: Built): unknown {
  const on = built.on;
  switch (kind % 9) {
    case 0: return built.keep(Tensor.zeros([...t.shape.slice(0, -1), t.shape[t.shape.length - 1]! * 2], t.dtype, on)); // last dim doubled
    case 1: return built.keep(Tensor.zeros(t.shape, t.dtype === "float16" ? "float32" : "float16", on)); // another dtype
    case 2: return built.keep(Tensor.zeros([...t.shape, 1], t.dtype, on)); // one more dimension
    case 3: return built.keep(Tensor.zeros(t.shape.slice(1), t.dtype, on)); // one dimension fewer
    case 4: { // destroyed
      const d = Tensor.zeros(t.shape, t.dtype, on);
      d.destroy();
      return d;
    }
    case 5: return new Float32Array(4); // not a tensor
    case 6: return "tensor";
    case 7: return built.keep(Tensor.zeros([t.shape[0]! + 3, ...t.shape.slice(1)], t.dtype, on)); // more rows or pages
    default: return t.ndim >= 2 && t.shape[t.ndim - 1]! > 1 ? t.permute([...Array(t.ndim).keys()].reverse()) : built.keep(Tensor.zeros([7], t.dtype, on));
  }
}

const runCases: fc.Arbitrary<Case> = fc.oneof(
  fc.record({ which: fc.nat(), kind: fc.nat() }).map(({ which, kind }) => ({
    what: `run tensor #${which} broken (kind ${kind % 9})`,
    planned: true,
    call: (s: Scene, built: Built) => {
      const keys = Object.keys(s.runArgs).filter((key) => s.runArgs[key] instanceof Tensor);
      const key = keys[which % keys.length]!;
      const t = s.runArgs[key] as Tensor;
      let bad = breakTensor(t, kind, built);
      // More pages than planned is a valid cache, more KV tokens for single prefill a valid request: shrink those instead.
      if (kind % 9 === 7 && (/cache/i.test(key) || key === "k" || key === "kP" || key === "v" || key === "vP"))
        bad = t.shape[0]! > 1 ? t.narrow(0, 0, 1) : built.keep(Tensor.zeros([1, ...t.shape.slice(1)], "float32", built.on));
      s.run({ ...s.runArgs, [key]: bad });
    },
  })),
  fc.constantFrom<Args>(
    { qScale: Infinity }, { vScale: "2" }, { kScale: NaN }, { returnLse: "yes" }, { enablePdl: 1 }, { useFp16QkReduction: true },
    { jitArgs: 1 }, { stream: {} }, { out: new Float32Array(8) }, { lse: "lse" },
  ).map((extra) => ({
    what: `run ${JSON.stringify(extra)}`,
    planned: true,
    call: (s: Scene) => {
      // The POD wrappers spell the per-side outputs with a suffix.
      const spelled: Args = {};
      for (const [k, v] of Object.entries(extra)) spelled[s.names.has(k) ? k : `${k}D`] = v;
      s.run({ ...s.runArgs, ...spelled });
    },
  })),
  fc.constantFrom("dense", "packed").map((mask) => ({
    what: `custom ${mask} mask with causal`,
    planned: true,
    call: (s: Scene, built: Built) => {
      const key = s.names.has("customMaskP") ? (mask === "dense" ? "customMaskP" : "packedCustomMaskP") : mask === "dense" ? "customMask" : "packedCustomMask";
      const t = mask === "dense" ? built.keep(Tensor.zeros([15], "bool", built.on)) : built.keep(Tensor.zeros([2], "uint8", built.on));
      const causal = s.names.has("causalP") ? { causalP: true } : { causal: true };
      s.run({ ...s.runArgs, ...causal, [key]: t });
    },
  })),
);

/** Decode options restated at run() with another value than plan() set (paged scenes). */
const optionCases: fc.Arbitrary<Case> = fc.constantFrom("windowLeft", "smScale", "logitsSoftCap", "posEncodingMode").map((option) => ({
  what: `run ${option} differing from plan`,
  planned: true,
  call: (s: Scene) => {
    const value = option === "posEncodingMode" ? "ALIBI" : option === "windowLeft" ? 3 : 0.25;
    s.run({ ...s.runArgs, [s.names.has(`${option}D`) ? `${option}D` : option]: value });
  },
}));

const constructCases: fc.Arbitrary<Case> = fc.constantFrom<Case>(
  { what: "workspace of float32", call: (_s, b) => void new PODWithPagedKVCacheWrapper(b.keep(Tensor.zeros([1024], "float32", b.on))) },
  { what: "workspace of 2 dimensions", call: (_s, b) => void new BatchPODWithPagedKVCacheWrapper(b.keep(Tensor.zeros([64, 16], "uint8", b.on))) },
  { what: "workspace destroyed", call: (_s, b) => {
    const t = Tensor.zeros([1024], "uint8", b.on);
    t.destroy();
    void new BatchDecodeWithPagedKVCacheWrapper(t);
  } },
  { what: "kvLayout XYZ", call: (_s, b) => void new BatchPrefillWithPagedKVCacheWrapper(b.keep(Tensor.zeros([1024], "uint8", b.on)), "XYZ" as never) },
  { what: "graph buffers without useCudaGraph", call: (_s, b) =>
    void new BatchDecodeWithPagedKVCacheWrapper(b.keep(Tensor.zeros([1024], "uint8", b.on)), "NHD", { pagedKvIndptrBuffer: b.keep(Tensor.zeros([3], "int32", b.on)) }) },
  { what: "graph buffers of float32", call: (_s, b) =>
    void new BatchDecodeWithPagedKVCacheWrapper(b.keep(Tensor.zeros([1024], "uint8", b.on)), "NHD", { useCudaGraph: true,
      pagedKvIndptrBuffer: b.keep(Tensor.zeros([3], "float32", b.on)), pagedKvIndicesBuffer: b.keep(Tensor.zeros([3], "int32", b.on)),
      pagedKvLastPageLenBuffer: b.keep(Tensor.zeros([2], "int32", b.on)) }) },
  { what: "unknown constructor option", call: (_s, b) => void new PODWithPagedKVCacheWrapper(b.keep(Tensor.zeros([1024], "uint8", b.on)), "NHD", { useTensorCores: true } as never) },
);

// Addresses below 64 KiB are never mapped (vm.mmap_min_addr), so the CPU device can tell them too.
const pointerCases: fc.Arbitrary<Case> = fc.oneof(
  fc.nat({ max: 14 }).map((page) => ({ what: `fromPointer(0x${((page + 1) * 4096).toString(16)})`, call: (_s: Scene, b: Built) => void Tensor.fromPointer((page + 1) * 4096, [16], "float16", b.on) })),
  fc.record({ extra: fc.integer({ min: 1, max: 4096 }), offset: fc.nat({ max: 4000 }) }).map(({ extra, offset }) => ({
    what: `fromPointer view ${extra} bytes past its allocation`,
    call: (_s: Scene, b: Built) => {
      const owner = b.keep(Tensor.empty([1024], "uint8", b.on)); // 1024 bytes: exactly 4 granules
      // A device allocation may sit in a larger range of the memory pool: there, run far past it.
      const past = b.on.device.isCpu ? extra : 2 ** 40 + extra;
      void Tensor.fromPointer(owner.ptr + (offset % 1024), [1024 - (offset % 1024) + past], "uint8", b.on);
    },
  })),
  fc.constantFrom<unknown>(0, -4096, 2.5, "0x1000", null, 2 ** 60).map((ptr) => ({
    what: `fromPointer(${String(ptr)})`,
    call: (_s: Scene, b: Built) => void Tensor.fromPointer(ptr as number, [4], "float16", b.on),
  })),
);

/** The plan's image size, read from the header at the workspace's start (pod_workspace_header.image_bytes). */
function imageBytes(ws: Tensor): number {
  const head = ws.narrow(0, 0, 64).rawBytes();
  return Number(new DataView(head.buffer).getBigUint64(24, true));
}

const workspaceCases: fc.Arbitrary<Case> = fc.oneof(
  fc.record({ at: fc.nat(), count: fc.integer({ min: 1, max: 16 }), xor: fc.integer({ min: 1, max: 255 }) }).map(({ at, count, xor }) => ({
    what: `${count} workspace bytes overwritten`,
    planned: true,
    deferredOnGpu: true,
    call: (s: Scene) => {
      const ws = s.workspace!;
      const bytes = ws.rawBytes();
      const n = imageBytes(ws);
      // Bytes the plan consists of: the header's fields (its first 64 bytes; then its fault record
      // and padding, which nothing reads) and everything after the header.
      const covered = 64 + (n - 256);
      for (let i = 0; i < count; i++) {
        const k = (at + i * 37) % covered;
        bytes[k < 64 ? k : k - 64 + 256]! ^= xor;
      }
      ws.copyFromHost(bytes);
      s.run(s.runArgs);
    },
  })),
  fc.constantFrom<Case>(
    {
      what: "another wrapper's plan copied over the workspace",
      planned: true,
      deferredOnGpu: true,
      call: (s, b) => {
        const other = b.scenes.find((x) => x !== s && x.workspace && !x.buffers)!;
        other.plan!(other.planArgs!);
        s.workspace!.copyFrom(other.workspace!);
        s.run(s.runArgs);
      },
    },
    {
      what: "an older plan of the wrapper copied back over the workspace",
      planned: true,
      deferredOnGpu: true,
      call: (s) => {
        const old = s.workspace!.rawBytes();
        s.plan!(s.planArgs!);
        s.workspace!.copyFromHost(old);
        s.run(s.runArgs);
      },
    },
    {
      what: "the workspace zeroed",
      planned: true,
      deferredOnGpu: true,
      call: (s) => {
        s.workspace!.copyFromHost(new Uint8Array(s.workspace!.nbytes));
        s.run(s.runArgs);
      },
    },
    {
      what: "two wrappers sharing one workspace",
      planned: true,
      call: (s) => {
        const twin = new PODWithPagedKVCacheWrapper(s.workspace!);
        try {
          twin.plan({ ...HEADS, indptr: [0, 1], indices: [2], lastPageLen: [1] });
          s.run(s.runArgs);
        } finally {
          twin.destroy();
        }
      },
    },
  ),
);

/**
 * Values of the decode side's tables changed in place to ones out of range (the kernels' bounds, on a
 * GPU): the table sits right after the header, batch 2: qo_indptr at 256, kv_indptr at 272, kv_lens
 * at 288, mask offsets, kv_indices at 368.
 */
const tableCases: fc.Arbitrary<Case> = fc.constantFrom(
  { what: "a request's kv length past its pages", at: 288, value: 1 << 20 },
  { what: "a request's kv length negative", at: 292, value: -5 },
  { what: "a page range past the page indices", at: 280, value: 1 << 20 },
  { what: "a page range starting below 0", at: 276, value: -3 },
  { what: "a page index past the cache", at: 372, value: 1 << 20 },
  { what: "a page index negative", at: 368, value: -1 },
  { what: "a query range past q", at: 264, value: 1 << 20 },
).map(({ what, at, value }) => ({
  what,
  planned: true,
  deferredOnGpu: true,
  call: (s: Scene) => {
    const bytes = s.workspace!.rawBytes();
    new DataView(bytes.buffer).setInt32(at, value, true);
    s.workspace!.copyFromHost(bytes);
    s.run(s.runArgs);
  },
}));

const bufferCases: fc.Arbitrary<Case> = fc.record({ which: fc.nat({ max: 1 }), at: fc.nat(), xor: fc.integer({ min: 1, max: 3 }) }).map(({ which, at, xor }) => ({
  what: `graph mode's ${which ? "indices" : "indptr"} buffer written after plan()`,
  planned: true,
  deferredOnGpu: true,
  call: (s: Scene) => {
    const buf = which ? s.buffers!.pagedKvIndicesBuffer! : s.buffers!.pagedKvIndptrBuffer!;
    const used = which ? 3 : 3; // the plan's pages, and its requests + 1
    const values = Int32Array.from(buf.toFloat32Array());
    values[at % used]! ^= xor;
    buf.copyFromHost(new Uint8Array(values.buffer));
    s.run(s.runArgs);
  },
}));

/** Runs `count` malformed calls on the scenes of `device` and checks them, then the valid calls. */
export function fuzzWrappers(device: Device, count: number, seed = 0x5eed, seen?: (scene: string, what: string, message: string) => void): { cases: number } {
  const built = buildScenes(device);
  const gpu = !device.isCpu;
  const { scenes } = built;
  const paged = scenes.filter((s) => s.plan);
  const withWorkspace = scenes.filter((s) => s.workspace);
  const arb = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...paged), planCases) },
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...scenes), runCases) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...paged), optionCases) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(scenes[0]!), constructCases) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(scenes[0]!), pointerCases) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...withWorkspace), workspaceCases) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(scenes.find((s) => s.buffers)!), bufferCases) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...scenes.slice(0, 3)), tableCases) },
  );
  let cases = 0;
  try {
    fc.assert(
      fc.property(arb, ([scene, c]) => {
        cases++;
        if (!(fc.toStringMethod in c)) Object.defineProperty(c, fc.toStringMethod, { value: () => c.what });
        if (c.planned && scene.plan) scene.plan(scene.planArgs!);
        let error: unknown;
        try {
          c.call(scene, built);
          // A GPU finds a corrupted plan in its kernels or its checksum: check() reports it.
          if (gpu && c.deferredOnGpu) scene.check!();
        } catch (e) {
          error = e;
        }
        if (!(error instanceof PodError)) throw new Error(`${scene.name}, ${c.what}: expected a PodError, got ${error === undefined ? "none" : String(error)}`);
        seen?.(scene.name, c.what, error.message);
        const lead = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[\d+\])?(?:\.[A-Za-z_]+)?: /.exec(error.message);
        const unknown = /^(plan|run|options): (unknown or unsupported argument|expected an options object)/.test(error.message);
        if (!unknown && (!lead || !scene.names.has(lead[1]!)))
          throw new Error(`${scene.name}, ${c.what}: the message does not start with an argument of the call: ${error.message}`);
        // A fault the GPU's kernels recorded is returned once; after the check above nothing is left pending.
        if (gpu && scene.check && c.deferredOnGpu) {
          scene.plan!(scene.planArgs!);
          scene.check();
        }
      }),
      { numRuns: count, seed, includeErrorInReport: true },
    );
  } finally {
    // Still alive, and the wrappers that saw every error compute what they computed before.
    try {
      expect(process.pid).toBeGreaterThan(0);
      for (const s of scenes) {
        s.plan?.(s.planArgs!);
        const now = outputsOf(s.run(s.runArgs));
        s.check?.();
        expect(now.length).toBe(s.baseline!.length);
        now.forEach((o, i) => {
          if (gpu) expect(worstError(o, Float64Array.from(s.baseline![i]!), GPU_TOLERANCE.float16.atol, GPU_TOLERANCE.float16.rtol)).toBeLessThanOrEqual(1);
          else expect(o).toEqual(s.baseline![i]!);
        });
      }
    } finally {
      built.dispose();
    }
  }
  return { cases };
}

/** Valid configurations of every API after the malformed ones: each output against the float64 reference. */
export function checkAfterFuzz(device: Device, runs: number, seed = 0x5eed): void {
  for (const wrapper of ["single", "batch"] as const)
    for (const api of ["pod", "standalone"] as const)
      fc.assert(fc.property(podConfigArb(wrapper), (cfg) => checkConfig(cfg, device, api)), { numRuns: runs, seed });
}
