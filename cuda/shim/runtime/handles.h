/* Handles: opaque 64-bit ids with a kind and a generation, so stale handles are detected. */
#ifndef POD_HANDLES_H
#define POD_HANDLES_H

#include <stdint.h>

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

#endif
