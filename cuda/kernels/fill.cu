// Fills a strided tensor with start + i * step, or with uniform random numbers from (seed, i) (i: the
// linear logical index). Used by Tensor.fill / Tensor.random, by benchmarks, and by the smoke test
// that proves kernels load from the embedded fatbin and launch.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include "kernels/fill_params.h"
#include "kernels/common/pdl.cuh"

extern "C" __global__ void pod_fill_kernel(const pod_fill_params p) {
  pod_pdl_enter();
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < p.total; i += stride) {
    int64_t rest = i, offset = 0;
    for (int d = p.ndim - 1; d >= 0; d--) {
      offset += (rest % p.shape[d]) * p.strides[d];
      rest /= p.shape[d];
    }
    const double value = p.random ? p.start + (p.step - p.start) * pod_uniform(p.seed, (uint64_t)i) : p.start + (double)i * p.step;
    switch (p.dtype) {
      case 0: reinterpret_cast<float*>(p.data)[offset] = (float)value; break;
      case 1: reinterpret_cast<__half*>(p.data)[offset] = __float2half_rn((float)value); break;
      case 2: reinterpret_cast<__nv_bfloat16*>(p.data)[offset] = __float2bfloat16_rn((float)value); break;
      // Integer dtypes saturate, as on the CPU backend.
      case 3: reinterpret_cast<int32_t*>(p.data)[offset] = (int32_t)fmin(fmax(value, -2147483648.0), 2147483647.0); break;
      case 4: reinterpret_cast<uint8_t*>(p.data)[offset] = (uint8_t)fmin(fmax(value, 0.0), 255.0); break;
      case 5: reinterpret_cast<uint8_t*>(p.data)[offset] = value != 0.0; break;
      // fp8 saturates to the largest finite value, as on the CPU backend.
      case 6: reinterpret_cast<uint8_t*>(p.data)[offset] = __nv_cvt_float_to_fp8((float)value, __NV_SATFINITE, __NV_E4M3); break;
      case 7: reinterpret_cast<uint8_t*>(p.data)[offset] = __nv_cvt_float_to_fp8((float)value, __NV_SATFINITE, __NV_E5M2); break;
    }
  }
}
