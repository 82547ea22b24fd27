/** The examples run, each in its own process on the best device (the CPU backend without a GPU). */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const root = join(import.meta.dir, "..");

function example(name: string, ...args: string[]): string {
  const r = Bun.spawnSync([process.execPath, join(root, "examples", name), ...args], { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${name} exited with ${r.exitCode}:\n${r.stderr.toString()}`);
  return r.stdout.toString();
}

describe("examples", () => {
  test("minimal.ts: one POD call", () => {
    const out = example("minimal.ts");
    expect(out).toContain("oP Tensor(float16, [512, 32, 128]");
    expect(out).toContain("lseD Tensor(float32, [2, 32]");
  }, 60_000);

  test("serving-loop.ts: re-plans every step under a captured graph; the last step matches eager run() and the reference", () => {
    const out = example("serving-loop.ts", "9");
    expect(out).toContain("captured 4 layers of POD run() into one graph");
    expect(out.match(/^step +\d+:/gm)?.length).toBe(9);
    expect(out).toContain("graph replay vs eager run(): identical");
    for (const side of ["decode", "prefill"]) {
      const err = Number(new RegExp(`max \\|${side} output - reference\\| = (\\S+)`).exec(out)?.[1]);
      expect(err).toBeLessThan(1e-2);
    }
  }, 60_000);

  test("compare-reference.ts: a row per dtype, variant and side, errors small", () => {
    const out = example("compare-reference.ts");
    const rows = out.split("\n").filter((l) => /^\| (float16|bfloat16) \|/.test(l));
    expect(rows.length).toBeGreaterThanOrEqual(20); // 2 dtypes x 5 variants x 2 sides (x 2 devices with a GPU)
    for (const row of rows) {
      const [dtype, , , maxAbs] = row.split("|").slice(1).map((c) => c.trim());
      // Loose bounds (a GPU rounds RoPE-rotated q/k to the dtype): this checks the experiment runs and is
      // sane; the differential sweeps hold the real tolerances.
      expect(Number(maxAbs)).toBeLessThan(dtype === "float16" ? 1e-2 : 6e-2);
    }
  }, 60_000);

  test("demo.ts (npm start) runs both wrappers", () => {
    const out = example("demo.ts");
    expect(out).toContain("PODWithPagedKVCacheWrapper: oP");
    expect(out).toContain("BatchPODWithPagedKVCacheWrapper: oP");
  }, 60_000);
});
