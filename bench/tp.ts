/**
 * `bun bench/tp.ts`: tensor-parallel POD across every visible CUDA device. One layer of 64 query / 8
 * KV heads (head_dim 128, fp16, page 16): a causal 2048-token prefill next to 64 decode requests of
 * 4096 keys. Wall time per step (queue on every device's stream, wait for all) for one GPU with all
 * heads against N GPUs with H/N heads each, each shard launched by run() or by replaying a captured
 * graph; median of 100 steps after 20 warm-ups. Every split's outputs, put side by side, are checked
 * against the one-GPU run (the GPU test checks that against the CPU backend). Prints a markdown
 * table and writes bench/results/<gpu>-tp.json.
 */
import { Device, Event, version } from "../src/index.ts";
import { GPU_TOLERANCE, worstError } from "../test/attention-fixture.ts";
import { median, progress, writeResults } from "./common.ts";
import { destroyShards, gatherOutputs, makeHostLayer, makeShards, runShard, runStep, synchronize, type TpConfig } from "./tensor-parallel.ts";

const count = Device.cudaCount();
if (count === 0) {
  console.log(`bench/tp.ts needs a CUDA device: ${Device.cudaUnavailableReason()}`);
  process.exit(0);
}
const config: TpConfig = { qo: 2048, kv: 2048, batch: 64, decodeKv: 4096, heads: 64, kvHeads: 8, headDim: 128, pageSize: 16, dtype: "float16" };
const all = Array.from({ length: count }, (_, i) => Device.cuda(i));
// Device counts that split 8 KV heads evenly: 1, 2, 4, 8 (up to what is visible).
const counts = [1, 2, 4, 8].filter((n) => n <= count);
progress("drawing the layer's inputs");
const layer = makeHostLayer(all[0]!, config);

type Launch = "eager" | "graph";

/** Wall and slowest-shard device ms per step over `runs` steps after `warmup`, and the outputs. With
 * "graph", each shard's run() is captured once on its stream and every step replays the graphs. */
function measure(n: number, launch: Launch, runs = 100, warmup = 20) {
  const shards = makeShards(all.slice(0, n), config, layer, { cudaGraph: launch === "graph" });
  const events = shards.map((s) => ({ start: new Event(s.device), end: new Event(s.device) }));
  runStep(shards); // loads the kernels before any capture
  synchronize(shards);
  const graphs = launch === "graph" ? shards.map((s) => s.stream.capture(() => runShard(s))) : [];
  const step = () => runStep(shards, events, launch === "graph" ? (_, i) => graphs[i]!.launch() : runShard);
  const wall: number[] = [], slowest: number[] = [];
  for (let i = 0; i < runs + warmup; i++) {
    const t0 = performance.now();
    step();
    synchronize(shards);
    if (i < warmup) continue;
    wall.push(performance.now() - t0);
    slowest.push(Math.max(...events.map((e) => e.end.elapsedSince(e.start))));
  }
  const outputs = gatherOutputs(shards);
  for (const g of graphs) g.destroy();
  for (const e of events) e.start.destroy(), e.end.destroy();
  destroyShards(shards);
  return { stepMs: median(wall), kernelMs: median(slowest), outputs };
}

let reference: { oP: Float64Array; oD: Float64Array } | undefined;
const rows = (["eager", "graph"] as const).flatMap((launch) =>
  counts.map((n) => {
    progress(`${n} GPU${n > 1 ? "s" : ""}, ${launch}`);
    const { stepMs, kernelMs, outputs } = measure(n, launch);
    reference ??= { oP: Float64Array.from(outputs.oP), oD: Float64Array.from(outputs.oD) };
    const tol = GPU_TOLERANCE.float16;
    // Worst |err| / (atol + rtol·|ref|) against the first one-GPU outputs: at most 1 passes.
    const worst = Math.max(worstError(outputs.oP, reference.oP, tol.atol, tol.rtol), worstError(outputs.oD, reference.oD, tol.atol, tol.rtol));
    if (!(worst <= 1)) throw new Error(`${n} GPUs (${launch}): the shards' outputs differ from the one-GPU run (worst error ${worst} of the tolerance)`);
    return { launch, gpus: n, headsPerGpu: config.heads / n, kvHeadsPerGpu: config.kvHeads / n, stepMs, slowestShardKernelMs: kernelMs, worstErrorVsOneGpu: worst };
  }),
);
// Speedup against one GPU launched the same way.
const speedup = (r: (typeof rows)[number]) => rows.find((o) => o.launch === r.launch && o.gpus === 1)!.stepMs / r.stepMs;
const name = all[0]!.properties.name;
const lines = [
  `### Tensor-parallel POD on ${count} × ${name} (pod-attention ${version()})`, "",
  `One layer: ${config.heads} query / ${config.kvHeads} KV heads, head_dim ${config.headDim}, ${config.dtype}; causal prefill ${config.qo}/${config.kv} + decode ${config.batch}@${config.decodeKv}, page ${config.pageSize}. Each shard launched by run() (eager) or by replaying its captured run() (graph). Wall ms per step and the slowest shard's device time (events on its stream), medians of 100; efficiency is the speedup over the ideal N×.`, "",
  "| launch | GPUs | query / KV heads per GPU | ms per step | slowest shard, device ms | speedup vs 1 GPU | efficiency |", "|---|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.launch} | ${r.gpus} | ${r.headsPerGpu} / ${r.kvHeadsPerGpu} | ${r.stepMs.toFixed(3)} | ${r.slowestShardKernelMs.toFixed(3)} | ${speedup(r).toFixed(2)}x | ${((100 * speedup(r)) / r.gpus).toFixed(0)}% |`),
];
if (count === 1) lines.push("", "Only one CUDA device is visible: the table has the single-GPU rows only.");
console.log(lines.join("\n"));
const results = rows.map((r) => ({ ...r, speedup: speedup(r), efficiency: speedup(r) / r.gpus }));
console.log(`wrote ${writeResults(all[0]!, "tp", { device: name, devices: count, version: version(), date: new Date().toISOString(), config, rows: results })}`);
