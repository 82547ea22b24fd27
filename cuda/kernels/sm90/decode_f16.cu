// sm_90a decode kernels for __half queries over __half caches (head_dim 64 and 128; plain scores,
// logits soft cap, ALiBi, RoPE).
#include "kernels/sm90/decode_kernel.cuh"

POD_DEFINE_SM90_DECODE(__half, f16, 64)
POD_DEFINE_SM90_DECODE(__half, f16, 128)
