/**
 * The packages as users get them. scripts/pack.ts makes both tarballs; npm installs them (from its
 * cache where it can: the registry is asked only for what the cache lacks, such as the metadata of
 * the packages' own dependencies on a fresh machine) into a new project outside the repository; a POD call runs there on the CPU backend with the
 * library from the platform package; `bun build --compile` of the same script gives an executable
 * that carries libpod.so and runs on its own. Also: the loader's order and its error when nothing
 * is found.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const bun = process.execPath;
const built = join(root, "zig-out", "lib", "libpod.so");

/** The environment without the library override and without npm's variables of the outer `npm test`. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "POD_LIBRARY" && !/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

function run(cmd: string[], cwd: string, env = cleanEnv()): string {
  const r = Bun.spawnSync(cmd, { cwd, env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited with ${r.exitCode}:\n${r.stdout.toString()}\n${r.stderr.toString()}`);
  return r.stdout.toString();
}

// A POD call on the CPU backend, checked against the float64 reference: prints one JSON line.
const APP = `
import { Device, LIBRARY_PATH, PODWithPagedKVCacheWrapper, Tensor, referenceAttention, version } from "pod-attention";
const device = Device.cpu();
const H = 4, KH = 2, D = 64, PAGE = 16, QO = 8, KV = 24;
using workspace = Tensor.empty([8 << 20], "uint8", { device });
using pod = new PODWithPagedKVCacheWrapper(workspace, "NHD");
pod.plan({ indptr: [0, 2, 3], indices: [2, 0, 1], lastPageLen: [5, 16], numQoHeads: H, numKvHeads: KH, headDim: D, pageSize: PAGE });
using qP = Tensor.random([QO, H, D], "float16", { device, seed: 1 });
using kP = Tensor.random([KV, KH, D], "float16", { device, seed: 2 });
using vP = Tensor.random([KV, KH, D], "float16", { device, seed: 3 });
using qD = Tensor.random([2, H, D], "float16", { device, seed: 4 });
using cache = Tensor.random([3, 2, PAGE, KH, D], "float16", { device, seed: 5 });
const { oP, oD } = pod.run({ qP, kP, vP, qD, pagedKvCacheD: cache, causalP: true });
const ref = referenceAttention(qP.toFloat32Array(), kP.toFloat32Array(), vP.toFloat32Array(),
  { qoLen: QO, kvLen: KV, numQoHeads: H, numKvHeads: KH, headDim: D }, { causal: true }).out;
const err = oP.toFloat32Array().reduce((m, x, i) => Math.max(m, Math.abs(x - ref[i])), 0);
console.log(JSON.stringify({ library: LIBRARY_PATH, version: version(), err, decodeFinite: oD.toFloat32Array().every(Number.isFinite) }));
`;

interface AppOutput { library: string; version: string; err: number; decodeFinite: boolean }
const parse = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!) as AppOutput;

// Packing and the checkout loader need this checkout's own build (npm test builds it first); a copy
// of the tree without it, as on a machine given only a prebuilt library, skips them.
const noBuild = existsSync(built) ? undefined : `no local build at ${built}`;
if (noBuild) console.log(`package tests skipped: ${noBuild}`);

describe.skipIf(noBuild !== undefined)("packages", () => {
  let dir = "";
  let tarballs: string[] = [];
  const app = () => join(dir, "app");

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pod-package-"));
    tarballs = run([bun, join(root, "scripts", "pack.ts"), "--out", join(dir, "dist")], root).trim().split("\n");
    mkdirSync(app());
    writeFileSync(join(app(), "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    writeFileSync(join(app(), "app.ts"), APP);
    run(["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", ...tarballs], app());
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("two tarballs: the module without native code or install scripts, and the platform package", () => {
    expect(tarballs.map((t) => t.slice(dir.length))).toEqual(["/dist/pod-attention-linux-x64-0.1.0.tgz", "/dist/pod-attention-0.1.0.tgz"]);
    const listing = (t: string) => run(["tar", "tzf", t], dir).trim().split("\n").sort();
    const main = listing(tarballs[1]!);
    expect(main.every((f) => f === "package/package.json" || f === "package/README.md" || /^package\/src\/[a-z]+\.ts$/.test(f))).toBe(true);
    expect(main).toContain("package/src/index.ts");
    expect(listing(tarballs[0]!)).toEqual(["package/README.md", "package/libpod.so", "package/package.json"]);

    const installed = JSON.parse(readFileSync(join(app(), "node_modules", "pod-attention", "package.json"), "utf8"));
    expect(installed.exports["."]).toEqual({ types: "./src/index.ts", bun: "./src/index.ts", default: "./src/index.ts" });
    expect(installed.engines).toEqual({ bun: ">=1.4.0" });
    expect(installed.dependencies).toEqual({ "fastest-levenshtein": "1.0.16" });
    for (const hook of ["preinstall", "install", "postinstall", "prepare"]) expect(installed.scripts?.[hook]).toBeUndefined();
    expect(installed.optionalDependencies).toEqual({ "pod-attention-linux-x64": installed.version });
    const platform = JSON.parse(readFileSync(join(app(), "node_modules", "pod-attention-linux-x64", "package.json"), "utf8"));
    expect([platform.os, platform.cpu, platform.version]).toEqual([["linux"], ["x64"], installed.version]);
  });

  test("a POD call in the installed project loads libpod.so from the platform package", () => {
    const out = parse(run([bun, "app.ts"], app()));
    expect(realpathSync(out.library)).toBe(realpathSync(join(app(), "node_modules", "pod-attention-linux-x64", "libpod.so")));
    expect(out.version).toBe("0.1.0");
    expect(out.err).toBeLessThan(2e-3);
    expect(out.decodeFinite).toBe(true);
  }, 60_000);

  test("bun build --compile: the executable carries libpod.so and runs anywhere", () => {
    const exe = join(dir, "bin", "app");
    run([bun, "build", "--compile", "app.ts", "node_modules/pod-attention-linux-x64/libpod.so", "--outfile", exe], app());
    const elsewhere = join(dir, "bin"); // no node_modules, no checkout around it
    const out = parse(run([exe], elsewhere));
    expect(out.library).toMatch(/^\/\$bunfs\/root\/libpod(-[A-Za-z0-9]+)?\.so$/);
    expect(out.err).toBeLessThan(2e-3);
    // Run where a node_modules holds another libpod.so: the executable's own still comes first.
    expect(parse(run([exe], app())).library).toMatch(/^\/\$bunfs\/root\/libpod(-[A-Za-z0-9]+)?\.so$/);
    // POD_LIBRARY still comes first.
    expect(parse(run([exe], elsewhere, cleanEnv({ POD_LIBRARY: built }))).library).toBe(built);
  }, 120_000);
});

describe("loader", () => {
  test.skipIf(noBuild !== undefined)("without POD_LIBRARY, a checkout's own build is used", () => {
    const out = run([bun, "-e", `import { LIBRARY_PATH } from ${JSON.stringify(join(root, "src", "index.ts"))}; console.log(LIBRARY_PATH)`], tmpdir());
    expect(out.trim()).toBe(built);
  });

  test("POD_LIBRARY pointing nowhere is an error", () => {
    const r = Bun.spawnSync([bun, "-e", `await import(${JSON.stringify(join(root, "src", "index.ts"))})`], {
      cwd: tmpdir(), env: cleanEnv({ POD_LIBRARY: "/nonexistent/libpod.so" }), stderr: "pipe",
    });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr.toString()).toContain("POD_LIBRARY points to /nonexistent/libpod.so, which does not exist");
  });

  test("with no library anywhere, the error names every place tried", () => {
    const dir = mkdtempSync(join(tmpdir(), "pod-loader-"));
    try {
      cpSync(join(root, "src"), join(dir, "src"), { recursive: true });
      // The module's runtime dependencies, as an install has them (and nothing that holds a libpod.so).
      for (const dep of Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).dependencies ?? {}))
        cpSync(join(root, "node_modules", dep), join(dir, "node_modules", dep), { recursive: true });
      const r = Bun.spawnSync([bun, "-e", `await import("./src/index.ts")`], { cwd: dir, env: cleanEnv(), stderr: "pipe" });
      expect(r.exitCode).not.toBe(0);
      const err = r.stderr.toString();
      for (const tried of ["POD_LIBRARY (not set)", join(dir, "zig-out", "lib", "libpod.so"), "pod-attention-linux-x64/libpod.so (not installed)", "bun build --compile"])
        expect(err).toContain(tried);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("scripts/build.ts (npm test's pretest)", () => {
  test("finds nvcc where build.zig does: CUDA_HOME, CUDA_PATH, then the default root", async () => {
    const { findNvcc } = await import("../scripts/build.ts");
    const home = mkdtempSync(join(tmpdir(), "pod-cuda-"));
    try {
      mkdirSync(join(home, "bin"));
      writeFileSync(join(home, "bin", "nvcc"), "");
      expect(findNvcc({ CUDA_HOME: home }, "/nonexistent")).toBe(join(home, "bin", "nvcc"));
      expect(findNvcc({ CUDA_PATH: home }, "/nonexistent")).toBe(join(home, "bin", "nvcc"));
      expect(findNvcc({}, home)).toBe(join(home, "bin", "nvcc"));
      expect(findNvcc({ CUDA_HOME: "/nonexistent" }, "/nonexistent")).toBeUndefined();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  // Only where no CUDA toolkit is installed at the default root, which a test cannot hide.
  test.skipIf(noBuild !== undefined || existsSync("/usr/local/cuda/bin/nvcc"))("without nvcc and with a built library, it builds nothing and says so", () => {
    const env = cleanEnv();
    delete env.CUDA_HOME;
    delete env.CUDA_PATH;
    const r = Bun.spawnSync([bun, join(root, "scripts", "build.ts")], { cwd: root, env, stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    expect(r.stderr.toString()).toContain(`no nvcc (CUDA toolkit) found; using the prebuilt ${built} without building`);
  });
});
