/* plan() of both wrapper kinds: validate the arguments and page tables, schedule and lay the plan out
 * in the workspace (planner/), copy it there with one copy and, in CUDA graph mode, the page tables
 * into the fixed buffers; then commit it to the wrapper. */
#include <stdlib.h>
#include <string.h>

#include "kernels/attention_params.h"
#include "pod.h"
#include "shim/backend/cuda_attention.h"
#include "shim/planner/options.h"
#include "shim/planner/paged_table.h"
#include "shim/planner/plan_state.h"
#include "shim/planner/schedule.h"
#include "shim/planner/workspace_claims.h"
#include "shim/planner/workspace_header.h"
#include "shim/planner/workspace_layout.h"
#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/dtype.h"
#include "shim/runtime/error.h"
#include "shim/runtime/staging.h"
#include "shim/runtime/stream.h"
#include "shim/runtime/tensor_check.h"
#include "shim/wrappers/wrapper.h"
#include "shim/wrappers/wrapper_api.h"

/* A plan under construction: validated but not yet committed to the wrapper. */
typedef struct draft {
  pod_plan_args a;                   /* its options point at `options` */
  pod_attention_options options[2];  /* [side]: copies of the caller's */
  pod_plan_state plan;
  pod_workspace_header header; /* the image's first bytes, sealed once the image is staged */
} draft;

/* Schedules both sides and lays out the workspace, with the kernels' occupancy on CUDA. */
static int32_t layout_draft(pod_wrapper* w, draft* d) {
  pod_layout_input in;
  memset(&in, 0, sizeof in);
  in.device = w->device;
  in.sm_count = w->sm_count;
  in.workspace_bytes = w->workspace_bytes;
  in.schedules_prefill = w->kind->plans_prefill;
  in.use_graph = w->use_graph;
  in.fixed_tile = w->use_graph && w->shaped ? w->fixed_tile : NULL;
  if (w->device != POD_DEVICE_CPU) {
    const int32_t key[3] = {d->a.q_dtype, d->a.kv_dtype, d->a.head_dim};
    if (memcmp(key, w->occupancy_key, sizeof key) != 0) {
      int32_t st = pod_attention_ctas_per_sm(w->device, key[0], key[1], key[2], POD_TILE_PREFILL, &w->occupancy[0]);
      if (st == POD_OK) st = pod_attention_ctas_per_sm(w->device, key[0], key[1], key[2], POD_TILE_DECODE, &w->occupancy[1]);
      if (st != POD_OK) return st;
      memcpy(w->occupancy_key, key, sizeof key);
    }
    in.ctas_per_sm[0] = w->occupancy[0], in.ctas_per_sm[1] = w->occupancy[1];
  }
  for (int tile = 0; tile < 2; tile++)
    in.tile_rows[tile] = w->device != POD_DEVICE_CPU ? pod_attention_tile_rows(w->device, d->a.q_dtype, d->a.kv_dtype, d->a.head_dim, tile)
                                                     : pod_tile_rows(tile, d->a.head_dim);
  return pod_plan_layout(&in, &d->plan);
}

/* CUDA graph mode: the plan against the fixed buffers and the shape of the first plan. */
static int32_t check_graph_plan(const pod_wrapper* w, const draft* d) {
  const pod_table* tables = d->plan.table;
  for (int side = 0; side < 2; side++) {
    const pod_table* t = &tables[side];
    if (side == POD_SIDE_PREFILL && !w->kind->plans_prefill) continue;
    if (t->batch != w->fixed_batch[side]) {
      const char* side_name = pod_side_name(side);
      if (w->fixed_batch[side] == 0 && !pod_tensor_present(&w->buffers[side][POD_BUF_LAST]))
        return pod_fail(POD_ERR_INVALID_ARGUMENT,
                        "%s.kv_indptr: the plan has %d request%s, but in CUDA graph mode a side without fixed buffers (%s_buffers.kv_indptr, ...) "
                        "stays empty; give the wrapper the side's buffers to plan requests on it",
                        side_name, t->batch, t->batch == 1 ? "" : "s", side_name);
      return pod_fail(POD_ERR_INVALID_ARGUMENT,
                      "%s.kv_indptr: the plan has %d request%s, but in CUDA graph mode the batch is fixed at %d by the length of "
                      "%s_buffers.kv_last_page_len",
                      side_name, t->batch, t->batch == 1 ? "" : "s", w->fixed_batch[side], side_name);
    }
    if (t->num_pages_used > w->indices_capacity[side])
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.kv_indices: the plan uses %lld pages, but %s_buffers.kv_indices holds %lld", pod_side_name(side),
                      (long long)t->num_pages_used, pod_side_name(side), (long long)w->indices_capacity[side]);
  }
  if (!w->shaped) return POD_OK;
  const pod_plan_shape *s = &d->plan.shape, *f = &w->fixed_shape;
  const char* what = NULL;
  if (s->num_qo_heads != f->num_qo_heads) what = "num_qo_heads";
  else if (s->num_kv_heads != f->num_kv_heads) what = "num_kv_heads";
  else if (s->head_dim != f->head_dim) what = "head_dim";
  else if (s->page_size != f->page_size) what = "page_size";
  else if (s->q_dtype != f->q_dtype) what = "q_dtype";
  else if (s->kv_dtype != f->kv_dtype) what = "kv_dtype";
  else if (memcmp(&s->options[POD_SIDE_DECODE], &f->options[POD_SIDE_DECODE], sizeof f->options[0]) != 0) what = "decode_options";
  else if (memcmp(&s->options[POD_SIDE_PREFILL], &f->options[POD_SIDE_PREFILL], sizeof f->options[0]) != 0) what = "prefill_options";
  else if (tables[POD_SIDE_PREFILL].total_q != w->fixed_prefill_queries) what = "prefill.qo_indptr (the total number of queries)";
  else if (s->launch != f->launch) what = "launch";
  if (what)
    return pod_fail(POD_ERR_INVALID_ARGUMENT,
                    "%s: differs from the first plan; in CUDA graph mode heads, head_dim, page size, dtypes, options, query counts and the launch stay "
                    "those of the first plan, which captured run() calls hold (reset the workspace or use another wrapper to change them)",
                    what);
  return POD_OK;
}

static int32_t build_draft(pod_wrapper* w, const pod_plan_args* in, draft* d) {
  memset(d, 0, sizeof *d);
  d->a.kv_dtype = POD_UNSET;
  int32_t st = pod_copy_versioned(&d->a, sizeof d->a, in, sizeof d->a, "args");
  if (st != POD_OK) return st;
  if ((st = pod_options_copy(&d->options[POD_SIDE_DECODE], d->a.decode_options, "decode_options")) ||
      (st = pod_options_copy(&d->options[POD_SIDE_PREFILL], d->a.prefill_options, "prefill_options")))
    return st;
  d->a.decode_options = &d->options[POD_SIDE_DECODE];
  d->a.prefill_options = &d->options[POD_SIDE_PREFILL];
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
  if (a->launch != POD_CHOOSE_AUTO && a->launch != POD_CHOOSE_FUSED && a->launch != POD_CHOOSE_SERIAL)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "launch: expected auto (%d), fused (%d) or serial (%d), got %d", POD_CHOOSE_AUTO, POD_CHOOSE_FUSED,
                    POD_CHOOSE_SERIAL, a->launch);
  pod_plan_shape* shape = &d->plan.shape;
  shape->launch = a->launch;
  shape->num_qo_heads = a->num_qo_heads, shape->num_kv_heads = a->num_kv_heads, shape->head_dim = a->head_dim;
  shape->page_size = a->page_size, shape->q_dtype = a->q_dtype, shape->kv_dtype = a->kv_dtype;
  if ((st = pod_resolve_options(a->decode_options, a->head_dim, "decode_options", &shape->options[POD_SIDE_DECODE]))) return st;
  if ((st = w->kind->plan_prefill_options(a, &d->plan))) return st;
  if ((st = pod_table_build(&a->decode, a->page_size, 1, 0, "decode", &d->plan.table[POD_SIDE_DECODE]))) return st;
  if ((st = w->kind->plan_prefill_table(a, &d->plan))) return st;
  if (w->use_graph && (st = check_graph_plan(w, d))) return st;
  return layout_draft(w, d);
}

int32_t pod_wrapper_workspace_size_impl(uint64_t handle, const pod_plan_args* args, uint64_t* bytes) {
  if (bytes == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "bytes: null pointer");
  pod_wrapper* w = NULL;
  draft d;
  memset(&d, 0, sizeof d);
  int32_t st = pod_wrapper_get(handle, &w);
  if (st == POD_OK) st = build_draft(w, args, &d);
  if (st == POD_OK) *bytes = (uint64_t)d.plan.workspace_needed;
  pod_plan_state_free(&d.plan);
  return st;
}

/* Stages `count` int32 at *at in the staging buffer and copies them into a fixed buffer (CUDA graph mode). */
static int32_t fill_buffer(pod_wrapper* w, unsigned char* staging, size_t* at, const pod_tensor* buf, const int32_t* data, int64_t count,
                           const pod_stream_obj* stream) {
  size_t bytes = (size_t)count * 4;
  if (bytes == 0) return POD_OK;
  memcpy(staging + *at, data, bytes);
  int32_t st = pod_staging_copy(&w->staging, w->device, buf->data, *at, bytes, stream);
  *at += (bytes + 15) / 16 * 16;
  return st;
}

/* Writes the plan's image into the staging memory: the tables with their page indices (checked as
 * they are staged, before anything is copied to the device; in graph mode they go after the image,
 * for the fixed buffers, indices_at[side] and *at tell where), the zeroed counters, and the schedules
 * padded with graph mode's skip items. */
static int32_t stage_image(const pod_wrapper* w, draft* d, unsigned char* image, size_t indices_at[2], size_t* at) {
  pod_plan_state* p = &d->plan;
  pod_table* tables = p->table;
  *at = ((size_t)p->image_bytes + 15) / 16 * 16;
  for (int side = 0; side < 2; side++) {
    pod_table* t = &tables[side];
    if (t->storage == NULL) continue; /* the single wrapper's prefill side has no table */
    const size_t fixed = pod_table_fixed_bytes(t->batch);
    memcpy(image + p->off_table[side], t->storage, fixed);
    /* Graph mode: the page indices go to the fixed buffer instead. */
    if (w->use_graph && w->fixed_batch[side] == 0) continue;
    if (w->use_graph) indices_at[side] = *at, *at += ((size_t)t->num_pages_used * 4 + 15) / 16 * 16;
    int32_t* dst = (int32_t*)(image + (w->use_graph ? indices_at[side] : p->off_table[side] + fixed));
    int32_t st = pod_table_stage_indices(t, dst, pod_side_name(side));
    if (st != POD_OK) return st;
  }
  memset(image + p->off_counters, 0, sizeof(pod_fused_counters)); /* the staging memory is reused */
  const pod_schedule* sched = p->sched;
  for (int side = 0; side < 2; side++) {
    pod_work_item* work = (pod_work_item*)(image + p->off_sched[2 * side]);
    pod_merge_item* merge = (pod_merge_item*)(image + p->off_sched[2 * side + 1]);
    if (sched[side].num_work) memcpy(work, sched[side].work, (size_t)sched[side].num_work * sizeof *work);
    if (sched[side].num_merge) memcpy(merge, sched[side].merge, (size_t)sched[side].num_merge * sizeof *merge);
    /* Graph mode: skip items up to the launch's capacity, on rows past the end of request 0. */
    const pod_table* t = &tables[side];
    int32_t past_end = t->batch > 0 ? (t->qo_indptr[1] - t->qo_indptr[0]) * (d->a.num_qo_heads / d->a.num_kv_heads) : 0;
    for (int32_t i = sched[side].num_work; i < p->launch_work[side]; i++) work[i] = (pod_work_item){0, 0, past_end, 0, 0, -1, 1, 0};
    for (int32_t i = sched[side].num_merge; i < p->launch_merge[side]; i++) merge[i] = (pod_merge_item){0, 0, past_end, 0, 0, 1, 0, 1};
  }
  /* The header: whose plan this is and checksums of the staged image and of graph mode's buffers. */
  pod_workspace_header* h = &d->header;
  memset(h, 0, sizeof *h);
  h->magic = POD_WORKSPACE_MAGIC;
  h->version = POD_WORKSPACE_VERSION;
  h->owner = w->handle;
  h->serial = w->plan_serial + 1;
  h->image_bytes = (uint64_t)p->image_bytes;
  h->workspace_bytes = (uint64_t)p->workspace_needed;
  for (int side = 0; side < 2 && w->use_graph; side++) {
    const pod_table* t = &tables[side];
    if (w->fixed_batch[side] == 0) continue;
    h->buffers_checksum = pod_buffers_checksum_add(h->buffers_checksum, t->kv_indptr, (const int32_t*)(image + indices_at[side]),
                                                   side == POD_SIDE_PREFILL ? t->qo_indptr : NULL, t->batch, t->num_pages_used);
  }
  pod_workspace_header_seal(h, image);
  memset(image, 0, POD_WORKSPACE_HEADER_BYTES);
  memcpy(image, h, sizeof *h);
  return POD_OK;
}

/* CUDA graph mode: copies each side's page tables into its fixed buffers, the page indices from where
 * stage_image put them, the rest staged after them from `at` on. */
static int32_t copy_fixed_buffers(pod_wrapper* w, const draft* d, unsigned char* image, const size_t indices_at[2], size_t at,
                                  const pod_stream_obj* stream) {
  const pod_paged_table* in[2] = {&d->a.decode, &d->a.prefill};
  int32_t st = POD_OK;
  for (int side = 0; side < 2 && st == POD_OK; side++) {
    if (w->fixed_batch[side] == 0) continue;
    const pod_tensor* b = w->buffers[side];
    const pod_table* t = &d->plan.table[side];
    st = pod_staging_copy(&w->staging, w->device, b[POD_BUF_KV_INDICES].data, indices_at[side], (size_t)t->num_pages_used * 4, stream);
    if (st == POD_OK) st = fill_buffer(w, image, &at, &b[POD_BUF_KV_INDPTR], t->kv_indptr, t->batch + 1, stream);
    if (st == POD_OK) st = fill_buffer(w, image, &at, &b[POD_BUF_LAST], in[side]->kv_last_page_len.data, t->batch, stream);
    if (st == POD_OK && side == POD_SIDE_PREFILL) st = fill_buffer(w, image, &at, &b[POD_BUF_QO], t->qo_indptr, t->batch + 1, stream);
  }
  return st;
}

/* Makes the draft the wrapper's plan (after its copies succeeded). */
static void commit(pod_wrapper* w, draft* d) {
  pod_plan_state_free(&w->plan);
  w->plan = d->plan;
  memset(&d->plan, 0, sizeof d->plan);
  for (int side = 0; side < 2; side++) {
    /* the lists were the planner's scratch, copied into the workspace by plan() */
    w->plan.sched[side].work = NULL;
    w->plan.sched[side].merge = NULL;
    w->plan.table[side].kv_indices_in = NULL; /* the caller's array, read during plan() only */
  }
  unsigned char* ws = (unsigned char*)(uintptr_t)w->workspace.data;
  for (int side = 0; side < 2; side++) w->table_ws[side] = pod_table_rebase(&w->plan.table[side], ws + w->plan.off_table[side]);
  if (w->use_graph) {
    /* The page tables live in the fixed buffers. */
    for (int side = 0; side < 2; side++) {
      if (w->fixed_batch[side] == 0) continue;
      pod_table* on_device = &w->table_ws[side];
      on_device->kv_indptr = (int32_t*)(uintptr_t)w->buffers[side][POD_BUF_KV_INDPTR].data;
      on_device->kv_indices = (int32_t*)(uintptr_t)w->buffers[side][POD_BUF_KV_INDICES].data;
      if (side == POD_SIDE_PREFILL) on_device->qo_indptr = (int32_t*)(uintptr_t)w->buffers[side][POD_BUF_QO].data;
    }
    if (!w->shaped) {
      w->fixed_shape = w->plan.shape;
      w->fixed_prefill_queries = w->plan.table[POD_SIDE_PREFILL].total_q;
      for (int side = 0; side < 2; side++) w->fixed_tile[side] = w->plan.sched[side].tile;
      w->shaped = 1;
    }
  }
  w->header = d->header;
  w->plan_serial = d->header.serial;
  w->planned = 1;
}

int32_t pod_wrapper_plan_impl(uint64_t handle, const pod_plan_args* args) {
  pod_wrapper* w = NULL;
  draft d;
  memset(&d, 0, sizeof d);
  int32_t st = pod_wrapper_get(handle, &w);
  /* A fault the kernels of an earlier run() recorded is this call's error (once). */
  if (st == POD_OK) st = pod_wrapper_take_fault(w);
  if (st == POD_OK) st = build_draft(w, args, &d);
  if (st != POD_OK) {
    pod_plan_state_free(&d.plan);
    return st;
  }
  pod_plan_state* p = &d.plan;
  if (p->workspace_needed > w->workspace_bytes) {
    const long long needed = (long long)p->workspace_needed; /* before the state is freed (and zeroed) */
    pod_plan_state_free(p);
    return pod_fail(POD_ERR_WORKSPACE_TOO_SMALL, "workspace: holds %lld bytes, this plan needs %lld", (long long)w->workspace_bytes, needed);
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
    pod_plan_state_free(p);
    return st;
  }
  /* One image of the tables and schedules, one copy into the workspace; in graph mode the page tables
   * for the fixed buffers follow it in the staging memory. */
  const pod_table* tables = p->table;
  size_t total = (size_t)p->image_bytes, staged = total;
  for (int side = 0; side < 2 && w->use_graph; side++)
    if (w->fixed_batch[side] > 0) staged += 4 * (3 * (size_t)tables[side].batch + (size_t)tables[side].num_pages_used + 2) + 64;
  unsigned char* image;
  if ((st = pod_staging_acquire(&w->staging, w->device, staged, &image))) {
    pod_plan_state_free(p);
    return st;
  }
  size_t indices_at[2] = {0, 0}, at = 0;
  st = stage_image(w, &d, image, indices_at, &at);
  if (st == POD_OK) st = pod_staging_copy(&w->staging, w->device, w->workspace.data, 0, total, &stream);
  if (st == POD_OK && w->use_graph) st = copy_fixed_buffers(w, &d, image, indices_at, at, &stream);
  if (st == POD_OK) st = pod_staging_release(&w->staging, w->device, &stream);
  if (st == POD_OK) st = pod_workspace_claim(w->device, w->workspace.data, (uint64_t)p->workspace_needed, w->handle);
  if (st != POD_OK) {
    pod_plan_state_free(p);
    return st;
  }
  commit(w, &d);
  return POD_OK;
}
