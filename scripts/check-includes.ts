/**
 * `bun scripts/check-includes.ts [root]`: reads every `#include "..."` of the C files under
 * cuda/shim and cuda/cpu and fails (exit 1) on an include cycle, or on an include that is not
 * written from the build's include root cuda/ (build.zig passes -Icuda: `"shim/..."`, `"cpu/..."`,
 * `"kernels/..."`, `"pod.h"`). Headers reached outside those folders are read too, so a cycle
 * through them is found as well. `root` is the repository (default: this script's).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";

const SCANNED = ["cuda/shim", "cuda/cpu"];
const INCLUDE_ROOT = "cuda";
const SOURCE = /\.(c|h|cuh)$/;
const INCLUDE = /^\s*#\s*include\s*"([^"]+)"/;

export interface IncludeReport {
  files: number;
  problems: string[];
}

/** Quoted includes of a file, with their line numbers. */
function includesOf(file: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((text, i) => {
      const m = INCLUDE.exec(text);
      if (m) out.push({ target: m[1]!, line: i + 1 });
    });
  return out;
}

function sourcesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => SOURCE.test(f) && statSync(f).isFile())
    .sort();
}

export function checkIncludes(root: string): IncludeReport {
  const includeRoot = join(root, INCLUDE_ROOT);
  const scanned = SCANNED.flatMap((d) => sourcesUnder(join(root, d)));
  const inScope = new Set(scanned);
  const problems: string[] = [];
  const edges = new Map<string, string[]>();
  const name = (f: string) => relative(root, f);

  const pending = [...scanned];
  while (pending.length > 0) {
    const file = pending.shift()!;
    if (edges.has(file)) continue;
    const targets: string[] = [];
    edges.set(file, targets);
    for (const { target, line } of includesOf(file)) {
      const fromRoot = join(includeRoot, target);
      const fromHere = join(dirname(file), target);
      let found: string | undefined;
      if (existsSync(fromRoot)) {
        found = fromRoot;
      } else if (existsSync(fromHere)) {
        found = fromHere;
        if (inScope.has(file))
          problems.push(`${name(file)}:${line}: "${target}" is relative to the file; write it from ${INCLUDE_ROOT}/ ("${relative(includeRoot, fromHere)}")`);
      } else if (inScope.has(file)) {
        problems.push(`${name(file)}:${line}: "${target}" is not found under ${INCLUDE_ROOT}/`);
      }
      if (found) {
        targets.push(found);
        pending.push(found);
      }
    }
  }

  // Depth-first search; a file met again while still on the path closes a cycle.
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const reported = new Set<string>();
  const visit = (file: string) => {
    path.push(file);
    onPath.add(file);
    for (const next of edges.get(file) ?? []) {
      if (onPath.has(next)) {
        const cycle = [...path.slice(path.indexOf(next)), next].map(name);
        const key = [...cycle.slice(0, -1)].sort().join("|");
        if (!reported.has(key)) {
          reported.add(key);
          problems.push(`include cycle: ${cycle.join(" -> ")}`);
        }
      } else if (!done.has(next)) {
        visit(next);
      }
    }
    path.pop();
    onPath.delete(file);
    done.add(file);
  };
  for (const file of scanned) if (!done.has(file)) visit(file);
  return { files: edges.size, problems };
}

if (import.meta.main) {
  const root = process.argv[2] ?? join(import.meta.dir, "..");
  const { files, problems } = checkIncludes(root);
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`check-includes: ${problems.length} problem(s) in the includes of ${SCANNED.join(" and ")}`);
    process.exit(1);
  }
  console.log(`check-includes: ${files} files, no include cycles`);
}
