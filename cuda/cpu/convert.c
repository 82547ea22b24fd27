/* fp16 and bf16 conversions, bit-exact with round-to-nearest-even, without compiler half types. */
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
