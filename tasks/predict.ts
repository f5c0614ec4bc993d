/**
 * `deno task predict --run <run or ensemble folder> --data <folder of FLUXNET2015-style DD files>
 *   --sites <sites.csv> --out <file.csv|.parquet> [--monthly <metaflux folder>] [--only A,B]
 *   [--seed N] [--report <file.json>] [--weights best] [--training-sites <sites.csv>]
 *   [--backend wasm|cpu] [--allow-empty]`
 *
 * Zero-shot daily GPP, RECO and NEE (ensemble mean, GPP/RECO clipped at 0) with ensemble standard
 * deviations and a status for every day of every input file (see lib/predict). Every input is
 * validated first; an `--out` (or `--report`) that is an input, lies inside an input folder or is
 * a folder is refused before any work. The output is written atomically at the end, so nothing
 * partial is left on error. A site with no day predicted is an error naming the site and why
 * (nothing is written), unless `--allow-empty` (then a warning). Progress goes to stderr.
 */
import { parseArgs } from "node:util";
import { useBackend } from "../lib/backend.ts";
import {
  checkOutputPath,
  emptySites,
  ensembleMembers,
  loadEnsemble,
  outputFormat,
  predictSites,
  writePredictionTable,
} from "../lib/predict/mod.ts";
import { readJson, writeJson } from "../lib/train/runs.ts";

const USAGE =
  "usage: deno task predict --run <run or ensemble folder> --data <folder of DD files> " +
  "--sites <sites.csv> --out <file.csv|.parquet> [--monthly <metaflux folder>] [--only SITE,SITE] " +
  "[--seed N] [--report <file.json>] [--weights best] [--training-sites <sites.csv>] " +
  "[--backend wasm|cpu] [--allow-empty]";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    run: { type: "string", multiple: true },
    data: { type: "string" },
    sites: { type: "string" },
    out: { type: "string" },
    monthly: { type: "string" },
    only: { type: "string" },
    seed: { type: "string" },
    report: { type: "string" },
    weights: { type: "string" },
    "training-sites": { type: "string" },
    backend: { type: "string" },
    "allow-empty": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const fail = (message: string, code = 2): never => {
  console.error(`predict: ${message}`);
  Deno.exit(code);
};
for (const k of ["run", "data", "sites", "out"] as const) {
  if (!values[k] || values[k]!.length === 0) fail(`--${k} is required\n${USAGE}`);
}
const seed = values.seed === undefined ? 0 : Number(values.seed);
if (!Number.isInteger(seed) || seed < 0) fail(`--seed must be a non-negative integer`);
if (values.backend && values.backend !== "wasm" && values.backend !== "cpu") {
  fail(`--backend must be wasm or cpu`);
}

try {
  const out = values.out!;
  outputFormat(out); // fail on a bad extension, or an output that is an input, before any work
  const inputs = {
    files: [values.sites!, values["training-sites"], values.report].filter((f) => f !== undefined),
    folders: [values.data!, values.monthly, ...values.run!].filter((f) => f !== undefined),
  };
  checkOutputPath(out, { flag: "--out", ...inputs });
  if (values.report) {
    checkOutputPath(values.report, {
      flag: "--report",
      files: [...inputs.files.filter((f) => f !== values.report), out],
      folders: inputs.folders,
    });
  }
  const t0 = performance.now();
  const members = await ensembleMembers(values.run!);
  const saved = await readJson(`${members[0]}/config.json`) as { backend?: string };
  const backend = await useBackend(
    (values.backend ?? (saved.backend === "cpu" ? "cpu" : "wasm")) as "wasm" | "cpu",
  );
  const ensemble = await loadEnsemble(members, {
    weights: values.weights,
    trainingSites: values["training-sites"],
  });
  console.error(`predict: backend ${backend}; members ${members.join(", ")}`);
  try {
    const { frame, report } = await predictSites(ensemble, {
      data: values.data!,
      sites: values.sites!,
      monthly: values.monthly,
      only: values.only ? values.only.split(",").map((s) => s.trim()).filter(Boolean) : undefined,
      seed,
      onProgress: (line) => console.error(line),
    });
    const empty = emptySites(report);
    if (empty.length > 0 && !values["allow-empty"]) {
      fail(
        `${empty.join("\n")}\nnothing written; fix the inputs, or pass --allow-empty to write ` +
          `the table anyway`,
        1,
      );
    }
    for (const line of empty) console.error(`predict: WARNING (--allow-empty): ${line}`);
    await writePredictionTable(frame, out);
    const seconds = (performance.now() - t0) / 1000;
    if (values.report) await writeJson(values.report, { ...report, wallSeconds: seconds });
    const t = report.total;
    console.error(
      `predict: ${t.predicted}/${t.days} days predicted (${(100 * t.share).toFixed(1)}%) at ` +
        `${report.sites.length} site(s) -> ${out}; ${seconds.toFixed(1)} s`,
    );
  } finally {
    ensemble.dispose();
  }
} catch (error) {
  fail((error as Error).message, 1);
}
