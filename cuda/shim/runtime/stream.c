/* Streams and events. CPU work runs synchronously, so CPU streams are placeholders and CPU events read
 * the host's monotonic clock when recorded. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/device.h"
#include "shim/runtime/error.h"
#include "shim/runtime/graph.h"
#include "shim/runtime/handles.h"
#include "shim/runtime/stream.h"

typedef struct event_obj {
  int32_t device;
  int recorded;
  CUevent cu_event;
  double host_ms; /* CPU events */
} event_obj;

int32_t pod_stream_create_impl(int32_t device, uint64_t* stream) {
  if (stream == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "stream: null pointer");
  int32_t st = pod_device_check(device, "device");
  if (st != POD_OK) return st;
  pod_stream_obj* s = calloc(1, sizeof *s);
  if (s == NULL) return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory");
  s->device = device;
  s->owned = 1;
  if (device != POD_DEVICE_CPU) {
    CUstream cs;
    /* Blocking with respect to the legacy default stream, so memory allocated or filled there without a
     * stream is ready for work on this one. */
    st = pod_cuda_check(pod_cu.StreamCreate(&cs, CU_STREAM_DEFAULT), "cuStreamCreate");
    if (st != POD_OK) {
      free(s);
      return st;
    }
    s->cu_stream = cs;
  }
  st = pod_handle_new(POD_HANDLE_STREAM, s, stream);
  if (st != POD_OK) {
    if (s->cu_stream) pod_cu.StreamDestroy((CUstream)s->cu_stream);
    free(s);
  } else {
    s->handle = *stream;
  }
  return st;
}

int32_t pod_stream_wrap_impl(int32_t device, uint64_t cu_stream, uint64_t* stream) {
  if (stream == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "stream: null pointer");
  *stream = 0;
  if (device == POD_DEVICE_CPU)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "device: the CPU device has no CUDA streams to wrap; raw streams belong to CUDA devices");
  if (cu_stream == 0)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "cu_stream: null CUstream; pass stream 0 for the device's default stream instead");
  int32_t st = pod_device_check(device, "device");
  if (st != POD_OK) return st;
  CUcontext ctx = NULL;
  st = pod_cuda_check(pod_cu.StreamGetCtx((CUstream)(uintptr_t)cu_stream, &ctx), "cu_stream: cuStreamGetCtx");
  if (st != POD_OK) return st;
  if (ctx != pod_cuda_context(device))
    return pod_fail(POD_ERR_INVALID_ARGUMENT,
                    "cu_stream: belongs to another CUDA context than the primary context of cuda:%d, which the library's kernels run in "
                    "(a stream of another device, or of a context created with cuCtxCreate)",
                    device);
  pod_stream_obj* s = calloc(1, sizeof *s);
  if (s == NULL) return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory");
  s->device = device;
  s->owned = 0;
  s->cu_stream = (void*)(uintptr_t)cu_stream;
  st = pod_handle_new(POD_HANDLE_STREAM, s, stream);
  if (st != POD_OK) free(s);
  else s->handle = *stream;
  return st;
}

int32_t pod_stream_native_impl(uint64_t stream, uint64_t* cu_stream) {
  if (cu_stream == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "cu_stream: null pointer");
  void* obj;
  int32_t st = pod_handle_get(POD_HANDLE_STREAM, stream, "stream", &obj);
  if (st != POD_OK) return st;
  *cu_stream = (uint64_t)(uintptr_t)((pod_stream_obj*)obj)->cu_stream;
  return POD_OK;
}

int32_t pod_stream_destroy_impl(uint64_t stream) {
  void* obj;
  int32_t st = pod_handle_release(POD_HANDLE_STREAM, stream, "stream", &obj);
  if (st != POD_OK) return st;
  pod_stream_obj* s = obj;
  if (s->owned && s->cu_stream && pod_cuda_use(s->device) == POD_OK)
    st = pod_cuda_check(pod_cu.StreamDestroy((CUstream)s->cu_stream), "cuStreamDestroy");
  pod_recording_free(s->recording); /* a capture never ended */
  free(s);
  return st;
}

int32_t pod_stream_not_capturing(const pod_stream_obj* s, const char* what) {
  if (s->recording == NULL) return POD_OK;
  return pod_fail(POD_ERR_NOT_IMPLEMENTED,
                  "%s: the stream is capturing a graph on the CPU device, whose graphs record wrapper run() calls only; "
                  "queue this work before the capture or after it ends",
                  what);
}

int32_t pod_stream_capturing(const pod_stream_obj* s, int* capturing) {
  *capturing = 0;
  if (s->device == POD_DEVICE_CPU) {
    *capturing = s->recording != NULL;
    return POD_OK;
  }
  if (s->cu_stream == NULL) return POD_OK; /* the legacy default stream cannot capture */
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  int32_t st = pod_cuda_check(pod_cu.StreamIsCapturing((CUstream)s->cu_stream, &status), "cuStreamIsCapturing");
  *capturing = status != CU_STREAM_CAPTURE_STATUS_NONE;
  return st;
}

int32_t pod_stream_is_capturing_impl(int32_t device, uint64_t stream, int32_t* capturing) {
  if (capturing == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "capturing: null pointer");
  *capturing = 0;
  int32_t st = pod_device_check(device, "device");
  pod_stream_obj s;
  if (st == POD_OK) st = pod_stream_resolve(device, stream, &s);
  int c = 0;
  if (st == POD_OK) st = pod_stream_capturing(&s, &c);
  *capturing = c;
  return st;
}

int32_t pod_stream_resolve(int32_t device, uint64_t stream, pod_stream_obj* out) {
  memset(out, 0, sizeof *out);
  out->device = device;
  out->owned = 1;
  if (stream == 0) return POD_OK;
  void* obj;
  int32_t st = pod_handle_get(POD_HANDLE_STREAM, stream, "stream", &obj);
  if (st != POD_OK) return st;
  pod_stream_obj* s = obj;
  if (s->device != device)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "stream: belongs to device %d, the call is on device %d", s->device, device);
  *out = *s;
  return POD_OK;
}

int32_t pod_stream_synchronize_impl(int32_t device, uint64_t stream) {
  int32_t st = pod_device_check(device, "device");
  if (st != POD_OK) return st;
  pod_stream_obj s;
  st = pod_stream_resolve(device, stream, &s);
  if (st == POD_OK) st = pod_stream_not_capturing(&s, "stream");
  if (st != POD_OK || device == POD_DEVICE_CPU) return st;
  return pod_cuda_check(pod_cu.StreamSynchronize((CUstream)s.cu_stream), "cuStreamSynchronize");
}

static double host_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int32_t pod_event_create_impl(int32_t device, uint64_t* event) {
  if (event == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "event: null pointer");
  int32_t st = pod_device_check(device, "device");
  if (st != POD_OK) return st;
  event_obj* e = calloc(1, sizeof *e);
  if (e == NULL) return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory");
  e->device = device;
  if (device != POD_DEVICE_CPU) {
    st = pod_cuda_check(pod_cu.EventCreate(&e->cu_event, CU_EVENT_DEFAULT), "cuEventCreate");
    if (st != POD_OK) {
      free(e);
      return st;
    }
  }
  st = pod_handle_new(POD_HANDLE_EVENT, e, event);
  if (st != POD_OK) {
    if (e->cu_event) pod_cu.EventDestroy(e->cu_event);
    free(e);
  }
  return st;
}

int32_t pod_event_destroy_impl(uint64_t event) {
  void* obj;
  int32_t st = pod_handle_release(POD_HANDLE_EVENT, event, "event", &obj);
  if (st != POD_OK) return st;
  event_obj* e = obj;
  if (e->cu_event && pod_cuda_use(e->device) == POD_OK) st = pod_cuda_check(pod_cu.EventDestroy(e->cu_event), "cuEventDestroy");
  free(e);
  return st;
}

int32_t pod_event_record_impl(uint64_t event, uint64_t stream) {
  void* obj;
  int32_t st = pod_handle_get(POD_HANDLE_EVENT, event, "event", &obj);
  if (st != POD_OK) return st;
  event_obj* e = obj;
  pod_stream_obj s;
  st = pod_stream_resolve(e->device, stream, &s);
  if (st == POD_OK) st = pod_stream_not_capturing(&s, "stream");
  if (st != POD_OK) return st;
  if (e->device == POD_DEVICE_CPU) {
    e->host_ms = host_now_ms();
  } else {
    st = pod_cuda_use(e->device);
    if (st == POD_OK) st = pod_cuda_check(pod_cu.EventRecord(e->cu_event, (CUstream)s.cu_stream), "cuEventRecord");
    if (st != POD_OK) return st;
  }
  e->recorded = 1;
  return POD_OK;
}

int32_t pod_event_synchronize_impl(uint64_t event) {
  void* obj;
  int32_t st = pod_handle_get(POD_HANDLE_EVENT, event, "event", &obj);
  if (st != POD_OK) return st;
  event_obj* e = obj;
  if (e->device == POD_DEVICE_CPU) return POD_OK;
  st = pod_cuda_use(e->device);
  if (st != POD_OK) return st;
  return pod_cuda_check(pod_cu.EventSynchronize(e->cu_event), "cuEventSynchronize");
}

int32_t pod_event_elapsed_ms_impl(uint64_t start, uint64_t end, float* ms) {
  if (ms == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "ms: null pointer");
  void *a, *b;
  int32_t st = pod_handle_get(POD_HANDLE_EVENT, start, "start", &a);
  if (st == POD_OK) st = pod_handle_get(POD_HANDLE_EVENT, end, "end", &b);
  if (st != POD_OK) return st;
  event_obj *s = a, *e = b;
  if (s->device != e->device) return pod_fail(POD_ERR_INVALID_ARGUMENT, "end: on device %d, start is on device %d", e->device, s->device);
  if (!s->recorded || !e->recorded) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: the event was never recorded", s->recorded ? "end" : "start");
  if (s->device == POD_DEVICE_CPU) {
    *ms = (float)(e->host_ms - s->host_ms);
    return POD_OK;
  }
  st = pod_cuda_use(s->device);
  if (st != POD_OK) return st;
  return pod_cuda_check(pod_cu.EventElapsedTime(ms, s->cu_event, e->cu_event), "cuEventElapsedTime");
}
