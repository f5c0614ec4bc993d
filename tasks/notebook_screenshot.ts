/**
 * `deno task screenshot`: opens an executed notebook in the classic Jupyter notebook server and
 * saves a PNG of it taken by headless Chromium, to check by eye that its charts show (the classic
 * notebook shows the SVG fallback of each vega-lite chart; the notebook is signed as trusted first,
 * since Jupyter hides SVG output of untrusted notebooks). Needs Debian's `jupyter-notebook` and
 * `chromium` packages. The PNG goes to `results/screenshots/` (ignored by git).
 *
 * Usage: deno task screenshot [--notebook 01_data_prep.ipynb] [--port 8899] [--height 3000]
 *
 * @module
 */
import { join } from "node:path";
import { cli, defineTask, opt } from "../lib/cli/mod.ts";
import { PROJECT_ROOT } from "../lib/data/paths.ts";

const TASK = defineTask({
  name: "screenshot",
  description: "PNG of an executed notebook in the classic Jupyter server",
  options: {
    notebook: opt.custom("the notebook under notebooks/", {
      arg: "file.ipynb",
      type: "file name ending in .ipynb",
      default: "01_data_prep.ipynb",
      parse: (text) => {
        if (!/^[A-Za-z0-9_.-]+\.ipynb$/.test(text)) {
          throw new Error(`expected a notebook file name like 01_data_prep.ipynb, got "${text}"`);
        }
        return text;
      },
    }),
    port: opt.int("port of the local notebook server", { min: 1024, max: 65535, default: 8899 }),
    height: opt.int("height of the page in pixels", { min: 100, default: 3000 }),
  },
  examples: ["deno task screenshot --notebook 04_results.ipynb --height 6000"],
  notes: ["Needs Debian's jupyter-notebook and chromium; the PNG goes to results/screenshots/."],
});

const values = cli(TASK);

const notebooks = join(PROJECT_ROOT, "notebooks");
const outDir = join(PROJECT_ROOT, "results", "screenshots");
await Deno.mkdir(outDir, { recursive: true });
const out = join(outDir, values.notebook.replace(/\.ipynb$/, ".png"));
const url = `http://127.0.0.1:${values.port}/notebooks/${values.notebook}`;

// An untrusted notebook shows no SVG output (Jupyter's security model); the executed notebook is
// ours, so sign it in the local trust database, as Jupyter does for a notebook its user ran.
// (Debian has no `jupyter trust` command; nbformat's notary is what it calls.)
const sign = "import sys, nbformat; from nbformat.sign import NotebookNotary; " +
  "NotebookNotary().sign(nbformat.read(sys.argv[1], as_version=4))";
const trust = await new Deno.Command("/usr/bin/python3", {
  args: ["-c", sign, join(notebooks, values.notebook)],
  stdout: "null",
  stderr: "piped",
}).output();
if (!trust.success) {
  throw new Error(`signing the notebook failed: ${new TextDecoder().decode(trust.stderr)}`);
}

const server = new Deno.Command("/usr/bin/jupyter", {
  args: [
    "notebook",
    "--no-browser",
    "--allow-root",
    `--port=${values.port}`,
    "--ip=127.0.0.1",
    "--NotebookApp.token=",
    "--NotebookApp.password=",
    `--notebook-dir=${notebooks}`,
  ],
  stdout: "null",
  stderr: "piped",
}).spawn();

try {
  // wait until the server answers
  let up = false;
  for (let i = 0; i < 60 && !up; i++) {
    await new Promise((r) => setTimeout(r, 500));
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      up = res.ok;
    } catch {
      // not up yet
    }
  }
  if (!up) throw new Error(`the notebook server did not answer at ${url}`);
  // under the project's cache/ (the task may write there), not the system temp folder
  const cache = join(PROJECT_ROOT, "cache");
  await Deno.mkdir(cache, { recursive: true });
  const profile = await Deno.makeTempDir({ dir: cache, prefix: "tamflux-chromium-" });
  const shot = await new Deno.Command("/usr/bin/chromium", {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--hide-scrollbars",
      `--user-data-dir=${profile}`,
      `--window-size=1280,${values.height}`,
      "--virtual-time-budget=15000",
      `--screenshot=${out}`,
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(profile, { recursive: true }).catch(() => {});
  if (!shot.success) {
    throw new Error(`chromium failed:\n${new TextDecoder().decode(shot.stderr).slice(-2000)}`);
  }
  const size = (await Deno.stat(out)).size;
  console.log(`${out} (${size} bytes) from ${url}`);
} finally {
  server.kill("SIGTERM");
  await server.status;
}
