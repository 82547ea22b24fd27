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

// Prefill side: one request of 512 tokens with contiguous k/v [tokens, numKvHeads, headDim].
using qP = Tensor.random([512, 32, 128], "float16", { device });
using kP = Tensor.random([512, 8, 128], "float16", { device });
using vP = Tensor.random([512, 8, 128], "float16", { device });
// Decode queries, one per request, and the paged cache [pages, k/v, pageSize, numKvHeads, headDim].
using qD = Tensor.random([2, 32, 128], "float16", { device });
using cache = Tensor.random([8, 2, 16, 8, 128], "float16", { device });

// returnLse asks for the LSE of both sides. The result's fields are typed from the arguments (here all
// four are Tensors); `using` destroys the tensors run() allocated when the scope ends.
using r = pod.run({ qP, kP, vP, qD, pagedKvCacheD: cache, causalP: true, returnLse: true });
console.log(`on ${device}, launch "${r.launch}":`);
for (const [name, t] of Object.entries({ oP: r.oP, oD: r.oD, lseP: r.lseP, lseD: r.lseD })) console.log(`  ${name} ${t}`);

// The same call in FlashInfer's spelling (snake_case; return_lse_p / return_lse_d set one side each).
using s = pod.run({ q_p: qP, k_p: kP, v_p: vP, q_d: qD, paged_kv_cache_d: cache, causal_p: true, return_lse: true });
const same = Bun.deepEquals(s.oD.toFloat32Array(), r.oD.toFloat32Array());
console.log(`snake_case run: oD ${same ? "identical" : "DIFFERENT"}`);
