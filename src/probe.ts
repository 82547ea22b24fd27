/** Practical bounds of a device, measured with the library's own kernels (for benchmarks). */
import type { Device } from "./device.ts";
import { check, invalid } from "./errors.ts";
import { lib } from "./ffi.ts";
import { Event } from "./stream.ts";
import { Tensor } from "./tensor.ts";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** fp16 tensor-core throughput in TFLOP/s (wgmma on sm_90a, mma.sync elsewhere) (median of `runs` timed launches after a warm-up). */
export function probeMma(device: Device, runs = 20): number {
  if (device.isCpu) throw invalid("device: the MMA probe needs a CUDA device");
  const blocks = device.properties.smCount * 8;
  const iterations = 4096;
  using sink = Tensor.empty([blocks], "float32", { device });
  const flops = new Float64Array(1);
  const times: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    using start = new Event(device);
    using end = new Event(device);
    start.record();
    check(lib.pod_probe_mma(device.id, blocks, iterations, sink.ptr, 0n, flops));
    end.record();
    const ms = end.elapsedSince(start);
    if (i >= 3) times.push(ms);
  }
  return flops[0]! / (median(times) * 1e-3) / 1e12;
}

/** Device-to-device copy bandwidth in TB/s, counting bytes read plus bytes written. */
export function measureCopyBandwidth(device: Device, bytes = 2 ** 31, runs = 20): number {
  using src = Tensor.empty([bytes], "uint8", { device }).fillRandom(1, 0, 255);
  using dst = Tensor.empty([bytes], "uint8", { device });
  const times: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    using start = new Event(device);
    using end = new Event(device);
    start.record();
    dst.copyFrom(src);
    end.record();
    const ms = end.elapsedSince(start);
    if (i >= 3) times.push(ms);
  }
  return (2 * bytes) / (median(times) * 1e-3) / 1e12;
}
