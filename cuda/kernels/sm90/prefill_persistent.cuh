// The persistent form of the sm_90a prefill CTA (kernels of their own): a grid of at most one CTA per
// SM, each taking work items in turn, so that one item's last tiles, epilogue and merge overlap
// the next item's query and first K/V loads instead of a CTA's exit, launch and ramp.
//
// Items are the CTAs of the one-item form (`items` of them, longest first); CTA c of G takes
// items r G + c on even rounds r and r G + G - 1 - c on odd ones (a snake, which spreads a
// longest-first list evenly). Thread 0 reads and checks each item once (work_tile.cuh) into one of two
// shared slots (slot_full / slot_empty barriers), so every role sees the same tiles. Roles:
//   warp 0: the item slots, and the key tiles (its lane 0, or the warp for POD_SM90_LOADS_WARP_BOXES);
//   warp 1: the value tiles (likewise);
//   warps 2 and 3: the query rows of consumer 0 and 1, each half loaded as soon as its consumer has
//   written the previous item's output (staged in those rows) and freed them (q_empty);
//   consumers: as in the one-item form, the K/V rings turning on across items (RingPos).
// Paged sides gathered by cp.async (POD_SM90_LOADS_GATHER) and head_dim 256 take the one-item kernels.
#pragma once
#include "kernels/sm90/prefill_kernel.cuh"

namespace pod::sm90 {

enum { kItemEnd = -1, kItemSkip = 0, kItemRun = 1 };

// An item slot: the checked work tile and what every role derives from it, written by thread 0.
struct PersistentItem {
  WorkTile tile;
  int state;         // kItemEnd, kItemSkip or kItemRun
  int tile0, tiles;  // its key tiles (TileRange), 0 unless it runs
  int g0;            // the CTA's tiles before it (RingPos)
  int q_use;         // the CTA's query loads before it (the parity of q_full / q_empty)
  int bad;           // a producer met a page index out of range in the item
  int merges_here;
};

template <int S>
struct PersistentBarriers {
  uint64_t q_full[2], q_empty[2];  // per consumer: its 64 query rows loaded / free for the next item
  uint64_t k_full[S], v_full[S], k_empty[S], v_empty[S];
  uint64_t slot_full[2], slot_empty[2];
  PersistentItem slot[2];
};

// Readers of an item slot that arrive on slot_empty once done with the item: warps 1-3 and the 8
// consumer warps (warp 0 writes the slots and keeps step with its own lanes).
constexpr int kSlotReaders = 11;

// The item of this CTA's round `round` (the caller compares it with the item count).
__device__ __forceinline__ int persistent_item(const int round) {
  const int G = gridDim.x, c = blockIdx.x;
  return round * G + ((round & 1) ? G - 1 - c : c);
}

template <typename T, int D, typename Score>
__device__ __forceinline__ void prefill_persistent_cta(const pod_sm90_side_params& P, const int items) {
#if POD_HAS_WGMMA
  if constexpr (D <= 128) {
    using Tr = PrefillTraits<T, D>;
    constexpr int S = Tr::kStages;
    extern __shared__ __align__(128) uint8_t smem_raw[];
    uint8_t* smem = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);
    uint8_t* sQ = smem;
    uint8_t* sK = sQ + Tr::kQBytes;
    uint8_t* sV = sK + S * Tr::kTileBytes;
    __shared__ PersistentBarriers<S> bars;
    const pod_attn_params& p = P.p;
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

    if (tid == 0) {
      for (int h = 0; h < 2; h++) {
        bar_init(&bars.q_full[h], 32);
        bar_init(&bars.q_empty[h], 4);  // the consumer's warps
        bar_init(&bars.slot_full[h], 1);
        bar_init(&bars.slot_empty[h], kSlotReaders);
      }
#pragma unroll
      for (int s = 0; s < S; s++) {
        bar_init(&bars.k_full[s], 1);
        bar_init(&bars.v_full[s], 1);
        bar_init(&bars.k_empty[s], Tr::kConsumerThreads / 32);
        bar_init(&bars.v_empty[s], Tr::kConsumerThreads / 32);
      }
      bar_init_fence();
    }
    __syncthreads();

    // Thread 0: item k into slot k & 1, once the slot's readers are done with item k - 2. The ring
    // and query counts carry on from item k - 1, still in the other slot.
    auto publish = [&](const int k) {
      PersistentItem& it = bars.slot[k & 1];
      const int use = k >> 1;
      if (use > 0) bar_wait(&bars.slot_empty[k & 1], (use - 1) & 1);
      int g0 = 0, q_use = 0;
      if (k > 0) {
        const PersistentItem& prev = bars.slot[(k - 1) & 1];
        g0 = prev.g0 + prev.tiles, q_use = prev.q_use + (prev.tiles > 0);
      }
      const int item = persistent_item(k);
      int state = kItemEnd;
      if (item < items) {
        const bool skip = p.work && reinterpret_cast<const pod_work_item*>(p.work)[item / p.num_kv_heads].skip;
        state = !skip && load_work_tile(p, item, Tr::kRows, &it.tile) ? kItemRun : kItemSkip;
      }
      const TileRange tr = state == kItemRun ? tile_range<Tr::kKeys>(p, it.tile) : TileRange{0, 0};
      it.state = state, it.tile0 = tr.tile0, it.tiles = tr.num_tiles, it.g0 = g0, it.q_use = q_use, it.bad = 0;
      bar_arrive(&bars.slot_full[k & 1]);  // releases the slot's writes to its readers
    };
    // Every role: waits for item k's slot. The item stays there (read from shared memory where used:
    // registers are short on both sides) until its readers are done with it.
    auto wait_item = [&](const int k) -> PersistentItem& {
      bar_wait(&bars.slot_full[k & 1], (k >> 1) & 1);
      return bars.slot[k & 1];
    };
    auto done_with = [&](const int k) {
      __syncwarp();
      if (lane == 0) bar_arrive(&bars.slot_empty[k & 1]);
    };

    if (warp < 4) {
      regs_down<Tr::kProducerRegs>();
      const bool by_warp = p.page_size && P.paged_loads == POD_SM90_LOADS_WARP_BOXES;
      if (warp == 0 && lane == 0) publish(0);
      __syncwarp();
      for (int k = 0;; k++) {
        PersistentItem& it = wait_item(k);
        if (it.state == kItemEnd) break;
        const TileRange tr{it.tile0, it.tiles};
        const RingPos<S> rp{it.g0};
        if (warp <= 1) {
          // Key (warp 0) or value (warp 1) tiles of the item.
          if (tr.num_tiles > 0) {
            const bool keys = warp == 0;
            const pod_tma_map* map = keys ? &P.k_map : &P.v_map;
            uint8_t* ring = keys ? sK : sV;
            uint64_t* full = keys ? bars.k_full : bars.v_full;
            uint64_t* empty = keys ? bars.k_empty : bars.v_empty;
            if (by_warp) stream_boxes_by_warp<T, D>(P, it.tile, tr, map, ring, full, empty, &it.bad, rp);
            else if (lane == 0) stream_boxes<T, D>(P, it.tile, tr, map, ring, full, empty, &it.bad, rp);
          }
          if (warp == 0) {
            __syncwarp();
            if (lane == 0) publish(k + 1);
            __syncwarp();
          } else {
            done_with(k);
          }
        } else {
          // Query rows of consumer h, once it has freed them.
          const int h = warp - 2;
          if (tr.num_tiles > 0) {
            bar_wait(&bars.q_empty[h], (it.q_use & 1) ^ 1);
            load_q<T, D>(p, it.tile, sQ, lane, 32, 64 * h, 64);
            cp_async_wait<0>();
            fence_async_shared();  // generic-proxy writes, read by wgmma
            bar_arrive(&bars.q_full[h]);
          }
          done_with(k);
        }
      }
      return;
    }

    regs_up<Tr::kConsumerRegs>();
    const int ctid = tid - 128, cw = ctid / 128;
    for (int k = 0;; k++) {
      const int state = wait_item(k).state;
      if (state == kItemEnd) break;
      if (state == kItemRun) {
        ConsumerResult<D, Tr::kKeys> res;
        {
          const PersistentItem& it = bars.slot[k & 1];
          consume<T, D, Score>(P, it.tile, TileRange{it.tile0, it.tiles}, sQ, sK, sV, bars, res, &bars.q_full[cw], it.q_use & 1, RingPos<S>{it.g0});
        }
        PersistentItem& it = bars.slot[k & 1];  // from k again: nothing of the slot stays live through the tiles
        const WorkTile& w = it.tile;
        const bool bad = *reinterpret_cast<volatile int*>(&it.bad) != 0;
        if (bad) {
          if (ctid == 0) report_fault(p.fault, p.side, POD_FAULT_PAGE_ID, persistent_item(k) / p.num_kv_heads);
        } else if (it.tiles > 0) {
          store_output<T, D>(p, w, res, sQ);  // staged through this consumer's query rows
        } else {
          store_output_unstaged<T, D>(p, w, res);  // no query rows were loaded: the rows are not ours
        }
        if (it.tiles > 0) {
          // This consumer's query rows (and the output staged there) are read: the next item's may land.
          __syncwarp();
          if (ctid % 32 == 0) bar_arrive(&bars.q_empty[cw]);
        }
        if (!bad && w.partial >= 0) {
          // The last part of a split row tile to finish merges them all.
          pod_merge_item* m = reinterpret_cast<pod_merge_item*>(p.merge) + w.merge;
          __threadfence();
          named_sync(3, Tr::kConsumerThreads);
          if (ctid == 0) it.merges_here = last_part_arrived(m, p);
          named_sync(3, Tr::kConsumerThreads);
          if (it.merges_here) {
            __threadfence();
            merge_rows<T, D, Tr::kConsumerThreads>(merge_args(p, Tr::kRows), w.merge, ctid);
          }
        }
      }
      done_with(k);
    }
  }
#endif
}

}  // namespace pod::sm90

// pod_sm90_prefill_<dtype>_<head_dim>[_softcap]_persistent (head_dim 64 and 128): the kernel table in
// the shim lists them beside the one-item kernels.
#define POD_DEFINE_SM90_PREFILL_PERSISTENT_VARIANT(T, NAME, D, SUFFIX, SCORE)                          \
  extern "C" __global__ void __launch_bounds__(POD_SM90_THREADS, 1)                                    \
      pod_sm90_prefill_##NAME##_##D##SUFFIX##_persistent(const __grid_constant__ pod_sm90_side_params P, const int items) { \
    pod_pdl_enter();                                                                                   \
    pod::sm90::prefill_persistent_cta<T, D, SCORE>(P, items);                                          \
  }
#define POD_DEFINE_SM90_PREFILL_PERSISTENT(T, NAME, D)                                       \
  POD_DEFINE_SM90_PREFILL_PERSISTENT_VARIANT(T, NAME, D, , pod::sm90::ScorePlain)           \
  POD_DEFINE_SM90_PREFILL_PERSISTENT_VARIANT(T, NAME, D, _softcap, pod::sm90::ScoreSoftCap)
