// Output of a consumer warpgroup of the sm_90a prefill: normalised rows staged through its own (no
// longer read) query rows in shared memory and written as 16-byte vectors, the log-sum-exp, or, for
// a part of a split key range, fp32 partial results for the merge.
#pragma once
#include "kernels/sm90/prefill_mainloop.cuh"

namespace pod::sm90 {

template <typename T, int D, int KK>
__device__ __forceinline__ void store_output(const pod_attn_params& p, const WorkTile& w, ConsumerResult<D, KK>& res, uint8_t* sQ) {
  constexpr int kRows = POD_SM90_ROWS;
  const int ctid = threadIdx.x - 128, cw = ctid / 128, wtid = ctid % 128;
  const int warp = wtid / 32, lane = wtid % 32, g = lane / 4, t4 = lane % 4;
  float inv[2], lse2[2];
#pragma unroll
  for (int x = 0; x < 2; x++) {
    float l = res.sm.l[x];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    inv[x] = l > 0.0f ? p.v_scale / l : 0.0f;
    lse2[x] = l > 0.0f ? res.sm.m[x] + log2f(l) : -INFINITY;
  }
  const int r0 = 64 * cw + 16 * warp + g;  // rows r0 and r0 + 8 of the tile
  if (w.partial >= 0) {
    float* po = reinterpret_cast<float*>(p.partial_o) + (int64_t)w.partial * kRows * D;
#pragma unroll
    for (int x = 0; x < 2; x++) {
      float* row = po + (int64_t)(r0 + 8 * x) * D + 2 * t4;
#pragma unroll
      for (int b = 0; b < D / 8; b++)
        *reinterpret_cast<float2*>(row + 8 * b) = make_float2(res.o[b][2 * x] * inv[x], res.o[b][2 * x + 1] * inv[x]);
      if (t4 == 0) reinterpret_cast<float*>(p.partial_lse)[(int64_t)w.partial * kRows + r0 + 8 * x] = lse2[x];
    }
    return;
  }
  named_sync(1 + cw, 128);  // every warp's last Q K^T has read these query rows
#pragma unroll
  for (int x = 0; x < 2; x++)
#pragma unroll
    for (int b = 0; b < D / 8; b++)
      *reinterpret_cast<uint32_t*>(sQ + swizzle128_offset(kRows, r0 + 8 * x, b) + 4 * t4) =
          pack2<T>(res.o[b][2 * x] * inv[x], res.o[b][2 * x + 1] * inv[x]);
  named_sync(1 + cw, 128);
  constexpr int kChunks = D / 8;
  for (int idx = wtid; idx < 64 * kChunks; idx += 128) {
    const int row = 64 * cw + idx / kChunks, c = idx % kChunks;
    const int pr = w.row_start + row, token = pr / p.group, head = w.kv_head * p.group + pr % p.group;
    if (token >= w.qo_len) continue;
    T* dst = reinterpret_cast<T*>(p.o) + (int64_t)(w.q_start + token) * p.o_stride_t + (int64_t)head * p.o_stride_h + c * 8;
    *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(sQ + swizzle128_offset(kRows, row, c));
  }
  if (p.lse && t4 == 0) {
#pragma unroll
    for (int x = 0; x < 2; x++) {
      const int pr = w.row_start + r0 + 8 * x, token = pr / p.group, head = w.kv_head * p.group + pr % p.group;
      if (token < w.qo_len)
        reinterpret_cast<float*>(p.lse)[(int64_t)(w.q_start + token) * p.lse_stride_t + (int64_t)head * p.lse_stride_h] = lse2[x] * kLn2;
    }
  }
}

}  // namespace pod::sm90
