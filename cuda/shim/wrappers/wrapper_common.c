/* What both wrapper kinds share outside plan() and run(): create, destroy, workspace reset, the
 * launch report. */
#include <stdlib.h>
#include <string.h>

#include "pod.h"
#include "shim/planner/plan_state.h"
#include "shim/planner/workspace_claims.h"
#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/device.h"
#include "shim/runtime/error.h"
#include "shim/runtime/fault_record.h"
#include "shim/runtime/handles.h"
#include "shim/runtime/staging.h"
#include "shim/runtime/tensor_check.h"
#include "shim/wrappers/wrapper.h"
#include "shim/wrappers/wrapper_api.h"

int32_t pod_wrapper_get(uint64_t handle, pod_wrapper** w) {
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

int32_t pod_wrapper_resolve_pdl(int32_t device, int32_t given, int dflt, const char* name, int* out) {
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
static int32_t take_buffers(pod_wrapper* w, int side, const pod_graph_buffers* b) {
  const pod_tensor* t[4] = {&b->qo_indptr, &b->kv_indptr, &b->kv_indices, &b->kv_last_page_len};
  static const char* names[2][4] = {
      {"decode_buffers.qo_indptr", "decode_buffers.kv_indptr", "decode_buffers.kv_indices", "decode_buffers.kv_last_page_len"},
      {"prefill_buffers.qo_indptr", "prefill_buffers.kv_indptr", "prefill_buffers.kv_indices", "prefill_buffers.kv_last_page_len"}};
  int any = 0;
  for (int i = 0; i < 4; i++) any = any || pod_tensor_present(t[i]);
  if (!w->use_graph) {
    if (any)
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: fixed page-table buffers belong to CUDA graph mode; set use_cuda_graph", names[side][POD_BUF_KV_INDPTR]);
    return POD_OK;
  }
  if (!any) return POD_OK; /* the side stays empty */
  if (side == POD_SIDE_PREFILL && !w->kind->plans_prefill)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "prefill_buffers: the single-prefill wrapper takes its prefill request in run(); pass no prefill buffers");
  int32_t st;
  const int32_t i32[] = {POD_INT32};
  for (int i = 0; i < 4; i++) {
    int wanted = i != POD_BUF_QO || side == POD_SIDE_PREFILL;
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
  int64_t batch = t[POD_BUF_LAST]->shape[0];
  if (batch > INT32_MAX / 2) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: %lld requests are too many", names[side][POD_BUF_LAST], (long long)batch);
  if (t[POD_BUF_KV_INDPTR]->shape[0] != batch + 1)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: expected %lld entries (kv_last_page_len's %lld requests + 1), got %lld", names[side][POD_BUF_KV_INDPTR],
                    (long long)(batch + 1), (long long)batch, (long long)t[POD_BUF_KV_INDPTR]->shape[0]);
  if (side == POD_SIDE_PREFILL && t[POD_BUF_QO]->shape[0] != batch + 1)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: expected %lld entries (kv_last_page_len's %lld requests + 1), got %lld", names[side][POD_BUF_QO],
                    (long long)(batch + 1), (long long)batch, (long long)t[POD_BUF_QO]->shape[0]);
  w->fixed_batch[side] = (int32_t)batch;
  w->indices_capacity[side] = t[POD_BUF_KV_INDICES]->shape[0];
  return POD_OK;
}

int32_t pod_wrapper_create_impl(const pod_wrapper_create_args* in, uint64_t* handle) {
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
  pod_wrapper* w = calloc(1, sizeof *w);
  if (w == NULL) return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory");
  w->kind = a.kind == POD_WRAPPER_SINGLE_PREFILL ? &pod_single_prefill_kind : &pod_batch_prefill_kind;
  w->kv_layout = a.kv_layout;
  w->device = device;
  w->workspace = a.workspace;
  w->workspace_bytes = a.workspace.shape[0];
  w->use_graph = a.use_cuda_graph;
  st = pod_wrapper_resolve_pdl(device, a.enable_pdl, device != POD_DEVICE_CPU && pod_cuda_device_has_pdl(device), "enable_pdl", &w->pdl);
  if (st == POD_OK) st = take_buffers(w, POD_SIDE_DECODE, &a.decode_buffers);
  if (st == POD_OK) st = take_buffers(w, POD_SIDE_PREFILL, &a.prefill_buffers);
  if (st == POD_OK && device != POD_DEVICE_CPU) {
    pod_device_props props;
    props.struct_size = sizeof props;
    st = pod_device_props_get_impl(device, &props);
    w->sm_count = props.sm_count;
    /* The record its kernels report faults into (none without page-locked memory: the header's serves). */
    if (st == POD_OK && (st = pod_cuda_use(device)) == POD_OK) st = pod_fault_slot_acquire(device, &w->fault);
  }
  if (st == POD_OK) st = pod_handle_new(POD_HANDLE_WRAPPER, w, handle);
  if (st != POD_OK) {
    pod_fault_slot_release(&w->fault);
    free(w);
  } else {
    w->handle = *handle;
  }
  return st;
}

static void drop_plan(pod_wrapper* w) {
  pod_workspace_release(w->handle);
  pod_plan_state_free(&w->plan);
  w->planned = 0;
}

int32_t pod_wrapper_destroy_impl(uint64_t handle) {
  void* obj;
  int32_t st = pod_handle_release(POD_HANDLE_WRAPPER, handle, "wrapper", &obj);
  if (st != POD_OK) return st;
  pod_wrapper* w = obj;
  drop_plan(w);
  pod_staging_destroy(&w->staging, w->device);
  pod_fault_slot_release(&w->fault);
  free(w);
  return POD_OK;
}

int32_t pod_wrapper_reset_workspace_impl(uint64_t handle, const pod_tensor* workspace) {
  if (workspace == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "workspace: null pointer");
  pod_wrapper* w;
  int32_t st = pod_wrapper_get(handle, &w);
  if (st != POD_OK) return st;
  if ((st = check_workspace(workspace, w->device, "workspace"))) return st;
  drop_plan(w);
  w->workspace = *workspace;
  w->workspace_bytes = workspace->shape[0];
  w->shaped = 0;
  return POD_OK;
}

int32_t pod_wrapper_last_launch_impl(uint64_t handle, int32_t* launch) {
  if (launch == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "launch: null pointer");
  pod_wrapper* w;
  int32_t st = pod_wrapper_get(handle, &w);
  if (st != POD_OK) return st;
  *launch = w->last_launch;
  return POD_OK;
}
