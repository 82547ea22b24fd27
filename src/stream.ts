/** Streams and events. On the CPU device work runs synchronously and events read the host clock. */
import { Device } from "./device.ts";
import { check, PodError, Status } from "./errors.ts";
import { lib } from "./ffi.ts";

abstract class Handle {
  protected handleValue: bigint;
  constructor(handle: bigint) {
    this.handleValue = handle;
  }
  /** The raw 64-bit handle; throws once destroyed. */
  get handle(): bigint {
    if (this.handleValue === 0n) throw new PodError(Status.INVALID_HANDLE, `${this.constructor.name}: used after destroy()`);
    return this.handleValue;
  }
  /** Whether destroy() was called. */
  get destroyed(): boolean {
    return this.handleValue === 0n;
  }
  protected abstract release(handle: bigint): number;
  /** Releases the handle (idempotent); later use raises INVALID_HANDLE. */
  destroy(): void {
    if (this.handleValue === 0n) return;
    const h = this.handleValue;
    this.handleValue = 0n;
    check(this.release(h));
  }
  [Symbol.dispose](): void {
    this.destroy();
  }
}

/**
 * A CUDA stream: work given the same stream runs in order, work on different streams may overlap.
 * The library's streams also order with the device's default stream (the `stream` left out). On the
 * CPU device a stream exists but work runs synchronously.
 */
export class Stream extends Handle {
  readonly device: Device;

  /** A new stream on `device` (default {@link Device.best}()). */
  constructor(device: Device | string = Device.best()) {
    const d = Device.parse(device);
    const out = new BigUint64Array(1);
    check(lib.pod_stream_create(d.id, out));
    super(out[0]!);
    this.device = d;
  }

  protected release(handle: bigint): number {
    return lib.pod_stream_destroy(handle);
  }

  /** Waits for the work queued on this stream. */
  synchronize(): void {
    check(lib.pod_stream_synchronize(this.device.id, this.handle));
  }
}

/** The handle of a stream argument: 0 for the default stream. */
export function streamHandle(stream: Stream | undefined | null, device: Device): bigint {
  if (!stream) return 0n;
  if (!(stream instanceof Stream)) throw new PodError(Status.INVALID_ARGUMENT, "stream: expected a Stream");
  if (stream.device !== device) throw new PodError(Status.INVALID_ARGUMENT, `stream: belongs to ${stream.device}, the call is on ${device}`);
  return stream.handle;
}

/** A CUDA event, for timing and ordering (on the CPU device it reads the host clock). */
export class Event extends Handle {
  readonly device: Device;

  /** A new event on `device` (default {@link Device.best}()). */
  constructor(device: Device | string = Device.best()) {
    const d = Device.parse(device);
    const out = new BigUint64Array(1);
    check(lib.pod_event_create(d.id, out));
    super(out[0]!);
    this.device = d;
  }

  protected release(handle: bigint): number {
    return lib.pod_event_destroy(handle);
  }

  /** Records the event on `stream` (default: the device's default stream). */
  record(stream?: Stream): this {
    check(lib.pod_event_record(this.handle, streamHandle(stream, this.device)));
    return this;
  }

  /** Waits until the work recorded before this event is done. */
  synchronize(): void {
    check(lib.pod_event_synchronize(this.handle));
  }

  /** Milliseconds from `start` to this event (both recorded; waits for this one). */
  elapsedSince(start: Event): number {
    this.synchronize();
    const out = new Float32Array(1);
    check(lib.pod_event_elapsed_ms(start.handle, this.handle, out));
    return out[0]!;
  }
}
