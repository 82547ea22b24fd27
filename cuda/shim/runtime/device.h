/* Devices: the CPU backend and CUDA ordinals. */
#ifndef POD_DEVICE_H
#define POD_DEVICE_H

#include <stdint.h>

#include "pod.h"

/* Device checks: CPU or an existing CUDA ordinal (loads the driver when needed). */
int32_t pod_device_check(int32_t device, const char* what);

/* The entry points of pod.h implemented here (abi.c exports them). */
int32_t pod_cuda_device_count_impl(int32_t* count);
int32_t pod_device_props_get_impl(int32_t device, pod_device_props* props);
int32_t pod_device_memory_info_impl(int32_t device, uint64_t* free_bytes, uint64_t* total_bytes);
int32_t pod_device_synchronize_impl(int32_t device);
int32_t pod_device_memory_stats_impl(int32_t device, pod_memory_stats* stats);
int32_t pod_pointer_device_impl(int32_t near, uint64_t ptr, int32_t* device);

#endif
