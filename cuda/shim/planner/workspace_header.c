/* The workspace header of a plan (workspace_header.h). */
#include <string.h>

#include "pod.h"
#include "shim/planner/workspace_header.h"
#include "shim/runtime/error.h"

static inline uint64_t load64(const unsigned char* p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

/* Four independent lanes over 32-byte blocks (a multiply and a shift per word, no carried
 * dependency between lanes), so that large page tables cost plan() and the CPU run() little. */
uint64_t pod_checksum(const void* data, size_t bytes, uint64_t seed) {
  const unsigned char* p = data;
  const uint64_t k = 0x9e3779b97f4a7c15ull;
  uint64_t h[4] = {seed ^ 0x243f6a8885a308d3ull, seed ^ 0x13198a2e03707344ull, seed ^ 0xa4093822299f31d0ull, seed ^ 0x082efa98ec4e6c89ull};
  size_t i = 0;
  for (; i + 32 <= bytes; i += 32) {
    for (int lane = 0; lane < 4; lane++) {
      uint64_t x = (h[lane] ^ load64(p + i + 8 * lane)) * k;
      h[lane] = x ^ (x >> 29);
    }
  }
  /* The last bytes (under 32) into lane 0, eight at a time. */
  uint64_t tail = 0;
  int n = 0;
  for (; i < bytes; i++) {
    tail |= (uint64_t)p[i] << (8 * n);
    if (++n == 8) h[0] = mix(h[0] ^ tail), tail = 0, n = 0;
  }
  h[0] = mix(h[0] ^ tail);
  return mix(h[0] ^ mix(h[1] + 1) ^ mix(h[2] + 2) ^ mix(h[3] + 3) ^ (uint64_t)bytes);
}

uint64_t pod_buffers_checksum_add(uint64_t h, const int32_t* kv_indptr, const int32_t* kv_indices, const int32_t* qo_indptr, int32_t batch,
                                  int64_t pages) {
  h = pod_checksum(kv_indptr, ((size_t)batch + 1) * sizeof(int32_t), h);
  h = pod_checksum(kv_indices, (size_t)pages * sizeof(int32_t), h);
  return qo_indptr ? pod_checksum(qo_indptr, ((size_t)batch + 1) * sizeof(int32_t), h) : h;
}

static uint64_t header_checksum(const pod_workspace_header* h) { return pod_checksum(h, offsetof(pod_workspace_header, header_checksum), 0); }

void pod_workspace_header_seal(pod_workspace_header* h, const unsigned char* image) {
  h->image_checksum = pod_checksum(image + POD_WORKSPACE_HEADER_BYTES, (size_t)h->image_bytes - POD_WORKSPACE_HEADER_BYTES, 0);
  h->header_checksum = header_checksum(h);
}

#define AGAIN "; plan again, and give each wrapper its own workspace"

int32_t pod_workspace_header_verify(const pod_workspace_header* expected, const unsigned char* image) {
  pod_workspace_header h;
  memcpy(&h, image, sizeof h);
  if (h.magic != POD_WORKSPACE_MAGIC || h.version != POD_WORKSPACE_VERSION)
    return pod_fail(POD_ERR_WORKSPACE_CORRUPT, "workspace: holds no plan any more: its header was overwritten after plan() (a copy or another "
                                               "library wrote into the workspace)" AGAIN);
  if (h.header_checksum != header_checksum(&h))
    return pod_fail(POD_ERR_WORKSPACE_CORRUPT, "workspace: the plan's header was overwritten after plan() (its checksum differs)" AGAIN);
  if (h.owner != expected->owner)
    return pod_fail(POD_ERR_WORKSPACE_CORRUPT, "workspace: holds another wrapper's plan, copied over this wrapper's after its plan()" AGAIN);
  if (h.serial != expected->serial)
    return pod_fail(POD_ERR_WORKSPACE_CORRUPT,
                    "workspace: holds an earlier plan of this wrapper (plan %llu, the last plan() was %llu): old workspace contents were copied "
                    "over it" AGAIN,
                    (unsigned long long)h.serial, (unsigned long long)expected->serial);
  if (memcmp(&h, expected, offsetof(pod_workspace_header, header_checksum)) != 0 ||
      pod_checksum(image + POD_WORKSPACE_HEADER_BYTES, (size_t)expected->image_bytes - POD_WORKSPACE_HEADER_BYTES, 0) != expected->image_checksum)
    return pod_fail(POD_ERR_WORKSPACE_CORRUPT,
                    "workspace: the plan's page tables or work lists were overwritten after plan() (their checksum differs)" AGAIN);
  return POD_OK;
}
