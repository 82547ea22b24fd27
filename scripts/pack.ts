/**
 * `npm run pack` (or `bun scripts/pack.ts [--out DIR]`): the two npm packages, as tarballs in dist/
 * (or DIR):
 * - `pod-attention`: the TypeScript module (src/), no native code and no install scripts;
 * - `pod-attention-linux-x64` (npm/linux-x64/): the prebuilt zig-out/lib/libpod.so, installed only
 *   on Linux x86-64 through its `os`/`cpu`/`libc` fields; pod-attention lists it as an optional
 *   dependency of the same version.
 * Needs a built library (`npm run build`). Prints the tarballs' paths and sizes.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const root = join(import.meta.dir, "..");
const { values } = parseArgs({ options: { out: { type: "string", default: join(root, "dist") } } });
const out = resolve(values.out!);
const say = (line: string) => process.stderr.write(`pack: ${line}\n`);
const fail = (line: string): never => {
  say(line);
  process.exit(1);
};

interface Manifest {
  name: string;
  version: string;
  optionalDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}
const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;

const main = readManifest(root);
const platformDir = join(root, "npm", "linux-x64");
const platform = readManifest(platformDir);
if (platform.version !== main.version) fail(`${platform.name} is at ${platform.version}, ${main.name} at ${main.version}: give both the same version`);
if (main.optionalDependencies?.[platform.name] !== main.version)
  fail(`package.json must list "${platform.name}": "${main.version}" in optionalDependencies`);
for (const hook of ["preinstall", "install", "postinstall", "prepare"])
  if (main.scripts?.[hook]) fail(`package.json has a "${hook}" script, which would run on users' machines`);

const library = join(root, "zig-out", "lib", "libpod.so");
if (!existsSync(library)) fail(`${library} is missing: run \`npm run build\` first`);
copyFileSync(library, join(platformDir, "libpod.so"));
mkdirSync(out, { recursive: true });

interface PackResult { filename: string; size: number; files: { path: string }[] }
function npmPack(dir: string): PackResult {
  say(`npm pack ${dir}`);
  const r = Bun.spawnSync(["npm", "pack", "--json", "--ignore-scripts", "--pack-destination", out], { cwd: dir, stderr: "pipe" });
  if (r.exitCode !== 0) fail(`npm pack failed in ${dir}:\n${r.stderr.toString()}`);
  return (JSON.parse(r.stdout.toString()) as PackResult[])[0]!;
}

for (const dir of [platformDir, root]) {
  const r = npmPack(dir);
  console.log(join(out, r.filename));
  say(`${r.filename}: ${(r.size / 2 ** 20).toFixed(2)} MiB, ${r.files.length} files`);
}
