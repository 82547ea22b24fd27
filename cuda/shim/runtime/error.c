/* Thread-local error messages, status names, versioned-struct copying and library metadata. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shim/runtime/error.h"

static _Thread_local char error_message[1024];

int32_t pod_fail(int32_t status, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(error_message, sizeof error_message, fmt, ap);
  va_end(ap);
  return status;
}

void pod_clear_error(void) { error_message[0] = '\0'; }

const char* pod_last_error_impl(void) { return error_message; }

uint32_t pod_version_impl(void) {
  return POD_VERSION_MAJOR * 10000 + POD_VERSION_MINOR * 100 + POD_VERSION_PATCH;
}

const char* pod_status_name_impl(int32_t status) {
  switch (status) {
    case POD_OK: return "POD_OK";
    case POD_ERR_INVALID_ARGUMENT: return "POD_ERR_INVALID_ARGUMENT";
    case POD_ERR_NO_DRIVER: return "POD_ERR_NO_DRIVER";
    case POD_ERR_NO_DEVICE: return "POD_ERR_NO_DEVICE";
    case POD_ERR_CUDA: return "POD_ERR_CUDA";
    case POD_ERR_OUT_OF_MEMORY: return "POD_ERR_OUT_OF_MEMORY";
    case POD_ERR_NOT_PLANNED: return "POD_ERR_NOT_PLANNED";
    case POD_ERR_INVALID_HANDLE: return "POD_ERR_INVALID_HANDLE";
    case POD_ERR_NOT_IMPLEMENTED: return "POD_ERR_NOT_IMPLEMENTED";
    case POD_ERR_WORKSPACE_TOO_SMALL: return "POD_ERR_WORKSPACE_TOO_SMALL";
    case POD_ERR_WORKSPACE_CORRUPT: return "POD_ERR_WORKSPACE_CORRUPT";
    case POD_ERR_INTERNAL: return "POD_ERR_INTERNAL";
    default: return "POD_ERR_UNKNOWN";
  }
}

uint32_t pod_struct_size_impl(const char* name) {
  if (name == NULL) return 0;
#define POD_SIZE_OF(t) \
  if (strcmp(name, #t) == 0) return (uint32_t)sizeof(t);
  POD_SIZE_OF(pod_tensor)
  POD_SIZE_OF(pod_host_i32)
  POD_SIZE_OF(pod_device_props)
  POD_SIZE_OF(pod_attention_options)
  POD_SIZE_OF(pod_wrapper_create_args)
  POD_SIZE_OF(pod_paged_table)
  POD_SIZE_OF(pod_plan_args)
  POD_SIZE_OF(pod_run_args)
  POD_SIZE_OF(pod_graph_buffers)
  POD_SIZE_OF(pod_memory_stats)
#undef POD_SIZE_OF
  return 0;
}

int32_t pod_copy_versioned(void* dst, size_t dst_size, const void* src, size_t min_size, const char* name) {
  if (src == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: null pointer", name);
  uint32_t size;
  memcpy(&size, src, sizeof size);
  if (size < min_size || size < sizeof(uint32_t))
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: struct_size %u is smaller than the oldest supported layout (%zu bytes)",
                    name, size, min_size);
  if (size > dst_size) {
    /* A newer caller: accept only if every field this library does not know is zero. */
    const unsigned char* tail = (const unsigned char*)src + dst_size;
    for (size_t i = 0; i < size - dst_size; i++)
      if (tail[i] != 0)
        return pod_fail(POD_ERR_INVALID_ARGUMENT,
                        "%s: struct_size %u is larger than this library's %zu bytes and sets fields it does not know; "
                        "upgrade libpod",
                        name, size, dst_size);
    size = (uint32_t)dst_size;
  }
  memcpy(dst, src, size);
  memcpy(dst, &(uint32_t){(uint32_t)dst_size}, sizeof(uint32_t));
  return POD_OK;
}
