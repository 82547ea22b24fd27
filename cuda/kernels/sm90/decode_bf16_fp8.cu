// sm_90a decode kernels for __nv_bfloat16 queries over fp8 (e4m3, e5m2) caches (head_dim 64 and 128;
// plain scores, logits soft cap, ALiBi, RoPE).
#include "kernels/sm90/decode_kernel.cuh"

POD_DEFINE_SM90_DECODE_FP8(__nv_bfloat16, bf16, 64)
POD_DEFINE_SM90_DECODE_FP8(__nv_bfloat16, bf16, 128)
