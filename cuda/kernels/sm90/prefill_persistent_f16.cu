// Persistent sm_90a prefill kernels for __half (head_dim 64 and 128, plain scores and logits soft cap).
#include "kernels/sm90/prefill_persistent.cuh"

POD_DEFINE_SM90_PREFILL_PERSISTENT(__half, f16, 64)
POD_DEFINE_SM90_PREFILL_PERSISTENT(__half, f16, 128)
