/**
 * The documentation stays true to the repository: README.md within 10 KiB; its performance table
 * and those of docs/performance.md equal what scripts/readme.ts renders from the committed results;
 * every relative link (and heading anchor) in README.md and docs/*.md resolves; every name that
 * src/index.ts exports appears in docs/api.md.
 */
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { blockOf, readmePerf, ROOT, staleBlocks, withBlock } from "../scripts/readme.ts";

const read = (file: string) => readFileSync(join(ROOT, file), "utf8");
const MARKDOWN = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

test("README.md is at most 10 240 bytes", () => {
  expect(Buffer.byteLength(read("README.md"))).toBeLessThanOrEqual(10_240);
});

test("README's performance table is the one rendered from bench/results/NVIDIA-H200-pod.json", () => {
  const block = blockOf(read("README.md"), "perf");
  expect(block).toBeDefined();
  expect(block).toBe(readmePerf());
  expect(block).toContain("bench/results/NVIDIA-H200-pod.json");
});

test("every generated block of README.md and docs/performance.md is up to date", () => {
  expect(staleBlocks()).toEqual([]);
});

test("a stale block is found, and `bun scripts/readme.ts --check` agrees with the committed files", () => {
  const dir = mkdtempSync(join(tmpdir(), "pod-readme-"));
  try {
    mkdirSync(join(dir, "docs"));
    const readme = read("README.md");
    writeFileSync(join(dir, "README.md"), withBlock(readme, "perf", readmePerf().replace("C1", "C0")));
    writeFileSync(join(dir, "docs", "performance.md"), read("docs/performance.md"));
    expect(staleBlocks(dir)).toEqual(["README.md: perf"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const check = Bun.spawnSync([process.execPath, join(ROOT, "scripts", "readme.ts"), "--check"], { stderr: "pipe" });
  expect(check.stderr.toString()).toBe("");
  expect(check.exitCode).toBe(0);
});

// ---------------------------------------------------------------------------------------------
// Links.

/** Markdown without fenced code blocks and with inline code emptied (links inside code are not links). */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "``");
}

/** GitHub's heading anchors of a markdown file. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, heading] of text.replace(/^```[\s\S]*?^```/gm, "").matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = heading!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

test("every relative link in README.md and docs/*.md points at an existing file (and heading)", () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of MARKDOWN) {
    const text = read(file);
    for (const [, target] of prose(text).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target!)) continue; // https:, mailto:, …
      const [path, anchor] = target!.split("#", 2) as [string, string | undefined];
      const full = path ? resolve(dirname(join(ROOT, file)), decodeURIComponent(path)) : join(ROOT, file);
      checked++;
      if (!full.startsWith(ROOT) || !existsSync(full)) {
        broken.push(`${file}: ${target} (no such file)`);
        continue;
      }
      if (anchor && full.endsWith(".md") && !anchors(readFileSync(full, "utf8")).has(anchor))
        broken.push(`${file}: ${target} (no heading #${anchor} in ${relative(ROOT, full)})`);
    }
  }
  expect(broken).toEqual([]);
  expect(checked).toBeGreaterThan(20);
});

// ---------------------------------------------------------------------------------------------
// docs/api.md against src/index.ts.

/** Names a module exports, following `export * from` into the files it names. */
function exportedNames(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ESNext, true);
  const names: string[] = [];
  const exported = (node: ts.Node) => ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      const clause = statement.exportClause;
      if (clause && ts.isNamedExports(clause)) names.push(...clause.elements.map((e) => e.name.text));
      else if (clause && ts.isNamespaceExport(clause)) names.push(clause.name.text);
      else if (statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier))
        names.push(...exportedNames(resolve(dirname(file), statement.moduleSpecifier.text), seen));
    } else if (exported(statement)) {
      if (ts.isVariableStatement(statement)) {
        for (const d of statement.declarationList.declarations) if (ts.isIdentifier(d.name)) names.push(d.name.text);
      } else if (
        (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isInterfaceDeclaration(statement) ||
          ts.isTypeAliasDeclaration(statement) || ts.isEnumDeclaration(statement)) && statement.name
      ) {
        names.push(statement.name.text);
      }
    }
  }
  return names;
}

/** Identifiers written in code (inline spans and fenced blocks) of a markdown file. */
function codeIdentifiers(text: string): Set<string> {
  const code = [...text.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
  code.push(...[...text.replace(/^```[\s\S]*?^```/gm, "").matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!));
  return new Set(code.flatMap((c) => c.match(/[A-Za-z_$][\w$]*/g) ?? []));
}

test("every name exported from src/index.ts appears (as code) in docs/api.md", () => {
  const names = exportedNames(join(ROOT, "src", "index.ts"));
  expect(names.length).toBeGreaterThan(40);
  expect(names).toContain("PODWithPagedKVCacheWrapper");
  expect(names).toContain("version");
  const documented = codeIdentifiers(read("docs/api.md"));
  expect(names.filter((n) => !documented.has(n))).toEqual([]);
});
