/*
 * pod.h: the C ABI of libpod, prefill-and-decode attention in one launch (POD).
 *
 * Conventions
 * - Every function returns a pod_status. POD_OK is 0; on any other value pod_last_error() returns a
 *   message for the calling thread that names the offending argument and the expected form.
 * - Devices are numbered: POD_DEVICE_CPU (-1) is the CPU reference backend, 0..n-1 are CUDA devices.
 * - Memory addresses travel as uint64_t. On the CPU device they are host addresses.
 * - Streams, events and wrappers are opaque 64-bit handles. 0 is never a valid handle, except as a
 *   stream, where it means the device's default stream. A destroyed handle is rejected, never reused
 *   by accident (handles carry a generation count).
 * - Argument structs are versioned: the first field is the struct's size in bytes as the caller
 *   compiled it. The library accepts older, smaller structs (missing fields take their defaults) and
 *   rejects larger ones whose unknown tail is not zero.
 * - Options use sentinels for "not given": POD_UNSET (INT32_MIN) for integers, NaN for floats.
 *   pod_attention_options_init() fills a struct with them.
 * - The library has no link-time dependency on CUDA: it dlopens libcuda.so.1 on first use and works
 *   (CPU device only) where there is no driver or no GPU.
 */
#ifndef POD_H
#define POD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(POD_BUILDING_LIBRARY)
#define POD_API __attribute__((visibility("default")))
#else
#define POD_API
#endif

#define POD_VERSION_MAJOR 0
#define POD_VERSION_MINOR 1
#define POD_VERSION_PATCH 0

#define POD_DEVICE_CPU (-1)
#define POD_UNSET INT32_MIN
#define POD_MAX_DIMS 6

typedef enum pod_status {
  POD_OK = 0,
  POD_ERR_INVALID_ARGUMENT = 1,   /* an argument has the wrong value, shape, dtype or device */
  POD_ERR_NO_DRIVER = 2,          /* libcuda.so.1 could not be loaded or is too old */
  POD_ERR_NO_DEVICE = 3,          /* the driver reports no device, or the ordinal is out of range */
  POD_ERR_CUDA = 4,               /* a CUDA driver call failed; the message has its name and code */
  POD_ERR_OUT_OF_MEMORY = 5,
  POD_ERR_NOT_PLANNED = 6,        /* run() before a successful plan() */
  POD_ERR_INVALID_HANDLE = 7,     /* a handle that was destroyed or never created */
  POD_ERR_NOT_IMPLEMENTED = 8,    /* valid input this build cannot execute yet */
  POD_ERR_WORKSPACE_TOO_SMALL = 9,
  POD_ERR_INTERNAL = 10,
  POD_ERR_WORKSPACE_CORRUPT = 11  /* the plan in the workspace was overwritten after plan(): plan again */
} pod_status;

typedef enum pod_dtype {
  POD_FLOAT32 = 0,
  POD_FLOAT16 = 1,
  POD_BFLOAT16 = 2,
  POD_INT32 = 3,
  POD_UINT8 = 4,
  POD_BOOL = 5, /* one byte, 0 or 1 */
  /* fp8 KV caches. Conversions from wider types round to nearest-even and saturate to the largest
   * finite value (NaN stays NaN). */
  POD_FLOAT8_E4M3 = 6, /* e4m3fn: bias 7, no infinities, 0x7f/0xff NaN, largest finite 448 */
  POD_FLOAT8_E5M2 = 7  /* e5m2: bias 15, IEEE-like with infinities, largest finite 57344 */
} pod_dtype;

typedef enum pod_kv_layout { POD_NHD = 0, POD_HND = 1 } pod_kv_layout;

typedef enum pod_pos_encoding {
  POD_POS_NONE = 0,
  POD_POS_ROPE_LLAMA = 1, /* rotate-half RoPE applied to q and k inside attention */
  POD_POS_ALIBI = 2       /* standard ALiBi slopes, bias slope * (key_pos - query_pos) */
} pod_pos_encoding;

typedef enum pod_memcpy_kind {
  POD_HOST_TO_DEVICE = 0,
  POD_DEVICE_TO_HOST = 1,
  POD_DEVICE_TO_DEVICE = 2
} pod_memcpy_kind;

/* A strided view of memory. Shape and strides are in elements; the last dimension of an attention
 * input must have stride 1. ndim 0 with data 0 means "absent". */
typedef struct pod_tensor {
  uint64_t data;
  int32_t dtype;  /* pod_dtype */
  int32_t ndim;
  int64_t shape[POD_MAX_DIMS];
  int64_t strides[POD_MAX_DIMS];
  int32_t device; /* POD_DEVICE_CPU or a CUDA ordinal */
  int32_t reserved;
} pod_tensor;

/* A host array of int32 (indptr, indices, last_page_len). */
typedef struct pod_host_i32 {
  const int32_t* data;
  int64_t len;
} pod_host_i32;

/* ---------------------------------------------------------------------------------------------- */
/* Library and devices                                                                            */

POD_API const char* pod_last_error(void);
/* major * 10000 + minor * 100 + patch */
POD_API uint32_t pod_version(void);
/* Name of a status code, e.g. "POD_ERR_INVALID_ARGUMENT". */
POD_API const char* pod_status_name(int32_t status);
/* Size of each public struct as this library knows it, by name ("pod_tensor", ...); 0 if unknown.
 * Bindings check it against their own layout at load time. */
POD_API uint32_t pod_struct_size(const char* name);

/* Number of CUDA devices. Fails with POD_ERR_NO_DRIVER when there is no usable driver. */
POD_API int32_t pod_cuda_device_count(int32_t* count);

typedef struct pod_device_props {
  uint32_t struct_size;
  int32_t device;          /* POD_DEVICE_CPU or the CUDA ordinal */
  int32_t sm_count;        /* CPU: logical processors */
  int32_t cc_major;        /* CPU: 0 */
  int32_t cc_minor;
  int32_t max_smem_per_block_optin;
  int32_t l2_bytes;
  int32_t pdl;             /* 1: programmatic dependent launch (compute capability 9.0 and newer) */
  uint64_t total_memory;
  char name[256];
} pod_device_props;

POD_API int32_t pod_device_props_get(int32_t device, pod_device_props* props);
/* Bytes free and in total on the device (CPU: physical memory). */
POD_API int32_t pod_device_memory_info(int32_t device, uint64_t* free_bytes, uint64_t* total_bytes);
/* Waits for all work on the device. */
POD_API int32_t pod_device_synchronize(int32_t device);

typedef struct pod_memory_stats {
  uint32_t struct_size;
  int32_t device;
  uint64_t free_bytes;          /* as pod_device_memory_info */
  uint64_t total_bytes;
  uint64_t pool_used_bytes;     /* bytes of live allocations in the pool the library allocates from (CUDA: the
                                 * device's current memory pool, all its users; CPU: the library's allocations) */
  uint64_t pool_reserved_bytes; /* bytes the pool holds from the device (CPU: as pool_used_bytes) */
} pod_memory_stats;

/* Memory in use on the device. CUDA devices without memory pools report pool fields of 0. */
POD_API int32_t pod_device_memory_stats(int32_t device, pod_memory_stats* stats);

/* The CUDA device whose memory `ptr` is: its ordinal for device memory the driver knows (not managed),
 * POD_DEVICE_CPU for anything else (host memory, pinned or managed memory, unknown addresses, no driver).
 * `near`: the device the caller expects (its context answers the query). */
POD_API int32_t pod_pointer_device(int32_t near, uint64_t ptr, int32_t* device);

/* Whether `bytes` bytes from `ptr` are memory a tensor of `device` may view (a view of memory made
 * elsewhere). CUDA devices: the driver must know the address (device memory of that device, managed
 * or page-locked host memory) and the bytes must lie within its allocation
 * (CU_POINTER_ATTRIBUTE_RANGE_START_ADDR / RANGE_SIZE); otherwise POD_ERR_INVALID_ARGUMENT naming ptr
 * or shape. The CPU device: device memory is rejected, and pageable host memory only when a page of
 * the bytes is not mapped in the process; whether the memory is still allocated, and large enough
 * within a mapping, is the caller's responsibility. */
POD_API int32_t pod_pointer_check(int32_t device, uint64_t ptr, uint64_t bytes);

/* ---------------------------------------------------------------------------------------------- */
/* Streams and events. CPU streams run every call synchronously; CPU events record the host clock. */

POD_API int32_t pod_stream_create(int32_t device, uint64_t* stream);
/* A handle for a CUstream created elsewhere (another library), in the primary context of the CUDA
 * device. The library uses it like its own streams; destroying the handle leaves the CUstream alone. */
POD_API int32_t pod_stream_wrap(int32_t device, uint64_t cu_stream, uint64_t* stream);
/* The CUstream behind a handle (0 on the CPU device), for other libraries. */
POD_API int32_t pod_stream_native(uint64_t stream, uint64_t* cu_stream);
POD_API int32_t pod_stream_destroy(uint64_t stream);
/* stream 0: the device's default stream */
POD_API int32_t pod_stream_synchronize(int32_t device, uint64_t stream);
/* Whether the stream is capturing a graph (CUDA: any capture, also one begun by another library). */
POD_API int32_t pod_stream_is_capturing(int32_t device, uint64_t stream, int32_t* capturing);

POD_API int32_t pod_event_create(int32_t device, uint64_t* event);
POD_API int32_t pod_event_destroy(uint64_t event);
POD_API int32_t pod_event_record(uint64_t event, uint64_t stream);
POD_API int32_t pod_event_synchronize(uint64_t event);
POD_API int32_t pod_event_elapsed_ms(uint64_t start, uint64_t end, float* ms);

/* ---------------------------------------------------------------------------------------------- */
/* Graphs. Between begin and end of a capture, work queued on the stream is recorded instead of run;
 * the graph is instantiated once and launched (replayed) as often as needed, reading the memory it
 * names at each launch. CUDA devices: CUDA graphs (stream capture; the default stream cannot capture;
 * `mode` as CUstreamCaptureMode). CPU device: only wrapper run() calls can be captured (other work on
 * a capturing CPU stream is POD_ERR_NOT_IMPLEMENTED); a launch runs them again in order.
 *
 * A captured run() reads its wrapper's plan from the workspace when it executes. For a wrapper created
 * with use_cuda_graph, plan() keeps every address and launch shape the graph holds, so a replay after
 * plan() computes with the new plan (new KV lengths). Capturing run() of a wrapper without
 * use_cuda_graph is rejected (its next plan() would move what the graph reads), except where run()
 * reads no plan (the single-prefill wrapper planned with no decode request). */

typedef enum pod_capture_mode { POD_CAPTURE_GLOBAL = 0, POD_CAPTURE_THREAD_LOCAL = 1, POD_CAPTURE_RELAXED = 2 } pod_capture_mode;

POD_API int32_t pod_graph_begin_capture(int32_t device, uint64_t stream, int32_t mode);
POD_API int32_t pod_graph_end_capture(int32_t device, uint64_t stream, uint64_t* graph);
POD_API int32_t pod_graph_instantiate(uint64_t graph, uint64_t* exec);
/* Queues the whole graph on `stream` (any stream of the graph's device). */
POD_API int32_t pod_graph_launch(uint64_t exec, uint64_t stream);
/* Gives an executable graph the parameters of `graph`, captured with the same calls in the same order
 * (cuGraphExecUpdate); otherwise POD_ERR_INVALID_ARGUMENT and the executable graph is unchanged. */
POD_API int32_t pod_graph_update(uint64_t exec, uint64_t graph);
POD_API int32_t pod_graph_destroy(uint64_t graph);
POD_API int32_t pod_graph_exec_destroy(uint64_t exec);

/* ---------------------------------------------------------------------------------------------- */
/* Memory. Allocation is stream-ordered on CUDA (the device's default memory pool): the memory may be
 * used on `stream` right away and on other streams after synchronizing with it. Stream 0 is the
 * legacy default stream, which orders itself with every stream this library creates; calls on it do
 * not wait for the device, except copies to the host, which return once the data is there.
 * Addresses are 256-byte aligned. */

POD_API int32_t pod_malloc(int32_t device, uint64_t bytes, uint64_t stream, uint64_t* ptr);
POD_API int32_t pod_free(int32_t device, uint64_t ptr, uint64_t stream);
POD_API int32_t pod_memset(int32_t device, uint64_t ptr, uint8_t value, uint64_t bytes, uint64_t stream);
/* Host addresses are ordinary pointers. A copy from pageable host memory has taken the data when it
 * returns; a copy to the host on stream 0 has finished when it returns. */
POD_API int32_t pod_memcpy(int32_t device, uint64_t dst, uint64_t src, uint64_t bytes, int32_t kind,
                           uint64_t stream);

/* Fills the tensor so that the element with linear (row-major logical) index i holds
 * start + i * step, converted to the tensor's dtype. Runs a kernel from the embedded fatbin on CUDA. */
POD_API int32_t pod_tensor_fill(const pod_tensor* tensor, double start, double step, uint64_t stream);

/* Fills the tensor with uniform random numbers in [low, high) drawn from (seed, linear index): the
 * same values on every device. */
POD_API int32_t pod_tensor_fill_random(const pod_tensor* tensor, uint64_t seed, double low, double high, uint64_t stream);

/* ---------------------------------------------------------------------------------------------- */
/* Benchmark probes: practical bounds of a device, measured with the library's own kernels. */

/* Launches `blocks` CTAs of 4 warps that each issue `iterations` x 8 independent fp16 mma.sync
 * m16n8k16 (fp32 accumulate) from registers; writes one float per CTA to `sink` (a device buffer of
 * `blocks` floats) and the FLOPs performed to *flops. Time it with events for the tensor-core peak
 * that mma.sync kernels can reach. CUDA devices only. */
POD_API int32_t pod_probe_mma(int32_t device, int32_t blocks, int32_t iterations, uint64_t sink, uint64_t stream, double* flops);

/* ---------------------------------------------------------------------------------------------- */
/* Attention options, per side (prefill or decode). */

typedef struct pod_attention_options {
  uint32_t struct_size;
  int32_t causal;           /* 0 or 1; unset: 0 */
  int32_t pos_encoding;     /* pod_pos_encoding; unset: NONE */
  int32_t window_left;      /* -1 (off) or >= 0; unset: -1 */
  float sm_scale;           /* NaN: 1/sqrt(head_dim) */
  float rope_scale;         /* NaN: 1 */
  float rope_theta;         /* NaN: 1e4 */
  float logits_soft_cap;    /* NaN or 0: off */
} pod_attention_options;

POD_API void pod_attention_options_init(pod_attention_options* options);

/* ---------------------------------------------------------------------------------------------- */
/* The POD wrappers.
 *
 * POD_WRAPPER_SINGLE_PREFILL: one prefill request with contiguous k_p/v_p, plus a decode batch on a
 *   paged KV cache (FlashInfer's PODWithPagedKVCacheWrapper).
 * POD_WRAPPER_BATCH_PREFILL: a batch of prefill requests on a paged KV cache, plus a decode batch on a
 *   paged KV cache (FlashInfer's BatchPODWithPagedKVCacheWrapper).
 *
 * Semantics (both sides): for query i of a request with qo_len queries over kv_len keys, the query's
 * position is kv_len - qo_len + i (decode: kv_len - 1) and key j's position is j. Key j is visible iff
 *   (not causal or j <= pos) and (window_left < 0 or j >= pos - window_left) and mask[i][j].
 * score = sm_scale * q.k (after RoPE when enabled); with a soft cap c > 0, score = c * tanh(score / c);
 * with ALiBi, score += slope[head] * (j - pos). out = softmax(score) V over the visible keys;
 * lse = ln(sum over visible keys of exp(score)) (natural log). A row with no visible key gives
 * out = 0 and lse = -inf.
 *
 * Paged KV cache: pages of page_size tokens. Request r owns pages kv_indices[kv_indptr[r] ..
 * kv_indptr[r+1]); its last page holds last_page_len tokens (1..page_size; any value if it owns no
 * page), so kv_len = (pages - 1) * page_size + last_page_len. The cache is either one tensor with a
 * k/v axis ([pages, 2, page_size, kv_heads, head_dim] in NHD, [pages, 2, kv_heads, page_size,
 * head_dim] in HND), passed as paged_k with paged_v absent, or a pair of 4-dimensional tensors.
 *
 * Custom masks (prefill only): dense, a bool/uint8 tensor holding each request's [qo_len, kv_len]
 * row-major block one after the other (single request: shape [qo_len, kv_len]; batch: 1-dimensional),
 * or bit-packed (uint8): request r's qo_len * kv_len bits, little-endian within each byte, start on a
 * byte boundary. A custom mask replaces causal masking, so both together are rejected.
 *
 * Outputs: o has q's shape and dtype; lse is float32 [tokens, qo_heads]. An absent lse is not
 * computed. Either side may be empty (absent q, or zero tokens / zero requests).
 *
 * Standalone kernels: a wrapper with one side empty runs the other side alone. Batch decode: the
 * batch wrapper with an empty prefill table; batch prefill on a paged cache: the batch wrapper with
 * an empty decode table (kv_indptr = {0}); single prefill: the single wrapper planned with no decode
 * request. The Bun module's BatchDecodeWithPagedKVCacheWrapper, BatchPrefillWithPagedKVCacheWrapper
 * and singlePrefillWithKVCache are exactly that.
 *
 * fp8 KV caches (plan's kv_dtype): both sides' paged caches hold fp8 values; the single wrapper's
 * k_p/v_p may be in q's dtype or either fp8 type. Each element is converted exactly to q's dtype
 * before the products; the scales of pod_run_args dequantize.
 *
 * On CUDA devices, q, k, v and o rows must be 16-byte aligned (address a multiple of 16 bytes and
 * strides multiples of 16 bytes); run() is asynchronous on its stream and never synchronizes. With
 * both sides present it is one kernel launch (split key ranges are merged inside it). Launches of one
 * plan must not overlap (on two streams): split row tiles and the POD roles count arrivals in the
 * workspace.
 *
 * A plan owns the workspace bytes it wrote. When another wrapper plans into overlapping workspace
 * memory, run() of the earlier wrapper fails with POD_ERR_NOT_PLANNED until it plans again.
 */

typedef enum pod_wrapper_kind {
  POD_WRAPPER_SINGLE_PREFILL = 0,
  POD_WRAPPER_BATCH_PREFILL = 1
} pod_wrapper_kind;

/* CUDA graph mode: fixed int32 device buffers of one paged side, written by every plan() (FlashInfer's
 * paged_kv_*_buffer). The kernels read the page table (kv_indptr, kv_indices, and the prefill side's
 * qo_indptr) from them. Their lengths fix the side's batch for the wrapper's life:
 * kv_indptr [batch + 1], kv_last_page_len [batch], qo_indptr [batch + 1] (prefill side of the batch
 * wrapper only; absent on the decode side), kv_indices [most pages a plan may use]. All absent: the
 * side stays empty. */
typedef struct pod_graph_buffers {
  pod_tensor qo_indptr;
  pod_tensor kv_indptr;
  pod_tensor kv_indices;
  pod_tensor kv_last_page_len;
} pod_graph_buffers;

typedef struct pod_wrapper_create_args {
  uint32_t struct_size;
  int32_t kind;          /* pod_wrapper_kind */
  int32_t kv_layout;     /* pod_kv_layout of the paged caches (and the default for k_p/v_p) */
  int32_t reserved;
  pod_tensor workspace;  /* 1-dimensional uint8 buffer on the wrapper's device; the wrapper's device */
  /* Later fields: older (smaller) structs get their defaults. */
  int32_t use_cuda_graph;  /* 1: CUDA graph mode (see the graphs section and README "Serving") */
  int32_t enable_pdl;      /* programmatic dependent launch; POD_UNSET: on where the device supports it */
  pod_graph_buffers decode_buffers;  /* CUDA graph mode */
  pod_graph_buffers prefill_buffers; /* CUDA graph mode, batch wrapper only */
} pod_wrapper_create_args;

POD_API int32_t pod_wrapper_create(const pod_wrapper_create_args* args, uint64_t* wrapper);
POD_API int32_t pod_wrapper_destroy(uint64_t wrapper);
/* Gives the wrapper another workspace (same device); the wrapper must plan again before run(). In CUDA
 * graph mode the fixed plan shape is released too: graphs captured before hold the old addresses. */
POD_API int32_t pod_wrapper_reset_workspace(uint64_t wrapper, const pod_tensor* workspace);

/* A paged KV table on the host. For the prefill side of the batch wrapper qo_indptr gives the queries
 * of each request; the decode side has one query per request and leaves qo_indptr empty. */
typedef struct pod_paged_table {
  pod_host_i32 qo_indptr;
  pod_host_i32 kv_indptr;
  pod_host_i32 kv_indices;
  pod_host_i32 kv_last_page_len;
} pod_paged_table;

typedef struct pod_plan_args {
  uint32_t struct_size;
  int32_t num_qo_heads;
  int32_t num_kv_heads;
  int32_t head_dim;
  int32_t page_size;
  int32_t q_dtype;          /* POD_FLOAT16 or POD_BFLOAT16 */
  int32_t kv_dtype;         /* POD_UNSET: same as q_dtype; or POD_FLOAT8_E4M3 / POD_FLOAT8_E5M2 (the paged
                             * caches of both sides hold fp8, converted to q_dtype as tiles load) */
  int32_t launch;           /* pod_launch_choice: how run() launches the two sides (0: POD_CHOOSE_AUTO) */
  uint64_t stream;          /* the page tables are copied into the workspace on this stream */
  pod_paged_table decode;
  const pod_attention_options* decode_options;  /* NULL: all defaults (the struct carries its own struct_size) */
  pod_paged_table prefill;             /* batch wrapper only; must be empty for the single wrapper */
  const pod_attention_options* prefill_options; /* batch wrapper only; the single wrapper takes them in run; NULL: defaults */
} pod_plan_args;

/* How run() launches a plan whose two sides both have work (pod_plan_args.launch); run() reports
 * the launch it made (pod_wrapper_last_launch). */
typedef enum pod_launch_choice {
  POD_CHOOSE_AUTO = 0,   /* the way measured faster for the kernels that take the sides on this device */
  POD_CHOOSE_FUSED = 1,  /* one launch for both sides wherever their kernels can share one */
  POD_CHOOSE_SERIAL = 2  /* each side's kernel, back to back on the stream */
} pod_launch_choice;

/* Validates and schedules the plan and copies it into the workspace (and, in CUDA graph mode, the page
 * tables into the fixed buffers) on args->stream. Not capturable: on a capturing stream it fails. In
 * CUDA graph mode the first plan fixes heads, head_dim, page size, dtypes, options, query counts and
 * tile shapes; a later plan that changes any of them fails, one that changes KV lengths and pages
 * keeps every address and launch shape a captured run() holds. */
POD_API int32_t pod_wrapper_plan(uint64_t wrapper, const pod_plan_args* args);

/* Bytes of workspace the plan described by args would need, without planning. */
POD_API int32_t pod_wrapper_workspace_size(uint64_t wrapper, const pod_plan_args* args, uint64_t* bytes);

/* How run() reads a custom mask (pod_run_args.mask_p_packed); see "Custom masks" above. */
typedef enum pod_mask_kind {
  POD_MASK_DENSE = 0, /* bool or uint8, one element per (query, key) */
  POD_MASK_PACKED = 1 /* uint8, one bit per (query, key), little-endian, each request from a byte boundary */
} pod_mask_kind;

typedef struct pod_run_args {
  uint32_t struct_size;
  int32_t kv_layout_p;      /* single wrapper: layout of k_p/v_p; POD_UNSET: the wrapper's layout */
  uint64_t stream;
  /* prefill side */
  pod_tensor q_p;           /* [qo_tokens, num_qo_heads, head_dim] */
  pod_tensor k_p;           /* single: [kv_len, kv_heads, head_dim] (NHD) or [kv_heads, kv_len, head_dim] */
  pod_tensor v_p;           /*   batch: the prefill paged cache (k_p alone, or the k/v pair) */
  pod_tensor mask_p;        /* optional custom mask */
  int32_t mask_p_packed;    /* pod_mask_kind: POD_MASK_DENSE (bool/uint8) or POD_MASK_PACKED (bit-packed uint8) */
  int32_t reserved;         /* unread (lse_p present means it is written); keeps the layout */
  const pod_attention_options* options_p; /* single wrapper: the prefill options; batch: unset fields only; NULL: defaults */
  pod_tensor o_p;
  pod_tensor lse_p;
  /* decode side */
  pod_tensor q_d;           /* [batch, num_qo_heads, head_dim] */
  pod_tensor paged_k_d;
  pod_tensor paged_v_d;
  const pod_attention_options* options_d; /* each field unset or equal to the plan's, else rejected; NULL: all unset */
  pod_tensor o_d;
  pod_tensor lse_d;
  /* Later fields: older (smaller) structs get their defaults. */
  int32_t enable_pdl;       /* POD_UNSET: the wrapper's setting; 0 or 1 for this call */
  int32_t reserved2;
  /* Dequantization scales of each side (meant for fp8 caches, honoured for every dtype): scores use
   * sm_scale * q_scale * k_scale, and the output is multiplied by v_scale. NaN: 1. */
  float q_scale_p, k_scale_p, v_scale_p;
  float q_scale_d, k_scale_d, v_scale_d;
} pod_run_args;

POD_API int32_t pod_wrapper_run(uint64_t wrapper, const pod_run_args* args);

/* How the wrapper's last run() launched its work (CUDA graph capture included). */
typedef enum pod_launch {
  POD_LAUNCH_NONE = 0,     /* no run() yet, or nothing to compute */
  POD_LAUNCH_CPU = 1,      /* the CPU backend */
  POD_LAUNCH_ONE_SIDE = 2, /* one side had work: its own kernel */
  POD_LAUNCH_SERIAL = 3,   /* both sides, their kernels back to back (faster than fused for this work) */
  POD_LAUNCH_FUSED = 4     /* both sides in one fused launch */
} pod_launch;
POD_API int32_t pod_wrapper_last_launch(uint64_t wrapper, int32_t* launch);

/* Whether the wrapper's plan is intact and its runs found nothing wrong in it. Waits for all work on
 * the wrapper's device, then reports POD_ERR_WORKSPACE_CORRUPT when a kernel of an earlier run() found
 * a value of the plan out of range (it skipped that work: outputs are incomplete) or when the plan's
 * bytes in the workspace (or, in CUDA graph mode, its fixed buffers) differ from what plan() wrote;
 * POD_ERR_NOT_PLANNED when another wrapper planned into the workspace since. POD_OK without a plan.
 *
 * Every plan carries a header in the workspace: which wrapper planned, its sizes and a checksum of the
 * tables and work lists. On the CPU device run() verifies it before computing and fails with
 * POD_ERR_WORKSPACE_CORRUPT; on CUDA devices the kernels bound every count and index they read from
 * the workspace by the sizes of their launch, skip an item with a value out of range and record the
 * fault, which the next plan() or run() of the wrapper returns (once) and this function reports. */
POD_API int32_t pod_wrapper_check(uint64_t wrapper);

#ifdef __cplusplus
}
#endif

#endif /* POD_H */
