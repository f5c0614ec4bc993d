/**
 * Running the project's tasks as child processes in tests: `deno task -q <name> ...` from the
 * project root (so with the permissions deno.json gives the task), stderr and stdout collected.
 */
import assert from "node:assert/strict";
import { PROJECT_ROOT } from "../lib/data/paths.ts";

/** Run `deno task <task>` with `args`; `text` is stderr followed by stdout. */
export async function runTask(
  task: string,
  args: string[],
): Promise<{ success: boolean; text: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", task, ...args],
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  return { success: out.success, text };
}

/** `deno task reproduce --profile <path> --run <name> --jobs <n> --no-tables`, asserted to succeed. */
export async function reproduceUnits(
  profilePath: string,
  options: { run: string; jobs: number },
): Promise<void> {
  const { success, text } = await runTask("reproduce", [
    "--profile",
    profilePath,
    "--run",
    options.run,
    "--jobs",
    String(options.jobs),
    "--no-tables",
  ]);
  assert.ok(success, `reproduce --jobs ${options.jobs} failed:\n${text.slice(-3000)}`);
}
