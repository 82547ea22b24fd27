/* Device memory: sizes and the CPU device's allocations. */
#ifndef POD_MEMORY_H
#define POD_MEMORY_H

#include <stdint.h>

#include "pod.h"

static inline int64_t pod_align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }
/* Bytes of live CPU allocations, the CPU device's "pool in use". */
uint64_t pod_cpu_bytes_in_use(void);
/* Whether `ptr` lies inside a live CPU allocation of the library; its start and bytes if so. */
int pod_cpu_allocation_of(uint64_t ptr, uint64_t* start, uint64_t* bytes);

/* The entry points of pod.h implemented here (abi.c exports them). */
int32_t pod_malloc_impl(int32_t device, uint64_t bytes, uint64_t stream, uint64_t* ptr);
int32_t pod_free_impl(int32_t device, uint64_t ptr, uint64_t stream);
int32_t pod_memset_impl(int32_t device, uint64_t ptr, uint8_t value, uint64_t bytes, uint64_t stream);
int32_t pod_memcpy_impl(int32_t device, uint64_t dst, uint64_t src, uint64_t bytes, int32_t kind, uint64_t stream);
int32_t pod_tensor_fill_impl(const pod_tensor* tensor, double start, double step, uint64_t stream);
int32_t pod_tensor_fill_random_impl(const pod_tensor* tensor, uint64_t seed, double low, double high, uint64_t stream);
int32_t pod_probe_mma_impl(int32_t device, int32_t blocks, int32_t iterations, uint64_t sink, uint64_t stream, double* flops);

#endif
