// Attention kernels for __half, head_dim 256 (both tile shapes).
#include "kernels/sm80/attention.cuh"

POD_DEFINE_HEAD_DIM(__half, f16, 256)
