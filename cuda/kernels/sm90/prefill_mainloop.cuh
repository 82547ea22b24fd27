// The two roles of an sm_90a prefill CTA.
//
// Producer warpgroup: warps 0 and 1 stream key and value tiles with TMA into rings of kStages slots
// (full and empty barriers per slot and operand; the consumers free a key slot as soon as Q K^T has
// read it, a value slot after P V): one thread each for contiguous tiles, the whole warp (a box per
// lane) for paged ones; warps 1-3 load the CTA's query rows once (GQA packing and padding rows need
// per-row addressing). Paged sides whose pages TMA boxes do not suit (below 8 slots, or not a power
// of two) are gathered row by row with cp.async by the whole warpgroup instead.
//
// Consumer warpgroups (64 query rows each): S = Q K^T and O += P V on wgmma, with the softmax of tile
// t overlapping the P V of tile t - 1 on the tensor cores: each iteration issues Q K_t^T and
// P_{t-1} V_{t-1}, waits for S, runs the softmax, then waits for P V before rescaling O. The two
// consumers take turns issuing (ping-pong through two named barriers), so that one's softmax runs
// while the other's GEMMs keep the tensor cores busy.
#pragma once
#include "kernels/common/merge.cuh"
#include "kernels/common/work_tile.cuh"
#include "kernels/sm90/pipeline.cuh"
#include "kernels/sm90/prefill_softmax.cuh"
#include "kernels/sm90/prefill_traits.cuh"
#include "kernels/common/wgmma_shapes.cuh"

namespace pod::sm90 {

template <int S>
struct PrefillBarriers {
  uint64_t q_full;
  uint64_t k_full[S], v_full[S];
  uint64_t k_empty[S], v_empty[S];
  int merges_here;
  int tile_ok;  // the work item passed its checks (work_tile.cuh)
  int bad;      // a producer met a page index out of range: the consumers write nothing
  WorkTile tile;
};

// Keys of tile t start at tile0 + t * kKeys; paged tiles start on a multiple of kKeys (so on page
// boundaries) and mask the keys before kv_begin.
struct TileRange {
  int tile0, num_tiles;
};

// Whether the side's paged K/V are gathered with cp.async (the shim's choice) rather than TMA boxes.
__device__ __forceinline__ bool gathers_pages(const pod_sm90_side_params& P) { return P.paged_loads == POD_SM90_LOADS_GATHER; }

template <int KK>
__device__ __forceinline__ TileRange tile_range(const pod_attn_params& p, const WorkTile& w) {
  const int tile0 = p.page_size ? (w.kv_begin & ~(KK - 1)) : w.kv_begin;
  return TileRange{tile0, w.kv_end > w.kv_begin ? (w.kv_end - tile0 + KK - 1) / KK : 0};
}

// Issues the TMA boxes of one contiguous K or V tile (keys key0 .. key0 + kKeys - 1) into `dst`,
// counted on `bar`: one box per 64-column block.
template <typename T, int D>
__device__ __forceinline__ void load_tile(const pod_tma_map* map, uint8_t* dst, const int key0, const int head, const bool ho, uint64_t* bar) {
  using Tr = PrefillTraits<T, D>;
  constexpr int KK = Tr::kKeys;
  bar_expect(bar, Tr::kTileBytes);
#pragma unroll
  for (int cb = 0; cb < Tr::kBlocks; cb++) tma_load(dst + cb * KK * 128, map, cb * 64, ho ? key0 : head, ho ? head : key0, bar);
}

// The CTA's query rows, zero past the request's end, into the 128-byte swizzled layout wgmma reads:
// thread `index` of `count` issues its share of the copies and commits them as one group.
template <typename T, int D>
__device__ __forceinline__ void load_q(const pod_attn_params& p, const WorkTile& w, uint8_t* sQ, const int index, const int count) {
  using Tr = PrefillTraits<T, D>;
  constexpr int kChunks = D / 8;
  for (int c = index; c < Tr::kRows * kChunks; c += count) {
    const int row = c / kChunks, ch = c % kChunks;
    const int pr = w.row_start + row, token = pr / p.group, head = w.kv_head * p.group + pr % p.group;
    const bool ok = token < w.qo_len;
    const T* src = reinterpret_cast<const T*>(p.q) +
                   (ok ? (int64_t)(w.q_start + token) * p.q_stride_t + (int64_t)head * p.q_stride_h + ch * 8 : 0);
    cp_async16(smem_addr(sQ + swizzle128_offset(Tr::kRows, row, ch)), src, ok ? 16 : 0);
  }
  cp_async_commit();
}

// Gathered paged K/V (POD_SM90_LOADS_GATHER): 64 producer threads per operand copy a tile row by row with
// cp.async. Eight threads take the eight 16-byte chunks of a row's 128-byte column block (one line of
// the cache), so thread g copies rows (g / 8) * kRowsPer .. + kRowsPer - 1 of the tile. The page ids
// of a warp's rows are read before it waits for the slot, kIds a lane, and passed to the copying
// lanes by shuffles: a lookup on each row's path (a page a row at page size 1) starved the consumers.
template <typename T, int D>
struct PagedRows {
  static constexpr int kRowsPer = PrefillTraits<T, D>::kKeys / 8;
  static constexpr int kIds = kRowsPer / 8;  // page ids a lane holds: a warp's 4 kRowsPer rows over 32 lanes
  const uint8_t* base;
  int64_t page_bytes, slot_bytes, head_bytes;
  const int* page_ids;
  int num_pages, kv_len;
  int g;  // thread of the operand's 64

  // The pages of rows w + kIds lane .. + kIds - 1 of the tile at key0 (w: the warp's first row); past
  // the request's pages, its last (keys past kv_len are not copied). An id past the cache loads page 0
  // and sets *bad.
  __device__ __forceinline__ void lookup(const pod_attn_params& p, const int key0, int (&ids)[kIds], volatile int* bad) const {
    const int first = key0 + (g / 32) * 4 * kRowsPer + kIds * (g % 32);
#pragma unroll
    for (int i = 0; i < kIds; i++) {
      int page = page_ids[min(page_index(p, first + i), num_pages - 1)];
      if ((unsigned)page >= (unsigned)p.num_pages) *bad = 1, page = 0;
      ids[i] = page;
    }
  }

  // This thread's rows of the tile at key0 into `dst` (a ring slot), with the warp's page ids. Rows
  // past kv_len are zero-filled, so no stale slot reaches P V.
  __device__ __forceinline__ void copy(const pod_attn_params& p, uint8_t* dst, const int key0, const int (&ids)[kIds]) const {
    using Tr = PrefillTraits<T, D>;
    const int ch = g % 8, row0 = (g / 8) * kRowsPer, key_first = key0 + row0, warp_row = ((g / 8) % 4) * kRowsPer;
    const uint8_t* head_base = base + head_bytes + ch * 16;
    const uint32_t dst0 = smem_addr(dst) + row0 * 128;
#pragma unroll 2
    for (int r = 0; r < kRowsPer; r++) {
      const int key = key_first + r, i = page_index(p, key);
      // Row warp_row + r of the warp's rows: lane (warp_row + r) / kIds holds it, as element r % kIds
      // (the same element on every lane: warp_row is a multiple of kIds).
      const int page = __shfl_sync(0xffffffffu, ids[r % kIds], (warp_row + r) / kIds);
      const bool ok = key < kv_len;
      const uint8_t* src = ok ? head_base + (int64_t)page * page_bytes + (int64_t)(key - i * p.page_size) * slot_bytes : base;
      const uint32_t d = dst0 + r * 128 + ((ch ^ ((row0 + r) & 7)) << 4);  // swizzle128_offset of (row, cb * 8 + ch)
#pragma unroll
      for (int cb = 0; cb < Tr::kBlocks; cb++) cp_async16(d + cb * Tr::kKeys * 128, src + cb * 128, ok ? 16 : 0);
    }
  }
};

// The producer warpgroup of a gathered paged side: all 128 threads load the query rows, then threads
// 0-63 stream keys and 64-127 values. A thread signals a slot once its own copies into it have landed
// (cp.async groups complete in order: waiting for all but the newest covers the previous tile, or the
// query rows), after the proxy fence that makes them visible to wgmma; so a tile's arrival waits for
// the next tile's free slot, which the consumers release two (one at head_dim 256) tiles before
// they need the arriving one.
template <typename T, int D>
__device__ __forceinline__ void produce_gathered(const pod_sm90_side_params& P, const WorkTile& w, const TileRange tr, uint8_t* sQ,
                                                 uint8_t* sK, uint8_t* sV, PrefillBarriers<PrefillTraits<T, D>::kStages>& bars) {
  using Tr = PrefillTraits<T, D>;
  constexpr int KK = Tr::kKeys, S = Tr::kStages;
  const pod_attn_params& p = P.p;
  const int tid = threadIdx.x;
  load_q<T, D>(p, w, sQ, tid, 128);
  const bool keys = tid < 64;
  PagedRows<T, D> rows;
  rows.base = reinterpret_cast<const uint8_t*>(keys ? p.k : p.v);
  rows.page_bytes = (keys ? p.k_s0 : p.v_s0) * (int64_t)sizeof(T);
  rows.slot_bytes = (keys ? p.k_s1 : p.v_s1) * (int64_t)sizeof(T);
  rows.head_bytes = (keys ? p.k_s2 : p.v_s2) * (int64_t)sizeof(T) * w.kv_head;
  rows.page_ids = reinterpret_cast<const int*>(p.kv_indices) + w.page0;
  rows.num_pages = w.pages, rows.kv_len = w.kv_len, rows.g = tid % 64;
  uint8_t* ring = keys ? sK : sV;
  uint64_t* full = keys ? bars.k_full : bars.v_full;
  uint64_t* empty = keys ? bars.k_empty : bars.v_empty;
  for (int t = 0; t < tr.num_tiles; t++) {
    const int s = t % S, key0 = tr.tile0 + t * KK;
    int ids[PagedRows<T, D>::kIds];
    rows.lookup(p, key0, ids, &bars.bad);  // in flight during the wait
    bar_wait(&empty[s], ((t / S) & 1) ^ 1);
    rows.copy(p, ring + s * Tr::kTileBytes, key0, ids);
    cp_async_commit();
    cp_async_wait<1>();
    fence_async_shared();
    bar_arrive(t == 0 ? &bars.q_full : &full[(t - 1) % S]);
  }
  cp_async_wait<0>();
  fence_async_shared();
  bar_arrive(&full[(tr.num_tiles - 1) % S]);
}

// Paged boxes issued by a warp: lane b issues box b of each tile (a page, or a tile of a page that
// holds more; at most 16 boxes: pages of 8 or more), and reads the page of its box in the next tile
// right after issuing this one, so the page-id latency passes while the warp waits for the next
// free slot (one thread issuing the boxes and reading the pages as it went made paged prefill 1.24x
// the contiguous time at page 16 on the H200, where the warp takes 1.03x).
template <typename T, int D>
__device__ __forceinline__ void stream_boxes_by_warp(const pod_sm90_side_params& P, const WorkTile& w, const TileRange tr, const pod_tma_map* map,
                                                     uint8_t* ring, uint64_t* full, uint64_t* empty, volatile int* bad) {
  using Tr = PrefillTraits<T, D>;
  constexpr int KK = Tr::kKeys, S = Tr::kStages;
  const pod_attn_params& p = P.p;
  const int lane = threadIdx.x % 32, ps = p.page_size, box = min(ps, KK);
  const bool issuer = lane < KK / box, ho = P.heads_outer != 0;
  const int* page_ids = reinterpret_cast<const int*>(p.kv_indices) + w.page0;
  auto page_of = [&](const int t) {
    int page = 0;
    if (issuer) {
      // Boxes past the request's last page (keys past kv_len, masked) repeat it.
      page = page_ids[min((tr.tile0 + t * KK + lane * box) >> p.page_shift, w.pages - 1)];
      if ((unsigned)page >= (unsigned)p.num_pages) *bad = 1, page = 0;  // before the tile's arrival
    }
    return page;
  };
  int next = page_of(0);
  for (int t = 0; t < tr.num_tiles; t++) {
    const int s = t % S, key = tr.tile0 + t * KK + lane * box, page = next;
    if (lane == 0) bar_wait(&empty[s], ((t / S) & 1) ^ 1);
    __syncwarp();
    if (lane == 0) bar_expect(&full[s], Tr::kTileBytes);
    __syncwarp();
    if (issuer) {
      uint8_t* dst = ring + s * Tr::kTileBytes + lane * box * 128;
      const int slot = key & (ps - 1);
      const int c1 = ho ? slot : w.kv_head, c2 = ho ? w.kv_head : slot;
#pragma unroll
      for (int cb = 0; cb < Tr::kBlocks; cb++) tma_load(dst + cb * KK * 128, map, cb * 64, c1, c2, page, &full[s]);
    }
    if (t + 1 < tr.num_tiles) next = page_of(t + 1);
  }
}

// One thread streams an operand's contiguous tiles: it waits for each free slot, then issues the
// tile's boxes.
template <typename T, int D>
__device__ __forceinline__ void stream_boxes(const pod_sm90_side_params& P, const WorkTile& w, const TileRange tr, const pod_tma_map* map,
                                             uint8_t* ring, uint64_t* full, uint64_t* empty) {
  using Tr = PrefillTraits<T, D>;
  constexpr int KK = Tr::kKeys, S = Tr::kStages;
  for (int t = 0; t < tr.num_tiles; t++) {
    const int s = t % S;
    bar_wait(&empty[s], ((t / S) & 1) ^ 1);
    load_tile<T, D>(map, ring + s * Tr::kTileBytes, tr.tile0 + t * KK, w.kv_head, P.heads_outer != 0, &full[s]);
  }
}

template <typename T, int D>
__device__ __forceinline__ void produce(const pod_sm90_side_params& P, const WorkTile& w, const TileRange tr, uint8_t* sQ,
                                        uint8_t* sK, uint8_t* sV, PrefillBarriers<PrefillTraits<T, D>::kStages>& bars) {
  using Tr = PrefillTraits<T, D>;
  const pod_attn_params& p = P.p;
  const int tid = threadIdx.x;
  if (tr.num_tiles == 0) return;  // the consumers write zeros and wait for nothing
  if (gathers_pages(P)) return produce_gathered<T, D>(P, w, tr, sQ, sK, sV, bars);
  // Boxes: warp 0 streams keys, warp 1 values (one thread of each for contiguous tiles, every lane
  // for paged ones), after warp 1 has helped warps 2-3 load the query rows.
  const bool by_warp = p.page_size != 0;
  if (tid >= 32) {
    load_q<T, D>(p, w, sQ, tid - 32, 96);
    cp_async_wait<0>();
    fence_async_shared();  // generic-proxy writes, read by wgmma
    bar_arrive(&bars.q_full);
    if (tid >= 64 || (tid != 32 && !by_warp)) return;
  } else if (tid != 0 && !by_warp) {
    return;
  }
  // Each operand's streamer waits only for its own free slot, so the keys of the next tiles arrive
  // while the values of earlier ones are still in use.
  const bool keys = tid < 32;
  const pod_tma_map* map = keys ? &P.k_map : &P.v_map;
  uint8_t* ring = keys ? sK : sV;
  uint64_t* full = keys ? bars.k_full : bars.v_full;
  uint64_t* empty = keys ? bars.k_empty : bars.v_empty;
  if (by_warp) return stream_boxes_by_warp<T, D>(P, w, tr, map, ring, full, empty, &bars.bad);
  stream_boxes<T, D>(P, w, tr, map, ring, full, empty);
}

template <int N>
__device__ __forceinline__ void hold_all(float (&a)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; i++) hold(a[i][0]), hold(a[i][1]), hold(a[i][2]), hold(a[i][3]);
}
template <int N>
__device__ __forceinline__ void hold_all(uint32_t (&a)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; i++) hold(a[i][0]), hold(a[i][1]), hold(a[i][2]), hold(a[i][3]);
}

// The consumer's result: O (unnormalised) and the softmax state of its two rows.
template <int D, int KK>
struct ConsumerResult {
  float o[D / 8][4];
  RowSoftmax<KK> sm;
};

template <typename T, int D, typename Score>
__device__ __forceinline__ void consume(const pod_sm90_side_params& P, const WorkTile& w, const TileRange tr, uint8_t* sQ,
                                        uint8_t* sK, uint8_t* sV, PrefillBarriers<PrefillTraits<T, D>::kStages>& bars,
                                        ConsumerResult<D, PrefillTraits<T, D>::kKeys>& res) {
  using Tr = PrefillTraits<T, D>;
  constexpr int KK = Tr::kKeys, S = Tr::kStages;
  const pod_attn_params& p = P.p;
  const int ctid = threadIdx.x - 128, cw = ctid / 128;
  const int warp = (ctid / 32) % 4, lane = ctid % 32, g = lane / 4, t4 = lane % 4;
  const int group = p.group;
  const KeyBounds kb{w.kv_begin, w.kv_end, p.causal, p.window_left};

  // This thread's rows (64 cw + 16 warp + g + 8x): their key bounds; padding rows are left unmasked
  // (their scores are finite and their output is never written).
  int lo[2], hi[2];
#pragma unroll
  for (int x = 0; x < 2; x++) {
    const int token = (w.row_start + 64 * cw + 16 * warp + g + 8 * x) / group;
    const int pos = w.kv_len - w.qo_len + token;
    const bool valid = token < w.qo_len;
    lo[x] = valid ? kb.lo(pos) : -2147483647;
    hi[x] = valid ? kb.hi(pos) : 2147483647;
  }
  // Tiles inside [free_lo, free_hi] need no per-score masking for any row of this warpgroup.
  const int first_row = w.row_start + 64 * cw;
  const int last_row = min(first_row + 63, w.qo_len * group - 1);
  int free_lo = -2147483647, free_hi = 2147483647;
  if (first_row <= last_row) {
    free_lo = kb.lo(w.kv_len - w.qo_len + last_row / group);
    free_hi = kb.hi(w.kv_len - w.qo_len + first_row / group);
  }

  const uint64_t q_desc = wgmma_desc(smem_addr(sQ), 16, 1024);
  const uint64_t k_desc = wgmma_desc(smem_addr(sK), 16, 1024);
  const uint64_t v_desc = wgmma_desc(smem_addr(sV), KK * 128, 1024);  // MN-major: column blocks KK rows apart
  auto issue_qk = [&](float (&s)[KK / 8][4], const int stage) {
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
      mma_ss<T, KK>(s, q_desc + (((kk >> 2) * Tr::kRows * 128 + cw * 64 * 128 + (kk & 3) * 32) >> 4),
                    k_desc + ((stage * Tr::kTileBytes + (kk >> 2) * KK * 128 + (kk & 3) * 32) >> 4), kk > 0);
  };
  auto issue_pv = [&](uint32_t (&pa)[KK / 16][4], const int stage) {
#pragma unroll
    for (int ks = 0; ks < KK / 16; ks++) mma_rs<T, D>(res.o, pa[ks], v_desc + ((stage * Tr::kTileBytes + ks * 16 * 128) >> 4));
  };
  auto pack_p = [&](uint32_t (&pa)[KK / 16][4], const float (&s)[KK / 8][4]) {
#pragma unroll
    for (int ks = 0; ks < KK / 16; ks++) {
      pa[ks][0] = pack2<T>(s[2 * ks][0], s[2 * ks][1]);
      pa[ks][1] = pack2<T>(s[2 * ks][2], s[2 * ks][3]);
      pa[ks][2] = pack2<T>(s[2 * ks + 1][0], s[2 * ks + 1][1]);
      pa[ks][3] = pack2<T>(s[2 * ks + 1][2], s[2 * ks + 1][3]);
    }
  };
  auto release_k = [&](const int stage) {
    if (lane == 0) bar_arrive(&bars.k_empty[stage]);
  };
  auto release_v = [&](const int stage) {
    if (lane == 0) bar_arrive(&bars.v_empty[stage]);
  };
  // Issue slots (Q K_0; then Q K_t with P V_{t-1}; then the last P V) alternate between the
  // consumers: barrier 4 + c opens consumer c's slot; consumer 1 opens consumer 0's first.
  auto my_turn = [&] { named_sync(4 + cw, Tr::kConsumerThreads); };
  auto your_turn = [&] { named_arrive(5 - cw, Tr::kConsumerThreads); };
  const Score score(p);
  auto softmax = [&](float (&s)[KK / 8][4], const int t, float (&rescale)[2]) {
    const int key0 = tr.tile0 + t * KK;
    const bool masked = key0 < free_lo || key0 + KK - 1 > free_hi;
    res.sm.step(s, score, masked, lo, hi, key0 + 2 * t4, rescale);
  };

#pragma unroll
  for (int b = 0; b < D / 8; b++) res.o[b][0] = res.o[b][1] = res.o[b][2] = res.o[b][3] = 0.0f;
  res.sm.init();
  if (tr.num_tiles == 0) return;

  float s[KK / 8][4];
  uint32_t pa[KK / 16][4];
  float rescale[2];
  if (cw == 1) your_turn();
  bar_wait(&bars.q_full, 0);
  bar_wait(&bars.k_full[0], 0);
  my_turn();
  wgmma_fence();
  issue_qk(s, 0);
  wgmma_commit();
  your_turn();
  wgmma_wait<0>();
  hold_all(s);
  release_k(0);
  softmax(s, 0, rescale);
  pack_p(pa, s);

#pragma unroll 1
  for (int t = 1; t < tr.num_tiles; t++) {
    const int st = t % S, sp = (t - 1) % S;
    bar_wait(&bars.k_full[st], (t / S) & 1);
    bar_wait(&bars.v_full[sp], ((t - 1) / S) & 1);
    my_turn();
    wgmma_fence();
    issue_qk(s, st);
    wgmma_commit();
    issue_pv(pa, sp);
    wgmma_commit();
    your_turn();
    wgmma_wait<1>();  // groups complete in order: S is ready, P V may still run
    hold_all(s);
    release_k(st);
    softmax(s, t, rescale);
    wgmma_wait<0>();
    hold_all(res.o);
    hold_all(pa);
    release_v(sp);
    if (__any_sync(0xffffffffu, rescale[0] != 1.0f || rescale[1] != 1.0f)) {  // skipped once the maxima settle
#pragma unroll
      for (int b = 0; b < D / 8; b++) res.o[b][0] *= rescale[0], res.o[b][1] *= rescale[0], res.o[b][2] *= rescale[1], res.o[b][3] *= rescale[1];
    }
    pack_p(pa, s);
  }

  const int last = tr.num_tiles - 1, sl = last % S;
  bar_wait(&bars.v_full[sl], (last / S) & 1);
  const int key0 = tr.tile0 + last * KK;
  if (p.page_size && !gathers_pages(P) && key0 + KK > w.kv_len) {
    // Slots past the request's end in its last page (or repeated pages) may hold anything, NaN
    // included, and 0 * NaN is NaN: zero those value rows before P V reads them (gathered tiles
    // arrive with them zeroed).
    const int first = max(0, w.kv_len - key0);
    uint8_t* v = sV + sl * Tr::kTileBytes;
    for (int c = ctid; c < (KK - first) * Tr::kBlocks * 8; c += Tr::kConsumerThreads) {
      const int cb = c / ((KK - first) * 8), r = first + (c / 8) % (KK - first), ch = c % 8;
      *reinterpret_cast<uint4*>(v + cb * KK * 128 + r * 128 + ch * 16) = make_uint4(0, 0, 0, 0);
    }
    fence_async_shared();
    named_sync(3, Tr::kConsumerThreads);
  }
  my_turn();
  wgmma_fence();
  issue_pv(pa, sl);
  wgmma_commit();
  if (cw == 0) your_turn();  // consumer 1's last slot opens nothing: every barrier phase completes
  wgmma_wait<0>();
  hold_all(res.o);
  hold_all(pa);
  release_v(sl);
}

}  // namespace pod::sm90
