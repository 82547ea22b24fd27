/** bench/chart.ts: a well-formed SVG with one bar group per configuration and dtype. */
import { expect, test } from "bun:test";
import { podChartSvg, SERIES, type PodResults } from "../bench/chart.ts";

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

test("one bar group per config and dtype, four bars each, labels and title", () => {
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
