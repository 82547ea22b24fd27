// The score side of the sm_90a prefill: variant hooks that turn raw Q K^T scores into log2-domain
// logits, the key-range mask, and the online softmax of one thread's two rows. Variants are
// compile-time functors, so an option that is off costs nothing in the loop.
#pragma once
#include <math.h>

#include "kernels/attention_params.h"
#include "kernels/common/math.cuh"
#include "kernels/common/position.cuh"

namespace pod::sm90 {

// A score variant maps the raw Q K^T score s of key j in the thread's row x (0: row g, 1: row g + 8)
// to the log2-domain logit, or leaves it raw and names the factor the exponent applies
// (exponent_scale). rows() tells it the query head and position of the thread's two rows (kernels
// that serve position-dependent variants call it).

// Plain scores stay raw; sm_scale * log2(e) folds into the exponent's FFMA (and the running maximum,
// so the shim takes these kernels for sm_scale >= 0 only).
struct ScorePlain {
  float scale_log2;
  __device__ __forceinline__ explicit ScorePlain(const pod_attn_params& p) : scale_log2(p.sm_scale_log2) {}
  __device__ __forceinline__ void rows(const pod_attn_params&, const int (&)[2], const int (&)[2]) {}
  __device__ __forceinline__ float operator()(float s, int, int) const { return s; }
  __device__ __forceinline__ float exponent_scale() const { return scale_log2; }
};

// Logits soft cap: cap * tanh(s * sm_scale / cap), in the log2 domain: one multiply, one MUFU tanh and
// one multiply per score, with 1 / cap precomputed.
struct ScoreSoftCap {
  float in_scale, out_scale;
  __device__ __forceinline__ explicit ScoreSoftCap(const pod_attn_params& p)
      : in_scale(p.sm_scale / p.soft_cap), out_scale(p.soft_cap * kLog2e) {}
  __device__ __forceinline__ void rows(const pod_attn_params&, const int (&)[2], const int (&)[2]) {}
  __device__ __forceinline__ float operator()(float s, int, int) const { return out_scale * tanh_approx(s * in_scale); }
  __device__ __forceinline__ float exponent_scale() const { return 1.0f; }
};

// ALiBi: s * sm_scale + slope(head) * (j - pos), in the log2 domain: one FFMA and one FMUL per score
// with the row's slope and position in registers.
struct ScoreAlibi {
  float scale_log2, slope_log2[2];
  int pos[2];
  __device__ __forceinline__ explicit ScoreAlibi(const pod_attn_params& p) : scale_log2(p.sm_scale_log2) {}
  // head[x] < 0: a padding row (never written).
  __device__ __forceinline__ void rows(const pod_attn_params& p, const int (&head)[2], const int (&position)[2]) {
#pragma unroll
    for (int x = 0; x < 2; x++) {
      slope_log2[x] = head[x] >= 0 ? alibi_slope(head[x], p.num_qo_heads) * kLog2e : 0.0f;
      pos[x] = head[x] >= 0 ? position[x] : 0;
    }
  }
  __device__ __forceinline__ float operator()(float s, int x, int j) const {
    return fmaf(s, scale_log2, slope_log2[x] * (float)(j - pos[x]));
  }
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
      for (int e = 0; e < 4; e++) s[b][e] = score(s[b][e], e >> 1, col0 + 8 * b + (e & 1));
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
