/* Internal declarations shared by the shim's files. Not part of the public ABI. */
#ifndef POD_INTERNAL_H
#define POD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "pod.h"

/* Sets the calling thread's error message and returns status. printf-style. */
int32_t pod_fail(int32_t status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clears the message (on success paths of public functions). */
void pod_clear_error(void);

/* Copies a caller's versioned struct into dst (sizeof == dst_size). Smaller structs are accepted when
 * they hold at least min_size bytes; the rest of dst keeps what the caller initialised it with. */
int32_t pod_copy_versioned(void* dst, size_t dst_size, const void* src, size_t min_size, const char* name);

/* Handles: opaque 64-bit ids with a kind and a generation, so stale handles are detected. */
typedef enum pod_handle_kind {
  POD_HANDLE_STREAM = 1,
  POD_HANDLE_EVENT = 2,
  POD_HANDLE_WRAPPER = 3,
  POD_HANDLE_GRAPH = 4,
  POD_HANDLE_GRAPH_EXEC = 5
} pod_handle_kind;
int32_t pod_handle_new(pod_handle_kind kind, void* object, uint64_t* handle);
/* Looks the handle up; on failure sets an error naming `what`. */
int32_t pod_handle_get(pod_handle_kind kind, uint64_t handle, const char* what, void** object);
/* Invalidates the handle and returns its object for the caller to free. */
int32_t pod_handle_release(pod_handle_kind kind, uint64_t handle, const char* what, void** object);

/* A CPU graph under capture or captured: the wrapper run() calls recorded on a CPU stream. */
typedef struct pod_recording pod_recording;

/* Streams as the shim sees them: the device they belong to and, on CUDA, the driver's stream. */
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
/* Appends a validated run() call to a CPU stream's capture (graph.c). */
int32_t pod_recording_add_run(pod_recording* r, uint64_t wrapper, const pod_run_args* args);
/* Whether the stream is capturing a graph (CUDA: asks the driver; CPU: a capture begun here). */
int32_t pod_stream_capturing(const pod_stream_obj* s, int* capturing);

/* Device checks: CPU or an existing CUDA ordinal (loads the driver when needed). */
int32_t pod_device_check(int32_t device, const char* what);

static inline int64_t pod_align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }
int32_t pod_dtype_size(int32_t dtype);
const char* pod_dtype_name(int32_t dtype);
/* POD_FLOAT8_E4M3 or POD_FLOAT8_E5M2. */
int pod_dtype_is_fp8(int32_t dtype);

#endif
