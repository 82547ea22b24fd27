/* Host staging memory for the copies of plan(): one buffer per wrapper, reused from plan to plan.
 * On CUDA devices it is page-locked, so cuMemcpyHtoDAsync reads it directly instead of the driver
 * copying it into staging memory of its own first; an event recorded after the copies guards it, and
 * the next plan waits for that event before writing the buffer again (by then the copies are
 * normally long done). Where page-locked memory cannot be had, ordinary memory is used and the
 * driver stages the copies as before. */
#ifndef POD_STAGING_H
#define POD_STAGING_H

#include <stddef.h>
#include <stdint.h>

#include "shim/runtime/stream.h"

typedef struct pod_staging {
  unsigned char* data;
  size_t capacity;
  int pinned;
  void* done;  /* CUevent recorded after the last copies from `data` */
  int pending; /* `done` was recorded and not yet waited for */
} pod_staging;

/* Waits for earlier copies from the buffer, grows it to `bytes` and returns it. */
int32_t pod_staging_acquire(pod_staging* s, int32_t device, size_t bytes, unsigned char** data);
/* Copies bytes [offset, offset + bytes) of the buffer to `dst` on the device, in stream order. */
int32_t pod_staging_copy(pod_staging* s, int32_t device, uint64_t dst, size_t offset, size_t bytes, const pod_stream_obj* stream);
/* Marks the end of this plan's copies (records the event). */
int32_t pod_staging_release(pod_staging* s, int32_t device, const pod_stream_obj* stream);
/* Frees the buffer (after its copies); the event stays for the next buffer. */
void pod_staging_free(pod_staging* s, int32_t device);
/* Frees the buffer and the event. */
void pod_staging_destroy(pod_staging* s, int32_t device);

#endif
