/**
 * The CUDA device the GPU tests run on: cuda:0, or cuda:N with POD_TEST_GPU=N — run the suite on
 * another device of a multi-GPU machine to check that nothing assumes the first one.
 */
import { Device } from "../../src/index.ts";

export function testGpu(): Device {
  const spec = process.env.POD_TEST_GPU ?? "0";
  if (!/^\d+$/.test(spec)) throw new Error(`POD_TEST_GPU: expected a CUDA ordinal, got ${JSON.stringify(spec)}`);
  return Device.cuda(Number(spec));
}
