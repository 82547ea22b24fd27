/**
 * `bun examples/minimal.ts`: the smallest POD call — one causal prefill request and a decode batch of
 * two requests on a paged KV cache, in one run() — on the best device (cuda:0, else the CPU backend).
 */
import { Device, PODWithPagedKVCacheWrapper, Tensor } from "../src/index.ts";

const device = Device.best();
using workspace = Tensor.empty([128 << 20], "uint8", { device });
using pod = new PODWithPagedKVCacheWrapper(workspace, "NHD");

// Decode side: request 0 owns pages 0..2 (2 full pages + 7 tokens), request 1 pages 3..4 (32 tokens).
pod.plan({ indptr: [0, 3, 5], indices: [0, 1, 2, 3, 4], lastPageLen: [7, 16], numQoHeads: 32, numKvHeads: 8, headDim: 128, pageSize: 16 });

// Prefill side: one request of 512 tokens with contiguous k/v.
using qP = Tensor.empty([512, 32, 128], "float16", { device }).fillRandom(1);
using kP = Tensor.empty([512, 8, 128], "float16", { device }).fillRandom(2);
using vP = Tensor.empty([512, 8, 128], "float16", { device }).fillRandom(3);
// Decode queries, one per request, and the paged cache [pages, k/v, pageSize, numKvHeads, headDim].
using qD = Tensor.empty([2, 32, 128], "float16", { device }).fillRandom(4);
using cache = Tensor.empty([8, 2, 16, 8, 128], "float16", { device }).fillRandom(5);

const { oP, oD, lseP, lseD } = pod.run({ qP, kP, vP, qD, pagedKvCacheD: cache, causalP: true, returnLseP: true, returnLseD: true });
console.log(`on ${device}: oP ${oP}, oD ${oD}, lseP ${lseP}, lseD ${lseD}`);
console.log(`oD[0, 0, 0..4] = ${Array.from(oD!.toFloat32Array().subarray(0, 4), (x) => x.toFixed(4)).join(" ")}`);
