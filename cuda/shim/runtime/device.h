/* Devices: the CPU backend and CUDA ordinals. */
#ifndef POD_DEVICE_H
#define POD_DEVICE_H

#include <stdint.h>

/* Device checks: CPU or an existing CUDA ordinal (loads the driver when needed). */
int32_t pod_device_check(int32_t device, const char* what);

#endif
