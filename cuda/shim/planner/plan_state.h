/* The state of one plan, one type for every place a plan lives: the wrapper's current plan, the plan
 * under construction (committed to the wrapper only when plan() succeeds) and, in CUDA graph mode,
 * the shape the first plan fixed (pod_plan_shape). */
#ifndef POD_PLAN_STATE_H
#define POD_PLAN_STATE_H

#include <stdint.h>

#include "shim/attention_problem.h"
#include "shim/planner/paged_table.h"
#include "shim/planner/schedule.h"

/* The two sides of a POD plan, as indices of the per-side arrays. */
enum { POD_SIDE_DECODE = 0, POD_SIDE_PREFILL = 1 };
static inline const char* pod_side_name(int side) { return side == POD_SIDE_DECODE ? "decode" : "prefill"; }

/* What a plan is for: heads, sizes, dtypes and resolved options, as plan()'s arguments gave them. */
typedef struct pod_plan_shape {
  int32_t num_qo_heads, num_kv_heads, head_dim, page_size, q_dtype, kv_dtype;
  pod_resolved_options options[2]; /* [side]; the single wrapper's prefill options come in run(): zeros */
  int32_t launch;                  /* pod_launch_choice */
} pod_plan_shape;

typedef struct pod_plan_state {
  pod_plan_shape shape;
  pod_table table[2];       /* [side] host copies; the single wrapper's prefill side has none */
  pod_schedule sched[2];    /* [side] CUDA: the schedules (their lists are copied into the workspace) */
  /* CUDA: where the tables, the schedules and their partial results live in the workspace */
  int64_t off_table[2];     /* decode, prefill tables */
  int64_t off_sched[4];     /* decode work, decode merge, prefill work, prefill merge */
  int64_t off_counters;     /* the POD launch's device counters (zeroed by plan) */
  int64_t off_partial[4];   /* decode o, decode lse, prefill o, prefill lse */
  int32_t launch_work[2], launch_merge[2]; /* work items (CTAs / KV heads) and merge items per side (graph mode: the capacities) */
  int32_t launch_partial[2];  /* partial-result slots per side (graph mode: the capacity) */
  int64_t image_bytes;      /* tables and schedules, copied at plan */
  int64_t workspace_needed; /* image and partial results: the bytes of the workspace this plan claims */
} pod_plan_state;

/* Frees the tables and forgets the schedules; the state is zeroed. */
void pod_plan_state_free(pod_plan_state* p);

#endif
