/* The planner's scheduling: which CTA computes which rows against which keys, chosen from the batch
 * and the SM count so the GPU fills, with KV ranges split (and merged by LSE) when there are too few
 * row tiles. */
#ifndef POD_SCHEDULE_H
#define POD_SCHEDULE_H

#include <stdint.h>

#include "kernels/attention_params.h"

/* A schedule. Its work and merge lists live in the planning thread's scratch memory for its
 * scratch_slot: valid until that thread builds another schedule in the same slot (plan() copies them
 * into the workspace image right away; reusing the memory spares plan() the page faults of fresh
 * allocations). */
typedef struct pod_schedule {
  int32_t tile;        /* POD_TILE_PREFILL or POD_TILE_DECODE */
  int32_t num_work;    /* work items: row tiles (and parts); CTAs are num_work * num_kv_heads */
  int32_t num_merge;   /* merge items: split row tiles times KV heads */
  int32_t num_partial; /* partial slots, rows each */
  pod_work_item* work;
  pod_merge_item* merge;
} pod_schedule;

typedef struct pod_schedule_input {
  int32_t batch;
  const int32_t* qo_indptr; /* batch + 1 */
  const int32_t* kv_lens;   /* batch */
  int32_t num_kv_heads, group, head_dim;
  int32_t causal, window_left;
  int32_t sm_count;
  int32_t ctas_per_sm[2]; /* resident CTAs per SM of the prefill and the decode tile shape */
  int32_t tile_rows[2];   /* packed rows of a work item of each tile shape */
  int64_t partial_budget; /* workspace bytes the partial results of split key ranges may take */
  /* CUDA graph mode: a launch shape that stays fixed across plans. */
  int32_t fixed_tile;     /* POD_SCHEDULE_ANY_TILE: chosen from the longest request */
  int64_t max_work;       /* 0: no limit; else splits never make more work items (row tiles and parts) than this */
  int32_t scratch_slot;   /* 0 or 1: which scratch lists to fill (both sides of a plan are alive at once) */
} pod_schedule_input;

#define POD_SCHEDULE_ANY_TILE (-1)

int32_t pod_schedule_build(const pod_schedule_input* in, pod_schedule* out);
/* Forgets the lists (the scratch memory stays with the thread). */
void pod_schedule_free(pod_schedule* s);
/* Tile shape for a side whose longest request has max_rows packed rows. */
int32_t pod_schedule_tile(int32_t max_rows);
/* Dynamic shared memory of the attention kernel for a tile shape and head_dim (16-bit q; 16-bit or fp8 K/V). */
int32_t pod_attention_smem_bytes(int32_t tile, int32_t head_dim, int32_t fused, int32_t kv_fp8);

#endif
