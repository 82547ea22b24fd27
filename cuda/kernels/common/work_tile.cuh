// Which rows and keys a CTA computes: the planner's work item (batch wrappers, split key ranges) or
// the implicit grid of one request (row tiles last-first, so that under causal masking the longest
// CTAs start in the first wave). `rows`: the kernel's rows per row tile.
#pragma once
#include "kernels/attention_params.h"

namespace pod {

struct WorkTile {
  int request, kv_head, row_start, kv_begin, kv_end;
  int partial;  // >= 0: slot of this part's fp32 results (a split key range)
  int merge;    // the merge item of the row tile, when split
  int q_start, qo_len, kv_len;
};

__device__ __forceinline__ WorkTile work_tile(const pod_attn_params& p, const int cta, const int rows) {
  WorkTile w;
  w.kv_head = cta % p.num_kv_heads;
  if (p.work) {
    const pod_work_item item = reinterpret_cast<const pod_work_item*>(p.work)[cta / p.num_kv_heads];
    w.request = item.request, w.row_start = item.row_start, w.kv_begin = item.kv_begin, w.kv_end = item.kv_end;
    w.partial = item.partial >= 0 ? item.partial * p.num_kv_heads + w.kv_head : -1;
    w.merge = item.merge * p.num_kv_heads + w.kv_head;
    const int* qo_indptr = reinterpret_cast<const int*>(p.qo_indptr);
    w.q_start = qo_indptr[w.request];
    w.qo_len = qo_indptr[w.request + 1] - w.q_start;
    w.kv_len = reinterpret_cast<const int*>(p.kv_lens)[w.request];
  } else {
    w.request = 0, w.partial = -1, w.merge = 0, w.q_start = 0;
    w.row_start = (p.implicit_row_tiles - 1 - cta / p.num_kv_heads) * rows;
    w.qo_len = p.implicit_qo_len, w.kv_len = p.implicit_kv_len;
    pod_tile_kv_range(w.row_start, rows, p.group, w.qo_len, w.kv_len, p.causal, p.window_left, &w.kv_begin, &w.kv_end);
  }
  return w;
}

}  // namespace pod
