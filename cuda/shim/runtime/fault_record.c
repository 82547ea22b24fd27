/* Fault records in page-locked, mapped host memory (fault_record.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pod.h"
#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/error.h"
#include "shim/runtime/fault_record.h"

enum { CHUNK_RECORDS = 256 }; /* 4 KiB of records per chunk */

typedef struct chunk {
  pod_fault_record* host;
  uint64_t device;
  uint8_t used[CHUNK_RECORDS];
} chunk;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static chunk* chunks;
static size_t chunk_count;

/* A new chunk (lock held): portable, so that every context may use it; its device address, under
 * unified addressing, is valid on every device. */
static chunk* grow(void) {
  void* host = NULL;
  CUdeviceptr dev = 0;
  if (pod_cu.MemHostAlloc(&host, CHUNK_RECORDS * sizeof(pod_fault_record), CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP) != CUDA_SUCCESS)
    return NULL;
  if (pod_cu.MemHostGetDevicePointer(&dev, host, 0) != CUDA_SUCCESS) {
    pod_cu.MemFreeHost(host);
    return NULL;
  }
  chunk* grown = realloc(chunks, (chunk_count + 1) * sizeof *chunks);
  if (grown == NULL) {
    pod_cu.MemFreeHost(host);
    return NULL;
  }
  chunks = grown;
  chunk* c = &chunks[chunk_count++];
  memset(c, 0, sizeof *c);
  c->host = host;
  c->device = (uint64_t)dev;
  memset(host, 0, CHUNK_RECORDS * sizeof(pod_fault_record));
  return c;
}

int32_t pod_fault_slot_acquire(int32_t device, pod_fault_slot* slot) {
  slot->host = NULL;
  slot->device = 0;
  if (device == POD_DEVICE_CPU) return POD_OK;
  pthread_mutex_lock(&lock);
  chunk* c = NULL;
  int index = -1;
  for (size_t i = 0; i < chunk_count && index < 0; i++)
    for (int r = 0; r < CHUNK_RECORDS && index < 0; r++)
      if (!chunks[i].used[r]) c = &chunks[i], index = r;
  if (index < 0 && (c = grow()) != NULL) index = 0;
  if (index >= 0) {
    c->used[index] = 1;
    memset(&c->host[index], 0, sizeof c->host[index]);
    slot->host = &c->host[index];
    slot->device = c->device + (uint64_t)index * sizeof(pod_fault_record);
  }
  pthread_mutex_unlock(&lock);
  pod_clear_error();
  return POD_OK;
}

void pod_fault_slot_release(pod_fault_slot* slot) {
  if (slot->host == NULL) return;
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < chunk_count; i++) {
    const volatile pod_fault_record* base = chunks[i].host;
    if (slot->host >= base && slot->host < base + CHUNK_RECORDS) {
      const int index = (int)(slot->host - base);
      memset((void*)&chunks[i].host[index], 0, sizeof(pod_fault_record));
      chunks[i].used[index] = 0;
    }
  }
  pthread_mutex_unlock(&lock);
  slot->host = NULL;
  slot->device = 0;
}
