// The score side of the sm_90a prefill: variant hooks that turn raw Q K^T scores into log2-domain
// logits, the key-range mask, and the online softmax of one thread's two rows. Variants are
// compile-time functors, so an option that is off costs nothing in the loop.
#pragma once
#include <math.h>

#include "kernels/attention_params.h"
#include "kernels/common/math.cuh"

namespace pod::sm90 {

// Plain scores stay raw; sm_scale * log2(e) folds into the exponent's FFMA (and the running maximum).
struct ScorePlain {
  float scale_log2;
  __device__ __forceinline__ explicit ScorePlain(const pod_attn_params& p) : scale_log2(p.sm_scale_log2) {}
  __device__ __forceinline__ float operator()(float s) const { return s; }
  __device__ __forceinline__ float exponent_scale() const { return scale_log2; }
};

// Logits soft cap: cap * tanh(s * sm_scale / cap), in the log2 domain: one multiply, one MUFU tanh and
// one multiply per score, with 1 / cap precomputed.
struct ScoreSoftCap {
  float in_scale, out_scale;
  __device__ __forceinline__ explicit ScoreSoftCap(const pod_attn_params& p)
      : in_scale(p.sm_scale / p.soft_cap), out_scale(p.soft_cap * kLog2e) {}
  __device__ __forceinline__ float operator()(float s) const { return out_scale * tanh_approx(s * in_scale); }
  __device__ __forceinline__ float exponent_scale() const { return 1.0f; }
};

// Keys row `pos` may see: lo <= j <= hi (causal end, left window, the CTA's key range). Both bounds
// grow with the position, so a tile is free of masking for a set of rows when it fits the bounds of
// its first and last rows.
struct KeyBounds {
  int kv_begin, kv_end, causal, window_left;
  __device__ __forceinline__ int lo(int pos) const { return window_left >= 0 ? max(kv_begin, pos - window_left) : kv_begin; }
  __device__ __forceinline__ int hi(int pos) const { return causal ? min(pos, kv_end - 1) : kv_end - 1; }
};

// Online softmax state of the two rows (g and g + 8 of its warp's 16) a thread holds.
template <int NK>  // keys per tile
struct RowSoftmax {
  float m[2], l[2];  // running maximum (log2 domain) and unnormalised sum of this thread's columns

  __device__ __forceinline__ void init() { m[0] = m[1] = -INFINITY, l[0] = l[1] = 0.0f; }

  // s[b][e]: scores of keys 8b + 2 * t4 + (e & 1), row e >> 1. On return s holds the unnormalised
  // probabilities and rescale[x] the factor for what O accumulated of row x.
  template <typename Score>
  __device__ __forceinline__ void step(float (&s)[NK / 8][4], const Score& score, const bool masked, const int (&lo)[2],
                                       const int (&hi)[2], const int col0, float (&rescale)[2]) {
#pragma unroll
    for (int b = 0; b < NK / 8; b++)
#pragma unroll
      for (int e = 0; e < 4; e++) s[b][e] = score(s[b][e]);
    if (masked) {
#pragma unroll
      for (int b = 0; b < NK / 8; b++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const int j = col0 + 8 * b + (e & 1);
          if (j < lo[e >> 1] || j > hi[e >> 1]) s[b][e] = -INFINITY;
        }
    }
    const float es = score.exponent_scale();
#pragma unroll
    for (int x = 0; x < 2; x++) {
      float mx = -INFINITY;
#pragma unroll
      for (int b = 0; b < NK / 8; b++) mx = fmaxf(mx, fmaxf(s[b][2 * x], s[b][2 * x + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[x], mx * es);
      const float m_use = m_new == -INFINITY ? 0.0f : m_new;
      rescale[x] = fast_exp2(m[x] - m_use);
      m[x] = m_new;
      float sum = 0.0f;
#pragma unroll
      for (int b = 0; b < NK / 8; b++) {
        s[b][2 * x] = fast_exp2(fmaf(s[b][2 * x], es, -m_use));
        s[b][2 * x + 1] = fast_exp2(fmaf(s[b][2 * x + 1], es, -m_use));
        sum += s[b][2 * x] + s[b][2 * x + 1];
      }
      l[x] = l[x] * rescale[x] + sum;
    }
  }
};

}  // namespace pod::sm90
