/* Kernel handles: looked up in the embedded modules, configured (dynamic shared memory) and measured
 * (resident CTAs per SM) once per device and name. */
#ifndef POD_KERNEL_CACHE_H
#define POD_KERNEL_CACHE_H

#include "shim/runtime/cuda_driver.h"

/* Kernel `name` of module `module` (a kernel file's stem) with `smem` bytes of dynamic shared memory
 * and `threads` threads per CTA; ctas_per_sm (may be NULL) receives its occupancy. */
int32_t pod_kernel_get(int32_t device, const char* module, const char* name, int32_t smem, int32_t threads, CUfunction* out,
                       int32_t* ctas_per_sm);

#endif
