/** The shapes of bench/prefill.ts; bench/prefill_peer.py reads the same list from prefill-shapes.json. */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface PrefillShape {
  name: string;
  qo: number;
  kv: number;
  headDim: number;
  causal: boolean;
  options: { windowLeft?: number; logitsSoftCap?: number };
}

export const PREFILL_SHAPES: PrefillShape[] = JSON.parse(readFileSync(join(import.meta.dir, "prefill-shapes.json"), "utf8"));

/** Visible (query, key) pairs: causal aligned to the end of the keys, with an optional left window. */
export function visiblePairs(qo: number, kv: number, causal: boolean, windowLeft = -1): number {
  let pairs = 0;
  for (let i = 0; i < qo; i++) {
    const pos = kv - qo + i;
    const hi = causal ? Math.min(pos, kv - 1) : kv - 1;
    const lo = windowLeft >= 0 ? Math.max(0, pos - windowLeft) : 0;
    pairs += Math.max(0, hi - lo + 1);
  }
  return pairs;
}
