/* The integrity of a wrapper's plan: the faults its kernels recorded, the plan's header and checksums
 * in the workspace (and graph mode's fixed buffers), and check(), which waits for the device and
 * looks at all of them. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/workspace_faults.h"
#include "pod.h"
#include "shim/planner/plan_state.h"
#include "shim/planner/workspace_claims.h"
#include "shim/planner/workspace_header.h"
#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/device.h"
#include "shim/runtime/error.h"
#include "shim/runtime/memory.h"
#include "shim/wrappers/wrapper.h"
#include "shim/wrappers/wrapper_api.h"

static const char* fault_found(uint32_t code) {
  switch (code) {
    case POD_FAULT_REQUEST: return "a request index past the batch";
    case POD_FAULT_QUERIES: return "a request's queries outside the query tensor";
    case POD_FAULT_KEYS: return "a key range past its request's keys, or keys past the request's pages";
    case POD_FAULT_PAGES: return "a request's page range outside the page indices";
    case POD_FAULT_PAGE_ID: return "a page index past the pages of the cache";
    case POD_FAULT_ROWS: return "rows or a KV head out of range";
    case POD_FAULT_SLOT: return "a partial-result slot or merge item past its list";
    case POD_FAULT_MERGE: return "a merge item whose parts or arrival count are out of range";
    case POD_FAULT_COUNTER: return "its claim counters out of range";
    case POD_FAULT_MASK: return "a custom-mask offset outside the mask";
    default: return "a value out of range";
  }
}

static const char* fault_by(uint32_t by) {
  switch (by) {
    case POD_FAULT_BY_DECODE: return "the decode kernel";
    case POD_FAULT_BY_PREFILL: return "the prefill kernel";
    case POD_FAULT_BY_LAUNCH: return "the POD launch";
    default: return "a kernel";
  }
}

static int32_t report(uint32_t fault, uint32_t item) {
  return pod_fail(POD_ERR_WORKSPACE_CORRUPT,
                  "workspace: %s of an earlier run() found %s in the plan (item %u) and skipped that work, so the outputs of that run() are "
                  "incomplete: the plan in the workspace was overwritten after plan(); plan again, and give each wrapper its own workspace",
                  fault_by(fault >> 8), fault_found(fault & 0xff), item);
}

int32_t pod_wrapper_take_fault(pod_wrapper* w) {
  volatile pod_fault_record* r = w->fault.host;
  if (r == NULL) return POD_OK;
  const uint32_t fault = r->fault;
  if (fault == 0) return POD_OK;
  const uint32_t item = r->item;
  r->fault = 0;
  r->item = 0;
  return report(fault, item);
}

uint64_t pod_wrapper_fault_address(const pod_wrapper* w) {
  if (w->fault.host) return w->fault.device;
  return w->workspace.data + offsetof(pod_workspace_header, fault);
}

/* The fixed buffers' checksum from their memory on the host (CPU device, or copies of device buffers). */
static uint64_t buffers_checksum(const pod_wrapper* w, const int32_t* const arrays[2][3]) {
  uint64_t h = 0;
  for (int side = 0; side < 2; side++) {
    if (w->fixed_batch[side] == 0) continue;
    const pod_table* t = &w->plan.table[side];
    h = pod_buffers_checksum_add(h, arrays[side][0], arrays[side][1], arrays[side][2], t->batch, t->num_pages_used);
  }
  return h;
}

static int32_t buffers_overwritten(const pod_wrapper* w) {
  const char* side = pod_side_name(w->fixed_batch[POD_SIDE_DECODE] > 0 ? POD_SIDE_DECODE : POD_SIDE_PREFILL);
  return pod_fail(POD_ERR_WORKSPACE_CORRUPT,
                  "%s_buffers.kv_indptr: the fixed page-table buffers were written after plan() (their checksum differs); in CUDA graph mode "
                  "they belong to the wrapper, which writes them in each plan(): plan again",
                  side);
}

int32_t pod_wrapper_verify_host_plan(const pod_wrapper* w) {
  int32_t st = pod_workspace_header_verify(&w->header, (const unsigned char*)(uintptr_t)w->workspace.data);
  if (st != POD_OK || !w->use_graph) return st;
  const int32_t* arrays[2][3];
  for (int side = 0; side < 2; side++) {
    const pod_tensor* b = w->buffers[side];
    arrays[side][0] = (const int32_t*)(uintptr_t)b[POD_BUF_KV_INDPTR].data;
    arrays[side][1] = (const int32_t*)(uintptr_t)b[POD_BUF_KV_INDICES].data;
    arrays[side][2] = side == POD_SIDE_PREFILL ? (const int32_t*)(uintptr_t)b[POD_BUF_QO].data : NULL;
  }
  return buffers_checksum(w, arrays) == w->header.buffers_checksum ? POD_OK : buffers_overwritten(w);
}

/* CUDA: reads the plan's image (and the fixed buffers' entries) back and verifies them. */
static int32_t verify_device_plan(const pod_wrapper* w) {
  const size_t image_bytes = (size_t)w->header.image_bytes;
  size_t buffer_ints[2][3] = {{0, 0, 0}, {0, 0, 0}};
  size_t total = image_bytes;
  for (int side = 0; side < 2 && w->use_graph; side++) {
    if (w->fixed_batch[side] == 0) continue;
    const pod_table* t = &w->plan.table[side];
    buffer_ints[side][0] = (size_t)t->batch + 1;
    buffer_ints[side][1] = (size_t)t->num_pages_used;
    buffer_ints[side][2] = side == POD_SIDE_PREFILL ? (size_t)t->batch + 1 : 0;
    total += 4 * (buffer_ints[side][0] + buffer_ints[side][1] + buffer_ints[side][2]);
  }
  unsigned char* host = malloc(total ? total : 1);
  if (host == NULL) return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory to read the plan back (%zu bytes)", total);
  int32_t st = pod_memcpy_impl(w->device, (uint64_t)(uintptr_t)host, w->workspace.data, image_bytes, POD_DEVICE_TO_HOST, 0);
  const int32_t* arrays[2][3] = {{NULL, NULL, NULL}, {NULL, NULL, NULL}};
  size_t at = image_bytes;
  static const int which[3] = {POD_BUF_KV_INDPTR, POD_BUF_KV_INDICES, POD_BUF_QO};
  for (int side = 0; side < 2 && st == POD_OK; side++)
    for (int i = 0; i < 3 && st == POD_OK; i++) {
      if (buffer_ints[side][i] == 0) continue;
      arrays[side][i] = (const int32_t*)(host + at);
      st = pod_memcpy_impl(w->device, (uint64_t)(uintptr_t)(host + at), w->buffers[side][which[i]].data, 4 * buffer_ints[side][i], POD_DEVICE_TO_HOST, 0);
      at += 4 * buffer_ints[side][i];
    }
  if (st == POD_OK && !w->fault.host) {
    /* Without a page-locked record the kernels reported into the header. */
    pod_workspace_header h;
    memcpy(&h, host, sizeof h);
    if (h.fault.fault != 0) st = report(h.fault.fault, h.fault.item);
  }
  if (st == POD_OK) st = pod_workspace_header_verify(&w->header, host);
  if (st == POD_OK && w->use_graph && buffers_checksum(w, arrays) != w->header.buffers_checksum) st = buffers_overwritten(w);
  free(host);
  return st;
}

int32_t pod_wrapper_check_impl(uint64_t handle) {
  pod_wrapper* w;
  int32_t st = pod_wrapper_get(handle, &w);
  if (st != POD_OK) return st;
  if (w->device != POD_DEVICE_CPU && (st = pod_device_synchronize_impl(w->device))) return st;
  if ((st = pod_wrapper_take_fault(w))) return st;
  if (!w->planned) return POD_OK;
  if (!pod_workspace_holds(w->device, w->workspace.data, (uint64_t)w->plan.workspace_needed, w->handle))
    return pod_fail(POD_ERR_NOT_PLANNED,
                    "workspace: another wrapper planned into this workspace after this wrapper's plan(); give each wrapper its own "
                    "workspace, or plan again");
  return w->device == POD_DEVICE_CPU ? pod_wrapper_verify_host_plan(w) : verify_device_plan(w);
}
