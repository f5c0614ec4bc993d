/**
 * `deno task setup`: checks that everything tamflux needs is in place and says what is missing.
 * npm packages are installed by `deno install` (run by the task before this script).
 */
import { useBackend } from "../lib/backend.ts";
import { cli, defineTask } from "../lib/cli/mod.ts";
import { resolveDataDir } from "../lib/data/paths.ts";

cli(defineTask({
  name: "setup",
  description: "installs npm packages and checks the backend, data folder and Jupyter kernel",
  options: {},
  examples: ["deno task setup"],
}));

const lines: string[] = [];
let problems = 0;

try {
  const backend = await useBackend("wasm");
  lines.push(`ok   TF.js backend: ${backend} (SIMD on, threads off)`);
} catch (error) {
  problems++;
  lines.push(`FAIL TF.js wasm backend: ${(error as Error).message}`);
}

try {
  const paths = resolveDataDir();
  lines.push(`ok   data folder: ${paths.root} (found by ${paths.foundBy})`);
} catch (error) {
  problems++;
  lines.push(`FAIL data folder:\n${(error as Error).message}`);
}

const kernel = new Deno.Command("jupyter", {
  args: ["kernelspec", "list"],
  stdout: "piped",
  stderr: "null",
});
try {
  const out = new TextDecoder().decode((await kernel.output()).stdout);
  if (/\bdeno\b/.test(out)) lines.push("ok   Jupyter kernel: deno");
  else {
    lines.push(
      "note Jupyter has no deno kernel: run `deno jupyter --install` to use the notebooks",
    );
  }
} catch {
  lines.push(
    "note Jupyter not found: on Debian `apt-get install -y jupyter-nbconvert python3-nbclient " +
      "jupyter-client jupyter-notebook`, then `deno jupyter --install` (only needed for the notebooks)",
  );
}

console.log(lines.join("\n"));
if (problems > 0) Deno.exit(1);
