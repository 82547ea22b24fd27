/**
 * `bun bench/tp.ts`: tensor-parallel POD across every visible CUDA device. One layer of 64 query / 8
 * KV heads (head_dim 128, fp16, page 16): a causal 2048-token prefill next to 64 decode requests of
 * 4096 keys. Wall time per step (queue on every device's stream, wait for all) for one GPU with all
 * heads against N GPUs with H/N heads each; median of 30 steps after 5 warm-ups. Prints a markdown
 * table and writes bench/results/<gpu>-tp.json.
 */
import { Device, version } from "../src/index.ts";
import { median, progress, writeResults } from "./common.ts";
import { destroyShards, makeShards, runStep, synchronize, type TpConfig } from "./tensor-parallel.ts";

const count = Device.cudaCount();
if (count === 0) {
  console.log(`bench/tp.ts needs a CUDA device: ${Device.cudaUnavailableReason()}`);
  process.exit(0);
}
const config: TpConfig = { qo: 2048, kv: 2048, batch: 64, decodeKv: 4096, heads: 64, kvHeads: 8, headDim: 128, pageSize: 16, dtype: "float16" };
const all = Array.from({ length: count }, (_, i) => Device.cuda(i));
// Device counts that split 8 KV heads evenly: 1, 2, 4, 8 (up to what is visible).
const counts = [1, 2, 4, 8].filter((n) => n <= count);

function stepMs(n: number, runs = 30, warmup = 5): number {
  const shards = makeShards(all.slice(0, n), config);
  const times: number[] = [];
  for (let i = 0; i < runs + warmup; i++) {
    const t0 = performance.now();
    runStep(shards);
    synchronize(shards);
    if (i >= warmup) times.push(performance.now() - t0);
  }
  destroyShards(shards);
  return median(times);
}

const rows = counts.map((n) => {
  progress(`${n} GPU${n > 1 ? "s" : ""}`);
  return { gpus: n, headsPerGpu: config.heads / n, kvHeadsPerGpu: config.kvHeads / n, stepMs: stepMs(n) };
});
const name = all[0]!.properties.name;
const lines = [
  `### Tensor-parallel POD on ${count} × ${name} (pod-attention ${version()})`, "",
  `One layer: ${config.heads} query / ${config.kvHeads} KV heads, head_dim ${config.headDim}, ${config.dtype}; causal prefill ${config.qo}/${config.kv} + decode ${config.batch}@${config.decodeKv}, page ${config.pageSize}. Wall ms per step (median of 30).`, "",
  "| GPUs | query / KV heads per GPU | ms per step | speedup vs 1 GPU |", "|---|---|---|---|",
  ...rows.map((r) => `| ${r.gpus} | ${r.headsPerGpu} / ${r.kvHeadsPerGpu} | ${r.stepMs.toFixed(3)} | ${(rows[0]!.stepMs / r.stepMs).toFixed(2)}x |`),
];
if (count === 1) lines.push("", "Only one CUDA device is visible: the table has the single-GPU row only.");
console.log(lines.join("\n"));
console.log(`wrote ${writeResults(all[0]!, "tp", { device: name, devices: count, version: version(), date: new Date().toISOString(), config, rows })}`);
