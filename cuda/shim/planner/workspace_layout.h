/* The planner's workspace layout: schedules both sides of a plan and places its tables, work and
 * merge lists, device counters and partial results in the workspace. In CUDA graph mode the layout
 * has fixed offsets: tables sized by the batch, lists sized for the most items any plan of the shape
 * may schedule, partial results for the most slots. */
#ifndef POD_WORKSPACE_LAYOUT_H
#define POD_WORKSPACE_LAYOUT_H

#include <stdint.h>

#include "shim/planner/plan_state.h"

/* What the layout needs besides the plan. */
typedef struct pod_layout_input {
  int32_t device;            /* POD_DEVICE_CPU: tables only, no schedules */
  int32_t sm_count;
  int64_t workspace_bytes;   /* each side's partial results may fill a quarter of it */
  int schedules_prefill;     /* 0: the prefill side has no table at plan (the single wrapper) */
  int use_graph;             /* CUDA graph mode */
  const int32_t* fixed_tile; /* CUDA graph mode after the first plan: its tile shape per side; NULL: chosen here */
  int32_t ctas_per_sm[2];    /* resident CTAs per SM of the prefill and the decode kernel (CUDA) */
  int32_t tile_rows[2];      /* packed rows of a work item of the prefill and the decode tile shape */
} pod_layout_input;

/* Schedules the sides of `plan` (shape and tables set) and fills its sched, offsets, launch sizes,
 * image_bytes and workspace_needed. */
int32_t pod_plan_layout(const pod_layout_input* in, pod_plan_state* plan);

#endif
