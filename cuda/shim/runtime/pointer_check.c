/* pod_pointer_check: what the CUDA driver (cuPointerGetAttribute) and, for host memory, the kernel's
 * page tables (mincore) can tell about an address handed in from outside. */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pod.h"
#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/error.h"
#include "shim/runtime/memory.h"
#include "shim/runtime/pointer_check.h"

/* What the driver knows of the allocation holding `ptr`. */
typedef struct driver_view {
  int known;            /* the driver knows the address: device, managed or page-locked host memory */
  int device_memory;    /* device memory (not managed) of `ordinal` */
  int ordinal;
  int has_range;
  uint64_t start, size; /* the allocation */
} driver_view;

static driver_view ask_driver(int32_t device, uint64_t ptr) {
  driver_view v = {0, 0, -1, 0, 0, 0};
  int32_t count = 0;
  if (pod_cuda_count(&count) != POD_OK || count == 0 || pod_cuda_use(device >= 0 && device < count ? device : 0) != POD_OK) {
    pod_clear_error();
    return v;
  }
  unsigned int type = 0;
  if (pod_cu.PointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)ptr) != CUDA_SUCCESS) return v;
  v.known = 1;
  int managed = 0;
  if (pod_cu.PointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, (CUdeviceptr)ptr) != CUDA_SUCCESS) managed = 1;
  if (type == CU_MEMORYTYPE_DEVICE && !managed &&
      pod_cu.PointerGetAttribute(&v.ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, (CUdeviceptr)ptr) == CUDA_SUCCESS)
    v.device_memory = 1;
  CUdeviceptr start = 0;
  size_t size = 0;
  if (pod_cu.PointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, (CUdeviceptr)ptr) == CUDA_SUCCESS &&
      pod_cu.PointerGetAttribute(&size, CU_POINTER_ATTRIBUTE_RANGE_SIZE, (CUdeviceptr)ptr) == CUDA_SUCCESS && size > 0)
    v.has_range = 1, v.start = (uint64_t)start, v.size = (uint64_t)size;
  return v;
}

/* Whether every page of [ptr, ptr + bytes) is mapped in this process. */
static int host_mapped(uint64_t ptr, uint64_t bytes) {
  const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  uint64_t at = ptr / page * page;
  const uint64_t end = ptr + bytes;
  unsigned char vec[1024];
  while (at < end) {
    uint64_t len = end - at;
    if (len > sizeof vec * page) len = sizeof vec * page;
    if (mincore((void*)(uintptr_t)at, (size_t)len, vec) != 0 && errno == ENOMEM) return 0;
    at += len;
  }
  return 1;
}

int32_t pod_pointer_check_impl(int32_t device, uint64_t ptr, uint64_t bytes) {
  if (ptr == 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "ptr: null address");
  if (ptr + bytes < ptr)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "shape: the view's %llu bytes from ptr 0x%llx run past the end of the address space",
                    (unsigned long long)bytes, (unsigned long long)ptr);
  driver_view v = ask_driver(device, ptr);
  if (device == POD_DEVICE_CPU) {
    if (v.device_memory)
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "ptr: is memory of cuda:%d, not of cpu (the CPU device needs host memory)", v.ordinal);
    /* Pageable host memory: the library's own allocations are known by size; of other memory all
     * that can be told is whether its pages are mapped. */
    if (!v.known && pod_cpu_allocation_of(ptr, &v.start, &v.size)) v.has_range = 1;
    if (!v.known && bytes > 0 && !host_mapped(ptr, bytes))
      return pod_fail(POD_ERR_INVALID_ARGUMENT,
                      "ptr: [0x%llx, +%llu bytes) is not mapped in this process (a bogus or freed address, or a view larger than its memory)",
                      (unsigned long long)ptr, (unsigned long long)bytes);
  } else {
    if (!v.known)
      return pod_fail(POD_ERR_INVALID_ARGUMENT,
                      "ptr: 0x%llx is memory the CUDA driver does not know (freed, never allocated, or pageable host memory); a tensor of "
                      "cuda:%d needs device, managed or page-locked memory",
                      (unsigned long long)ptr, device);
    if (v.device_memory && v.ordinal != device)
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "ptr: is memory of cuda:%d, not of cuda:%d", v.ordinal, device);
  }
  if (v.has_range && (ptr < v.start || ptr + bytes > v.start + v.size))
    return pod_fail(POD_ERR_INVALID_ARGUMENT,
                    "shape: the view spans %llu bytes from ptr, but its allocation (%llu bytes from 0x%llx) ends %llu bytes after ptr",
                    (unsigned long long)bytes, (unsigned long long)v.size, (unsigned long long)v.start,
                    (unsigned long long)(v.start + v.size > ptr ? v.start + v.size - ptr : 0));
  return POD_OK;
}
