/**
 * Writes a profile's reproduction as Kubernetes Jobs (JSON, which kubectl reads as YAML too).
 *
 * Usage:
 *   deno task cluster:k8s --profile P [--run R] [--parallelism N] [--image I] [--pvc NAME]
 *                         [--data-pvc NAME] [--completions N] [--memory 4Gi]
 *
 * Writes `results/<run>/k8s/reproduce.json`, an Indexed Job whose pod i runs
 * `deno task reproduce --profile P --run R --shard $JOB_COMPLETION_INDEX/N --no-tables` with a
 * shared PersistentVolumeClaim at the project's `results/`, and `tables.json`, the Job that
 * merges the finished units. Completions default to the cost estimate's suggestion.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { PROJECT_ROOT } from "../lib/data/paths.ts";
import { buildPlan, loadProfile } from "../lib/eval/mod.ts";
import { measureUnits, suggestArray, summarizeEstimate } from "../lib/experiments/cost.ts";
import { machineMeasurer } from "../lib/experiments/measure.ts";
import { k8sManifests } from "../lib/experiments/k8s.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    profile: { type: "string", default: "quick" },
    run: { type: "string" },
    completions: { type: "string" },
    parallelism: { type: "string" },
    image: { type: "string", default: "tamflux:latest" },
    pvc: { type: "string", default: "tamflux-results" },
    "data-pvc": { type: "string" },
    memory: { type: "string" },
  },
});

const { profile } = await loadProfile(values.profile, { root: PROJECT_ROOT });
const run = values.run ?? profile.name;
const int = (name: string, text: string | undefined) => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, not ${text}`);
    Deno.exit(2);
  }
  return n;
};
const parallelism = int("parallelism", values.parallelism);
let completions = int("completions", values.completions);
if (!completions) {
  const measurer = machineMeasurer({ profile, root: PROJECT_ROOT }, {
    log: (m) => console.log(m),
  });
  const estimate = summarizeEstimate(await measureUnits(buildPlan(profile), measurer));
  completions = suggestArray(estimate.units.map((u) => u.seconds)).tasks;
  console.log(`estimate: ${estimate.coreHours.toFixed(2)} core-hours; ${completions} completions`);
}
const manifests = k8sManifests({
  profile: values.profile,
  run,
  completions,
  parallelism,
  image: values.image,
  pvc: values.pvc,
  dataPvc: values["data-pvc"],
  memory: values.memory,
});
const dir = join(PROJECT_ROOT, "results", run, "k8s");
await Deno.mkdir(dir, { recursive: true });
for (const [name, m] of Object.entries(manifests)) {
  await Deno.writeTextFile(join(dir, `${name}.json`), JSON.stringify(m, null, 2) + "\n");
}
const job = (manifests.reproduce.metadata as { name: string }).name;
console.log(`wrote ${join(dir, "reproduce.json")} (${completions} completions) and tables.json`);
console.log(
  `kubectl apply -f ${join(dir, "reproduce.json")} && ` +
    `kubectl wait --for=condition=complete --timeout=-1s job/${job} && ` +
    `kubectl apply -f ${join(dir, "tables.json")}`,
);
