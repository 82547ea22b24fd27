/* A table of live objects addressed by 64-bit handles: slot index, kind and a generation count, so a
 * destroyed handle is reported as such instead of touching freed memory. */
#include <pthread.h>
#include <stdlib.h>

#include "shim/runtime/error.h"
#include "shim/runtime/handles.h"

typedef struct slot {
  void* object;
  uint32_t generation;
  uint8_t kind; /* 0: free */
} slot;

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static slot* slots;
static uint32_t slot_count, slot_capacity;
static uint32_t* free_list;
static uint32_t free_count;

static const char* kind_name(pod_handle_kind kind) {
  switch (kind) {
    case POD_HANDLE_STREAM: return "stream";
    case POD_HANDLE_EVENT: return "event";
    case POD_HANDLE_WRAPPER: return "wrapper";
    case POD_HANDLE_GRAPH: return "graph";
    case POD_HANDLE_GRAPH_EXEC: return "graph exec";
  }
  return "handle";
}

/* handle = generation << 32 | kind << 24 | (index + 1); index < 2^24 */
static uint64_t make_handle(uint32_t index, uint32_t generation, pod_handle_kind kind) {
  return ((uint64_t)generation << 32) | ((uint64_t)kind << 24) | (uint64_t)(index + 1);
}

int32_t pod_handle_new(pod_handle_kind kind, void* object, uint64_t* handle) {
  pthread_mutex_lock(&table_lock);
  uint32_t index;
  if (free_count > 0) {
    index = free_list[--free_count];
  } else {
    if (slot_count == slot_capacity) {
      uint32_t cap = slot_capacity ? slot_capacity * 2 : 64;
      if (cap >= (1u << 24)) {
        pthread_mutex_unlock(&table_lock);
        return pod_fail(POD_ERR_OUT_OF_MEMORY, "too many live %s handles", kind_name(kind));
      }
      slot* grown = realloc(slots, cap * sizeof *slots);
      uint32_t* grown_free = grown ? realloc(free_list, cap * sizeof *free_list) : NULL;
      if (grown) slots = grown;
      if (!grown || !grown_free) {
        pthread_mutex_unlock(&table_lock);
        return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory for handles");
      }
      free_list = grown_free;
      slot_capacity = cap;
    }
    index = slot_count++;
    slots[index].generation = 0;
  }
  slots[index].generation++;
  slots[index].kind = (uint8_t)kind;
  slots[index].object = object;
  *handle = make_handle(index, slots[index].generation, kind);
  pthread_mutex_unlock(&table_lock);
  return POD_OK;
}

static int32_t lookup(pod_handle_kind kind, uint64_t handle, const char* what, uint32_t* index_out) {
  uint32_t index = (uint32_t)(handle & 0xffffffu) - 1;
  uint32_t hkind = (uint32_t)((handle >> 24) & 0xff);
  uint32_t generation = (uint32_t)(handle >> 32);
  if (handle == 0 || hkind != (uint32_t)kind || index >= slot_count)
    return pod_fail(POD_ERR_INVALID_HANDLE, "%s: not a %s handle", what, kind_name(kind));
  if (slots[index].kind != kind || slots[index].generation != generation)
    return pod_fail(POD_ERR_INVALID_HANDLE, "%s: the %s was destroyed", what, kind_name(kind));
  *index_out = index;
  return POD_OK;
}

int32_t pod_handle_get(pod_handle_kind kind, uint64_t handle, const char* what, void** object) {
  pthread_mutex_lock(&table_lock);
  uint32_t index;
  int32_t st = lookup(kind, handle, what, &index);
  if (st == POD_OK) *object = slots[index].object;
  pthread_mutex_unlock(&table_lock);
  return st;
}

int32_t pod_handle_release(pod_handle_kind kind, uint64_t handle, const char* what, void** object) {
  pthread_mutex_lock(&table_lock);
  uint32_t index;
  int32_t st = lookup(kind, handle, what, &index);
  if (st == POD_OK) {
    *object = slots[index].object;
    slots[index].kind = 0;
    slots[index].object = NULL;
    free_list[free_count++] = index;
  }
  pthread_mutex_unlock(&table_lock);
  return st;
}
