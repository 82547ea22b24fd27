/** Streams, events and graphs. On the CPU device work runs synchronously and events read the host clock. */
import { captureBegan, captureEnded } from "./capture.ts";
import { Device } from "./device.ts";
import { check, invalid, PodError, Status } from "./errors.ts";
import { lib } from "./ffi.ts";
import { CAPTURE_MODE } from "./enums.ts";
import { describe } from "./validate.ts";

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

/** How a capture treats calls elsewhere that cannot be captured (CUstreamCaptureMode). */
export type CaptureMode = "global" | "threadLocal" | "relaxed";
const CAPTURE_MODES: Record<CaptureMode, number> = {
  global: CAPTURE_MODE.GLOBAL,
  threadLocal: CAPTURE_MODE.THREAD_LOCAL,
  relaxed: CAPTURE_MODE.RELAXED,
};

function nativeAddress(value: unknown): bigint {
  if (typeof value === "bigint" && value > 0n && value < 1n << 64n) return value;
  if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) return BigInt(value);
  throw invalid(`cuStream: expected a non-null CUstream address (number or bigint), got ${describe(value)}`);
}

/**
 * A CUDA stream: work given the same stream runs in order, work on different streams may overlap.
 * The library's streams also order with the device's default stream (the `stream` left out). On the
 * CPU device a stream exists but work runs synchronously.
 */
export class Stream extends Handle {
  /** The device whose work the stream orders. */
  readonly device: Device;
  /** False for a stream wrapped with {@link Stream.fromPointer}: destroy() leaves the CUstream alone. */
  readonly owned: boolean;

  /**
   * A new stream of `device` (CUDA: blocking with respect to the default stream). With `cuStream`, a
   * handle for that existing CUstream instead (see {@link Stream.fromPointer}).
   */
  constructor(device: Device | string = Device.best(), cuStream?: number | bigint) {
    const d = Device.parse(device);
    const out = new BigUint64Array(1);
    if (cuStream === undefined) check(lib.pod_stream_create(d.id, out));
    else check(lib.pod_stream_wrap(d.id, nativeAddress(cuStream), out));
    super(out[0]!);
    this.device = d;
    this.owned = cuStream === undefined;
  }

  /**
   * A CUstream created by another library (a CUDA stream of `device`'s primary context), usable
   * wherever the API takes a stream. The library never destroys it.
   */
  static fromPointer(device: Device | string, cuStream: number | bigint): Stream {
    return new Stream(device, cuStream);
  }

  protected release(handle: bigint): number {
    return lib.pod_stream_destroy(handle);
  }

  /** The CUstream, for other libraries (0n on the CPU device). */
  get nativeHandle(): bigint {
    const out = new BigUint64Array(1);
    check(lib.pod_stream_native(this.handle, out));
    return out[0]!;
  }

  /** Waits for the work queued on this stream. */
  synchronize(): void {
    check(lib.pod_stream_synchronize(this.device.id, this.handle));
  }

  /** Whether the stream is capturing a graph (on CUDA also a capture begun by another library). */
  isCapturing(): boolean {
    const out = new Int32Array(1);
    check(lib.pod_stream_is_capturing(this.device.id, this.handle, out));
    return out[0] !== 0;
  }

  /**
   * Starts capturing: work queued on this stream is recorded, not run, until {@link endCapture}.
   * Prefer {@link capture}, which always ends the capture.
   */
  beginCapture(mode: CaptureMode = "global"): void {
    const m = Object.hasOwn(CAPTURE_MODES, mode) ? CAPTURE_MODES[mode] : undefined;
    if (m === undefined)
      throw invalid(`mode: expected one of ${Object.keys(CAPTURE_MODES).map((x) => JSON.stringify(x)).join(", ")}, got ${describe(mode)}`);
    check(lib.pod_graph_begin_capture(this.device.id, this.handle, m));
    captureBegan();
  }

  /** Ends the capture begun by {@link beginCapture} and instantiates the graph. */
  endCapture(): CudaGraph {
    return CudaGraph.fromHandle(this, endCaptureHandle(this));
  }

  /**
   * Captures what `fn` queues on this stream into a graph, instantiated and ready to launch. `fn`
   * must not wait for the device, use the default stream, or allocate outputs: pass preallocated
   * outputs to run(). The capture ends even if `fn` throws.
   */
  capture(fn: () => void, options: { mode?: CaptureMode } = {}): CudaGraph {
    return CudaGraph.fromHandle(this, captureHandle(this, fn, options.mode ?? "global"));
  }
}

function endCaptureHandle(stream: Stream): bigint {
  const out = new BigUint64Array(1);
  try {
    check(lib.pod_graph_end_capture(stream.device.id, stream.handle, out));
  } finally {
    captureEnded();
  }
  return out[0]!;
}

/** Runs `fn` inside a capture on `stream`; returns the captured graph's handle. */
function captureHandle(stream: Stream, fn: () => void, mode: CaptureMode): bigint {
  if (typeof fn !== "function") throw invalid(`fn: expected a function, got ${describe(fn)}`);
  stream.beginCapture(mode);
  try {
    fn();
  } catch (e) {
    const out = new BigUint64Array(1);
    lib.pod_graph_end_capture(stream.device.id, stream.handle, out); // ends the capture; its failure is not the news
    captureEnded();
    if (out[0]) lib.pod_graph_destroy(out[0]);
    throw e;
  }
  return endCaptureHandle(stream);
}

/**
 * A captured and instantiated graph (CUDA graph; on the CPU device the recorded run() calls). Launch
 * it to replay the captured work; the memory it names is read at each launch.
 */
export class CudaGraph {
  /** The device of the capture stream. */
  readonly device: Device;
  /** The stream it was captured on; the default for launch() and update(). */
  readonly stream: Stream;
  private graph: bigint;
  private exec: bigint;

  private constructor(stream: Stream, graph: bigint, exec: bigint) {
    this.stream = stream;
    this.device = stream.device;
    this.graph = graph;
    this.exec = exec;
  }

  /** @internal */
  static fromHandle(stream: Stream, graph: bigint): CudaGraph {
    const out = new BigUint64Array(1);
    const st = lib.pod_graph_instantiate(graph, out);
    if (st !== Status.OK) {
      const error = new PodError(st, String(lib.pod_last_error()));
      lib.pod_graph_destroy(graph);
      throw error;
    }
    return new CudaGraph(stream, graph, out[0]!);
  }

  /** Captures `fn` on `stream` (see {@link Stream.capture}). */
  static capture(stream: Stream, fn: () => void, options: { mode?: CaptureMode } = {}): CudaGraph {
    return stream.capture(fn, options);
  }

  /** Whether destroy() was called. */
  get destroyed(): boolean {
    return this.exec === 0n;
  }

  private get execHandle(): bigint {
    if (this.exec === 0n) throw new PodError(Status.INVALID_HANDLE, "CudaGraph: used after destroy()");
    return this.exec;
  }

  /** Queues the graph on `stream` (default: the capture stream). */
  launch(stream: Stream = this.stream): void {
    if (!(stream instanceof Stream)) throw invalid(`stream: expected a Stream, got ${describe(stream)}`);
    if (stream.device !== this.device) throw invalid(`stream: belongs to ${stream.device}, the graph to ${this.device}`);
    check(lib.pod_graph_launch(this.execHandle, stream.handle));
  }

  /**
   * Captures `fn` again and updates this graph in place with its parameters (other tensors, say), as
   * long as it queues the same calls in the same order; otherwise throws and the graph is unchanged.
   */
  update(fn: () => void, options: { mode?: CaptureMode } = {}): void {
    const exec = this.execHandle;
    const graph = captureHandle(this.stream, fn, options.mode ?? "global");
    const st = lib.pod_graph_update(exec, graph);
    if (st !== Status.OK) {
      const error = new PodError(st, String(lib.pod_last_error()));
      lib.pod_graph_destroy(graph);
      throw error;
    }
    const old = this.graph;
    this.graph = graph;
    check(lib.pod_graph_destroy(old));
  }

  /** Releases the graph and its executable (idempotent); later use raises INVALID_HANDLE. */
  destroy(): void {
    if (this.exec === 0n) return;
    const exec = this.exec, graph = this.graph;
    this.exec = 0n;
    this.graph = 0n;
    check(lib.pod_graph_exec_destroy(exec));
    check(lib.pod_graph_destroy(graph));
  }

  [Symbol.dispose](): void {
    this.destroy();
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
  /** The device whose streams it records on. */
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
