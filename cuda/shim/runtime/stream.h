/* Streams as the shim sees them, and whether they are capturing a graph. */
#ifndef POD_STREAM_H
#define POD_STREAM_H

#include <stdint.h>

/* A CPU graph under capture or captured: the wrapper run() calls recorded on a CPU stream (graph.h). */
typedef struct pod_recording pod_recording;

/* A stream: the device it belongs to and, on CUDA, the driver's stream. */
typedef struct pod_stream_obj {
  int32_t device;
  int32_t owned;             /* 0: a CUstream of another library, wrapped (pod_stream_wrap), not destroyed here */
  void* cu_stream;           /* CUstream; NULL for CPU streams and the default stream */
  uint64_t handle;           /* the stream's handle; 0 for the default stream */
  pod_recording* recording;  /* CPU streams while capturing: where run() calls are recorded */
} pod_stream_obj;
/* Resolves a stream handle (0: the default stream of `device`) and checks it belongs to `device`. */
int32_t pod_stream_resolve(int32_t device, uint64_t stream, pod_stream_obj* out);
/* CPU streams record only wrapper run() calls while capturing: an error naming `what` for any other
 * work queued on a capturing CPU stream, POD_OK otherwise. */
int32_t pod_stream_not_capturing(const pod_stream_obj* s, const char* what);
/* Whether the stream is capturing a graph (CUDA: asks the driver; CPU: a capture begun here). */
int32_t pod_stream_capturing(const pod_stream_obj* s, int* capturing);

/* The entry points of pod.h implemented here (abi.c exports them). */
int32_t pod_stream_create_impl(int32_t device, uint64_t* stream);
int32_t pod_stream_wrap_impl(int32_t device, uint64_t cu_stream, uint64_t* stream);
int32_t pod_stream_native_impl(uint64_t stream, uint64_t* cu_stream);
int32_t pod_stream_destroy_impl(uint64_t stream);
int32_t pod_stream_synchronize_impl(int32_t device, uint64_t stream);
int32_t pod_stream_is_capturing_impl(int32_t device, uint64_t stream, int32_t* capturing);
int32_t pod_event_create_impl(int32_t device, uint64_t* event);
int32_t pod_event_destroy_impl(uint64_t event);
int32_t pod_event_record_impl(uint64_t event, uint64_t stream);
int32_t pod_event_synchronize_impl(uint64_t event);
int32_t pod_event_elapsed_ms_impl(uint64_t start, uint64_t end, float* ms);

#endif
