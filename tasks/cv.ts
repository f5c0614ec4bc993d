/**
 * Site-level k-fold cross-validation: every site is a test site once (lib/experiments/cv.ts).
 *
 * Usage:
 *   deno task cv --config configs/cv/<name>.json [--folds 5] [--run <name>] [--jobs n]
 *                [--shard i/n] [--dry-run] [--tables-only]
 *
 * The CV config becomes a reproduction profile with one split per fold (`cv<i>of<k>`), written to
 * `results/<run>/cv_profile.json`, and runs through `deno task reproduce` (its own process, with
 * reproduce's permissions): the same units, claims, workers, shards and resumption. When every
 * unit is done the CV tables are written to `results/<run>/tables/` (cv_summary, cv_vs_trees,
 * cv_candidates, cv_sites, cv_bias, cv_bias_worst; the map in `figures/cv_bias_map`; cv_epochs.csv:
 * each neural unit's best epoch, lib/experiments/cv_epochs.ts) and the comparison with the trees and
 * the best epochs are printed.
 *
 * @module
 */
import { dirname, join } from "node:path";
import {
  cli,
  defineTask,
  denoExecutable,
  opt,
  taskCommandArgs,
  usageError,
} from "../lib/cli/mod.ts";
import { writeFileAtomic, writeJsonAtomic } from "../lib/data/atomic.ts";
import { PROJECT_ROOT, resolveDataDir } from "../lib/data/paths.ts";
import { loadSites } from "../lib/data/sites.ts";
import {
  buildPlan,
  missingUnits,
  profileExtension,
  SHARD_OPTION,
  superviseWorkers,
} from "../lib/experiments/mod.ts";
import { buildCvReport, cvProfile, describeVsTrees, loadCvConfig } from "../lib/experiments/cv.ts";
import { bestEpochs, cvEpochsCsv, describeBestEpochs } from "../lib/experiments/cv_epochs.ts";
import { configHash, readJson } from "../lib/train/runs.ts";

const TASK = defineTask({
  name: "cv",
  description: "site-level k-fold cross-validation of the trees, TAM-RL and TAM-RL candidates",
  options: {
    config: opt.string("the CV config (configs/cv/)", { arg: "path.json", required: true }),
    folds: opt.int("number of folds", { min: 2, defaultText: "the config's folds (5)" }),
    run: opt.name("the run folder under results/", { defaultText: "cv_<config name>" }),
    jobs: opt.int("local worker processes sharing the units", {
      min: 1,
      defaultText: "one per core",
    }),
    shard: SHARD_OPTION,
    "dry-run": opt.flag("list the units with their estimated cost, and stop (writes nothing)"),
    "no-estimate": opt.flag("with --dry-run: list the units only, without the cost estimate"),
    "tables-only": opt.flag("only write the CV tables from the finished units"),
  },
  examples: [
    "deno task cv --config configs/cv/final.json --folds 5",
    "deno task cv --config configs/cv/screen.json --jobs 2",
    "deno task cv --config configs/cv/final.json --shard 0/4",
  ],
  notes: [
    "Finished units are skipped, so running again resumes. Results go to results/<run>/.",
  ],
});

const values = cli(TASK);
if (values["no-estimate"] && !values["dry-run"]) {
  usageError(TASK, "--no-estimate goes with --dry-run (it would be ignored)");
}
if (values.shard && values.jobs) usageError(TASK, "--jobs and --shard exclude each other");
const config = await loadCvConfig(values.config);
const folds = values.folds ?? config.folds;
const run = values.run ?? `cv_${config.name}`;
const runDir = join(PROJECT_ROOT, "results", run);
const profile = cvProfile(config, { folds });
const units = buildPlan(profile);
console.log(
  `cv ${config.name} (${values.config}): ${folds} folds, ${units.length} units -> ${runDir}`,
);

// The run folder belongs to one CV config and fold count (reproduce checks profile.json too).
const runProfilePath = join(runDir, "cv_profile.json");
let current = false; // the folder already holds this profile
try {
  const previous = await readJson(runProfilePath);
  current = (await configHash(previous)) === (await configHash(profile));
  if (!current) {
    // a CV that only gained units (a candidate, seeds) goes on in the same folder
    const added = await profileExtension(previous, profile);
    if (!added) {
      console.error(
        `${runProfilePath} holds another CV (it changes or drops units of the run: config or ` +
          `--folds differ); use another --run or remove ${runDir}`,
      );
      Deno.exit(2);
    }
    console.log(`${values.config} adds ${added.length} unit(s) to ${run}: ${added.join(", ")}`);
  }
} catch (e) {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}
// A dry run only looks: the run folder is left untouched.
const dryRun = values["dry-run"];
if (!dryRun && !current) await writeJsonAtomic(runProfilePath, profile);

if (!values["tables-only"]) {
  // a dry run's reproduce reads the profile from a temporary file, removed when it ends
  const profilePath = dryRun
    ? join(PROJECT_ROOT, "results", `.cv_dry_run_${Deno.pid}.json`)
    : runProfilePath;
  if (dryRun) {
    await Deno.mkdir(dirname(profilePath), { recursive: true });
    await writeJsonAtomic(profilePath, profile);
  }
  const args = ["--profile", profilePath, "--run", run, "--no-tables"];
  if (values.jobs) args.push("--jobs", String(values.jobs));
  if (values.shard) args.push("--shard", `${values.shard.index}/${values.shard.count}`);
  if (dryRun) args.push("--dry-run");
  if (values["no-estimate"]) args.push("--no-estimate");
  const child = new Deno.Command(denoExecutable(), {
    args: await taskCommandArgs("reproduce", args, { root: PROJECT_ROOT }),
    cwd: PROJECT_ROOT,
    stdin: "piped",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const { statuses, signal } = await superviseWorkers([child], child.status.then((s) => [s]));
  if (dryRun) await Deno.remove(profilePath).catch(() => {});
  if (signal) Deno.exit(signal === "SIGINT" ? 130 : 143);
  // a dry run or one shard ends here; the tables need every unit of every shard
  if (dryRun || values.shard) Deno.exit(statuses[0].code);
}

const missing = await missingUnits(units, runDir);
if (missing.length) {
  console.error(
    `cv: ${units.length - missing.length} of ${units.length} units are done; no CV tables are ` +
      `written. Missing: ${missing.join(", ")}. Run again to resume.`,
  );
  Deno.exit(1);
}
const report = await buildCvReport(runDir, {
  sites: await loadSites(resolveDataDir().sitesCsv),
  config,
});
console.log(`wrote ${report.tables.length} table files to ${join(runDir, "tables")}`);
console.log(`\n${await Deno.readTextFile(join(runDir, "tables", "cv_summary.md"))}`);
if (report.vsTrees.length) {
  console.log(`${config.reference} - trees (site-level CV, ${report.foldOf.size} sites):`);
  for (const line of describeVsTrees(report.vsTrees)) console.log(`  ${line}`);
}
// each neural unit's best validation epoch: the fixed epoch count of a training without validation
const epochs = await bestEpochs(runDir);
if (epochs.length) {
  await writeFileAtomic(join(runDir, "tables", "cv_epochs.csv"), cvEpochsCsv(epochs));
  console.log(`\nBest epoch of the final stage per unit (tables/cv_epochs.csv):`);
  for (const line of describeBestEpochs(epochs)) console.log(`  ${line}`);
}
