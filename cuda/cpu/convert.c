/* fp16, bf16 and fp8 conversions, bit-exact with round-to-nearest-even, without compiler half types. */
#include <math.h>
#include <string.h>

#include "cpu/cpu_backend.h"

static float bits_to_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static uint32_t float_to_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

float pod_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | (mant << 13));      /* inf, nan */
  if (exp == 0) {                                                                 /* zero, subnormal */
    float v = (float)mant * 5.9604644775390625e-08f;                              /* 2^-24 */
    return sign ? -v : v;
  }
  return bits_to_float(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t pod_float_to_half(float f) {
  uint32_t u = float_to_bits(f);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  uint32_t abs = u & 0x7fffffffu;
  if (abs >= 0x7f800000u) return sign | (abs > 0x7f800000u ? 0x7e00u : 0x7c00u);
  if (abs >= 0x477ff000u) return sign | 0x7c00u; /* rounds to >= 65520: overflow */
  if (abs < 0x38800000u) {                        /* below 2^-14: subnormal half */
    /* value * 2^24 rounded to an integer, ties to even (float addition of 0.5 rounds correctly here). */
    float v = bits_to_float(abs) * 16777216.0f;
    return sign | (uint16_t)nearbyintf(v);
  }
  uint32_t mant_round = abs + 0xfffu + ((abs >> 13) & 1u); /* round to nearest even at bit 13 */
  return sign | (uint16_t)((mant_round - 0x38000000u) >> 13);
}

float pod_bf16_to_float(uint16_t b) { return bits_to_float((uint32_t)b << 16); }

uint16_t pod_float_to_bf16(float f) {
  uint32_t u = float_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet nan */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

/* fp8 formats: mantissa bits, exponent bias, largest finite value and its code. */
typedef struct fp8_format {
  int mbits, bias;
  float max_finite;
  uint8_t max_code;
} fp8_format;
static const fp8_format e4m3 = {3, 7, 448.0f, 0x7e}, e5m2 = {2, 15, 57344.0f, 0x7b};

float pod_fp8_to_float(uint8_t x, int32_t dtype) {
  const fp8_format* f = dtype == POD_FLOAT8_E5M2 ? &e5m2 : &e4m3;
  const int ebits = 7 - f->mbits;
  const int exp = (x & 0x7f) >> f->mbits, mant = x & ((1 << f->mbits) - 1);
  const float sign = x & 0x80 ? -1.0f : 1.0f;
  if (dtype == POD_FLOAT8_E5M2 && exp == (1 << ebits) - 1) return mant ? NAN : sign * INFINITY;
  if (dtype != POD_FLOAT8_E5M2 && (x & 0x7f) == 0x7f) return NAN;
  if (exp == 0) return sign * ldexpf((float)mant, 1 - f->bias - f->mbits);
  return sign * ldexpf((float)((1 << f->mbits) | mant), exp - f->bias - f->mbits);
}

uint8_t pod_float_to_fp8(float v, int32_t dtype) {
  const fp8_format* f = dtype == POD_FLOAT8_E5M2 ? &e5m2 : &e4m3;
  if (isnan(v)) return 0x7f;
  const uint8_t sign = (float_to_bits(v) >> 24) & 0x80;
  const float a = fabsf(v);
  if (a >= f->max_finite) return sign | f->max_code; /* saturates, infinities included */
  /* Round to the grid of a's binade (the smallest normal binade for subnormals), ties to even. */
  int e;
  frexpf(a, &e);
  const int binade = e - 1 < 1 - f->bias ? 1 - f->bias : e - 1;
  const float steps = nearbyintf(ldexpf(a, f->mbits - binade)); /* in units of 2^(binade - mbits) */
  const float r = ldexpf(steps, binade - f->mbits);
  if (r > f->max_finite) return sign | f->max_code;
  if (r < ldexpf(1.0f, 1 - f->bias)) return sign | (uint8_t)ldexpf(r, f->bias - 1 + f->mbits); /* subnormal or zero */
  int re;
  frexpf(r, &re);
  const int mant = (int)ldexpf(r, f->mbits - (re - 1)) - (1 << f->mbits);
  return sign | (uint8_t)(((re - 1 + f->bias) << f->mbits) | mant);
}
