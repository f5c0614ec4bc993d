/**
 * `deno task predict --run <run or ensemble folder> --data <folder of FLUXNET2015-style DD files>
 *   --sites <sites.csv> --out <file.csv|.parquet> [--monthly <metaflux folder>] [--only A,B]
 *   [--seed N] [--report <file.json>] [--weights best] [--training-sites <sites.csv>]
 *   [--backend wasm|cpu]`
 *
 * Zero-shot daily GPP, RECO and NEE (ensemble mean, GPP/RECO clipped at 0) with ensemble standard
 * deviations and a status for every day of every input file (see lib/predict). Every input is
 * validated first; the output is written atomically at the end, so nothing partial is left on
 * error. Progress goes to stderr.
 */
import { parseArgs } from "node:util";
import { useBackend } from "../lib/backend.ts";
import {
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
  "[--backend wasm|cpu]";

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
  outputFormat(out); // fail on a bad extension before any work
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
