// sm_90a POD kernels for __nv_bfloat16 (head_dim 64 and 128, plain prefill scores and logits soft cap).
#include "kernels/sm90/pod_kernel.cuh"

POD_DEFINE_SM90_POD(__nv_bfloat16, bf16, 64)
POD_DEFINE_SM90_POD(__nv_bfloat16, bf16, 128)
