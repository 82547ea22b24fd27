/* Parameters of the fill kernel, shared by the shim (C) and the kernel (CUDA). */
#ifndef POD_FILL_PARAMS_H
#define POD_FILL_PARAMS_H

#include <stdint.h>

typedef struct pod_fill_params {
  uint64_t data;
  int32_t dtype; /* pod_dtype */
  int32_t ndim;
  int64_t shape[6];
  int64_t strides[6];
  int64_t total;
  double start;   /* random: low */
  double step;    /* random: high */
  uint64_t seed;
  int32_t random; /* 0: start + i * step; 1: uniform in [low, high) from (seed, i) */
  int32_t reserved;
} pod_fill_params;

/* A uniform number in [0, 1) from (seed, i): splitmix64, identical on the CPU and the GPU. */
#ifdef __CUDACC__
__host__ __device__
#else
static
#endif
inline double pod_uniform(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

#endif
