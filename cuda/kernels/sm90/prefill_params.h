/* Parameters of the sm_90a prefill and decode kernels, shared by the shim (C) and the kernels (CUDA):
 * the side's attention parameters plus TMA descriptors of its key and value caches, built by the shim
 * for each run from the caller's tensors; and the prefill's geometry. */
#ifndef POD_SM90_PREFILL_PARAMS_H
#define POD_SM90_PREFILL_PARAMS_H

#include "kernels/attention_params.h"

#ifdef __cplusplus
#define POD_ALIGN64 alignas(64)
#else
#define POD_ALIGN64 _Alignas(64)
#endif

/* A CUtensorMap, opaque: 128 bytes on a 64-byte boundary. */
typedef struct pod_tma_map {
  POD_ALIGN64 uint64_t opaque[16];
} pod_tma_map;

/* Tile geometry the shim needs: 128 packed query rows (the planner's prefill row tile), a producer
 * warpgroup and two consumer warpgroups. */
#define POD_SM90_ROWS 128
#define POD_SM90_THREADS 384
/* Keys of a K/V tile: 128, or 64 at head_dim 256, where a tile of 128 keys would take 64 KiB. */
POD_HD int pod_sm90_keys(int head_dim) { return head_dim > 128 ? 64 : 128; }
/* K/V tiles in flight: at head_dim 128, Q and three K/V pairs fill one SM's 227 KiB (four measured
 * slower than three at 64); at 256, Q (64 KiB) leaves room for two. */
POD_HD int pod_sm90_stages(int head_dim) { return head_dim > 128 ? 2 : 3; }
/* Dynamic shared memory: Q, the K and V ring, and the slack that puts wgmma's swizzle patterns on
 * 1024-byte boundaries. */
POD_HD int pod_sm90_prefill_smem(int head_dim) {
  return POD_SM90_ROWS * head_dim * 2 + 2 * pod_sm90_stages(head_dim) * pod_sm90_keys(head_dim) * head_dim * 2 + 1024;
}

/* How the prefill producers load a paged side's K/V: one TMA box per page (or per tile of a larger
 * page), a tile's boxes issued by a warp per operand (lane b, box b) with the next tile's page ids
 * read while it waits for a free slot, for pages of 8 slots or more that are powers of two; or rows
 * gathered by cp.async by the whole producer warpgroup (any other page size; no maps). */
enum { POD_SM90_LOADS_BOXES = 0, POD_SM90_LOADS_GATHER = 1 };

typedef struct pod_sm90_side_params {
  pod_attn_params p;
  pod_tma_map k_map, v_map; /* dims (head_dim, heads, keys) or, paged, (head_dim, heads, slot, page) */
  int32_t heads_outer;      /* 1: the maps' head and key (slot) dims are swapped (HND: keys inner) */
  int32_t paged_loads;      /* prefill: POD_SM90_LOADS_GATHER for gathered pages, else 0 */
  int32_t reserved[14];
} pod_sm90_side_params;

#endif
