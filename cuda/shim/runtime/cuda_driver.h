/* The CUDA driver, loaded at run time: libcuda.so.1 is dlopened on first use and every entry point is
 * resolved through cuGetProcAddress at an explicit CUDA version, so each pointer has the signature of
 * that version's headers. cuda.h is included for its types only. */
#ifndef POD_CUDA_DRIVER_H
#define POD_CUDA_DRIVER_H

#include <cuda.h>
#include <stdint.h>

/* The ABI version requested for every entry point (CUDA 12.0). */
#define POD_CUDA_ABI_VERSION 12000

/* X(name without the "cu" prefix, return type, parameter list) */
#define POD_CUDA_FUNCTIONS(X)                                                                   \
  X(Init, CUresult, (unsigned int))                                                             \
  X(DriverGetVersion, CUresult, (int*))                                                         \
  X(GetErrorName, CUresult, (CUresult, const char**))                                           \
  X(GetErrorString, CUresult, (CUresult, const char**))                                         \
  X(DeviceGetCount, CUresult, (int*))                                                           \
  X(DeviceGet, CUresult, (CUdevice*, int))                                                      \
  X(DeviceGetName, CUresult, (char*, int, CUdevice))                                            \
  X(DeviceGetAttribute, CUresult, (int*, CUdevice_attribute, CUdevice))                         \
  X(DeviceTotalMem, CUresult, (size_t*, CUdevice))                                              \
  X(DevicePrimaryCtxRetain, CUresult, (CUcontext*, CUdevice))                                   \
  X(CtxSetCurrent, CUresult, (CUcontext))                                                       \
  X(CtxSynchronize, CUresult, (void))                                                           \
  X(MemGetInfo, CUresult, (size_t*, size_t*))                                                   \
  X(MemAlloc, CUresult, (CUdeviceptr*, size_t))                                                 \
  X(MemFree, CUresult, (CUdeviceptr))                                                           \
  X(MemAllocAsync, CUresult, (CUdeviceptr*, size_t, CUstream))                                  \
  X(MemFreeAsync, CUresult, (CUdeviceptr, CUstream))                                            \
  X(MemsetD8Async, CUresult, (CUdeviceptr, unsigned char, size_t, CUstream))                    \
  X(MemcpyHtoDAsync, CUresult, (CUdeviceptr, const void*, size_t, CUstream))                    \
  X(MemcpyDtoHAsync, CUresult, (void*, CUdeviceptr, size_t, CUstream))                          \
  X(MemcpyDtoDAsync, CUresult, (CUdeviceptr, CUdeviceptr, size_t, CUstream))                    \
  X(StreamCreate, CUresult, (CUstream*, unsigned int))                                          \
  X(StreamDestroy, CUresult, (CUstream))                                                        \
  X(StreamSynchronize, CUresult, (CUstream))                                                    \
  X(EventCreate, CUresult, (CUevent*, unsigned int))                                            \
  X(EventDestroy, CUresult, (CUevent))                                                          \
  X(EventRecord, CUresult, (CUevent, CUstream))                                                 \
  X(EventSynchronize, CUresult, (CUevent))                                                      \
  X(EventElapsedTime, CUresult, (float*, CUevent, CUevent))                                     \
  X(ModuleLoadData, CUresult, (CUmodule*, const void*))                                         \
  X(ModuleGetFunction, CUresult, (CUfunction*, CUmodule, const char*))                          \
  X(FuncSetAttribute, CUresult, (CUfunction, CUfunction_attribute, int))                        \
  X(OccupancyMaxActiveBlocksPerMultiprocessor, CUresult, (int*, CUfunction, int, size_t))         \
  X(LaunchKernelEx, CUresult, (const CUlaunchConfig*, CUfunction, void**, void**))              \
  X(FuncGetAttribute, CUresult, (int*, CUfunction_attribute, CUfunction))                       \
  X(StreamGetCtx, CUresult, (CUstream, CUcontext*))                                             \
  X(StreamBeginCapture, CUresult, (CUstream, CUstreamCaptureMode))                              \
  X(StreamEndCapture, CUresult, (CUstream, CUgraph*))                                           \
  X(StreamIsCapturing, CUresult, (CUstream, CUstreamCaptureStatus*))                            \
  X(GraphInstantiateWithFlags, CUresult, (CUgraphExec*, CUgraph, unsigned long long))           \
  X(GraphLaunch, CUresult, (CUgraphExec, CUstream))                                             \
  X(GraphExecUpdate, CUresult, (CUgraphExec, CUgraph, CUgraphExecUpdateResultInfo*))            \
  X(GraphGetNodes, CUresult, (CUgraph, CUgraphNode*, size_t*))                                  \
  X(GraphDestroy, CUresult, (CUgraph))                                                          \
  X(GraphExecDestroy, CUresult, (CUgraphExec))                                                  \
  X(DeviceGetMemPool, CUresult, (CUmemoryPool*, CUdevice))                                      \
  X(MemPoolGetAttribute, CUresult, (CUmemoryPool, CUmemPool_attribute, void*))                  \
  X(PointerGetAttribute, CUresult, (void*, CUpointer_attribute, CUdeviceptr))                   \
  X(MemHostAlloc, CUresult, (void**, size_t, unsigned int))                                     \
  X(MemFreeHost, CUresult, (void*))                                                             \
  X(MemHostGetDevicePointer, CUresult, (CUdeviceptr*, void*, unsigned int))                     \
  X(TensorMapEncodeTiled, CUresult, (CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*, const cuuint64_t*, \
                                     const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,           \
                                     CUtensorMapL2promotion, CUtensorMapFloatOOBfill))

typedef struct pod_cuda_api {
#define POD_CUDA_MEMBER(name, ret, params) ret(CUDAAPI* name) params;
  POD_CUDA_FUNCTIONS(POD_CUDA_MEMBER)
#undef POD_CUDA_MEMBER
} pod_cuda_api;

extern pod_cuda_api pod_cu;

/* Loads the driver once. POD_ERR_NO_DRIVER (with the reason) when it is missing or too old. */
int32_t pod_cuda_load(void);
/* Number of devices (after pod_cuda_load). */
int32_t pod_cuda_count(int32_t* count);
/* Makes the device's primary context current on this thread, retaining it on first use. */
int32_t pod_cuda_use(int32_t device);
/* Turns a driver result into a status with a message "what: CUDA_ERROR_X (text)". */
int32_t pod_cuda_check(CUresult result, const char* what);
/* Whether the device supports stream-ordered allocation. */
int pod_cuda_has_mempool(int32_t device);
/* Kernel `name` of the embedded fatbin `module` (the .cu file's stem), loaded into the device's
 * context on first use. */
int32_t pod_cuda_kernel(int32_t device, const char* module, const char* name, CUfunction* function);
/* The device's primary context (after pod_cuda_use succeeded for it once). */
CUcontext pod_cuda_context(int32_t device);
/* Compute capability major * 10 + minor (after pod_cuda_use). */
int32_t pod_cuda_cc(int32_t device);
/* Whether the device can overlap a kernel with the one before it in its stream (programmatic dependent
 * launch, compute capability 9.0 and newer). */
int pod_cuda_device_has_pdl(int32_t device);

/* Launch options of the calling thread, for the launches of one library call (a wrapper's run()):
 * with `pdl` set, kernels compiled for sm_90 or newer (they wait with griddepcontrol.wait before
 * touching memory) are launched with programmatic stream serialization, so they may start while the
 * kernel before them drains. Returns the previous setting, for the caller to restore. */
int pod_cuda_set_pdl(int pdl);

/* Launches through cuLaunchKernelEx (with the calling thread's launch options). */
int32_t pod_cuda_launch(CUfunction function, unsigned grid_x, unsigned grid_y, unsigned grid_z, unsigned block_x,
                        unsigned smem_bytes, CUstream stream, void** params, const char* what);

#endif
