/* Parameters of the attention kernels, shared by the planner (C) and the kernels (CUDA). One struct
 * describes one side (prefill or decode) of a call; it travels by value as a kernel parameter. */
#ifndef POD_ATTENTION_PARAMS_H
#define POD_ATTENTION_PARAMS_H

#include <stdint.h>

/* Tile shapes: a CTA of 4 warps covers packed query rows (token x query head of one KV head) against
 * KV tiles of POD_KV_TILE keys. The prefill shape gives each warp its own rows and all keys of a
 * tile; the decode shape gives the 4 warps 16 rows together and a quarter of each tile's keys. */
#define POD_KV_TILE 64
#define POD_CTA_THREADS 128
enum { POD_TILE_PREFILL = 0, POD_TILE_DECODE = 1 };
/* Rows of a CTA: prefill warps take 32 rows (two MMA tiles) up to head_dim 128, 16 above. */
static inline int pod_tile_rows(int tile, int head_dim) { return tile == POD_TILE_PREFILL ? (head_dim <= 128 ? 128 : 64) : 16; }

/* A work item: the rows and KV range of one row tile, for every KV head: CTA c computes item
 * c / num_kv_heads for KV head c % num_kv_heads (heads see the same keys, so the planner and the
 * workspace image need one item, not one per head). partial >= 0: the KV range was split; the CTA
 * writes fp32 partial results to slot partial * num_kv_heads + head, and the last CTA of the row
 * tile's parts to finish combines them (merge item merge * num_kv_heads + head). skip != 0: padding
 * of a schedule whose launch shape is fixed (CUDA graph mode); the CTAs return at once. Padding items
 * also name rows past the end of request 0 and an empty key range, so they write nothing even where
 * skip is not read. */
typedef struct pod_work_item {
  int32_t request;
  int32_t reserved;
  int32_t row_start; /* packed row = token_in_request * group + head_in_group */
  int32_t kv_begin;
  int32_t kv_end;
  int32_t partial;
  int32_t skip;
  int32_t merge;     /* partial >= 0: the row tile's merge items start at merge * num_kv_heads */
} pod_work_item;

/* The partial results of one row tile and KV head: slots first + k * stride for k < count. `arrived`
 * counts the parts finished in the current launch; plan() writes it 0 and the CTA that merges puts it
 * back. */
typedef struct pod_merge_item {
  int32_t request;
  int32_t kv_head;
  int32_t row_start;
  int32_t first;
  int32_t count;
  int32_t skip;
  int32_t arrived;
  int32_t stride;
} pod_merge_item;

#ifdef __CUDACC__
#define POD_HD __host__ __device__ __forceinline__ constexpr
#else
#define POD_HD static inline
#endif

/* Key/value tiles in flight: two, except for the decode CTAs of a POD launch, which share an SM with
 * a prefill CTA and keep three in flight (up to head_dim 128, where that fits the prefill's memory).
 * fp8 caches keep the same counts: four tiles for fp8 decode CTAs (half the bytes each) measured
 * slower on the H100, as the larger CTAs fit fewer to an SM. */
POD_HD int pod_kv_stages(int tile, int head_dim, int fused) { return fused && tile == POD_TILE_DECODE && head_dim <= 128 ? 3 : 2; }

/* Shared memory of one CTA: the query rows, then the key and value tiles. fp8 caches land as loaded
 * (one byte an element) in their own stage buffers and are converted into one pair of 16-bit tiles
 * just before use. Prefill tiles add the slack that aligns wgmma's swizzle patterns to 1024 bytes. */
POD_HD int pod_kv_smem(int head_dim, int stages, int kv_fp8) {
  return kv_fp8 ? 2 * POD_KV_TILE * head_dim * 2 + 2 * stages * POD_KV_TILE * head_dim : 2 * stages * POD_KV_TILE * head_dim * 2;
}
POD_HD int pod_attention_smem(int tile, int head_dim, int fused, int kv_fp8) {
  const int rows = tile == POD_TILE_PREFILL ? (head_dim <= 128 ? 128 : 64) : 16;
  const int kv = pod_kv_smem(head_dim, pod_kv_stages(tile, head_dim, fused), kv_fp8);
  return rows * head_dim * 2 + kv + (tile == POD_TILE_PREFILL ? 1024 : 0);
}

/* A decode body running as one warpgroup of a larger CTA (sm_90a POD launches) keeps to a slice of
 * the CTA's dynamic shared memory: its scratch (query positions, per-warp row maxima and sums), then
 * the query rows and its key and value tiles. */
#define POD_DECODE_SLOT_SCRATCH 1024
POD_HD int pod_decode_slot_bytes(int head_dim, int stages, int kv_fp8) {
  return POD_DECODE_SLOT_SCRATCH + 16 * head_dim * 2 + pod_kv_smem(head_dim, stages, kv_fp8);
}

/* The keys a tile of packed rows [row_start, row_start + rows) can see: causal attention ends at the
 * last row's position, a left window starts at the first row's position minus the window. */
POD_HD void pod_tile_kv_range(int row_start, int rows, int group, int qo_len, int kv_len, int causal, int window_left,
                              int* kv_begin, int* kv_end) {
  int t0 = row_start / group;
  int t1 = (row_start + rows - 1) / group;
  if (t1 > qo_len - 1) t1 = qo_len - 1;
  int pos0 = kv_len - qo_len + t0, pos1 = kv_len - qo_len + t1;
  int begin = window_left >= 0 && pos0 - window_left > 0 ? pos0 - window_left : 0;
  int end = causal && pos1 + 1 < kv_len ? pos1 + 1 : kv_len;
  *kv_begin = begin;
  *kv_end = end > begin ? end : begin;
}

typedef struct pod_attn_params {
  uint64_t q, k, v, o, lse, mask;     /* device addresses; lse and mask may be 0 */
  int64_t q_stride_t, q_stride_h;     /* in elements */
  int64_t o_stride_t, o_stride_h;
  int64_t lse_stride_t, lse_stride_h;
  /* Keys and values: paged, element offset = page * s0 + slot * s1 + head * s2;
   * contiguous (page_size 0): token * s0 + head * s2. */
  int64_t k_s0, k_s1, k_s2;
  int64_t v_s0, v_s1, v_s2;
  int64_t mask_s0, mask_s1;           /* dense 2-dim mask strides; 1-dim: mask_s0 only */
  /* Tables on the device (int32; mask_offsets int64). qo_indptr 0: one implicit request. */
  uint64_t qo_indptr, kv_lens, kv_indptr, kv_indices, mask_offsets;
  uint64_t work;                      /* pod_work_item[]; 0: implicit grid, CTA = row tile x KV head */
  uint64_t merge;                     /* pod_merge_item[] */
  uint64_t partial_o, partial_lse;    /* fp32 [slot][rows][head_dim], [slot][rows] */
  int32_t num_qo_heads, num_kv_heads, group, head_dim;
  int32_t page_size;                  /* 0: contiguous keys and values */
  int32_t page_shift;                 /* log2(page_size) when a power of two, else -1 */
  int32_t implicit_qo_len, implicit_kv_len, implicit_row_tiles;
  int32_t causal, window_left, pos_encoding, mask_mode, mask_2d;
  float sm_scale_log2;                /* sm_scale * log2(e) */
  float sm_scale;
  float soft_cap;                     /* 0: off */
  float rope_rcp_scale, rope_theta;
  int32_t num_work, num_merge;
  float v_scale;                      /* the output is multiplied by it (fp8 dequantization) */
  int32_t kv_e5m2;                    /* fp8 kernels: 1 for an e5m2 cache, 0 for e4m3 */
  /* Bounds of what the kernels read from the workspace (kernels/workspace_faults.h): a count or index
   * of the plan outside them is a fault the CTA reports and skips, never an address. */
  int32_t side;                       /* POD_FAULT_BY_DECODE or POD_FAULT_BY_PREFILL: who reports */
  int32_t num_requests;               /* entries of kv_lens (of qo_indptr and kv_indptr: one more) */
  int32_t num_tokens;                 /* rows of q, o and lse */
  int32_t num_indices;                /* entries of kv_indices */
  int32_t num_pages;                  /* pages of the paged caches */
  int32_t num_partial;                /* partial-result slots */
  int64_t mask_elems;                 /* custom mask: elements (dense) or bytes (packed) */
  uint64_t fault;                     /* the pod_fault_record faults are stored to */
  /* Packed rows of a work item (and of a tile of the implicit grid): the kernel's tile rows, or 128 for
   * head_dim 256 prefill on devices the sm_90a kernel serves (the portable kernel then runs an item's
   * two 64-row tiles one after the other). */
  int32_t item_rows;
  int32_t reserved_end;
} pod_attn_params;

/* One POD launch: the prefill side (0) and the decode side (1) with their CTA counts and tile shapes. */
typedef struct pod_fused_params {
  pod_attn_params side[2];
  int32_t num_cta[2];
  int32_t tile[2];
  int32_t order;         /* POD_ORDER_*: how CTAs find their side and work */
  int32_t prefill_slots; /* POD_ORDER_PER_SM: prefill CTAs an SM runs at once while both sides have work */
  uint64_t counters;     /* POD_ORDER_PER_SM: pod_fused_counters in the workspace, zero between launches */
} pod_fused_params;

/* How the CTAs of a POD launch take roles. ALTERNATE maps the CTA index: prefill and decode CTAs
 * alternate until the smaller side runs out. PER_SM: each CTA looks at the roles running on its SM,
 * takes prefill while fewer than prefill_slots prefill CTAs run there and decode otherwise, then the
 * next item of that role's queue (the other role's once its own is empty). That keeps both roles on
 * every SM however long their CTAs last. */
enum { POD_ORDER_ALTERNATE = 0, POD_ORDER_PER_SM = 3 };

#define POD_MAX_SMS 256
/* Device counters of a PER_SM launch. The last CTA to finish puts them back to zero, so launches
 * (and graph replays) need no host reset. */
typedef struct pod_fused_counters {
  int32_t next[2];                /* queue heads: prefill, decode */
  int32_t done;                   /* CTAs finished */
  int32_t reserved;
  int32_t running[POD_MAX_SMS];   /* per SM: prefill CTAs running (low 16 bits), decode (high 16 bits) */
} pod_fused_counters;

#endif
