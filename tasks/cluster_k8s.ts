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
import { join } from "node:path";
import { cli, defineTask, opt, PROFILE_OPTIONS } from "../lib/cli/mod.ts";
import { writeFileAtomic } from "../lib/data/atomic.ts";
import { PROJECT_ROOT } from "../lib/data/paths.ts";
import {
  buildPlan,
  estimatePlan,
  k8sManifests,
  loadProfile,
  suggestArray,
} from "../lib/experiments/mod.ts";

const TASK = defineTask({
  name: "cluster:k8s",
  description: "writes a profile as a Kubernetes Indexed Job plus a tables Job",
  options: {
    ...PROFILE_OPTIONS,
    completions: opt.int("indexes (shards) of the Indexed Job", {
      min: 1,
      defaultText: "suggested by the estimate",
    }),
    parallelism: opt.int("pods running at once", { min: 1, defaultText: "= completions" }),
    image: opt.string("container image with deno and the project", { default: "tamflux:latest" }),
    pvc: opt.string("PersistentVolumeClaim mounted at results/", { default: "tamflux-results" }),
    "data-pvc": opt.string("PersistentVolumeClaim with the data folder (as TAMFLUX_DATA)", {
      arg: "NAME",
    }),
    memory: opt.string("memory request and limit per pod (e.g. 4Gi)", { arg: "M" }),
  },
  examples: ["deno task cluster:k8s --profile paper --completions 40 --image registry/tamflux:1"],
});

const values = cli(TASK);
const { profile } = await loadProfile(values.profile, { root: PROJECT_ROOT });
const run = values.run ?? profile.name;
let completions = values.completions;
if (!completions) {
  const estimate = await estimatePlan(profile, buildPlan(profile), {
    root: PROJECT_ROOT,
    log: console.log,
  });
  completions = suggestArray(estimate.units.map((u) => u.seconds)).tasks;
  console.log(`estimate: ${estimate.coreHours.toFixed(2)} core-hours; ${completions} completions`);
}
const manifests = k8sManifests({
  profile: values.profile,
  run,
  completions,
  parallelism: values.parallelism,
  image: values.image,
  pvc: values.pvc,
  dataPvc: values["data-pvc"],
  memory: values.memory,
});
const dir = join(PROJECT_ROOT, "results", run, "k8s");
await Deno.mkdir(dir, { recursive: true });
for (const [name, m] of Object.entries(manifests)) {
  await writeFileAtomic(join(dir, `${name}.json`), JSON.stringify(m, null, 2) + "\n");
}
const job = (manifests.reproduce.metadata as { name: string }).name;
console.log(`wrote ${join(dir, "reproduce.json")} (${completions} completions) and tables.json`);
console.log(
  `kubectl apply -f ${join(dir, "reproduce.json")} && ` +
    `kubectl wait --for=condition=complete --timeout=-1s job/${job} && ` +
    `kubectl apply -f ${join(dir, "tables.json")}`,
);
