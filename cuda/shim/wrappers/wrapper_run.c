/* run() of both wrapper kinds: validate the tensors against the plan (the prefill side through the
 * kind), then hand both sides to the backend: the CUDA kernels, or the CPU reference (or, on a CPU
 * stream that captures a graph, the recording). */
#include <math.h>
#include <string.h>

#include "cpu/cpu_backend.h"
#include "kernels/workspace_faults.h"
#include "pod.h"
#include "shim/attention_problem.h"
#include "shim/backend/cuda_attention.h"
#include "shim/planner/options.h"
#include "shim/planner/paged_table.h"
#include "shim/planner/plan_state.h"
#include "shim/planner/schedule.h"
#include "shim/planner/workspace_claims.h"
#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/error.h"
#include "shim/runtime/graph.h"
#include "shim/runtime/stream.h"
#include "shim/runtime/tensor_check.h"
#include "shim/wrappers/wrapper.h"
#include "shim/wrappers/wrapper_api.h"

const pod_table* pod_run_table(const pod_wrapper* w, int side) {
  return w->device == POD_DEVICE_CPU ? &w->table_ws[side] : &w->plan.table[side];
}

/* Splits a paged cache (one tensor with a k/v axis, or a pair) into k and v views and checks them. */
static int32_t parse_paged_cache(const pod_wrapper* w, const pod_tensor* k, const pod_tensor* v, const char* kname, const char* vname,
                                 int32_t max_page, pod_tensor* k_out, pod_tensor* v_out) {
  int32_t st;
  const pod_plan_shape* shape = &w->plan.shape;
  int nhd = w->kv_layout == POD_NHD;
  int64_t inner[4] = {-1, nhd ? shape->page_size : shape->num_kv_heads, nhd ? shape->num_kv_heads : shape->page_size, shape->head_dim};
  const char* form4 = nhd ? "[pages, page_size, num_kv_heads, head_dim] (NHD)" : "[pages, num_kv_heads, page_size, head_dim] (HND)";
  if ((st = pod_check_tensor(k, kname, w->device))) return st;
  if (!pod_tensor_present(k)) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: the paged KV cache is missing", kname);
  if (!pod_tensor_present(v)) {
    int64_t shape5[5] = {-1, 2, inner[1], inner[2], inner[3]};
    const char* form5 = nhd ? "[pages, 2, page_size, num_kv_heads, head_dim] (NHD, k/v axis)" : "[pages, 2, num_kv_heads, page_size, head_dim] (HND, k/v axis)";
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
  const int32_t dt[] = {shape->kv_dtype};
  if ((st = pod_check_dtype(k_out, kname, dt, 1)) || (st = pod_check_dtype(v_out, vname, dt, 1)) ||
      (st = pod_check_inner_contiguous(k_out, kname)) || (st = pod_check_inner_contiguous(v_out, vname)))
    return st;
  if (max_page >= k_out->shape[0])
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: the page table uses page %d but the cache holds %lld pages (page index out of range)", kname,
                    max_page, (long long)k_out->shape[0]);
  return POD_OK;
}

int32_t pod_run_check_q_o_lse(const pod_wrapper* w, pod_side* s, const pod_tensor* q, const pod_tensor* o, const pod_tensor* lse, int64_t tokens,
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

int32_t pod_run_check_mask(const pod_wrapper* w, pod_side* s, const pod_tensor* m, int packed, int single, int64_t qo, int64_t kv,
                           int64_t dense_elems, int64_t packed_bytes) {
  int32_t st;
  if (!pod_tensor_present(m)) return POD_OK;
  if (packed != POD_MASK_DENSE && packed != POD_MASK_PACKED)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "mask_p_packed: expected POD_MASK_DENSE (%d) or POD_MASK_PACKED (%d), got %d", POD_MASK_DENSE,
                    POD_MASK_PACKED, packed);
  /* The single wrapper takes causal in run(), the batch wrapper in plan(). */
  if (s->options.causal)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "mask_p: a custom mask replaces causal masking, so %s must be off", single ? "options_p.causal" : "prefill_options.causal");
  if ((st = pod_check_tensor(m, "mask_p", w->device))) return st;
  if (packed) {
    const int32_t u8[] = {POD_UINT8};
    int64_t shape[1] = {packed_bytes};
    /* Bits are read byte by byte from the start: the bytes must be contiguous. */
    if ((st = pod_check_dtype(m, "mask_p", u8, 1)) ||
        (st = pod_check_shape(m, "mask_p", 1, shape, "bit-packed, ceil(qo_len * kv_len / 8) bytes per request")) ||
        (st = pod_check_inner_contiguous(m, "mask_p")))
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
  s->mask_mode = packed == POD_MASK_PACKED ? 2 : 1;
  return POD_OK;
}

int32_t pod_run_paged_side(const pod_wrapper* w, const pod_table* t, const pod_resolved_options* planned, const pod_attention_options* given,
                           const pod_tensor* q, const pod_tensor* k, const pod_tensor* v, const pod_tensor* o, const pod_tensor* lse,
                           int prefill, pod_side* s) {
  int32_t st;
  const pod_plan_shape* shape = &w->plan.shape;
  const char* opt_name = prefill ? "options_p" : "options_d";
  if ((st = pod_check_options_match(given, planned, opt_name, prefill ? "the batch wrapper takes prefill options in plan()" : "decode options are set in plan()")))
    return st;
  s->options = *planned;
  s->num_qo_heads = shape->num_qo_heads;
  s->num_kv_heads = shape->num_kv_heads;
  s->head_dim = shape->head_dim;
  s->paged = 1;
  s->page_size = shape->page_size;
  s->kv_layout = w->kv_layout;
  if (t->batch == 0 && !pod_tensor_present(q)) return POD_OK;
  if ((st = pod_run_check_q_o_lse(w, s, q, o, lse, t->total_q, shape->num_qo_heads, shape->head_dim, shape->q_dtype, prefill ? "q_p" : "q_d",
                                  prefill ? "o_p" : "o_d", prefill ? "lse_p" : "lse_d")))
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
static void attach_schedule(const pod_wrapper* w, pod_side* s, const pod_table* ws, int side, int packed_mask) {
  uint64_t base = w->workspace.data;
  const pod_plan_state* p = &w->plan;
  s->dev.qo_indptr = (uint64_t)(uintptr_t)ws->qo_indptr;
  s->dev.kv_lens = (uint64_t)(uintptr_t)ws->kv_lens;
  s->dev.kv_indptr = (uint64_t)(uintptr_t)ws->kv_indptr;
  s->dev.kv_indices = (uint64_t)(uintptr_t)ws->kv_indices;
  s->dev.mask_offsets = (uint64_t)(uintptr_t)(packed_mask ? ws->packed_mask_offsets : ws->dense_mask_offsets);
  s->dev.work = base + (uint64_t)p->off_sched[2 * side];
  s->dev.merge = base + (uint64_t)p->off_sched[2 * side + 1];
  s->dev.partial_o = base + (uint64_t)p->off_partial[2 * side];
  s->dev.partial_lse = base + (uint64_t)p->off_partial[2 * side + 1];
  s->dev.num_work = p->launch_work[side];
  s->dev.num_merge = p->launch_merge[side];
  s->dev.tile = p->sched[side].tile;
  /* What the kernels bound the plan's values by: graph mode's capacities, so that a captured launch
   * holds them for every later plan. */
  const int64_t indices = w->use_graph && w->fixed_batch[side] > 0 ? w->indices_capacity[side] : w->plan.table[side].num_pages_used;
  s->dev.num_indices = indices > INT32_MAX ? INT32_MAX : (int32_t)indices;
  s->dev.num_partial = p->launch_partial[side];
}

/* The side's tag in the faults its kernels report, and the record they report to. */
static void attach_fault(const pod_wrapper* w, pod_side* s, int side) {
  s->dev.fault_by = side == POD_SIDE_DECODE ? POD_FAULT_BY_DECODE : POD_FAULT_BY_PREFILL;
  s->dev.fault = pod_wrapper_fault_address(w);
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

int32_t pod_wrapper_run_impl(uint64_t handle, const pod_run_args* in) {
  pod_wrapper* w;
  int32_t st = pod_wrapper_get(handle, &w);
  if (st != POD_OK) return st;
  /* A fault the kernels of an earlier run() recorded is this call's error (once). */
  if ((st = pod_wrapper_take_fault(w))) return st;
  if (!w->planned) return pod_fail(POD_ERR_NOT_PLANNED, "wrapper: run() called before a successful plan()");
  if (!pod_workspace_holds(w->device, w->workspace.data, (uint64_t)w->plan.workspace_needed, w->handle))
    return pod_fail(POD_ERR_NOT_PLANNED,
                    "workspace: another wrapper planned into this workspace after this wrapper's plan(); give each wrapper its own "
                    "workspace, or plan again");
  pod_run_args a;
  memset(&a, 0, sizeof a);
  a.kv_layout_p = POD_UNSET;
  a.enable_pdl = POD_UNSET;
  a.q_scale_p = a.k_scale_p = a.v_scale_p = a.q_scale_d = a.k_scale_d = a.v_scale_d = NAN;
  if ((st = pod_copy_versioned(&a, sizeof a, in, offsetof(pod_run_args, enable_pdl), "args"))) return st;
  pod_attention_options options_p, options_d; /* copies of the caller's, which the rest of run() reads */
  if ((st = pod_options_copy(&options_p, a.options_p, "options_p")) || (st = pod_options_copy(&options_d, a.options_d, "options_d"))) return st;
  a.options_p = &options_p, a.options_d = &options_d;
  pod_stream_obj stream;
  if ((st = pod_stream_resolve(w->device, a.stream, &stream))) return st;
  int pdl;
  if ((st = pod_wrapper_resolve_pdl(w->device, a.enable_pdl, w->pdl, "enable_pdl", &pdl))) return st;

  pod_side prefill, decode;
  memset(&prefill, 0, sizeof prefill);
  memset(&decode, 0, sizeof decode);
  pod_run_request request;
  if ((st = w->kind->run_prefill(w, &a, &prefill, &request))) return st;
  st = pod_run_paged_side(w, pod_run_table(w, POD_SIDE_DECODE), &w->plan.shape.options[POD_SIDE_DECODE], a.options_d, &a.q_d, &a.paged_k_d,
                          &a.paged_v_d, &a.o_d, &a.lse_d, 0, &decode);
  if (st != POD_OK) return st;
  if ((st = apply_scales(&prefill, a.q_scale_p, a.k_scale_p, a.v_scale_p, "p")) || (st = apply_scales(&decode, a.q_scale_d, a.k_scale_d, a.v_scale_d, "d")))
    return st;

  if (w->device != POD_DEVICE_CPU && (st = pod_cuda_use(w->device))) return st;
  /* A captured run() reads the plan when the graph replays: only a wrapper in CUDA graph mode keeps
   * that plan where the graph looks for it. */
  if (!w->use_graph && (w->plan.table[POD_SIDE_DECODE].batch > 0 || w->plan.table[POD_SIDE_PREFILL].batch > 0)) {
    int capturing = 0;
    if ((st = pod_stream_capturing(&stream, &capturing))) return st;
    if (capturing)
      return pod_fail(POD_ERR_INVALID_ARGUMENT,
                      "stream: is capturing a graph, but this wrapper was created without use_cuda_graph: its next plan() would move the "
                      "page tables and work lists the graph reads. Create the wrapper with use_cuda_graph to capture run()");
  }

  if (w->device != POD_DEVICE_CPU) {
    if (w->kind->plans_prefill) attach_schedule(w, &prefill, &w->table_ws[POD_SIDE_PREFILL], POD_SIDE_PREFILL, a.mask_p_packed == POD_MASK_PACKED);
    attach_schedule(w, &decode, &w->table_ws[POD_SIDE_DECODE], POD_SIDE_DECODE, 0);
    attach_fault(w, &prefill, POD_SIDE_PREFILL);
    attach_fault(w, &decode, POD_SIDE_DECODE);
    int previous = pod_cuda_set_pdl(pdl);
    w->last_launch = prefill.num_requests > 0 || decode.num_requests > 0 ? POD_LAUNCH_ONE_SIDE : POD_LAUNCH_NONE;
    if (prefill.num_requests > 0 && decode.num_requests > 0)
      st = pod_cuda_pod(w->device, &prefill, &decode, w->plan.shape.launch, w->workspace.data + (uint64_t)w->plan.off_counters, stream.cu_stream,
                       &w->last_launch);
    else if (prefill.num_requests > 0) st = pod_cuda_attention(w->device, &prefill, "p", stream.cu_stream);
    else if (decode.num_requests > 0) st = pod_cuda_attention(w->device, &decode, "d", stream.cu_stream);
    pod_cuda_set_pdl(previous);
    return st;
  }
  /* The CPU backend reads the plan's tables from the workspace, host memory: before it does, the plan
   * there must still be the one plan() wrote (a replayed recording checks again). */
  if ((st = pod_wrapper_verify_host_plan(w))) return st;
  w->last_launch = prefill.num_requests > 0 || decode.num_requests > 0 ? POD_LAUNCH_CPU : POD_LAUNCH_NONE;
  if (stream.recording) return pod_recording_add_run(stream.recording, handle, &a);
  if (prefill.num_requests > 0 && (st = pod_cpu_attention(&prefill))) return st;
  if (decode.num_requests > 0 && (st = pod_cpu_attention(&decode))) return st;
  return POD_OK;
}
