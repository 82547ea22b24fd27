/**
 * bench/chart.ts: a well-formed SVG with one bar group per configuration and dtype; its command line
 * on a results file; and bench/pod.ts's way to it (drawChart), which only says how to draw the chart
 * when ECharts cannot be imported. The tests that draw skip, saying why, where ECharts is not
 * installed (a bundle without the development dependencies).
 */
import { expect, spyOn, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PodResults } from "../bench/chart.ts";
import { drawChart } from "../bench/common.ts";

const chart = await import("../bench/chart.ts").catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
const noECharts = chart instanceof Error ? chart.message.split("\n")[0] : undefined;
if (noECharts) console.log(`chart tests that draw skipped: ${noECharts}`);
const drawing = noECharts ? test.skip : test;

const row = (config: string, dtype: string, podMs: number) => ({
  config, dtype, wrapper: "single", podMs, serialMs: podMs * 1.1, twoStreamsMs: podMs * 1.05, boundMs: podMs * 0.8,
});
const fixture: PodResults = {
  device: "Test GPU", version: "0.1.0", runs: 30, warmup: 5, bounds: { copyTBs: 3, mmaTflops: 600 },
  configs: { A: "256/256 + 8@1024", B: "1024/1024 + 32@2048", C: "512/4096 + 16@8192" },
  rows: [
    row("A", "float16", 0.2), row("B", "float16", 0.9), row("C", "float16", 1.4),
    { ...row("A", "float16", 0.3), wrapper: "batch2" }, // other wrappers are not drawn
    row("A", "bfloat16", 0.21), row("B", "bfloat16", 0.95), row("C", "bfloat16", 1.5),
  ],
};

/** Tags balance (a small well-formedness check; there is no XML parser in the runtime). */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const [, close, name, self] of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>/g)) {
    if (self) continue;
    if (!close) stack.push(name!);
    else if (stack.pop() !== name) return false;
  }
  return stack.length === 0;
}

drawing("one bar group per config and dtype, four bars each, labels and title", () => {
  if (chart instanceof Error) return;
  const { podChartSvg, SERIES } = chart;
  const svg = podChartSvg(fixture);
  expect(svg.startsWith("<svg")).toBe(true);
  expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  expect(balanced(svg)).toBe(true);
  const bars = [...svg.matchAll(/<path [^>]*fill="(#[0-9a-f]{6})"[^>]*ecmeta_series_index="(\d+)" ecmeta_data_index="(\d+)" ecmeta_ssr_type="chart"/g)];
  // 2 dtypes x 4 series, 3 configs each: 24 bars; group = (dtype panel, config).
  expect(bars.length).toBe(24);
  const groups = new Map<string, string[]>();
  for (const [, color, series, index] of bars) {
    const panel = Math.floor(Number(series) / SERIES.length);
    const key = `${panel}/${index}`;
    groups.set(key, [...(groups.get(key) ?? []), color!]);
  }
  expect(groups.size).toBe(6);
  for (const colors of groups.values()) expect(colors.sort()).toEqual(SERIES.map((s) => s.color).sort());
  for (const label of ["Test GPU", "float16", "bfloat16", ">256/256<", ">+ 8@1024<", ">1.10x<"]) expect(svg).toContain(label);
});

drawing("bun bench/chart.ts <results json> writes the SVG beside it", () => {
  const dir = mkdtempSync(join(tmpdir(), "pod-chart-"));
  try {
    const json = join(dir, "Test-GPU-pod.json");
    writeFileSync(json, JSON.stringify(fixture));
    const r = Bun.spawnSync([process.execPath, join(import.meta.dir, "..", "bench", "chart.ts"), json], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    expect(r.stderr.toString()).toContain(`wrote ${join(dir, "Test-GPU-pod.svg")}`);
    const svg = readFileSync(join(dir, "Test-GPU-pod.svg"), "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(balanced(svg)).toBe(true);
    expect(svg).toContain("POD attention on Test GPU");
    const bad = Bun.spawnSync([process.execPath, join(import.meta.dir, "..", "bench", "chart.ts"), join(dir, "missing.json")], { stderr: "pipe" });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr.toString()).toContain("usage: bun bench/chart.ts");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);

test("without ECharts the benchmark says in one line how to draw the chart, and does not fail", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pod-chart-"));
  const lines: string[] = [];
  const spy = spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
  try {
    const json = join(dir, "Test-GPU-pod.json");
    writeFileSync(json, JSON.stringify(fixture));
    const missing = () => Promise.reject(new Error("Cannot find package 'echarts' imported from bench/chart.ts"));
    expect(await drawChart(json, missing)).toBeUndefined();
    expect(existsSync(join(dir, "Test-GPU-pod.svg"))).toBe(false);
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain("Cannot find package 'echarts'");
    expect(lines[0]).toMatch(new RegExp(`bun \\S*bench/chart\\.ts ${json.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\n$`));
    // With ECharts (the default loader), the chart is drawn.
    if (!noECharts) {
      expect(await drawChart(json)).toBe(join(dir, "Test-GPU-pod.svg"));
      expect(existsSync(join(dir, "Test-GPU-pod.svg"))).toBe(true);
    }
  } finally {
    spy.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  }
});
