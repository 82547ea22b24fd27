/* Loading the CUDA driver, per-device contexts and the embedded kernels. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/error.h"

pod_cuda_api pod_cu;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int32_t load_status = POD_ERR_NO_DRIVER;
static char load_message[512];
static int device_count;

typedef CUresult(CUDAAPI* get_proc_address_fn)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*);

static void load_driver(void) {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    const char* why = dlerror();
    snprintf(load_message, sizeof load_message, "no CUDA driver: libcuda.so.1 could not be loaded (%s)",
             why ? why : "not found");
    return;
  }
  get_proc_address_fn get_proc = (get_proc_address_fn)dlsym(lib, "cuGetProcAddress_v2");
  if (get_proc == NULL) {
    snprintf(load_message, sizeof load_message,
             "no CUDA driver: libcuda.so.1 lacks cuGetProcAddress_v2; a driver for CUDA 12.0 or newer is required");
    return;
  }
#define POD_CUDA_RESOLVE(name, ret, params)                                                                      \
  {                                                                                                              \
    CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;                                 \
    void* fn = NULL;                                                                                             \
    if (get_proc("cu" #name, &fn, POD_CUDA_ABI_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &found) != CUDA_SUCCESS ||  \
        fn == NULL) {                                                                                            \
      snprintf(load_message, sizeof load_message,                                                                \
               "no CUDA driver: entry point cu" #name " (CUDA %d ABI) is missing; the driver is too old",        \
               POD_CUDA_ABI_VERSION);                                                                            \
      return;                                                                                                    \
    }                                                                                                            \
    memcpy(&pod_cu.name, &fn, sizeof fn);                                                                        \
  }
  POD_CUDA_FUNCTIONS(POD_CUDA_RESOLVE)
#undef POD_CUDA_RESOLVE
  int version = 0;
  pod_cu.DriverGetVersion(&version);
  if (version < POD_CUDA_ABI_VERSION) {
    snprintf(load_message, sizeof load_message, "no CUDA driver: the driver supports CUDA %d.%d, 12.0 or newer is required",
             version / 1000, version % 1000 / 10);
    return;
  }
  CUresult r = pod_cu.Init(0);
  if (r == CUDA_ERROR_NO_DEVICE) {
    load_status = POD_ERR_NO_DEVICE;
    snprintf(load_message, sizeof load_message, "no CUDA device: the driver loaded but reports no GPU");
    return;
  }
  if (r != CUDA_SUCCESS) {
    const char* name = "unknown";
    pod_cu.GetErrorName(r, &name);
    snprintf(load_message, sizeof load_message, "no CUDA driver: cuInit failed with %s", name);
    return;
  }
  if (pod_cu.DeviceGetCount(&device_count) != CUDA_SUCCESS) device_count = 0;
  load_status = POD_OK;
}

int32_t pod_cuda_load(void) {
  pthread_once(&load_once, load_driver);
  if (load_status != POD_OK) return pod_fail(load_status, "%s", load_message);
  return POD_OK;
}

int32_t pod_cuda_count(int32_t* count) {
  int32_t st = pod_cuda_load();
  if (st == POD_ERR_NO_DEVICE) {
    *count = 0;
    return POD_OK;
  }
  if (st != POD_OK) return st;
  *count = device_count;
  return POD_OK;
}

int32_t pod_cuda_check(CUresult result, const char* what) {
  if (result == CUDA_SUCCESS) return POD_OK;
  const char* name = "CUDA_ERROR_UNKNOWN";
  const char* text = "";
  pod_cu.GetErrorName(result, &name);
  pod_cu.GetErrorString(result, &text);
  int32_t status = result == CUDA_ERROR_OUT_OF_MEMORY ? POD_ERR_OUT_OF_MEMORY : POD_ERR_CUDA;
  return pod_fail(status, "%s: %s (%s)", what, name, text);
}

/* Per-device state: the primary context, its capabilities and the modules loaded from the fatbins. */
#define POD_MAX_CUDA_DEVICES 64
#define POD_MAX_MODULES 64

typedef struct blob {
  const char* name;
  const unsigned char* data;
  size_t size;
} blob;
extern const blob podk_fatbins[];
extern const size_t podk_fatbin_count;

typedef struct device_state {
  pthread_mutex_t lock;
  int ready;
  int has_mempool;
  int cc; /* compute capability, major * 10 + minor */
  CUcontext context;
  int modules_loaded;
  CUmodule modules[POD_MAX_MODULES];
} device_state;

static device_state devices[POD_MAX_CUDA_DEVICES] = {[0 ... POD_MAX_CUDA_DEVICES - 1] = {.lock = PTHREAD_MUTEX_INITIALIZER}};

int32_t pod_cuda_use(int32_t device) {
  int32_t st = pod_cuda_load();
  if (st != POD_OK) return st;
  if (device < 0 || device >= device_count || device >= POD_MAX_CUDA_DEVICES)
    return pod_fail(POD_ERR_NO_DEVICE, "no CUDA device %d: %d device(s) present", device, device_count);
  device_state* d = &devices[device];
  if (!__atomic_load_n(&d->ready, __ATOMIC_ACQUIRE)) {
    pthread_mutex_lock(&d->lock);
    if (!d->ready) {
      CUdevice dev;
      st = pod_cuda_check(pod_cu.DeviceGet(&dev, device), "cuDeviceGet");
      if (st == POD_OK) st = pod_cuda_check(pod_cu.DevicePrimaryCtxRetain(&d->context, dev), "cuDevicePrimaryCtxRetain");
      if (st == POD_OK) {
        int pools = 0;
        pod_cu.DeviceGetAttribute(&pools, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, dev);
        d->has_mempool = pools;
        int major = 0, minor = 0;
        pod_cu.DeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
        pod_cu.DeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
        d->cc = major * 10 + minor;
        __atomic_store_n(&d->ready, 1, __ATOMIC_RELEASE);
      }
    }
    pthread_mutex_unlock(&d->lock);
    if (st != POD_OK) return st;
  }
  return pod_cuda_check(pod_cu.CtxSetCurrent(d->context), "cuCtxSetCurrent");
}

int pod_cuda_has_mempool(int32_t device) { return devices[device].has_mempool; }

CUcontext pod_cuda_context(int32_t device) { return devices[device].context; }

int32_t pod_cuda_cc(int32_t device) { return devices[device].cc; }

int pod_cuda_device_has_pdl(int32_t device) { return devices[device].cc >= 90; }

static int32_t load_modules(int32_t device) {
  device_state* d = &devices[device];
  int32_t st = POD_OK;
  pthread_mutex_lock(&d->lock);
  for (size_t i = 0; !d->modules_loaded && i < podk_fatbin_count && i < POD_MAX_MODULES; i++) {
    char what[128];
    snprintf(what, sizeof what, "cuModuleLoadData(%s)", podk_fatbins[i].name);
    st = pod_cuda_check(pod_cu.ModuleLoadData(&d->modules[i], podk_fatbins[i].data), what);
    if (st != POD_OK) {
      for (size_t j = 0; j < i; j++) d->modules[j] = NULL;
      break;
    }
    if (i + 1 == podk_fatbin_count) __atomic_store_n(&d->modules_loaded, 1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&d->lock);
  return st;
}

int32_t pod_cuda_kernel(int32_t device, const char* module, const char* name, CUfunction* function) {
  /* Modules load into the current context: make it the device's (the caller may have used another
   * device last on this thread). */
  int32_t st = pod_cuda_use(device);
  if (st != POD_OK) return st;
  if (!__atomic_load_n(&devices[device].modules_loaded, __ATOMIC_ACQUIRE)) {
    st = load_modules(device);
    if (st != POD_OK) return st;
  }
  /* Ask only the module that defines the kernel: a miss is a driver error (and a sanitizer report). */
  for (size_t i = 0; i < podk_fatbin_count && i < POD_MAX_MODULES; i++) {
    if (strcmp(podk_fatbins[i].name, module) != 0) continue;
    char what[96];
    snprintf(what, sizeof what, "cuModuleGetFunction(%s)", name);
    return pod_cuda_check(pod_cu.ModuleGetFunction(function, devices[device].modules[i], name), what);
  }
  return pod_fail(POD_ERR_INTERNAL, "kernel module %s is not among the embedded fatbins", module);
}

static _Thread_local int launch_pdl;

int pod_cuda_set_pdl(int pdl) {
  int previous = launch_pdl;
  launch_pdl = pdl;
  return previous;
}

/* Whether a kernel waits for the grid before it (griddepcontrol.wait) before touching memory: every
 * kernel of the library does when compiled for sm_90 or newer (kernels/common/pdl.cuh). Code JIT-compiled
 * from older PTX lacks the wait, so it is launched without the overlap. Cached per function. */
#define POD_PDL_CACHE 256
static struct {
  CUfunction function;
  int waits;
} pdl_cache[POD_PDL_CACHE];
static int pdl_cache_count;
static pthread_mutex_t pdl_lock = PTHREAD_MUTEX_INITIALIZER;

static int kernel_waits(CUfunction function) {
  int n = __atomic_load_n(&pdl_cache_count, __ATOMIC_ACQUIRE);
  for (int i = 0; i < n; i++)
    if (pdl_cache[i].function == function) return pdl_cache[i].waits;
  int ptx = 0;
  int waits = pod_cu.FuncGetAttribute(&ptx, CU_FUNC_ATTRIBUTE_PTX_VERSION, function) == CUDA_SUCCESS && ptx >= 90;
  pthread_mutex_lock(&pdl_lock);
  if (pdl_cache_count < POD_PDL_CACHE) {
    pdl_cache[pdl_cache_count].function = function;
    pdl_cache[pdl_cache_count].waits = waits;
    __atomic_store_n(&pdl_cache_count, pdl_cache_count + 1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&pdl_lock);
  return waits;
}

int32_t pod_cuda_launch(CUfunction function, unsigned grid_x, unsigned grid_y, unsigned grid_z, unsigned block_x,
                        unsigned smem_bytes, CUstream stream, void** params, const char* what) {
  CUlaunchConfig config;
  memset(&config, 0, sizeof config);
  config.gridDimX = grid_x;
  config.gridDimY = grid_y;
  config.gridDimZ = grid_z;
  config.blockDimX = block_x;
  config.blockDimY = 1;
  config.blockDimZ = 1;
  config.sharedMemBytes = smem_bytes;
  config.hStream = stream;
  CUlaunchAttribute attr;
  memset(&attr, 0, sizeof attr);
  if (launch_pdl && kernel_waits(function)) {
    attr.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attr.value.programmaticStreamSerializationAllowed = 1;
    config.attrs = &attr;
    config.numAttrs = 1;
  }
  return pod_cuda_check(pod_cu.LaunchKernelEx(&config, function, params, NULL), what);
}
