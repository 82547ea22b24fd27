import { describe, expect, test } from "bun:test";
import {
  DTYPE_CODE,
  bf16BitsToF32,
  decodeToFloat32,
  dtypeFromCode,
  dtypeSize,
  encodeFloats,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  f32ToFp8Bits,
  fp8BitsToF32,
  roundTo,
  type DType,
} from "../src/dtype";

const ALL: DType[] = ["float32", "float16", "bfloat16", "int32", "uint8", "bool", "float8_e4m3fn", "float8_e5m2"];

describe("dtype codes and sizes", () => {
  test("codes match pod_dtype and round-trip", () => {
    expect(DTYPE_CODE).toEqual({ float32: 0, float16: 1, bfloat16: 2, int32: 3, uint8: 4, bool: 5, float8_e4m3fn: 6, float8_e5m2: 7 });
    for (const d of ALL) expect(dtypeFromCode(DTYPE_CODE[d])).toBe(d);
    expect(() => dtypeFromCode(8)).toThrow();
    expect(() => dtypeFromCode(-1)).toThrow();
    expect(() => dtypeFromCode(1.5)).toThrow();
  });

  test("sizes", () => {
    expect(ALL.map(dtypeSize)).toEqual([4, 2, 2, 4, 1, 1, 1, 1]);
  });
});

describe("fp8", () => {
  test("e4m3fn: every non-NaN pattern round-trips; known values", () => {
    for (let b = 0; b < 256; b++) {
      const f = fp8BitsToF32(b, "float8_e4m3fn");
      if ((b & 0x7f) === 0x7f) {
        expect(f).toBeNaN();
        continue;
      }
      expect(f32ToFp8Bits(f, "float8_e4m3fn")).toBe(b);
    }
    expect(fp8BitsToF32(0x38, "float8_e4m3fn")).toBe(1);
    expect(fp8BitsToF32(0x7e, "float8_e4m3fn")).toBe(448);
    expect(fp8BitsToF32(0x01, "float8_e4m3fn")).toBe(2 ** -9); // smallest subnormal
    expect(fp8BitsToF32(0x08, "float8_e4m3fn")).toBe(2 ** -6); // smallest normal
    expect(fp8BitsToF32(0xc0, "float8_e4m3fn")).toBe(-2);
  });

  test("e5m2: every non-NaN pattern round-trips; infinities; it is the top byte of float16", () => {
    for (let b = 0; b < 256; b++) {
      const f = fp8BitsToF32(b, "float8_e5m2");
      expect(Object.is(f, f16BitsToF32(b << 8)) || (Number.isNaN(f) && Number.isNaN(f16BitsToF32(b << 8)))).toBe(true);
      if (Number.isNaN(f) || !Number.isFinite(f)) continue;
      expect(f32ToFp8Bits(f, "float8_e5m2")).toBe(b);
    }
    expect(fp8BitsToF32(0x7c, "float8_e5m2")).toBe(Infinity);
    expect(fp8BitsToF32(0x7b, "float8_e5m2")).toBe(57344);
  });

  test("rounding is to nearest, ties to even; out of range saturates; NaN stays NaN", () => {
    const e4 = (x: number) => f32ToFp8Bits(x, "float8_e4m3fn");
    // Between 1 (0x38) and 1.125 (0x39): the tie goes to the even code, above it up.
    expect(e4(1.0625)).toBe(0x38);
    expect(e4(1.0626)).toBe(0x39);
    expect(e4(1.1875)).toBe(0x3a); // tie between 0x39 and 0x3a: even
    expect(e4(2 ** -10)).toBe(0x00); // half the smallest subnormal: tie to zero (even)
    expect(e4(2 ** -10 * 1.01)).toBe(0x01);
    expect(e4(-0)).toBe(0x80);
    expect(e4(460)).toBe(0x7e);
    expect(e4(1e6)).toBe(0x7e);
    expect(e4(-Infinity)).toBe(0xfe);
    expect(fp8BitsToF32(e4(NaN), "float8_e4m3fn")).toBeNaN();
    expect(f32ToFp8Bits(Infinity, "float8_e5m2")).toBe(0x7b);
    expect(f32ToFp8Bits(-1e9, "float8_e5m2")).toBe(0xfb);
    expect(f32ToFp8Bits(1.125, "float8_e5m2")).toBe(0x3c); // tie between 1 (0x3c) and 1.25 (0x3d): even
    expect(roundTo("float8_e4m3fn", 0.3)).toBe(0.3125);
  });

  test("bulk encode and decode agree with the scalar conversions", () => {
    const xs = [0, 0.3, -1.7, 448, 1000, 2 ** -9, -3.25];
    for (const d of ["float8_e4m3fn", "float8_e5m2"] as const) {
      const bytes = encodeFloats(xs, d);
      expect(Array.from(bytes)).toEqual(xs.map((x) => f32ToFp8Bits(x, d)));
      expect(Array.from(decodeToFloat32(bytes, d, xs.length))).toEqual(xs.map((x) => roundTo(d, x)));
    }
  });
});

describe("float16", () => {
  test("every non-NaN bit pattern round-trips exactly", () => {
    let checked = 0;
    for (let h = 0; h < 0x10000; h++) {
      const f = f16BitsToF32(h);
      if (Number.isNaN(f)) continue;
      const back = f32ToF16Bits(f);
      if (back !== h) throw new Error(`0x${h.toString(16)} -> ${f} -> 0x${back.toString(16)}`);
      checked++;
    }
    // 65536 patterns minus 2 * 1023 NaNs
    expect(checked).toBe(65536 - 2046);
  });

  test("NaN patterns decode to NaN and encode to a quiet NaN", () => {
    expect(f16BitsToF32(0x7c01)).toBeNaN();
    expect(f16BitsToF32(0xfe00)).toBeNaN();
    const h = f32ToF16Bits(NaN);
    expect(h & 0x7c00).toBe(0x7c00);
    expect(h & 0x0200).toBe(0x0200);
  });

  test("known values", () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(0)).toBe(0x0000);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(f16BitsToF32(0x3555)).toBe(0.333251953125);
    expect(f16BitsToF32(0x03ff)).toBe(1023 * 2 ** -24);
  });

  test("ties round to even", () => {
    const ulp1 = 2 ** -10; // spacing of fp16 in [1, 2)
    expect(f32ToF16Bits(1 + ulp1 / 2)).toBe(0x3c00); // tie, down to even
    expect(f32ToF16Bits(1 + (3 * ulp1) / 2)).toBe(0x3c02); // tie, up to even
    expect(f32ToF16Bits(1 + ulp1 / 2 + 2 ** -20)).toBe(0x3c01); // just above the tie
    expect(f32ToF16Bits(-(1 + ulp1 / 2))).toBe(0xbc00);
    // Subnormal ties: half the smallest subnormal rounds to 0, 1.5 of it rounds to 2.
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000);
    expect(f32ToF16Bits(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002);
    expect(f32ToF16Bits(2 ** -26)).toBe(0x0000);
    // Largest subnormal + half an ulp carries into the smallest normal.
    expect(f32ToF16Bits(1023.5 * 2 ** -24)).toBe(0x0400);
  });

  test("no double rounding for float64 inputs", () => {
    // Just above a tie, but by less than float32 can represent: a naive fround first would land
    // exactly on the tie and round down to even.
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -40)).toBe(0x3c01);
    expect(f32ToF16Bits(1 + 2 ** -11 - 2 ** -40)).toBe(0x3c00);
  });

  test("overflow goes to Infinity, keeping the sign", () => {
    expect(f32ToF16Bits(65519)).toBe(0x7bff); // below the rounding boundary
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // tie between 65504 and 65536 -> even (Inf)
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(-1e6)).toBe(0xfc00);
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(f32ToF16Bits(1e300)).toBe(0x7c00);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
  });
});

describe("bfloat16", () => {
  test("bit patterns round-trip (sample of every 7th pattern plus edges)", () => {
    const patterns: number[] = [0x0000, 0x8000, 0x0001, 0x007f, 0x0080, 0x7f7f, 0x7f80, 0xff80, 0xffff];
    for (let b = 0; b < 0x10000; b += 7) patterns.push(b);
    for (const b of patterns) {
      const f = bf16BitsToF32(b);
      if (Number.isNaN(f)) continue;
      expect(f32ToBf16Bits(f)).toBe(b);
    }
  });

  test("known values, ties and overflow", () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(-0)).toBe(0x8000);
    expect(bf16BitsToF32(0x4049)).toBe(3.140625);
    const ulp1 = 2 ** -7;
    expect(f32ToBf16Bits(1 + ulp1 / 2)).toBe(0x3f80); // tie to even (down)
    expect(f32ToBf16Bits(1 + (3 * ulp1) / 2)).toBe(0x3f82); // tie to even (up)
    expect(f32ToBf16Bits(1 + ulp1 / 2 + 2 ** -20)).toBe(0x3f81);
    expect(f32ToBf16Bits(1 + ulp1 / 2 + 2 ** -40)).toBe(0x3f81); // float64 sticky bit kept
    // Max finite bf16 is (2 - 2^-7) * 2^127; rounding above the tie overflows.
    expect(f32ToBf16Bits(3.3895313892515355e38)).toBe(0x7f7f);
    expect(f32ToBf16Bits(3.4e38)).toBe(0x7f80);
    expect(f32ToBf16Bits(-Infinity)).toBe(0xff80);
    expect(f32ToBf16Bits(1e300)).toBe(0x7f80);
    // Subnormals survive.
    expect(bf16BitsToF32(f32ToBf16Bits(2 ** -133))).toBe(2 ** -133);
  });

  test("NaN stays NaN", () => {
    expect(bf16BitsToF32(f32ToBf16Bits(NaN))).toBeNaN();
    expect(bf16BitsToF32(0x7fc1)).toBeNaN();
  });
});

describe("roundTo", () => {
  test("rounds through each dtype", () => {
    expect(roundTo("float32", 0.1)).toBe(Math.fround(0.1));
    expect(roundTo("float16", 0.1)).toBe(0.0999755859375);
    expect(roundTo("bfloat16", 0.1)).toBe(0.10009765625);
    expect(roundTo("int32", -2.7)).toBe(-2);
    expect(roundTo("uint8", 255.9)).toBe(255);
    expect(roundTo("bool", 0.5)).toBe(1);
    expect(roundTo("bool", 0)).toBe(0);
    expect(() => roundTo("uint8", 256)).toThrow();
    expect(() => roundTo("int32", NaN)).toThrow();
  });
});

describe("encodeFloats / decodeToFloat32", () => {
  const values = [0, -0, 1, -1.5, 0.1, 1000.25, 65504, -3e-5];

  test("float dtypes decode to the rounded values", () => {
    for (const d of ["float32", "float16", "bfloat16"] as const) {
      const bytes = encodeFloats(values, d);
      expect(bytes.byteLength).toBe(values.length * dtypeSize(d));
      const back = decodeToFloat32(bytes, d, values.length);
      expect(Array.from(back)).toEqual(values.map((x) => Math.fround(roundTo(d, x))));
    }
  });

  test("bytes are little-endian", () => {
    expect(Array.from(encodeFloats([1], "float16"))).toEqual([0x00, 0x3c]);
    expect(Array.from(encodeFloats([1], "bfloat16"))).toEqual([0x80, 0x3f]);
    expect(Array.from(encodeFloats([1], "float32"))).toEqual([0x00, 0x00, 0x80, 0x3f]);
    expect(Array.from(encodeFloats([258], "int32"))).toEqual([0x02, 0x01, 0x00, 0x00]);
  });

  test("typed array inputs", () => {
    const f32 = new Float32Array([1.5, -2.25, 3]);
    expect(new Float32Array(encodeFloats(f32, "float32").buffer)).toEqual(f32);
    const f64 = new Float64Array([0.5, 7]);
    expect(Array.from(decodeToFloat32(encodeFloats(f64, "float16"), "float16", 2))).toEqual([0.5, 7]);
  });

  test("integer and bool dtypes", () => {
    const ints = [0, 1, -7, 2147483647, -2147483648];
    expect(Array.from(new Int32Array(encodeFloats(ints, "int32").buffer))).toEqual(ints);
    expect(Array.from(encodeFloats([0, 255, 3.9], "uint8"))).toEqual([0, 255, 3]);
    expect(Array.from(encodeFloats([true, false, 2, 0, NaN], "bool"))).toEqual([1, 0, 1, 0, 0]);
    expect(() => encodeFloats([2 ** 31], "int32")).toThrow();
    expect(() => encodeFloats([-1], "uint8")).toThrow();
    expect(Array.from(decodeToFloat32(new Uint8Array([0, 1, 200]), "uint8", 3))).toEqual([0, 1, 200]);
    expect(Array.from(decodeToFloat32(new Uint8Array([0, 1, 0]), "bool", 3))).toEqual([0, 1, 0]);
    expect(Array.from(decodeToFloat32(encodeFloats([-5, 12], "int32"), "int32", 2))).toEqual([-5, 12]);
  });

  test("decodes unaligned views and only `count` elements", () => {
    const raw = encodeFloats([1, 2, 3], "float32");
    const padded = new Uint8Array(raw.byteLength + 1);
    padded.set(raw, 1);
    expect(Array.from(decodeToFloat32(padded.subarray(1), "float32", 3))).toEqual([1, 2, 3]);
    expect(Array.from(decodeToFloat32(raw, "float32", 2))).toEqual([1, 2]);
    expect(() => decodeToFloat32(raw, "float32", 4)).toThrow();
  });
});
