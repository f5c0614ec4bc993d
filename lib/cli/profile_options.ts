/**
 * The `--profile` and `--run` options shared by the tasks that run a reproduction profile
 * (reproduce, cluster:slurm, cluster:k8s), declared once so that their help and defaults agree.
 *
 * @module
 */
import { opt } from "./args.ts";

/**
 * `--profile name|path.json` (default quick) and `--run NAME` (default the profile's name).
 *
 * @example
 * ```ts
 * import { cli, defineTask, PROFILE_OPTIONS } from "./mod.ts";
 * const TASK = defineTask({
 *   name: "x", description: "runs a profile", examples: ["deno task x --profile smoke"],
 *   options: { ...PROFILE_OPTIONS },
 * });
 * const { profile, run } = cli(TASK, { args: ["--profile", "smoke"], exit: false });
 * // profile: "smoke", run: undefined (the caller uses the profile's name)
 * ```
 */
export const PROFILE_OPTIONS = {
  profile: opt.string("profile: quick, paper, smoke, ... (configs/profiles/) or a JSON file", {
    arg: "name|path.json",
    default: "quick",
  }),
  run: opt.name("the run folder under results/", { defaultText: "the profile's name" }),
};
