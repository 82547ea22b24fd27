/**
 * Tensors: a pointer, a shape, strides (in elements), a dtype and a device. Memory comes from the
 * library's allocator (device memory on CUDA, host memory on the CPU backend) or from elsewhere
 * through `Tensor.fromPointer`, which copies nothing.
 */
import { packTensor, StructBuffer, TENSOR, type TensorDesc } from "./abi.ts";
import { capturesOpen, freeWhenNotCapturing } from "./capture.ts";
import { decodeToFloat32, DTYPE_CODE, dtypeSize, encodeFloats, type DType } from "./dtype.ts";
import { Device } from "./device.ts";
import { MEMCPY_KIND } from "./enums.ts";
import { check, invalid, PodError, Status } from "./errors.ts";
import { addressOf, lib } from "./ffi.ts";
import { Stream, streamHandle } from "./stream.ts";
import { describe, integer } from "./validate.ts";

const { HOST_TO_DEVICE, DEVICE_TO_HOST, DEVICE_TO_DEVICE } = MEMCPY_KIND;

/** Memory owned by the library's allocator; freed by destroy() or, failing that, by the GC. */
class Allocation {
  freed = false;
  constructor(
    readonly device: Device,
    readonly ptr: number,
    readonly bytes: number,
  ) {}
}

/** Frees an allocation; CUDA memory waits for open graph captures to end (the free runs on the default stream). */
function freeAllocation(device: number, ptr: number): void {
  if (device < 0) check(lib.pod_free(device, ptr, 0n));
  else freeWhenNotCapturing(() => check(lib.pod_free(device, ptr, 0n)));
}

const collector = new FinalizationRegistry<{ device: number; ptr: number }>(({ device, ptr }) => {
  try {
    freeAllocation(device, ptr);
  } catch {
    // Nobody to tell: the memory was unreachable.
  }
});

/** Host data for {@link Tensor.from}: numbers, booleans or a typed array, in row-major order. */
export type TensorData = ArrayLike<number> | ArrayLike<boolean>;

/** Where a new tensor lives. */
export interface TensorOptions {
  /** A Device or "cpu" / "cuda" / "cuda:N"; default {@link Device.best}(). */
  device?: Device | string;
  /** The stream that allocates (and fills) the memory; default: the device's default stream. */
  stream?: Stream;
}

/** Elements toString() and Bun.inspect show. */
const PREVIEW = 6;

// Default seeds of random tensors: a fixed base mixed with a counter (splitmix64), so that a program's
// random tensors differ from each other and are the same on every run.
const SEED_BASE = 0x9e3779b97f4a7c15n;
let seedCounter = 0n;
function nextSeed(): number {
  let z = (SEED_BASE + ++seedCounter * 0x632be59bd9b4e5c9n) & 0xffffffffffffffffn;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
  return Number((z ^ (z >> 31n)) & 0x1fffffffffffffn); // 53 bits: a safe integer
}

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

function checkShape(name: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) throw invalid(`${name}: expected an array of sizes, got ${describe(shape)}`);
  if (shape.length > 6) throw invalid(`${name}: at most 6 dimensions, got ${shape.length}`);
  return shape.map((n, i) => integer(`${name}[${i}]`, n, 0, Number.MAX_SAFE_INTEGER));
}

function checkDtype(dtype: unknown): DType {
  if (typeof dtype !== "string" || !(dtype in DTYPE_CODE))
    throw invalid(`dtype: expected one of ${Object.keys(DTYPE_CODE).join(", ")}, got ${describe(dtype)}`);
  return dtype as DType;
}

/**
 * An n-dimensional array (at most 6 dimensions) on a device: an address, a shape, strides in elements
 * and a dtype. Tensors made by `empty`/`zeros`/`from`/`random` own their memory (freed by destroy(),
 * `using`, or the garbage collector); views (`narrow`, `select`, `permute`, `reshape`) share it.
 */
export class Tensor implements TensorDesc {
  /** Sizes of the dimensions. */
  readonly shape: readonly number[];
  /** Distance between neighbours along each dimension, in elements. */
  readonly strides: readonly number[];
  readonly dtype: DType;
  readonly device: Device;
  private readonly address: number;
  private readonly allocation: Allocation | null;
  /** Whether destroy() frees the allocation (the tensor that made it), or only retires a view. */
  private readonly owns: boolean;
  private viewDestroyed = false;
  private packed: Uint8Array | undefined;
  private packedFor: object | undefined; // the object `packed` describes (not one derived from it)

  private constructor(
    ptr: number,
    shape: number[],
    strides: number[],
    dtype: DType,
    device: Device,
    allocation: Allocation | null,
    owns = false,
  ) {
    this.address = ptr;
    this.shape = Object.freeze(shape);
    this.strides = Object.freeze(strides);
    this.dtype = dtype;
    this.device = device;
    this.allocation = allocation;
    this.owns = owns;
  }

  /** An uninitialised tensor. */
  static empty(shape: readonly number[], dtype: DType, options: TensorOptions = {}): Tensor {
    const dims = checkShape("shape", shape);
    const dt = checkDtype(dtype);
    const device = Device.parse(options.device ?? Device.best());
    const bytes = dims.reduce((a, b) => a * b, 1) * dtypeSize(dt);
    if (bytes > 2 ** 48) throw invalid(`shape: [${dims.join(", ")}] of ${dt} needs ${bytes} bytes, beyond any device's memory`);
    const out = new BigUint64Array(1);
    check(lib.pod_malloc(device.id, bytes, streamHandle(options.stream, device), out));
    const ptr = Number(out[0]);
    const allocation = new Allocation(device, ptr, bytes);
    collector.register(allocation, { device: device.id, ptr }, allocation);
    return new Tensor(ptr, dims, contiguousStrides(dims), dt, device, allocation, true);
  }

  /** A tensor whose every element is `value` (converted to `dtype` as fill() does). */
  static full(shape: readonly number[], value: number, dtype: DType, options: TensorOptions = {}): Tensor {
    if (typeof value !== "number") throw invalid(`value: expected a number, got ${describe(value)}`);
    const t = Tensor.empty(shape, dtype, options);
    try {
      return t.fill(value, 0, options.stream);
    } catch (e) {
      t.destroy();
      throw e;
    }
  }

  /** A tensor of zeros. */
  static zeros(shape: readonly number[], dtype: DType, options: TensorOptions = {}): Tensor {
    const t = Tensor.empty(shape, dtype, options);
    check(lib.pod_memset(t.device.id, t.ptr, 0, t.nbytes, streamHandle(options.stream, t.device)));
    return t;
  }

  /** A tensor holding `data` (row-major) converted to `dtype`: fp16/bf16 round to nearest even. */
  static from(data: TensorData, shape: readonly number[], dtype: DType, options: TensorOptions = {}): Tensor {
    const dims = checkShape("shape", shape);
    const numel = dims.reduce((a, b) => a * b, 1);
    if (data.length !== numel) throw invalid(`data: has ${data.length} elements, shape [${dims.join(", ")}] needs ${numel}`);
    let bytes: Uint8Array;
    try {
      bytes = encodeFloats(data, checkDtype(dtype));
    } catch (e) {
      throw e instanceof PodError ? e : invalid(`data: ${(e as Error).message}`);
    }
    const t = Tensor.empty(dims, dtype, options);
    try {
      t.copyFromHost(bytes, options.stream);
    } catch (e) {
      t.destroy();
      throw e;
    }
    return t;
  }

  /**
   * A view of memory owned elsewhere (another library's device buffer, a host buffer for the CPU
   * device). Nothing is copied or freed; the caller keeps the memory alive. For a CUDA device the
   * driver must know the address (device memory of that device, managed or page-locked memory) and
   * the view must lie within its allocation; device memory is rejected for the CPU device, and so is a
   * host view whose pages are not all mapped. Whether host memory is still allocated and as large as
   * the view cannot be told: that is the caller's responsibility.
   */
  static fromPointer(
    ptr: number | bigint,
    shape: readonly number[],
    dtype: DType,
    options: { device?: Device | string; strides?: readonly number[] } = {},
  ): Tensor {
    const address = typeof ptr === "bigint" ? Number(ptr) : ptr;
    if (!Number.isSafeInteger(address) || address <= 0) throw invalid(`ptr: expected a non-null address, got ${describe(ptr)}`);
    const dims = checkShape("shape", shape);
    const strides = options.strides ? checkShape("strides", options.strides) : contiguousStrides(dims);
    if (strides.length !== dims.length) throw invalid(`strides: expected ${dims.length} entries, got ${strides.length}`);
    const device = Device.parse(options.device ?? Device.best());
    const dt = checkDtype(dtype);
    // The bytes the view reaches (strides are not negative): from ptr to its last element's end.
    const numel = dims.reduce((a, b) => a * b, 1);
    const span = numel === 0 ? 0 : (dims.reduce((acc, n, i) => acc + (n - 1) * strides[i]!, 0) + 1) * dtypeSize(dt);
    if (!Number.isSafeInteger(span)) throw invalid(`shape: the view spans more bytes than an address holds`);
    // What the driver can tell: a CUDA device's memory must be known to it, of that device, and hold
    // the whole view; device memory is not host memory; host pages must be mapped (pod.h,
    // pod_pointer_check). Beyond that, host memory for the CPU device is the caller's responsibility.
    check(lib.pod_pointer_check(device.id, address, span));
    return new Tensor(address, dims, strides, dt, device, null);
  }

  /** The address of element 0; throws once the memory was freed. */
  get ptr(): number {
    if (this.viewDestroyed || this.allocation?.freed) throw new PodError(Status.INVALID_ARGUMENT, "tensor: used after destroy()");
    return this.address;
  }

  /** The packed pod_tensor of this (immutable) tensor, made once; throws once the memory was freed. */
  get descriptor(): Uint8Array {
    if (this.viewDestroyed || this.allocation?.freed) throw new PodError(Status.INVALID_ARGUMENT, "tensor: used after destroy()");
    if (this.packedFor !== this || !this.packed) {
      this.packed = packTensor(this);
      this.packedFor = this;
    }
    return this.packed;
  }

  /** The dtype's `pod_dtype` code (cuda/pod.h). */
  get dtypeCode(): number {
    return DTYPE_CODE[this.dtype];
  }

  /** -1 for the CPU, else the CUDA ordinal. */
  get deviceId(): number {
    return this.device.id;
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Bytes of the elements (numel × element size). */
  get nbytes(): number {
    return this.numel * dtypeSize(this.dtype);
  }

  /** Whether the elements are dense in row-major order. */
  get isContiguous(): boolean {
    const c = contiguousStrides(this.shape);
    return this.shape.every((n, i) => n <= 1 || this.strides[i] === c[i]);
  }

  /** Whether destroy() was called on this tensor, or its memory was freed through its owner. */
  get destroyed(): boolean {
    return this.viewDestroyed || !!this.allocation?.freed;
  }

  /** A view of `length` entries of dimension `dim` from `start` (like a slice along one axis). */
  narrow(dim: number, start: number, length: number): Tensor {
    integer("dim", dim, 0, this.ndim - 1);
    integer("start", start, 0, this.shape[dim]!);
    integer("length", length, 0, this.shape[dim]! - start);
    const shape = [...this.shape];
    shape[dim] = length;
    return this.view(this.ptr + start * this.strides[dim]! * dtypeSize(this.dtype), shape, [...this.strides]);
  }

  /** A view without dimension `dim`, at `index` of it. */
  select(dim: number, index: number): Tensor {
    integer("dim", dim, 0, this.ndim - 1);
    integer("index", index, 0, this.shape[dim]! - 1);
    const shape = this.shape.filter((_, i) => i !== dim);
    const strides = this.strides.filter((_, i) => i !== dim);
    return this.view(this.ptr + index * this.strides[dim]! * dtypeSize(this.dtype), shape, strides);
  }

  /** A view with dimensions reordered. */
  permute(order: readonly number[]): Tensor {
    if (order.length !== this.ndim || [...order].sort().some((d, i) => d !== i))
      throw invalid(`order: expected a permutation of 0..${this.ndim - 1}, got [${order.join(", ")}]`);
    return this.view(
      this.ptr,
      order.map((d) => this.shape[d]!),
      order.map((d) => this.strides[d]!),
    );
  }

  /** A view with a new shape over the same contiguous memory. */
  reshape(shape: readonly number[]): Tensor {
    const dims = checkShape("shape", shape);
    if (!this.isContiguous) throw invalid("reshape: the tensor is not contiguous");
    if (dims.reduce((a, b) => a * b, 1) !== this.numel) throw invalid(`shape: [${dims.join(", ")}] does not hold ${this.numel} elements`);
    return this.view(this.ptr, dims, contiguousStrides(dims));
  }

  private view(ptr: number, shape: number[], strides: number[]): Tensor {
    return new Tensor(ptr, shape, strides, this.dtype, this.device, this.allocation);
  }

  /** Sets element i (row-major logical order) to start + i * step, on the device. */
  fill(start: number, step = 0, stream?: Stream): this {
    const buf = new StructBuffer(TENSOR.size);
    buf.tensor(0, this);
    check(lib.pod_tensor_fill(buf.bytes, start, step, streamHandle(stream, this.device)));
    return this;
  }

  /**
   * Fills with uniform random numbers in [low, high) drawn from (seed, element index), on the device:
   * the same values on every device, so GPU and CPU runs can be compared. Without a seed, each call
   * takes the next of a fixed sequence: tensors differ from each other, and a program gets the same
   * ones on every run.
   */
  fillRandom(seed: number = nextSeed(), low = -1, high = 1, stream?: Stream): this {
    integer("seed", seed, 0, Number.MAX_SAFE_INTEGER);
    const buf = new StructBuffer(TENSOR.size);
    buf.tensor(0, this);
    check(lib.pod_tensor_fill_random(buf.bytes, BigInt(seed), low, high, streamHandle(stream, this.device)));
    return this;
  }

  /** A tensor of uniform random numbers (see fillRandom; without `seed`, the next default seed). */
  static random(shape: readonly number[], dtype: DType, options: TensorOptions & { seed?: number; low?: number; high?: number } = {}): Tensor {
    const t = Tensor.empty(shape, dtype, options);
    try {
      return t.fillRandom(options.seed ?? nextSeed(), options.low ?? -1, options.high ?? 1, options.stream);
    } catch (e) {
      t.destroy();
      throw e;
    }
  }

  /** Copies the tensor's bytes (contiguous tensors only) from host bytes. */
  copyFromHost(bytes: Uint8Array, stream?: Stream): void {
    if (!this.isContiguous) throw invalid("tensor: copyFromHost needs a contiguous tensor");
    if (bytes.byteLength !== this.nbytes) throw invalid(`bytes: expected ${this.nbytes} bytes, got ${bytes.byteLength}`);
    if (this.nbytes === 0) return; // an empty view has no address to pass
    check(lib.pod_memcpy(this.device.id, this.ptr, addressOf(bytes), this.nbytes, HOST_TO_DEVICE, streamHandle(stream, this.device)));
  }

  /** Copies `src` (same device, dtype and element count; both contiguous) into this tensor. */
  copyFrom(src: Tensor, stream?: Stream): this {
    if (src.device !== this.device) throw invalid(`src: is on ${src.device}, this tensor on ${this.device}; use to() to move between devices`);
    if (src.dtype !== this.dtype || src.numel !== this.numel) throw invalid(`src: ${src.label()} does not match ${this.label()}`);
    if (!src.isContiguous || !this.isContiguous) throw invalid("src: copyFrom needs contiguous tensors");
    if (this.nbytes > 0)
      check(lib.pod_memcpy(this.device.id, this.ptr, src.ptr, this.nbytes, DEVICE_TO_DEVICE, streamHandle(stream, this.device)));
    return this;
  }

  /** A contiguous copy on `device` (staged through the host when the devices differ). */
  to(device: Device | string): Tensor {
    const target = Device.parse(device);
    if (!this.isContiguous) throw invalid("tensor: to() needs a contiguous tensor");
    const out = Tensor.empty(this.shape, this.dtype, { device: target });
    if (target === this.device) return out.copyFrom(this);
    out.copyFromHost(this.rawBytes());
    return out;
  }

  /** The bytes of a contiguous tensor, copied to the host. */
  rawBytes(): Uint8Array {
    if (!this.isContiguous) throw invalid("tensor: rawBytes() needs a contiguous tensor");
    const raw = new Uint8Array(this.nbytes);
    if (raw.byteLength > 0) check(lib.pod_memcpy(this.device.id, addressOf(raw), this.ptr, raw.byteLength, DEVICE_TO_HOST, 0n));
    return raw;
  }

  /** The elements in row-major order as float32 (strided views are gathered on the host). */
  toFloat32Array(stream?: Stream): Float32Array {
    const n = this.numel;
    if (n === 0) return new Float32Array(0);
    const size = dtypeSize(this.dtype);
    const span = this.shape.reduce((acc, len, i) => acc + (len - 1) * this.strides[i]!, 0) + 1;
    const raw = new Uint8Array(span * size);
    check(lib.pod_memcpy(this.device.id, addressOf(raw), this.ptr, raw.byteLength, DEVICE_TO_HOST, streamHandle(stream, this.device)));
    if (stream) stream.synchronize();
    const all = decodeToFloat32(raw, this.dtype, span);
    if (this.isContiguous) return all;
    const out = new Float32Array(n);
    const idx = new Array<number>(this.ndim).fill(0);
    for (let i = 0; i < n; i++) {
      let off = 0;
      for (let d = 0; d < this.ndim; d++) off += idx[d]! * this.strides[d]!;
      out[i] = all[off]!;
      for (let d = this.ndim - 1; d >= 0; d--) {
        if (++idx[d]! < this.shape[d]!) break;
        idx[d] = 0;
      }
    }
    return out;
  }

  /** Frees the memory (a view only stops being usable). Idempotent. */
  destroy(): void {
    if (this.owns && this.allocation && !this.allocation.freed) {
      this.allocation.freed = true;
      collector.unregister(this.allocation);
      freeAllocation(this.allocation.device.id, this.allocation.ptr);
    }
    this.viewDestroyed = true;
  }

  [Symbol.dispose](): void {
    this.destroy();
  }

  /** dtype, shape and device, without reading any element. */
  private label(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(", ")}], ${this.device})`;
  }

  /** The first elements (row-major) as numbers, copying only those to the host. */
  private preview(count: number): number[] {
    const n = Math.min(count, this.numel);
    const size = dtypeSize(this.dtype);
    const offsets: number[] = [];
    const idx = new Array<number>(this.ndim).fill(0);
    for (let i = 0; i < n; i++) {
      offsets.push(idx.reduce((acc, x, d) => acc + x * this.strides[d]!, 0));
      for (let d = this.ndim - 1; d >= 0; d--) {
        if (++idx[d]! < this.shape[d]!) break;
        idx[d] = 0;
      }
    }
    const raw = new Uint8Array(n * size);
    const span = offsets.length ? Math.max(...offsets) + 1 : 0;
    if (span <= PREVIEW * 4) {
      // One copy of the few elements' span (contiguous tensors: exactly the first n).
      const all = new Uint8Array(span * size);
      check(lib.pod_memcpy(this.device.id, addressOf(all), this.ptr, all.byteLength, DEVICE_TO_HOST, 0n));
      offsets.forEach((o, i) => raw.set(all.subarray(o * size, (o + 1) * size), i * size));
    } else {
      offsets.forEach((o, i) =>
        check(lib.pod_memcpy(this.device.id, addressOf(raw.subarray(i * size)), this.ptr + o * size, size, DEVICE_TO_HOST, 0n)),
      );
    }
    return Array.from(decodeToFloat32(raw, this.dtype, n), (x) => (Number.isInteger(x) ? x : Number(x.toPrecision(5))));
  }

  /**
   * `Tensor(float16, [2, 3], cpu, [0.1, 0.2, …])`: dtype, shape, device and the first elements. A
   * destroyed tensor says so; elements of a GPU tensor are not read while a graph capture is open
   * (a copy to the host would break it).
   */
  toString(): string {
    const head = this.label().slice(0, -1);
    if (this.destroyed) return `${head}, destroyed)`;
    if (this.numel === 0) return `${head}, [])`;
    if (!this.device.isCpu && capturesOpen() > 0) return `${head}, [elements not read during a graph capture])`;
    try {
      const values = this.preview(PREVIEW);
      return `${head}, [${values.join(", ")}${this.numel > PREVIEW ? ", …" : ""}])`;
    } catch {
      return `${head}, [elements unreadable])`;
    }
  }

  /** How Bun.inspect and console.log show a tensor (see toString). */
  [Bun.inspect.custom](): string {
    return this.toString();
  }
}
