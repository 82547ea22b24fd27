/**
 * The TypeScript constants of src/enums.ts against the `typedef enum` blocks of cuda/pod.h: same
 * members, same values, nothing missing on either side.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as enums from "../src/enums.ts";

const header = readFileSync(join(import.meta.dir, "..", "cuda", "pod.h"), "utf8").replace(/\/\*[\s\S]*?\*\//g, "");

/** Members of `typedef enum name { ... } name;` as written in the header. */
function cEnum(name: string): Record<string, number> {
  const block = new RegExp(`typedef\\s+enum\\s+${name}\\s*\\{([^}]*)\\}\\s*${name}\\s*;`).exec(header);
  if (!block) throw new Error(`no enum ${name} in cuda/pod.h`);
  const members: Record<string, number> = {};
  let next = 0;
  for (const item of block[1]!.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Z0-9_]+)\s*(?:=\s*(-?\d+))?$/.exec(item);
    if (!m) throw new Error(`${name}: cannot read "${item}"`);
    next = m[2] === undefined ? next : Number(m[2]);
    members[m[1]!] = next++;
  }
  return members;
}

const withoutPrefix = (members: Record<string, number>, prefix: string) =>
  Object.fromEntries(Object.entries(members).map(([k, v]) => {
    if (!k.startsWith(prefix)) throw new Error(`${k} does not start with ${prefix}`);
    return [k.slice(prefix.length), v];
  }));

const PAIRS: [ts: Record<string, number>, cName: string, prefix: string][] = [
  [enums.POD_DTYPE, "pod_dtype", "POD_"],
  [enums.KV_LAYOUT, "pod_kv_layout", "POD_"],
  [enums.POS_ENCODING, "pod_pos_encoding", "POD_POS_"],
  [enums.MEMCPY_KIND, "pod_memcpy_kind", "POD_"],
  [enums.CAPTURE_MODE, "pod_capture_mode", "POD_CAPTURE_"],
  [enums.WRAPPER_KIND, "pod_wrapper_kind", "POD_WRAPPER_"],
  [enums.LAUNCH, "pod_launch", "POD_LAUNCH_"],
  [enums.LAUNCH_CHOICE, "pod_launch_choice", "POD_CHOOSE_"],
  [enums.MASK_KIND, "pod_mask_kind", "POD_MASK_"],
];

describe("src/enums.ts equals the enums of cuda/pod.h", () => {
  for (const [ts, cName, prefix] of PAIRS) {
    test(cName, () => {
      expect(ts).toEqual(withoutPrefix(cEnum(cName), prefix));
    });
  }

  test("pod_status (POD_OK and POD_ERR_*)", () => {
    const c = Object.fromEntries(Object.entries(cEnum("pod_status")).map(([k, v]) => [k.replace(/^POD_(ERR_)?/, ""), v]));
    expect({ ...enums.STATUS } as Record<string, number>).toEqual(c);
  });

  test("the defines: POD_DEVICE_CPU and POD_UNSET", () => {
    expect(Number(/#define POD_DEVICE_CPU \((-?\d+)\)/.exec(header)?.[1])).toBe(enums.DEVICE_CPU);
    expect(/#define POD_UNSET INT32_MIN/.test(header)).toBe(true);
    expect(enums.UNSET).toBe(-(2 ** 31));
  });

  test("every C enum of the header is checked here", () => {
    const all = [...header.matchAll(/typedef\s+enum\s+(\w+)/g)].map((m) => m[1]);
    expect(all.sort()).toEqual([...PAIRS.map((p) => p[1]), "pod_status"].sort());
  });
});
