/* One side (prefill or decode) of a planned and validated POD call, as the backends consume it. The
 * planner and run() build it; the CPU backend and the CUDA kernels read it (and report errors with
 * pod_fail, runtime/error.h). */
#ifndef POD_ATTENTION_PROBLEM_H
#define POD_ATTENTION_PROBLEM_H

#include "pod.h"
#include "shim/runtime/error.h"

/* Options with every default resolved. */
typedef struct pod_resolved_options {
  int32_t causal;
  int32_t pos_encoding;
  int32_t window_left;
  float sm_scale;
  float rope_scale;
  float rope_theta;
  float logits_soft_cap; /* 0: off */
} pod_resolved_options;

typedef struct pod_side {
  int32_t num_requests;    /* 0: the side is empty */
  int32_t num_qo_heads;
  int32_t num_kv_heads;
  int32_t head_dim;
  int32_t paged;           /* 1: k/v are paged caches [pages, ...]; 0: one contiguous request */
  int32_t kv_layout;       /* pod_kv_layout */
  int32_t page_size;       /* paged only */
  int32_t mask_mode;       /* 0 none, 1 dense, 2 packed */
  int64_t total_q_tokens;
  pod_tensor q, k, v, o, lse, mask; /* k/v: 3-dim (contiguous) or 4-dim (paged) */
  /* Host tables, num_requests entries (+1 for indptrs). */
  const int32_t* qo_indptr;
  const int32_t* kv_lens;
  const int32_t* kv_indptr;  /* paged only */
  const int32_t* kv_indices; /* paged only */
  const int64_t* mask_offsets; /* element (dense) or byte (packed) offset of each request's mask */
  pod_resolved_options options; /* sm_scale includes the run's q_scale * k_scale */
  float v_scale;                /* the output is multiplied by it */
  /* CUDA only: where the plan put the tables and the schedule in the workspace (device addresses),
   * and the schedule's shape. No work list: one implicit request, grid = row tiles x KV heads. */
  struct {
    uint64_t qo_indptr, kv_lens, kv_indptr, kv_indices, mask_offsets;
    uint64_t work, merge, partial_o, partial_lse;
    int32_t num_work, num_merge, tile;
    /* Bounds of the lists the kernels read (graph mode: the capacities), and the fault record they
     * report to with the side's tag (kernels/workspace_faults.h). */
    int32_t num_indices, num_partial, fault_by;
    uint64_t fault;
  } dev;
} pod_side;

#endif
