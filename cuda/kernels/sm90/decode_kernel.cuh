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
#include "kernels/common/position.cuh"
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
  // TMA boxes per row: 64-element swizzled blocks of 16-bit rows; one box of an fp8 row (its D bytes
  // in the 128-byte swizzle at 128, the 64-byte one at 64).
  static constexpr int kBoxes = KV8 ? 1 : kBlocks;
  static constexpr int kTileBytes = kKeys * D * (KV8 ? 1 : 2);  // one K (or V) tile as loaded
  static constexpr int kWarpKeys = kKeys / 4;             // keys of a tile per consumer warp
  static constexpr int kSlotBytes = 2 * kRing * kTileBytes + kRows * D * 2;  // one body's shared memory
  static_assert(kSlotBytes % 1024 == 0, "a body's slice keeps the next one's swizzle patterns aligned");
  static_assert(pod_sm90_decode_smem(D, KV8 != 0) == kSlotBytes + 1024, "the shim's size");
  static_assert(4 * kRows * D * 4 + 2 * 4 * kRows * 4 <= 2 * kRing * kTileBytes, "the warps' rows fit in the ring");
};

// Byte offset of 16-byte chunk c of fp8 row r (D bytes) as TMA's swizzle lays it out: the 128-byte
// pattern (chunk ^ row % 8) at head_dim 128, the 64-byte one (chunk ^ row / 2 % 4) at 64.
template <int D>
__device__ __forceinline__ uint32_t fp8_row_offset(int r, int c) {
  return static_cast<uint32_t>(r * D + ((c ^ (D == 128 ? r & 7 : (r >> 1) & 3)) << 4));
}

template <int S>
struct DecodeBarriers {
  uint64_t full[S], empty[S];  // a slot's K and V tiles landed / all consumer warps are done with them
  int tile_ok, bad, merges_here;
  WorkTile tile;
};

// Decode work item `cta` on threads 160 slot .. 160 slot + 159 of the CTA, in the 1024-byte aligned
// shared memory `smem` (DecodeTraits::kSlotBytes) with barriers `bars`: the whole CTA of the decode
// kernel (slot 0), or one of the bodies of a POD launch's decode task. Named barriers 1 + 2 slot (the
// body) and 2 + 2 slot (its consumers). Rope: keys and queries rotated by RoPE (Llama) on the fly.
//
// fp8 caches are multiplied from the ring as stored: a thread's ldmatrix fragment of an fp8 row holds
// four consecutive dims (4 t .. 4 t + 3 of a 16-dim chunk) where m16n8k16 expects dims 2 t, 2 t + 1,
// 2 t + 8, 2 t + 9; Q K^T sums over dims, so the query fragments are read in the same order. V's
// fragments (ldmatrix .trans of byte pairs, one byte permute) cover dims 2 g and 2 g + 1 of a chunk in
// two n-blocks, and the epilogue writes O's dims back in order.
template <typename T, int D, typename Score, int KV8 = 0, bool Rope = false>
__device__ __forceinline__ void decode_body(const pod_sm90_side_params& P, const int cta, const int slot, uint8_t* smem,
                                            DecodeBarriers<DecodeTraits<D, KV8>::kRing>& bars) {
#if POD_HAS_WGMMA
  using Tr = DecodeTraits<D, KV8>;
  constexpr int KK = Tr::kKeys, S = Tr::kRing, ROWS = Tr::kRows;
  const pod_attn_params& p = P.p;
  uint8_t* sK = smem;
  uint8_t* sV = sK + S * Tr::kTileBytes;
  uint8_t* sQ = sV + S * Tr::kTileBytes;
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
    // The page ids of tile t + 1 are loaded as soon as tile t is issued, so their latency passes
    // while the producer waits for the next free slot.
    if (num_tiles == 0) return;
    const bool ho = P.heads_outer != 0;
    const int* page_ids = p.page_size ? reinterpret_cast<const int*>(p.kv_indices) + w.page0 : nullptr;
    const int ps = p.page_size, box = page_ids ? min(ps, KK) : KK;
    const bool issuer = lane < KK / box;
    auto page_of = [&](const int t) {
      int page = 0;
      if (page_ids && issuer) {
        page = page_ids[min((tile0 + t * KK + lane * box) >> p.page_shift, w.pages - 1)];
        if ((unsigned)page >= (unsigned)p.num_pages) bars.bad = 1, page = 0;  // before the tile's arrival
      }
      return page;
    };
    int next = page_of(0);
    for (int t = 0; t < num_tiles; t++) {
      const int st = t % S, key0 = tile0 + t * KK, page = next;
      if (lane == 0) bar_wait(&bars.empty[st], ((t / S) & 1) ^ 1);
      __syncwarp();
      if (lane == 0) bar_expect(&bars.full[st], 2 * Tr::kTileBytes);
      __syncwarp();
      if (issuer) {
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
      if (t + 1 < num_tiles) next = page_of(t + 1);
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
  if constexpr (Rope) {
    named_sync(consumer_bar, 128);
    // The queries rotated once, at their positions (padding rows are zeros and stay so).
    for (int idx = ctid; idx < ROWS * (D / 2); idx += 128) {
      const int row = idx / (D / 2), d = idx % (D / 2), token = (w.row_start + row) / group;
      float sn, cs;
      sincosf((float)(w.kv_len - w.qo_len + token) * rope_frequency(d, D, p.rope_rcp_scale, p.rope_theta), &sn, &cs);
      T* a = reinterpret_cast<T*>(sQ + swizzle128_offset(ROWS, row, d / 8)) + d % 8;
      T* b = reinterpret_cast<T*>(sQ + swizzle128_offset(ROWS, row, (d + D / 2) / 8)) + d % 8;
      const float x = to_float(*a), y = to_float(*b);
      *a = from_float<T>(x * cs - y * sn), *b = from_float<T>(y * cs + x * sn);
    }
  }
  named_sync(consumer_bar, 128);
  // Query fragments are read from shared memory on each tile rather than held: the registers go to
  // O, and the body fits a POD launch's 168 registers a thread.
  const uint32_t q_base = smem_addr(sQ);

  // Key bounds of this thread's rows g and g + 8; padding rows stay unmasked (never written).
  const KeyBounds kb{w.kv_begin, w.kv_end, p.causal, p.window_left};
  int lo[2], hi[2], row_head[2], row_pos[2];
#pragma unroll
  for (int x = 0; x < 2; x++) {
    const int pr = w.row_start + g + 8 * x, token = pr / group;
    const bool valid = token < w.qo_len;
    row_pos[x] = w.kv_len - w.qo_len + token;
    row_head[x] = valid ? w.kv_head * group + pr % group : -1;
    lo[x] = valid ? kb.lo(row_pos[x]) : -2147483647;
    hi[x] = valid ? kb.hi(row_pos[x]) : 2147483647;
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
  Score score(p);
  score.rows(p, row_head, row_pos);
  const int kw = cw * Tr::kWarpKeys;
  // Per-lane ldmatrix rows (keys) and the XOR of the 128-byte swizzle (key & 7 == lane & 7) of 16-bit
  // tiles; fp8 tiles: matrix lane / 8 is key half (lane / 8) % 2 of chunk pair member lane / 16.
  const uint32_t k_row = (kw + (lane & 7) + 8 * (lane >> 4)) * 128, k_hi = (lane >> 3) & 1;
  const uint32_t v_row = (kw + (lane & 7) + 8 * ((lane >> 3) & 1)) * 128, v_hi = lane >> 4;
  const uint32_t sw = lane & 7;
  const int key8 = kw + (lane & 7) + 8 * ((lane >> 3) & 1), pair8 = lane >> 4;
  // RoPE: the frequencies of the low-half dims this thread's K fragments hold (element i of chunk c:
  // 16 c + 2 t + i % 2 + 8 (i / 2) for 16-bit tiles, 16 c + 4 t + i for fp8).
  constexpr int kRopeChunks = Rope ? D / 32 : 1;
  float freq[kRopeChunks][4];
  if constexpr (Rope) {
#pragma unroll
    for (int c = 0; c < kRopeChunks; c++)
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int d = 16 * c + (KV8 ? 4 * t4 + i : 2 * t4 + (i & 1) + 8 * (i >> 1));
        freq[c][i] = rope_frequency(d, D, p.rope_rcp_scale, p.rope_theta);
      }
  }

#pragma unroll 1
  for (int t = 0; t < num_tiles; t++) {
    const int st = t % S, key0 = tile0 + t * KK + kw;
    bar_wait(&bars.full[st], (t / S) & 1);
    uint8_t *k_tile = sK + st * Tr::kTileBytes, *v_tile = sV + st * Tr::kTileBytes;
    const uint32_t kt = smem_addr(k_tile), vt = smem_addr(v_tile);
    float s[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
    // Q K^T over chunk pairs (c, c + D / 32): the dims RoPE rotates together.
#pragma unroll
    for (int c = 0; c < D / 32; c++) {
      uint32_t kb2[2][2][2];  // [pair member][key half][b0, b1] for 16-dim chunks c and c + D / 32
      if constexpr (KV8 != 0) {
        uint32_t r[4];
        ldmatrix_x4(r, kt + fp8_row_offset<D>(key8, c + pair8 * (D / 32)));
#pragma unroll
        for (int m = 0; m < 4; m++) {
          kb2[m >> 1][m & 1][0] = fp8x2_to<T>(r[m] & 0xffffu, KV8 == 2);
          kb2[m >> 1][m & 1][1] = fp8x2_to<T>(r[m] >> 16, KV8 == 2);
        }
      } else {
#pragma unroll
        for (int h = 0; h < 2; h++) {
          const uint32_t ch = 2 * (c + h * (D / 32)) + k_hi;
          uint32_t r[4];
          ldmatrix_x4(r, kt + (ch >> 3) * KK * 128 + k_row + (((ch & 7) ^ sw) << 4));
          kb2[h][0][0] = r[0], kb2[h][0][1] = r[1], kb2[h][1][0] = r[2], kb2[h][1][1] = r[3];
        }
      }
      if constexpr (Rope) {
        // Key g of each 8-key half: rotate (dim d, dim d + D / 2) pairs in fp32, as the queries.
#pragma unroll
        for (int kh = 0; kh < 2; kh++) {
          const float pos = (float)(key0 + 8 * kh + g);
#pragma unroll
          for (int rg = 0; rg < 2; rg++) {
            const float2 x = unpack2<T>(kb2[0][kh][rg]), y = unpack2<T>(kb2[1][kh][rg]);
            float s0, c0, s1, c1;
            __sincosf(pos * freq[c][2 * rg], &s0, &c0);
            __sincosf(pos * freq[c][2 * rg + 1], &s1, &c1);
            kb2[0][kh][rg] = pack2<T>(x.x * c0 - y.x * s0, x.y * c1 - y.y * s1);
            kb2[1][kh][rg] = pack2<T>(y.x * c0 + x.x * s0, y.y * c1 + x.y * s1);
          }
        }
      }
#pragma unroll
      for (int h = 0; h < 2; h++) {
        const int ch16 = c + h * (D / 32);
        uint32_t a[4];
        if constexpr (KV8 != 0) {
          // Dims 16 ch16 + 4 t .. + 3 of rows g and g + 8, in the fragment order of the K rows.
          const uint2 r0 = lds64(q_base + swizzle128_offset(ROWS, g, 2 * ch16 + (t4 >> 1)) + (t4 & 1) * 8);
          const uint2 r1 = lds64(q_base + swizzle128_offset(ROWS, g + 8, 2 * ch16 + (t4 >> 1)) + (t4 & 1) * 8);
          a[0] = r0.x, a[1] = r1.x, a[2] = r0.y, a[3] = r1.y;
        } else {
          ldmatrix_x4(a, q_base + swizzle128_offset(ROWS, lane & 15, 2 * ch16 + (lane >> 4)));
        }
        mma16816<T>(s[0], a, kb2[h][0][0], kb2[h][0][1]);
        mma16816<T>(s[1], a, kb2[h][1][0], kb2[h][1][1]);
      }
    }
    if (p.page_size && key0 + Tr::kWarpKeys > w.kv_len) {
      // Slots past the request's end in its last page may hold anything, NaN included, and 0 * NaN
      // is NaN: zero this warp's value rows there before P V reads them.
      const int first = max(0, w.kv_len - key0);
      if constexpr (KV8 != 0) {
        for (int c = lane; c < (Tr::kWarpKeys - first) * (D / 16); c += 32)
          *reinterpret_cast<uint4*>(v_tile + (kw + first + c / (D / 16)) * D + (c % (D / 16)) * 16) = make_uint4(0, 0, 0, 0);
      } else {
        for (int c = lane; c < (Tr::kWarpKeys - first) * Tr::kBlocks * 8; c += 32) {
          const int cb = c / ((Tr::kWarpKeys - first) * 8), r = kw + first + (c / 8) % (Tr::kWarpKeys - first), ch = c % 8;
          *reinterpret_cast<uint4*>(v_tile + cb * KK * 128 + r * 128 + ch * 16) = make_uint4(0, 0, 0, 0);
        }
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
    // P V: 16-bit tiles per 16-dim chunk (two n-blocks), fp8 tiles per pair of chunks (four).
    constexpr int kVSteps = KV8 ? D / 32 : D / 16;
#pragma unroll
    for (int db2 = 0; db2 < kVSteps; db2++) {
      if constexpr (KV8 != 0) {
        // Chunks 2 db2 and 2 db2 + 1; per chunk c, o[2 c] takes its even dims, o[2 c + 1] the odd.
        uint32_t r[4];
        ldmatrix_x4_trans(r, vt + fp8_row_offset<D>(key8, 2 * db2 + pair8));
#pragma unroll
        for (int j = 0; j < 2; j++) {
          const uint32_t e0 = __byte_perm(r[2 * j], 0, 0x3120), e1 = __byte_perm(r[2 * j + 1], 0, 0x3120);
          const int c = 2 * db2 + j;
          mma16816<T>(o[2 * c], a, fp8x2_to<T>(e0 & 0xffffu, KV8 == 2), fp8x2_to<T>(e1 & 0xffffu, KV8 == 2));
          mma16816<T>(o[2 * c + 1], a, fp8x2_to<T>(e0 >> 16, KV8 == 2), fp8x2_to<T>(e1 >> 16, KV8 == 2));
        }
      } else {
        const uint32_t ch = 2 * db2 + v_hi;
        uint32_t b[4];
        ldmatrix_x4_trans(b, vt + (ch >> 3) * KK * 128 + v_row + (((ch & 7) ^ sw) << 4));
        mma16816<T>(o[2 * db2], a, b[0], b[1]);
        mma16816<T>(o[2 * db2 + 1], a, b[2], b[3]);
      }
    }
    __syncwarp();
    if (lane == 0) bar_arrive(&bars.empty[st]);
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
    if constexpr (KV8 != 0) {
#pragma unroll
      for (int c = 0; c < D / 16; c++)
        *reinterpret_cast<float4*>(dst + 16 * c + 4 * t4) = make_float4(o[2 * c][2 * x], o[2 * c + 1][2 * x], o[2 * c][2 * x + 1], o[2 * c + 1][2 * x + 1]);
    } else {
#pragma unroll
      for (int b = 0; b < D / 8; b++) *reinterpret_cast<float2*>(dst + b * 8 + 2 * t4) = make_float2(o[b][2 * x], o[b][2 * x + 1]);
    }
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

template <typename T, int D, typename Score, int KV8, bool Rope>
__device__ __forceinline__ void decode_cta(const pod_sm90_side_params& P, const int cta) {
  extern __shared__ __align__(128) uint8_t smem_raw[];
  __shared__ DecodeBarriers<DecodeTraits<D, KV8>::kRing> bars;
  decode_body<T, D, Score, KV8, Rope>(P, cta, 0, smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023), bars);
}

}  // namespace pod::sm90

// pod_sm90_decode_<dtype>[_e4m3|_e5m2]_<head_dim>[_softcap|_alibi|_rope]: the kernel table in the shim
// lists them.
#define POD_DEFINE_SM90_DECODE_VARIANT(T, NAME, D, SUFFIX, SCORE, KV8, ROPE)                                         \
  extern "C" __global__ void __launch_bounds__(POD_SM90_DECODE_THREADS, 2)                                           \
      pod_sm90_decode_##NAME##_##D##SUFFIX(const __grid_constant__ pod_sm90_side_params P) {                      \
    pod_pdl_enter();                                                                                                 \
    if (P.p.work && reinterpret_cast<const pod_work_item*>(P.p.work)[blockIdx.x / P.p.num_kv_heads].skip) return;    \
    pod::sm90::decode_cta<T, D, SCORE, KV8, ROPE>(P, blockIdx.x);                                                    \
  }
#define POD_DEFINE_SM90_DECODE_FORMAT(T, NAME, D, KV8)                                          \
  POD_DEFINE_SM90_DECODE_VARIANT(T, NAME, D, , pod::sm90::ScorePlain, KV8, false)               \
  POD_DEFINE_SM90_DECODE_VARIANT(T, NAME, D, _softcap, pod::sm90::ScoreSoftCap, KV8, false)     \
  POD_DEFINE_SM90_DECODE_VARIANT(T, NAME, D, _alibi, pod::sm90::ScoreAlibi, KV8, false)         \
  POD_DEFINE_SM90_DECODE_VARIANT(T, NAME, D, _rope, pod::sm90::ScorePlain, KV8, true)
// The 16-bit cache kernels of a dtype and head_dim, and those of fp8 caches.
#define POD_DEFINE_SM90_DECODE(T, NAME, D) POD_DEFINE_SM90_DECODE_FORMAT(T, NAME, D, 0)
#define POD_DEFINE_SM90_DECODE_FP8(T, NAME, D)           \
  POD_DEFINE_SM90_DECODE_FORMAT(T, NAME##_e4m3, D, 1)    \
  POD_DEFINE_SM90_DECODE_FORMAT(T, NAME##_e5m2, D, 2)
