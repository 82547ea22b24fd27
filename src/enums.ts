/**
 * The enums of cuda/pod.h as named constants, one object per C enum, keyed by the C name without its
 * prefix (POD_POS_ALIBI is POS_ENCODING.ALIBI). test/enums.test.ts parses the header and checks that
 * every value here equals the C one and that no member is missing on either side.
 */

/** pod_status. */
export const STATUS = {
  OK: 0,
  INVALID_ARGUMENT: 1,
  NO_DRIVER: 2,
  NO_DEVICE: 3,
  CUDA: 4,
  OUT_OF_MEMORY: 5,
  NOT_PLANNED: 6,
  INVALID_HANDLE: 7,
  NOT_IMPLEMENTED: 8,
  WORKSPACE_TOO_SMALL: 9,
  INTERNAL: 10,
  WORKSPACE_CORRUPT: 11,
} as const;

/** pod_dtype. */
export const POD_DTYPE = {
  FLOAT32: 0,
  FLOAT16: 1,
  BFLOAT16: 2,
  INT32: 3,
  UINT8: 4,
  BOOL: 5,
  FLOAT8_E4M3: 6,
  FLOAT8_E5M2: 7,
} as const;

/** pod_kv_layout. */
export const KV_LAYOUT = { NHD: 0, HND: 1 } as const;

/** pod_pos_encoding. */
export const POS_ENCODING = { NONE: 0, ROPE_LLAMA: 1, ALIBI: 2 } as const;

/** pod_memcpy_kind. */
export const MEMCPY_KIND = { HOST_TO_DEVICE: 0, DEVICE_TO_HOST: 1, DEVICE_TO_DEVICE: 2 } as const;

/** pod_capture_mode. */
export const CAPTURE_MODE = { GLOBAL: 0, THREAD_LOCAL: 1, RELAXED: 2 } as const;

/** pod_wrapper_kind. */
export const WRAPPER_KIND = { SINGLE_PREFILL: 0, BATCH_PREFILL: 1 } as const;

/** pod_launch. */
export const LAUNCH = { NONE: 0, CPU: 1, ONE_SIDE: 2, SERIAL: 3, FUSED: 4 } as const;

/** pod_launch_choice: how plan() asks run() to launch two sides that both have work. */
export const LAUNCH_CHOICE = { AUTO: 0, FUSED: 1, SERIAL: 2 } as const;

/** pod_mask_kind: the custom-mask encodings of pod_run_args.mask_p_packed. */
export const MASK_KIND = { DENSE: 0, PACKED: 1 } as const;

/** POD_DEVICE_CPU: the device number of the CPU backend. */
export const DEVICE_CPU = -1;

/** POD_UNSET: "not given" for integer fields. */
export const UNSET = -0x80000000;
