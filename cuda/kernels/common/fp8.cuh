// fp8 (e4m3 / e5m2) to fp16 / bf16 for the KV tiles of fp8 caches. Every fp8 value is exactly
// representable in both 16-bit types, so the conversion loses nothing; it goes through half2, which
// sm_89 and newer convert in one instruction (cuda_fp8.h picks it) and older GPUs in a few integer ops.
#pragma once
#include <cuda_fp8.h>

#include <type_traits>

#include "kernels/common/mma.cuh"

namespace pod {

// Two fp8 values (low byte first) as two packed 16-bit values of T.
template <typename T>
__device__ __forceinline__ uint32_t fp8x2_to(uint32_t pair, bool e5m2) {
  const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(pair), e5m2 ? __NV_E5M2 : __NV_E4M3);
  if constexpr (std::is_same_v<T, __half>) {
    return static_cast<uint32_t>(h.x) | static_cast<uint32_t>(h.y) << 16;
  } else {
    const float2 f = __half22float2(__half2(h));
    return pack2<T>(f.x, f.y);
  }
}

// 16 fp8 values (one 16-byte chunk) as two 16-byte chunks of T: lo holds the first 8.
template <typename T>
__device__ __forceinline__ void fp8x16_to(const uint4 in, const bool e5m2, uint4& lo, uint4& hi) {
  lo.x = fp8x2_to<T>(in.x & 0xffffu, e5m2), lo.y = fp8x2_to<T>(in.x >> 16, e5m2);
  lo.z = fp8x2_to<T>(in.y & 0xffffu, e5m2), lo.w = fp8x2_to<T>(in.y >> 16, e5m2);
  hi.x = fp8x2_to<T>(in.z & 0xffffu, e5m2), hi.y = fp8x2_to<T>(in.z >> 16, e5m2);
  hi.z = fp8x2_to<T>(in.w & 0xffffu, e5m2), hi.w = fp8x2_to<T>(in.w >> 16, e5m2);
}

}  // namespace pod
