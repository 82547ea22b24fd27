/**
 * The only module that touches `bun:ffi`: it finds libpod.so, binds its C ABI (cuda/pod.h) and
 * exposes small helpers for pointers and memory views. Everything else goes through `lib`.
 */
import { dlopen, FFIType, ptr, toArrayBuffer, type Pointer } from "bun:ffi";
import { existsSync } from "node:fs";
import { join } from "node:path";

const { i32, u32, u64, f64, u8, ptr: pointer, cstring, void: none } = FFIType;

const symbols = {
  pod_last_error: { args: [], returns: cstring },
  pod_version: { args: [], returns: u32 },
  pod_status_name: { args: [i32], returns: cstring },
  pod_struct_size: { args: [pointer], returns: u32 },
  pod_cuda_device_count: { args: [pointer], returns: i32 },
  pod_device_props_get: { args: [i32, pointer], returns: i32 },
  pod_device_memory_info: { args: [i32, pointer, pointer], returns: i32 },
  pod_device_synchronize: { args: [i32], returns: i32 },
  pod_device_memory_stats: { args: [i32, pointer], returns: i32 },
  pod_pointer_device: { args: [i32, u64, pointer], returns: i32 },
  pod_stream_create: { args: [i32, pointer], returns: i32 },
  pod_stream_wrap: { args: [i32, u64, pointer], returns: i32 },
  pod_stream_native: { args: [u64, pointer], returns: i32 },
  pod_stream_destroy: { args: [u64], returns: i32 },
  pod_stream_synchronize: { args: [i32, u64], returns: i32 },
  pod_stream_is_capturing: { args: [i32, u64, pointer], returns: i32 },
  pod_graph_begin_capture: { args: [i32, u64, i32], returns: i32 },
  pod_graph_end_capture: { args: [i32, u64, pointer], returns: i32 },
  pod_graph_instantiate: { args: [u64, pointer], returns: i32 },
  pod_graph_launch: { args: [u64, u64], returns: i32 },
  pod_graph_update: { args: [u64, u64], returns: i32 },
  pod_graph_destroy: { args: [u64], returns: i32 },
  pod_graph_exec_destroy: { args: [u64], returns: i32 },
  pod_event_create: { args: [i32, pointer], returns: i32 },
  pod_event_destroy: { args: [u64], returns: i32 },
  pod_event_record: { args: [u64, u64], returns: i32 },
  pod_event_synchronize: { args: [u64], returns: i32 },
  pod_event_elapsed_ms: { args: [u64, u64, pointer], returns: i32 },
  pod_malloc: { args: [i32, u64, u64, pointer], returns: i32 },
  pod_free: { args: [i32, u64, u64], returns: i32 },
  pod_memset: { args: [i32, u64, u8, u64, u64], returns: i32 },
  pod_memcpy: { args: [i32, u64, u64, u64, i32, u64], returns: i32 },
  pod_tensor_fill: { args: [pointer, f64, f64, u64], returns: i32 },
  pod_tensor_fill_random: { args: [pointer, u64, f64, f64, u64], returns: i32 },
  pod_probe_mma: { args: [i32, i32, i32, u64, u64, pointer], returns: i32 },
  pod_attention_options_init: { args: [pointer], returns: none },
  pod_wrapper_create: { args: [pointer, pointer], returns: i32 },
  pod_wrapper_destroy: { args: [u64], returns: i32 },
  pod_wrapper_reset_workspace: { args: [u64, pointer], returns: i32 },
  pod_wrapper_plan: { args: [u64, pointer], returns: i32 },
  pod_wrapper_workspace_size: { args: [u64, pointer, pointer], returns: i32 },
  pod_wrapper_run: { args: [u64, pointer], returns: i32 },
} as const;

/**
 * Where libpod.so is: `POD_LIBRARY` if set, else the package's own build output resolved from this
 * file's directory (never from the working directory).
 */
export function libraryPath(): string {
  const fromEnv = process.env.POD_LIBRARY;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`POD_LIBRARY points to ${fromEnv}, which does not exist`);
    return fromEnv;
  }
  const local = join(import.meta.dir, "..", "zig-out", "lib", "libpod.so");
  if (existsSync(local)) return local;
  throw new Error(`libpod.so not found at ${local}; run \`npm run build\` in the package, or set POD_LIBRARY`);
}

export const LIBRARY_PATH = libraryPath();
export const lib = dlopen(LIBRARY_PATH, symbols).symbols;

/** A NUL-terminated C string for `const char*` parameters. */
export function cString(s: string): Uint8Array {
  return new TextEncoder().encode(`${s}\0`);
}

/** Address of a typed array's first byte (the array must stay alive during the call). */
export function addressOf(view: NodeJS.TypedArray | DataView): number {
  return ptr(view) as number;
}

/** A copy of `bytes` bytes of host memory at `address`. */
export function readHost(address: number, bytes: number): Uint8Array {
  if (bytes === 0) return new Uint8Array(0);
  return new Uint8Array(toArrayBuffer(address as Pointer, 0, bytes).slice(0));
}

export type { Pointer };
