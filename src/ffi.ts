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
  pod_pointer_check: { args: [i32, u64, u64], returns: i32 },
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
  pod_wrapper_last_launch: { args: [u64, pointer], returns: i32 },
  pod_wrapper_check: { args: [u64], returns: i32 },
} as const;

/** The package that carries the prebuilt library for this platform, e.g. "pod-attention-linux-x64". */
export const PLATFORM_PACKAGE = `pod-attention-${process.platform}-${process.arch}`;

/** An embedded file of a `bun build --compile` executable named libpod.so (Bun may add a hash). */
function embeddedLibrary(): string | undefined {
  for (const file of Bun.embeddedFiles as readonly (Blob & { name?: string })[]) {
    const name = file.name ?? "";
    if (/^libpod(-[A-Za-z0-9]+)?\.so$/.test(name)) return `/$bunfs/root/${name}`;
  }
  return undefined;
}

/**
 * Where libpod.so is, first found wins:
 * 1. `POD_LIBRARY` (must exist when set);
 * 2. a libpod.so embedded in a `bun build --compile` executable (before anything on disk: the
 *    executable's own library, not one in the node_modules of the directory it runs in);
 * 3. the build output of a checkout, `../zig-out/lib/libpod.so` from this file's directory (never
 *    from the working directory);
 * 4. the platform package {@link PLATFORM_PACKAGE}, an optional dependency of pod-attention.
 * Throws, naming every place tried, when none has it.
 */
export function libraryPath(): string {
  const fromEnv = process.env.POD_LIBRARY;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`POD_LIBRARY points to ${fromEnv}, which does not exist`);
    return fromEnv;
  }
  const tried = ["POD_LIBRARY (not set)"];
  const embedded = embeddedLibrary();
  if (embedded) return embedded;
  tried.push(`a libpod.so embedded by \`bun build --compile app.ts node_modules/${PLATFORM_PACKAGE}/libpod.so\` (none)`);
  const local = join(import.meta.dir, "..", "zig-out", "lib", "libpod.so");
  if (existsSync(local)) return local;
  tried.push(`${local} (no such file)`);
  try {
    return Bun.resolveSync(`${PLATFORM_PACKAGE}/libpod.so`, import.meta.dir);
  } catch {
    tried.push(`${PLATFORM_PACKAGE}/libpod.so (not installed)`);
  }
  throw new Error(
    `libpod.so not found; tried ${tried.join(", ")}. Install pod-attention with its optional dependencies ` +
      `(prebuilt for linux-x64 only), run \`npm run build\` in a checkout, or set POD_LIBRARY to the library's path.`,
  );
}

/** The path libpod.so was loaded from. */
export const LIBRARY_PATH = libraryPath();
export const lib = (() => {
  try {
    return dlopen(LIBRARY_PATH, symbols).symbols;
  } catch (e) {
    throw new Error(`libpod.so at ${LIBRARY_PATH} could not be loaded: ${(e as Error).message}`);
  }
})();

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
