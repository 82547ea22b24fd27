/**
 * `bun scripts/readme.ts [--check]`: the performance tables of README.md and docs/performance.md,
 * rendered from the committed results under bench/results/, so that every number they show comes from
 * a file. Each table lives between marker comments (`<!-- NAME:begin -->` … `<!-- NAME:end -->`);
 * without arguments the script rewrites those blocks in place, with `--check` it only compares them
 * and exits 1, naming each stale block, when a file differs from what the results give.
 * test/readme.test.ts runs the same comparison.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..");
const RESULTS = "bench/results";

// ---------------------------------------------------------------------------------------------
// The results files, as far as the tables read them.

interface PodRow {
  config: string; dtype: string; wrapper: string; podMs: number; prefillMs: number; decodeMs: number; serialMs: number;
  twoStreamsMs?: number; boundMs: number; peerBestMs: number; podLatencyMs?: number; serialLatencyMs?: number;
}
interface PodResults {
  device: string; version: string; date: string; launch: string; runs: number; warmup: number;
  bounds: { copyTBs: number; mmaTflops: number }; configs: Record<string, string>; peer: string; rows: PodRow[];
}
interface PrefillRow {
  name: string; qo: number; kv: number; headDim: number; dtype: string; causal: boolean; options: Record<string, number>;
  oursMs: number; oursTflops: number; cudnnMs: number | null; flashMs: number | null; contiguousMs?: number;
}
interface PrefillResults { device: string; date: string; version: string; runs: number; bounds: { copyTBs: number; mmaTflops: number }; rows: PrefillRow[] }
interface PrefillPeer { device: string; torch: string; cudnn: number; date: string }
interface DecodeRow {
  batch: number; kv: number; dtype: string; kvDtype: string; page: number; layout: string; options: string;
  oursMs: number; latencyMs: number; tbs: number; copyTbs: number; ofCopy: number; peerMs?: number; torchSdpaMs?: number | null;
}
interface DecodeResults { device: string; version: string; date: string; runs: number; copyTbs: number; peer: string; decode: DecodeRow[] }
interface TpRow { launch: string; gpus: number; headsPerGpu: number; kvHeadsPerGpu: number; stepMs: number; slowestShardKernelMs: number; worstErrorVsOneGpu: number; speedup: number; efficiency: number }
interface TpResults { device: string; devices: number; version: string; date: string; config: Record<string, number | string>; rows: TpRow[] }
interface HostRow { call: string; shape: string; medianUs: number; p90Us: number; target?: number }
interface HostResults { device: string; hostCpu: string; version: string; bun: string; rows: HostRow[] }

const read = <T>(file: string): T => JSON.parse(readFileSync(join(ROOT, RESULTS, file), "utf8")) as T;
const src = (file: string) => `[\`${RESULTS}/${file}\`]`;
/** A link to a results file from a markdown file in `dir` ("" for the root, "docs" for docs/). */
const link = (dir: string, file: string) => `${src(file)}(${dir ? "../" : ""}${RESULTS}/${file})`;

const DTYPES = ["float16", "bfloat16"] as const;
const SHORT: Record<string, string> = { float16: "fp16", bfloat16: "bf16" };
const ms = (x: number) => x.toFixed(3);
const ratio = (x: number) => `${x.toFixed(2)}×`;
const day = (iso: string) => iso.slice(0, 10);
const geomean = (xs: readonly number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
const range = (xs: readonly number[], f: (x: number) => string = ratio) => {
  const lo = Math.min(...xs), hi = Math.max(...xs);
  return f(lo) === f(hi) ? f(lo) : `${f(lo).replace(/×$/, "")}–${f(hi)}`;
};
const table = (head: readonly string[], rows: readonly (readonly string[])[]) =>
  [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");

/** "X, NVIDIA H200, 2026-12-02" (the results' peer field) as "X, measured on an NVIDIA H200 on 2026-12-02". */
export function peerLabel(peer: string): string {
  const m = /^(.*), (NVIDIA [^,]+), (\d{4}-\d{2}-\d{2})$/.exec(peer);
  if (!m) throw new Error(`peer: expected "<what>, <GPU>, <date>", got ${JSON.stringify(peer)}`);
  return `${m[1]}, measured on an ${m[2]} on ${m[3]}`;
}

function podResults(file = "NVIDIA-H200-pod.json") {
  const r = read<PodResults>(file);
  const single = (dtype: string) => r.rows.filter((x) => x.wrapper === "single" && x.dtype === dtype);
  return { r, single };
}

// ---------------------------------------------------------------------------------------------
// README.md: the one POD table.

/** The README's performance block: POD against serial, the peer's best and the bound, GPU time. */
export function readmePerf(): string {
  const file = "NVIDIA-H200-pod.json";
  const { r, single } = podResults(file);
  const rows = DTYPES.flatMap((dtype) =>
    single(dtype).map((x) => [x.config, r.configs[x.config]!, SHORT[dtype]!, ms(x.podMs), ms(x.serialMs), ms(x.peerBestMs), ms(x.boundMs), ratio(x.peerBestMs / x.podMs)]),
  );
  const geo = DTYPES.map((d) => `${SHORT[d]} ${ratio(geomean(single(d).map((x) => x.peerBestMs / x.podMs)))}`).join(", ");
  return [
    `GPU time in ms on an **${r.device}** (${link("", file)}, \`bun bench/pod.ts\`, pod-attention ${r.version}, ${day(r.date)}): ` +
      `median of ${r.runs} calls after ${r.warmup} warm-ups, each queued behind a busy GPU so that host launch cost is not counted. ` +
      `32 query / 8 KV heads, head_dim 128, page 16; a config is a causal prefill of one request (query/key tokens) plus a decode batch (requests@keys).`,
    "",
    table(["config", "prefill + decode", "dtype", "POD ms", "serial ms", "peer best ms", "bound ms", "peer / POD"], rows),
    "",
    `- **POD**: one \`PODWithPagedKVCacheWrapper.run()\`; **serial**: \`singlePrefillWithKVCache\` then \`BatchDecodeWithPagedKVCacheWrapper.run()\`.`,
    `- **peer best**: ${peerLabel(r.peer)}; GPU time, timed the same way.`,
    `- **bound**: max(FLOPs / tensor-core peak, bytes / copy bandwidth), both measured in the same run (${r.bounds.mmaTflops.toFixed(0)} TFLOP/s, ${r.bounds.copyTBs.toFixed(2)} TB/s).`,
    `- **peer / POD** below 1 means the peer is faster; geometric mean ${geo}.`,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// docs/performance.md.

/** POD in detail: every single-wrapper row with the fused launch, each side alone, latency. */
export function docsPod(): string {
  const file = "NVIDIA-H200-pod.json", fusedFile = "NVIDIA-H200-pod-fused.json";
  const { r, single } = podResults(file);
  const fused = podResults(fusedFile);
  const fusedMs = (x: PodRow) => fused.single(x.dtype).find((y) => y.config === x.config)!.podMs;
  const rows = DTYPES.flatMap((dtype) =>
    single(dtype).map((x) => [
      x.config, SHORT[dtype]!, ms(x.podMs), ms(x.serialMs), ms(fusedMs(x)), x.twoStreamsMs === undefined ? "" : ms(x.twoStreamsMs),
      ms(x.prefillMs), ms(x.decodeMs), ms(x.peerBestMs), ms(x.boundMs), ratio(x.peerBestMs / x.podMs),
      x.podLatencyMs === undefined ? "" : ms(x.podLatencyMs), x.serialLatencyMs === undefined ? "" : ms(x.serialLatencyMs),
    ]),
  );
  const all = DTYPES.flatMap((d) => single(d));
  const fusedOverSerial = DTYPES.flatMap((d) => fused.single(d).map((x) => x.podMs / x.serialMs));
  const bfOverFp = single("bfloat16").map((x) => x.podMs / single("float16").find((y) => y.config === x.config)!.podMs);
  const peerWins = all.filter((x) => x.peerBestMs < x.podMs).length;
  return [
    `${r.device}, ${link("docs", file)} (run() as it chooses, ${day(r.date)}) and ${link("docs", fusedFile)} (\`launch: "fused"\`, ${day(fused.r.date)}). ` +
      `GPU time in ms, median of ${r.runs} after ${r.warmup} warm-ups, behind a busy GPU; latency in ms from an idle GPU (host time from the call until the device is done). ` +
      `Bounds measured in the same run: ${r.bounds.mmaTflops.toFixed(0)} TFLOP/s, ${r.bounds.copyTBs.toFixed(2)} TB/s. Peer: ${peerLabel(r.peer)}.`,
    "",
    table(["config", "dtype", "POD", "serial", "fused", "two streams", "prefill alone", "decode alone", "peer best", "bound", "peer / POD", "POD latency", "serial latency"], rows),
    "",
    `- Configs: ${Object.entries(r.configs).map(([k, v]) => `${k} ${v}`).join(", ")}.`,
    `- Geometric mean of peer / POD: ${DTYPES.map((d) => `${SHORT[d]} ${ratio(geomean(single(d).map((x) => x.peerBestMs / x.podMs)))}`).join(", ")}; ` +
      `the peer is faster on ${peerWins} of ${all.length} rows.`,
    `- The fused launch takes ${range(fusedOverSerial)} the serial time (single wrapper, every config, both dtypes).`,
    `- bf16 POD takes ${range(bfOverFp)} the fp16 time.`,
  ].join("\n");
}

/** The batch wrapper with the prefill split into 2 and 4 chunks of the same prompt. */
export function docsPodBatch(): string {
  const file = "NVIDIA-H200-pod.json";
  const { r } = podResults(file);
  const row = (config: string, dtype: string, wrapper: string) => r.rows.find((x) => x.config === config && x.dtype === dtype && x.wrapper === wrapper)!;
  const rows = DTYPES.flatMap((dtype) =>
    Object.keys(r.configs).map((c) => {
      const one = row(c, dtype, "single"), b2 = row(c, dtype, "batch2"), b4 = row(c, dtype, "batch4");
      return [c, SHORT[dtype]!, ms(one.podMs), ms(b2.podMs), ms(b2.serialMs), ms(b4.podMs), ms(b4.serialMs)];
    }),
  );
  return [
    `GPU time in ms, ${link("docs", file)}. Serial: \`BatchPrefillWithPagedKVCacheWrapper\` then the decode wrapper.`,
    "",
    table(["config", "dtype", "single wrapper POD", "2 chunks POD", "2 chunks serial", "4 chunks POD", "4 chunks serial"], rows),
  ].join("\n");
}

function prefillLabel(x: PrefillRow): string {
  if (x.name.startsWith("ragged-paged-")) return `ragged paged batch, ${x.name.split("-")[2]} causal requests, ${x.qo} tokens`;
  const shape = x.qo === x.kv ? `${x.qo}²` : `${x.qo} × ${x.kv}`;
  const parts: string[] = [];
  if (x.headDim !== 128) parts.push(`head_dim ${x.headDim}`);
  if (x.options.windowLeft !== undefined) parts.push(`window ${x.options.windowLeft}`);
  if (x.options.logitsSoftCap !== undefined) parts.push(`soft cap ${x.options.logitsSoftCap}`);
  parts.push(`${x.causal ? "causal" : "non-causal"} ${shape}`);
  return parts.join(", ");
}

/** Prefill against torch SDPA's cuDNN backend, from the same device session. */
export function docsPrefill(): string {
  const file = "NVIDIA-H200-prefill.json", peerFile = "NVIDIA-H200-prefill-peer.json";
  const r = read<PrefillResults>(file), peer = read<PrefillPeer>(peerFile);
  const names = [...new Set(r.rows.map((x) => x.name.replace(/-(float16|bfloat16)$/, "")))];
  const find = (name: string, dtype: string) => r.rows.find((x) => x.name === `${name}-${dtype}`);
  const cells = (x: PrefillRow | undefined) =>
    !x ? ["", "", "", ""] : [ms(x.oursMs), x.oursTflops.toFixed(0), x.cudnnMs === null ? "" : ms(x.cudnnMs), x.cudnnMs === null ? "" : ratio(x.cudnnMs / x.oursMs)];
  const rows = names.map((n) => [prefillLabel((find(n, "float16") ?? find(n, "bfloat16"))!), ...cells(find(n, "float16")), ...cells(find(n, "bfloat16"))]);
  const fast = r.rows.filter((x) => x.flashMs !== null);
  const ragged = r.rows.filter((x) => x.contiguousMs !== undefined);
  return [
    `${r.device}, ${link("docs", file)} (\`bun bench/prefill.ts\`, ${day(r.date)}); peer times in ${link("docs", peerFile)} ` +
      `(\`python3 bench/prefill_peer.py\`, torch ${peer.torch}, cuDNN ${peer.cudnn}, ${peer.date}), from the same device session. ` +
      `GPU time in ms, median of ${r.runs}, behind a busy GPU; 32 query / 8 KV heads, head_dim 128 unless said; TFLOP/s count visible (query, key) pairs only. ` +
      `cuDNN / ours above 1 means ours is faster.`,
    "",
    table(["shape", "fp16 ms", "TFLOP/s", "cuDNN ms", "cuDNN / ours", "bf16 ms", "TFLOP/s", "cuDNN ms", "cuDNN / ours"], rows),
    "",
    `- SDPA's flash backend (also in the results) takes ${range(fast.map((x) => x.flashMs! / x.oursMs))} our time.`,
    `- The ragged batch takes ${range(ragged.map((x) => x.oursMs / x.contiguousMs!))} the time of the same requests as contiguous single prefills.`,
    `- Bounds measured in the same run: ${r.bounds.mmaTflops.toFixed(0)} TFLOP/s, ${r.bounds.copyTBs.toFixed(2)} TB/s. The results also hold latency from an idle GPU.`,
  ].join("\n");
}

/** Tensor parallel across two GPUs. */
export function docsTp(): string {
  const file = "NVIDIA-H200-tp.json";
  const r = read<TpResults>(file);
  const c = r.config;
  const rows = r.rows.map((x) => [x.launch, String(x.gpus), `${x.headsPerGpu} / ${x.kvHeadsPerGpu}`, ms(x.stepMs), ms(x.slowestShardKernelMs), ratio(x.speedup), `${(100 * x.efficiency).toFixed(0)}%`]);
  const worst = Math.max(...r.rows.map((x) => x.worstErrorVsOneGpu));
  return [
    `${r.devices} × ${r.device}, ${link("docs", file)} (\`bun bench/tp.ts\`, ${day(r.date)}). One layer of ${c.heads} query / ${c.kvHeads} KV heads, head_dim ${c.headDim}, ${c.dtype}, ` +
      `a causal ${c.qo}-token prefill beside ${c.batch} decode requests of ${c.decodeKv} keys (page ${c.pageSize}). ` +
      `Wall time per step (queue every shard, wait for all) and the slowest shard's device time, medians of 100 steps after 20 warm-ups.`,
    "",
    table(["launch", "GPUs", "query / KV heads per GPU", "ms per step", "slowest shard, device ms", "speedup vs 1 GPU", "efficiency"], rows),
    "",
    `- Every split's outputs, put side by side, match the one-GPU run of the same launch; the worst difference is ${(100 * worst).toFixed(1)}% of the GPU test tolerance.`,
  ].join("\n");
}

/** Batch decode (bench/kernels.ts). */
export function docsDecode(): string {
  const file = "NVIDIA-H200-kernels.json";
  const r = read<DecodeResults>(file);
  const KV: Record<string, string> = { ...SHORT, float8_e4m3fn: "e4m3", float8_e5m2: "e5m2" };
  const rows = r.decode.map((x) => [
    `${KV[x.dtype] ?? x.dtype} / ${KV[x.kvDtype] ?? x.kvDtype}`, `${x.batch}@${x.kv}`, String(x.page), x.layout, x.options || "–", ms(x.oursMs), ms(x.latencyMs),
    x.tbs.toFixed(2), `${(100 * x.ofCopy).toFixed(0)}%`, x.peerMs ? ms(x.peerMs) : "", x.peerMs ? ratio(x.peerMs / x.oursMs) : "",
    x.torchSdpaMs ? ms(x.torchSdpaMs) : "",
  ]);
  return [
    `${r.device}, ${link("docs", file)} (\`bun bench/kernels.ts\`, ${day(r.date)}). 32 query / 8 KV heads, head_dim 128, shuffled pages. ` +
      `GPU time (busy GPU ahead of each call, median of ${r.runs}) and latency from an idle GPU, ms; KV bytes read per second against the ` +
      `device copy bandwidth of the same run (${r.copyTbs.toFixed(2)} TB/s). Peer: ${peerLabel(r.peer)} (fp16, page 16); ` +
      `torch SDPA decode on a contiguous cache, same run.`,
    "",
    table(["q / KV", "batch@KV", "page", "layout", "options", "GPU ms", "latency ms", "KV TB/s", "of copy", "peer ms", "peer / ours", "torch SDPA ms"], rows),
  ].join("\n");
}

/** Host time of run() and plan(): an H100 machine's host (history) and the CPU backend. */
export function docsHost(): string {
  const gpuFile = "NVIDIA-H100-80GB-HBM3-host.json", cpuFile = "CPU-reference-backend-AMD-EPYC-host.json";
  const gpu = read<HostResults>(gpuFile), cpu = read<HostResults>(cpuFile);
  const hostCpu = (h: HostResults) => /\(([^()]*(?:\([^()]*\)[^()]*)*)\)$/.exec(h.hostCpu)?.[1] ?? h.hostCpu;
  const rows = gpu.rows.map((g) => {
    const c = cpu.rows.find((x) => x.call === g.call);
    return [g.call, g.shape, g.medianUs.toFixed(2), g.p90Us.toFixed(2), g.target === undefined ? "" : String(g.target), c ? c.shape : "", c ? c.medianUs.toFixed(2) : "", c ? c.p90Us.toFixed(2) : ""];
  });
  return [
    `Host µs per call (\`bun bench/host.ts [cpu|cuda:N]\`): ${link("docs", gpuFile)} (${gpu.device}, host CPU ${hostCpu(gpu)}; **history**: ` +
      `an H100 machine, no longer the one measured on) and ${link("docs", cpuFile)} (${cpu.device}).`,
    "",
    table(["call", "shape (CUDA)", "CUDA median", "p90", "target", "shape (CPU backend)", "CPU median", "p90"], rows),
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Blocks and files.

/** Each file's generated blocks, by marker name. */
export const BLOCKS: Record<string, Record<string, () => string>> = {
  "README.md": { perf: readmePerf },
  "docs/performance.md": { "perf-pod": docsPod, "perf-pod-batch": docsPodBatch, "perf-prefill": docsPrefill, "perf-decode": docsDecode, "perf-tp": docsTp, "perf-host": docsHost },
};

const markers = (name: string) => [`<!-- ${name}:begin -->`, `<!-- ${name}:end -->`] as const;

/** The text between a block's markers (without the newlines right inside them), or undefined. */
export function blockOf(text: string, name: string): string | undefined {
  const [begin, end] = markers(name);
  const a = text.indexOf(begin), b = text.indexOf(end);
  if (a < 0 || b < a) return undefined;
  return text.slice(a + begin.length, b).replace(/^\n/, "").replace(/\n$/, "");
}

/** `text` with the block `name` replaced by `body`; throws where the markers are missing. */
export function withBlock(text: string, name: string, body: string): string {
  const [begin, end] = markers(name);
  const a = text.indexOf(begin), b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`no ${begin} … ${end} block`);
  return `${text.slice(0, a + begin.length)}\n${body}\n${text.slice(b)}`;
}

/** Blocks that differ from what the results give, as "file: name". */
export function staleBlocks(root = ROOT): string[] {
  const stale: string[] = [];
  for (const [file, blocks] of Object.entries(BLOCKS)) {
    const text = readFileSync(join(root, file), "utf8");
    for (const [name, render] of Object.entries(blocks)) if (blockOf(text, name) !== render()) stale.push(`${file}: ${name}`);
  }
  return stale;
}

if (import.meta.main) {
  if (process.argv.includes("--check")) {
    const stale = staleBlocks();
    for (const s of stale) console.error(`stale: ${s} (run bun scripts/readme.ts)`);
    process.exit(stale.length ? 1 : 0);
  }
  for (const [file, blocks] of Object.entries(BLOCKS)) {
    const path = join(ROOT, file);
    let text = readFileSync(path, "utf8");
    for (const [name, render] of Object.entries(blocks)) text = withBlock(text, name, render());
    writeFileSync(path, text);
    console.error(`wrote ${file}`);
  }
}
