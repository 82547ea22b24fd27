/* The CPU reference backend: plain C with fp32 accumulation. It is the oracle for the GPU kernels. */
#ifndef POD_CPU_BACKEND_H
#define POD_CPU_BACKEND_H

#include "pod.h"
#include "shim/attention_problem.h"

int32_t pod_cpu_fill(const pod_tensor* t, double start, double step, uint64_t seed, int random);
/* Computes one side (prefill or decode) of a planned, validated problem. */
int32_t pod_cpu_attention(const pod_side* side);

/* Scalar conversions with round-to-nearest-even. */
float pod_half_to_float(uint16_t h);
uint16_t pod_float_to_half(float f);
float pod_bf16_to_float(uint16_t b);
uint16_t pod_float_to_bf16(float f);
/* fp8 (dtype POD_FLOAT8_E4M3 or POD_FLOAT8_E5M2): exact decoding; encoding rounds to nearest-even and
 * saturates to the largest finite value (infinities too); NaN becomes 0x7f. */
float pod_fp8_to_float(uint8_t x, int32_t dtype);
uint8_t pod_float_to_fp8(float f, int32_t dtype);

#endif
