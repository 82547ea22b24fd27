// Attention kernels for __nv_bfloat16 queries on fp8 (e4m3 / e5m2) caches, head_dim 64 (both tile shapes).
#include "kernels/sm80/attention.cuh"

POD_DEFINE_HEAD_DIM_FP8(__nv_bfloat16, bf16, 64)
