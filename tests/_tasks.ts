/**
 * Running the project's tasks as child processes in tests: `deno task -q <name> ...` from the
 * project root (so with the permissions deno.json gives the task), stderr and stdout collected.
 */
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
