/**
 * Runs the reproduction plan of a profile into `results/<run>/` and, when every unit has
 * finished, writes the tables and figures (as `deno task tables` does).
 *
 * Usage:
 *   deno task reproduce [--profile quick|paper|<path.json>] [--run <name>] [--shard i/n]
 *                       [--jobs n] [--dry-run [--no-estimate]] [--no-tables] [--no-figures]
 *                       [--fetch]
 *
 * - `--shard i/n` (0-based i) runs every n-th unit starting at i: give each machine of a batch
 *   engine one shard (e.g. Slurm `--shard $SLURM_ARRAY_TASK_ID/$N`, Kubernetes
 *   `--shard $JOB_COMPLETION_INDEX/$N`) over a shared results folder, then `deno task tables`.
 * - `--jobs n` runs n local worker processes that share the plan as a work queue (each claims a
 *   unit before running it; the costliest units go first); the default is one per core. TF.js wasm is single-threaded, so on a
 *   2-core machine `--jobs 2` about halves the wall time. Then the tables are written.
 * - `--dry-run` lists the units (done or to do) and the estimated cost of each and of the plan, in
 *   core-hours and wall time with `--jobs n` workers or as n shards (lib/experiments/cost.ts;
 *   its measurements are cached in `cache/cost/`); `--no-estimate` lists the units only.
 * - Finished units (with `done.json`) are skipped, so re-running resumes after a crash.
 * - Every unit is claimed first (`results/<run>/.claims/<unit-id>`: PID, host, heartbeat; see
 *   lib/experiments/claims.ts): a unit that a live process runs is left alone, a dead claim is taken over.
 *   SIGINT/SIGTERM are forwarded to the workers, and workers exit when their parent dies.
 * - Tables are written only when every unit of the plan is done; otherwise the run exits 1 and
 *   names the missing units.
 * - When no data folder is found it says what to download; `--fetch` first builds the data from
 *   the public FLUXNET2015 Zarr store into `data/` (`deno task data:fetch`).
 *
 * @module
 */
import { join } from "node:path";
import {
  cli,
  defineTask,
  denoExecutable,
  opt,
  PROFILE_OPTIONS,
  taskCommandArgs,
  usageError,
} from "../lib/cli/mod.ts";
import { PROJECT_ROOT, resolveDataDir } from "../lib/data/paths.ts";
import { loadSites } from "../lib/data/sites.ts";
import { configHash, readJson, writeJson } from "../lib/train/runs.ts";
import {
  buildPlan,
  buildReport,
  finishedUnits,
  loadProfile,
  missingUnits,
  profileExtension,
  runPlan,
  SHARD_OPTION,
  shardUnits,
} from "../lib/experiments/mod.ts";
import { createUnitRunner } from "../lib/experiments/units.ts";
import { treesUnit } from "../lib/experiments/trees_unit.ts";
import { estimateLines } from "../lib/experiments/cost.ts";
import { estimatePlan } from "../lib/experiments/measure.ts";
import { exitWithParent } from "../lib/experiments/claims.ts";
import { runWorkers } from "../lib/experiments/workers.ts";

const TASK = defineTask({
  name: "reproduce",
  description: "the paper's tables and figures, resumable",
  options: {
    ...PROFILE_OPTIONS,
    shard: SHARD_OPTION,
    jobs: opt.int("local worker processes sharing the plan", {
      min: 1,
      defaultText: "one per core; 1 with --shard",
    }),
    "dry-run": opt.flag("list the units (done or todo) with their estimated cost, and stop"),
    "no-estimate": opt.flag("with --dry-run: list the units only, without the cost estimate"),
    "no-tables": opt.flag("do not write tables and figures at the end"),
    "no-figures": opt.flag("write tables but no figures"),
    fetch: opt.flag("when no data folder is found, run `deno task data:fetch` first"),
    /** Internal: a worker of `--jobs`, claiming units from `results/<run>/.claims/`. */
    worker: opt.flag("internal: one worker of --jobs", { hidden: true }),
  },
  examples: [
    "deno task reproduce",
    "deno task reproduce --profile smoke --run smoke_test --jobs 2",
    "deno task reproduce --profile paper --shard 0/4",
  ],
  notes: [
    "Finished units are skipped, so running again resumes. Results go to results/<run>/.",
  ],
});

const values = cli(TASK);
if (values["no-estimate"] && !values["dry-run"]) {
  usageError(TASK, "--no-estimate goes with --dry-run (it would be ignored)");
}
// a worker leaves as soon as its parent is gone (stdin is a pipe from the parent)
if (values.worker) exitWithParent();

/** Rough relative cost of a unit, for the order of the work queue (costliest first). */
function unitCost(u: { model: string; variant: string | null }): number {
  if (u.model === "tamrl") return u.variant === "no_pretrain" ? 3 : 4;
  if (u.model === "tamlstm" || u.model === "ctlstm" || u.model === "lstm") return 2;
  return 1;
}

function loadAverage(): string {
  try {
    return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  } catch {
    return "unknown";
  }
}

const t0 = performance.now();

// The data first: without them nothing below can run, so say what to do (or fetch them).
try {
  resolveDataDir();
} catch (error) {
  if (!values.fetch || values.worker) {
    console.error((error as Error).message);
    console.error("\nOr run `deno task reproduce --fetch` to fetch the data first.");
    Deno.exit(1);
  }
  console.log("no data folder found: fetching the public FLUXNET2015 Zarr store into data/ ...");
  // data:fetch in its own process with its own deno.json permissions: only it has the network
  const status = await new Deno.Command(denoExecutable(), {
    args: await taskCommandArgs("data:fetch", [], { root: PROJECT_ROOT }),
    cwd: PROJECT_ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) {
    console.error("the fetch did not complete; see the lines above, then run again");
    Deno.exit(1);
  }
}
const { profile, path: profilePath } = await loadProfile(values.profile, { root: PROJECT_ROOT });
const run = values.run ?? profile.name;
const runDir = join(PROJECT_ROOT, "results", run);
const units = buildPlan(profile);
const shard = values.shard ?? null;
// default: one worker process per core (each is single-threaded), one when sharding or a worker
const jobs = values.jobs ??
  (shard || values.worker ? 1 : Math.max(1, navigator.hardwareConcurrency ?? 1));
if (shard && jobs > 1) usageError(TASK, "--jobs and --shard exclude each other");
const mine = shard
  ? shardUnits(units, shard)
  : values.worker
  ? [...units].sort((a, b) => unitCost(b) - unitCost(a))
  : units;
const claimDir = join(PROJECT_ROOT, "results", run, ".claims");

console.log(
  `profile ${profile.name} (${profilePath}): ${units.length} units` +
    (shard ? `, shard ${shard.index}/${shard.count}: ${mine.length} units` : "") +
    ` -> ${runDir}`,
);
if (values["dry-run"]) {
  const done = new Set((await finishedUnits(runDir)).map((d) => d.unit.id));
  for (const u of mine) console.log(`  ${done.has(u.id) ? "done" : "todo"}  ${u.id}`);
  if (!values["no-estimate"]) {
    // cost of the units of this shard (or plan), from measured step times (cached in cache/cost/)
    const estimate = await estimatePlan(profile, mine, { root: PROJECT_ROOT, log: console.log });
    for (const line of estimateLines(estimate, { workers: jobs })) console.log(line);
  }
  Deno.exit(0);
}

// The run folder belongs to one profile: refuse to mix units of different profiles.
const profileFile = join(runDir, "profile.json");
const hash = await configHash(profile);
try {
  const previous = await readJson(profileFile);
  if ((await configHash(previous)) !== hash) {
    const added = await profileExtension(previous, profile);
    if (!added) {
      console.error(
        `${profileFile} holds a different profile than ${profilePath} (it changes or drops ` +
          `units of the run); use another --run name or remove ${runDir}`,
      );
      Deno.exit(2);
    }
    console.log(
      `${profileFile}: ${profilePath} adds ${added.length} unit(s) to the run; ` +
        `its finished units are kept`,
    );
    await writeJson(profileFile, profile);
  }
} catch (e) {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
  await writeJson(profileFile, profile);
}

let failed = 0;
if (jobs > 1) {
  // n local worker processes sharing the plan as a work queue; output prefixed by the worker.
  // Claims are never wiped: a live claim is another process's running unit, a dead one is taken
  // over by the workers.
  // the workers get this task's deno.json permissions (deno.json is their one source)
  const workerArgs = await taskCommandArgs(
    "reproduce",
    ["--profile", profilePath, "--run", run, "--worker", "--no-tables"],
    { root: PROJECT_ROOT },
  );
  const { statuses, signal } = await runWorkers(
    Array.from(
      { length: jobs },
      (_, i) => ({ args: workerArgs, label: `worker ${i + 1}/${jobs}` }),
    ),
    { cwd: PROJECT_ROOT, task: "reproduce" }, // deno.json's --allow-write folders are relative to it
  );
  if (signal) {
    console.error(
      `reproduce: interrupted by ${signal}; the workers have stopped. Run again to resume.`,
    );
    Deno.exit(signal === "SIGINT" ? 130 : 143);
  }
  failed = statuses.filter((s) => !s?.success).length;
} else {
  const report = await runPlan(mine, {
    runDir,
    runner: createUnitRunner({ profile, root: PROJECT_ROOT }, { trees: treesUnit }),
    claimDir,
  });
  failed = report.failed.length;
  console.log(
    `units: ${report.ran.length} ran, ${report.skipped.length} skipped (done before), ` +
      (report.claimedElsewhere.length
        ? `${report.claimedElsewhere.length} claimed by other live processes, `
        : "") +
      `${report.failed.length} failed; ${report.wallSeconds.toFixed(1)} s`,
  );
  for (const f of report.failed) console.log(`FAILED ${f.id}: ${f.error.split("\n")[0]}`);
}

const done = await finishedUnits(runDir);
const missing = await missingUnits(units, runDir);
if (values.worker) Deno.exit(failed ? 1 : 0); // the stdin watch would keep a worker alive
if (!values["no-tables"] && !shard && missing.length > 0) {
  console.error(
    `reproduce: ${done.length} of ${units.length} units are done; no tables are written. ` +
      `Missing: ${missing.join(", ")}. Run again to resume (units claimed by a live process ` +
      `are left to it).`,
  );
  Deno.exit(1);
}
if (!values["no-tables"] && !shard) {
  const sites = await loadSites(resolveDataDir().sitesCsv);
  const out = await buildReport(runDir, {
    sites,
    profile,
    figures: !values["no-figures"],
    xbaseDir: resolveDataDir().xbaseMonthly,
  });
  console.log(`wrote ${out.tables.length} table files and ${out.figures.length} figure files`);
  for (const split of Object.keys(out.main)) {
    console.log(`\n${await Deno.readTextFile(join(runDir, "tables", `main_${split}.md`))}`);
    if (out.significance[split]) {
      console.log(`Significance, ${split} split: ${out.significance[split]}\n`);
    }
    try {
      console.log(await Deno.readTextFile(join(runDir, "tables", `ablation_${split}.md`)));
    } catch {
      // no ablation units in this split
    }
  }
} else if (shard && !values.worker) {
  console.log(
    `shard ${shard.index}/${shard.count} finished its units; ${done.length} of ${units.length} ` +
      `units of the plan are done. When all shards are done: deno task tables --run ${run}`,
  );
}
console.log(
  `wall time ${((performance.now() - t0) / 1000 / 60).toFixed(1)} min ` +
    `(load average ${loadAverage()})`,
);
if (failed) Deno.exit(1);
