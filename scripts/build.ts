/**
 * `npm run build`: builds zig-out/lib/libpod.so with the Zig 0.11 from npm
 * (`zig build -Doptimize=ReleaseFast`; further arguments are passed to zig, e.g.
 * `npm run build -- -Dcuda-arch=sm_90a`). Progress: Zig draws its own on a terminal; elsewhere (CI
 * logs, pipes) a line every 15 s says how long the build has run. An up-to-date build takes well
 * under a second, so `npm test` runs this first.
 *
 * Without the CUDA toolkit (no nvcc where build.zig looks: $CUDA_HOME, $CUDA_PATH, /usr/local/cuda)
 * but with a library already there (zig-out/lib/libpod.so, or the platform package's), it says so
 * and builds nothing: `npm test` then runs on the prebuilt library.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const zig = join(root, "node_modules", "@ryoppippi", "zig-linux-x64", "zig");
const output = join(root, "zig-out", "lib", "libpod.so");
const say = (line: string) => process.stderr.write(`build: ${line}\n`);

/** nvcc as build.zig finds it (CUDA_HOME, CUDA_PATH, /usr/local/cuda). */
export function findNvcc(env: Record<string, string | undefined> = process.env, fallback = "/usr/local/cuda"): string | undefined {
  for (const home of [env.CUDA_HOME, env.CUDA_PATH, fallback]) {
    if (!home) continue;
    const nvcc = join(home, "bin", "nvcc");
    if (existsSync(nvcc)) return nvcc;
  }
  return undefined;
}

/** A library to use without building: this checkout's build, else the installed platform package's. */
export function prebuiltLibrary(): string | undefined {
  if (existsSync(output)) return output;
  try {
    return Bun.resolveSync("pod-attention-linux-x64/libpod.so", root);
  } catch {
    return undefined;
  }
}

// Imported by tests for the functions above; run as a script, it builds.
if (import.meta.main) {
  const prebuilt = prebuiltLibrary();
  if (!findNvcc() && prebuilt) {
    say(`no nvcc (CUDA toolkit) found; using the prebuilt ${prebuilt} without building`);
    process.exit(0);
  }

  if (!existsSync(zig)) {
    say(`${zig} is missing; run \`npm install\` first (Zig 0.11 comes from npm as a dev dependency)`);
    process.exit(1);
  }

  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1e3).toFixed(1);
  const args = ["build", "-Doptimize=ReleaseFast", ...process.argv.slice(2)];
  const terminal = process.stderr.isTTY;
  const kernels = readdirSync(join(root, "cuda", "kernels"), { recursive: true }).filter((f) => String(f).endsWith(".cu")).length;
  if (!terminal) say(`zig ${args.join(" ")} (a clean build runs nvcc on ${kernels} CUDA files: about 5 minutes on 2 cores)`);
  const ticker = terminal ? undefined : setInterval(() => say(`still building, ${seconds()} s`), 15_000);
  const child = Bun.spawn([zig, ...args], { cwd: root, stdio: ["inherit", "inherit", "inherit"] });
  const code = await child.exited;
  clearInterval(ticker);
  if (code !== 0) {
    say(`failed after ${seconds()} s (zig exited with ${code})`);
    process.exit(code || 1);
  }
  const mb = (statSync(output).size / 2 ** 20).toFixed(1);
  say(`zig-out/lib/libpod.so (${mb} MiB) ready in ${seconds()} s`);
}
