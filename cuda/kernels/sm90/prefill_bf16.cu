// sm_90a prefill kernels for __nv_bfloat16 (head_dim 64, 128 and 256, plain scores and logits soft cap).
#include "kernels/sm90/prefill_kernel.cuh"

POD_DEFINE_SM90_PREFILL(__nv_bfloat16, bf16, 64)
POD_DEFINE_SM90_PREFILL(__nv_bfloat16, bf16, 128)
POD_DEFINE_SM90_PREFILL(__nv_bfloat16, bf16, 256)
