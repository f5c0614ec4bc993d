/**
 * Writes a profile's reproduction as a Slurm job array and, with `--submit`, submits it.
 *
 * Usage:
 *   deno task cluster:slurm --profile P [--run R] [--array N] [--partition X] [--time T]
 *                           [--mem M] [--submit]
 *
 * Writes `results/<run>/slurm/reproduce.sbatch` (N array tasks, task i running
 * `deno task reproduce --profile P --run R --shard i/N --no-tables` on one CPU, logging to
 * `results/<run>/logs/`) and `tables.sbatch`. `--submit` calls `sbatch --parsable` for the array,
 * then for the tables job with `--dependency=afterok:<array>`, and prints both job ids. Without
 * `--array` and `--time`, the cost estimate (lib/experiments/cost.ts) suggests them. Re-running
 * the same command after a failed, cancelled or pre-empted task runs the unfinished units again.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { PROJECT_ROOT } from "../lib/data/paths.ts";
import { buildPlan, loadProfile } from "../lib/eval/mod.ts";
import {
  formatDuration,
  measureUnits,
  planWall,
  slurmTime,
  suggestArray,
  summarizeEstimate,
} from "../lib/experiments/cost.ts";
import { machineMeasurer } from "../lib/experiments/measure.ts";
import { slurmScripts, submitSlurm } from "../lib/experiments/slurm.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    profile: { type: "string", default: "quick" },
    run: { type: "string" },
    array: { type: "string" },
    partition: { type: "string" },
    time: { type: "string" },
    mem: { type: "string" },
    submit: { type: "boolean", default: false },
  },
});

const { profile } = await loadProfile(values.profile, { root: PROJECT_ROOT });
const run = values.run ?? profile.name;
const units = buildPlan(profile);
let tasks = values.array ? Number(values.array) : 0;
if (values.array && (!Number.isInteger(tasks) || tasks < 1)) {
  console.error(`--array must be a positive integer, not ${values.array}`);
  Deno.exit(2);
}
let time = values.time;
if (!tasks || !time) {
  const measurer = machineMeasurer({ profile, root: PROJECT_ROOT }, {
    log: (m) => console.log(m),
  });
  const estimate = summarizeEstimate(await measureUnits(units, measurer));
  const secs = estimate.units.map((u) => u.seconds);
  const suggested = suggestArray(secs);
  tasks ||= suggested.tasks;
  const shard = planWall(secs, tasks, "shard");
  time ??= slurmTime(Math.ceil((shard * 1.5 + 600) / 60) * 60);
  console.log(
    `estimate: ${units.length} units, ${estimate.coreHours.toFixed(2)} core-hours; ` +
      `${tasks} tasks (suggested ${suggested.tasks}), slowest shard ~${formatDuration(shard)}, ` +
      `--time ${time}`,
  );
}
const runDir = join(PROJECT_ROOT, "results", run);
const scripts = slurmScripts({
  root: PROJECT_ROOT,
  profile: values.profile,
  run,
  tasks,
  time: time!,
  mem: values.mem,
  partition: values.partition,
  deno: Deno.execPath(),
});
const dir = join(runDir, "slurm");
await Deno.mkdir(dir, { recursive: true });
await Deno.mkdir(join(runDir, "logs"), { recursive: true });
const files = { reproduce: join(dir, "reproduce.sbatch"), tables: join(dir, "tables.sbatch") };
await Deno.writeTextFile(files.reproduce, scripts.reproduce);
await Deno.writeTextFile(files.tables, scripts.tables);
console.log(`wrote ${files.reproduce} (${tasks} array tasks, --time ${time}) and ${files.tables}`);
if (values.submit) {
  try {
    const ids = await submitSlurm(files, { run });
    console.log(`submitted array job ${ids.array} and tables job ${ids.tables}`);
    console.log(`array job: ${ids.array}`);
    console.log(`tables job: ${ids.tables}`);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
} else {
  console.log(
    `submit: jobid=$(sbatch --parsable ${files.reproduce}) && ` +
      `sbatch --dependency=afterok:$jobid ${files.tables}   (or add --submit)`,
  );
}
