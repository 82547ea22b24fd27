/* Device memory: stream-ordered allocation, memset, copies and fill, on the CPU backend or CUDA. */
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_backend.h"
#include "kernels/fill_params.h"
#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/device.h"
#include "shim/runtime/error.h"
#include "shim/runtime/memory.h"
#include "shim/runtime/stream.h"
#include "shim/runtime/tensor_check.h"

/* Validates the device and stream and makes the device current. */
static int32_t enter(int32_t device, uint64_t stream, pod_stream_obj* s) {
  int32_t st = pod_device_check(device, "device");
  if (st == POD_OK) st = pod_stream_resolve(device, stream, s);
  if (st == POD_OK) st = pod_stream_not_capturing(s, "stream");
  return st;
}

/* Bytes of live CPU allocations (malloc_usable_size of each), the CPU device's "pool in use". */
static uint64_t cpu_bytes_in_use;

uint64_t pod_cpu_bytes_in_use(void) { return __atomic_load_n(&cpu_bytes_in_use, __ATOMIC_RELAXED); }

/* The live CPU allocations, sorted by address, so that a view of one (Tensor.fromPointer) can be
 * checked against its size the way the driver checks device memory. */
typedef struct cpu_allocation {
  uint64_t start, bytes;
} cpu_allocation;
static pthread_mutex_t cpu_lock = PTHREAD_MUTEX_INITIALIZER;
static cpu_allocation* cpu_allocations;
static size_t cpu_count, cpu_capacity;

/* The index of the first allocation starting after `ptr` (lock held). */
static size_t cpu_after(uint64_t ptr) {
  size_t lo = 0, hi = cpu_count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cpu_allocations[mid].start <= ptr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static void cpu_remember(uint64_t start, uint64_t bytes) {
  pthread_mutex_lock(&cpu_lock);
  if (cpu_count == cpu_capacity) {
    size_t cap = cpu_capacity ? 2 * cpu_capacity : 64;
    cpu_allocation* grown = realloc(cpu_allocations, cap * sizeof *grown);
    if (grown == NULL) { /* then this allocation is not checked: a view of it is the caller's responsibility */
      pthread_mutex_unlock(&cpu_lock);
      return;
    }
    cpu_allocations = grown, cpu_capacity = cap;
  }
  size_t at = cpu_after(start);
  memmove(&cpu_allocations[at + 1], &cpu_allocations[at], (cpu_count - at) * sizeof *cpu_allocations);
  cpu_allocations[at] = (cpu_allocation){start, bytes};
  cpu_count++;
  pthread_mutex_unlock(&cpu_lock);
}

static void cpu_forget(uint64_t start) {
  pthread_mutex_lock(&cpu_lock);
  size_t at = cpu_after(start);
  if (at > 0 && cpu_allocations[at - 1].start == start) {
    memmove(&cpu_allocations[at - 1], &cpu_allocations[at], (cpu_count - at) * sizeof *cpu_allocations);
    cpu_count--;
  }
  pthread_mutex_unlock(&cpu_lock);
}

int pod_cpu_allocation_of(uint64_t ptr, uint64_t* start, uint64_t* bytes) {
  int found = 0;
  pthread_mutex_lock(&cpu_lock);
  size_t at = cpu_after(ptr);
  if (at > 0 && ptr < cpu_allocations[at - 1].start + cpu_allocations[at - 1].bytes) {
    *start = cpu_allocations[at - 1].start, *bytes = cpu_allocations[at - 1].bytes;
    found = 1;
  }
  pthread_mutex_unlock(&cpu_lock);
  return found;
}

int32_t pod_malloc_impl(int32_t device, uint64_t bytes, uint64_t stream, uint64_t* ptr) {
  if (ptr == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "ptr: null pointer");
  *ptr = 0;
  pod_stream_obj s;
  int32_t st = enter(device, stream, &s);
  if (st != POD_OK) return st;
  if (bytes > ((uint64_t)1 << 48)) return pod_fail(POD_ERR_INVALID_ARGUMENT, "bytes: %llu is beyond any device's memory", (unsigned long long)bytes);
  uint64_t size = bytes ? (uint64_t)pod_align_up((int64_t)bytes, 256) : 256;
  if (device == POD_DEVICE_CPU) {
    void* p = aligned_alloc(256, size);
    if (p == NULL) return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory allocating %llu bytes", (unsigned long long)bytes);
    __atomic_add_fetch(&cpu_bytes_in_use, (uint64_t)malloc_usable_size(p), __ATOMIC_RELAXED);
    cpu_remember((uint64_t)(uintptr_t)p, size);
    *ptr = (uint64_t)(uintptr_t)p;
    return POD_OK;
  }
  CUdeviceptr d = 0;
  if (pod_cuda_has_mempool(device)) {
    st = pod_cuda_check(pod_cu.MemAllocAsync(&d, size, (CUstream)s.cu_stream), "cuMemAllocAsync");
  } else {
    st = pod_cuda_check(pod_cu.MemAlloc(&d, size), "cuMemAlloc");
  }
  if (st == POD_OK) *ptr = d;
  return st;
}

int32_t pod_free_impl(int32_t device, uint64_t ptr, uint64_t stream) {
  if (ptr == 0) return POD_OK;
  pod_stream_obj s;
  int32_t st = enter(device, stream, &s);
  if (st != POD_OK) return st;
  if (device == POD_DEVICE_CPU) {
    __atomic_sub_fetch(&cpu_bytes_in_use, (uint64_t)malloc_usable_size((void*)(uintptr_t)ptr), __ATOMIC_RELAXED);
    cpu_forget(ptr);
    free((void*)(uintptr_t)ptr);
    return POD_OK;
  }
  if (pod_cuda_has_mempool(device)) return pod_cuda_check(pod_cu.MemFreeAsync(ptr, (CUstream)s.cu_stream), "cuMemFreeAsync");
  return pod_cuda_check(pod_cu.MemFree(ptr), "cuMemFree");
}

int32_t pod_memset_impl(int32_t device, uint64_t ptr, uint8_t value, uint64_t bytes, uint64_t stream) {
  if (bytes == 0) return POD_OK;
  if (ptr == 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "ptr: null pointer");
  pod_stream_obj s;
  int32_t st = enter(device, stream, &s);
  if (st != POD_OK) return st;
  if (device == POD_DEVICE_CPU) {
    memset((void*)(uintptr_t)ptr, value, bytes);
    return POD_OK;
  }
  return pod_cuda_check(pod_cu.MemsetD8Async(ptr, value, bytes, (CUstream)s.cu_stream), "cuMemsetD8Async");
}

int32_t pod_memcpy_impl(int32_t device, uint64_t dst, uint64_t src, uint64_t bytes, int32_t kind, uint64_t stream) {
  if (kind < POD_HOST_TO_DEVICE || kind > POD_DEVICE_TO_DEVICE)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "kind: %d is not a pod_memcpy_kind (0 host-to-device, 1 device-to-host, 2 device-to-device)", kind);
  if (bytes == 0) return POD_OK;
  if (dst == 0 || src == 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: null pointer", dst == 0 ? "dst" : "src");
  pod_stream_obj s;
  int32_t st = enter(device, stream, &s);
  if (st != POD_OK) return st;
  if (device == POD_DEVICE_CPU) {
    memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, bytes);
    return POD_OK;
  }
  CUstream cs = (CUstream)s.cu_stream;
  switch (kind) {
    case POD_HOST_TO_DEVICE: st = pod_cuda_check(pod_cu.MemcpyHtoDAsync(dst, (const void*)(uintptr_t)src, bytes, cs), "cuMemcpyHtoDAsync"); break;
    case POD_DEVICE_TO_HOST: st = pod_cuda_check(pod_cu.MemcpyDtoHAsync((void*)(uintptr_t)dst, src, bytes, cs), "cuMemcpyDtoHAsync"); break;
    default: st = pod_cuda_check(pod_cu.MemcpyDtoDAsync(dst, src, bytes, cs), "cuMemcpyDtoDAsync"); break;
  }
  /* The host reads what a copy to the host wrote: without a stream, wait for it. */
  if (st == POD_OK && stream == 0 && kind == POD_DEVICE_TO_HOST) st = pod_cuda_check(pod_cu.StreamSynchronize(NULL), "cuStreamSynchronize");
  return st;
}

static int32_t fill(const pod_tensor* tensor, double start, double step, uint64_t seed, int random, uint64_t stream) {
  if (tensor == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "tensor: null pointer");
  pod_tensor t = *tensor;
  pod_stream_obj s;
  int32_t st = enter(t.device, stream, &s);
  if (st == POD_OK) st = pod_check_tensor(&t, "tensor", t.device);
  if (st != POD_OK) return st;
  int64_t total = pod_tensor_numel(&t);
  if (total == 0) return POD_OK;
  if (t.device == POD_DEVICE_CPU) return pod_cpu_fill(&t, start, step, seed, random);
  pod_fill_params p;
  memset(&p, 0, sizeof p);
  p.data = t.data;
  p.dtype = t.dtype;
  p.ndim = t.ndim;
  for (int i = 0; i < t.ndim; i++) {
    p.shape[i] = t.shape[i];
    p.strides[i] = t.strides[i];
  }
  p.total = total;
  p.start = start;
  p.step = step;
  p.seed = seed;
  p.random = random;
  CUfunction fn;
  st = pod_cuda_kernel(t.device, "fill", "pod_fill_kernel", &fn);
  if (st != POD_OK) return st;
  int64_t blocks = (total + 255) / 256;
  if (blocks > 65535) blocks = 65535;
  void* params[] = {&p};
  return pod_cuda_launch(fn, (unsigned)blocks, 1, 1, 256, 0, (CUstream)s.cu_stream, params, "pod_fill_kernel launch");
}

int32_t pod_tensor_fill_impl(const pod_tensor* tensor, double start, double step, uint64_t stream) {
  return fill(tensor, start, step, 0, 0, stream);
}

int32_t pod_tensor_fill_random_impl(const pod_tensor* tensor, uint64_t seed, double low, double high, uint64_t stream) {
  if (!(low <= high)) return pod_fail(POD_ERR_INVALID_ARGUMENT, "low: %g must not exceed high %g", low, high);
  return fill(tensor, low, high, seed, 1, stream);
}

int32_t pod_probe_mma_impl(int32_t device, int32_t blocks, int32_t iterations, uint64_t sink, uint64_t stream, double* flops) {
  if (device == POD_DEVICE_CPU) return pod_fail(POD_ERR_INVALID_ARGUMENT, "device: the MMA probe runs on CUDA devices only");
  if (blocks < 1 || iterations < 1) return pod_fail(POD_ERR_INVALID_ARGUMENT, "blocks/iterations: expected positive counts, got %d and %d", blocks, iterations);
  if (sink == 0 || flops == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: null pointer", sink == 0 ? "sink" : "flops");
  pod_stream_obj s;
  int32_t st = enter(device, stream, &s);
  CUfunction fn;
  if (st == POD_OK) st = pod_cuda_kernel(device, "probe", "pod_probe_mma_kernel", &fn);
  if (st != POD_OK) return st;
  void* params[] = {&iterations, &sink};
  st = pod_cuda_launch(fn, (unsigned)blocks, 1, 1, 128, 0, (CUstream)s.cu_stream, params, "pod_probe_mma_kernel launch");
  *flops = (double)blocks * 4 /* warps */ * iterations * 8 * (2.0 * 16 * 8 * 16);
  return st;
}
