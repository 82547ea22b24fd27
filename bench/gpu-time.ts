/**
 * GPU time and latency of one call, the way every benchmark here reports them.
 *
 * GPU time: a device-to-device copy long enough to cover the host's launch cost runs just before
 * each timed call, so the call is queued while the GPU is still busy and the events around it
 * measure the kernels alone. Latency: from an idle GPU, host time from the call until the device
 * has finished it (launch cost included).
 */
import { Device, Event, Tensor } from "../src/index.ts";
import { median } from "./common.ts";

export class GpuTimer {
  private readonly busySrc: Tensor;
  private readonly busyDst: Tensor;

  /** `busyBytes`: bytes the copy ahead of each call moves (256 MiB: about 0.1 ms on an H200). */
  constructor(readonly device: Device, busyBytes = 256 << 20) {
    this.busySrc = Tensor.empty([busyBytes], "uint8", { device });
    this.busyDst = Tensor.empty([busyBytes], "uint8", { device });
  }

  /** Median GPU time in ms of `fn` over `runs` calls after `warmup`, each behind a busy GPU. */
  gpuMs(fn: () => void, runs = 30, warmup = 5): number {
    for (let i = 0; i < warmup; i++) fn();
    this.device.synchronize();
    const start = new Event(this.device), end = new Event(this.device);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      this.busyDst.copyFrom(this.busySrc);
      start.record();
      fn();
      end.record();
      end.synchronize();
      times.push(end.elapsedSince(start));
    }
    start.destroy(), end.destroy();
    return median(times);
  }

  /** Median latency in ms from an idle GPU: host time from the call to the device's completion. */
  latencyMs(fn: () => void, runs = 20): number {
    fn();
    this.device.synchronize();
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      fn();
      this.device.synchronize();
      times.push(performance.now() - t0);
    }
    return median(times);
  }

  destroy(): void {
    this.busySrc.destroy(), this.busyDst.destroy();
  }
}
