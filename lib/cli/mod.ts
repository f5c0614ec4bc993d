/**
 * The command-line surface of the tasks: option declarations, parsing, help, exit codes
 * (`args.ts`), and the deno.json permissions of a task for its subprocesses
 * (`task_permissions.ts`).
 *
 * @example
 * ```ts
 * import { cli, defineTask, opt } from "./mod.ts";
 * const TASK = defineTask({
 *   name: "x", description: "does x", examples: ["deno task x --seed 1"],
 *   options: { seed: opt.int("seed", { default: 42 }) },
 * });
 * const { seed } = cli(TASK, { args: [], exit: false });
 * ```
 *
 * @module
 */
export * from "./args.ts";
export * from "./task_permissions.ts";
export * from "./profile_options.ts";
