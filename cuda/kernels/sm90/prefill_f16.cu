// sm_90a prefill kernels for __half (head_dim 64, 128 and 256, plain scores and logits soft cap).
#include "kernels/sm90/prefill_kernel.cuh"

POD_DEFINE_SM90_PREFILL(__half, f16, 64)
POD_DEFINE_SM90_PREFILL(__half, f16, 128)
POD_DEFINE_SM90_PREFILL(__half, f16, 256)
