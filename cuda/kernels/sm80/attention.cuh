// The attention kernel behind every wrapper: a CTA of 4 warps takes packed query rows (token x query
// head of one KV head, GQA packing) and streams the request's keys and values through shared memory
// in 64-key tiles (cp.async, double-buffered, swizzled), computing Q K^T and P V with mma.sync
// m16n8k16 and an online softmax in fp32. Options (causal, window, mask, soft cap, RoPE, ALiBi) are
// run-time switches; only the dtype, head_dim and tile shape (and whether the cache is fp8) are
// compiled in.
#pragma once
#include "kernels/attention_params.h"
#include "kernels/common/math.cuh"
#include "kernels/common/merge.cuh"
#include "kernels/common/work_tile.cuh"
#include "kernels/common/fp8.cuh"
#include "kernels/common/mma.cuh"
#include "kernels/common/pdl.cuh"
#include "kernels/common/position.cuh"
#include "kernels/common/wgmma_shapes.cuh"

#include <type_traits>

namespace pod {

// Marks padding rows and keys. Real positions can be negative: without causal masking a request may
// have more queries than keys, and query i sits at kv_len - qo_len + i.
constexpr int kNoPosition = -2147483647 - 1;

// Byte offset of 16-byte chunk `chunk` of row `row` in a tile with D elements per row. XOR-swizzling
// the chunk with the row keeps the 8 row addresses of one ldmatrix in distinct banks.
template <typename T, int D>
__device__ __forceinline__ uint32_t tile_offset(int row, int chunk) {
  return static_cast<uint32_t>((row * (D * (int)sizeof(T) / 16) + (chunk ^ (row & 7))) * 16);
}

// tanh from one exp2 and one division: 1 - 2 / (e^{2x} + 1), saturating cleanly at +-1.
__device__ __forceinline__ float fast_tanh(float x) { return 1.0f - 2.0f / (fast_exp2(2.0f * kLog2e * x) + 1.0f); }

// ldmatrix addressing without per-load swizzle arithmetic. A thread's row is R8 + lr with R8 a multiple
// of 8, its chunk 2 * k + lc (k the compile-time step): the swizzled byte offset is
// R8 * row_bytes + (lane_offset ^ (k << 5)), lane_offset = lr * row_bytes + ((lc ^ (lr & 7)) << 4),
// because the XOR only touches bits below row_bytes.
template <typename T, int D>
__device__ __forceinline__ uint32_t lane_offset(int lr, int lc) {
  return static_cast<uint32_t>(lr * (D * (int)sizeof(T)) + ((lc ^ (lr & 7)) << 4));
}

// Byte offset of 16-byte chunk `chunk` of row `row` in a shared-memory tile of `rows` rows: the
// wgmma kernels' 128-byte swizzled layout, or the row-contiguous layout the ldmatrix kernels use.
template <typename T, int D, bool W>
__device__ __forceinline__ uint32_t smem_offset(int rows, int row, int chunk) {
  if constexpr (W) return swizzle128_offset(rows, row, chunk);
  else return tile_offset<T, D>(row, chunk);
}

// Rotates (x[d], x[d + D/2]) of a shared-memory tile row by RoPE at `pos`, in fp32.
template <typename T, int D, bool W>
__device__ __forceinline__ void rope_rows(uint8_t* tile, int rows, const int* positions, const pod_attn_params& p, const int tid) {
  for (int idx = tid; idx < rows * (D / 2); idx += POD_CTA_THREADS) {
    int row = idx / (D / 2), d = idx % (D / 2);
    int pos = positions[row];
    if (pos == kNoPosition) continue;
    float freq = rope_frequency(d, D, p.rope_rcp_scale, p.rope_theta);
    float sn, cs;
    sincosf((float)pos * freq, &sn, &cs);
    T* a = reinterpret_cast<T*>(tile + smem_offset<T, D, W>(rows, row, d / 8)) + d % 8;
    T* b = reinterpret_cast<T*>(tile + smem_offset<T, D, W>(rows, row, (d + D / 2) / 8)) + d % 8;
    float x = to_float(*a), y = to_float(*b);
    *a = from_float<T>(x * cs - y * sn);
    *b = from_float<T>(y * cs + x * sn);
  }
}

template <typename T, int D, int TILE>
struct AttentionShape {
  // Prefill tiles on sm_90a multiply with wgmma: the warpgroup covers 64 rows per instruction, warp w
  // rows 16w..16w+15 of each 64-row half. Elsewhere warp w owns rows 32w..32w+31 (mma.sync).
  static constexpr bool kWgmma = POD_HAS_WGMMA && TILE == POD_TILE_PREFILL && D <= 128;
  static constexpr int kWarpsM = TILE == POD_TILE_PREFILL ? 4 : 1;
  static constexpr int kWarpsN = 4 / kWarpsM;
  // Prefill warps take two 16-row MMA tiles when registers allow: each K/V fragment then feeds two MMAs.
  static constexpr int kMTiles = TILE == POD_TILE_PREFILL && D <= 128 ? 2 : 1;
  static constexpr int kRows = 16 * kMTiles * kWarpsM;
  static constexpr int kKeysPerWarp = POD_KV_TILE / kWarpsN;
  static constexpr int kChunks = D * (int)sizeof(T) / 16;  // 16-byte chunks per row
  static constexpr int kTileBytes = POD_KV_TILE * D * (int)sizeof(T);
  // Row of the CTA tile held by a thread of warp wm as row g (+ 8 * i) of its 16-row MMA tile mt.
  static __device__ __forceinline__ int row_of(int wm, int mt, int g, int i) {
    return kWgmma ? mt * 64 + wm * 16 + g + 8 * i : wm * 16 * kMTiles + mt * 16 + g + 8 * i;
  }
  static_assert(kWarpsN * kRows * D * 4 <= 4 * kTileBytes, "the epilogue reuses the K/V buffers");
};

// STAGES: key/value tiles in flight (double buffering by default; a POD launch's decode CTAs, which
// share their SM with a prefill CTA, keep three tiles in flight to pull more bandwidth per CTA).
// KV8: the cache holds fp8 (format p.kv_e5m2). Its tiles stream into fp8 stage buffers and each is
// converted into a single pair of T tiles when its turn comes, so the products are those of T caches
// and an fp8 CTA needs no more shared memory than a T one.
// SLOTTED: false, the body is the whole CTA (128 threads, all of its shared memory). true: the body is
// warpgroup `slot` of a larger CTA and keeps to slice `slot` of its dynamic shared memory (sm_90a POD
// launches run decode bodies side by side in one CTA), synchronizing on named barrier slot + 1.
// SUB: the body's row tile within a work item of p.item_rows rows, when those are more than the
// body's tile holds (head_dim 256 prefill planned for the sm_90a kernel's 128-row items; see
// attention_item). Partial results go to rows SUB * kRows.. of the item's slot, and only the last
// row tile counts the part as arrived.
// Returns the index of the merge item this body must merge (it finished a split row tile's last
// part), or -1.
template <typename T, int D, int TILE, int STAGES = 2, bool KV8 = false, bool SLOTTED = false>
__device__ __forceinline__ int attention_body(const pod_attn_params& p, const int cta, const int slot = 0, const int sub = 0) {
  using S = AttentionShape<T, D, TILE>;
  constexpr int KT = POD_KV_TILE, ROWS = S::kRows, MT = S::kMTiles, NB = S::kKeysPerWarp / 8, DB = D / 8;
  constexpr int SB = (MT == 2 && D == 128) || (TILE == POD_TILE_PREFILL && D == 256) ? 2 : 1, NBS = NB / SB;
  constexpr int WROWS = 16 * MT;  // rows per warp
  constexpr bool W = S::kWgmma;
  constexpr bool kQInRegs = MT == 1 && D <= 128 && !W;
  extern __shared__ __align__(128) uint8_t smem_raw[];
  static_assert(!SLOTTED || (TILE == POD_TILE_DECODE && !W), "slots hold decode bodies");
  // wgmma's swizzle patterns start on 1024-byte boundaries (the launch adds the slack).
  uint8_t* const slot_base = SLOTTED ? smem_raw + slot * pod_decode_slot_bytes(D, STAGES, KV8) : smem_raw;
  uint8_t* smem = W ? smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023) : slot_base + (SLOTTED ? POD_DECODE_SLOT_SCRATCH : 0);
  constexpr int KV_BUFS = KV8 ? 1 : STAGES;  // T tiles of keys (and of values)
  constexpr int kStage8Bytes = POD_KV_TILE * D;  // one fp8 tile
  uint8_t* sQ = smem;
  uint8_t* sK = smem + ROWS * D * sizeof(T);
  uint8_t* sV = sK + KV_BUFS * S::kTileBytes;
  uint8_t* sK8 = sV + KV_BUFS * S::kTileBytes;  // KV8: STAGES fp8 key tiles, row-major as loaded, then values
  uint8_t* sV8 = sK8 + STAGES * kStage8Bytes;
  // q_pos: position of each row's query, kNoPosition for padding rows; kv_pos: positions for RoPE of
  // a key tile; sM, sL: the epilogue's per-warp row maxima and sums. A slot keeps them at the start of
  // its slice.
  // tile: the CTA's checked work tile (work_tile.cuh); bad: a page index out of range was seen.
  struct Scratch {
    int q_pos[ROWS], kv_pos[KT];
    float sM[S::kWarpsN * ROWS], sL[S::kWarpsN * ROWS];
    int merges_here;
    int tile_ok, bad;
    WorkTile tile;
  };
  static_assert(!SLOTTED || sizeof(Scratch) <= POD_DECODE_SLOT_SCRATCH, "a slot's scratch");
  Scratch* scratch;
  if constexpr (!SLOTTED) {
    __shared__ Scratch cta_scratch;
    scratch = &cta_scratch;
  } else {
    scratch = reinterpret_cast<Scratch*>(slot_base);
  }
  int* const q_pos = scratch->q_pos;
  int* const kv_pos = scratch->kv_pos;
  float* const sM = scratch->sM;
  float* const sL = scratch->sL;
  auto body_sync = [slot] {
    if constexpr (!SLOTTED) __syncthreads();
    else asm volatile("bar.sync %0, 128;" ::"r"(slot + 1) : "memory");
  };

  const int tid = SLOTTED ? (int)threadIdx.x - 128 * slot : (int)threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp % S::kWarpsM, wn = warp / S::kWarpsM;

  // One thread reads and checks the work item; every thread takes the same tile (or skips it).
  if (tid == 0) {
    scratch->tile_ok = load_work_tile(p, cta, max(p.item_rows, ROWS), &scratch->tile);
    scratch->tile.row_start += sub * ROWS;
    scratch->bad = 0;
  }
  body_sync();
  if (!scratch->tile_ok) return -1;
  const WorkTile wt = scratch->tile;
  const int kv_head = wt.kv_head, row_start = wt.row_start, kv_begin = wt.kv_begin, kv_end = wt.kv_end;
  const int partial = wt.partial, merge = wt.merge, q_start = wt.q_start, qo_len = wt.qo_len, kv_len = wt.kv_len;
  const int group = p.group;
  using KV = std::conditional_t<KV8, uint8_t, T>;
  const KV* kbase = reinterpret_cast<const KV*>(p.k);
  const KV* vbase = reinterpret_cast<const KV*>(p.v);
  const int* page_ids = p.page_size ? reinterpret_cast<const int*>(p.kv_indices) + wt.page0 : nullptr;

  // Load the query rows (zero rows past the request's end).
  for (int c = tid; c < ROWS * S::kChunks; c += POD_CTA_THREADS) {
    int row = c / S::kChunks, ch = c % S::kChunks;
    int pr = row_start + row, token = pr / group, head = kv_head * group + pr % group;
    bool ok = token < qo_len;
    const T* src = reinterpret_cast<const T*>(p.q) + (ok ? (int64_t)(q_start + token) * p.q_stride_t + (int64_t)head * p.q_stride_h + ch * 8 : 0);
    cp_async16(smem_addr(sQ + smem_offset<T, D, W>(ROWS, row, ch)), src, ok ? 16 : 0);
  }
  for (int r = tid; r < ROWS; r += POD_CTA_THREADS) {
    int pr = row_start + r, token = pr / group;
    q_pos[r] = token < qo_len ? kv_len - qo_len + token : kNoPosition;
  }

  // Issues the loads of key/value tile `t` into buffer (stage) `buf`. Each thread copies the same
  // 16-byte chunk column of rows r0, r0 + kRowStep, ...
  constexpr int kKvChunks = D * (int)sizeof(KV) / 16;
  constexpr int kRowStep = POD_CTA_THREADS / kKvChunks;
  const int r0 = tid / kKvChunks, ch0 = tid % kKvChunks;
  const uint32_t sk0 = smem_addr(sK), sv0 = smem_addr(sV);
  const uint32_t sk8 = smem_addr(sK8), sv8 = smem_addr(sV8);
  // Row strides fit 32 bits (checked by the shim): one wide multiply per row address.
  const KV* k_src = kbase + (int64_t)kv_head * p.k_s2 + ch0 * (16 / (int)sizeof(KV));
  const KV* v_src = vbase + (int64_t)kv_head * p.v_s2 + ch0 * (16 / (int)sizeof(KV));
  const int ks0 = (int)p.k_s0, ks1 = (int)p.k_s1, vs0 = (int)p.v_s0, vs1 = (int)p.v_s1;
  auto load_kv = [&](int t, int buf) {
    const int first = kv_begin + t * KT + r0;
#pragma unroll
    for (int i = 0; i < KT / kRowStep; i++) {
      const int j = first + i * kRowStep;
      const bool ok = j < kv_end;
      const int jj = ok ? j : kv_begin;  // rows past the end read a valid row and zero-fill
      const KV *ks, *vs;
      if (page_ids) {
        const int pi = page_index(p, jj);
        int page = page_ids[pi];
        const int slot = jj - pi * p.page_size;
        if ((unsigned)page >= (unsigned)p.num_pages) {  // the plan was overwritten: read page 0, write nothing
          scratch->bad = 1;
          page = 0;
        }
        ks = k_src + ((int64_t)page * ks0 + slot * ks1);
        vs = v_src + ((int64_t)page * vs0 + slot * vs1);
      } else {
        ks = k_src + (int64_t)jj * ks0;
        vs = v_src + (int64_t)jj * vs0;
      }
      if constexpr (KV8) {
        const uint32_t dst = buf * kStage8Bytes + (r0 + i * kRowStep) * D + ch0 * 16;
        cp_async16(sk8 + dst, ks, ok ? 16 : 0);
        cp_async16(sv8 + dst, vs, ok ? 16 : 0);
      } else {
        const uint32_t dst = buf * S::kTileBytes + smem_offset<T, D, W>(KT, r0 + i * kRowStep, ch0);
        cp_async16(sk0 + dst, ks, ok ? 16 : 0);
        cp_async16(sv0 + dst, vs, ok ? 16 : 0);
      }
    }
  };
  // KV8: fp8 stage `stage` into the T tiles (zero-filled rows stay zero).
  auto convert_kv = [&](const int stage) {
    const bool e5m2 = p.kv_e5m2 != 0;
#pragma unroll
    for (int c = tid; c < KT * D / 16; c += POD_CTA_THREADS) {
      const int row = c / (D / 16), ch = c % (D / 16);
      uint4 lo, hi;
      fp8x16_to<T>(*reinterpret_cast<const uint4*>(sK8 + stage * kStage8Bytes + c * 16), e5m2, lo, hi);
      *reinterpret_cast<uint4*>(sK + smem_offset<T, D, W>(KT, row, 2 * ch)) = lo;
      *reinterpret_cast<uint4*>(sK + smem_offset<T, D, W>(KT, row, 2 * ch + 1)) = hi;
      fp8x16_to<T>(*reinterpret_cast<const uint4*>(sV8 + stage * kStage8Bytes + c * 16), e5m2, lo, hi);
      *reinterpret_cast<uint4*>(sV + smem_offset<T, D, W>(KT, row, 2 * ch)) = lo;
      *reinterpret_cast<uint4*>(sV + smem_offset<T, D, W>(KT, row, 2 * ch + 1)) = hi;
    }
  };

  const int num_tiles = (kv_end - kv_begin + KT - 1) / KT;
#pragma unroll
  for (int i = 0; i < STAGES - 1; i++) {  // the first group also carries Q
    if (i < num_tiles) load_kv(i, i);
    cp_async_commit();
  }

  // Per-thread rows: g and g + 8 of each of the warp's 16-row MMA tiles (index mt * 2 + i).
  const int g = lane >> 2, t4 = lane & 3;
  int row_pos[2 * MT];  // padding rows: kNoPosition
#pragma unroll
  for (int x = 0; x < 2 * MT; x++) {
    const int pr = row_start + S::row_of(wm, x >> 1, g, x & 1), token = pr / group;
    row_pos[x] = token < qo_len ? kv_len - qo_len + token : kNoPosition;
  }
  // A tile needs per-score masking only where it crosses some row's bounds.
  const int min_pos = kv_len - qo_len + row_start / group;
  const int max_pos = kv_len - qo_len + min(qo_len - 1, (row_start + ROWS - 1) / group);
  const int cta_hi = p.causal ? min(min_pos, kv_end - 1) : kv_end - 1;
  const int cta_lo = p.window_left >= 0 ? max_pos - p.window_left : kv_begin;
  // Plain scores stay raw until the exponent, where the scale folds into one FFMA.
  const bool plain_scores = p.soft_cap == 0.0f && p.pos_encoding != 2 && p.sm_scale > 0.0f;
  const float score_scale = plain_scores ? p.sm_scale_log2 : 1.0f;

  float o[MT][DB][4];
#pragma unroll
  for (int mt = 0; mt < MT; mt++)
#pragma unroll
    for (int b = 0; b < DB; b++) o[mt][b][0] = o[mt][b][1] = o[mt][b][2] = o[mt][b][3] = 0.0f;
  float m[2 * MT], l[2 * MT];
#pragma unroll
  for (int x = 0; x < 2 * MT; x++) m[x] = -INFINITY, l[x] = 0.0f;
  uint32_t qf[kQInRegs ? MT : 1][kQInRegs ? D / 16 : 1][4];
  // Per-lane ldmatrix offsets (see lane_offset): Q as the A operand, K as B, V as transposed B.
  constexpr uint32_t RB = D * sizeof(T);
  const uint32_t q_lane = lane_offset<T, D>(lane & 15, lane >> 4);
  const uint32_t k_lane = lane_offset<T, D>((lane & 7) + ((lane >> 4) << 3), (lane >> 3) & 1);
  const uint32_t v_lane = lane_offset<T, D>((lane & 7) + (((lane >> 3) & 1) << 3), lane >> 4);
  const uint32_t q_frag_base = smem_addr(sQ) + wm * WROWS * RB;

  // Turns the raw scores s[RT][NBL][4] of row tiles MT0 .. MT0 + RT - 1 (keys key0 + 8b + ..., tile t)
  // into unnormalised probabilities: score transforms, masks, then the online softmax, which rescales
  // what O accumulated when the running maximum grows.
  auto softmax_rows = [&](auto& s, auto mt0, const int key0, const int t) {
    using SA = std::remove_reference_t<decltype(s)>;
    constexpr int RT = std::extent_v<SA, 0>, NBL = std::extent_v<SA, 1>, MT0 = decltype(mt0)::value;
    const int tile_first = kv_begin + t * KT;
    const int col0 = key0 + 2 * t4;
    // Plain scores stay raw (scaled in the exponent); others move to the log2 domain here.
    if (!plain_scores) {
#pragma unroll
      for (int xr = 0; xr < 2 * RT; xr++) {
        const int x = 2 * MT0 + xr, i = x & 1;
        const int pr = row_start + S::row_of(wm, x >> 1, g, i);
        const float slope = p.pos_encoding == 2 ? alibi_slope(kv_head * group + pr % group, p.num_qo_heads) : 0.0f;
#pragma unroll
        for (int b = 0; b < NBL; b++)
#pragma unroll
          for (int e = 2 * i; e < 2 * i + 2; e++) {
            float v = s[xr >> 1][b][e] * p.sm_scale;
            if (p.soft_cap > 0.0f) v = p.soft_cap * fast_tanh(v / p.soft_cap);
            s[xr >> 1][b][e] = (v + slope * (float)(tile_first + col0 + b * 8 + (e & 1) - row_pos[x])) * kLog2e;
          }
      }
    }
    if (tile_first + KT - 1 > cta_hi || tile_first < cta_lo) {
#pragma unroll
      for (int xr = 0; xr < 2 * RT; xr++) {
        // Visible keys of the row: lo <= j <= hi (none for padding rows).
        const int x = 2 * MT0 + xr, pos = row_pos[x], i = x & 1;
        const int hi = pos == kNoPosition ? -1 : (p.causal ? min(pos, kv_end - 1) : kv_end - 1);
        const int lo = p.window_left >= 0 && pos != kNoPosition ? pos - p.window_left : 0;
#pragma unroll
        for (int b = 0; b < NBL; b++)
#pragma unroll
          for (int e = 2 * i; e < 2 * i + 2; e++) {
            const int j = tile_first + col0 + b * 8 + (e & 1);
            if (j < lo || j > hi) s[xr >> 1][b][e] = -INFINITY;
          }
      }
    }
    if (p.mask_mode != 0) {
      const uint8_t* mk = reinterpret_cast<const uint8_t*>(p.mask);
      const int64_t base = scratch->tile.mask_base;  // checked against the mask's size
#pragma unroll
      for (int ms = 0; ms < RT; ms++)
#pragma unroll
        for (int b = 0; b < NBL; b++)
#pragma unroll
          for (int e = 0; e < 4; e++) {
            const int x = (MT0 + ms) * 2 + (e >> 1), j = tile_first + col0 + b * 8 + (e & 1);
            if (row_pos[x] == kNoPosition || j >= kv_end) continue;
            const int token = row_pos[x] - (kv_len - qo_len);
            bool visible;
            if (p.mask_mode == 2) {
              const int64_t bit = (int64_t)token * kv_len + j;
              visible = (mk[base + (bit >> 3)] >> (bit & 7)) & 1;
            } else if (p.mask_2d) {
              visible = mk[token * p.mask_s0 + j * p.mask_s1] != 0;
            } else {
              visible = mk[(base + (int64_t)token * kv_len + j) * p.mask_s0] != 0;
            }
            if (!visible) s[ms][b][e] = -INFINITY;
          }
    }
#pragma unroll
    for (int xr = 0; xr < 2 * RT; xr++) {
      const int x = 2 * MT0 + xr, mt = x >> 1, ms = xr >> 1, i = x & 1;
      float mx = -INFINITY;
#pragma unroll
      for (int b = 0; b < NBL; b++) mx = fmaxf(mx, fmaxf(s[ms][b][2 * i], s[ms][b][2 * i + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[x], mx * score_scale);
      const float m_use = m_new == -INFINITY ? 0.0f : m_new;
      const float rescale = fast_exp2(m[x] - m_use);
      m[x] = m_new;
      l[x] *= rescale;
      if (__any_sync(0xffffffffu, rescale != 1.0f)) {  // skipped once the running maximum settles
#pragma unroll
        for (int b = 0; b < DB; b++) o[mt][b][2 * i] *= rescale, o[mt][b][2 * i + 1] *= rescale;
      }
#pragma unroll
      for (int b = 0; b < NBL; b++) {
        s[ms][b][2 * i] = fast_exp2(fmaf(s[ms][b][2 * i], score_scale, -m_use));
        s[ms][b][2 * i + 1] = fast_exp2(fmaf(s[ms][b][2 * i + 1], score_scale, -m_use));
        l[x] += s[ms][b][2 * i] + s[ms][b][2 * i + 1];
      }
    }
  };

  // wgmma operands: descriptors of the tiles' first bytes; steps add constant offsets (in 16-byte
  // units) to the address field. K-major Q and K: a k-step is 32 bytes along a 128-byte row, each
  // 64-element column block a separate region. V is N-major (head_dim contiguous); with N = 64 per
  // instruction both descriptor strides step 8 keys (1024 bytes).
  const uint64_t q_desc = wgmma_desc(smem_addr(sQ), 16, 1024);
  const uint64_t k_desc = wgmma_desc(sk0, 16, 1024), v_desc = wgmma_desc(sv0, 1024, 1024);
  // S (64 rows x 64 keys) = Q K^T for 64-row half mt of the tile in buffer buf.
  auto issue_qk = [&](float (&s)[1][8][4], const int mt, const int buf) {
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
      mma_ss<T, 64>(s[0], q_desc + (((kk >> 2) * ROWS * 128 + mt * 64 * 128 + (kk & 3) * 32) >> 4),
                      k_desc + ((buf * S::kTileBytes + (kk >> 2) * KT * 128 + (kk & 3) * 32) >> 4), kk > 0);
  };
  // O[half mt] += P V with P from the half's probabilities, packed into pa (kept until the wait).
  auto issue_pv = [&](uint32_t (&pa)[4][4], const float (&s)[1][8][4], const int mt, const int buf) {
#pragma unroll
    for (int ks = 0; ks < 4; ks++) {
      pa[ks][0] = pack2<T>(s[0][2 * ks][0], s[0][2 * ks][1]);
      pa[ks][1] = pack2<T>(s[0][2 * ks][2], s[0][2 * ks][3]);
      pa[ks][2] = pack2<T>(s[0][2 * ks + 1][0], s[0][2 * ks + 1][1]);
      pa[ks][3] = pack2<T>(s[0][2 * ks + 1][2], s[0][2 * ks + 1][3]);
    }
    wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < 4; ks++)
#pragma unroll
      for (int db = 0; db < D / 64; db++)
        mma_rs<T, 64>(*reinterpret_cast<float(*)[8][4]>(&o[mt][db * 8]), pa[ks],
                           v_desc + ((buf * S::kTileBytes + db * KT * 128 + ks * 16 * 128) >> 4));
    wgmma_commit();
  };
  auto hold_o = [&](const int mt) {
#pragma unroll
    for (int b = 0; b < DB; b++) hold(o[mt][b][0]), hold(o[mt][b][1]), hold(o[mt][b][2]), hold(o[mt][b][3]);
  };
  auto hold_p = [&](uint32_t (&pa)[4][4]) {
#pragma unroll
    for (int ks = 0; ks < 4; ks++) hold(pa[ks][0]), hold(pa[ks][1]), hold(pa[ks][2]), hold(pa[ks][3]);
  };
  auto hold_s = [&](float (&s)[1][8][4]) {
#pragma unroll
    for (int b = 0; b < 8; b++) hold(s[0][b][0]), hold(s[0][b][1]), hold(s[0][b][2]), hold(s[0][b][3]);
  };

  for (int t = 0; t < num_tiles; t++) {
    cp_async_wait<STAGES - 2>();
    if constexpr (W) fence_async_shared();
    body_sync();  // tile t (and Q) in shared memory; every warp is done with tile t - 1
    if (t + STAGES - 1 < num_tiles) load_kv(t + STAGES - 1, (t + STAGES - 1) % STAGES);
    cp_async_commit();
    if constexpr (KV8) {
      convert_kv(t % STAGES);
      if constexpr (W) fence_async_shared();  // generic-proxy stores, read by wgmma
      body_sync();
    }
    const int buf = KV8 ? 0 : t % STAGES;
    const uint8_t* k_tile = sK + buf * S::kTileBytes;
    const uint8_t* v_tile = sV + buf * S::kTileBytes;
    if (p.pos_encoding == 1) {
      if (t == 0) rope_rows<T, D, W>(sQ, ROWS, q_pos, p, tid);
      if (tid < KT) kv_pos[tid] = kv_begin + t * KT + tid < kv_end ? kv_begin + t * KT + tid : kNoPosition;
      body_sync();
      rope_rows<T, D, W>(const_cast<uint8_t*>(k_tile), KT, kv_pos, p, tid);
      if constexpr (W) fence_async_shared();
      body_sync();
    }

    if constexpr (W) {
      // Half 0: Q K^T, softmax. Then half 1's Q K^T and half 0's P V go to the tensor cores together
      // while half 1's softmax runs; half 1's P V ends the tile. Issuing both halves' Q K^T up front
      // would overlap more but keeps both score blocks live, and the spills cost more than it gains.
      static_assert(MT == 2, "the wgmma path pipelines two 64-row halves");
      float s0[1][8][4], s1[1][8][4];
      uint32_t pa0[4][4], pa1[4][4];
      wgmma_fence();
      issue_qk(s0, 0, buf);
      wgmma_commit();
      wgmma_wait<0>();
      hold_s(s0);
      softmax_rows(s0, std::integral_constant<int, 0>{}, 0, t);
      wgmma_fence();
      issue_qk(s1, 1, buf);
      wgmma_commit();
      issue_pv(pa0, s0, 0, buf);
      wgmma_wait<1>();  // groups complete in order: half 1's Q K^T is done
      hold_s(s1);
      softmax_rows(s1, std::integral_constant<int, 1>{}, 0, t);
      wgmma_wait<0>();
      hold_o(0), hold_p(pa0);
      issue_pv(pa1, s1, 1, buf);
      wgmma_wait<0>();  // the next tile's loads overwrite this buffer
      hold_o(1), hold_p(pa1);
    } else {
      if constexpr (kQInRegs) {
        if (t == 0) {
#pragma unroll
          for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++)
              ldmatrix_x4(qf[mt][kk], q_frag_base + mt * 16 * RB + (q_lane ^ (kk << 5)));
        }
      }
      // The warp's keys of the tile in SB sub-blocks (fewer live score registers when rows are many).
#pragma unroll 1
      for (int sb = 0; sb < SB; sb++) {
        const int key0 = wn * S::kKeysPerWarp + sb * NBS * 8;
        const uint32_t k_frag_base = smem_addr(k_tile) + key0 * RB, v_frag_base = smem_addr(v_tile) + key0 * RB;
        // S = Q K^T for this warp's rows and keys; each K fragment feeds all of the warp's row tiles.
        float s[MT][NBS][4];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
          for (int b = 0; b < NBS; b++) s[mt][b][0] = s[mt][b][1] = s[mt][b][2] = s[mt][b][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
          uint32_t a[MT][4];
#pragma unroll
          for (int mt = 0; mt < MT; mt++) {
            if constexpr (kQInRegs) {
#pragma unroll
              for (int x = 0; x < 4; x++) a[mt][x] = qf[mt][kk][x];
            } else {
              ldmatrix_x4(a[mt], q_frag_base + mt * 16 * RB + (q_lane ^ (kk << 5)));
            }
          }
#pragma unroll
          for (int nb2 = 0; nb2 < NBS / 2; nb2++) {
            uint32_t b[4];
            ldmatrix_x4(b, k_frag_base + nb2 * 16 * RB + (k_lane ^ (kk << 5)));
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
              mma16816<T>(s[mt][2 * nb2], a[mt], b[0], b[1]);
              mma16816<T>(s[mt][2 * nb2 + 1], a[mt], b[2], b[3]);
            }
          }
        }
        softmax_rows(s, std::integral_constant<int, 0>{}, key0, t);
        // O += P V: the score accumulators become the A operand without leaving registers, and each V
        // fragment feeds all of the warp's row tiles.
#pragma unroll
        for (int ks = 0; ks < NBS / 2; ks++) {
          uint32_t a[MT][4];
#pragma unroll
          for (int mt = 0; mt < MT; mt++) {
            a[mt][0] = pack2<T>(s[mt][2 * ks][0], s[mt][2 * ks][1]);
            a[mt][1] = pack2<T>(s[mt][2 * ks][2], s[mt][2 * ks][3]);
            a[mt][2] = pack2<T>(s[mt][2 * ks + 1][0], s[mt][2 * ks + 1][1]);
            a[mt][3] = pack2<T>(s[mt][2 * ks + 1][2], s[mt][2 * ks + 1][3]);
          }
          const uint32_t v_base = v_frag_base + ks * 16 * RB;
#pragma unroll
          for (int db2 = 0; db2 < DB / 2; db2++) {
            uint32_t b[4];
            ldmatrix_x4_trans(b, v_base + (v_lane ^ (db2 << 5)));
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
              mma16816<T>(o[mt][2 * db2], a[mt], b[0], b[1]);
              mma16816<T>(o[mt][2 * db2 + 1], a[mt], b[2], b[3]);
            }
          }
        }
      }
    }
  }
  cp_async_wait<0>();

  // Epilogue: each warp parks its unnormalised rows in shared memory (fp32), then the CTA combines the
  // warps that shared rows (decode shape) and writes 16-byte vectors.
#pragma unroll
  for (int x = 0; x < 2 * MT; x++) {
    l[x] += __shfl_xor_sync(0xffffffffu, l[x], 1);
    l[x] += __shfl_xor_sync(0xffffffffu, l[x], 2);
  }
  body_sync();
  if (page_ids && scratch->bad) {  // a page index out of range: nothing of this item is written
    if (tid == 0) report_fault(p.fault, p.side, POD_FAULT_PAGE_ID, cta / p.num_kv_heads);
    return -1;
  }
  float* sO = reinterpret_cast<float*>(sK);  // [kWarpsN][ROWS][D], fits in the key/value buffers
#pragma unroll
  for (int x = 0; x < 2 * MT; x++) {
    const int mt = x >> 1, i = x & 1;
    const int r = S::row_of(wm, mt, g, i);
    float* dst = sO + (wn * ROWS + r) * D;
#pragma unroll
    for (int b = 0; b < DB; b++) *reinterpret_cast<float2*>(dst + b * 8 + 2 * t4) = make_float2(o[mt][b][2 * i], o[mt][b][2 * i + 1]);
    if (t4 == 0) sM[wn * ROWS + r] = m[x], sL[wn * ROWS + r] = l[x];
  }
  body_sync();
  for (int idx = tid; idx < ROWS * DB; idx += POD_CTA_THREADS) {
    const int r = idx / DB, c = idx % DB;
    const int pr = row_start + r, token = pr / group, head = kv_head * group + pr % group;
    if (token >= qo_len) continue;
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < S::kWarpsN; w++) mx = fmaxf(mx, sM[w * ROWS + r]);
    const float m_use = mx == -INFINITY ? 0.0f : mx;
    float sum = 0.0f, acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
    for (int w = 0; w < S::kWarpsN; w++) {
      const float f = fast_exp2(sM[w * ROWS + r] - m_use);
      sum += sL[w * ROWS + r] * f;
      const float* src = sO + (w * ROWS + r) * D + c * 8;
#pragma unroll
      for (int x = 0; x < 8; x++) acc[x] += src[x] * f;
    }
    const float inv = sum > 0.0f ? 1.0f / sum * p.v_scale : 0.0f;  // a reciprocal, not a division
    const float lse2 = sum > 0.0f ? m_use + log2f(sum) : -INFINITY;
    if (partial >= 0) {
      const int64_t slot_row = (int64_t)partial * max(p.item_rows, ROWS) + sub * ROWS + r;
      float* po = reinterpret_cast<float*>(p.partial_o) + slot_row * D + c * 8;
      *reinterpret_cast<float4*>(po) = make_float4(acc[0] * inv, acc[1] * inv, acc[2] * inv, acc[3] * inv);
      *reinterpret_cast<float4*>(po + 4) = make_float4(acc[4] * inv, acc[5] * inv, acc[6] * inv, acc[7] * inv);
      if (c == 0) reinterpret_cast<float*>(p.partial_lse)[slot_row] = lse2;
    } else {
      uint4 packed = make_uint4(pack2<T>(acc[0] * inv, acc[1] * inv), pack2<T>(acc[2] * inv, acc[3] * inv),
                                pack2<T>(acc[4] * inv, acc[5] * inv), pack2<T>(acc[6] * inv, acc[7] * inv));
      T* dst = reinterpret_cast<T*>(p.o) + (int64_t)(q_start + token) * p.o_stride_t + (int64_t)head * p.o_stride_h + c * 8;
      *reinterpret_cast<uint4*>(dst) = packed;
      if (c == 0 && p.lse)
        reinterpret_cast<float*>(p.lse)[(int64_t)(q_start + token) * p.lse_stride_t + (int64_t)head * p.lse_stride_h] = lse2 * kLn2;
    }
  }

  // A split row tile: the last of its parts to finish merges them all (one launch, no merge kernel);
  // the caller merges when this returns the merge item's index.
  if (partial >= 0 && (sub + 1) * ROWS >= p.item_rows) {
    pod_merge_item* item = reinterpret_cast<pod_merge_item*>(p.merge) + merge;
    __threadfence();  // this part's results are visible before it counts as arrived
    body_sync();
    if (tid == 0) scratch->merges_here = last_part_arrived(item, p);
    body_sync();
    if (scratch->merges_here) {
      __threadfence();
      return merge;
    }
  }
  return -1;
}

// A work item: one body, or, where the item has more rows than the body's tile (head_dim 256
// prefill planned for the sm_90a kernel and run by this one), its row tiles one after the other.
// Returns what the last body returns.
template <typename T, int D, int TILE, int STAGES, bool KV8>
__device__ __forceinline__ int attention_item(const pod_attn_params& p, const int cta) {
  if constexpr (TILE == POD_TILE_PREFILL && D > 128) {
    constexpr int ROWS = AttentionShape<T, D, TILE>::kRows;
    const int subs = p.item_rows > ROWS ? p.item_rows / ROWS : 1;
    int merge = -1;
    for (int sub = 0; sub < subs; sub++) {
      if (sub > 0) __syncthreads();  // the previous body is done with shared memory
      merge = attention_body<T, D, TILE, STAGES, KV8>(p, cta, 0, sub);
    }
    return merge;
  } else {
    return attention_body<T, D, TILE, STAGES, KV8>(p, cta);
  }
}

// Rows of the merge of a split work item: the item's rows.
template <typename T, int D, int TILE>
__device__ __forceinline__ int item_rows(const pod_attn_params& p) { return max(p.item_rows, AttentionShape<T, D, TILE>::kRows); }

}  // namespace pod

// One translation unit per dtype and head_dim defines both tile shapes under the C names the shim
// looks up: pod_attention_<dtype>_<head_dim>_<tile>, and pod_attention_<dtype>_fp8_<head_dim>_<tile>
// for fp8 caches.
#define POD_DEFINE_ATTENTION(T, NAME, D, TILE, TILE_NAME, KV8)                                                   \
  extern "C" __global__ void __launch_bounds__(POD_CTA_THREADS)                                                  \
      pod_attention_##NAME##_##D##_##TILE_NAME(const __grid_constant__ pod_attn_params p) {                     \
    pod_pdl_enter();                                                                                             \
    if (p.work && reinterpret_cast<const pod_work_item*>(p.work)[blockIdx.x / p.num_kv_heads].skip) return;      \
    const int merge = pod::attention_item<T, D, TILE, pod_kv_stages(TILE, D, 0), KV8>(p, blockIdx.x);            \
    if (merge >= 0) pod::merge_rows<T, D, POD_CTA_THREADS>(pod::merge_args(p, pod::item_rows<T, D, TILE>(p)), merge, threadIdx.x);   \
  }
namespace pod {
__device__ __forceinline__ int sm_id() {
  int id;
  asm volatile("mov.u32 %0, %%smid;" : "=r"(id));
  return id;
}

// PER_SM order, thread 0 of a starting CTA: the role by what runs on this SM, then the next item of
// that role's queue, or of the other role's when it is empty (an item is always left: as many CTAs
// as items, each takes one).
__device__ __noinline__ void claim_role(const pod_fused_params& f, int* claim) {
  pod_fused_counters* c = reinterpret_cast<pod_fused_counters*>(f.counters);
  int* running = &c->running[sm_id() % POD_MAX_SMS];
  int seen = *reinterpret_cast<volatile int*>(running), side;
  for (;;) {
    side = (seen & 0xffff) < f.prefill_slots ? 0 : 1;
    const int prev = atomicCAS(running, seen, seen + (side ? 0x10000 : 1));
    if (prev == seen) break;
    seen = prev;
  }
  int item = atomicAdd(&c->next[side], 1);
  if (item < 0 || item >= f.num_cta[side]) {
    atomicAdd(running, side ? 1 - 0x10000 : 0x10000 - 1);
    side = 1 - side;
    item = atomicAdd(&c->next[side], 1);
  }
  // Both queues empty (or a queue head out of range) means counters that were not zero when the launch
  // began: the plan in the workspace was overwritten, or launches of one plan overlap on two streams
  // (they share the counters). Such a CTA reports it and does nothing rather than read past the lists.
  const bool ok = item >= 0 && item < f.num_cta[side];
  claim[0] = side, claim[1] = ok ? item : -1;
  if (!ok) report_fault(f.side[0].fault, POD_FAULT_BY_LAUNCH, POD_FAULT_COUNTER, blockIdx.x);
}

// PER_SM order, thread 0 of a finished CTA: leaves the SM's count; the last CTA resets the queues.
__device__ __noinline__ void release_role(const pod_fused_params& f, const int side) {
  pod_fused_counters* c = reinterpret_cast<pod_fused_counters*>(f.counters);
  atomicSub(&c->running[sm_id() % POD_MAX_SMS], side ? 0x10000 : 1);
  __threadfence();
  const int done = atomicAdd(&c->done, 1), last = f.num_cta[0] + f.num_cta[1] - 1;
  if (done == last) {
    c->next[0] = 0, c->next[1] = 0, c->done = 0;
    __threadfence();
  } else if (done < 0 || done > last) {
    report_fault(f.side[0].fault, POD_FAULT_BY_LAUNCH, POD_FAULT_COUNTER, blockIdx.x);
  }
}

template <typename T, int D, bool KV8>
__device__ __forceinline__ int pod_fused_role(const pod_attn_params& p, const int tile, const int cta) {
  if (tile == POD_TILE_PREFILL) return attention_item<T, D, POD_TILE_PREFILL, 2, KV8>(p, cta);
  return attention_body<T, D, POD_TILE_DECODE, pod_kv_stages(POD_TILE_DECODE, D, 1), KV8>(p, cta);
}

// The merge a CTA of a POD launch owes (merge >= 0), after the role bodies.
template <typename T, int D>
__device__ __forceinline__ void pod_fused_merge(const pod_attn_params& p, const int tile, const int merge) {
  merge_rows<T, D, POD_CTA_THREADS>(merge_args(p, tile == POD_TILE_PREFILL ? item_rows<T, D, POD_TILE_PREFILL>(p) : item_rows<T, D, POD_TILE_DECODE>(p)), merge, threadIdx.x);
}
}  // namespace pod

// POD: one launch for both sides. The planner picks the order (pod_fused_params.order): per SM,
// each CTA takes the role that SM lacks (device counters, reset by the last CTA); or alternating
// prefill and decode CTAs until the smaller side runs out, a pure function of the CTA index.
#define POD_DEFINE_FUSED(T, NAME, D, KV8)                                                                         \
  extern "C" __global__ void __launch_bounds__(POD_CTA_THREADS) pod_fused_##NAME##_##D(const __grid_constant__ pod_fused_params f) { \
    pod_pdl_enter();                                                                                             \
    const int b = (int)blockIdx.x;                                                                               \
    int side, cta;                                                                                               \
    if (f.order == POD_ORDER_PER_SM) {                                                                          \
      __shared__ int claim[2];                                                                                   \
      if (threadIdx.x == 0) pod::claim_role(f, claim);                                                          \
      __syncthreads();                                                                                           \
      side = claim[0], cta = claim[1];                                                                           \
    } else { /* POD_ORDER_ALTERNATE */                                                                           \
      const int paired = 2 * min(f.num_cta[0], f.num_cta[1]);                                                   \
      side = b < paired ? (b & 1) : (f.num_cta[0] > f.num_cta[1] ? 0 : 1);                                      \
      cta = b < paired ? (b >> 1) : b - paired / 2;                                                             \
    }                                                                                                            \
    /* Each side's parameters by a constant index, so that kernel code reads them from the constant   \
     * bank in place instead of through computed addresses. */                                          \
    const pod_work_item* items = reinterpret_cast<const pod_work_item*>(f.side[side].work);              \
    if (cta >= 0 && !(items && items[cta / f.side[side].num_kv_heads].skip)) { /* graph mode: skipped padding */\
      const int merge = side == 0 ? pod::pod_fused_role<T, D, KV8>(f.side[0], f.tile[0], cta)            \
                                  : pod::pod_fused_role<T, D, KV8>(f.side[1], f.tile[1], cta);           \
      if (merge >= 0 && side == 0) pod::pod_fused_merge<T, D>(f.side[0], f.tile[0], merge);              \
      if (merge >= 0 && side == 1) pod::pod_fused_merge<T, D>(f.side[1], f.tile[1], merge);              \
    }                                                                                                    \
    if (f.order == POD_ORDER_PER_SM) {                                                                          \
      __syncthreads();                                                                                           \
      if (threadIdx.x == 0) pod::release_role(f, side);                                                         \
    }                                                                                                            \
  }

#define POD_DEFINE_HEAD_DIM(T, NAME, D)                               \
  POD_DEFINE_ATTENTION(T, NAME, D, POD_TILE_PREFILL, prefill, false) \
  POD_DEFINE_ATTENTION(T, NAME, D, POD_TILE_DECODE, decode, false)   \
  POD_DEFINE_FUSED(T, NAME, D, false)

// The kernels of fp8 caches (e4m3 and e5m2 alike) for q of dtype T.
#define POD_DEFINE_HEAD_DIM_FP8(T, NAME, D)                                   \
  POD_DEFINE_ATTENTION(T, NAME##_fp8, D, POD_TILE_PREFILL, prefill, true) \
  POD_DEFINE_ATTENTION(T, NAME##_fp8, D, POD_TILE_DECODE, decode, true)   \
  POD_DEFINE_FUSED(T, NAME##_fp8, D, true)
