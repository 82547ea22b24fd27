/* Device memory: sizes and the CPU device's allocations. */
#ifndef POD_MEMORY_H
#define POD_MEMORY_H

#include <stdint.h>

static inline int64_t pod_align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }
/* Bytes of live CPU allocations, the CPU device's "pool in use". */
uint64_t pod_cpu_bytes_in_use(void);

#endif
