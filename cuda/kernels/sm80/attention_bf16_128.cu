// Attention kernels for __nv_bfloat16, head_dim 128 (both tile shapes).
#include "kernels/sm80/attention.cuh"

POD_DEFINE_HEAD_DIM(__nv_bfloat16, bf16, 128)
