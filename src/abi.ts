/**
 * Packing of the C ABI's argument structs (cuda/pod.h) into bytes. Layouts are computed here with C's
 * alignment rules from the field lists below and checked against the library's own sizes at load.
 */
import { addressOf, cString, lib } from "./ffi.ts";
import { ATTENTION_FIELDS } from "./options.ts";

type Kind = "i32" | "u32" | "f32" | "u64" | "tensor" | "options" | "host_i32" | "table" | "name256" | "buffers";
const KIND_SIZE: Record<Kind, [size: number, align: number]> = {
  i32: [4, 4],
  u32: [4, 4],
  f32: [4, 4],
  u64: [8, 8],
  tensor: [120, 8],
  options: [8, 8], // a pointer to a pod_attention_options (OPTIONS), which carries its own struct_size
  host_i32: [16, 8],
  table: [64, 8],
  name256: [256, 1],
  buffers: [480, 8],
};

interface Layout<F extends string> {
  size: number;
  at: Record<F, number>;
}

function layout<F extends string>(cName: string, fields: readonly (readonly [F, Kind])[]): Layout<F> {
  let offset = 0;
  let maxAlign = 1;
  const at = {} as Record<F, number>;
  for (const [name, kind] of fields) {
    const [size, align] = KIND_SIZE[kind];
    offset = Math.ceil(offset / align) * align;
    at[name] = offset;
    offset += size;
    maxAlign = Math.max(maxAlign, align);
  }
  const size = Math.ceil(offset / maxAlign) * maxAlign;
  const cSize = lib.pod_struct_size(cString(cName));
  if (cSize !== size) throw new Error(`ABI mismatch: ${cName} is ${cSize} bytes in libpod.so, ${size} in the bindings; rebuild the library`);
  return { size, at };
}

export const MAX_DIMS = 6;
import { UNSET } from "./enums.ts";
export { UNSET };

export const TENSOR = layout("pod_tensor", [
  ["data", "u64"],
  ["dtype", "i32"],
  ["ndim", "i32"],
  ...Array.from({ length: MAX_DIMS }, (_, i) => [`shape${i}`, "u64"] as const),
  ...Array.from({ length: MAX_DIMS }, (_, i) => [`stride${i}`, "u64"] as const),
  ["device", "i32"],
  ["reserved", "i32"],
]);

const TENSOR_SHAPE = (TENSOR.at as Record<string, number>)["shape0"]!;
const TENSOR_STRIDES = (TENSOR.at as Record<string, number>)["stride0"]!;

// The fields after struct_size come from the options table (options.ts), by their C names.
export const OPTIONS = layout("pod_attention_options", [["structSize", "u32"], ...ATTENTION_FIELDS]);

export const TABLE = layout("pod_paged_table", [
  ["qoIndptr", "host_i32"],
  ["kvIndptr", "host_i32"],
  ["kvIndices", "host_i32"],
  ["kvLastPageLen", "host_i32"],
]);

export const DEVICE_PROPS = layout("pod_device_props", [
  ["structSize", "u32"],
  ["device", "i32"],
  ["smCount", "i32"],
  ["ccMajor", "i32"],
  ["ccMinor", "i32"],
  ["maxSmemPerBlockOptin", "i32"],
  ["l2Bytes", "i32"],
  ["pdl", "i32"],
  ["totalMemory", "u64"],
  ["name", "name256"],
]);

export const GRAPH_BUFFERS = layout("pod_graph_buffers", [
  ["qoIndptr", "tensor"],
  ["kvIndptr", "tensor"],
  ["kvIndices", "tensor"],
  ["kvLastPageLen", "tensor"],
]);

export const CREATE_ARGS = layout("pod_wrapper_create_args", [
  ["structSize", "u32"],
  ["kind", "i32"],
  ["kvLayout", "i32"],
  ["reserved", "i32"],
  ["workspace", "tensor"],
  ["useCudaGraph", "i32"],
  ["enablePdl", "i32"],
  ["decodeBuffers", "buffers"],
  ["prefillBuffers", "buffers"],
]);

export const MEMORY_STATS = layout("pod_memory_stats", [
  ["structSize", "u32"],
  ["device", "i32"],
  ["freeBytes", "u64"],
  ["totalBytes", "u64"],
  ["poolUsedBytes", "u64"],
  ["poolReservedBytes", "u64"],
]);

export const PLAN_ARGS = layout("pod_plan_args", [
  ["structSize", "u32"],
  ["numQoHeads", "i32"],
  ["numKvHeads", "i32"],
  ["headDim", "i32"],
  ["pageSize", "i32"],
  ["qDtype", "i32"],
  ["kvDtype", "i32"],
  ["launch", "i32"],
  ["stream", "u64"],
  ["decode", "table"],
  ["decodeOptions", "options"],
  ["prefill", "table"],
  ["prefillOptions", "options"],
]);

export const RUN_ARGS = layout("pod_run_args", [
  ["structSize", "u32"],
  ["kvLayoutP", "i32"],
  ["stream", "u64"],
  ["qP", "tensor"],
  ["kP", "tensor"],
  ["vP", "tensor"],
  ["maskP", "tensor"],
  ["maskPPacked", "i32"],
  ["returnLseP", "i32"],
  ["optionsP", "options"],
  ["oP", "tensor"],
  ["lseP", "tensor"],
  ["qD", "tensor"],
  ["pagedKD", "tensor"],
  ["pagedVD", "tensor"],
  ["optionsD", "options"],
  ["oD", "tensor"],
  ["lseD", "tensor"],
  ["enablePdl", "i32"],
  ["reserved2", "i32"],
  ["qScaleP", "f32"],
  ["kScaleP", "f32"],
  ["vScaleP", "f32"],
  ["qScaleD", "f32"],
  ["kScaleD", "f32"],
  ["vScaleD", "f32"],
]);

/** What the ABI needs of a tensor. */
export interface TensorDesc {
  readonly ptr: number;
  readonly dtypeCode: number;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly deviceId: number;
  /** The packed pod_tensor (TENSOR.size bytes), when the tensor keeps one: packing is then one copy. */
  readonly descriptor?: Uint8Array;
}

/** The pod_tensor bytes of a tensor (what StructBuffer.tensor writes). */
export function packTensor(t: TensorDesc): Uint8Array {
  const b = new StructBuffer(TENSOR.size);
  b.bytes.fill(0);
  b.packTensor(0, t);
  return b.bytes;
}

/** Fields of pod_attention_options by C name, encoded as numbers; a field left out is "not given". */
export type OptionsDesc = Readonly<Record<string, number>>;

/** A zeroed buffer with a DataView, sized for one struct. */
export class StructBuffer {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** The pod_attention_options structs its option pointers point at, by offset (kept as long as it is). */
  private readonly optionStructs = new Map<number, Uint8Array>();
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
    this.view.setUint32(0, size, true);
  }
  reset(): void {
    this.bytes.fill(0);
    this.view.setUint32(0, this.bytes.byteLength, true);
  }
  i32(offset: number, value: number): void {
    this.view.setInt32(offset, value, true);
  }
  f32(offset: number, value: number): void {
    this.view.setFloat32(offset, value, true);
  }
  /** A non-negative integer below 2^53 (addresses, sizes), written as uint64 without BigInt. */
  u64(offset: number, value: number): void {
    this.view.setUint32(offset, value % 0x100000000, true);
    this.view.setUint32(offset + 4, Math.floor(value / 0x100000000), true);
  }
  /** A signed 64-bit integer within ±2^53, written as two 32-bit halves without BigInt. */
  i64(offset: number, value: number): void {
    const high = Math.floor(value / 0x100000000);
    this.view.setUint32(offset, value - high * 0x100000000, true);
    this.view.setInt32(offset + 4, high, true);
  }
  tensor(offset: number, t: TensorDesc | null | undefined): void {
    if (!t) return; // all zero: absent
    if (t.descriptor) {
      this.bytes.set(t.descriptor, offset);
      return;
    }
    this.packTensor(offset, t);
  }
  /** Writes the pod_tensor fields of `t` at `offset`. */
  packTensor(offset: number, t: TensorDesc): void {
    this.u64(offset + TENSOR.at.data, t.ptr);
    this.i32(offset + TENSOR.at.dtype, t.dtypeCode);
    this.i32(offset + TENSOR.at.ndim, t.shape.length);
    for (let i = 0; i < t.shape.length; i++) {
      this.u64(offset + TENSOR_SHAPE + 8 * i, t.shape[i]!);
      this.i64(offset + TENSOR_STRIDES + 8 * i, t.strides[i]!);
    }
    this.i32(offset + TENSOR.at.device, t.deviceId);
  }
  /** Packs `o` into this buffer's own pod_attention_options for `offset` and points the field at it. */
  options(offset: number, o: OptionsDesc): void {
    let struct = this.optionStructs.get(offset);
    if (!struct) this.optionStructs.set(offset, (struct = new Uint8Array(OPTIONS.size)));
    const view = new DataView(struct.buffer);
    view.setUint32(0, OPTIONS.size, true);
    const at = OPTIONS.at as Record<string, number>;
    for (const [field, kind] of ATTENTION_FIELDS) {
      const value = o[field];
      if (kind === "f32") view.setFloat32(at[field]!, value ?? NaN, true);
      else view.setInt32(at[field]!, value ?? UNSET, true);
    }
    this.u64(offset, addressOf(struct));
  }
  /** A host int32 array (pointer + length); the array must outlive the C call. */
  hostI32(offset: number, a: Int32Array | undefined): void {
    if (!a || a.length === 0) return;
    this.u64(offset, addressOf(a));
    this.u64(offset + 8, a.length);
  }
}
