// Combines the partial results of a row tile whose keys were split across CTAs, weighting each part by
// its log-sum-exp. The parts come from other CTAs of the same launch: they are read from L2 (ld.cg).
// One copy serves every kernel, tile shape and side, as a call that stays out of the attention loops'
// register allocation.
#pragma once
#include "kernels/attention_params.h"
#include "kernels/common/math.cuh"
#include "kernels/common/mma.cuh"
#include "kernels/common/work_tile.cuh"
#include "kernels/workspace_faults.h"

namespace pod {

struct MergeArgs {
  uint64_t merge, qo_indptr, partial_o, partial_lse, o, lse;
  int64_t o_stride_t, o_stride_h, lse_stride_t, lse_stride_h;
  int32_t group, rows;
  // Bounds of the merge item's values (it comes from the workspace), and where faults go.
  int32_t num_requests, num_tokens, num_partial, num_kv_heads, side;
  uint64_t fault;
};

__device__ __forceinline__ MergeArgs merge_args(const pod_attn_params& p, const int rows) {
  return MergeArgs{p.merge,        p.qo_indptr,    p.partial_o,      p.partial_lse,  p.o,           p.lse,
                   p.o_stride_t,   p.o_stride_h,   p.lse_stride_t,   p.lse_stride_h, p.group,       rows,
                   p.num_requests, p.num_tokens,   p.num_partial,    p.num_kv_heads, p.side,        p.fault};
}

// One thread of a CTA that finished a part of a split row tile, after the part's results are
// visible (__threadfence): counts the part in `item` and says whether it was the last, which then
// merges them all; the count goes back to zero for the next launch. An arrival count outside the
// item's parts (the plan was overwritten, or launches of one plan overlap) is a fault: no merge.
__device__ __forceinline__ bool last_part_arrived(pod_merge_item* item, const pod_attn_params& p) {
  const int before = atomicAdd(&item->arrived, 1);
  const int count = *reinterpret_cast<volatile int*>(&item->count);
  if (before < 0 || before >= count) {
    report_fault(p.fault, p.side, POD_FAULT_MERGE, (int)(item - reinterpret_cast<pod_merge_item*>(p.merge)));
    return false;
  }
  const bool last = before == count - 1;
  if (last) item->arrived = 0;
  return last;
}

// Threads tid = 0 .. NT - 1 of the calling CTA merge item `merge` (an index the caller checked
// against the merge list). Each thread checks the item's values itself (no barrier depends on them).
template <typename T, int D, int NT>
__device__ __noinline__ void merge_rows(const MergeArgs a, const int merge, const int tid) {
  constexpr int DB = D / 8;
  const pod_merge_item w = reinterpret_cast<const pod_merge_item*>(a.merge)[merge];
  const int ROWS = a.rows;
  const int* qo_indptr = reinterpret_cast<const int*>(a.qo_indptr);
  int fault = POD_FAULT_NONE, q_start = 0, qo_len = 0;
  if (w.request < 0 || w.request >= a.num_requests) {
    fault = POD_FAULT_REQUEST;
  } else if (w.kv_head < 0 || w.kv_head >= a.num_kv_heads || w.row_start < 0) {
    fault = POD_FAULT_ROWS;
  } else if (w.count < 1 || w.first < 0 || w.stride < 1 || (long long)w.first + (long long)(w.count - 1) * w.stride >= a.num_partial) {
    fault = POD_FAULT_MERGE;
  } else {
    q_start = qo_indptr[w.request];
    const int q_end = qo_indptr[w.request + 1];
    if (q_start < 0 || q_end < q_start || q_end > a.num_tokens) fault = POD_FAULT_QUERIES;
    else if ((long long)w.row_start > (long long)(q_end - q_start) * a.group) fault = POD_FAULT_ROWS;
    qo_len = q_end - q_start;
  }
  if (fault != POD_FAULT_NONE) {
    if (tid == 0) report_fault(a.fault, a.side, fault, merge);
    return;
  }
  const float* plse = reinterpret_cast<const float*>(a.partial_lse);
  const float* po = reinterpret_cast<const float*>(a.partial_o);
  for (int idx = tid; idx < ROWS * DB; idx += NT) {
    const int r = idx / DB, c = idx % DB;
    const int pr = w.row_start + r, token = pr / a.group, head = w.kv_head * a.group + pr % a.group;
    if (token >= qo_len) continue;
    float mx = -INFINITY;
    for (int k = 0; k < w.count; k++) mx = fmaxf(mx, __ldcg(plse + (int64_t)(w.first + k * w.stride) * ROWS + r));
    const float m_use = mx == -INFINITY ? 0.0f : mx;
    float sum = 0.0f, acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int k = 0; k < w.count; k++) {
      const int64_t slot = (int64_t)(w.first + k * w.stride) * ROWS + r;
      const float f = exp2f(__ldcg(plse + slot) - m_use);
      sum += f;
      const float4 x = __ldcg(reinterpret_cast<const float4*>(po + slot * D + c * 8));
      const float4 y = __ldcg(reinterpret_cast<const float4*>(po + slot * D + c * 8 + 4));
      acc[0] += x.x * f, acc[1] += x.y * f, acc[2] += x.z * f, acc[3] += x.w * f;
      acc[4] += y.x * f, acc[5] += y.y * f, acc[6] += y.z * f, acc[7] += y.w * f;
    }
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    uint4 packed = make_uint4(pack2<T>(acc[0] * inv, acc[1] * inv), pack2<T>(acc[2] * inv, acc[3] * inv),
                              pack2<T>(acc[4] * inv, acc[5] * inv), pack2<T>(acc[6] * inv, acc[7] * inv));
    T* dst = reinterpret_cast<T*>(a.o) + (int64_t)(q_start + token) * a.o_stride_t + (int64_t)head * a.o_stride_h + c * 8;
    *reinterpret_cast<uint4*>(dst) = packed;
    if (c == 0 && a.lse)
      reinterpret_cast<float*>(a.lse)[(int64_t)(q_start + token) * a.lse_stride_t + (int64_t)head * a.lse_stride_h] =
          sum > 0.0f ? (m_use + log2f(sum)) * kLn2 : -INFINITY;
  }
}

}  // namespace pod
