/* The workspace layout of a plan (workspace_layout.h). */
#include <string.h>

#include "kernels/attention_params.h"
#include "pod.h"
#include "shim/planner/paged_table.h"
#include "shim/planner/plan_state.h"
#include "shim/planner/schedule.h"
#include "shim/planner/workspace_header.h"
#include "shim/planner/workspace_layout.h"
#include "shim/runtime/error.h"
#include "shim/runtime/memory.h"

static int64_t take(int64_t* at, int64_t bytes) {
  int64_t here = *at;
  *at += pod_align_up(bytes, 256);
  return here;
}

/* CUDA graph mode: the most work items (row tiles and parts; CTAs are these times the KV heads) and
 * merge items (per KV head) a plan of this shape may schedule on one side. Base items are row tiles;
 * splitting a key range makes at most 8 parts and is only worth a launch of about one wave, so the
 * capacity is the larger of the base items and one wave, never more than 8 per base item. */
static void graph_capacity(const pod_layout_input* in, const pod_plan_state* p, int side, int32_t tile, int64_t* work, int64_t* merge) {
  const pod_table* t = &p->table[side];
  const int64_t heads = p->shape.num_kv_heads;
  int64_t rows_per_tile = in->tile_rows[tile], group = p->shape.num_qo_heads / heads;
  int64_t base_max, base_min;
  if (side == POD_SIDE_DECODE) { /* one query per request: exact */
    base_max = base_min = (int64_t)t->batch * ((group + rows_per_tile - 1) / rows_per_tile);
  } else { /* any split of the fixed query count over the fixed batch */
    base_max = (t->total_q * group + rows_per_tile - 1) / rows_per_tile + t->batch;
    base_min = 0;
  }
  int64_t wave = ((int64_t)in->sm_count * in->ctas_per_sm[tile == POD_TILE_PREFILL ? 0 : 1] + heads - 1) / heads; /* in items */
  int64_t cap = base_max > wave ? base_max : wave;
  if (cap > 8 * base_max) cap = 8 * base_max;
  int64_t merges = cap / 2 < cap - base_min ? cap / 2 : cap - base_min; /* a merge combines >= 2 items beyond its base item */
  *work = cap;
  *merge = merges * heads;
}

int32_t pod_plan_layout(const pod_layout_input* in, pod_plan_state* p) {
  int64_t at = POD_WORKSPACE_HEADER_BYTES; /* the image starts with its header (workspace_header.h) */
  const pod_table* tables = p->table;
  for (int side = 0; side < 2; side++) {
    int64_t bytes = in->use_graph ? (int64_t)pod_table_fixed_bytes(tables[side].batch) : (int64_t)tables[side].storage_bytes;
    p->off_table[side] = take(&at, tables[side].storage ? bytes : 0);
  }
  pod_schedule* sched = p->sched;
  int64_t caps[2][2] = {{0, 0}, {0, 0}};
  if (in->device != POD_DEVICE_CPU) {
    pod_schedule_input s;
    memset(&s, 0, sizeof s);
    s.num_kv_heads = p->shape.num_kv_heads, s.group = p->shape.num_qo_heads / p->shape.num_kv_heads, s.head_dim = p->shape.head_dim;
    s.sm_count = in->sm_count;
    s.partial_budget = in->workspace_bytes / 4; /* each side may fill a quarter of the workspace with partial results */
    int32_t st = POD_OK;
    s.ctas_per_sm[0] = in->ctas_per_sm[0], s.ctas_per_sm[1] = in->ctas_per_sm[1];
    s.tile_rows[0] = in->tile_rows[0], s.tile_rows[1] = in->tile_rows[1];
    const pod_resolved_options* opts = p->shape.options;
    for (int side = 0; side < 2 && st == POD_OK; side++) {
      if (side == POD_SIDE_PREFILL && !in->schedules_prefill) break;
      s.batch = tables[side].batch, s.qo_indptr = tables[side].qo_indptr, s.kv_lens = tables[side].kv_lens;
      s.causal = side == POD_SIDE_DECODE ? 0 : opts[side].causal, s.window_left = opts[side].window_left;
      s.fixed_tile = POD_SCHEDULE_ANY_TILE;
      s.max_work = 0;
      if (in->use_graph) {
        int32_t max_rows = 0;
        for (int32_t r = 0; r < s.batch; r++) {
          int32_t rows = (s.qo_indptr[r + 1] - s.qo_indptr[r]) * s.group;
          if (rows > max_rows) max_rows = rows;
        }
        s.fixed_tile = in->fixed_tile ? in->fixed_tile[side] : pod_schedule_tile(max_rows);
        graph_capacity(in, p, side, s.fixed_tile, &caps[side][0], &caps[side][1]);
        s.max_work = caps[side][0] > 0 ? caps[side][0] : 1;
      }
      s.scratch_slot = side;
      st = pod_schedule_build(&s, &sched[side]);
    }
    if (st != POD_OK) return st;
  }
  for (int side = 0; side < 2; side++) {
    int64_t work = in->use_graph ? caps[side][0] : sched[side].num_work;
    int64_t merge = in->use_graph ? caps[side][1] : sched[side].num_merge;
    if (work > INT32_MAX || merge > INT32_MAX)
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "the %s side has too many work items to launch", pod_side_name(side));
    p->launch_work[side] = (int32_t)work;
    p->launch_merge[side] = (int32_t)merge;
    p->off_sched[2 * side] = take(&at, work * (int64_t)sizeof(pod_work_item));
    p->off_sched[2 * side + 1] = take(&at, merge * (int64_t)sizeof(pod_merge_item));
  }
  p->off_counters = take(&at, (int64_t)sizeof(pod_fused_counters)); /* zeros in the image */
  p->image_bytes = at;
  for (int side = 0; side < 2; side++) {
    int64_t rows = in->tile_rows[sched[side].tile];
    int64_t slots = sched[side].num_partial;
    if (in->use_graph) { /* room for the most partial slots any plan of this shape may use */
      int64_t budget_slots = (in->workspace_bytes / 4) / (rows * (p->shape.head_dim + 1) * 4);
      int64_t most = caps[side][0] * p->shape.num_kv_heads;
      slots = most < budget_slots ? most : budget_slots;
    }
    p->launch_partial[side] = slots > INT32_MAX ? INT32_MAX : (int32_t)slots;
    p->off_partial[2 * side] = take(&at, slots * rows * p->shape.head_dim * 4);
    p->off_partial[2 * side + 1] = take(&at, slots * rows * 4);
  }
  p->workspace_needed = at;
  return POD_OK;
}
