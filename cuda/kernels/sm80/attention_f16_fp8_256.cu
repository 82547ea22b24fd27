// Attention kernels for __half queries on fp8 (e4m3 / e5m2) caches, head_dim 256 (both tile shapes).
#include "kernels/sm80/attention.cuh"

POD_DEFINE_HEAD_DIM_FP8(__half, f16, 256)
