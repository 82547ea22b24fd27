// Position encodings shared by the kernels: ALiBi slopes and RoPE frequencies, as the CPU backend
// defines them (cuda/cpu/attention.c).
#pragma once

namespace pod {

// ALiBi slope of query head `head` of `heads`: the geometric sequence of the ALiBi paper over the
// largest power of two m <= heads, then the odd steps of the sequence for 2m.
__device__ __forceinline__ float alibi_slope(int head, int heads) {
  int m = 1 << (31 - __clz(heads));
  return head < m ? exp2f(-8.0f * (head + 1) / m) : exp2f(-4.0f * (2 * (head - m) + 1) / m);
}

// RoPE (rotate-half, as Llama): the angular frequency of the pair (d, d + head_dim / 2).
__device__ __forceinline__ float rope_frequency(int d, int head_dim, float rcp_scale, float theta) {
  return rcp_scale * powf(theta, -2.0f * d / head_dim);
}

}  // namespace pod
