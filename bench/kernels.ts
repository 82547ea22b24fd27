/**
 * `bun bench/kernels.ts`: the standalone kernels on the first CUDA device — batch decode on a paged
 * cache and causal single prefill, fp16 and bf16, and fp16 queries on an fp8 (e4m3) cache — against
 * the practical bounds measured in the same run (device copy bandwidth, fp16 tensor-core peak). Prints a markdown table and writes
 * bench/results/<gpu>-kernels.json. Medians of 30 timed runs after 5 warm-ups.
 */
import {
  BatchDecodeWithPagedKVCacheWrapper,
  singlePrefillWithKVCache,
  Tensor,
  version,
  type HalfDType,
  type KvDType,
} from "../src/index.ts";
import { benchDevice, counter, progress, shuffledPages, timeMs, writeResults } from "./common.ts";

const QO_HEADS = 32, KV_HEADS = 8, HEAD_DIM = 128, PAGE = 16;
// A widely used library on this card (fp16, same shapes), in ms.
const REFERENCE_DECODE: Record<string, number> = { "64@4096": 0.456, "128@4096": 0.787, "256@2048": 0.818, "16@2048": 0.112 };
const REFERENCE_PREFILL: Record<string, number> = { "1024/1024": 0.082, "2048/2048": 0.192, "4096/4096": 0.496, "8192/8192": 1.638, "1024/8192": 0.397 };

const { device, copyTBs, mmaTflops } = benchDevice();

interface DecodeRow { dtype: HalfDType; kvDtype: KvDType; batch: number; kvLen: number; ms: number; tbs: number; ofCopy: number; referenceMs?: number }
interface PrefillRow { dtype: HalfDType; kvDtype: KvDType; qoLen: number; kvLen: number; ms: number; tflops: number; ofPeak: number; referenceMs?: number }
const decode: DecodeRow[] = [];
const prefill: PrefillRow[] = [];
const workspace = Tensor.empty([256 << 20], "uint8", { device });
const PREFILL_SHAPES = [[1024, 1024], [2048, 2048], [4096, 4096], [8192, 8192], [1024, 8192]] as const;
const DTYPES = [["float16", "float16"], ["bfloat16", "bfloat16"], ["float16", "float8_e4m3fn"]] as const;
const step = counter(DTYPES.length * (1 + 4 * 3 + PREFILL_SHAPES.length)); // per dtype: 16@2048, 4 batches x 3 lengths, the prefill shapes

for (const [dtype, kvDtype] of DTYPES) {
  const kvBytes = kvDtype.startsWith("float8") ? 1 : 2;
  for (const batch of [16, 32, 64, 128, 256]) {
    for (const kvLen of [2048, 4096, 8192]) {
      if (batch === 16 && kvLen !== 2048) continue; // 16@2048 only, for the reference comparison
      step(`decode ${dtype} on ${kvDtype} ${batch}@${kvLen}`);
      const pagesPer = kvLen / PAGE;
      const pages = batch * pagesPer;
      using cache = Tensor.random([pages, 2, PAGE, KV_HEADS, HEAD_DIM], kvDtype, { device, seed: 7 });
      using q = Tensor.random([batch, QO_HEADS, HEAD_DIM], dtype, { device, seed: 8 });
      using out = Tensor.empty([batch, QO_HEADS, HEAD_DIM], dtype, { device });
      using w = new BatchDecodeWithPagedKVCacheWrapper(workspace, "NHD");
      w.plan({
        indptr: Int32Array.from({ length: batch + 1 }, (_, i) => i * pagesPer), indices: shuffledPages(pages),
        lastPageLen: new Int32Array(batch).fill(PAGE), numQoHeads: QO_HEADS, numKvHeads: KV_HEADS, headDim: HEAD_DIM, pageSize: PAGE,
        qDataType: dtype, kvDataType: kvDtype,
      });
      const ms = timeMs(device, () => w.run({ q, pagedKvCache: cache, out }));
      const bytes = batch * kvLen * KV_HEADS * HEAD_DIM * 2 * kvBytes;
      const tbs = bytes / (ms * 1e-3) / 1e12;
      const row: DecodeRow = { dtype, kvDtype, batch, kvLen, ms, tbs, ofCopy: tbs / copyTBs };
      const ref = dtype === "float16" && kvDtype === "float16" ? REFERENCE_DECODE[`${batch}@${kvLen}`] : undefined;
      if (ref) row.referenceMs = ref;
      decode.push(row);
    }
  }
  for (const [qoLen, kvLen] of PREFILL_SHAPES) {
    step(`prefill ${dtype} on ${kvDtype} ${qoLen}/${kvLen}`);
    using q = Tensor.random([qoLen, QO_HEADS, HEAD_DIM], dtype, { device, seed: 1 });
    using k = Tensor.random([kvLen, KV_HEADS, HEAD_DIM], kvDtype, { device, seed: 2 });
    using v = Tensor.random([kvLen, KV_HEADS, HEAD_DIM], kvDtype, { device, seed: 3 });
    using out = Tensor.empty([qoLen, QO_HEADS, HEAD_DIM], dtype, { device });
    const ms = timeMs(device, () => singlePrefillWithKVCache(q, k, v, { causal: true, out }));
    let pairs = 0; // visible (query, key) pairs under causal masking aligned to the end of the KV
    for (let i = 0; i < qoLen; i++) pairs += Math.min(kvLen, kvLen - qoLen + i + 1);
    const tflops = (4 * pairs * QO_HEADS * HEAD_DIM) / (ms * 1e-3) / 1e12;
    const row: PrefillRow = { dtype, kvDtype, qoLen, kvLen, ms, tflops, ofPeak: tflops / mmaTflops };
    const ref = dtype === "float16" && kvDtype === "float16" ? REFERENCE_PREFILL[`${qoLen}/${kvLen}`] : undefined;
    if (ref) row.referenceMs = ref;
    prefill.push(row);
  }
}

const f = (x: number, d = 3) => x.toFixed(d);
const lines: string[] = [];
lines.push(`### Kernels on ${device.properties.name} (pod-attention ${version()})`, "");
lines.push(`Practical bounds measured in the same run: device copy ${f(copyTBs, 2)} TB/s (read + write), fp16 tensor-core peak ${f(mmaTflops, 0)} TFLOP/s.`, "");
lines.push("Batch decode, paged KV (page 16, shuffled pages), 32 query / 8 KV heads, head_dim 128:", "");
lines.push("| q / KV dtype | batch@KV | ms | KV read TB/s | of copy bw | reference ms | speedup |", "|---|---|---|---|---|---|---|");
for (const r of decode)
  lines.push(`| ${r.dtype} / ${r.kvDtype} | ${r.batch}@${r.kvLen} | ${f(r.ms)} | ${f(r.tbs, 2)} | ${f(r.ofCopy * 100, 0)}% | ${r.referenceMs ?? ""} | ${r.referenceMs ? f(r.referenceMs / r.ms, 2) + "x" : ""} |`);
lines.push("", "Causal single prefill (queries aligned to the end of the KV), 32 query / 8 KV heads, head_dim 128:", "");
lines.push("| q / KV dtype | qo/KV | ms | TFLOP/s | of mma peak | reference ms | speedup |", "|---|---|---|---|---|---|---|");
for (const r of prefill)
  lines.push(`| ${r.dtype} / ${r.kvDtype} | ${r.qoLen}/${r.kvLen} | ${f(r.ms)} | ${f(r.tflops, 0)} | ${f(r.ofPeak * 100, 0)}% | ${r.referenceMs ?? ""} | ${r.referenceMs ? f(r.referenceMs / r.ms, 2) + "x" : ""} |`);
console.log(lines.join("\n"));
const file = writeResults(device, "kernels", {
  device: device.properties.name, version: version(), date: new Date().toISOString(), runs: 30, warmup: 5,
  bounds: { copyTBs, mmaTflops }, decode, prefill,
});
progress(`wrote ${file}`);
