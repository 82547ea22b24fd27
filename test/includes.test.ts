/**
 * The C shim and the CPU backend include each other without cycles, each include written from the
 * build's include root (scripts/check-includes.ts); the checker itself finds a planted cycle.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkIncludes } from "../scripts/check-includes.ts";

const root = join(import.meta.dir, "..");
const scratch = mkdtempSync(join(tmpdir(), "pod-includes-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A repository holding only the given files (paths relative to its root). */
function tree(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe("includes", () => {
  test("the repository's C files have no include cycle (the script exits 0)", () => {
    const r = Bun.spawnSync([process.execPath, join(root, "scripts", "check-includes.ts")], { cwd: root, stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toContain("no include cycles");
  });

  test("a cycle through a header outside the shim is reported with its path", () => {
    const dir = tree("cycle", {
      "cuda/pod.h": '#include "shim/a.h"\n',
      "cuda/shim/a.h": '#include "shim/b.h"\n',
      "cuda/shim/b.h": '#include "pod.h"\n',
      "cuda/shim/ok.c": '#include "shim/b.h"\n',
    });
    const { problems } = checkIncludes(dir);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^include cycle: (cuda\/[a-z./]+ -> ){3}cuda\/[a-z./]+$/);
    for (const f of ["cuda/pod.h", "cuda/shim/a.h", "cuda/shim/b.h"]) expect(problems[0]).toContain(f);
    const r = Bun.spawnSync([process.execPath, join(root, "scripts", "check-includes.ts"), dir], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toContain("include cycle:");
  });

  test("a header including itself is a cycle", () => {
    const dir = tree("self", { "cuda/cpu/x.h": '#include "cpu/x.h"\n' });
    expect(checkIncludes(dir).problems).toEqual(["include cycle: cuda/cpu/x.h -> cuda/cpu/x.h"]);
  });

  test("includes relative to the file, or to nothing, are reported by file and line", () => {
    const dir = tree("relative", {
      "cuda/shim/runtime/error.h": "/* no includes */\n",
      "cuda/shim/runtime/stream.h": '#pragma once\n#include "error.h"\n',
      "cuda/cpu/a.c": '#include <stdio.h>\n#include "cpu/missing.h"\n',
    });
    expect(checkIncludes(dir).problems.sort()).toEqual([
      'cuda/cpu/a.c:2: "cpu/missing.h" is not found under cuda/',
      'cuda/shim/runtime/stream.h:2: "error.h" is relative to the file; write it from cuda/ ("shim/runtime/error.h")',
    ]);
  });
});
