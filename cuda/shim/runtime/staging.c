#include <stdlib.h>
#include <string.h>

#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/error.h"
#include "shim/runtime/staging.h"
#include "shim/runtime/stream.h"

int32_t pod_staging_acquire(pod_staging* s, int32_t device, size_t bytes, unsigned char** data) {
  int32_t st;
  if (bytes == 0) bytes = 1;
  if (device != POD_DEVICE_CPU) {
    if ((st = pod_cuda_use(device))) return st;
    if (s->pending) {
      s->pending = 0;
      if ((st = pod_cuda_check(pod_cu.EventSynchronize((CUevent)s->done), "cuEventSynchronize (plan staging)"))) return st;
    }
  }
  if (s->capacity < bytes) {
    size_t capacity = bytes > s->capacity + s->capacity / 2 ? bytes : s->capacity + s->capacity / 2;
    capacity = (capacity + 4095) / 4096 * 4096;
    pod_staging_free(s, device);
    void* p = NULL;
    if (device != POD_DEVICE_CPU && pod_cu.MemHostAlloc(&p, capacity, 0) == CUDA_SUCCESS) {
      s->pinned = 1;
    } else {
      p = malloc(capacity);
      s->pinned = 0;
      if (p == NULL) return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory for the plan (%zu bytes)", capacity);
    }
    s->data = p;
    s->capacity = capacity;
  }
  *data = s->data;
  return POD_OK;
}

int32_t pod_staging_copy(pod_staging* s, int32_t device, uint64_t dst, size_t offset, size_t bytes, const pod_stream_obj* stream) {
  if (bytes == 0) return POD_OK;
  if (device == POD_DEVICE_CPU) {
    memmove((void*)(uintptr_t)dst, s->data + offset, bytes);
    return POD_OK;
  }
  return pod_cuda_check(pod_cu.MemcpyHtoDAsync(dst, s->data + offset, bytes, (CUstream)stream->cu_stream), "cuMemcpyHtoDAsync (plan)");
}

int32_t pod_staging_release(pod_staging* s, int32_t device, const pod_stream_obj* stream) {
  if (device == POD_DEVICE_CPU || !s->pinned) return POD_OK; /* pageable copies have taken the data when they return */
  int32_t st;
  if (s->done == NULL) {
    CUevent e;
    if ((st = pod_cuda_check(pod_cu.EventCreate(&e, CU_EVENT_DISABLE_TIMING), "cuEventCreate (plan staging)"))) return st;
    s->done = e;
  }
  if ((st = pod_cuda_check(pod_cu.EventRecord((CUevent)s->done, (CUstream)stream->cu_stream), "cuEventRecord (plan staging)"))) return st;
  s->pending = 1;
  return POD_OK;
}

void pod_staging_free(pod_staging* s, int32_t device) {
  if (s->data) {
    if (device != POD_DEVICE_CPU && pod_cuda_use(device) == POD_OK && s->pending) pod_cu.EventSynchronize((CUevent)s->done);
    s->pending = 0;
    if (s->pinned) pod_cu.MemFreeHost(s->data);
    else free(s->data);
  }
  s->data = NULL;
  s->capacity = 0;
  s->pinned = 0;
}

void pod_staging_destroy(pod_staging* s, int32_t device) {
  pod_staging_free(s, device);
  if (s->done && pod_cuda_use(device) == POD_OK) pod_cu.EventDestroy((CUevent)s->done);
  s->done = NULL;
}
