/* The kernel handle cache (see kernel_cache.h). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "pod.h"
#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/kernel_cache.h"

typedef struct kernel_entry {
  int32_t device;
  char name[48];
  CUfunction function;
  int32_t ctas_per_sm;
} kernel_entry;

static kernel_entry kernels[512];
static int kernel_count;
static pthread_mutex_t kernels_lock = PTHREAD_MUTEX_INITIALIZER;

int32_t pod_kernel_get(int32_t device, const char* module, const char* name, int32_t smem, int32_t threads, CUfunction* out,
                       int32_t* ctas_per_sm) {
  pthread_mutex_lock(&kernels_lock);
  for (int i = 0; i < kernel_count; i++) {
    if (kernels[i].device == device && strcmp(kernels[i].name, name) == 0) {
      *out = kernels[i].function;
      if (ctas_per_sm) *ctas_per_sm = kernels[i].ctas_per_sm;
      pthread_mutex_unlock(&kernels_lock);
      return POD_OK;
    }
  }
  int32_t st = pod_cuda_kernel(device, module, name, out);
  /* Dynamic plus static shared memory may pass 48 KiB: always raise the dynamic limit. */
  if (st == POD_OK && smem > 0)
    st = pod_cuda_check(pod_cu.FuncSetAttribute(*out, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem), name);
  int n = 0;
  if (st == POD_OK) st = pod_cuda_check(pod_cu.OccupancyMaxActiveBlocksPerMultiprocessor(&n, *out, threads, (size_t)smem), name);
  if (ctas_per_sm) *ctas_per_sm = n > 0 ? n : 1;
  if (st == POD_OK && kernel_count < (int)(sizeof kernels / sizeof kernels[0])) {
    kernels[kernel_count].device = device;
    kernels[kernel_count].ctas_per_sm = n > 0 ? n : 1;
    snprintf(kernels[kernel_count].name, sizeof kernels[kernel_count].name, "%s", name);
    kernels[kernel_count].function = *out;
    kernel_count++;
  }
  pthread_mutex_unlock(&kernels_lock);
  return st;
}
