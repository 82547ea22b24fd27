/* The two POD wrappers: create, plan (validate the page tables and copy them into the workspace with
 * one copy), run (validate the tensors against the plan, then hand both sides to the backend).
 *
 * CUDA graph mode (use_cuda_graph): everything a captured run() holds stays fixed from the first plan
 * on, so that plan() can change KV lengths under a graph that replays run():
 * - each side's batch comes from its fixed buffers (kv_indptr, kv_indices, kv_last_page_len and, for
 *   the prefill side of the batch wrapper, qo_indptr), which every plan writes and the kernels read;
 * - heads, head_dim, page size, dtypes, options, query counts and tile shapes are those of the first
 *   plan (a later plan that differs is rejected);
 * - the workspace layout has fixed offsets: the derived tables (kv_lens, mask offsets, ...) sized by the
 *   batch, work and merge lists sized for the most items any plan may schedule, partial results sized
 *   for the most slots; a plan pads its lists with skip items to those capacities;
 * - launches use those capacities as their grids, so kernel parameters never change. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_backend.h"
#include "shim/backend/cuda_attention.h"
#include "shim/planner/options.h"
#include "shim/planner/paged_table.h"
#include "shim/planner/schedule.h"
#include "shim/planner/workspace_claims.h"
#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/device.h"
#include "shim/runtime/dtype.h"
#include "shim/runtime/error.h"
#include "shim/runtime/graph.h"
#include "shim/runtime/handles.h"
#include "shim/runtime/memory.h"
#include "shim/runtime/staging.h"
#include "shim/runtime/stream.h"
#include "shim/runtime/tensor_check.h"

enum { SIDE_DECODE = 0, SIDE_PREFILL = 1 };
enum { BUF_QO = 0, BUF_KV_INDPTR = 1, BUF_KV_INDICES = 2, BUF_LAST = 3 };

/* CUDA graph mode: what the first plan fixed. */
typedef struct graph_shape {
  int32_t num_qo_heads, num_kv_heads, head_dim, page_size, q_dtype, kv_dtype;
  pod_resolved_options options[2];
  int64_t total_q[2];
  int32_t tile[2];
} graph_shape;

typedef struct wrapper {
  int32_t kind;
  int32_t kv_layout;
  int32_t device;
  pod_tensor workspace;
  int64_t workspace_bytes;
  int planned;
  int pdl; /* run()'s default */
  /* CUDA graph mode */
  int use_graph;
  pod_tensor buffers[2][4];   /* [side][BUF_*]; absent when the side stays empty */
  int32_t fixed_batch[2];
  int64_t indices_capacity[2];
  int shaped;                 /* a plan fixed the shape */
  graph_shape shape;
  /* the plan */
  int32_t num_qo_heads, num_kv_heads, head_dim, page_size, q_dtype, kv_dtype;
  pod_resolved_options decode_options, prefill_options;
  pod_table decode, prefill;        /* host copies */
  pod_table decode_ws, prefill_ws;  /* the same arrays inside the workspace (CPU device: readable) */
  /* CUDA: the schedules and where they and their partial results live in the workspace */
  int32_t sm_count;
  /* Resident CTAs per SM of the prefill and decode kernels, cached for the (dtypes, head_dim) of the
   * last plan: the lookup costs microseconds, and plan() runs every step. */
  int32_t occupancy_key[3], occupancy[2];
  pod_schedule decode_sched, prefill_sched;
  int64_t off_table[2];    /* decode, prefill tables */
  int64_t off_sched[4];    /* decode work, decode merge, prefill work, prefill merge */
  int64_t off_counters;    /* the POD launch's device counters (zeroed by plan) */
  int64_t off_partial[4];  /* decode o, decode lse, prefill o, prefill lse */
  int32_t launch_work[2], launch_merge[2]; /* work items (CTAs / KV heads) and merge items per side (graph mode: the capacities) */
  int64_t workspace_used;  /* bytes of the workspace this plan claims */
  int32_t last_launch;     /* pod_launch of the last run() */
  pod_staging staging;     /* host memory of plan()'s copies, reused */
  uint64_t handle;
} wrapper;

static const int32_t half_types[] = {POD_FLOAT16, POD_BFLOAT16};
static const char* layout_name(int32_t l) { return l == POD_HND ? "HND" : "NHD"; }
static const char* side_name(int side) { return side == SIDE_DECODE ? "decode" : "prefill"; }

static int32_t get_wrapper(uint64_t handle, wrapper** w) {
  void* obj;
  int32_t st = pod_handle_get(POD_HANDLE_WRAPPER, handle, "wrapper", &obj);
  if (st == POD_OK) *w = obj;
  return st;
}

/* A workspace: a contiguous 1-dimensional uint8 tensor on `device`. */
static int32_t check_workspace(const pod_tensor* t, int32_t device, const char* name) {
  int32_t st;
  if ((st = pod_check_tensor(t, name, device))) return st;
  const int32_t bytes_types[] = {POD_UINT8};
  if ((st = pod_check_dtype(t, name, bytes_types, 1))) return st;
  if (t->ndim != 1 || (t->shape[0] > 1 && t->strides[0] != 1))
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: expected a contiguous 1-dimensional uint8 buffer", name);
  if (t->data == 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: null data pointer", name);
  return POD_OK;
}

/* The programmatic-dependent-launch setting of a wrapper or a call: POD_UNSET follows `dflt`. */
static int32_t resolve_pdl(int32_t device, int32_t given, int dflt, const char* name, int* out) {
  if (given == POD_UNSET) {
    *out = dflt;
    return POD_OK;
  }
  if (given != 0 && given != 1) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: expected 0, 1 or unset, got %d", name, given);
  if (given == 1 && (device == POD_DEVICE_CPU || !pod_cuda_device_has_pdl(device))) {
    if (device == POD_DEVICE_CPU)
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: programmatic dependent launch needs a CUDA device of compute capability 9.0 or newer, not the CPU", name);
    int32_t cc = pod_cuda_cc(device);
    return pod_fail(POD_ERR_INVALID_ARGUMENT,
                    "%s: programmatic dependent launch needs compute capability 9.0 or newer; cuda:%d has %d.%d", name, device, cc / 10, cc % 10);
  }
  *out = given;
  return POD_OK;
}

/* CUDA graph mode: checks one side's fixed buffers and records the batch they fix. */
static int32_t take_buffers(wrapper* w, int side, const pod_graph_buffers* b) {
  const pod_tensor* t[4] = {&b->qo_indptr, &b->kv_indptr, &b->kv_indices, &b->kv_last_page_len};
  static const char* names[2][4] = {
      {"decode_buffers.qo_indptr", "decode_buffers.kv_indptr", "decode_buffers.kv_indices", "decode_buffers.kv_last_page_len"},
      {"prefill_buffers.qo_indptr", "prefill_buffers.kv_indptr", "prefill_buffers.kv_indices", "prefill_buffers.kv_last_page_len"}};
  int any = 0;
  for (int i = 0; i < 4; i++) any = any || pod_tensor_present(t[i]);
  if (!w->use_graph) {
    if (any)
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: fixed page-table buffers belong to CUDA graph mode; set use_cuda_graph", names[side][BUF_KV_INDPTR]);
    return POD_OK;
  }
  if (!any) return POD_OK; /* the side stays empty */
  if (side == SIDE_PREFILL && w->kind == POD_WRAPPER_SINGLE_PREFILL)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "prefill_buffers: the single-prefill wrapper takes its prefill request in run(); pass no prefill buffers");
  int32_t st;
  const int32_t i32[] = {POD_INT32};
  for (int i = 0; i < 4; i++) {
    int wanted = i != BUF_QO || side == SIDE_PREFILL;
    if (!wanted) {
      if (pod_tensor_present(t[i]))
        return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: the decode side has one query per request; pass no qo_indptr buffer", names[side][i]);
      continue;
    }
    if (!pod_tensor_present(t[i]))
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: missing; CUDA graph mode needs all of the side's fixed buffers", names[side][i]);
    if ((st = pod_check_tensor(t[i], names[side][i], w->device)) || (st = pod_check_dtype(t[i], names[side][i], i32, 1))) return st;
    if (t[i]->ndim != 1 || (t[i]->shape[0] > 1 && t[i]->strides[0] != 1))
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: expected a contiguous 1-dimensional int32 buffer", names[side][i]);
    if (t[i]->shape[0] > 0 && t[i]->data == 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: null data pointer", names[side][i]);
    if (t[i]->data % 4 != 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: not 4-byte aligned", names[side][i]);
    w->buffers[side][i] = *t[i];
  }
  int64_t batch = t[BUF_LAST]->shape[0];
  if (batch > INT32_MAX / 2) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: %lld requests are too many", names[side][BUF_LAST], (long long)batch);
  if (t[BUF_KV_INDPTR]->shape[0] != batch + 1)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: expected %lld entries (kv_last_page_len's %lld requests + 1), got %lld", names[side][BUF_KV_INDPTR],
                    (long long)(batch + 1), (long long)batch, (long long)t[BUF_KV_INDPTR]->shape[0]);
  if (side == SIDE_PREFILL && t[BUF_QO]->shape[0] != batch + 1)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: expected %lld entries (kv_last_page_len's %lld requests + 1), got %lld", names[side][BUF_QO],
                    (long long)(batch + 1), (long long)batch, (long long)t[BUF_QO]->shape[0]);
  w->fixed_batch[side] = (int32_t)batch;
  w->indices_capacity[side] = t[BUF_KV_INDICES]->shape[0];
  return POD_OK;
}

POD_API int32_t pod_wrapper_create(const pod_wrapper_create_args* in, uint64_t* handle) {
  if (handle == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "wrapper: null pointer");
  *handle = 0;
  pod_wrapper_create_args a;
  memset(&a, 0, sizeof a);
  a.enable_pdl = POD_UNSET;
  int32_t st = pod_copy_versioned(&a, sizeof a, in, offsetof(pod_wrapper_create_args, use_cuda_graph), "args");
  if (st != POD_OK) return st;
  if (a.kind != POD_WRAPPER_SINGLE_PREFILL && a.kind != POD_WRAPPER_BATCH_PREFILL)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "kind: expected 0 (single prefill) or 1 (batch prefill), got %d", a.kind);
  if (a.kv_layout != POD_NHD && a.kv_layout != POD_HND)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "kv_layout: expected NHD (0) or HND (1), got %d", a.kv_layout);
  if (a.use_cuda_graph != 0 && a.use_cuda_graph != 1)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "use_cuda_graph: expected 0 or 1, got %d", a.use_cuda_graph);
  int32_t device = a.workspace.device;
  if ((st = pod_device_check(device, "workspace.device")) || (st = check_workspace(&a.workspace, device, "workspace"))) return st;
  wrapper* w = calloc(1, sizeof *w);
  if (w == NULL) return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory");
  w->kind = a.kind;
  w->kv_layout = a.kv_layout;
  w->device = device;
  w->workspace = a.workspace;
  w->workspace_bytes = a.workspace.shape[0];
  w->use_graph = a.use_cuda_graph;
  st = resolve_pdl(device, a.enable_pdl, device != POD_DEVICE_CPU && pod_cuda_device_has_pdl(device), "enable_pdl", &w->pdl);
  if (st == POD_OK) st = take_buffers(w, SIDE_DECODE, &a.decode_buffers);
  if (st == POD_OK) st = take_buffers(w, SIDE_PREFILL, &a.prefill_buffers);
  if (st == POD_OK && device != POD_DEVICE_CPU) {
    pod_device_props props;
    props.struct_size = sizeof props;
    st = pod_device_props_get(device, &props);
    w->sm_count = props.sm_count;
  }
  if (st == POD_OK) st = pod_handle_new(POD_HANDLE_WRAPPER, w, handle);
  if (st != POD_OK) free(w);
  else w->handle = *handle;
  return st;
}

static void drop_plan(wrapper* w) {
  pod_workspace_release(w->handle);
  pod_table_free(&w->decode);
  pod_table_free(&w->prefill);
  pod_schedule_free(&w->decode_sched);
  pod_schedule_free(&w->prefill_sched);
  w->planned = 0;
}

POD_API int32_t pod_wrapper_destroy(uint64_t handle) {
  void* obj;
  int32_t st = pod_handle_release(POD_HANDLE_WRAPPER, handle, "wrapper", &obj);
  if (st != POD_OK) return st;
  wrapper* w = obj;
  drop_plan(w);
  pod_staging_destroy(&w->staging, w->device);
  free(w);
  return POD_OK;
}

POD_API int32_t pod_wrapper_reset_workspace(uint64_t handle, const pod_tensor* workspace) {
  if (workspace == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "workspace: null pointer");
  wrapper* w;
  int32_t st = get_wrapper(handle, &w);
  if (st != POD_OK) return st;
  if ((st = check_workspace(workspace, w->device, "workspace"))) return st;
  drop_plan(w);
  w->workspace = *workspace;
  w->workspace_bytes = workspace->shape[0];
  w->shaped = 0;
  return POD_OK;
}

/* A plan under construction: validated but not yet committed to the wrapper. */
typedef struct draft {
  pod_plan_args a;
  pod_resolved_options decode_options, prefill_options;
  pod_table decode, prefill;
  pod_schedule decode_sched, prefill_sched;
  int64_t image_bytes;     /* tables and schedules, copied at plan */
  int64_t off_table[2], off_sched[4], off_partial[4], off_counters;
  int32_t launch_work[2], launch_merge[2];
  int64_t workspace_needed; /* image and partial results */
  graph_shape shape;        /* CUDA graph mode: this plan's shape */
} draft;

static int64_t take(int64_t* at, int64_t bytes) {
  int64_t here = *at;
  *at += pod_align_up(bytes, 256);
  return here;
}

/* CUDA graph mode: the most work items (row tiles and parts; CTAs are these times the KV heads) and
 * merge items (per KV head) a plan of this shape may schedule on one side. Base items are row tiles;
 * splitting a key range makes at most 8 parts and is only worth a launch of about one wave, so the
 * capacity is the larger of the base items and one wave, never more than 8 per base item. */
static void graph_capacity(const wrapper* w, const draft* d, int side, int32_t tile, const int32_t ctas_per_sm[2], int64_t* work,
                           int64_t* merge) {
  const pod_table* t = side == SIDE_DECODE ? &d->decode : &d->prefill;
  const int64_t heads = d->a.num_kv_heads;
  int64_t rows_per_tile = pod_tile_rows(tile, d->a.head_dim), group = d->a.num_qo_heads / heads;
  int64_t base_max, base_min;
  if (side == SIDE_DECODE) { /* one query per request: exact */
    base_max = base_min = (int64_t)t->batch * ((group + rows_per_tile - 1) / rows_per_tile);
  } else { /* any split of the fixed query count over the fixed batch */
    base_max = (t->total_q * group + rows_per_tile - 1) / rows_per_tile + t->batch;
    base_min = 0;
  }
  int64_t wave = ((int64_t)w->sm_count * ctas_per_sm[tile == POD_TILE_PREFILL ? 0 : 1] + heads - 1) / heads; /* in items */
  int64_t cap = base_max > wave ? base_max : wave;
  if (cap > 8 * base_max) cap = 8 * base_max;
  int64_t merges = cap / 2 < cap - base_min ? cap / 2 : cap - base_min; /* a merge combines >= 2 items beyond its base item */
  *work = cap;
  *merge = merges * heads;
}

/* CUDA: schedules both sides and lays out the workspace after the tables. */
static int32_t schedule_draft(wrapper* w, draft* d) {
  int64_t at = 0;
  const pod_table* tables[2] = {&d->decode, &d->prefill};
  for (int side = 0; side < 2; side++) {
    int64_t bytes = w->use_graph ? (int64_t)pod_table_fixed_bytes(tables[side]->batch) : (int64_t)tables[side]->storage_bytes;
    d->off_table[side] = take(&at, tables[side]->storage ? bytes : 0);
  }
  pod_schedule* sched[2] = {&d->decode_sched, &d->prefill_sched};
  int64_t caps[2][2] = {{0, 0}, {0, 0}};
  if (w->device != POD_DEVICE_CPU) {
    pod_schedule_input in;
    memset(&in, 0, sizeof in);
    in.num_kv_heads = d->a.num_kv_heads, in.group = d->a.num_qo_heads / d->a.num_kv_heads, in.head_dim = d->a.head_dim;
    in.sm_count = w->sm_count;
    in.partial_budget = w->workspace_bytes / 4; /* each side may fill a quarter of the workspace with partial results */
    int32_t st = POD_OK;
    const int32_t key[3] = {d->a.q_dtype, d->a.kv_dtype, d->a.head_dim};
    if (memcmp(key, w->occupancy_key, sizeof key) != 0) {
      st = pod_attention_ctas_per_sm(w->device, key[0], key[1], key[2], POD_TILE_PREFILL, &w->occupancy[0]);
      if (st == POD_OK) st = pod_attention_ctas_per_sm(w->device, key[0], key[1], key[2], POD_TILE_DECODE, &w->occupancy[1]);
      if (st == POD_OK) memcpy(w->occupancy_key, key, sizeof key);
    }
    in.ctas_per_sm[0] = w->occupancy[0], in.ctas_per_sm[1] = w->occupancy[1];
    const pod_resolved_options* opts[2] = {&d->decode_options, &d->prefill_options};
    for (int side = 0; side < 2 && st == POD_OK; side++) {
      if (side == SIDE_PREFILL && w->kind != POD_WRAPPER_BATCH_PREFILL) break;
      in.batch = tables[side]->batch, in.qo_indptr = tables[side]->qo_indptr, in.kv_lens = tables[side]->kv_lens;
      in.causal = side == SIDE_DECODE ? 0 : opts[side]->causal, in.window_left = opts[side]->window_left;
      in.fixed_tile = POD_SCHEDULE_ANY_TILE;
      in.max_work = 0;
      if (w->use_graph) {
        int32_t max_rows = 0;
        for (int32_t r = 0; r < in.batch; r++) {
          int32_t rows = (in.qo_indptr[r + 1] - in.qo_indptr[r]) * in.group;
          if (rows > max_rows) max_rows = rows;
        }
        in.fixed_tile = w->shaped ? w->shape.tile[side] : pod_schedule_tile(max_rows);
        graph_capacity(w, d, side, in.fixed_tile, in.ctas_per_sm, &caps[side][0], &caps[side][1]);
        in.max_work = caps[side][0] > 0 ? caps[side][0] : 1;
      }
      in.scratch_slot = side;
      st = pod_schedule_build(&in, sched[side]);
      d->shape.tile[side] = sched[side]->tile;
    }
    if (st != POD_OK) return st;
  }
  for (int side = 0; side < 2; side++) {
    int64_t work = w->use_graph ? caps[side][0] : sched[side]->num_work;
    int64_t merge = w->use_graph ? caps[side][1] : sched[side]->num_merge;
    if (work > INT32_MAX || merge > INT32_MAX) return pod_fail(POD_ERR_INVALID_ARGUMENT, "the %s side has too many work items to launch", side_name(side));
    d->launch_work[side] = (int32_t)work;
    d->launch_merge[side] = (int32_t)merge;
    d->off_sched[2 * side] = take(&at, work * (int64_t)sizeof(pod_work_item));
    d->off_sched[2 * side + 1] = take(&at, merge * (int64_t)sizeof(pod_merge_item));
  }
  d->off_counters = take(&at, (int64_t)sizeof(pod_fused_counters)); /* zeros in the image */
  d->image_bytes = at;
  for (int side = 0; side < 2; side++) {
    int64_t rows = pod_tile_rows(sched[side]->tile, d->a.head_dim);
    int64_t slots = sched[side]->num_partial;
    if (w->use_graph) { /* room for the most partial slots any plan of this shape may use */
      int64_t budget_slots = (w->workspace_bytes / 4) / (rows * (d->a.head_dim + 1) * 4);
      int64_t most = caps[side][0] * d->a.num_kv_heads;
      slots = most < budget_slots ? most : budget_slots;
    }
    d->off_partial[2 * side] = take(&at, slots * rows * d->a.head_dim * 4);
    d->off_partial[2 * side + 1] = take(&at, slots * rows * 4);
  }
  d->workspace_needed = at;
  return POD_OK;
}

/* CUDA graph mode: the plan against the fixed buffers and the shape of the first plan. */
static int32_t check_graph_plan(const wrapper* w, draft* d) {
  const pod_table* tables[2] = {&d->decode, &d->prefill};
  graph_shape* s = &d->shape;
  s->num_qo_heads = d->a.num_qo_heads, s->num_kv_heads = d->a.num_kv_heads, s->head_dim = d->a.head_dim;
  s->page_size = d->a.page_size, s->q_dtype = d->a.q_dtype, s->kv_dtype = d->a.kv_dtype;
  s->options[SIDE_DECODE] = d->decode_options, s->options[SIDE_PREFILL] = d->prefill_options;
  for (int side = 0; side < 2; side++) {
    const pod_table* t = tables[side];
    s->total_q[side] = t->total_q;
    if (side == SIDE_PREFILL && w->kind != POD_WRAPPER_BATCH_PREFILL) continue;
    if (t->batch != w->fixed_batch[side])
      return pod_fail(POD_ERR_INVALID_ARGUMENT,
                      "%s: the plan has %d requests, but in CUDA graph mode the batch is fixed by the %s buffers at %d%s", side_name(side),
                      t->batch, side_name(side), w->fixed_batch[side], w->fixed_batch[side] == 0 ? " (no buffers: the side stays empty)" : "");
    if (t->num_pages_used > w->indices_capacity[side])
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.kv_indices: the plan uses %lld pages, the fixed kv_indices buffer holds %lld", side_name(side),
                      (long long)t->num_pages_used, (long long)w->indices_capacity[side]);
  }
  if (!w->shaped) return POD_OK;
  const graph_shape* f = &w->shape;
  const char* what = NULL;
  if (s->num_qo_heads != f->num_qo_heads) what = "num_qo_heads";
  else if (s->num_kv_heads != f->num_kv_heads) what = "num_kv_heads";
  else if (s->head_dim != f->head_dim) what = "head_dim";
  else if (s->page_size != f->page_size) what = "page_size";
  else if (s->q_dtype != f->q_dtype) what = "q_dtype";
  else if (s->kv_dtype != f->kv_dtype) what = "kv_dtype";
  else if (memcmp(&s->options[SIDE_DECODE], &f->options[SIDE_DECODE], sizeof f->options[0]) != 0) what = "decode_options";
  else if (memcmp(&s->options[SIDE_PREFILL], &f->options[SIDE_PREFILL], sizeof f->options[0]) != 0) what = "prefill_options";
  else if (s->total_q[SIDE_PREFILL] != f->total_q[SIDE_PREFILL]) what = "prefill.qo_indptr (the total number of queries)";
  if (what)
    return pod_fail(POD_ERR_INVALID_ARGUMENT,
                    "%s: differs from the first plan; in CUDA graph mode heads, head_dim, page size, dtypes, options and query counts stay "
                    "those of the first plan, which captured run() calls hold (reset the workspace or use another wrapper to change them)",
                    what);
  return POD_OK;
}

static int32_t build_draft(wrapper* w, const pod_plan_args* in, draft* d) {
  memset(d, 0, sizeof *d);
  pod_attention_options_init(&d->a.decode_options);
  pod_attention_options_init(&d->a.prefill_options);
  d->a.kv_dtype = POD_UNSET;
  int32_t st = pod_copy_versioned(&d->a, sizeof d->a, in, sizeof d->a, "args");
  if (st != POD_OK) return st;
  /* The occupancy queries of the planner answer for the current context's device. */
  if (w->device != POD_DEVICE_CPU && (st = pod_cuda_use(w->device))) return st;
  const pod_plan_args* a = &d->a;
  if (a->num_qo_heads <= 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "num_qo_heads: expected a positive count, got %d", a->num_qo_heads);
  if (a->num_kv_heads <= 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "num_kv_heads: expected a positive count, got %d", a->num_kv_heads);
  if (a->num_qo_heads % a->num_kv_heads != 0)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "num_qo_heads: %d is not a multiple of num_kv_heads %d", a->num_qo_heads, a->num_kv_heads);
  if (a->head_dim != 64 && a->head_dim != 128 && a->head_dim != 256)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "head_dim: expected 64, 128 or 256, got %d", a->head_dim);
  if (a->page_size < 1) return pod_fail(POD_ERR_INVALID_ARGUMENT, "page_size: expected >= 1, got %d", a->page_size);
  if (a->q_dtype != POD_FLOAT16 && a->q_dtype != POD_BFLOAT16)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_dtype: expected float16 or bfloat16, got %s", pod_dtype_name(a->q_dtype));
  int32_t kv_dtype = a->kv_dtype == POD_UNSET ? a->q_dtype : a->kv_dtype;
  if (kv_dtype != a->q_dtype && !pod_dtype_is_fp8(kv_dtype))
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "kv_dtype: expected q_dtype (%s), float8_e4m3fn or float8_e5m2, got %s", pod_dtype_name(a->q_dtype),
                    pod_dtype_name(kv_dtype));
  d->a.kv_dtype = kv_dtype;
  if ((st = pod_resolve_options(&a->decode_options, a->head_dim, "decode_options", &d->decode_options))) return st;
  if (w->kind == POD_WRAPPER_SINGLE_PREFILL) {
    const pod_paged_table* p = &a->prefill;
    if (p->qo_indptr.len || p->kv_indptr.len || p->kv_indices.len || p->kv_last_page_len.len)
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "prefill: the single-prefill wrapper takes its prefill request in run() (q_p, k_p, v_p); pass no prefill table");
    if (pod_options_any_set(&a->prefill_options))
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "prefill_options: the single-prefill wrapper takes prefill options in run() (options_p)");
  } else if ((st = pod_resolve_options(&a->prefill_options, a->head_dim, "prefill_options", &d->prefill_options))) {
    return st;
  }
  if ((st = pod_table_build(&a->decode, a->page_size, 1, 0, "decode", &d->decode))) return st;
  if (w->kind == POD_WRAPPER_BATCH_PREFILL &&
      (st = pod_table_build(&a->prefill, a->page_size, 0, d->prefill_options.causal, "prefill", &d->prefill))) {
    return st;
  }
  if (w->use_graph && (st = check_graph_plan(w, d))) return st;
  return schedule_draft(w, d);
}

static void free_draft(draft* d) {
  pod_table_free(&d->decode);
  pod_table_free(&d->prefill);
  pod_schedule_free(&d->decode_sched);
  pod_schedule_free(&d->prefill_sched);
}

POD_API int32_t pod_wrapper_workspace_size(uint64_t handle, const pod_plan_args* args, uint64_t* bytes) {
  if (bytes == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "bytes: null pointer");
  wrapper* w = NULL;
  draft d;
  memset(&d, 0, sizeof d);
  int32_t st = get_wrapper(handle, &w);
  if (st == POD_OK) st = build_draft(w, args, &d);
  if (st == POD_OK) *bytes = (uint64_t)d.workspace_needed;
  free_draft(&d);
  return st;
}

/* Stages `count` int32 at *at in the staging buffer and copies them into a fixed buffer (CUDA graph mode). */
static int32_t fill_buffer(wrapper* w, unsigned char* staging, size_t* at, const pod_tensor* buf, const int32_t* data, int64_t count,
                           const pod_stream_obj* stream) {
  size_t bytes = (size_t)count * 4;
  if (bytes == 0) return POD_OK;
  memcpy(staging + *at, data, bytes);
  int32_t st = pod_staging_copy(&w->staging, w->device, buf->data, *at, bytes, stream);
  *at += (bytes + 15) / 16 * 16;
  return st;
}

POD_API int32_t pod_wrapper_plan(uint64_t handle, const pod_plan_args* args) {
  wrapper* w = NULL;
  draft d;
  memset(&d, 0, sizeof d);
  int32_t st = get_wrapper(handle, &w);
  if (st == POD_OK) st = build_draft(w, args, &d);
  if (st != POD_OK) {
    free_draft(&d);
    return st;
  }
  if (d.workspace_needed > w->workspace_bytes) {
    free_draft(&d);
    return pod_fail(POD_ERR_WORKSPACE_TOO_SMALL, "workspace: holds %lld bytes, this plan needs %lld", (long long)w->workspace_bytes,
                    (long long)d.workspace_needed);
  }
  /* plan() is never captured: the copies below would replay stale host memory. */
  pod_stream_obj stream;
  int capturing = 0;
  if (w->device != POD_DEVICE_CPU) st = pod_cuda_use(w->device);
  if (st == POD_OK) st = pod_stream_resolve(w->device, d.a.stream, &stream);
  if (st == POD_OK) st = pod_stream_capturing(&stream, &capturing);
  if (st == POD_OK && capturing)
    st = pod_fail(POD_ERR_INVALID_ARGUMENT,
                  "stream: is capturing a graph; plan() cannot be captured (its copies read host memory once). Plan before the capture, "
                  "and in CUDA graph mode re-plan between replays");
  if (st != POD_OK) {
    free_draft(&d);
    return st;
  }
  /* One image of the tables and schedules, one copy into the workspace; in graph mode the page tables
   * for the fixed buffers follow it in the staging memory. The page indices are checked as they are
   * staged, before anything is copied to the device. */
  pod_table* tables[2] = {&d.decode, &d.prefill};
  size_t total = (size_t)d.image_bytes, staged = total;
  for (int side = 0; side < 2 && w->use_graph; side++)
    if (w->fixed_batch[side] > 0) staged += 4 * (3 * (size_t)tables[side]->batch + (size_t)tables[side]->num_pages_used + 2) + 64;
  unsigned char* image;
  if ((st = pod_staging_acquire(&w->staging, w->device, staged, &image))) {
    free_draft(&d);
    return st;
  }
  size_t indices_at[2] = {0, 0}, at = (total + 15) / 16 * 16; /* graph mode: each side's indices after the image */
  for (int side = 0; side < 2; side++) {
    pod_table* t = tables[side];
    if (t->storage == NULL) continue; /* the single wrapper's prefill side has no table */
    const size_t fixed = pod_table_fixed_bytes(t->batch);
    memcpy(image + d.off_table[side], t->storage, fixed);
    /* Graph mode: the page indices go to the fixed buffer instead. */
    if (w->use_graph && w->fixed_batch[side] == 0) continue;
    if (w->use_graph) indices_at[side] = at, at += ((size_t)t->num_pages_used * 4 + 15) / 16 * 16;
    int32_t* dst = (int32_t*)(image + (w->use_graph ? indices_at[side] : d.off_table[side] + fixed));
    if ((st = pod_table_stage_indices(t, dst, side_name(side)))) {
      free_draft(&d);
      return st;
    }
  }
  memset(image + d.off_counters, 0, sizeof(pod_fused_counters)); /* the staging memory is reused */
  const pod_schedule* sched[2] = {&d.decode_sched, &d.prefill_sched};
  for (int side = 0; side < 2; side++) {
    pod_work_item* work = (pod_work_item*)(image + d.off_sched[2 * side]);
    pod_merge_item* merge = (pod_merge_item*)(image + d.off_sched[2 * side + 1]);
    if (sched[side]->num_work) memcpy(work, sched[side]->work, (size_t)sched[side]->num_work * sizeof *work);
    if (sched[side]->num_merge) memcpy(merge, sched[side]->merge, (size_t)sched[side]->num_merge * sizeof *merge);
    /* Graph mode: skip items up to the launch's capacity, on rows past the end of request 0. */
    const pod_table* t = tables[side];
    int32_t past_end = t->batch > 0 ? (t->qo_indptr[1] - t->qo_indptr[0]) * (d.a.num_qo_heads / d.a.num_kv_heads) : 0;
    for (int32_t i = sched[side]->num_work; i < d.launch_work[side]; i++) work[i] = (pod_work_item){0, 0, past_end, 0, 0, -1, 1, 0};
    for (int32_t i = sched[side]->num_merge; i < d.launch_merge[side]; i++) merge[i] = (pod_merge_item){0, 0, past_end, 0, 0, 1, 0, 1};
  }
  st = pod_staging_copy(&w->staging, w->device, w->workspace.data, 0, total, &stream);
  if (st == POD_OK && w->use_graph) {
    const pod_paged_table* in[2] = {&d.a.decode, &d.a.prefill};
    for (int side = 0; side < 2 && st == POD_OK; side++) {
      if (w->fixed_batch[side] == 0) continue;
      const pod_tensor* b = w->buffers[side];
      const pod_table* t = tables[side];
      st = pod_staging_copy(&w->staging, w->device, b[BUF_KV_INDICES].data, indices_at[side], (size_t)t->num_pages_used * 4, &stream);
      if (st == POD_OK) st = fill_buffer(w, image, &at, &b[BUF_KV_INDPTR], t->kv_indptr, t->batch + 1, &stream);
      if (st == POD_OK) st = fill_buffer(w, image, &at, &b[BUF_LAST], in[side]->kv_last_page_len.data, t->batch, &stream);
      if (st == POD_OK && side == SIDE_PREFILL) st = fill_buffer(w, image, &at, &b[BUF_QO], t->qo_indptr, t->batch + 1, &stream);
    }
  }
  if (st == POD_OK) st = pod_staging_release(&w->staging, w->device, &stream);
  if (st == POD_OK) st = pod_workspace_claim(w->device, w->workspace.data, (uint64_t)d.workspace_needed, w->handle);
  if (st != POD_OK) {
    free_draft(&d);
    return st;
  }
  pod_table_free(&w->decode);
  pod_table_free(&w->prefill);
  pod_schedule_free(&w->decode_sched);
  pod_schedule_free(&w->prefill_sched);
  w->decode_sched = d.decode_sched;
  w->prefill_sched = d.prefill_sched;
  /* their lists were the planner's scratch, copied into the workspace above */
  w->decode_sched.work = w->prefill_sched.work = NULL;
  w->decode_sched.merge = w->prefill_sched.merge = NULL;
  memcpy(w->off_table, d.off_table, sizeof w->off_table);
  memcpy(w->off_sched, d.off_sched, sizeof w->off_sched);
  memcpy(w->off_partial, d.off_partial, sizeof w->off_partial);
  w->off_counters = d.off_counters;
  memcpy(w->launch_work, d.launch_work, sizeof w->launch_work);
  memcpy(w->launch_merge, d.launch_merge, sizeof w->launch_merge);
  w->num_qo_heads = d.a.num_qo_heads;
  w->num_kv_heads = d.a.num_kv_heads;
  w->head_dim = d.a.head_dim;
  w->page_size = d.a.page_size;
  w->q_dtype = d.a.q_dtype;
  w->kv_dtype = d.a.kv_dtype;
  w->decode_options = d.decode_options;
  w->prefill_options = d.prefill_options;
  w->decode = d.decode;
  w->prefill = d.prefill;
  w->decode.kv_indices_in = w->prefill.kv_indices_in = NULL; /* the caller's arrays, read during plan() only */
  unsigned char* ws = (unsigned char*)(uintptr_t)w->workspace.data;
  w->decode_ws = pod_table_rebase(&w->decode, ws + d.off_table[SIDE_DECODE]);
  w->prefill_ws = pod_table_rebase(&w->prefill, ws + d.off_table[SIDE_PREFILL]);
  if (w->use_graph) {
    /* The page tables live in the fixed buffers. */
    pod_table* on_device[2] = {&w->decode_ws, &w->prefill_ws};
    for (int side = 0; side < 2; side++) {
      if (w->fixed_batch[side] == 0) continue;
      on_device[side]->kv_indptr = (int32_t*)(uintptr_t)w->buffers[side][BUF_KV_INDPTR].data;
      on_device[side]->kv_indices = (int32_t*)(uintptr_t)w->buffers[side][BUF_KV_INDICES].data;
      if (side == SIDE_PREFILL) on_device[side]->qo_indptr = (int32_t*)(uintptr_t)w->buffers[side][BUF_QO].data;
    }
    if (!w->shaped) {
      w->shape = d.shape;
      w->shaped = 1;
    }
  }
  w->workspace_used = d.workspace_needed;
  w->planned = 1;
  return POD_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* run() */

/* Splits a paged cache (one tensor with a k/v axis, or a pair) into k and v views and checks them. */
static int32_t parse_paged_cache(const wrapper* w, const pod_tensor* k, const pod_tensor* v, const char* kname, const char* vname,
                                 int32_t max_page, pod_tensor* k_out, pod_tensor* v_out) {
  int32_t st;
  int nhd = w->kv_layout == POD_NHD;
  int64_t inner[4] = {-1, nhd ? w->page_size : w->num_kv_heads, nhd ? w->num_kv_heads : w->page_size, w->head_dim};
  const char* form4 = nhd ? "[pages, page_size, kv_heads, head_dim] (NHD)" : "[pages, kv_heads, page_size, head_dim] (HND)";
  if ((st = pod_check_tensor(k, kname, w->device))) return st;
  if (!pod_tensor_present(k)) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: the paged KV cache is missing", kname);
  if (!pod_tensor_present(v)) {
    int64_t shape5[5] = {-1, 2, inner[1], inner[2], inner[3]};
    const char* form5 = nhd ? "[pages, 2, page_size, kv_heads, head_dim] (NHD, k/v axis)" : "[pages, 2, kv_heads, page_size, head_dim] (HND, k/v axis)";
    if ((st = pod_check_shape(k, kname, 5, shape5, form5))) return st;
    *k_out = pod_tensor_select(k, 1, 0);
    *v_out = pod_tensor_select(k, 1, 1);
  } else {
    if ((st = pod_check_tensor(v, vname, w->device)) || (st = pod_check_shape(k, kname, 4, inner, form4)) ||
        (st = pod_check_shape(v, vname, 4, inner, form4)))
      return st;
    if (v->shape[0] != k->shape[0])
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: has %lld pages, %s has %lld", vname, (long long)v->shape[0], kname, (long long)k->shape[0]);
    *k_out = *k;
    *v_out = *v;
  }
  const int32_t dt[] = {w->kv_dtype};
  if ((st = pod_check_dtype(k_out, kname, dt, 1)) || (st = pod_check_dtype(v_out, vname, dt, 1)) ||
      (st = pod_check_inner_contiguous(k_out, kname)) || (st = pod_check_inner_contiguous(v_out, vname)))
    return st;
  if (max_page >= k_out->shape[0])
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: the page table uses page %d but the cache holds %lld pages (page index out of range)", kname,
                    max_page, (long long)k_out->shape[0]);
  return POD_OK;
}

/* Checks q, o and lse of a side: q [tokens, heads, head_dim] of dtype; o like q; lse float32 [tokens, heads]. */
static int32_t check_q_o_lse(const wrapper* w, pod_side* s, const pod_tensor* q, const pod_tensor* o, const pod_tensor* lse, int64_t tokens,
                             int32_t heads, int32_t head_dim, int32_t dtype, const char* qn, const char* on, const char* ln) {
  int32_t st;
  int64_t shape[3] = {tokens, heads, head_dim};
  const int32_t dt[] = {dtype};
  const int32_t f32[] = {POD_FLOAT32};
  if ((st = pod_check_tensor(q, qn, w->device)) || (st = pod_check_shape(q, qn, 3, shape, "[tokens, num_qo_heads, head_dim]")) ||
      (st = pod_check_dtype(q, qn, dt, 1)) || (st = pod_check_inner_contiguous(q, qn)))
    return st;
  if (!pod_tensor_present(o) && tokens > 0)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: the output tensor is missing (the bindings allocate it when not given)", on);
  if (pod_tensor_present(o) && ((st = pod_check_tensor(o, on, w->device)) || (st = pod_check_shape(o, on, 3, shape, "like q")) ||
                                (st = pod_check_dtype(o, on, dt, 1)) || (st = pod_check_inner_contiguous(o, on))))
    return st;
  int64_t lse_shape[2] = {tokens, heads};
  if (pod_tensor_present(lse) && ((st = pod_check_tensor(lse, ln, w->device)) ||
                                  (st = pod_check_shape(lse, ln, 2, lse_shape, "[tokens, num_qo_heads]")) || (st = pod_check_dtype(lse, ln, f32, 1))))
    return st;
  s->q = *q;
  s->o = *o;
  s->lse = *lse;
  s->total_q_tokens = tokens;
  return POD_OK;
}

/* A custom mask for the prefill side: dense bool/uint8 or bit-packed uint8. */
static int32_t check_mask(const wrapper* w, pod_side* s, const pod_tensor* m, int packed, int single, int64_t qo, int64_t kv,
                          int64_t dense_elems, int64_t packed_bytes) {
  int32_t st;
  if (!pod_tensor_present(m)) return POD_OK;
  if (packed != 0 && packed != 1) return pod_fail(POD_ERR_INVALID_ARGUMENT, "mask_p_packed: expected 0 or 1, got %d", packed);
  if (s->options.causal)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "mask_p: a custom mask replaces causal masking; pass causal = 0 with a custom mask");
  if ((st = pod_check_tensor(m, "mask_p", w->device))) return st;
  if (packed) {
    const int32_t u8[] = {POD_UINT8};
    int64_t shape[1] = {packed_bytes};
    if ((st = pod_check_dtype(m, "mask_p", u8, 1)) ||
        (st = pod_check_shape(m, "mask_p", 1, shape, "bit-packed, ceil(qo_len * kv_len / 8) bytes per request")))
      return st;
  } else {
    const int32_t dt[] = {POD_BOOL, POD_UINT8};
    if ((st = pod_check_dtype(m, "mask_p", dt, 2))) return st;
    if (single) {
      int64_t shape[2] = {qo, kv};
      if ((st = pod_check_shape(m, "mask_p", 2, shape, "[qo_len, kv_len]"))) return st;
    } else {
      int64_t shape[1] = {dense_elems};
      if ((st = pod_check_shape(m, "mask_p", 1, shape, "each request's [qo_len, kv_len] block, flattened"))) return st;
    }
  }
  s->mask = *m;
  s->mask_mode = packed ? 2 : 1;
  return POD_OK;
}

/* Single-prefill wrapper: the prefill request comes entirely from run(). */
static int32_t build_single_prefill(const wrapper* w, const pod_run_args* a, pod_side* s, int32_t tables[4], int64_t offsets[2]) {
  int32_t st;
  if (!pod_tensor_present(&a->q_p)) {
    if (pod_tensor_present(&a->k_p) || pod_tensor_present(&a->v_p) || pod_tensor_present(&a->mask_p) || pod_tensor_present(&a->o_p) ||
        pod_tensor_present(&a->lse_p))
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_p: absent, but k_p, v_p, mask_p, o_p or lse_p was given");
    return POD_OK;
  }
  const pod_tensor* q = &a->q_p;
  if ((st = pod_check_tensor(q, "q_p", w->device))) return st;
  if (q->ndim != 3) {
    char got[160];
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_p: expected 3 dimensions [qo_len, num_qo_heads, head_dim], got %s", pod_shape_str(q, got, sizeof got));
  }
  if ((st = pod_check_dtype(q, "q_p", half_types, 2))) return st;
  int64_t qo = q->shape[0];
  int32_t heads = (int32_t)q->shape[1], head_dim = (int32_t)q->shape[2];
  if (head_dim != 64 && head_dim != 128 && head_dim != 256)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_p: head_dim (last dimension) must be 64, 128 or 256, got %d", head_dim);
  if (heads <= 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_p: num_qo_heads (dimension 1) must be positive");
  int32_t layout = a->kv_layout_p == POD_UNSET ? w->kv_layout : a->kv_layout_p;
  if (layout != POD_NHD && layout != POD_HND)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "kv_layout_p: expected NHD (0) or HND (1), got %d", a->kv_layout_p);
  const char* form = layout == POD_NHD ? "[kv_len, num_kv_heads, head_dim] (NHD)" : "[num_kv_heads, kv_len, head_dim] (HND)";
  const pod_tensor *k = &a->k_p, *v = &a->v_p;
  if ((st = pod_check_tensor(k, "k_p", w->device)) || (st = pod_check_tensor(v, "v_p", w->device))) return st;
  if (!pod_tensor_present(k) || !pod_tensor_present(v))
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: missing; the prefill request needs k_p and v_p", pod_tensor_present(k) ? "v_p" : "k_p");
  if (k->ndim != 3) {
    char got[160];
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "k_p: expected 3 dimensions %s, got %s", form, pod_shape_str(k, got, sizeof got));
  }
  int64_t kv = layout == POD_NHD ? k->shape[0] : k->shape[1];
  int64_t kv_heads = layout == POD_NHD ? k->shape[1] : k->shape[0];
  if (kv_heads <= 0 || heads % kv_heads != 0)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "k_p: num_qo_heads %d is not a multiple of num_kv_heads %lld", heads, (long long)kv_heads);
  if (kv > INT32_MAX) return pod_fail(POD_ERR_INVALID_ARGUMENT, "k_p: kv_len %lld is too large", (long long)kv);
  int64_t kshape[3] = {layout == POD_NHD ? kv : kv_heads, layout == POD_NHD ? kv_heads : kv, head_dim};
  /* k_p and v_p: q's dtype, or one fp8 type for both */
  const int32_t dt[] = {q->dtype, POD_FLOAT8_E4M3, POD_FLOAT8_E5M2};
  const int32_t k_dt[] = {k->dtype};
  if ((st = pod_check_shape(k, "k_p", 3, kshape, form)) || (st = pod_check_shape(v, "v_p", 3, kshape, form)) ||
      (st = pod_check_dtype(k, "k_p", dt, 3)) || (st = pod_check_dtype(v, "v_p", k_dt, 1)) || (st = pod_check_inner_contiguous(k, "k_p")) ||
      (st = pod_check_inner_contiguous(v, "v_p")))
    return st;
  if ((st = pod_resolve_options(&a->options_p, head_dim, "options_p", &s->options))) return st;
  if (s->options.causal && qo > kv)
    return pod_fail(POD_ERR_INVALID_ARGUMENT,
                    "q_p: qo_len %lld > kv_len %lld, which causal attention (queries aligned to the end of the KV) does not allow", (long long)qo,
                    (long long)kv);
  s->num_qo_heads = heads;
  s->num_kv_heads = (int32_t)kv_heads;
  s->head_dim = head_dim;
  s->kv_layout = layout;
  s->paged = 0;
  s->k = *k;
  s->v = *v;
  if ((st = check_q_o_lse(w, s, q, &a->o_p, &a->lse_p, qo, heads, head_dim, q->dtype, "q_p", "o_p", "lse_p"))) return st;
  if ((st = check_mask(w, s, &a->mask_p, a->mask_p_packed, 1, qo, kv, qo * kv, (qo * kv + 7) / 8))) return st;
  tables[0] = 0;
  tables[1] = (int32_t)qo;
  tables[2] = (int32_t)kv;
  offsets[0] = offsets[1] = 0;
  s->qo_indptr = tables;
  s->kv_lens = tables + 2;
  s->mask_offsets = offsets;
  s->num_requests = 1;
  return POD_OK;
}

/* A side planned on a paged cache: the decode side of both wrappers, the prefill side of the batch one. */
static int32_t build_paged_side(const wrapper* w, const pod_table* t, const pod_resolved_options* planned, const pod_attention_options* given,
                                const pod_tensor* q, const pod_tensor* k, const pod_tensor* v, const pod_tensor* o, const pod_tensor* lse,
                                int prefill, pod_side* s) {
  int32_t st;
  const char* opt_name = prefill ? "options_p" : "options_d";
  if ((st = pod_check_options_match(given, planned, opt_name, prefill ? "the batch wrapper takes prefill options in plan()" : "decode options are set in plan()")))
    return st;
  s->options = *planned;
  s->num_qo_heads = w->num_qo_heads;
  s->num_kv_heads = w->num_kv_heads;
  s->head_dim = w->head_dim;
  s->paged = 1;
  s->page_size = w->page_size;
  s->kv_layout = w->kv_layout;
  if (t->batch == 0 && !pod_tensor_present(q)) return POD_OK;
  if ((st = check_q_o_lse(w, s, q, o, lse, t->total_q, w->num_qo_heads, w->head_dim, w->q_dtype, prefill ? "q_p" : "q_d", prefill ? "o_p" : "o_d",
                          prefill ? "lse_p" : "lse_d")))
    return st;
  if (t->batch == 0) return POD_OK;
  if ((st = parse_paged_cache(w, k, v, prefill ? "k_p" : "paged_k_d", prefill ? "v_p" : "paged_v_d", t->max_page, &s->k, &s->v))) return st;
  s->num_requests = t->batch;
  s->qo_indptr = t->qo_indptr;
  s->kv_lens = t->kv_lens;
  s->kv_indptr = t->kv_indptr;
  s->kv_indices = t->kv_indices;
  return POD_OK;
}

/* Points a side at its tables and schedule inside the workspace (device addresses). */
static void attach_schedule(const wrapper* w, pod_side* s, const pod_table* ws, int side, int packed_mask) {
  uint64_t base = w->workspace.data;
  const pod_schedule* sched = side == SIDE_PREFILL ? &w->prefill_sched : &w->decode_sched;
  s->dev.qo_indptr = (uint64_t)(uintptr_t)ws->qo_indptr;
  s->dev.kv_lens = (uint64_t)(uintptr_t)ws->kv_lens;
  s->dev.kv_indptr = (uint64_t)(uintptr_t)ws->kv_indptr;
  s->dev.kv_indices = (uint64_t)(uintptr_t)ws->kv_indices;
  s->dev.mask_offsets = (uint64_t)(uintptr_t)(packed_mask ? ws->packed_mask_offsets : ws->dense_mask_offsets);
  s->dev.work = base + (uint64_t)w->off_sched[2 * side];
  s->dev.merge = base + (uint64_t)w->off_sched[2 * side + 1];
  s->dev.partial_o = base + (uint64_t)w->off_partial[2 * side];
  s->dev.partial_lse = base + (uint64_t)w->off_partial[2 * side + 1];
  s->dev.num_work = w->launch_work[side];
  s->dev.num_merge = w->launch_merge[side];
  s->dev.tile = sched->tile;
}

/* The dequantization scales of a side (NaN: 1): q_scale * k_scale joins sm_scale, v_scale the output. */
static int32_t apply_scales(pod_side* s, float q_scale, float k_scale, float v_scale, const char* side) {
  const float given[3] = {q_scale, k_scale, v_scale};
  const char* names[3] = {"q_scale", "k_scale", "v_scale"};
  float use[3];
  for (int i = 0; i < 3; i++) {
    if (isnan(given[i])) {
      use[i] = 1.0f;
    } else if (!isfinite(given[i])) {
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s_%s: expected a finite scale, got %g", names[i], side, (double)given[i]);
    } else {
      use[i] = given[i];
    }
  }
  s->options.sm_scale *= use[0] * use[1];
  s->v_scale = use[2];
  return POD_OK;
}

POD_API int32_t pod_wrapper_last_launch(uint64_t handle, int32_t* launch) {
  if (launch == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "launch: null pointer");
  wrapper* w;
  int32_t st = get_wrapper(handle, &w);
  if (st != POD_OK) return st;
  *launch = w->last_launch;
  return POD_OK;
}

POD_API int32_t pod_wrapper_run(uint64_t handle, const pod_run_args* in) {
  wrapper* w;
  int32_t st = get_wrapper(handle, &w);
  if (st != POD_OK) return st;
  if (!w->planned) return pod_fail(POD_ERR_NOT_PLANNED, "wrapper: run() called before a successful plan()");
  if (!pod_workspace_holds(w->device, w->workspace.data, (uint64_t)w->workspace_used, w->handle))
    return pod_fail(POD_ERR_NOT_PLANNED,
                    "workspace: another wrapper planned into this workspace after this wrapper's plan(); give each wrapper its own "
                    "workspace, or plan again");
  pod_run_args a;
  memset(&a, 0, sizeof a);
  a.kv_layout_p = POD_UNSET;
  a.enable_pdl = POD_UNSET;
  a.q_scale_p = a.k_scale_p = a.v_scale_p = a.q_scale_d = a.k_scale_d = a.v_scale_d = NAN;
  pod_attention_options_init(&a.options_p);
  pod_attention_options_init(&a.options_d);
  if ((st = pod_copy_versioned(&a, sizeof a, in, offsetof(pod_run_args, enable_pdl), "args"))) return st;
  pod_stream_obj stream;
  if ((st = pod_stream_resolve(w->device, a.stream, &stream))) return st;
  int pdl;
  if ((st = resolve_pdl(w->device, a.enable_pdl, w->pdl, "enable_pdl", &pdl))) return st;

  pod_side prefill, decode;
  memset(&prefill, 0, sizeof prefill);
  memset(&decode, 0, sizeof decode);
  int32_t single_tables[4];
  int64_t single_offsets[2];
  const pod_table* ptab = w->device == POD_DEVICE_CPU ? &w->prefill_ws : &w->prefill;
  const pod_table* dtab = w->device == POD_DEVICE_CPU ? &w->decode_ws : &w->decode;
  if (w->kind == POD_WRAPPER_SINGLE_PREFILL) {
    st = build_single_prefill(w, &a, &prefill, single_tables, single_offsets);
  } else {
    if (a.kv_layout_p != POD_UNSET && a.kv_layout_p != w->kv_layout)
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "kv_layout_p: %s differs from the wrapper's %s; the batch wrapper's caches share its layout",
                      layout_name(a.kv_layout_p), layout_name(w->kv_layout));
    st = build_paged_side(w, ptab, &w->prefill_options, &a.options_p, &a.q_p, &a.k_p, &a.v_p, &a.o_p, &a.lse_p, 1, &prefill);
    if (st == POD_OK && w->use_graph && pod_tensor_present(&a.mask_p)) {
      st = pod_fail(POD_ERR_NOT_IMPLEMENTED,
                    "mask_p: in CUDA graph mode the batch wrapper takes no custom mask: its size follows the KV lengths, which a plan "
                    "may change under a captured run()");
    } else if (st == POD_OK && w->prefill.batch > 0) {
      prefill.mask_offsets = a.mask_p_packed ? ptab->packed_mask_offsets : ptab->dense_mask_offsets;
      st = check_mask(w, &prefill, &a.mask_p, a.mask_p_packed, 0, 0, 0, w->prefill.dense_mask_elems, w->prefill.packed_mask_bytes);
    } else if (st == POD_OK && pod_tensor_present(&a.mask_p)) {
      st = pod_fail(POD_ERR_INVALID_ARGUMENT, "mask_p: given, but the plan has no prefill request");
    }
  }
  if (st != POD_OK) return st;
  st = build_paged_side(w, dtab, &w->decode_options, &a.options_d, &a.q_d, &a.paged_k_d, &a.paged_v_d, &a.o_d, &a.lse_d, 0, &decode);
  if (st != POD_OK) return st;
  if ((st = apply_scales(&prefill, a.q_scale_p, a.k_scale_p, a.v_scale_p, "p")) || (st = apply_scales(&decode, a.q_scale_d, a.k_scale_d, a.v_scale_d, "d")))
    return st;

  if (w->device != POD_DEVICE_CPU && (st = pod_cuda_use(w->device))) return st;
  /* A captured run() reads the plan when the graph replays: only a wrapper in CUDA graph mode keeps
   * that plan where the graph looks for it. */
  if (!w->use_graph && (w->decode.batch > 0 || w->prefill.batch > 0)) {
    int capturing = 0;
    if ((st = pod_stream_capturing(&stream, &capturing))) return st;
    if (capturing)
      return pod_fail(POD_ERR_INVALID_ARGUMENT,
                      "stream: is capturing a graph, but this wrapper was created without use_cuda_graph: its next plan() would move the "
                      "page tables and work lists the graph reads. Create the wrapper with use_cuda_graph to capture run()");
  }

  if (w->device != POD_DEVICE_CPU) {
    if (w->kind == POD_WRAPPER_BATCH_PREFILL) attach_schedule(w, &prefill, &w->prefill_ws, SIDE_PREFILL, a.mask_p_packed);
    attach_schedule(w, &decode, &w->decode_ws, SIDE_DECODE, 0);
    int previous = pod_cuda_set_pdl(pdl);
    w->last_launch = prefill.num_requests > 0 || decode.num_requests > 0 ? POD_LAUNCH_ONE_SIDE : POD_LAUNCH_NONE;
    if (prefill.num_requests > 0 && decode.num_requests > 0)
      st = pod_cuda_pod(w->device, &prefill, &decode, w->workspace.data + (uint64_t)w->off_counters, stream.cu_stream, &w->last_launch);
    else if (prefill.num_requests > 0) st = pod_cuda_attention(w->device, &prefill, "p", stream.cu_stream);
    else if (decode.num_requests > 0) st = pod_cuda_attention(w->device, &decode, "d", stream.cu_stream);
    pod_cuda_set_pdl(previous);
    return st;
  }
  w->last_launch = prefill.num_requests > 0 || decode.num_requests > 0 ? POD_LAUNCH_CPU : POD_LAUNCH_NONE;
  if (stream.recording) return pod_recording_add_run(stream.recording, handle, &a);
  if (prefill.num_requests > 0 && (st = pod_cpu_attention(&prefill))) return st;
  if (decode.num_requests > 0 && (st = pod_cpu_attention(&decode))) return st;
  return POD_OK;
}
