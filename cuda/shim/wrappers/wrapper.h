/* The POD wrappers: one object type for both kinds, PODWithPagedKVCacheWrapper (the single-prefill
 * kind, pod_single.c) and BatchPODWithPagedKVCacheWrapper (the batch kind, pod_batch.c), which
 * differ only in where the prefill side comes from. Create, plan and run are shared
 * (wrapper_common.c, wrapper_plan.c, wrapper_run.c).
 *
 * CUDA graph mode (use_cuda_graph): everything a captured run() holds stays fixed from the first plan
 * on, so that plan() can change KV lengths under a graph that replays run():
 * - each side's batch comes from its fixed buffers (kv_indptr, kv_indices, kv_last_page_len and, for
 *   the prefill side of the batch wrapper, qo_indptr), which every plan writes and the kernels read;
 * - heads, head_dim, page size, dtypes, options, query counts and tile shapes are those of the first
 *   plan (a later plan that differs is rejected);
 * - the workspace layout has fixed offsets (planner/workspace_layout.h); a plan pads its lists with
 *   skip items to their capacities;
 * - launches use those capacities as their grids, so kernel parameters never change. */
#ifndef POD_WRAPPER_H
#define POD_WRAPPER_H

#include <stdint.h>

#include "pod.h"
#include "shim/attention_problem.h"
#include "shim/planner/paged_table.h"
#include "shim/planner/plan_state.h"
#include "shim/planner/workspace_header.h"
#include "shim/runtime/fault_record.h"
#include "shim/runtime/staging.h"

/* A side's fixed page-table buffers in CUDA graph mode, as indices of pod_wrapper.buffers[side]. */
enum { POD_BUF_QO = 0, POD_BUF_KV_INDPTR = 1, POD_BUF_KV_INDICES = 2, POD_BUF_LAST = 3 };

typedef struct pod_wrapper pod_wrapper;

/* The tables of a request that comes whole in run() (the single wrapper's prefill): the side built
 * from it points into them, so they live as long as the run() call. */
typedef struct pod_run_request {
  int32_t tables[4];       /* qo_indptr [0, qo_len], kv_lens [kv_len] */
  int64_t mask_offsets[2];
} pod_run_request;

/* What differs between the two kinds: where the prefill side comes from. */
typedef struct pod_wrapper_kind_ops {
  /* 1: plan() takes the prefill side's paged table and schedules it (batch); 0: run() takes the
   * whole prefill request, launched without a schedule (single). */
  int plans_prefill;
  /* plan(): the prefill options, resolved into plan->shape.options[POD_SIDE_PREFILL] (after the
   * decode options, before the decode table). */
  int32_t (*plan_prefill_options)(const pod_plan_args* a, pod_plan_state* plan);
  /* plan(): the prefill table into plan->table[POD_SIDE_PREFILL] (after the decode table). */
  int32_t (*plan_prefill_table)(const pod_plan_args* a, pod_plan_state* plan);
  /* run(): checks the prefill tensors and builds the prefill side (empty: num_requests 0). */
  int32_t (*run_prefill)(const pod_wrapper* w, const pod_run_args* a, pod_side* prefill, pod_run_request* request);
} pod_wrapper_kind_ops;

extern const pod_wrapper_kind_ops pod_single_prefill_kind; /* POD_WRAPPER_SINGLE_PREFILL */
extern const pod_wrapper_kind_ops pod_batch_prefill_kind;  /* POD_WRAPPER_BATCH_PREFILL */

struct pod_wrapper {
  const pod_wrapper_kind_ops* kind;
  int32_t kv_layout;
  int32_t device;
  pod_tensor workspace;
  int64_t workspace_bytes;
  int planned;
  int pdl; /* run()'s default */
  /* CUDA graph mode */
  int use_graph;
  pod_tensor buffers[2][4];   /* [side][POD_BUF_*]; absent when the side stays empty */
  int32_t fixed_batch[2];
  int64_t indices_capacity[2];
  int shaped;                 /* a plan fixed the shape: the three fields below */
  pod_plan_shape fixed_shape;
  int64_t fixed_prefill_queries;
  int32_t fixed_tile[2];
  /* the plan */
  pod_plan_state plan;
  pod_table table_ws[2];      /* the plan's tables inside the workspace (CPU device: readable) */
  int32_t sm_count;
  /* Resident CTAs per SM of the prefill and decode kernels, cached for the (dtypes, head_dim) of the
   * last plan: the lookup costs microseconds, and plan() runs every step. */
  int32_t occupancy_key[3], occupancy[2];
  int32_t last_launch;        /* pod_launch of the last run() */
  /* Integrity of the plan: the header plan() wrote at the workspace's start (run() on the CPU and
   * check() compare the workspace with it), the plan count, and the record the kernels report faults
   * into (CUDA; empty without page-locked memory: the header's own fault record serves). */
  pod_workspace_header header;
  uint64_t plan_serial;
  pod_fault_slot fault;
  pod_staging staging;        /* host memory of plan()'s copies, reused */
  uint64_t handle;
};

/* wrapper_common.c */
int32_t pod_wrapper_get(uint64_t handle, pod_wrapper** w);
/* The programmatic-dependent-launch setting of a wrapper or a call: POD_UNSET follows `dflt`. */
int32_t pod_wrapper_resolve_pdl(int32_t device, int32_t given, int dflt, const char* name, int* out);

/* wrapper_check.c: the plan's integrity */
/* The fault the kernels recorded since the last call, once (the record is cleared):
 * POD_ERR_WORKSPACE_CORRUPT with what was found; POD_OK when none. */
int32_t pod_wrapper_take_fault(pod_wrapper* w);
/* Whether the plan's image in the workspace (and, in CUDA graph mode, its fixed buffers) is still what
 * plan() wrote. CPU device only: its memory is the host's. */
int32_t pod_wrapper_verify_host_plan(const pod_wrapper* w);
/* The fault address the kernels of a side store to: the wrapper's record, else the header's. */
uint64_t pod_wrapper_fault_address(const pod_wrapper* w);

/* wrapper_run.c: the checks of run() both kinds share */
/* Checks q, o and lse of a side: q [tokens, heads, head_dim] of dtype; o like q; lse float32 [tokens, heads]. */
int32_t pod_run_check_q_o_lse(const pod_wrapper* w, pod_side* s, const pod_tensor* q, const pod_tensor* o, const pod_tensor* lse,
                              int64_t tokens, int32_t heads, int32_t head_dim, int32_t dtype, const char* qn, const char* on, const char* ln);
/* A custom mask for the prefill side: dense bool/uint8 or bit-packed uint8. */
int32_t pod_run_check_mask(const pod_wrapper* w, pod_side* s, const pod_tensor* m, int packed, int single, int64_t qo, int64_t kv,
                           int64_t dense_elems, int64_t packed_bytes);
/* A side planned on a paged cache: the decode side of both wrappers, the prefill side of the batch one. */
int32_t pod_run_paged_side(const pod_wrapper* w, const pod_table* t, const pod_resolved_options* planned, const pod_attention_options* given,
                           const pod_tensor* q, const pod_tensor* k, const pod_tensor* v, const pod_tensor* o, const pod_tensor* lse,
                           int prefill, pod_side* s);
/* The table of a side that run() hands to the backend: on the CPU the one inside the workspace, on
 * CUDA the host copy (the kernels read the workspace's through pod_side.dev). */
const pod_table* pod_run_table(const pod_wrapper* w, int side);

#endif
