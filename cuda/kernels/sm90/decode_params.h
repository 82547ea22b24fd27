/* Geometry of the sm_90a decode kernel, shared by the shim (C) and the kernel (CUDA). Its parameters
 * are a pod_sm90_side_params (prefill_params.h: the side plus TMA descriptors of its K/V caches), with
 * boxes of at most POD_SM90_DECODE_KEYS slots. */
#ifndef POD_SM90_DECODE_PARAMS_H
#define POD_SM90_DECODE_PARAMS_H

#include "kernels/sm90/prefill_params.h"

/* A producer warp (one TMA issuer per page of a tile) and four consumer warps, each taking 16 keys of
 * every 64-key tile for the 16 packed rows of the decode tile shape. */
#define POD_SM90_DECODE_THREADS 160
#define POD_SM90_DECODE_KEYS 64
#define POD_SM90_DECODE_ROWS 16
/* K/V tile pairs in the ring: as many as leave room for two CTAs per SM (16-bit caches at head_dim
 * 128: three pairs of 16 KiB tiles; 64: six of 8 KiB). fp8 caches land as stored and the consumer
 * warps convert in registers: six pairs of 8 KiB tiles at 128, twelve at 64. */
POD_HD int pod_sm90_decode_ring(int head_dim, int kv_fp8) { return (kv_fp8 ? 2 : 1) * (head_dim <= 64 ? 6 : 3); }
/* One body's shared memory: the K and V ring and the query rows. */
POD_HD int pod_sm90_decode_body_bytes(int head_dim, int kv_fp8) {
  return 2 * pod_sm90_decode_ring(head_dim, kv_fp8) * POD_SM90_DECODE_KEYS * head_dim * (kv_fp8 ? 1 : 2) + POD_SM90_DECODE_ROWS * head_dim * 2;
}
/* Dynamic shared memory of the decode kernel: a body and the slack that puts TMA's swizzle patterns
 * on 1024-byte boundaries. */
POD_HD int pod_sm90_decode_smem(int head_dim, int kv_fp8) { return pod_sm90_decode_body_bytes(head_dim, kv_fp8) + 1024; }

#endif
