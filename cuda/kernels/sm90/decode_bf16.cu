// sm_90a decode kernels for __nv_bfloat16 (head_dim 64 and 128, plain scores and logits soft cap).
#include "kernels/sm90/decode_kernel.cuh"

POD_DEFINE_SM90_DECODE(__nv_bfloat16, bf16, 64)
POD_DEFINE_SM90_DECODE(__nv_bfloat16, bf16, 128)
