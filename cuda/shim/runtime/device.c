/* Device enumeration and properties for the CPU backend and CUDA devices. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/device.h"
#include "shim/runtime/error.h"
#include "shim/runtime/memory.h"

int32_t pod_device_check(int32_t device, const char* what) {
  if (device == POD_DEVICE_CPU) return POD_OK;
  if (device < 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: device %d is neither the CPU (-1) nor a CUDA ordinal", what, device);
  return pod_cuda_use(device);
}

int32_t pod_cuda_device_count_impl(int32_t* count) {
  if (count == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "count: null pointer");
  return pod_cuda_count(count);
}

static void cpu_model_name(char* out, size_t size) {
  snprintf(out, size, "CPU reference backend");
  FILE* f = fopen("/proc/cpuinfo", "r");
  if (f == NULL) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0) {
      char* colon = strchr(line, ':');
      if (colon) {
        colon += 2;
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(out, size, "CPU reference backend (%s)", colon);
      }
      break;
    }
  }
  fclose(f);
}

int32_t pod_device_props_get_impl(int32_t device, pod_device_props* props) {
  if (props == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "props: null pointer");
  pod_device_props p;
  memset(&p, 0, sizeof p);
  p.struct_size = sizeof p;
  p.device = device;
  if (device == POD_DEVICE_CPU) {
    p.sm_count = (int32_t)sysconf(_SC_NPROCESSORS_ONLN);
    p.total_memory = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    cpu_model_name(p.name, sizeof p.name);
  } else {
    int32_t st = pod_device_check(device, "device");
    if (st != POD_OK) return st;
    CUdevice dev;
    st = pod_cuda_check(pod_cu.DeviceGet(&dev, device), "cuDeviceGet");
    if (st != POD_OK) return st;
    pod_cu.DeviceGetName(p.name, sizeof p.name - 1, dev);
    pod_cu.DeviceGetAttribute(&p.sm_count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
    pod_cu.DeviceGetAttribute(&p.cc_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
    pod_cu.DeviceGetAttribute(&p.cc_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
    pod_cu.DeviceGetAttribute(&p.max_smem_per_block_optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, dev);
    pod_cu.DeviceGetAttribute(&p.l2_bytes, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, dev);
    p.pdl = pod_cuda_device_has_pdl(device);
    size_t total = 0;
    st = pod_cuda_check(pod_cu.DeviceTotalMem(&total, dev), "cuDeviceTotalMem");
    if (st != POD_OK) return st;
    p.total_memory = total;
  }
  /* Write back only as many bytes as the caller's struct holds. */
  uint32_t caller_size = props->struct_size;
  if (caller_size < offsetof(pod_device_props, name))
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "props.struct_size: %u is too small (at least %zu)", caller_size,
                    offsetof(pod_device_props, name));
  memcpy(props, &p, caller_size < sizeof p ? caller_size : sizeof p);
  props->struct_size = caller_size < sizeof p ? caller_size : (uint32_t)sizeof p;
  return POD_OK;
}

int32_t pod_device_memory_info_impl(int32_t device, uint64_t* free_bytes, uint64_t* total_bytes) {
  if (free_bytes == NULL || total_bytes == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "free_bytes/total_bytes: null pointer");
  if (device == POD_DEVICE_CPU) {
    *free_bytes = (uint64_t)sysconf(_SC_AVPHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    *total_bytes = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    return POD_OK;
  }
  int32_t st = pod_device_check(device, "device");
  if (st != POD_OK) return st;
  size_t f = 0, t = 0;
  st = pod_cuda_check(pod_cu.MemGetInfo(&f, &t), "cuMemGetInfo");
  *free_bytes = f;
  *total_bytes = t;
  return st;
}

int32_t pod_device_synchronize_impl(int32_t device) {
  if (device == POD_DEVICE_CPU) return POD_OK;
  int32_t st = pod_device_check(device, "device");
  if (st != POD_OK) return st;
  return pod_cuda_check(pod_cu.CtxSynchronize(), "cuCtxSynchronize");
}

int32_t pod_device_memory_stats_impl(int32_t device, pod_memory_stats* stats) {
  if (stats == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "stats: null pointer");
  pod_memory_stats m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  m.device = device;
  int32_t st = pod_device_memory_info_impl(device, &m.free_bytes, &m.total_bytes);
  if (st != POD_OK) return st;
  if (device == POD_DEVICE_CPU) {
    m.pool_used_bytes = m.pool_reserved_bytes = pod_cpu_bytes_in_use();
  } else if (pod_cuda_has_mempool(device)) {
    CUdevice dev;
    CUmemoryPool pool;
    cuuint64_t used = 0, reserved = 0;
    st = pod_cuda_check(pod_cu.DeviceGet(&dev, device), "cuDeviceGet");
    if (st == POD_OK) st = pod_cuda_check(pod_cu.DeviceGetMemPool(&pool, dev), "cuDeviceGetMemPool");
    if (st == POD_OK) st = pod_cuda_check(pod_cu.MemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used), "cuMemPoolGetAttribute");
    if (st == POD_OK) st = pod_cuda_check(pod_cu.MemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved), "cuMemPoolGetAttribute");
    if (st != POD_OK) return st;
    m.pool_used_bytes = used;
    m.pool_reserved_bytes = reserved;
  }
  uint32_t caller_size = stats->struct_size;
  if (caller_size < offsetof(pod_memory_stats, pool_used_bytes))
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "stats.struct_size: %u is too small (at least %zu)", caller_size, offsetof(pod_memory_stats, pool_used_bytes));
  memcpy(stats, &m, caller_size < sizeof m ? caller_size : sizeof m);
  stats->struct_size = caller_size < sizeof m ? caller_size : (uint32_t)sizeof m;
  return POD_OK;
}

int32_t pod_pointer_device_impl(int32_t near, uint64_t ptr, int32_t* device) {
  if (device == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "device: null pointer");
  *device = POD_DEVICE_CPU;
  int32_t count = 0;
  if (ptr == 0 || pod_cuda_count(&count) != POD_OK || count == 0) {
    pod_clear_error();
    return POD_OK;
  }
  /* The query runs in a context: `near`'s, or the first device's when asked about the CPU. Addresses are
   * unified, so any context answers for every device. */
  if (pod_cuda_use(near >= 0 && near < count ? near : 0) != POD_OK) {
    pod_clear_error();
    return POD_OK;
  }
  unsigned int type = 0;
  int managed = 0, ordinal = -1;
  if (pod_cu.PointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, ptr) != CUDA_SUCCESS) return POD_OK; /* unknown to the driver */
  if (pod_cu.PointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, ptr) != CUDA_SUCCESS) managed = 1;
  if (type == CU_MEMORYTYPE_DEVICE && !managed && pod_cu.PointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, ptr) == CUDA_SUCCESS)
    *device = ordinal;
  return POD_OK;
}
