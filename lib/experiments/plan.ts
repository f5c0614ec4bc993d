/**
 * The reproduction plan: independent units (model x split x seed, plus TAM-RL ablation variants),
 * each run into its own folder `results/<run>/units/<unit-id>/` that ends with a `done.json`
 * marker written atomically last. A unit with a marker is skipped on a re-run, so a crashed run
 * resumes where it stopped; a folder without a marker is a leftover of an interrupted attempt and
 * is cleared before the unit runs again. `--shard i/n` (0-based i) takes every n-th unit, so n
 * machines of a batch engine (a Slurm array, a Kubernetes indexed job) can share one plan.
 *
 * @module
 */
import { z } from "zod";
import { join } from "node:path";
import { ALL_MODELS } from "../models/names.ts";
import { mergePatch } from "../train/merge_patch.ts";
import { atomicWrite, configHash, readJson } from "../train/runs.ts";
import { type ClaimTiming, claimUnit, type HeldClaim } from "./claims.ts";
import { opt } from "../cli/args.ts";

/** Model kinds a unit can train: the neural models and the trees baseline. */
export const UNIT_MODELS = ALL_MODELS;
/** One model kind. */
export type UnitModel = typeof UNIT_MODELS[number];

/** The site-holdout splits. */
export const SPLIT_KINDS = ["koppen", "igbp"] as const;
/** One split kind. */
export type SplitKind = typeof SPLIT_KINDS[number];

/**
 * The split of a unit: a site-holdout split ({@link SPLIT_KINDS}) or one fold of a k-fold site
 * cross-validation, `cv<fold>of<k>` (0-based fold; `deno task cv`).
 */
export type SplitName = SplitKind | `cv${number}of${number}`;
/** A unit's split name (see {@link SplitName}). */
export const SplitNameSchema = z.union([
  z.enum(SPLIT_KINDS),
  z.string().regex(/^cv\d+of\d+$/, "a split kind (koppen, igbp) or cv<fold>of<k>")
    .refine((s) => {
      const [fold, k] = s.slice(2).split("of").map(Number);
      return k >= 2 && fold < k;
    }, "cv<fold>of<k> needs k >= 2 and fold < k") as z.ZodType<`cv${number}of${number}`>,
]);

/**
 * The name of fold `fold` (0-based) of a k-fold site cross-validation.
 *
 * @example
 * ```ts
 * import { cvSplitName } from "./plan.ts";
 * cvSplitName(2, 5); // "cv2of5"
 * ```
 */
export function cvSplitName(fold: number, k: number): `cv${number}of${number}` {
  if (!Number.isInteger(fold) || !Number.isInteger(k) || k < 2 || fold < 0 || fold >= k) {
    throw new Error(`tamflux: fold ${fold} of ${k} is not a valid cross-validation fold`);
  }
  return `cv${fold}of${k}`;
}

/**
 * The dataset split spec patch of a split name: `{ kind }` for a site-holdout split,
 * `{ kind: "kfold", fold, k }` for a cross-validation fold.
 *
 * @example
 * ```ts
 * import { splitSpecOf } from "./plan.ts";
 * splitSpecOf("cv1of5"); // { kind: "kfold", fold: 1, k: 5 }
 * splitSpecOf("igbp"); // { kind: "igbp" }
 * ```
 */
export function splitSpecOf(
  name: SplitName,
): { kind: SplitKind } | { kind: "kfold"; fold: number; k: number } {
  const parsed = SplitNameSchema.parse(name);
  if (parsed === "koppen" || parsed === "igbp") return { kind: parsed };
  const [fold, k] = parsed.slice(2).split("of").map(Number);
  return { kind: "kfold", fold, k };
}

/** A JSON patch object (deep-merged into a config). */
const PatchSchema = z.record(z.string(), z.unknown());

/** A reproduction profile (`configs/profiles/<name>.json`). */
export const ProfileSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/),
  description: z.string().optional(),
  /** The trainer's experiment config every neural unit starts from (path from the project root). */
  trainConfig: z.string(),
  /** Patch deep-merged into the experiment config of every neural unit. */
  overrides: PatchSchema.default({}),
  /** Per-model patches, merged after `overrides`. */
  modelOverrides: z.record(z.string(), PatchSchema).default({}),
  /** The trees baseline's config (path), when the plan has the trees model. */
  treesConfig: z.string().optional(),
  /** Patch deep-merged into the trees config. */
  treesOverrides: PatchSchema.default({}),
  models: z.array(z.enum(UNIT_MODELS)).min(1),
  splits: z.array(SplitNameSchema).min(1),
  seeds: z.array(z.number().int().min(0)).min(1),
  /** Seeds of particular models instead of `seeds` (e.g. one seed of the trees). */
  modelSeeds: z.partialRecord(z.enum(UNIT_MODELS), z.array(z.number().int().min(0)).min(1))
    .optional(),
  /** TAM-RL ablations: variant name -> description and config patch (applied to tamrl). */
  ablations: z.record(
    z.string().regex(/^[a-z0-9_]+$/),
    z.object({ description: z.string(), overrides: PatchSchema }).strict(),
  ).default({}),
  /** Splits and seeds of the ablation units (default: the first split, all seeds). */
  ablationSplits: z.array(SplitNameSchema).optional(),
  ablationSeeds: z.array(z.number().int().min(0)).optional(),
  /** Evaluation rules. */
  eval: z.object({
    qcThresholds: z.array(z.number().min(0).max(1)).min(1).default([1.0, 0.8]),
    minDays: z.number().int().min(1).default(10),
  }).strict().default({ qcThresholds: [1.0, 0.8], minDays: 10 }),
  /** Wall-time budget in minutes (reported, not enforced). */
  budgetMinutes: z.number().positive().optional(),
}).strict();
/** A validated profile. */
export type Profile = z.output<typeof ProfileSchema>;

/** One unit of the plan. */
export interface Unit {
  /** Folder name: `<label with ':' as '-'>_<split>_s<seed>`. */
  id: string;
  model: UnitModel;
  split: SplitName;
  seed: number;
  /** Ablation variant name, or null for a plain model. */
  variant: string | null;
  /** Model label in the predictions table: the model, or "tamrl:<variant>". */
  label: string;
  /** The config patch of this unit (profile overrides, model overrides, variant overrides). */
  overrides: Record<string, unknown>;
}

/**
 * Whether `next` only adds units to the plan of `previous` (a run folder's saved profile): the
 * fields every unit's config derives from besides its own patch (train and trees configs, the
 * profile's overrides, evaluation rules) are the same, and every unit of `previous` is in `next`'s
 * plan with the same config patch (which holds its model's `modelOverrides`). Then
 * the finished units of the run stay valid and the run can go on with the new profile (e.g. a CV
 * config that gained a candidate, a profile with another seed). Returns the ids of the new units,
 * or null when `next` changes or drops a unit of `previous` (or `previous` is not a profile).
 *
 * @example
 * ```ts
 * import { ProfileSchema, profileExtension } from "./plan.ts";
 * const a = ProfileSchema.parse({ name: "p", trainConfig: "c.json", models: ["lstm"],
 *   splits: ["koppen"], seeds: [0] });
 * await profileExtension(a, { ...a, seeds: [0, 1] }); // ["lstm_koppen_s1"]
 * ```
 */
export async function profileExtension(
  previous: unknown,
  next: Profile,
): Promise<string[] | null> {
  const parsed = ProfileSchema.safeParse(previous);
  if (!parsed.success) return null;
  const old = parsed.data;
  const fixed = (p: Profile) => ({
    name: p.name,
    trainConfig: p.trainConfig,
    overrides: p.overrides,
    treesConfig: p.treesConfig,
    treesOverrides: p.treesOverrides,
    eval: p.eval,
  });
  if ((await configHash(fixed(old))) !== (await configHash(fixed(next)))) return null;
  const nextUnits = new Map(buildPlan(next).map((u) => [u.id, u]));
  for (const u of buildPlan(old)) {
    const n = nextUnits.get(u.id);
    if (!n || (await configHash(n)) !== (await configHash(u))) return null;
    nextUnits.delete(u.id);
  }
  return [...nextUnits.keys()];
}

/**
 * The unit id of a label, split and seed.
 *
 * @example
 * ```ts
 * import { unitId } from "./plan.ts";
 * unitId("tamrl:no_pretrain", "koppen", 0); // "tamrl-no_pretrain_koppen_s0"
 * ```
 */
export function unitId(label: string, split: SplitName, seed: number): string {
  return `${label.replace(":", "-")}_${split}_s${seed}`;
}

/**
 * The units of a profile, in a fixed order: per split and seed every model, then the ablation
 * variants.
 *
 * @example
 * ```ts
 * import { buildPlan, ProfileSchema } from "./plan.ts";
 * const units = buildPlan(ProfileSchema.parse({
 *   name: "demo", trainConfig: "configs/quick.json", models: ["lstm", "tamrl"],
 *   splits: ["koppen"], seeds: [0],
 * }));
 * ```
 */
export function buildPlan(profile: Profile): Unit[] {
  const units: Unit[] = [];
  const neural = (model: UnitModel, extra: Record<string, unknown>) =>
    model === "trees" ? mergePatch({}, profile.treesOverrides) : mergePatch(
      mergePatch(profile.overrides, profile.modelOverrides[model] ?? {}),
      extra,
    );
  const seedsOf = (model: UnitModel) => profile.modelSeeds?.[model] ?? profile.seeds;
  const allSeeds = [...new Set(profile.models.flatMap(seedsOf))];
  // profile.seeds first, in their order, then seeds only some models have
  allSeeds.sort((a, b) => rank(a) - rank(b) || a - b);
  function rank(seed: number): number {
    const i = profile.seeds.indexOf(seed);
    return i < 0 ? profile.seeds.length : i;
  }
  for (const split of profile.splits) {
    for (const seed of allSeeds) {
      for (const model of profile.models) {
        if (!seedsOf(model).includes(seed)) continue;
        units.push({
          id: unitId(model, split, seed),
          model,
          split,
          seed,
          variant: null,
          label: model,
          overrides: neural(model, {}),
        });
      }
    }
  }
  const ablSplits = profile.ablationSplits ?? [profile.splits[0]];
  const ablSeeds = profile.ablationSeeds ?? profile.seeds;
  for (const split of ablSplits) {
    for (const seed of ablSeeds) {
      for (const [variant, a] of Object.entries(profile.ablations)) {
        const label = `tamrl:${variant}`;
        units.push({
          id: unitId(label, split, seed),
          model: "tamrl",
          split,
          seed,
          variant,
          label,
          overrides: neural("tamrl", a.overrides),
        });
      }
    }
  }
  const ids = new Set<string>();
  for (const u of units) {
    if (ids.has(u.id)) throw new Error(`tamflux plan: unit ${u.id} appears twice in the profile`);
    ids.add(u.id);
  }
  return units;
}

/** A shard: this worker's 0-based index and the number of workers. */
export interface Shard {
  index: number;
  count: number;
}

/**
 * Parse `i/n` (0 <= i < n) into a shard.
 *
 * @example
 * ```ts
 * import { parseShard } from "./plan.ts";
 * parseShard("1/4"); // { index: 1, count: 4 }
 * ```
 */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`tamflux: --shard must look like i/n (0-based i), got "${text}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) {
    throw new Error(`tamflux: --shard ${text}: need 0 <= i < n (i is 0-based)`);
  }
  return { index, count };
}

/**
 * The `--shard i/n` option of the tasks that run a plan (reproduce, cv), parsed by
 * {@link parseShard}.
 *
 * @example
 * ```ts
 * import { defineTask } from "../cli/mod.ts";
 * import { SHARD_OPTION } from "./plan.ts";
 * const TASK = defineTask({
 *   name: "x", description: "runs a plan", examples: ["deno task x --shard 0/2"],
 *   options: { shard: SHARD_OPTION },
 * });
 * ```
 */
export const SHARD_OPTION = opt.custom(
  "run every n-th unit starting at i (0-based), for batch engines",
  {
    arg: "i/n",
    type: "i/n with 0 <= i < n",
    parse: (text) => {
      try {
        return parseShard(text);
      } catch (error) {
        throw new Error((error as Error).message.replace(/^tamflux: --shard:? /, ""));
      }
    },
  },
);

/**
 * The units of one shard: every n-th unit starting at i.
 *
 * @example
 * ```ts
 * import { shardUnits } from "./plan.ts";
 * shardUnits(["a", "b", "c", "d", "e"], { index: 1, count: 2 }); // ["b", "d"]
 * ```
 */
export function shardUnits<T>(units: readonly T[], shard: Shard): T[] {
  return units.filter((_, k) => k % shard.count === shard.index);
}

/** What a unit runner reports; runPlan adds timing and writes it into done.json. */
export const UnitOutcomeSchema = z.object({
  /** Predictions file, relative to the unit folder. */
  predictions: z.string(),
  backend: z.string(),
  /** Hash of the exact config the unit trained with. */
  configHash: z.string(),
  /** What data went in, in words. */
  dataSummary: z.string(),
  /** Test sites of the unit's split. */
  testSites: z.array(z.string()),
  /** Anything else worth keeping (fit time, epochs, windows...). */
  extra: z.record(z.string(), z.unknown()).default({}),
});
/** What a unit runner reports. */
export type UnitOutcome = z.output<typeof UnitOutcomeSchema>;

/** The done marker of a unit. */
export const DoneMarkerSchema = z.object({
  unit: z.object({
    id: z.string(),
    model: z.enum(UNIT_MODELS),
    split: SplitNameSchema,
    seed: z.number().int(),
    variant: z.string().nullable(),
    label: z.string(),
    overrides: z.record(z.string(), z.unknown()),
  }),
  outcome: UnitOutcomeSchema,
  startedAt: z.string(),
  finishedAt: z.string(),
  wallSeconds: z.number().nonnegative(),
});
/** The done marker of a unit. */
export type DoneMarker = z.output<typeof DoneMarkerSchema>;

/** Runs one unit, writing into `dir` (which exists and is empty). */
export type UnitRunner = (
  unit: Unit,
  context: { dir: string; log: (message: string) => void },
) => Promise<UnitOutcome>;

/**
 * The folder of a unit.
 *
 * @example
 * ```ts
 * import { unitDir } from "./plan.ts";
 * unitDir("results/quick", { id: "lstm_koppen_s0" }); // "results/quick/units/lstm_koppen_s0"
 * ```
 */
export function unitDir(runDir: string, unit: Pick<Unit, "id">): string {
  return join(runDir, "units", unit.id);
}

/**
 * The done marker of a unit, or null when the unit has not finished; an invalid marker is an error
 * naming the file.
 *
 * @example
 * ```ts
 * import { readDone } from "./plan.ts";
 * const done = await readDone("results/quick", { id: "lstm_koppen_s0" });
 * console.log(done ? `done in ${done.wallSeconds} s` : "not done");
 * ```
 */
export async function readDone(runDir: string, unit: Pick<Unit, "id">): Promise<DoneMarker | null> {
  const path = join(unitDir(runDir, unit), "done.json");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`tamflux plan: ${path} is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = DoneMarkerSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`tamflux plan: ${path} is not a valid done marker: ${parsed.error.message}`);
  }
  return parsed.data;
}

/** The result of {@link runPlan}. */
export interface PlanReport {
  ran: string[];
  skipped: string[];
  /** Units another worker claimed first (work-queue mode, `claimDir`). */
  claimedElsewhere: string[];
  failed: { id: string; error: string }[];
  wallSeconds: number;
}

/**
 * Run units in order: skip the finished ones, clear leftovers of interrupted attempts, run the
 * rest with `runner` and write each unit's `done.json` atomically after everything else. A failing
 * unit is reported and the next one runs (unless `stopOnError`). With `claimDir`, several
 * workers can share one plan as a work queue.
 *
 * @example
 * ```ts
 * import { runPlan, type UnitRunner } from "./plan.ts";
 * const runner: UnitRunner = async (unit, { dir }) => {
 *   await Deno.writeTextFile(`${dir}/predictions.parquet`, "");
 *   return { predictions: "predictions.parquet", backend: "cpu", configHash: "x",
 *     dataSummary: "none", testSites: [], extra: {} };
 * };
 * const report = await runPlan([], { runDir: "results/demo", runner });
 * ```
 */
export async function runPlan(
  units: readonly Unit[],
  options: {
    runDir: string;
    runner: UnitRunner;
    log?: (message: string) => void;
    stopOnError?: boolean;
    /**
     * Work-queue mode for several workers over the same plan: a worker runs a unit only if it
     * claims `<claimDir>/<unit-id>` first (lib/experiments/claims.ts: atomic create-new, PID, host and a
     * heartbeat), so each unit runs once; a dead claimer's claim is taken over, a live one never.
     * The claim is removed when the unit is done and kept when it fails.
     */
    claimDir?: string;
    /** Heartbeat and staleness of claims (defaults in lib/experiments/claims.ts). */
    claimTiming?: ClaimTiming;
  },
): Promise<PlanReport> {
  const log = options.log ?? ((m: string) => console.log(m));
  const report: PlanReport = {
    ran: [],
    skipped: [],
    claimedElsewhere: [],
    failed: [],
    wallSeconds: 0,
  };
  const t0 = performance.now();
  for (const [k, unit] of units.entries()) {
    const dir = unitDir(options.runDir, unit);
    if (await readDone(options.runDir, unit)) {
      report.skipped.push(unit.id);
      log(`[${k + 1}/${units.length}] ${unit.id}: done before, skipped`);
      continue;
    }
    let held: HeldClaim | null = null;
    if (options.claimDir) {
      held = await claimUnit(options.claimDir, unit.id, options.claimTiming);
      if (!held) {
        report.claimedElsewhere.push(unit.id);
        continue;
      }
      if (held.tookOver) log(`[${k + 1}/${units.length}] ${unit.id}: took over (${held.tookOver})`);
      if (await readDone(options.runDir, unit)) { // finished while we looked
        await held.release();
        report.skipped.push(unit.id);
        continue;
      }
    }
    let wallSeconds: number;
    try {
      await Deno.remove(dir, { recursive: true }).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
      await Deno.mkdir(dir, { recursive: true });
      const startedAt = new Date().toISOString();
      const t = performance.now();
      log(`[${k + 1}/${units.length}] ${unit.id}: running`);
      const outcome = UnitOutcomeSchema.parse(
        await options.runner(unit, { dir, log: (m) => log(`  ${unit.id}: ${m}`) }),
      );
      wallSeconds = (performance.now() - t) / 1000;
      const marker: DoneMarker = {
        unit: { ...unit },
        outcome,
        startedAt,
        finishedAt: new Date().toISOString(),
        wallSeconds,
      };
      await atomicWrite(join(dir, "done.json"), JSON.stringify(marker, null, 2) + "\n");
    } catch (e) {
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      held?.stop();
      report.failed.push({ id: unit.id, error });
      log(`[${k + 1}/${units.length}] ${unit.id}: FAILED: ${error}`);
      if (options.stopOnError) break;
      continue;
    }
    // the unit is done (done.json written): a claim that cannot be removed does not undo that
    await held?.release().catch((e) =>
      log(`[${k + 1}/${units.length}] ${unit.id}: claim not removed: ${(e as Error).message}`)
    );
    report.ran.push(unit.id);
    log(`[${k + 1}/${units.length}] ${unit.id}: done in ${wallSeconds.toFixed(1)} s`);
  }
  report.wallSeconds = (performance.now() - t0) / 1000;
  return report;
}

/**
 * The finished units of a run folder (every `units/<id>/done.json`), sorted by id.
 *
 * @example
 * ```ts
 * import { finishedUnits } from "./plan.ts";
 * const done = await finishedUnits("results/quick");
 * ```
 */
export async function finishedUnits(runDir: string): Promise<DoneMarker[]> {
  const out: DoneMarker[] = [];
  try {
    for await (const e of Deno.readDir(join(runDir, "units"))) {
      if (!e.isDirectory) continue;
      const d = await readDone(runDir, { id: e.name });
      if (d) out.push(d);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => a.unit.id.localeCompare(b.unit.id));
}

/**
 * Load and validate a profile by name (`configs/profiles/<name>.json` under `root`) or by path.
 *
 * @example
 * ```ts
 * import { loadProfile } from "./plan.ts";
 * const profile = await loadProfile("quick", { root: "." });
 * ```
 */
export async function loadProfile(
  nameOrPath: string,
  options: { root: string },
): Promise<{ profile: Profile; path: string }> {
  const path = nameOrPath.endsWith(".json")
    ? nameOrPath
    : join(options.root, "configs", "profiles", `${nameOrPath}.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(`tamflux: cannot read profile ${path}: ${(e as Error).message}`);
  }
  const parsed = ProfileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`tamflux: profile ${path} is not valid:\n${lines.join("\n")}`);
  }
  return { profile: parsed.data, path };
}

/**
 * The ids of the units of a plan without a `done.json` in `runDir`, in plan order.
 *
 * @example
 * ```ts ignore
 * const missing = await missingUnits(buildPlan(profile), "results/quick");
 * ```
 */
export async function missingUnits(
  units: readonly { id: string }[],
  runDir: string,
): Promise<string[]> {
  const done = new Set((await finishedUnits(runDir)).map((d) => d.unit.id));
  return units.filter((u) => !done.has(u.id)).map((u) => u.id);
}

/**
 * The ids of the units of a run folder's own plan (its `profile.json`, written by reproduce) that
 * are not done. Throws, naming the file, when `profile.json` is missing, unreadable or not a valid
 * profile: then nobody can tell whether the run's tables are complete.
 *
 * @example
 * ```ts ignore
 * const missing = await runMissingUnits("results/quick"); // [] when every unit is done
 * ```
 */
export async function runMissingUnits(runDir: string): Promise<string[]> {
  const path = join(runDir, "profile.json");
  let raw: unknown;
  try {
    raw = await readJson(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  const parsed = ProfileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${path} is not a valid profile: ${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
  }
  return await missingUnits(buildPlan(parsed.data), runDir);
}
