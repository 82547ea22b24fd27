/* The calling thread's error message, and the copying of the caller's versioned structs. */
#ifndef POD_ERROR_H
#define POD_ERROR_H

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

/* The entry points of pod.h implemented here (abi.c exports them). */
const char* pod_last_error_impl(void);
uint32_t pod_version_impl(void);
const char* pod_status_name_impl(int32_t status);
uint32_t pod_struct_size_impl(const char* name);

#endif
