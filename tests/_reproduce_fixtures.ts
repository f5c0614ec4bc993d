/**
 * A minute-scale reproduction profile on real data for the reproduce tests: trees, LSTM and MLP
 * on 12 sites, one epoch, no pretraining (about 25 s with two workers).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { taskCommandArgs } from "../lib/cli/mod.ts";
import { PROJECT_ROOT } from "../lib/data/paths.ts";

/** The 12 sites of the tiny profile. */
export const TINY_SITES = [
  "FR-Pue",
  "AU-Lox",
  "CH-Dav",
  "DE-Tha",
  "US-MMS",
  "IT-Col",
  "BE-Bra",
  "AU-DaS",
  "US-Var",
  "CA-Oas",
  "BR-Sa1",
  "RU-Fyo",
];

/** The unit ids of the tiny profile, sorted. */
export const TINY_UNITS = ["lstm_koppen_s0", "mlp_koppen_s0", "trees_koppen_s0"];

/** Write the tiny profile into `dir` and return its path. */
export async function writeTinyProfile(dir: string): Promise<string> {
  const path = join(dir, "tiny.json");
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      name: "tiny",
      trainConfig: "configs/quick.json",
      treesConfig: "configs/trees.json",
      overrides: {
        data: { sites: TINY_SITES },
        train: { epochs: 1, pretrain: { enabled: false, epochs: 1 } },
      },
      treesOverrides: {
        perTarget: { GPP: { nTrees: 10 }, RECO: { nTrees: 10 }, NEE: { nTrees: 10 } },
      },
      models: ["trees", "lstm", "mlp"],
      splits: ["koppen"],
      seeds: [0],
    }),
  );
  return path;
}

/** A `deno task reproduce` command of a profile and run name, with `extra` arguments. */
export async function reproduceCommand(
  profilePath: string,
  run: string,
  extra: string[],
): Promise<Deno.Command> {
  // `deno run` with the task's own deno.json permissions (not through `deno task`, so that a
  // signal reaches reproduce itself)
  return new Deno.Command(Deno.execPath(), {
    args: await taskCommandArgs("reproduce", ["--profile", profilePath, "--run", run, ...extra], {
      root: PROJECT_ROOT,
    }),
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "piped",
  });
}

/** `reproduce --profile <path> --run <name> --jobs <n> --no-tables`, asserted to succeed. */
export async function reproduceUnits(
  profilePath: string,
  options: { run: string; jobs: number },
): Promise<void> {
  const command = await reproduceCommand(profilePath, options.run, [
    "--jobs",
    String(options.jobs),
    "--no-tables",
  ]);
  const out = await command.output();
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  assert.ok(out.success, `reproduce --jobs ${options.jobs} failed:\n${text.slice(-3000)}`);
}

/** Remove results/<run> for each run name. */
export async function removeRuns(runs: string[]): Promise<void> {
  for (const n of runs) {
    await Deno.remove(join(PROJECT_ROOT, "results", n), { recursive: true }).catch(() => {});
  }
}
