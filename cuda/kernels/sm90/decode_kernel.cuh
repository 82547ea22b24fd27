// The sm_90a decode kernel: memory-bound attention of a few packed query rows (the decode tile: 16
// rows, a request's query heads of one KV head) over a long paged K/V range. A producer warp streams
// the request's K/V tiles with TMA into a ring of mbarrier-guarded slots (its lanes read a tile's page
// ids and issue one box per page in parallel, running ahead of the consumers by the ring's depth, so
// page-id loads stay off the consumers' path); four consumer warps each take 16 keys of every tile
// (mma.sync m16n8k16, fragments by ldmatrix from TMA's 128-byte swizzle) with their own online softmax,
// free the slot, and combine their rows at the end. Split key ranges and their merge are the
// planner's, as for the portable kernel.
#pragma once
#include "kernels/common/fp8.cuh"
#include "kernels/common/merge.cuh"
#include "kernels/common/mma.cuh"
#include "kernels/common/pdl.cuh"
#include "kernels/common/work_tile.cuh"
#include "kernels/sm90/decode_params.h"
#include "kernels/sm90/pipeline.cuh"
#include "kernels/sm90/prefill_softmax.cuh"

namespace pod::sm90 {

// KV8: the cache's format, 0 (16-bit, the queries' dtype), 1 (fp8 e4m3) or 2 (fp8 e5m2).
template <int D, int KV8>
struct DecodeTraits {
  static_assert(D == 64 || D == 128, "the sm_90a decode covers head_dim 64 and 128");
  static constexpr int kRows = POD_SM90_DECODE_ROWS;
  static constexpr int kKeys = POD_SM90_DECODE_KEYS;
  static constexpr int kRing = pod_sm90_decode_ring(D, KV8 != 0);
  static constexpr int kBlocks = D / 64;                  // 128-byte column blocks of a 16-bit row
  // TMA boxes per row: 64-element swizzled blocks of 16-bit rows; one unswizzled box of an fp8 row.
  static constexpr int kBoxes = KV8 ? 1 : kBlocks;
  static constexpr int kTileBytes = kKeys * D * (KV8 ? 1 : 2);  // one K (or V) tile as loaded
  static constexpr int kWarpKeys = kKeys / 4;             // keys of a tile per consumer warp
  // fp8: a consumer warp's 16-bit K and V rows, in the swizzled layout of 16-bit tiles (16 rows).
  static constexpr int kStagingBytes = KV8 ? 2 * kWarpKeys * D * 2 : 0;
  static constexpr int kSlotBytes = 2 * kRing * kTileBytes + 4 * kStagingBytes + kRows * D * 2;  // one body's shared memory
  static_assert(kSlotBytes % 1024 == 0, "a body's slice keeps the next one's swizzle patterns aligned");
  static_assert(pod_sm90_decode_smem(D, KV8 != 0) == kSlotBytes + 1024, "the shim's size");
  static_assert(4 * kRows * D * 4 + 2 * 4 * kRows * 4 <= 2 * kRing * kTileBytes, "the warps' rows fit in the ring");
};

template <int S>
struct DecodeBarriers {
  uint64_t full[S], empty[S];  // a slot's K and V tiles landed / all consumer warps are done with them
  int tile_ok, bad, merges_here;
  WorkTile tile;
};

// Decode work item `cta` on threads 160 slot .. 160 slot + 159 of the CTA, in the 1024-byte aligned
// shared memory `smem` (DecodeTraits::kSlotBytes) with barriers `bars`: the whole CTA of the decode
// kernel (slot 0), or one of the bodies of a POD launch's decode task. Named barriers 1 + 2 slot (the
// body) and 2 + 2 slot (its consumers).
template <typename T, int D, typename Score, int KV8 = 0>
__device__ __forceinline__ void decode_body(const pod_sm90_side_params& P, const int cta, const int slot, uint8_t* smem,
                                            DecodeBarriers<DecodeTraits<D, KV8>::kRing>& bars) {
#if POD_HAS_WGMMA
  using Tr = DecodeTraits<D, KV8>;
  constexpr int KK = Tr::kKeys, S = Tr::kRing, ROWS = Tr::kRows;
  const pod_attn_params& p = P.p;
  uint8_t* sK = smem;
  uint8_t* sV = sK + S * Tr::kTileBytes;
  uint8_t* sStaging = sV + S * Tr::kTileBytes;  // fp8: four warps' 16-bit rows
  uint8_t* sQ = sStaging + 4 * Tr::kStagingBytes;
  const int tid = threadIdx.x - POD_SM90_DECODE_THREADS * slot, body_bar = 1 + 2 * slot, consumer_bar = 2 + 2 * slot;

  if (tid == 0) {
    bars.tile_ok = load_work_tile(p, cta, ROWS, &bars.tile);
    bars.bad = 0;
#pragma unroll
    for (int s = 0; s < S; s++) bar_init(&bars.full[s], 1), bar_init(&bars.empty[s], 4);
    bar_init_fence();
  }
  named_sync(body_bar, POD_SM90_DECODE_THREADS);
  if (!bars.tile_ok) return;
  const WorkTile w = bars.tile;
  // Keys of tile t start at tile0 + t * KK; paged tiles start on a multiple of KK and mask the keys
  // before kv_begin.
  const int tile0 = p.page_size ? (w.kv_begin & ~(KK - 1)) : w.kv_begin;
  const int num_tiles = w.kv_end > w.kv_begin ? (w.kv_end - tile0 + KK - 1) / KK : 0;
  const int warp = tid / 32, lane = tid % 32;

  if (warp == 0) {
    // Producer: lane b issues box b of each tile (a page, or a whole tile of a page that holds more).
    if (num_tiles == 0) return;
    const bool ho = P.heads_outer != 0;
    const int* page_ids = p.page_size ? reinterpret_cast<const int*>(p.kv_indices) + w.page0 : nullptr;
    const int ps = p.page_size, box = page_ids ? min(ps, KK) : KK;
    for (int t = 0; t < num_tiles; t++) {
      const int st = t % S, key0 = tile0 + t * KK;
      int page = 0;
      if (page_ids && lane < KK / box) {
        page = page_ids[min((key0 + lane * box) >> p.page_shift, w.pages - 1)];
        if ((unsigned)page >= (unsigned)p.num_pages) bars.bad = 1, page = 0;  // before the arrival below
      }
      if (lane == 0) bar_wait(&bars.empty[st], ((t / S) & 1) ^ 1);
      __syncwarp();
      if (lane == 0) bar_expect(&bars.full[st], 2 * Tr::kTileBytes);
      __syncwarp();
      if (lane < KK / box) {
        // 16-bit rows: 128-byte blocks KK rows apart; fp8 rows: D bytes each, one after the other.
        constexpr int kRowBytes = KV8 ? D : 128;
        const int key = key0 + lane * box, off = lane * box * kRowBytes;
        uint8_t* k_dst = sK + st * Tr::kTileBytes + off;
        uint8_t* v_dst = sV + st * Tr::kTileBytes + off;
#pragma unroll
        for (int cb = 0; cb < Tr::kBoxes; cb++) {
          if (page_ids) {
            const int slot = key & (ps - 1);
            tma_load(k_dst + cb * KK * 128, &P.k_map, cb * 64, ho ? slot : w.kv_head, ho ? w.kv_head : slot, page, &bars.full[st]);
            tma_load(v_dst + cb * KK * 128, &P.v_map, cb * 64, ho ? slot : w.kv_head, ho ? w.kv_head : slot, page, &bars.full[st]);
          } else {
            tma_load(k_dst + cb * KK * 128, &P.k_map, cb * 64, ho ? key : w.kv_head, ho ? w.kv_head : key, &bars.full[st]);
            tma_load(v_dst + cb * KK * 128, &P.v_map, cb * 64, ho ? key : w.kv_head, ho ? w.kv_head : key, &bars.full[st]);
          }
        }
      }
    }
    return;
  }

  // Consumers: warp cw takes keys 16 cw .. 16 cw + 15 of every tile for all 16 rows.
  const int cw = warp - 1, ctid = tid - 32, g = lane / 4, t4 = lane % 4;
  const int group = p.group;
  constexpr int kChunks = D / 8;
  for (int c = ctid; c < ROWS * kChunks; c += 128) {
    const int row = c / kChunks, ch = c % kChunks;
    const int pr = w.row_start + row, token = pr / group, head = w.kv_head * group + pr % group;
    const bool ok = token < w.qo_len;
    const T* src = reinterpret_cast<const T*>(p.q) + (ok ? (int64_t)(w.q_start + token) * p.q_stride_t + (int64_t)head * p.q_stride_h + ch * 8 : 0);
    cp_async16(smem_addr(sQ + swizzle128_offset(ROWS, row, ch)), src, ok ? 16 : 0);
  }
  cp_async_commit();
  cp_async_wait<0>();
  named_sync(consumer_bar, 128);
  // Query fragments are read from shared memory on each tile rather than held: the registers go to
  // O, and the body fits a POD launch's 168 registers a thread.
  const uint32_t q_base = smem_addr(sQ);

  // Key bounds of this thread's rows g and g + 8; padding rows stay unmasked (never written).
  const KeyBounds kb{w.kv_begin, w.kv_end, p.causal, p.window_left};
  int lo[2], hi[2];
#pragma unroll
  for (int x = 0; x < 2; x++) {
    const int token = (w.row_start + g + 8 * x) / group;
    const bool valid = token < w.qo_len;
    lo[x] = valid ? kb.lo(w.kv_len - w.qo_len + token) : -2147483647;
    hi[x] = valid ? kb.hi(w.kv_len - w.qo_len + token) : 2147483647;
  }
  const int last_row = min(w.row_start + ROWS - 1, w.qo_len * group - 1);
  int free_lo = -2147483647, free_hi = 2147483647;
  if (w.row_start <= last_row) {
    free_lo = kb.lo(w.kv_len - w.qo_len + last_row / group);
    free_hi = kb.hi(w.kv_len - w.qo_len + w.row_start / group);
  }

  float o[D / 8][4];
#pragma unroll
  for (int b = 0; b < D / 8; b++) o[b][0] = o[b][1] = o[b][2] = o[b][3] = 0.0f;
  RowSoftmax<Tr::kWarpKeys> sm;
  sm.init();
  const Score score(p);
  const int kw = cw * Tr::kWarpKeys;
  // The 16-bit rows the warp multiplies: its 16 keys of the ring's tile (64 rows a 128-byte block), or
  // of its staging buffer (fp8: 16 rows a block).
  constexpr int kBlockRows = KV8 ? Tr::kWarpKeys : KK;
  const int row0 = KV8 ? 0 : kw;
  uint8_t* const k_staging = sStaging + cw * Tr::kStagingBytes;
  uint8_t* const v_staging = k_staging + Tr::kStagingBytes / 2;
  // Per-lane ldmatrix rows (keys) and the XOR of the 128-byte swizzle (key & 7 == lane & 7).
  const uint32_t k_row = (row0 + (lane & 7) + 8 * (lane >> 4)) * 128, k_hi = (lane >> 3) & 1;
  const uint32_t v_row = (row0 + (lane & 7) + 8 * ((lane >> 3) & 1)) * 128, v_hi = lane >> 4;
  const uint32_t sw = lane & 7;

#pragma unroll 1
  for (int t = 0; t < num_tiles; t++) {
    const int st = t % S, key0 = tile0 + t * KK + kw;
    bar_wait(&bars.full[st], (t / S) & 1);
    uint8_t *k_tile = sK + st * Tr::kTileBytes, *v_tile = sV + st * Tr::kTileBytes;
    if constexpr (KV8 != 0) {
      // The warp's 16 fp8 rows of K and V into 16-bit staging (paired conversions, the format a
      // compile-time choice); the ring slot is free as soon as they are read.
      const uint8_t* k8 = k_tile + kw * D;
      const uint8_t* v8 = v_tile + kw * D;
      __syncwarp();  // the previous tile's fragments are read
#pragma unroll
      for (int c = lane; c < Tr::kWarpKeys * D / 16; c += 32) {
        const int r = c / (D / 16), ch = c % (D / 16);
        uint4 lo, hi;
        fp8x16_to<T>(*reinterpret_cast<const uint4*>(k8 + r * D + ch * 16), KV8 == 2, lo, hi);
        *reinterpret_cast<uint4*>(k_staging + swizzle128_offset(Tr::kWarpKeys, r, 2 * ch)) = lo;
        *reinterpret_cast<uint4*>(k_staging + swizzle128_offset(Tr::kWarpKeys, r, 2 * ch + 1)) = hi;
        fp8x16_to<T>(*reinterpret_cast<const uint4*>(v8 + r * D + ch * 16), KV8 == 2, lo, hi);
        *reinterpret_cast<uint4*>(v_staging + swizzle128_offset(Tr::kWarpKeys, r, 2 * ch)) = lo;
        *reinterpret_cast<uint4*>(v_staging + swizzle128_offset(Tr::kWarpKeys, r, 2 * ch + 1)) = hi;
      }
      __syncwarp();
      if (lane == 0) bar_arrive(&bars.empty[st]);
      k_tile = k_staging, v_tile = v_staging;
    }
    const uint32_t kt = smem_addr(k_tile), vt = smem_addr(v_tile);
    float s[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
      const uint32_t ch = 2 * kk + k_hi;
      uint32_t a[4], b[4];
      ldmatrix_x4(a, q_base + swizzle128_offset(ROWS, lane & 15, 2 * kk + (lane >> 4)));
      ldmatrix_x4(b, kt + (ch >> 3) * kBlockRows * 128 + k_row + (((ch & 7) ^ sw) << 4));
      mma16816<T>(s[0], a, b[0], b[1]);
      mma16816<T>(s[1], a, b[2], b[3]);
    }
    if (p.page_size && key0 + Tr::kWarpKeys > w.kv_len) {
      // Slots past the request's end in its last page may hold anything, NaN included, and 0 * NaN
      // is NaN: zero this warp's value rows there before P V reads them.
      const int first = max(0, w.kv_len - key0);
      for (int c = lane; c < (Tr::kWarpKeys - first) * Tr::kBlocks * 8; c += 32) {
        const int cb = c / ((Tr::kWarpKeys - first) * 8), r = row0 + first + (c / 8) % (Tr::kWarpKeys - first), ch = c % 8;
        *reinterpret_cast<uint4*>(v_tile + cb * kBlockRows * 128 + r * 128 + ch * 16) = make_uint4(0, 0, 0, 0);
      }
      __syncwarp();
    }
    float rescale[2];
    sm.step(s, score, key0 < free_lo || key0 + Tr::kWarpKeys - 1 > free_hi, lo, hi, key0 + 2 * t4, rescale);
    if (__any_sync(0xffffffffu, rescale[0] != 1.0f || rescale[1] != 1.0f)) {
#pragma unroll
      for (int b = 0; b < D / 8; b++) o[b][0] *= rescale[0], o[b][1] *= rescale[0], o[b][2] *= rescale[1], o[b][3] *= rescale[1];
    }
    uint32_t a[4] = {pack2<T>(s[0][0], s[0][1]), pack2<T>(s[0][2], s[0][3]), pack2<T>(s[1][0], s[1][1]), pack2<T>(s[1][2], s[1][3])};
#pragma unroll
    for (int db2 = 0; db2 < D / 16; db2++) {
      const uint32_t ch = 2 * db2 + v_hi;
      uint32_t b[4];
      ldmatrix_x4_trans(b, vt + (ch >> 3) * kBlockRows * 128 + v_row + (((ch & 7) ^ sw) << 4));
      mma16816<T>(o[2 * db2], a, b[0], b[1]);
      mma16816<T>(o[2 * db2 + 1], a, b[2], b[3]);
    }
    if constexpr (KV8 == 0) {
      __syncwarp();
      if (lane == 0) bar_arrive(&bars.empty[st]);
    }
  }

  // Epilogue: the warps' rows (unnormalised, fp32) meet in the ring, which no load writes any more.
  float l[2];
#pragma unroll
  for (int x = 0; x < 2; x++) {
    l[x] = sm.l[x];
    l[x] += __shfl_xor_sync(0xffffffffu, l[x], 1);
    l[x] += __shfl_xor_sync(0xffffffffu, l[x], 2);
  }
  named_sync(consumer_bar, 128);  // every warp is done with the ring; the producers' `bad` is visible
  if (*reinterpret_cast<volatile int*>(&bars.bad)) {
    if (ctid == 0) report_fault(p.fault, p.side, POD_FAULT_PAGE_ID, cta / p.num_kv_heads);
    return;
  }
  float* sO = reinterpret_cast<float*>(sK);  // [warp][row][D]
  float* sM = sO + 4 * ROWS * D;
  float* sL = sM + 4 * ROWS;
#pragma unroll
  for (int x = 0; x < 2; x++) {
    const int r = g + 8 * x;
    float* dst = sO + (cw * ROWS + r) * D;
#pragma unroll
    for (int b = 0; b < D / 8; b++) *reinterpret_cast<float2*>(dst + b * 8 + 2 * t4) = make_float2(o[b][2 * x], o[b][2 * x + 1]);
    if (t4 == 0) sM[cw * ROWS + r] = sm.m[x], sL[cw * ROWS + r] = l[x];
  }
  named_sync(consumer_bar, 128);
  for (int idx = ctid; idx < ROWS * (D / 8); idx += 128) {
    const int r = idx / (D / 8), c = idx % (D / 8);
    const int pr = w.row_start + r, token = pr / group, head = w.kv_head * group + pr % group;
    if (token >= w.qo_len) continue;
    float mx = -INFINITY;
#pragma unroll
    for (int k = 0; k < 4; k++) mx = fmaxf(mx, sM[k * ROWS + r]);
    const float m_use = mx == -INFINITY ? 0.0f : mx;
    float sum = 0.0f, acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
    for (int k = 0; k < 4; k++) {
      const float f = fast_exp2(sM[k * ROWS + r] - m_use);
      sum += sL[k * ROWS + r] * f;
      const float4* src = reinterpret_cast<const float4*>(sO + (k * ROWS + r) * D + c * 8);
      const float4 u = src[0], v = src[1];
      acc[0] += u.x * f, acc[1] += u.y * f, acc[2] += u.z * f, acc[3] += u.w * f;
      acc[4] += v.x * f, acc[5] += v.y * f, acc[6] += v.z * f, acc[7] += v.w * f;
    }
    const float inv = sum > 0.0f ? 1.0f / sum * p.v_scale : 0.0f;
    const float lse2 = sum > 0.0f ? m_use + log2f(sum) : -INFINITY;
    if (w.partial >= 0) {
      float* po = reinterpret_cast<float*>(p.partial_o) + ((int64_t)w.partial * ROWS + r) * D + c * 8;
      *reinterpret_cast<float4*>(po) = make_float4(acc[0] * inv, acc[1] * inv, acc[2] * inv, acc[3] * inv);
      *reinterpret_cast<float4*>(po + 4) = make_float4(acc[4] * inv, acc[5] * inv, acc[6] * inv, acc[7] * inv);
      if (c == 0) reinterpret_cast<float*>(p.partial_lse)[(int64_t)w.partial * ROWS + r] = lse2;
    } else {
      const uint4 packed = make_uint4(pack2<T>(acc[0] * inv, acc[1] * inv), pack2<T>(acc[2] * inv, acc[3] * inv),
                                      pack2<T>(acc[4] * inv, acc[5] * inv), pack2<T>(acc[6] * inv, acc[7] * inv));
      T* dst = reinterpret_cast<T*>(p.o) + (int64_t)(w.q_start + token) * p.o_stride_t + (int64_t)head * p.o_stride_h + c * 8;
      *reinterpret_cast<uint4*>(dst) = packed;
      if (c == 0 && p.lse)
        reinterpret_cast<float*>(p.lse)[(int64_t)(w.q_start + token) * p.lse_stride_t + (int64_t)head * p.lse_stride_h] = lse2 * kLn2;
    }
  }
  if (w.partial >= 0) {
    // The last part of a split row tile to finish merges them all (one launch, no merge kernel).
    pod_merge_item* item = reinterpret_cast<pod_merge_item*>(p.merge) + w.merge;
    __threadfence();
    named_sync(consumer_bar, 128);
    if (ctid == 0) bars.merges_here = last_part_arrived(item, p);
    named_sync(consumer_bar, 128);
    if (bars.merges_here) {
      __threadfence();
      merge_rows<T, D, 128>(merge_args(p, ROWS), w.merge, ctid);
    }
  }
#endif
}

template <typename T, int D, typename Score, int KV8>
__device__ __forceinline__ void decode_cta(const pod_sm90_side_params& P, const int cta) {
  extern __shared__ __align__(128) uint8_t smem_raw[];
  __shared__ DecodeBarriers<DecodeTraits<D, KV8>::kRing> bars;
  decode_body<T, D, Score, KV8>(P, cta, 0, smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023), bars);
}

}  // namespace pod::sm90

// pod_sm90_decode_<dtype>[_e4m3|_e5m2]_<head_dim>[_softcap]: the kernel table in the shim lists them.
#define POD_DEFINE_SM90_DECODE_VARIANT(T, NAME, D, SUFFIX, SCORE, KV8)                                               \
  extern "C" __global__ void __launch_bounds__(POD_SM90_DECODE_THREADS, 2)                                           \
      pod_sm90_decode_##NAME##_##D##SUFFIX(const __grid_constant__ pod_sm90_side_params P) {                      \
    pod_pdl_enter();                                                                                                 \
    if (P.p.work && reinterpret_cast<const pod_work_item*>(P.p.work)[blockIdx.x / P.p.num_kv_heads].skip) return;    \
    pod::sm90::decode_cta<T, D, SCORE, KV8>(P, blockIdx.x);                                                          \
  }
#define POD_DEFINE_SM90_DECODE(T, NAME, D)                                                  \
  POD_DEFINE_SM90_DECODE_VARIANT(T, NAME, D, , pod::sm90::ScorePlain, 0)                    \
  POD_DEFINE_SM90_DECODE_VARIANT(T, NAME, D, _softcap, pod::sm90::ScoreSoftCap, 0)          \
  POD_DEFINE_SM90_DECODE_VARIANT(T, NAME##_e4m3, D, , pod::sm90::ScorePlain, 1)             \
  POD_DEFINE_SM90_DECODE_VARIANT(T, NAME##_e4m3, D, _softcap, pod::sm90::ScoreSoftCap, 1)   \
  POD_DEFINE_SM90_DECODE_VARIANT(T, NAME##_e5m2, D, , pod::sm90::ScorePlain, 2)             \
  POD_DEFINE_SM90_DECODE_VARIANT(T, NAME##_e5m2, D, _softcap, pod::sm90::ScoreSoftCap, 2)
