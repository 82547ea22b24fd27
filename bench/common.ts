/** Shared helpers of the benchmarks: timing with device events, medians, result files. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Device, Event, measureCopyBandwidth, probeMma } from "../src/index.ts";

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** Median device time in ms of `fn` over `runs` timed calls after `warmup` untimed ones. */
export function timeMs(device: Device, fn: () => void, runs = 30, warmup = 5): number {
  for (let i = 0; i < warmup; i++) fn();
  device.synchronize();
  const times: number[] = [];
  const start = new Event(device), end = new Event(device);
  for (let i = 0; i < runs; i++) {
    start.record();
    fn();
    end.record();
    times.push(end.elapsedSince(start));
  }
  start.destroy(), end.destroy();
  return median(times);
}

/** "NVIDIA H100 80GB HBM3" -> "NVIDIA-H100-80GB-HBM3" */
export function deviceSlug(device: Device): string {
  return device.properties.name.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/** Writes bench/results/<device>-<suite>.json (and a copy under POD_BENCH_OUT when set). */
export function writeResults(device: Device, suite: string, data: unknown): string {
  const file = `${deviceSlug(device)}-${suite}.json`;
  const text = `${JSON.stringify(data, null, 2)}\n`;
  const dir = join(import.meta.dir, "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), text);
  if (process.env.POD_BENCH_OUT) writeFileSync(join(process.env.POD_BENCH_OUT, file), text);
  return join(dir, file);
}

/** A shuffled page order, so requests' pages are scattered through the cache as in a server. */
export function shuffledPages(count: number, seed = 1): Int32Array {
  const out = Int32Array.from({ length: count }, (_, i) => i);
  let s = seed >>> 0;
  for (let i = count - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

const started = performance.now();

/** A progress line on stderr, prefixed with the seconds since the benchmark started. */
export function progress(message: string): void {
  const s = ((performance.now() - started) / 1e3).toFixed(0).padStart(4);
  process.stderr.write(`[${s} s] ${message}\n`);
}

/** progress() with a running count: "(3/16) message". */
export function counter(total: number): (message: string) => void {
  let done = 0;
  return (message) => progress(`(${++done}/${total}) ${message}`);
}

/** The first CUDA device and its practical bounds (copy TB/s, fp16 tensor-core TFLOP/s), measured now;
 * exits, saying why, where there is no CUDA device. */
export function benchDevice(): { device: Device; copyTBs: number; mmaTflops: number } {
  if (Device.cudaCount() === 0) {
    console.log(`no CUDA device: ${Device.cudaUnavailableReason()}`);
    process.exit(0);
  }
  const device = Device.cuda(0);
  progress(`measuring bounds on ${device.properties.name}`);
  return { device, copyTBs: measureCopyBandwidth(device), mmaTflops: probeMma(device) };
}

/** What drawChart() needs of bench/chart.ts. */
export interface ChartModule {
  writePodChart(jsonPath: string): string;
}

/**
 * Draws the chart of a results file (`x-pod.json` -> `x-pod.svg`) with bench/chart.ts, imported only
 * now: its ECharts (about 60 MB) is a development dependency that a bundle shipped to a GPU machine
 * may leave out. When the import fails, prints one line saying how to draw the chart elsewhere and
 * returns undefined instead of failing; the results are already written.
 */
export async function drawChart(jsonPath: string, load: () => Promise<ChartModule> = () => import("./chart.ts")): Promise<string | undefined> {
  let chart: ChartModule;
  try {
    chart = await load();
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    const shown = (path: string) => (relative(process.cwd(), path).startsWith("..") ? path : relative(process.cwd(), path));
    progress(`chart not drawn (${why}); draw it where echarts is installed: bun ${shown(join(import.meta.dir, "chart.ts"))} ${shown(jsonPath)}`);
    return undefined;
  }
  return chart.writePodChart(jsonPath);
}
