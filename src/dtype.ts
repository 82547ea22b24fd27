/**
 * Element types understood by the library, and host-side conversions between JavaScript numbers
 * and their on-device byte encodings.
 *
 * All multi-byte encodings are little-endian: typed-array views are used directly, which matches
 * every host Bun runs on (x86-64, arm64) and the CUDA devices the bytes are copied to.
 */
import { POD_DTYPE } from "./enums.ts";

/**
 * Element types of tensors. Attention runs on float16 and bfloat16 (KV caches may also be fp8:
 * float8_e4m3fn or float8_e5m2); LSE is float32; masks are bool or uint8.
 */
export type DType = "float32" | "float16" | "bfloat16" | "int32" | "uint8" | "bool" | "float8_e4m3fn" | "float8_e5m2";

/** The fp8 dtypes of KV caches. */
export type Fp8DType = "float8_e4m3fn" | "float8_e5m2";

/** Numeric codes of `pod_dtype` in cuda/pod.h. */
export const DTYPE_CODE: Record<DType, number> = {
  float32: POD_DTYPE.FLOAT32,
  float16: POD_DTYPE.FLOAT16,
  bfloat16: POD_DTYPE.BFLOAT16,
  int32: POD_DTYPE.INT32,
  uint8: POD_DTYPE.UINT8,
  bool: POD_DTYPE.BOOL,
  float8_e4m3fn: POD_DTYPE.FLOAT8_E4M3,
  float8_e5m2: POD_DTYPE.FLOAT8_E5M2,
};

// Reverse of DTYPE_CODE, indexed by code.
const DTYPE_BY_CODE: readonly DType[] = (() => {
  const byCode: DType[] = [];
  for (const [name, code] of Object.entries(DTYPE_CODE) as [DType, number][]) byCode[code] = name;
  return byCode;
})();

/** The dtype with the given `pod_dtype` code; throws on an unknown code. */
export function dtypeFromCode(code: number): DType {
  const dtype = Number.isInteger(code) ? DTYPE_BY_CODE[code] : undefined;
  if (dtype === undefined) throw new RangeError(`unknown pod_dtype code ${code}`);
  return dtype;
}

const DTYPE_SIZE: Record<DType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  uint8: 1,
  bool: 1,
  float8_e4m3fn: 1,
  float8_e5m2: 1,
};

/** Size of one element in bytes. */
export function dtypeSize(d: DType): number {
  const size = DTYPE_SIZE[d];
  if (size === undefined) throw new RangeError(`unknown dtype ${String(d)}`);
  return size;
}

/** The engine's fp16 array and rounding where it has them (Bun does), else the conversions below. */
type Float16ArrayLike = { new (n: number): { [i: number]: number; set(a: ArrayLike<number>): void; buffer: ArrayBufferLike } };
export const NativeFloat16Array = (globalThis as { Float16Array?: Float16ArrayLike }).Float16Array;
const f16Round = (Math as { f16round?: (x: number) => number }).f16round;

// Shared scratch for reinterpreting float32 <-> uint32 bits without allocation.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/**
 * Bits of `x` rounded to float32 with round-to-odd.
 *
 * Why: JavaScript numbers are float64. Rounding float64 -> float32 -> half with round-to-nearest
 * twice can land exactly on a half-way point of the narrower format and round the wrong way.
 * Rounding the first step to odd keeps a sticky bit in the float32 mantissa, and since float32 has
 * at least two more bits than fp16/bf16, the second (nearest-even) rounding is then exact.
 */
function f32BitsRoundToOdd(x: number): number {
  const f = Math.fround(x);
  scratchF32[0] = f;
  let bits = scratchU32[0]!;
  // Inexact and even: step one ulp towards x, which makes the low bit odd. Exact values, NaN and
  // values beyond float32's range (fround gave +-Inf, which fp16/bf16 overflow to anyway) pass.
  if (f !== x && (bits & 1) === 0 && Number.isFinite(f) && !Number.isNaN(x)) {
    bits = Math.abs(x) > Math.abs(f) ? bits + 1 : bits - 1;
  }
  return bits >>> 0;
}

/**
 * IEEE binary16 bits of `x`, rounded to nearest-even. Overflow gives +-Inf, tiny values become
 * subnormals or signed zero, and NaN becomes a quiet NaN keeping the top payload bits.
 */
export function f32ToF16Bits(x: number): number {
  const bits = f32BitsRoundToOdd(x);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;

  if (exp === 0xff) {
    // Inf stays Inf; NaN is forced quiet so a payload truncated to zero cannot turn into Inf.
    return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  }

  const e = exp - 127 + 15; // rebias
  if (e >= 0x1f) return sign | 0x7c00; // too large even before rounding

  if (e >= 1) {
    // Normal: keep 10 mantissa bits, round on the 13 dropped ones. A carry out of the mantissa
    // correctly bumps the exponent (and reaches Inf at the top of the range).
    let half = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) !== 0)) half++;
    return sign | half;
  }

  // Subnormal or zero. Below 2^-25 (half the smallest subnormal) everything rounds to zero; at
  // e == -10 the value is in [2^-25, 2^-24) and may still round up.
  if (e < -10) return sign;
  const m = mant | 0x800000; // restore the implicit bit
  const shift = 14 - e; // 14..24
  let half = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (half & 1) !== 0)) half++; // may carry into normal
  return sign | half;
}

/** The value of IEEE binary16 bits `h` (exact: every fp16 value is a float32 value). */
export function f16BitsToF32(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) {
    // Zero or subnormal: mant * 2^-24, computed in float arithmetic (exact).
    const v = mant * 5.960464477539063e-8;
    return sign !== 0 ? -v : v;
  }
  if (exp === 0x1f) scratchU32[0] = sign | 0x7f800000 | (mant << 13); // Inf / NaN
  else scratchU32[0] = sign | ((exp + 112) << 23) | (mant << 13); // rebias 15 -> 127
  return scratchF32[0]!;
}

/** bfloat16 bits of `x`, rounded to nearest-even; NaN becomes a quiet NaN. */
export function f32ToBf16Bits(x: number): number {
  const bits = f32BitsRoundToOdd(x);
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) {
    return ((bits >>> 16) | 0x40) & 0xffff; // NaN: quiet bit keeps it from truncating to Inf
  }
  // Adding 0x7fff plus the lowest kept bit rounds to nearest-even; carries handle overflow to Inf.
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The value of bfloat16 bits `b` (exact). */
export function bf16BitsToF32(b: number): number {
  scratchU32[0] = (b & 0xffff) << 16;
  return scratchF32[0]!;
}

// fp8 formats: mantissa bits, exponent bias, largest finite value and its code.
const FP8 = {
  float8_e4m3fn: { mbits: 3, bias: 7, maxFinite: 448, maxCode: 0x7e },
  float8_e5m2: { mbits: 2, bias: 15, maxFinite: 57344, maxCode: 0x7b },
} as const;

/** floor(log2(a)) for a > 0, exactly (Math.log2 may be off by one next to powers of two). */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/** x rounded to an integer, ties to even. */
function roundHalfEven(x: number): number {
  const r = Math.floor(x);
  const diff = x - r;
  return diff > 0.5 || (diff === 0.5 && r % 2 !== 0) ? r + 1 : r;
}

/**
 * fp8 bits of `x`, rounded to nearest-even and saturated to the largest finite value (infinities
 * too, as CUDA's satfinite conversions do); NaN becomes 0x7f.
 */
export function f32ToFp8Bits(x: number, dtype: Fp8DType): number {
  const f = FP8[dtype];
  if (Number.isNaN(x)) return 0x7f;
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(x);
  if (a >= f.maxFinite) return sign | f.maxCode;
  // Round on the grid of a's binade (the smallest normal binade for subnormals).
  const minExp = 1 - f.bias;
  const binade = a === 0 ? minExp : Math.max(minExp, exponentOf(a));
  const steps = roundHalfEven(a * 2 ** (f.mbits - binade)); // exact scaling by a power of two
  const r = steps * 2 ** (binade - f.mbits);
  if (r > f.maxFinite) return sign | f.maxCode;
  if (r < 2 ** minExp) return sign | (r * 2 ** (f.bias - 1 + f.mbits)); // subnormal or zero
  const e = exponentOf(r);
  const mant = r / 2 ** e * 2 ** f.mbits - 2 ** f.mbits;
  return sign | ((e + f.bias) << f.mbits) | mant;
}

/** The value of fp8 bits `b` (exact). */
export function fp8BitsToF32(b: number, dtype: Fp8DType): number {
  const f = FP8[dtype];
  const exp = (b & 0x7f) >>> f.mbits;
  const mant = b & ((1 << f.mbits) - 1);
  const sign = b & 0x80 ? -1 : 1;
  if (dtype === "float8_e5m2" && exp === 0x1f) return mant ? NaN : sign * Infinity;
  if (dtype === "float8_e4m3fn" && (b & 0x7f) === 0x7f) return NaN;
  if (exp === 0) return sign * mant * 2 ** (1 - f.bias - f.mbits);
  return sign * ((1 << f.mbits) | mant) * 2 ** (exp - f.bias - f.mbits);
}

// Converts a number to a checked integer in [lo, hi]; truncates toward zero like a C cast would,
// but refuses values a C cast would make undefined.
function toIntInRange(x: number, lo: number, hi: number, dtype: DType): number {
  const t = Math.trunc(x);
  if (!(t >= lo && t <= hi)) throw new RangeError(`${x} does not fit ${dtype}`);
  return t;
}

/**
 * `x` rounded through `dtype` and back: what a device tensor of that dtype would hold. Tests use it
 * to make inputs exactly representable. Integer dtypes truncate toward zero (throwing when out of
 * range); bool gives 0 or 1.
 */
export function roundTo(dtype: DType, x: number): number {
  switch (dtype) {
    case "float32":
      return Math.fround(x);
    case "float16":
      return f16Round ? f16Round(x) : f16BitsToF32(f32ToF16Bits(x));
    case "bfloat16":
      return bf16BitsToF32(f32ToBf16Bits(x));
    case "int32":
      return toIntInRange(x, -0x80000000, 0x7fffffff, dtype);
    case "uint8":
      return toIntInRange(x, 0, 0xff, dtype);
    case "bool":
      return x ? 1 : 0;
    case "float8_e4m3fn":
    case "float8_e5m2":
      return fp8BitsToF32(f32ToFp8Bits(x, dtype), dtype);
  }
}

/**
 * Raw little-endian bytes of `src` converted to `dtype`. Floats round to nearest-even; int32 and
 * uint8 truncate toward zero and throw when a value is out of range; bool stores 0 or 1 (any truthy
 * value, including `true`, is 1).
 */
export function encodeFloats(src: ArrayLike<number | boolean>, dtype: DType): Uint8Array {
  const n = src.length;
  switch (dtype) {
    case "float32": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i]);
      return new Uint8Array(out.buffer);
    }
    case "float16": {
      if (NativeFloat16Array) {
        // The engine's conversion (one rounding from float64, nearest-even): about 15x faster than the loop below.
        const out = new NativeFloat16Array(n);
        out.set(src as ArrayLike<number>); // booleans convert to 0 and 1
        return new Uint8Array(out.buffer);
      }
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = f32ToF16Bits(Number(src[i]));
      return new Uint8Array(out.buffer);
    }
    case "bfloat16": {
      const out = new Uint16Array(n); // no bfloat16 array in JavaScript: by hand
      for (let i = 0; i < n; i++) out[i] = f32ToBf16Bits(Number(src[i]));
      return new Uint8Array(out.buffer);
    }
    case "int32": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = toIntInRange(Number(src[i]), -0x80000000, 0x7fffffff, dtype);
      return new Uint8Array(out.buffer);
    }
    case "uint8": {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = toIntInRange(Number(src[i]), 0, 0xff, dtype);
      return out;
    }
    case "bool": {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = src[i] ? 1 : 0;
      return out;
    }
    case "float8_e4m3fn":
    case "float8_e5m2": {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = f32ToFp8Bits(Number(src[i]), dtype);
      return out;
    }
  }
}

// Lazily built table of all 65536 fp16 values: bulk decoding becomes a single indexed load.
let f16Table: Float32Array | undefined;
function getF16Table(): Float32Array {
  if (f16Table === undefined) {
    const table = new Float32Array(0x10000);
    for (let h = 0; h < 0x10000; h++) table[h] = f16BitsToF32(h);
    f16Table = table;
  }
  return f16Table;
}

// The 256 values of each fp8 dtype, built on first use.
const fp8Tables = new Map<Fp8DType, Float32Array>();
function getFp8Table(dtype: Fp8DType): Float32Array {
  let table = fp8Tables.get(dtype);
  if (table === undefined) {
    table = Float32Array.from({ length: 256 }, (_, b) => fp8BitsToF32(b, dtype));
    fp8Tables.set(dtype, table);
  }
  return table;
}

/**
 * The first `count` elements of `bytes` (little-endian, of type `dtype`) as float32 values.
 * `bytes` may be any view, aligned or not.
 */
export function decodeToFloat32(bytes: Uint8Array, dtype: DType, count: number): Float32Array {
  const size = dtypeSize(dtype);
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`invalid count ${count}`);
  if (bytes.byteLength < count * size) {
    throw new RangeError(`need ${count * size} bytes for ${count} ${dtype}, got ${bytes.byteLength}`);
  }
  // Typed-array views need an aligned offset; copy the (rare) misaligned input once.
  const src = bytes.byteOffset % size === 0 ? bytes : bytes.slice(0, count * size);
  const { buffer, byteOffset } = src;
  const out = new Float32Array(count);
  switch (dtype) {
    case "float32":
      out.set(new Float32Array(buffer, byteOffset, count));
      break;
    case "float16": {
      const table = getF16Table();
      const h = new Uint16Array(buffer, byteOffset, count);
      for (let i = 0; i < count; i++) out[i] = table[h[i]!]!;
      break;
    }
    case "bfloat16": {
      // Widening is a 16-bit shift, so write bits straight into a uint32 view of the output.
      const b = new Uint16Array(buffer, byteOffset, count);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = b[i]! << 16;
      break;
    }
    case "int32":
      out.set(new Int32Array(buffer, byteOffset, count)); // may round above 2^24, as float32 must
      break;
    case "uint8":
      out.set(src.subarray(0, count));
      break;
    case "bool":
      for (let i = 0; i < count; i++) out[i] = src[i] !== 0 ? 1 : 0;
      break;
    case "float8_e4m3fn":
    case "float8_e5m2": {
      const table = getFp8Table(dtype);
      for (let i = 0; i < count; i++) out[i] = table[src[i]!]!;
      break;
    }
  }
  return out;
}
