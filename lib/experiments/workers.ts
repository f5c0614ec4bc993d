/**
 * Local worker processes: a pool that runs jobs (each a `deno` command line, e.g. from lib/cli
 * `taskCommandArgs`, so the worker has its task's deno.json permissions) at most `parallel` at a
 * time, prefixes every output line with the job's label, forwards SIGINT/SIGTERM to the running
 * workers and starts no further job after a signal ({@link superviseWorkers}). Workers get stdin
 * as a pipe, so they can leave when the parent dies ({@link exitWithParent}). Used by
 * `deno task reproduce --jobs n` (n identical workers sharing the plan through claims) and
 * `deno task train` (one worker per ensemble member).
 *
 * @module
 */
import { denoExecutable } from "../cli/mod.ts";
import { type SupervisedResult, superviseWorkers } from "./claims.ts";

/** One job of {@link runWorkers}. */
export interface WorkerJob {
  /** The arguments of `deno` (e.g. `["run", ...flags, script, ...args]`). */
  args: string[];
  /** Prefix of its output lines: `[label] ...`. */
  label: string;
}

/** Options of {@link runWorkers}. */
export interface RunWorkersOptions {
  /** Jobs running at once (default: all). */
  parallel?: number;
  /** Working folder of the workers (deno.json's relative --allow-write folders resolve there). */
  cwd: string;
  /** The task named in the message on a signal. */
  task: string;
}

/** How {@link runWorkers} ended: a status per job (null: never started after a signal). */
export interface WorkersResult {
  statuses: (Deno.CommandStatus | null)[];
  signal: SupervisedResult["signal"];
}

/** Copy a worker's stream to `out` line by line, each line prefixed. */
async function prefixLines(
  stream: ReadableStream<Uint8Array>,
  options: { prefix: string; out: (line: string) => void },
): Promise<void> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const l of lines) options.out(`${options.prefix}${l}`);
  }
  if (buf) options.out(`${options.prefix}${buf}`);
}

/**
 * Run `jobs` in worker processes, at most `parallel` at a time, in order; resolves when every
 * started worker has exited.
 *
 * @example
 * ```ts ignore
 * import { taskCommandArgs } from "../cli/mod.ts";
 * const args = await taskCommandArgs("train", ["--config", "c.json", "--seed", "0"], { root });
 * const { statuses, signal } = await runWorkers([{ args, label: "seed0" }], {
 *   parallel: 2, cwd: root, task: "train",
 * });
 * ```
 */
export async function runWorkers(
  jobs: readonly WorkerJob[],
  options: RunWorkersOptions,
): Promise<WorkersResult> {
  const parallel = Math.max(1, Math.min(options.parallel ?? jobs.length, jobs.length));
  const deno = denoExecutable();
  const children: Deno.ChildProcess[] = [];
  const statuses: (Deno.CommandStatus | null)[] = jobs.map(() => null);
  let stopped = false;
  let next = 0;
  const lane = async () => {
    while (!stopped && next < jobs.length) {
      const i = next++;
      const child = new Deno.Command(deno, {
        args: jobs[i].args,
        cwd: options.cwd,
        stdin: "piped", // closes when this process dies: the worker then exits
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      children.push(child);
      const prefix = `[${jobs[i].label}] `;
      const [, , status] = await Promise.all([
        prefixLines(child.stdout, { prefix, out: (l) => console.log(l) }),
        prefixLines(child.stderr, { prefix, out: (l) => console.error(l) }),
        child.status,
      ]);
      statuses[i] = status;
    }
  };
  const pool = Promise.all(Array.from({ length: parallel }, lane)).then(() =>
    statuses.filter((s): s is Deno.CommandStatus => s !== null)
  );
  const { signal } = await superviseWorkers(children, pool, {
    task: options.task,
    onSignal: () => stopped = true,
  });
  return { statuses, signal };
}
