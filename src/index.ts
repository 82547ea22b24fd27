/**
 * pod-attention for Bun: prefill and decode attention in one launch (POD), through libpod.so.
 * The public API: devices, streams, events, graphs, tensors, the two POD wrappers, the standalone
 * kernels, errors and a float64 reference attention.
 */
export { Device, type DeviceProperties, type MemoryStats } from "./device.ts";
export { Stream, Event, CudaGraph, type CaptureMode } from "./stream.ts";
export { Tensor, type TensorData, type TensorOptions } from "./tensor.ts";
export { type DType, type Fp8DType, dtypeSize } from "./dtype.ts";
export {
  PODWithPagedKVCacheWrapper,
  BatchPODWithPagedKVCacheWrapper,
  type KvLayout,
  type HalfDType,
  type KvDType,
  type PagedKvCache,
  type PodPlanArgs,
  type PodRunArgs,
  type BatchPodPlanArgs,
  type BatchPodRunArgs,
  type PodRunResult,
  type WrapperOptions,
  type BatchWrapperOptions,
} from "./pod.ts";
export {
  BatchDecodeWithPagedKVCacheWrapper,
  BatchPrefillWithPagedKVCacheWrapper,
  singlePrefillWithKVCache,
  type AttentionOptions,
  type AttentionResult,
  type BatchDecodePlanArgs,
  type BatchDecodeRunArgs,
  type BatchPrefillPlanArgs,
  type BatchPrefillRunArgs,
  type BatchDecodeWrapperOptions,
  type BatchPrefillWrapperOptions,
  type SinglePrefillOptions,
} from "./standalone.ts";
export { type LaunchChoice } from "./options.ts";
export { PodError, Status, type StatusName } from "./errors.ts";
export { probeMma, measureCopyBandwidth } from "./probe.ts";
export { referenceAttention, alibiSlopes, applyRopeLlama, type PosEncoding, type ReferenceOptions } from "./reference.ts";
export { LIBRARY_PATH } from "./ffi.ts";

import { lib } from "./ffi.ts";

/** The library's version, "major.minor.patch". */
export function version(): string {
  const v = lib.pod_version();
  return `${Math.floor(v / 10000)}.${Math.floor(v / 100) % 100}.${v % 100}`;
}
