/**
 * Malformed input, one row per case: every bad call must throw a PodError with the expected status
 * and a message that names the offending argument; afterwards the process and the wrappers that saw
 * the errors must still work.
 */
import { describe, expect, test } from "bun:test";
import {
  BatchPODWithPagedKVCacheWrapper,
  Device,
  Event,
  PODWithPagedKVCacheWrapper,
  PodError,
  Stream,
  Tensor,
  type BatchPodPlanArgs,
  type BatchPodRunArgs,
  type PodPlanArgs,
  type PodRunArgs,
  type StatusName,
} from "../src/index.ts";

const cpu = Device.cpu();
const on = { device: cpu };

// Smallest supported geometry: head_dim 64, 2 query heads sharing 1 KV head, pages of 4 tokens.
const HD = 64;
const PAGE = 4;

// Decode side (both wrappers): 2 requests, pages [0] and [1, 2], kv lengths 2 and 8.
const plan: PodPlanArgs = {
  indptr: [0, 1, 3],
  indices: [0, 1, 2],
  lastPageLen: [2, 4],
  numQoHeads: 2,
  numKvHeads: 1,
  headDim: HD,
  pageSize: PAGE,
};

// Batch prefill side: 2 requests with qo lengths 2 and 1 over kv lengths 3 and 4 (non-causal so
// that custom masks are allowed at run).
const batchPlan: BatchPodPlanArgs = {
  qoIndptrP: [0, 2, 3],
  kvIndptrP: [0, 1, 2],
  kvIndicesP: [0, 1],
  lastPageLenP: [3, 4],
  kvIndptrD: [0, 1, 3],
  kvIndicesD: [0, 1, 2],
  lastPageLenD: [2, 4],
  numQoHeads: 2,
  numKvHeads: 1,
  headDim: HD,
  pageSize: PAGE,
};

const f16 = (shape: number[], start = 0, step = 1e-3) => Tensor.empty(shape, "float16", on).fill(start, step);

const qP = f16([3, 2, HD], 0.0);
const kP = f16([5, 1, HD], 0.1);
const vP = f16([5, 1, HD], -0.1);
const qD = f16([2, 2, HD], 0.2, -1e-3);
const cacheD = f16([3, 2, PAGE, 1, HD], -0.3); // 5-dim NHD cache with a k/v axis
const cacheP = f16([2, 2, PAGE, 1, HD], 0.05);

const single = new PODWithPagedKVCacheWrapper(Tensor.empty([1 << 16], "uint8", on), "NHD");
const batch = new BatchPODWithPagedKVCacheWrapper(Tensor.empty([1 << 16], "uint8", on), "NHD");
single.plan(plan);
batch.plan(batchPlan);

// `extra` is loosely typed on purpose: rows pass values of the wrong type.
const run1 = (extra: Record<string, unknown> = {}) =>
  single.run({ qP, kP, vP, qD, pagedKvCacheD: cacheD, ...extra } as PodRunArgs);
const runB = (extra: Record<string, unknown> = {}) =>
  batch.run({ qP, pagedKvCacheP: cacheP, qD, pagedKvCacheD: cacheD, ...extra } as BatchPodRunArgs);
const plan1 = (extra: Record<string, unknown>) => single.plan({ ...plan, ...extra } as PodPlanArgs);
const planB = (extra: Record<string, unknown>) => batch.plan({ ...batchPlan, ...extra } as BatchPodPlanArgs);

// Outputs of the valid calls before any error, to show later that failures changed nothing.
function outputs(r: { oP?: Tensor; oD?: Tensor }): Float32Array[] {
  return [r.oP!.toFloat32Array(), r.oD!.toFloat32Array()];
}
const baselineSingle = outputs(run1());
const baselineBatch = outputs(runB());

/** Runs `body` with a fresh wrapper that is destroyed afterwards, so rows don't disturb the shared ones. */
function withSingle<T>(body: (w: PODWithPagedKVCacheWrapper) => T, workspaceBytes = 1 << 16): T {
  const ws = Tensor.empty([workspaceBytes], "uint8", on);
  const w = new PODWithPagedKVCacheWrapper(ws);
  try {
    return body(w);
  } finally {
    w.destroy();
    ws.destroy();
  }
}

/** A tensor that reports `overrides` instead of its own fields: how a foreign-device or null tensor reaches C. */
function disguise(t: Tensor, overrides: Record<string, unknown>): Tensor {
  const props: PropertyDescriptorMap = {};
  for (const [k, v] of Object.entries(overrides)) props[k] = { value: v };
  return Object.create(t, props) as Tensor;
}

interface Row {
  name: string;
  call: () => unknown;
  status: StatusName;
  message: RegExp;
}

const rows: Row[] = [
  // ---- shapes, ranks, dtypes of the single wrapper's prefill tensors
  { name: "q_p of rank 2", call: () => run1({ qP: f16([3, 2 * HD]) }), status: "INVALID_ARGUMENT", message: /qP: expected 3 dimensions/ },
  { name: "v_p shape differs from k_p", call: () => run1({ vP: f16([4, 1, HD]) }), status: "INVALID_ARGUMENT", message: /vP: expected shape \[5, 1, 64\]/ },
  { name: "k_p of rank 4", call: () => run1({ kP: f16([5, 1, 1, HD]) }), status: "INVALID_ARGUMENT", message: /kP: expected 3 dimensions/ },
  {
    name: "float32 q_p",
    call: () => run1({ qP: Tensor.zeros([3, 2, HD], "float32", on) }),
    status: "INVALID_ARGUMENT",
    message: /qP: expected dtype float16 or bfloat16, got float32/,
  },
  {
    name: "bfloat16 k_p/v_p with float16 q_p",
    call: () => run1({ kP: Tensor.zeros([5, 1, HD], "bfloat16", on), vP: Tensor.zeros([5, 1, HD], "bfloat16", on) }),
    status: "INVALID_ARGUMENT",
    message: /kP: expected dtype float16 or float8_e4m3fn or float8_e5m2, got bfloat16/,
  },
  {
    name: "q/kv dtype mismatch in plan",
    call: () => plan1({ qDataType: "float16", kvDataType: "bfloat16" }),
    status: "INVALID_ARGUMENT",
    message: /kvDataType: expected qDataType \(float16\), float8_e4m3fn or float8_e5m2, got bfloat16/,
  },
  { name: "qDataType float32 in plan", call: () => plan1({ qDataType: "float32" }), status: "INVALID_ARGUMENT", message: /qDataType/ },
  {
    name: "decode cache dtype differs from plan",
    call: () => run1({ pagedKvCacheD: Tensor.zeros([3, 2, PAGE, 1, HD], "bfloat16", on) }),
    status: "INVALID_ARGUMENT",
    message: /pagedKvCacheD: expected dtype float16, got bfloat16/,
  },
  {
    name: "q_p last dimension not contiguous",
    call: () => run1({ qP: f16([HD, 2, 3]).permute([2, 1, 0]) }),
    status: "INVALID_ARGUMENT",
    message: /qP: the last dimension must have stride 1/,
  },

  // ---- heads and head_dim
  { name: "heads not divisible in plan", call: () => plan1({ numQoHeads: 3, numKvHeads: 2 }), status: "INVALID_ARGUMENT", message: /numQoHeads: 3 is not a multiple of numKvHeads 2/ },
  {
    name: "heads not divisible via q_p/k_p shapes",
    call: () => run1({ qP: f16([3, 3, HD]), kP: f16([5, 2, HD]), vP: f16([5, 2, HD]) }),
    status: "INVALID_ARGUMENT",
    message: /kP: numQoHeads 3 is not a multiple of numKvHeads 2/,
  },
  { name: "zero heads in q_p", call: () => run1({ qP: f16([3, 0, HD]) }), status: "INVALID_ARGUMENT", message: /qP: numQoHeads/ },
  { name: "head_dim 96 in plan", call: () => plan1({ headDim: 96 }), status: "INVALID_ARGUMENT", message: /headDim: expected 64, 128 or 256, got 96/ },
  {
    name: "head_dim 96 in q_p",
    call: () => run1({ qP: f16([3, 2, 96]), kP: f16([5, 1, 96]), vP: f16([5, 1, 96]) }),
    status: "INVALID_ARGUMENT",
    message: /qP: headDim .* got 96/,
  },

  // ---- page tables (plan)
  { name: "indptr not starting at 0", call: () => plan1({ indptr: [1, 2, 3] }), status: "INVALID_ARGUMENT", message: /^indptr: must start at 0/ },
  { name: "indptr decreasing", call: () => plan1({ indptr: [0, 2, 1] }), status: "INVALID_ARGUMENT", message: /^indptr: must not decrease/ },
  { name: "indptr empty", call: () => plan1({ indptr: [], lastPageLen: [] }), status: "INVALID_ARGUMENT", message: /^indptr: expected length/ },
  {
    name: "indptr length does not match lastPageLen",
    call: () => plan1({ lastPageLen: [2] }),
    status: "INVALID_ARGUMENT",
    message: /^lastPageLen: expected length 2/,
  },
  {
    // One last-page length per request: with more of them than indptr has requests, indptr is the short one.
    name: "indptr shorter than lastPageLen",
    call: () => plan1({ indptr: [0, 1], indices: [0], lastPageLen: [2, 4] }),
    status: "INVALID_ARGUMENT",
    message: /^indptr: has 2 entries \(1 request\), but lastPageLen has 2; expected length 3 \(requests \+ 1\)/,
  },
  {
    name: "batch: kvIndptrP shorter than lastPageLenP and qoIndptrP",
    call: () => planB({ kvIndptrP: [0, 1], kvIndicesP: [0] }),
    status: "INVALID_ARGUMENT",
    message: /^kvIndptrP: has 2 entries \(1 request\), but lastPageLenP has 2/,
  },
  {
    name: "indptr ends beyond the indices",
    call: () => plan1({ indptr: [0, 1, 5] }),
    status: "INVALID_ARGUMENT",
    message: /^indices: indptr ends at 5 but indices has only 3/,
  },
  { name: "negative page index", call: () => plan1({ indices: [0, -1, 2] }), status: "INVALID_ARGUMENT", message: /^indices: entry 1 is -1/ },
  { name: "last_page_len 0", call: () => plan1({ lastPageLen: [0, 4] }), status: "INVALID_ARGUMENT", message: /^lastPageLen: entry 0 is 0/ },
  { name: "last_page_len > page_size", call: () => plan1({ lastPageLen: [2, 5] }), status: "INVALID_ARGUMENT", message: /^lastPageLen: entry 1 is 5.*pageSize=4/ },
  { name: "non-integer in indices", call: () => plan1({ indices: [0, 1.5, 2] }), status: "INVALID_ARGUMENT", message: /indices\[1\]: expected an integer/ },
  { name: "indptr as Float32Array", call: () => plan1({ indptr: new Float32Array([0, 1, 3]) }), status: "INVALID_ARGUMENT", message: /indptr: expected an Int32Array/ },
  {
    name: "page index beyond the cache at run",
    call: () => run1({ pagedKvCacheD: f16([2, 2, PAGE, 1, HD]) }), // the table uses page 2
    status: "INVALID_ARGUMENT",
    message: /pagedKvCacheD: the page table uses page 2 but the cache holds 2 pages/,
  },

  // ---- causal with qo_len > kv_len
  {
    name: "single: qo_len > kv_len under causal",
    call: () => run1({ qP: f16([6, 2, HD]), causalP: true }),
    status: "INVALID_ARGUMENT",
    message: /qP: qo_len 6 > kv_len 5/,
  },
  {
    name: "batch: qo_len > kv_len under causal in plan",
    call: () => planB({ qoIndptrP: [0, 5, 6], causalP: true }),
    status: "INVALID_ARGUMENT",
    message: /^qoIndptrP: request 0 has qo_len 5 > kv_len 3/,
  },

  // ---- custom masks
  {
    name: "single: dense mask of the wrong size",
    call: () => run1({ customMaskP: Tensor.zeros([3, 4], "bool", on) }),
    status: "INVALID_ARGUMENT",
    message: /^customMaskP: expected shape \[3, 5\]/,
  },
  {
    name: "single: packed mask of the wrong size",
    call: () => run1({ packedCustomMaskP: Tensor.zeros([1], "uint8", on) }), // 15 bits need 2 bytes
    status: "INVALID_ARGUMENT",
    message: /^packedCustomMaskP: expected shape \[2\] \(bit-packed/,
  },
  {
    name: "single: mask of dtype float16",
    call: () => run1({ customMaskP: Tensor.zeros([3, 5], "float16", on) }),
    status: "INVALID_ARGUMENT",
    message: /^customMaskP: expected dtype bool or uint8/,
  },
  {
    name: "batch: dense mask of the wrong size",
    call: () => runB({ customMaskP: Tensor.zeros([9], "bool", on) }), // 2*3 + 1*4 = 10
    status: "INVALID_ARGUMENT",
    message: /^customMaskP: expected shape \[10\]/,
  },
  {
    name: "batch: packed mask of the wrong size",
    call: () => runB({ packedCustomMaskP: Tensor.zeros([3], "uint8", on) }), // 1 + 1 bytes
    status: "INVALID_ARGUMENT",
    message: /^packedCustomMaskP: expected shape \[2\]/,
  },
  {
    name: "mask together with causal",
    call: () => run1({ causalP: true, customMaskP: Tensor.zeros([3, 5], "bool", on) }),
    status: "INVALID_ARGUMENT",
    message: /^customMaskP: a custom mask replaces causal masking, so causalP must be off/,
  },
  {
    name: "dense and packed masks together",
    call: () => run1({ customMaskP: Tensor.zeros([3, 5], "bool", on), packedCustomMaskP: Tensor.zeros([2], "uint8", on) }),
    status: "INVALID_ARGUMENT",
    message: /customMaskP: give customMaskP or packedCustomMaskP, not both/,
  },

  // ---- lifecycle
  {
    name: "run after another wrapper planned into the same workspace",
    call: () => {
      const ws = Tensor.empty([1 << 16], "uint8", on);
      const first = new PODWithPagedKVCacheWrapper(ws);
      const second = new PODWithPagedKVCacheWrapper(ws);
      try {
        first.plan(plan);
        second.plan(plan);
        second.run({ qP, kP, vP, qD, pagedKvCacheD: cacheD }); // the latest plan owns the workspace
        return first.run({ qP, kP, vP, qD, pagedKvCacheD: cacheD });
      } finally {
        first.destroy(), second.destroy(), ws.destroy();
      }
    },
    status: "NOT_PLANNED",
    message: /^floatWorkspaceBuffer: another wrapper planned into this workspace/,
  },
  {
    // A stray copy over the plan: run() on the CPU verifies the plan's header and checksum first.
    name: "run after the workspace was overwritten behind the wrapper's back",
    call: () =>
      withSingle((w) => {
        w.plan(plan);
        const ws = (w as unknown as { workspace: Tensor }).workspace;
        ws.copyFromHost(new Uint8Array(ws.nbytes).fill(7));
        return w.run({ qP, kP, vP, qD, pagedKvCacheD: cacheD });
      }),
    status: "WORKSPACE_CORRUPT",
    message: /^floatWorkspaceBuffer: holds no plan any more: its header was overwritten after plan\(\)/,
  },
  {
    name: "check() after one byte of the page tables was overwritten",
    call: () =>
      withSingle((w) => {
        w.plan(plan);
        w.check(); // intact
        const ws = (w as unknown as { workspace: Tensor }).workspace;
        const bytes = ws.rawBytes();
        bytes[256 + 4]! ^= 1; // the first table after the header
        ws.copyFromHost(bytes);
        return w.check();
      }),
    status: "WORKSPACE_CORRUPT",
    message: /^floatWorkspaceBuffer: the plan's page tables or work lists were overwritten after plan\(\) \(their checksum differs\)/,
  },
  {
    name: "run before plan",
    call: () => withSingle((w) => w.run({ qP, kP, vP, qD, pagedKvCacheD: cacheD })),
    status: "NOT_PLANNED",
    message: /wrapper: run\(\) called before a successful plan\(\)/,
  },
  {
    name: "run after the wrapper was destroyed",
    call: () => {
      const w = new PODWithPagedKVCacheWrapper(Tensor.empty([4096], "uint8", on));
      w.plan(plan);
      w.destroy();
      return w.run({ qP, kP, vP, qD, pagedKvCacheD: cacheD });
    },
    status: "INVALID_HANDLE",
    message: /PODWithPagedKVCacheWrapper: used after destroy/,
  },
  {
    name: "plan after the batch wrapper was destroyed",
    call: () => {
      const w = new BatchPODWithPagedKVCacheWrapper(Tensor.empty([4096], "uint8", on));
      w.destroy();
      return w.plan(batchPlan);
    },
    status: "INVALID_HANDLE",
    message: /BatchPODWithPagedKVCacheWrapper: used after destroy/,
  },
  {
    name: "destroyed q_p",
    call: () => {
      const q = f16([3, 2, HD]);
      q.destroy();
      return run1({ qP: q });
    },
    status: "INVALID_ARGUMENT",
    message: /qP: the tensor was destroyed/,
  },
  {
    name: "view of a freed tensor as the decode cache",
    call: () => {
      const big = f16([4, 2, PAGE, 1, HD]);
      const view = big.narrow(0, 0, 3);
      big.destroy();
      return run1({ pagedKvCacheD: view });
    },
    status: "INVALID_ARGUMENT",
    message: /pagedKvCacheD: the tensor was destroyed/,
  },
  {
    // A destroyed view over memory that stays alive: if the wrapper doesn't notice, plan() writes
    // into live memory (no corruption in this test); with an owning tensor it would be a use after free.
    name: "plan after the workspace tensor was destroyed",
    call: () => {
      const backing = Tensor.empty([4096], "uint8", on);
      const ws = Tensor.fromPointer(backing.ptr, [4096], "uint8", on);
      const w = new PODWithPagedKVCacheWrapper(ws);
      try {
        ws.destroy();
        return w.plan(plan);
      } finally {
        w.destroy();
        backing.destroy();
      }
    },
    status: "INVALID_ARGUMENT",
    message: /(floatWorkspaceBuffer|workspace).*destroy/,
  },
  {
    name: "run after the workspace tensor was destroyed",
    call: () => {
      const backing = Tensor.empty([4096], "uint8", on);
      const ws = Tensor.fromPointer(backing.ptr, [4096], "uint8", on);
      const w = new PODWithPagedKVCacheWrapper(ws);
      try {
        w.plan(plan);
        ws.destroy();
        return w.run({ qP, kP, vP, qD, pagedKvCacheD: cacheD });
      } finally {
        w.destroy();
        backing.destroy();
      }
    },
    status: "INVALID_ARGUMENT",
    message: /(floatWorkspaceBuffer|workspace).*destroy/,
  },
  {
    name: "destroyed stream",
    call: () => {
      const s = new Stream(cpu);
      s.destroy();
      return run1({ stream: s });
    },
    status: "INVALID_HANDLE",
    message: /Stream: used after destroy/,
  },
  {
    // Only CPU streams can exist here, so a foreign stream is simulated with an event's handle: C must
    // check the handle's kind, not just that it is live.
    name: "an event handle passed as a stream",
    call: () => {
      const s = new Stream(cpu);
      const e = new Event(cpu);
      try {
        return run1({ stream: Object.create(s, { handle: { value: e.handle } }) as Stream });
      } finally {
        s.destroy();
        e.destroy();
      }
    },
    status: "INVALID_HANDLE",
    message: /stream: not a stream handle/,
  },

  // ---- devices and pointers. No CUDA tensor can be made on a machine without a GPU, so the C-side
  // device check is reached with a CPU tensor whose descriptor claims device 0.
  {
    name: "q_p on a different device than the wrapper",
    call: () => run1({ qP: disguise(qP, { deviceId: 0 }) }),
    status: "INVALID_ARGUMENT",
    message: /qP: is on device cuda:0, expected cpu/,
  },
  {
    name: "decode cache on a different device than the wrapper",
    call: () => run1({ pagedKvCacheD: disguise(cacheD, { deviceId: 0 }) }),
    status: "INVALID_ARGUMENT",
    message: /pagedKvCacheD: is on device cuda:0/,
  },
  { name: "Tensor.fromPointer(0, ...)", call: () => Tensor.fromPointer(0, [4], "float16", on), status: "INVALID_ARGUMENT", message: /ptr: expected a non-null address/ },
  {
    name: "Tensor.fromPointer: a view larger than the library allocation it points into",
    call: () => {
      using owner = Tensor.empty([1000], "float32", on); // 4096 bytes allocated (256-byte granules)
      return Tensor.fromPointer(owner.ptr + 400, [1000], "float32", on);
    },
    status: "INVALID_ARGUMENT",
    message: /^shape: the view spans 4000 bytes from ptr, but its allocation \(4096 bytes from 0x[0-9a-f]+\) ends 3696 bytes after ptr/,
  },
  {
    name: "Tensor.fromPointer: strides that reach past the allocation",
    call: () => {
      using owner = Tensor.empty([100], "float32", on);
      return Tensor.fromPointer(owner.ptr, [10, 10], "float32", { device: cpu, strides: [200, 1] });
    },
    status: "INVALID_ARGUMENT",
    message: /^shape: the view spans 7240 bytes from ptr/,
  },
  {
    name: "Tensor.fromPointer: an address not mapped in the process",
    call: () => Tensor.fromPointer(0x1000, [4], "float16", on),
    status: "INVALID_ARGUMENT",
    message: /^ptr: \[0x1000, \+8 bytes\) is not mapped in this process/,
  },
  { name: "null data pointer reaching C as k_p", call: () => run1({ kP: disguise(kP, { ptr: 0 }) }), status: "INVALID_ARGUMENT", message: /kP: null data pointer/ },
  { name: 'Device.parse("gpu")', call: () => Device.parse("gpu"), status: "INVALID_ARGUMENT", message: /device: expected "cpu", "cuda" or "cuda:N", got "gpu"/ },

  // ---- absent required tensors (pod.h: ndim 0 with data 0 means absent, so "missing", not "null pointer")
  { name: "v_p omitted while q_p and k_p are given", call: () => run1({ vP: undefined }), status: "INVALID_ARGUMENT", message: /vP: missing/ },
  { name: "decode cache omitted", call: () => run1({ pagedKvCacheD: undefined }), status: "INVALID_ARGUMENT", message: /pagedKvCacheD: the paged KV cache is missing/ },
  { name: "batch prefill cache omitted", call: () => runB({ pagedKvCacheP: undefined }), status: "INVALID_ARGUMENT", message: /pagedKvCacheP: the paged KV cache is missing/ },
  { name: "decode q omitted while the plan has requests", call: () => run1({ qD: undefined }), status: "INVALID_ARGUMENT", message: /^qD: expected shape/ },
  { name: "k_p without q_p", call: () => run1({ qP: undefined }), status: "INVALID_ARGUMENT", message: /qP: absent, but kP, vP/ },

  // ---- workspace
  {
    name: "workspace too small",
    call: () =>
      withSingle(
        (w) => {
          const n = 64;
          return w.plan({ ...plan, indptr: Array.from({ length: n + 1 }, (_, i) => i), indices: Array.from({ length: n }, (_, i) => i), lastPageLen: new Array(n).fill(1) });
        },
        64,
      ),
    status: "WORKSPACE_TOO_SMALL",
    message: /^floatWorkspaceBuffer: holds 64 bytes, this plan needs [1-9]/,
  },
  { name: "float32 workspace", call: () => new PODWithPagedKVCacheWrapper(Tensor.zeros([64], "float32", on)), status: "INVALID_ARGUMENT", message: /^floatWorkspaceBuffer: expected dtype uint8/ },
  { name: "2-dim workspace", call: () => new PODWithPagedKVCacheWrapper(Tensor.zeros([64, 2], "uint8", on)), status: "INVALID_ARGUMENT", message: /^floatWorkspaceBuffer: expected a contiguous 1-dimensional/ },

  // ---- sizes and numbers from JavaScript
  { name: "numQoHeads 2.5", call: () => plan1({ numQoHeads: 2.5 }), status: "INVALID_ARGUMENT", message: /numQoHeads: expected an integer, got 2.5/ },
  { name: "numKvHeads 0", call: () => plan1({ numKvHeads: 0 }), status: "INVALID_ARGUMENT", message: /numKvHeads/ },
  { name: "pageSize 0", call: () => plan1({ pageSize: 0 }), status: "INVALID_ARGUMENT", message: /pageSize: expected an integer in \[1,/ },
  { name: "windowLeft -2", call: () => plan1({ windowLeft: -2 }), status: "INVALID_ARGUMENT", message: /windowLeft: expected an integer in \[-1,/ },
  { name: "windowLeftP -2 in run", call: () => run1({ windowLeftP: -2 }), status: "INVALID_ARGUMENT", message: /windowLeftP/ },
  { name: "smScale NaN", call: () => plan1({ smScale: NaN }), status: "INVALID_ARGUMENT", message: /smScale: expected a finite number, got NaN/ },
  { name: "ropeScale 0 (reaches C)", call: () => plan1({ ropeScale: 0 }), status: "INVALID_ARGUMENT", message: /^ropeScale: expected a finite number > 0/ },
  { name: "logitsSoftCap -1 (reaches C)", call: () => plan1({ logitsSoftCap: -1 }), status: "INVALID_ARGUMENT", message: /^logitsSoftCap: expected 0 \(off\)/ },
  { name: "causalP given as a number", call: () => run1({ causalP: 1 }), status: "INVALID_ARGUMENT", message: /causalP: expected a boolean/ },
  { name: "Tensor.empty([2.5])", call: () => Tensor.empty([2.5], "float16", on), status: "INVALID_ARGUMENT", message: /shape\[0\]: expected an integer, got 2.5/ },
  { name: "Tensor.empty([-1])", call: () => Tensor.empty([-1], "float16", on), status: "INVALID_ARGUMENT", message: /shape\[0\]: expected an integer in \[0,/ },
  { name: "Tensor.empty with 7 dimensions", call: () => Tensor.empty([1, 1, 1, 1, 1, 1, 1], "uint8", on), status: "INVALID_ARGUMENT", message: /shape: at most 6 dimensions/ },
  {
    // 2^64 bytes: must be refused, not wrapped around to a tiny allocation that claims a huge shape.
    name: "Tensor.empty of 2^64 bytes",
    call: () => Tensor.empty([2 ** 32, 2 ** 32], "uint8", on),
    status: "INVALID_ARGUMENT",
    message: /shape|bytes/,
  },
  { name: "Tensor.empty with dtype float64", call: () => Tensor.empty([2], "float64" as never, on), status: "INVALID_ARGUMENT", message: /dtype: expected one of/ },
  {
    // errors.ts: every rejected argument becomes a PodError (and the tensor allocated first must not leak).
    name: "Tensor.from with a value out of uint8 range",
    call: () => Tensor.from([1, 256], [2], "uint8", on),
    status: "INVALID_ARGUMENT",
    message: /data|256/,
  },
  { name: "Tensor.from with the wrong element count", call: () => Tensor.from([1, 2, 3], [2, 2], "float32", on), status: "INVALID_ARGUMENT", message: /data: has 3 elements/ },

  // ---- options the API does not know or does not support
  { name: "unknown plan key jitArgs", call: () => plan1({ jitArgs: [] }), status: "INVALID_ARGUMENT", message: /plan: unknown or unsupported argument "jitArgs"/ },
  { name: "unknown run key jitArgs", call: () => run1({ jitArgs: [] }), status: "INVALID_ARGUMENT", message: /run: unknown or unsupported argument "jitArgs"/ },
  { name: "prefill option causal in the single wrapper's plan", call: () => plan1({ causal: true }), status: "INVALID_ARGUMENT", message: /plan: unknown or unsupported argument "causal"/ },
  { name: "run(undefined)", call: () => single.run(undefined as never), status: "INVALID_ARGUMENT", message: /run: expected an options object/ },
  { name: "windowLeftD differs from plan", call: () => run1({ windowLeftD: 4 }), status: "INVALID_ARGUMENT", message: /^windowLeftD: run\(\) got 4 but plan\(\) set -1/ },
  { name: "posEncodingModeD differs from plan", call: () => run1({ posEncodingModeD: "ALIBI" }), status: "INVALID_ARGUMENT", message: /^posEncodingModeD: run\(\) got/ },
  { name: "smScaleD differs from plan", call: () => run1({ smScaleD: 0.5 }), status: "INVALID_ARGUMENT", message: /^smScaleD: run\(\) got 0.5/ },
  { name: "kvLayoutD differs from the wrapper", call: () => run1({ kvLayoutD: "HND" }), status: "INVALID_ARGUMENT", message: /kvLayoutD: HND differs from the wrapper's NHD/ },
  { name: "customMaskD given", call: () => run1({ customMaskD: Tensor.zeros([2], "bool", on) }), status: "INVALID_ARGUMENT", message: /customMaskD/ },
  { name: "qScale Infinity", call: () => run1({ qScale: Infinity }), status: "INVALID_ARGUMENT", message: /qScale: expected a finite number/ },
  { name: "vScaleD a string", call: () => run1({ vScaleD: "2" }), status: "INVALID_ARGUMENT", message: /vScaleD/ },
  { name: "useFp16QkReduction true", call: () => run1({ useFp16QkReduction: true }), status: "NOT_IMPLEMENTED", message: /useFp16QkReduction/ },
  { name: "enablePdl true on the CPU", call: () => run1({ enablePdl: true }), status: "INVALID_ARGUMENT", message: /^enablePdl: programmatic dependent launch needs a CUDA device/ },
  { name: "enablePdl 1 (not a boolean)", call: () => run1({ enablePdl: 1 }), status: "INVALID_ARGUMENT", message: /enablePdl: expected a boolean/ },
  {
    name: "enablePdl true in the constructor on the CPU",
    call: () => new PODWithPagedKVCacheWrapper(Tensor.empty([4096], "uint8", on), "NHD", { enablePdl: true }),
    status: "INVALID_ARGUMENT",
    message: /^enablePdl: programmatic dependent launch needs a CUDA device/,
  },
  {
    name: "useCudaGraph with only some of the decode buffers",
    call: () => new PODWithPagedKVCacheWrapper(Tensor.empty([4096], "uint8", on), "NHD", { useCudaGraph: true, pagedKvIndptrBuffer: Tensor.zeros([3], "int32", on) }),
    status: "INVALID_ARGUMENT",
    message: /^pagedKvIndicesBufferD: missing; CUDA graph mode needs all of the side's fixed buffers/,
  },
  {
    name: "fixed buffers without useCudaGraph",
    call: () => new PODWithPagedKVCacheWrapper(Tensor.empty([4096], "uint8", on), "NHD", { pagedKvIndptrBuffer: Tensor.zeros([3], "int32", on) }),
    status: "INVALID_ARGUMENT",
    message: /^pagedKvIndptrBuffer: fixed page-table buffers belong to CUDA graph mode; set useCudaGraph/,
  },
  {
    name: "useCudaGraph with a float32 indices buffer",
    call: () => new PODWithPagedKVCacheWrapper(Tensor.empty([4096], "uint8", on), "NHD", { useCudaGraph: true,
      pagedKvIndptrBuffer: Tensor.zeros([3], "int32", on), pagedKvIndicesBuffer: Tensor.zeros([8], "float32", on),
      pagedKvLastPageLenBuffer: Tensor.zeros([2], "int32", on) }),
    status: "INVALID_ARGUMENT",
    message: /^pagedKvIndicesBuffer: expected dtype int32, got float32/,
  },
  {
    name: "useCudaGraph with an indptr buffer of the wrong length",
    call: () => new PODWithPagedKVCacheWrapper(Tensor.empty([4096], "uint8", on), "NHD", { useCudaGraph: true,
      pagedKvIndptrBuffer: Tensor.zeros([4], "int32", on), pagedKvIndicesBuffer: Tensor.zeros([8], "int32", on),
      pagedKvLastPageLenBuffer: Tensor.zeros([2], "int32", on) }),
    status: "INVALID_ARGUMENT",
    message: /^pagedKvIndptrBuffer: expected 3 entries \(pagedKvLastPageLenBuffer's 2 requests \+ 1\)/,
  },
  {
    name: "unknown constructor option",
    call: () => new PODWithPagedKVCacheWrapper(Tensor.empty([4096], "uint8", on), "NHD", { useTensorCores: true } as never),
    status: "INVALID_ARGUMENT",
    message: /options: unknown or unsupported argument "useTensorCores"/,
  },
  {
    name: "resetWorkspaceBuffer with an int workspace",
    call: () => single.resetWorkspaceBuffer(Tensor.empty([4096], "uint8", on), Tensor.empty([4096], "uint8", on)),
    status: "INVALID_ARGUMENT",
    message: /intWorkspaceBuffer: this library keeps plans and partial results in the one float workspace/,
  },
  {
    name: "resetWorkspaceBuffer with an int32 tensor",
    call: () => single.resetWorkspaceBuffer(Tensor.empty([4096], "int32", on)),
    status: "INVALID_ARGUMENT",
    message: /^floatWorkspaceBuffer: expected dtype uint8, got int32/,
  },
  { name: "useFp16QkReduction true in the batch plan", call: () => planB({ useFp16QkReduction: true }), status: "NOT_IMPLEMENTED", message: /useFp16QkReduction/ },
  { name: "kvLayout XYZ in the constructor", call: () => new PODWithPagedKVCacheWrapper(Tensor.empty([4096], "uint8", on), "XYZ" as never), status: "INVALID_ARGUMENT", message: /kvLayout: expected one of/ },
  { name: "posEncodingMode ROPE", call: () => plan1({ posEncodingMode: "ROPE" }), status: "INVALID_ARGUMENT", message: /posEncodingMode: expected one of "NONE", "ROPE_LLAMA", "ALIBI"/ },

  // ---- paged caches
  {
    name: "decode cache with page_size 8 instead of 4",
    call: () => run1({ pagedKvCacheD: f16([3, 2, 8, 1, HD]) }),
    status: "INVALID_ARGUMENT",
    message: /pagedKvCacheD: expected shape \[\*, 2, 4, 1, 64\] \(\[pages, 2, pageSize, numKvHeads, headDim\] \(NHD, k\/v axis\)\)/,
  },
  {
    name: "5-dim decode cache whose k/v axis is 3",
    call: () => run1({ pagedKvCacheD: f16([3, 3, PAGE, 1, HD]) }),
    status: "INVALID_ARGUMENT",
    message: /pagedKvCacheD: expected shape \[\*, 2, .*k\/v axis/,
  },
  {
    name: "decode cache pair with different dtypes",
    call: () => run1({ pagedKvCacheD: [f16([3, PAGE, 1, HD]), Tensor.zeros([3, PAGE, 1, HD], "bfloat16", on)] }),
    status: "INVALID_ARGUMENT",
    message: /^pagedKvCacheD\[1\]: expected dtype float16/,
  },
  {
    name: "batch prefill cache pair with different page counts",
    call: () => runB({ pagedKvCacheP: [f16([2, PAGE, 1, HD]), f16([1, PAGE, 1, HD])] }),
    status: "INVALID_ARGUMENT",
    message: /^pagedKvCacheP\[1\]: has 1 pages, pagedKvCacheP\[0\] has 2/,
  },
  {
    name: "decode cache as an array of 3",
    call: () => run1({ pagedKvCacheD: [cacheD, cacheD, cacheD] as never }),
    status: "INVALID_ARGUMENT",
    message: /pagedKvCacheD: expected a tensor with a k\/v axis or a \[k, v\] pair/,
  },

  // ---- batch wrapper
  { name: "batch: qoIndptrD not [0..B]", call: () => planB({ qoIndptrD: [0, 1, 1] }), status: "INVALID_ARGUMENT", message: /qoIndptrD: .*\[0, 1, \.\.\., batch\]/ },
  { name: "batch: qoIndptrP length differs from kvIndptrP", call: () => planB({ qoIndptrP: [0, 3] }), status: "INVALID_ARGUMENT", message: /^qoIndptrP: expected length 3/ },
  { name: "batch: kvLayoutP differs from the wrapper", call: () => runB({ kvLayoutP: "HND" }), status: "INVALID_ARGUMENT", message: /^kvLayoutP: HND differs/ },
  { name: "batch: causalP at run differs from plan", call: () => runB({ causalP: true }), status: "INVALID_ARGUMENT", message: /^causalP: run\(\) got 1 but plan\(\) set 0/ },
  { name: "batch: q_p with the wrong token count", call: () => runB({ qP: f16([4, 2, HD]) }), status: "INVALID_ARGUMENT", message: /qP: expected shape \[3, 2, 64\]/ },

  // ---- outputs
  { name: "outP of the wrong shape", call: () => run1({ outP: f16([3, 2, 128]) }), status: "INVALID_ARGUMENT", message: /^outP: expected shape \[3, 2, 64\]/ },
  { name: "outD of the wrong dtype", call: () => run1({ outD: Tensor.zeros([2, 2, HD], "bfloat16", on) }), status: "INVALID_ARGUMENT", message: /^outD: expected dtype float16/ },
  { name: "lseP of the wrong dtype", call: () => run1({ lseP: Tensor.zeros([3, 2], "float16", on) }), status: "INVALID_ARGUMENT", message: /^lseP: expected dtype float32, got float16/ },
  { name: "lseD of the wrong shape", call: () => run1({ lseD: Tensor.zeros([2], "float32", on) }), status: "INVALID_ARGUMENT", message: /^lseD: expected shape \[2, 2\]/ },
  { name: "returnLseP not a boolean", call: () => run1({ returnLseP: "yes" }), status: "INVALID_ARGUMENT", message: /returnLseP: expected a boolean/ },
  { name: "qD not a Tensor", call: () => run1({ qD: new Float32Array(256) }), status: "INVALID_ARGUMENT", message: /qD: expected a Tensor, got Float32Array/ },
];

// Only meaningful where CUDA is absent: naming a CUDA device must fail cleanly, not crash.
if (Device.cudaCount() === 0) {
  rows.push({
    name: 'Tensor on device "cuda:0" without a GPU',
    call: () => Tensor.fromPointer(qP.ptr, [3, 2, HD], "float16", { device: "cuda:0" }),
    status: "NO_DEVICE",
    message: /no CUDA device 0/,
  });
}

describe("malformed input is rejected with a PodError naming the argument", () => {
  for (const row of rows) {
    test(row.name, () => {
      let thrown: unknown;
      expect(() => {
        try {
          row.call();
        } catch (e) {
          thrown = e;
          throw e;
        }
      }).toThrow(PodError);
      const err = thrown as PodError;
      expect(err.status).toBe(row.status);
      expect(err.message).toMatch(row.message);
    });
  }
});

describe("after the errors", () => {
  test("there are at least 40 rows", () => {
    expect(rows.length).toBeGreaterThanOrEqual(40);
  });

  test("the process is alive and the library still answers", () => {
    expect(process.pid).toBeGreaterThan(0);
    expect(cpu.properties.smCount).toBeGreaterThanOrEqual(1);
  });

  test("run() reports how it launched: the CPU backend", () => {
    expect(run1().launch).toBe("cpu");
    expect(runB().launch).toBe("cpu");
  });

  test("failed plans kept the committed plan: runs reproduce the first outputs", () => {
    expect(outputs(run1())).toEqual(baselineSingle);
    expect(outputs(runB())).toEqual(baselineBatch);
  });

  test("a valid plan + run still succeeds on the same wrappers", () => {
    single.plan(plan);
    batch.plan(batchPlan);
    const r1 = run1({ returnLseP: true, returnLseD: true });
    const rb = runB({ returnLseP: true, returnLseD: true });
    expect(outputs(r1)).toEqual(baselineSingle);
    expect(outputs(rb)).toEqual(baselineBatch);
    for (const lse of [r1.lseP, r1.lseD, rb.lseP, rb.lseD]) {
      expect(lse).toBeDefined();
      expect(lse!.toFloat32Array().every(Number.isFinite)).toBe(true);
    }
    for (const t of [r1.oP, r1.oD, r1.lseP, r1.lseD, rb.oP, rb.oD, rb.lseP, rb.lseD]) t?.destroy();
  });
});
