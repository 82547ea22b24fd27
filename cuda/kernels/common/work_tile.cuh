// Which rows and keys a CTA computes: the planner's work item (batch wrappers, split key ranges) or
// the implicit grid of one request (row tiles last-first, so that under causal masking the longest
// CTAs start in the first wave). `rows`: the kernel's rows per row tile.
//
// A work item and the tables it points into come from the workspace, which the caller may have
// overwritten after plan(): one thread of the CTA reads them once, bounds every count and index by
// the launch's sizes (pod_attn_params' bounds) and hands the whole CTA the same checked tile through
// shared memory, so that no thread computes with values another never saw (every loop and barrier
// of the CTA then agrees on the trip counts). A value out of range is reported and the CTA skips
// the item.
#pragma once
#include "kernels/attention_params.h"
#include "kernels/workspace_faults.h"

namespace pod {

struct WorkTile {
  int request, kv_head, row_start, kv_begin, kv_end;
  int partial;  // >= 0: slot of this part's fp32 results (a split key range)
  int merge;    // the merge item of the row tile, when split
  int q_start, qo_len, kv_len;
  int page0, pages;    // paged: the request's first entry of kv_indices, and its page count
  long long mask_base; // a batch's custom mask: where the request's block starts (elements or bytes)
};

// Stores a fault in the wrapper's record (p.fault; 0 when the launch has none). Rare: the caller skips.
// Inlined: a call in the middle of the attention body makes it save the accumulators around it.
__device__ __forceinline__ void report_fault(const uint64_t record, const int by, const int code, const int item) {
  if (record == 0) return;
  volatile pod_fault_record* r = reinterpret_cast<volatile pod_fault_record*>(record);
  r->item = static_cast<uint32_t>(item);
  r->fault = static_cast<uint32_t>(by << 8 | code);
}

// The tile of the implicit grid (no work list): everything from the launch's parameters.
__device__ __forceinline__ WorkTile implicit_tile(const pod_attn_params& p, const int cta, const int rows) {
  WorkTile w;
  w.kv_head = cta % p.num_kv_heads;
  w.request = 0, w.partial = -1, w.merge = 0, w.q_start = 0, w.page0 = 0, w.pages = 0, w.mask_base = 0;
  w.row_start = (p.implicit_row_tiles - 1 - cta / p.num_kv_heads) * rows;
  w.qo_len = p.implicit_qo_len, w.kv_len = p.implicit_kv_len;
  pod_tile_kv_range(w.row_start, rows, p.group, w.qo_len, w.kv_len, p.causal, p.window_left, &w.kv_begin, &w.kv_end);
  return w;
}

// Work item cta / num_kv_heads of the list for KV head cta % num_kv_heads, checked: POD_FAULT_NONE and
// the tile in *w, or the fault found (w is then unusable).
__device__ __forceinline__ int checked_work_tile(const pod_attn_params& p, const int cta, WorkTile* w) {
  const int heads = p.num_kv_heads;
  const pod_work_item item = reinterpret_cast<const pod_work_item*>(p.work)[cta / heads];
  const int r = item.request;
  if (r < 0 || r >= p.num_requests) return POD_FAULT_REQUEST;
  const int* qo_indptr = reinterpret_cast<const int*>(p.qo_indptr);
  const int q0 = qo_indptr[r], q1 = qo_indptr[r + 1];
  if (q0 < 0 || q1 < q0 || q1 > p.num_tokens) return POD_FAULT_QUERIES;
  const int kv_len = reinterpret_cast<const int*>(p.kv_lens)[r];
  if (kv_len < 0) return POD_FAULT_KEYS;
  int page0 = 0, pages = 0;
  if (p.page_size) {
    const int* kv_indptr = reinterpret_cast<const int*>(p.kv_indptr);
    page0 = kv_indptr[r];
    const int page1 = kv_indptr[r + 1];
    if (page0 < 0 || page1 < page0 || page1 > p.num_indices) return POD_FAULT_PAGES;
    pages = page1 - page0;
    // The request's keys lie in its pages, and a key tile's page lookups stay among them.
    if ((long long)kv_len > (long long)pages * p.page_size) return POD_FAULT_KEYS;
    if (kv_len > 0 && p.num_pages < 1) return POD_FAULT_PAGE_ID;
  }
  if (item.kv_begin < 0 || item.kv_end < item.kv_begin || item.kv_end > kv_len) return POD_FAULT_KEYS;
  const int qo_len = q1 - q0;
  if (item.row_start < 0 || (long long)item.row_start > (long long)qo_len * p.group) return POD_FAULT_ROWS;
  const int kv_head = cta % heads;
  w->partial = -1, w->merge = 0;
  if (item.partial >= 0) {
    const long long slot = (long long)item.partial * heads + kv_head, merge = (long long)item.merge * heads + kv_head;
    if (slot >= p.num_partial || item.merge < 0 || merge >= p.num_merge) return POD_FAULT_SLOT;
    w->partial = (int)slot, w->merge = (int)merge;
  }
  long long mask_base = 0;
  if (p.mask_mode != 0 && p.mask_offsets) {
    mask_base = reinterpret_cast<const long long*>(p.mask_offsets)[r];
    long long need = (long long)qo_len * kv_len;
    if (p.mask_mode == 2) need = (need + 7) / 8;
    if (mask_base < 0 || mask_base > p.mask_elems - need) return POD_FAULT_MASK;
  }
  w->request = r, w->kv_head = kv_head, w->row_start = item.row_start, w->kv_begin = item.kv_begin, w->kv_end = item.kv_end;
  w->q_start = q0, w->qo_len = qo_len, w->kv_len = kv_len, w->page0 = page0, w->pages = pages, w->mask_base = mask_base;
  return POD_FAULT_NONE;
}

// One thread's part of a CTA's start: the CTA's tile into *out (shared memory). Returns false, after
// reporting the fault, when the work item is out of range: the CTA must skip it. (Inlined: a call
// here costs the attention loops registers.)
__device__ __forceinline__ bool load_work_tile(const pod_attn_params& p, const int cta, const int rows, WorkTile* out) {
  if (!p.work) {
    *out = implicit_tile(p, cta, rows);
    return true;
  }
  WorkTile w;
  const int fault = checked_work_tile(p, cta, &w);
  if (fault != POD_FAULT_NONE) {
    report_fault(p.fault, p.side, fault, cta / p.num_kv_heads);
    return false;
  }
  *out = w;
  return true;
}

// Entry of a request's page list that holds key `key` (paged caches; any page size).
__device__ __forceinline__ int page_index(const pod_attn_params& p, const int key) {
  return p.page_shift >= 0 ? key >> p.page_shift : key / p.page_size;
}

}  // namespace pod
