/**
 * The POD benchmark as an SVG bar chart, drawn with Apache ECharts' server-side SVG renderer (no
 * browser, no DOM): per configuration, POD vs serial vs two streams vs the practical bound, in ms,
 * one panel per dtype, with serial / POD written over each POD bar. bench/pod.ts imports it after
 * writing its JSON (and only says how to draw the chart where ECharts is not installed);
 * `bun bench/chart.ts [results.json ...]` draws from saved results (default: every
 * bench/results/*-pod.json), writing the .svg beside each .json.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as echarts from "echarts/core";
import { BarChart } from "echarts/charts";
import { GridComponent, LegendComponent, TitleComponent } from "echarts/components";
import { SVGRenderer } from "echarts/renderers";

echarts.use([BarChart, GridComponent, LegendComponent, TitleComponent, SVGRenderer]);

/** The parts of bench/pod.ts's JSON that the chart reads. */
export interface PodResults {
  device: string;
  version: string;
  runs: number;
  warmup: number;
  bounds: { copyTBs: number; mmaTflops: number };
  /** Configuration name -> shape, e.g. "C1" -> "1024/1024 + 64@4096" (results written from now on carry it). */
  configs?: Record<string, string>;
  rows: { config: string; dtype: string; wrapper: string; podMs: number; serialMs: number; twoStreamsMs?: number; boundMs: number }[];
}

/** Series of the chart, in legend order, with their colours. */
export const SERIES = [
  { name: "POD (one launch)", key: "podMs", color: "#2f6fbf" },
  { name: "serial", key: "serialMs", color: "#a0a0a0" },
  { name: "two streams", key: "twoStreamsMs", color: "#e0a030" },
  { name: "practical bound", key: "boundMs", color: "#4caf70" },
] as const;

const PANEL = 260, WIDTH = 960;

/** The SVG of one results file: rows of the single-request wrapper, one panel per dtype. */
export function podChartSvg(results: PodResults): string {
  const rows = results.rows.filter((r) => r.wrapper === "single");
  const dtypes = [...new Set(rows.map((r) => r.dtype))];
  const labelled = rows.some((r) => results.configs?.[r.config]);
  const GAP = labelled ? 72 : 40; // room for the shape under each configuration's name
  const TOP = labelled ? 120 : 104;
  const height = TOP + dtypes.length * (PANEL + GAP);
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width: WIDTH, height });
  const { copyTBs, mmaTflops } = results.bounds;
  chart.setOption({
    animation: false,
    backgroundColor: "#ffffff",
    textStyle: { fontFamily: "sans-serif" },
    title: [
      {
        left: 16,
        top: 10,
        text: `POD attention on ${results.device} (pod-attention ${results.version})`,
        subtext: `Milliseconds, median of ${results.runs} runs after ${results.warmup} warm-ups; lower is better. Over each POD bar: serial / POD.\n` +
          `Practical bound: max(FLOPs / tensor-core peak, bytes / copy bandwidth), measured in the same run: ${mmaTflops.toFixed(0)} TFLOP/s, ${copyTBs.toFixed(2)} TB/s.` +
          (labelled ? "\nUnder each configuration: prefill queries/keys + decode batch@keys." : ""),
        subtextStyle: { lineHeight: 16 },
      },
      ...dtypes.map((dtype, i) => ({ text: dtype, left: WIDTH - 120, top: TOP + 8 + i * (PANEL + GAP), textStyle: { fontSize: 13 } })),
    ],
    legend: { top: TOP - 28, left: 16, itemGap: 36, data: SERIES.map((s) => s.name) },
    grid: dtypes.map((_, i) => ({ left: 64, right: 24, top: TOP + 40 + i * (PANEL + GAP), height: PANEL - 40 })),
    xAxis: dtypes.map((dtype, i) => ({
      type: "category",
      gridIndex: i,
      data: rows.filter((r) => r.dtype === dtype).map((r) => [r.config, ...(results.configs?.[r.config]?.split(" + ") ?? [])].join("\n+ ").replace("\n+ ", "\n")),
      axisLabel: { interval: 0, fontSize: 11 },
    })),
    yAxis: dtypes.map((_, i) => ({ type: "value", gridIndex: i, name: "ms" })),
    series: dtypes.flatMap((dtype, i) =>
      SERIES.map((s) => ({
        name: s.name,
        type: "bar",
        xAxisIndex: i,
        yAxisIndex: i,
        itemStyle: { color: s.color },
        data: rows.filter((r) => r.dtype === dtype).map((r) => (r[s.key] === undefined ? null : Number(r[s.key]!.toFixed(4)))),
        ...(s.key === "podMs"
          ? {
              label: {
                show: true,
                position: "top",
                fontSize: 10,
                formatter: (p: { dataIndex: number }) => {
                  const r = rows.filter((x) => x.dtype === dtype)[p.dataIndex]!;
                  return `${(r.serialMs / r.podMs).toFixed(2)}x`;
                },
              },
            }
          : {}),
      })),
    ),
  });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return `${svg}\n`;
}

/** Writes the chart of `jsonPath` beside it (`x-pod.json` -> `x-pod.svg`) and returns its path. */
export function writePodChart(jsonPath: string): string {
  const out = jsonPath.replace(/\.json$/, "") + ".svg";
  writeFileSync(out, podChartSvg(JSON.parse(readFileSync(jsonPath, "utf8")) as PodResults));
  return out;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args.some((a) => a === "-h" || a === "--help" || !a.endsWith(".json") || !existsSync(a))) {
    const bad = args.find((a) => a !== "-h" && a !== "--help" && (!a.endsWith(".json") || !existsSync(a)));
    if (bad) process.stderr.write(`bench/chart.ts: no results file ${bad}\n`);
    process.stderr.write("usage: bun bench/chart.ts [results-pod.json ...]  (default: every bench/results/*-pod.json; writes the .svg beside each)\n");
    process.exit(bad ? 1 : 0);
  }
  const dir = join(import.meta.dir, "results");
  const files = args.length > 0 ? args : readdirSync(dir).filter((f) => f.endsWith("-pod.json")).map((f) => join(dir, f));
  for (const file of files) process.stderr.write(`wrote ${writePodChart(file)}\n`);
}
