/**
 * The permissions a task is granted in deno.json, for a task that starts Deno subprocesses
 * (reproduce's workers, reproduce --fetch running data:fetch): the subprocess gets exactly the
 * permissions of its task's deno.json entry, so deno.json stays the one place they are written.
 *
 * @module
 */
import { join } from "node:path";

/** A task entry of deno.json: a command string, or `{ command, description }` (Deno 2). */
type TaskEntry = string | { command?: string; description?: string };

/**
 * Reads deno.json's tasks: name -> { command, description }.
 *
 * @example
 * ```ts
 * import { readTasks } from "./task_permissions.ts";
 * const tasks = await readTasks(".");
 * console.log(tasks.reproduce.description);
 * ```
 */
export async function readTasks(
  root: string,
): Promise<Record<string, { command: string; description?: string }>> {
  const json = JSON.parse(await Deno.readTextFile(join(root, "deno.json"))) as {
    tasks?: Record<string, TaskEntry>;
  };
  const out: Record<string, { command: string; description?: string }> = {};
  for (const [name, entry] of Object.entries(json.tasks ?? {})) {
    out[name] = typeof entry === "string"
      ? { command: entry }
      : { command: entry.command ?? "", description: entry.description };
  }
  return out;
}

/**
 * The `deno run` flags and the script of a task's (last) `deno run` command in deno.json.
 *
 * @example
 * ```ts
 * import { taskRunArgs } from "./task_permissions.ts";
 * const { flags, script } = await taskRunArgs("data:fetch", { root: "." });
 * // flags: ["--no-prompt", "--allow-read", ...], script: "tasks/data_fetch.ts"
 * ```
 */
export async function taskRunArgs(
  task: string,
  options: { root: string },
): Promise<{ flags: string[]; script: string }> {
  const entry = (await readTasks(options.root))[task];
  if (!entry) throw new Error(`deno.json has no task "${task}"`);
  const runs = entry.command.split("&&").map((c) => c.trim().split(/\s+/));
  const run = runs.reverse().find((words) => words[0] === "deno" && words[1] === "run");
  if (!run) throw new Error(`deno.json task "${task}" has no "deno run" command`);
  const rest = run.slice(2);
  const at = rest.findIndex((w) => !w.startsWith("-"));
  if (at < 0) throw new Error(`deno.json task "${task}": no script after "deno run"`);
  return { flags: rest.slice(0, at), script: join(options.root, rest[at]) };
}

/**
 * The arguments of `deno` that run a task's script with its own deno.json permissions, followed by
 * `args`: `["run", ...flags, script, ...args]`. For subprocesses that must run as the task would
 * (reproduce's workers, reproduce --fetch, tests that send signals to reproduce itself).
 *
 * @example
 * ```ts
 * import { taskCommandArgs } from "./task_permissions.ts";
 * const args = await taskCommandArgs("reproduce", ["--profile", "smoke"], { root: "." });
 * // ["run", "--no-prompt", ..., "<root>/tasks/reproduce.ts", "--profile", "smoke"]
 * ```
 */
export async function taskCommandArgs(
  task: string,
  args: readonly string[],
  options: { root: string },
): Promise<string[]> {
  const { flags, script } = await taskRunArgs(task, options);
  return ["run", ...flags, script, ...args];
}

/**
 * The Deno executable to start subprocesses with: `Deno.execPath()` when this process may run
 * it, else `deno` from PATH (`--allow-run=deno` resolves the name through PATH, which may be a
 * symlink to the executable rather than its path).
 *
 * @example
 * ```ts
 * import { denoExecutable } from "./task_permissions.ts";
 * new Deno.Command(denoExecutable(), { args: ["--version"] });
 * ```
 */
export function denoExecutable(): string {
  const exec = Deno.execPath();
  return Deno.permissions.querySync({ name: "run", command: exec }).state === "granted"
    ? exec
    : "deno";
}
