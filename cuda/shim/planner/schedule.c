#include <stdlib.h>
#include <string.h>

#include "shim/planner/schedule.h"
#include "shim/runtime/error.h"

int32_t pod_schedule_tile(int32_t max_rows) { return max_rows <= pod_tile_rows(POD_TILE_DECODE, 0) ? POD_TILE_DECODE : POD_TILE_PREFILL; }

int32_t pod_attention_smem_bytes(int32_t tile, int32_t head_dim, int32_t fused, int32_t kv_fp8) {
  return pod_attention_smem(tile, head_dim, fused, kv_fp8);
}

/* A row tile of one request with its visible key range. Every KV head sees the same keys, so the
 * planner works on row tiles and multiplies by the heads only when it writes the work list. */
typedef struct base_item {
  int32_t request, row_start, kv_begin, kv_end, tiles;
} base_item;

static int by_tiles_desc(const void* a, const void* b) {
  const base_item *x = a, *y = b;
  if (x->tiles != y->tiles) return y->tiles - x->tiles;
  /* stable order otherwise: requests, rows */
  if (x->request != y->request) return x->request - y->request;
  return x->row_start - y->row_start;
}

/* The planner's working memory, kept per thread and grown as needed: plan() of a large batch would
 * otherwise allocate, fault in and free the same few hundred kilobytes on every call. */
enum { SCRATCH_BASE, SCRATCH_SORTED, SCRATCH_GROUPS, SCRATCH_BUCKETS, SCRATCH_WORK, SCRATCH_MERGE = SCRATCH_WORK + 2, SCRATCH_COUNT = SCRATCH_MERGE + 2 };
static _Thread_local struct {
  void* data;
  size_t capacity;
} scratch[SCRATCH_COUNT];

static void* scratch_get(int which, size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (scratch[which].capacity < bytes) {
    size_t capacity = bytes > 2 * scratch[which].capacity ? bytes : 2 * scratch[which].capacity;
    void* grown = realloc(scratch[which].data, capacity);
    if (grown == NULL) return NULL;
    scratch[which].data = grown;
    scratch[which].capacity = capacity;
  }
  return scratch[which].data;
}

/* Longest first, stable: a counting sort of items already in (request, row) order gives the order of
 * by_tiles_desc in linear time (plan() of large batches stays cheap). 0 when the range of lengths is
 * too wide for buckets, or on allocation failure: the caller sorts with qsort. */
static int sort_by_tiles(base_item** items, int64_t n, int64_t max_tiles) {
  if (n < 2) return 1;
  if (max_tiles > 4 * n + 4096) return 0;
  int64_t* start = scratch_get(SCRATCH_BUCKETS, ((size_t)max_tiles + 2) * sizeof *start);
  base_item* sorted = scratch_get(SCRATCH_SORTED, (size_t)n * sizeof *sorted);
  if (!start || !sorted) return 0;
  memset(start, 0, ((size_t)max_tiles + 2) * sizeof *start);
  /* bucket k holds the items with max_tiles - k tiles */
  const base_item* in = *items;
  for (int64_t i = 0; i < n; i++) start[max_tiles - in[i].tiles + 1]++;
  for (int64_t k = 1; k <= max_tiles + 1; k++) start[k] += start[k - 1];
  for (int64_t i = 0; i < n; i++) sorted[start[max_tiles - in[i].tiles]++] = in[i];
  *items = sorted;
  return 1;
}

int32_t pod_schedule_build(const pod_schedule_input* in, pod_schedule* out) {
  memset(out, 0, sizeof *out);
  int32_t max_rows = 0;
  for (int32_t r = 0; r < in->batch; r++) {
    int32_t rows = (in->qo_indptr[r + 1] - in->qo_indptr[r]) * in->group;
    if (rows > max_rows) max_rows = rows;
  }
  out->tile = in->fixed_tile == POD_SCHEDULE_ANY_TILE ? pod_schedule_tile(max_rows) : in->fixed_tile;
  const int32_t R = in->tile_rows[out->tile];
  const int64_t heads = in->num_kv_heads;

  /* One base item per (request, row tile) with its visible key range. */
  int64_t count = 0;
  for (int32_t r = 0; r < in->batch; r++) {
    int64_t rows = (int64_t)(in->qo_indptr[r + 1] - in->qo_indptr[r]) * in->group;
    count += (rows + R - 1) / R;
  }
  if (count * heads > INT32_MAX / 4) return pod_fail(POD_ERR_INVALID_ARGUMENT, "the batch has too many query rows to schedule");
  base_item* base = scratch_get(SCRATCH_BASE, (size_t)count * sizeof *base);
  if (base == NULL) return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory for the schedule");
  int64_t n = 0, max_tiles = 0;
  for (int32_t r = 0; r < in->batch; r++) {
    const int32_t qo = in->qo_indptr[r + 1] - in->qo_indptr[r], kv = in->kv_lens[r];
    for (int32_t row = 0; row < qo * in->group; row += R) {
      base_item* b = &base[n++];
      b->request = r, b->row_start = row;
      pod_tile_kv_range(row, R, in->group, qo, kv, in->causal, in->window_left, &b->kv_begin, &b->kv_end);
      b->tiles = (b->kv_end - b->kv_begin + POD_KV_TILE - 1) / POD_KV_TILE;
      if (b->tiles > max_tiles) max_tiles = b->tiles;
    }
  }
  /* Split key ranges so the CTAs fill whole waves of the GPU: try 1..8 parts per item and keep the
   * split with the best wave efficiency (a small penalty per extra part pays for the merge). */
  int64_t slots = (int64_t)in->sm_count * in->ctas_per_sm[out->tile == POD_TILE_PREFILL ? 0 : 1];
  if (slots < 1) slots = 1;
  if (!sort_by_tiles(&base, n, max_tiles)) qsort(base, (size_t)n, sizeof *base, by_tiles_desc);
  /* Items of equal length are adjacent now: each split is evaluated once per distinct length. */
  int64_t groups = 0;
  int64_t* group_tiles = scratch_get(SCRATCH_GROUPS, 2 * (size_t)n * sizeof *group_tiles);
  if (group_tiles == NULL) return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory for the schedule");
  int64_t* group_count = group_tiles + n;
  for (int64_t i = 0; i < n; i++) {
    if (groups == 0 || group_tiles[groups - 1] != base[i].tiles) group_tiles[groups] = base[i].tiles, group_count[groups++] = 0;
    group_count[groups - 1] += heads;
  }
  int64_t chunk = max_tiles > 0 ? max_tiles : 1; /* tiles per work item */
  double best = -1.0;
  /* Prefill items that fill a wave already are not split: their partial results and merge cost more
   * than the tail they save (H100: 2048² causal as one paged request, 0.28 ms split, 0.18 ms not). */
  const int64_t max_parts = out->tile == POD_TILE_PREFILL && n * heads >= slots ? 1 : 8;
  for (int64_t parts = 1; parts <= max_parts && n > 0; parts++) {
    int64_t c = (max_tiles + parts - 1) / parts;
    if (c < 2 && parts > 1) break; /* no point splitting below two tiles */
    int64_t items = 0, work_tiles = 0, longest = 0, partial_slots = 0;
    for (int64_t g = 0; g < groups; g++) {
      const int64_t tiles = group_tiles[g], cnt = group_count[g];
      int64_t k = tiles > c ? (tiles + c - 1) / c : 1;
      items += k * cnt;
      partial_slots += k > 1 ? k * cnt : 0;
      work_tiles += (tiles > 0 ? tiles : 1) * cnt;
      if ((tiles + k - 1) / k > longest) longest = (tiles + k - 1) / k;
    }
    if (partial_slots * R * (in->head_dim + 1) * 4 > in->partial_budget) continue; /* the workspace holds the parts */
    if (in->max_work > 0 && items / heads > in->max_work) continue;                 /* the fixed launch holds them */
    /* Time ~ waves of the longest item; useful work ~ all tiles spread over the slots. */
    double waves = (double)((items + slots - 1) / slots);
    double efficiency = (double)work_tiles / (waves * (double)slots * (double)(longest > 0 ? longest : 1));
    efficiency *= 1.0 - 0.02 * (double)(parts - 1);
    if (efficiency > best) best = efficiency, chunk = c;
  }

  /* Work items per row tile and part (CTAs: times the heads); merge items per split row tile and head. */
  int64_t work = 0, merges = 0;
  for (int64_t g = 0; g < groups; g++) {
    const int64_t parts = group_tiles[g] > chunk ? (group_tiles[g] + chunk - 1) / chunk : 1;
    work += parts * (group_count[g] / heads);
    merges += parts > 1 ? group_count[g] : 0;
  }
  if (work * heads > INT32_MAX / 2) {
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "the batch has too many work items to schedule");
  }
  const int slot_index = in->scratch_slot ? 1 : 0;
  out->work = scratch_get(SCRATCH_WORK + slot_index, (size_t)work * sizeof *out->work); /* every item is written below */
  out->merge = scratch_get(SCRATCH_MERGE + slot_index, (size_t)merges * sizeof *out->merge);
  if (!out->work || !out->merge) {
    pod_schedule_free(out);
    return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory for the schedule");
  }
  /* Work items longest first (then by request and row); a split row tile's parts are adjacent, part k
   * of head h writing slot (first + k) * heads + h, which its merge item reads with stride heads. */
  int32_t w = 0, m = 0, slot = 0;
  for (int64_t i = 0; i < n; i++) {
    const base_item* b = &base[i];
    const int64_t parts = b->tiles > chunk ? (b->tiles + chunk - 1) / chunk : 1;
    if (parts > 1) {
      for (int32_t h = 0; h < heads; h++)
        out->merge[m + h] = (pod_merge_item){b->request, h, b->row_start, slot * (int32_t)heads + h, (int32_t)parts, 0, 0, (int32_t)heads};
    }
    for (int64_t k = 0; k < parts; k++) {
      int32_t begin = b->kv_begin + (int32_t)(k * chunk * POD_KV_TILE);
      int32_t stop = parts > 1 ? begin + (int32_t)(chunk * POD_KV_TILE) : b->kv_end;
      if (stop > b->kv_end) stop = b->kv_end;
      out->work[w++] = (pod_work_item){b->request, 0, b->row_start, begin, stop, parts > 1 ? slot++ : -1, 0, parts > 1 ? m / (int32_t)heads : 0};
    }
    if (parts > 1) m += (int32_t)heads;
  }
  out->num_work = w;
  out->num_merge = m;
  out->num_partial = slot * (int32_t)heads;
  return POD_OK;
}

void pod_schedule_free(pod_schedule* s) { memset(s, 0, sizeof *s); }
