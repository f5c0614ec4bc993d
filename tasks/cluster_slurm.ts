/**
 * Writes a profile's reproduction as a Slurm job array and, with `--submit`, submits it.
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
import { join } from "node:path";
import { cli, defineTask, opt, PROFILE_OPTIONS } from "../lib/cli/mod.ts";
import { writeFileAtomic } from "../lib/data/atomic.ts";
import { PROJECT_ROOT } from "../lib/data/paths.ts";
import {
  buildPlan,
  estimatePlan,
  formatDuration,
  loadProfile,
  planWall,
  slurmScripts,
  slurmTime,
  submitSlurm,
  suggestArray,
} from "../lib/experiments/mod.ts";

const TASK = defineTask({
  name: "cluster:slurm",
  description:
    "writes (and with --submit, submits) a profile as a Slurm job array plus a dependent tables job",
  options: {
    ...PROFILE_OPTIONS,
    array: opt.int("array tasks (shards)", { min: 1, defaultText: "suggested by the estimate" }),
    partition: opt.string("Slurm partition", { arg: "NAME" }),
    time: opt.string("time limit of each array task (Slurm format)", {
      arg: "D-HH:MM:SS",
      defaultText: "1.5 x the slowest shard's estimate + 10 min",
    }),
    mem: opt.string("memory per array task (Slurm format, e.g. 4G)", { arg: "M" }),
    submit: opt.flag("submit the array and the tables job with sbatch"),
  },
  examples: [
    "deno task cluster:slurm --profile paper",
    "deno task cluster:slurm --profile smoke --run smoke_slurm --array 2 --submit",
  ],
  notes: [
    "Re-run the same command after a failed or cancelled task: finished units are skipped.",
  ],
});

const values = cli(TASK);
const { profile } = await loadProfile(values.profile, { root: PROJECT_ROOT });
const run = values.run ?? profile.name;
const units = buildPlan(profile);
let tasks = values.array ?? 0;
let time = values.time ?? "";
if (!tasks || !time) {
  const estimate = await estimatePlan(profile, units, { root: PROJECT_ROOT, log: console.log });
  const secs = estimate.units.map((u) => u.seconds);
  const suggested = suggestArray(secs);
  tasks ||= suggested.tasks;
  const shard = planWall(secs, tasks, "shard");
  time ||= slurmTime(Math.ceil((shard * 1.5 + 600) / 60) * 60);
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
  time,
  mem: values.mem,
  partition: values.partition,
  deno: Deno.execPath(),
});
const dir = join(runDir, "slurm");
await Deno.mkdir(dir, { recursive: true });
await Deno.mkdir(join(runDir, "logs"), { recursive: true });
const files = { reproduce: join(dir, "reproduce.sbatch"), tables: join(dir, "tables.sbatch") };
await writeFileAtomic(files.reproduce, scripts.reproduce);
await writeFileAtomic(files.tables, scripts.tables);
console.log(`wrote ${files.reproduce} (${tasks} array tasks, --time ${time}) and ${files.tables}`);
if (values.submit) {
  const ids = await submitSlurm(files, { run });
  console.log(`submitted array job ${ids.array} and tables job ${ids.tables}`);
  console.log(`array job: ${ids.array}`);
  console.log(`tables job: ${ids.tables}`);
} else {
  console.log(
    `submit: jobid=$(sbatch --parsable ${files.reproduce}) && ` +
      `sbatch --dependency=afterok:$jobid ${files.tables}   (or add --submit)`,
  );
}
