#include <pthread.h>
#include <stdlib.h>

#include "shim/planner/workspace_claims.h"
#include "shim/runtime/error.h"

typedef struct claim {
  int32_t device;
  uint64_t start, end, owner;
} claim;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static claim* claims;
static size_t count, capacity;

int32_t pod_workspace_claim(int32_t device, uint64_t start, uint64_t bytes, uint64_t owner) {
  uint64_t end = start + (bytes ? bytes : 1);
  pthread_mutex_lock(&lock);
  size_t kept = 0;
  for (size_t i = 0; i < count; i++) {
    const claim* c = &claims[i];
    int overlaps = c->device == device && c->start < end && start < c->end;
    if (!overlaps && c->owner != owner) claims[kept++] = *c;
  }
  count = kept;
  if (count == capacity) {
    size_t cap = capacity ? capacity * 2 : 16;
    claim* grown = realloc(claims, cap * sizeof *claims);
    if (grown == NULL) {
      pthread_mutex_unlock(&lock);
      return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    claims = grown, capacity = cap;
  }
  claims[count++] = (claim){device, start, end, owner};
  pthread_mutex_unlock(&lock);
  return POD_OK;
}

int pod_workspace_holds(int32_t device, uint64_t start, uint64_t bytes, uint64_t owner) {
  uint64_t end = start + (bytes ? bytes : 1);
  int held = 0;
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < count && !held; i++)
    held = claims[i].owner == owner && claims[i].device == device && claims[i].start == start && claims[i].end == end;
  pthread_mutex_unlock(&lock);
  return held;
}

void pod_workspace_release(uint64_t owner) {
  pthread_mutex_lock(&lock);
  size_t kept = 0;
  for (size_t i = 0; i < count; i++)
    if (claims[i].owner != owner) claims[kept++] = claims[i];
  count = kept;
  pthread_mutex_unlock(&lock);
}
