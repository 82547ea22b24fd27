/* Device enumeration and properties for the CPU backend and CUDA devices. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cuda_driver.h"

int32_t pod_device_check(int32_t device, const char* what) {
  if (device == POD_DEVICE_CPU) return POD_OK;
  if (device < 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: device %d is neither the CPU (-1) nor a CUDA ordinal", what, device);
  return pod_cuda_use(device);
}

POD_API int32_t pod_cuda_device_count(int32_t* count) {
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

POD_API int32_t pod_device_props_get(int32_t device, pod_device_props* props) {
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

POD_API int32_t pod_device_memory_info(int32_t device, uint64_t* free_bytes, uint64_t* total_bytes) {
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

POD_API int32_t pod_device_synchronize(int32_t device) {
  if (device == POD_DEVICE_CPU) return POD_OK;
  int32_t st = pod_device_check(device, "device");
  if (st != POD_OK) return st;
  return pod_cuda_check(pod_cu.CtxSynchronize(), "cuCtxSynchronize");
}
