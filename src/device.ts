/** Devices: the CPU reference backend and CUDA GPUs, addressed as "cpu" or "cuda:N". */
import { DEVICE_PROPS, MEMORY_STATS, StructBuffer } from "./abi.ts";
import { DEVICE_CPU } from "./enums.ts";
import { check, invalid, PodError, Status } from "./errors.ts";
import { lib } from "./ffi.ts";

/** What a device is, from the driver (or the host for the CPU backend). */
export interface DeviceProperties {
  /** Marketing name, e.g. "NVIDIA H100 80GB HBM3". */
  name: string;
  /** Streaming multiprocessors (CPU: logical processors). */
  smCount: number;
  /** [major, minor]; [0, 0] for the CPU. */
  computeCapability: [number, number];
  /** Bytes of device memory (CPU: physical memory). */
  totalMemory: number;
  /** Shared memory a CTA may opt in to, in bytes. */
  maxSharedMemoryPerBlock: number;
  /** L2 cache size in bytes. */
  l2Bytes: number;
  /** Whether kernels can start while the one before them drains (programmatic dependent launch, sm_90+). */
  programmaticDependentLaunch: boolean;
}

/** Memory in use on a device (see {@link Device.memoryStats}). */
export interface MemoryStats {
  /** Free and total bytes of the device (CPU: physical memory). */
  free: number;
  total: number;
  /**
   * Bytes of live allocations in the pool the library allocates from: CUDA, the device's current
   * memory pool (all of its users); CPU, the library's own allocations. 0 where there is no pool.
   */
  poolUsed: number;
  /** Bytes the pool holds from the device. */
  poolReserved: number;
}

/**
 * A device that runs attention: the CPU reference backend or a CUDA GPU. One instance per device
 * (compare with ===); get them from `cpu()`, `cuda(n)`, `parse(spec)` or `best()`.
 */
export class Device {
  /** -1 for the CPU, the CUDA ordinal otherwise. */
  readonly id: number;
  private cachedProps: DeviceProperties | undefined;
  private static readonly instances = new Map<number, Device>();

  private constructor(id: number) {
    this.id = id;
  }

  /** The CPU reference backend (always available). */
  static cpu(): Device {
    return Device.byId(DEVICE_CPU);
  }

  /** CUDA device `ordinal`; throws a PodError if the driver or the device is missing. */
  static cuda(ordinal = 0): Device {
    if (!Number.isInteger(ordinal) || ordinal < 0) throw invalid(`ordinal: expected a non-negative integer, got ${ordinal}`);
    const count = Device.cudaCount();
    if (ordinal >= count) throw new PodError(Status.NO_DEVICE, `no CUDA device ${ordinal}: ${count} device(s) present`);
    return Device.byId(ordinal);
  }

  /** "cpu", "cuda" (= cuda:0) or "cuda:N". */
  static parse(spec: string | Device): Device {
    if (spec instanceof Device) return spec;
    if (spec === "cpu") return Device.cpu();
    const m = /^cuda(?::(\d+))?$/.exec(spec);
    if (!m) throw invalid(`device: expected "cpu", "cuda" or "cuda:N", got ${JSON.stringify(spec)}`);
    return Device.cuda(m[1] === undefined ? 0 : Number(m[1]));
  }

  /** Number of CUDA devices; 0 when there is no driver or no GPU. */
  static cudaCount(): number {
    const out = new Int32Array(1);
    const st = lib.pod_cuda_device_count(out);
    if (st === Status.NO_DRIVER || st === Status.NO_DEVICE) return 0;
    check(st);
    return out[0]!;
  }

  /** Why CUDA is unavailable, or undefined when a device is present. */
  static cudaUnavailableReason(): string | undefined {
    const out = new Int32Array(1);
    const st = lib.pod_cuda_device_count(out);
    if (st !== Status.OK) return String(lib.pod_last_error());
    return out[0] === 0 ? "no CUDA device: the driver reports no GPU" : undefined;
  }

  /** CUDA device 0 when present, else the CPU. */
  static best(): Device {
    return Device.cudaCount() > 0 ? Device.byId(0) : Device.cpu();
  }

  private static byId(id: number): Device {
    let d = Device.instances.get(id);
    if (!d) {
      d = new Device(id);
      Device.instances.set(id, d);
    }
    return d;
  }

  /** Whether this is the CPU backend. */
  get isCpu(): boolean {
    return this.id < 0;
  }

  /** "cpu" or "cuda". */
  get kind(): "cpu" | "cuda" {
    return this.isCpu ? "cpu" : "cuda";
  }

  /** "cpu" or "cuda:N", as parse() accepts. */
  toString(): string {
    return this.isCpu ? "cpu" : `cuda:${this.id}`;
  }

  /** Name, SM count, compute capability and memory sizes (queried once). */
  get properties(): DeviceProperties {
    if (!this.cachedProps) {
      const buf = new StructBuffer(DEVICE_PROPS.size);
      check(lib.pod_device_props_get(this.id, buf.bytes));
      const v = buf.view;
      const at = DEVICE_PROPS.at;
      const nameBytes = buf.bytes.subarray(at.name, at.name + 256);
      const end = nameBytes.indexOf(0);
      this.cachedProps = {
        name: new TextDecoder().decode(nameBytes.subarray(0, end < 0 ? 256 : end)),
        smCount: v.getInt32(at.smCount, true),
        computeCapability: [v.getInt32(at.ccMajor, true), v.getInt32(at.ccMinor, true)],
        totalMemory: Number(v.getBigUint64(at.totalMemory, true)),
        maxSharedMemoryPerBlock: v.getInt32(at.maxSmemPerBlockOptin, true),
        l2Bytes: v.getInt32(at.l2Bytes, true),
        programmaticDependentLaunch: v.getInt32(at.pdl, true) !== 0,
      };
    }
    return this.cachedProps;
  }

  /** Free and total bytes of device memory. */
  memoryInfo(): { free: number; total: number } {
    const free = new BigUint64Array(1);
    const total = new BigUint64Array(1);
    check(lib.pod_device_memory_info(this.id, free, total));
    return { free: Number(free[0]), total: Number(total[0]) };
  }

  /** Memory in use: the device's free and total bytes and the allocation pool's use. */
  memoryStats(): MemoryStats {
    const buf = new StructBuffer(MEMORY_STATS.size);
    check(lib.pod_device_memory_stats(this.id, buf.bytes));
    const at = MEMORY_STATS.at;
    const u64 = (offset: number) => Number(buf.view.getBigUint64(offset, true));
    return { free: u64(at.freeBytes), total: u64(at.totalBytes), poolUsed: u64(at.poolUsedBytes), poolReserved: u64(at.poolReservedBytes) };
  }

  /** Waits for all work queued on the device. */
  synchronize(): void {
    check(lib.pod_device_synchronize(this.id));
  }
}
