/**
 * Site splits for zero-shot evaluation: a site is either in train or in test, never both.
 *
 * - `koppen`: stratified by Köppen main group, 80/20 per group;
 * - `igbp`: stratified by IGBP class, 80/20 per class, 50/50 for classes with at most
 *   `smallClassMax` (10) sites, as in CarbonBench;
 * - `kfold`: k-fold site cross-validation (default 5), stratified by Köppen main group or IGBP:
 *   within each class, sites are shuffled and dealt to folds in turn; fold `fold` is the test set;
 * - `all`: the production split: no test site; every site trains, except a held-out share of
 *   sites, `val` (stratified by Köppen main group or IGBP, `stratify`), whose whole records are the
 *   validation data for early stopping. The share is the `valFraction` option of {@link makeSplit}
 *   (buildDataset passes the data config's `valFraction`; default 0.2), drawn per class like the
 *   test sites of `koppen`. Validation sites are disjoint from training sites. Kind `all` also
 *   takes `valSites` (absent = `valFraction`, as above): `valSites: 0` holds out no site, so that
 *   every site trains and validates on the last `valFraction` of its days, as kind `kfold` does;
 *   a share of 0 (`valSites: 0`, or `valFraction: 0` without `valSites`) lists `val: []`.
 *
 * Kind `kfold` with `valSites` > 0 (absent = 0: validation on the last days of each training site)
 * also holds out validation sites: after the fold's test sites are drawn (and `forceTest` moved),
 * round(n * valSites) of the n training sites of each class (1 to n - 1 when n >= 2, none of a
 * class of one) become `val`, drawn as kind `all` draws them; buildDataset then validates on those
 * whole sites and trains on every row of the others.
 *
 * In each class of n sites the test count is round(n * fraction), kept between 1 and n - 1 when
 * n >= 2 (a class of one site stays in train). All randomness comes from `seed`.
 *
 * @module
 */
import { z } from "zod";
import { deriveSeed, seededRng, shuffled } from "./random.ts";
import { writeJsonAtomic } from "./atomic.ts";

/** Every split kind (see the module doc). */
export const SPLIT_KIND_NAMES = ["koppen", "igbp", "kfold", "all"] as const;

/** How a split is made. */
export const SplitSpecSchema = z.object({
  kind: z.enum(SPLIT_KIND_NAMES).default("koppen"),
  seed: z.number().int().default(42),
  /** Test fraction for koppen/igbp. */
  testFraction: z.number().gt(0).lt(1).default(0.2),
  /** igbp: classes with at most this many sites are split 50/50. */
  smallClassMax: z.number().int().nonnegative().default(10),
  /** kfold: number of folds and the fold used as test. */
  k: z.number().int().min(2).default(5),
  fold: z.number().int().nonnegative().default(0),
  /**
   * kfold and all: the share of the (fold's) training sites held out whole as validation sites,
   * per class, in [0, 1). Absent: kfold 0 (no validation site), all the data config's
   * `valFraction` (split.json and config hashes as before). 0: no validation site; validation
   * on the last `valFraction` of each training site's days ({@link validationMode}).
   */
  valSites: z.number().min(0).lt(1).optional(),
  /** kfold and all: the class used for stratification. */
  stratify: z.enum(["koppen", "igbp"]).default("koppen"),
  /**
   * Sites moved to test after the stratified draw (when present), e.g. the four FLUXCOM-X-BASE
   * towers, so that every model can be compared with the X-BASE product at them.
   */
  forceTest: z.array(z.string()).default([]),
}).strict().refine((s) => s.kind !== "all" || s.forceTest.length === 0, {
  message: "split kind all has no test sites: forceTest must be empty",
  path: ["forceTest"],
}).refine((s) => s.kind === "kfold" || s.kind === "all" || !s.valSites, {
  message: "valSites is for split kinds kfold and all",
  path: ["valSites"],
});
/** How a split is made. */
export type SplitSpec = z.infer<typeof SplitSpecSchema>;

/** A site split, saved as JSON. */
export const SplitSchema = z.object({
  kind: z.enum(SPLIT_KIND_NAMES),
  seed: z.number().int(),
  spec: SplitSpecSchema,
  train: z.array(z.string()),
  test: z.array(z.string()),
  /**
   * Kind `all`, and `kfold` with `spec.valSites` > 0: the held-out validation sites (their records
   * are the validation data; not training sites); [] for kind `all` holding out none. Absent
   * otherwise: those splits validate on the last days of each training site.
   */
  val: z.array(z.string()).optional(),
  /** The class of every site used for stratification. */
  strata: z.record(z.string(), z.string()),
}).strict().superRefine((s, ctx) => {
  const train = new Set(s.train);
  const both = s.test.filter((x) => train.has(x));
  if (both.length > 0) {
    ctx.addIssue({ code: "custom", message: `sites in both train and test: ${both.join(", ")}` });
  }
  const test = new Set(s.test);
  const valBoth = (s.val ?? []).filter((x) => train.has(x) || test.has(x));
  if (valBoth.length > 0) {
    ctx.addIssue({
      code: "custom",
      message: `validation sites also in train or test: ${valBoth.join(", ")}`,
    });
  }
  if (s.kind === "all" && (s.test.length > 0 || !s.val)) {
    ctx.addIssue({ code: "custom", message: "split kind all has no test sites and lists val" });
  }
  const heldOut = s.kind === "all" || (s.kind === "kfold" && (s.spec.valSites ?? 0) > 0);
  if (!heldOut && s.val) {
    ctx.addIssue({ code: "custom", message: `split kind ${s.kind} has no val sites` });
  }
  if (s.kind === "kfold" && heldOut && !s.val) {
    ctx.addIssue({ code: "custom", message: "split kind kfold with valSites lists val" });
  }
});
/** A site split. */
export type Split = z.infer<typeof SplitSchema>;

/** The fields of a `Site` that splitting uses. */
export interface SplitSite {
  SITE_ID: string;
  IGBP: string;
  KOPPEN_MAIN: string;
}

function testCount(n: number, fraction: number): number {
  if (n < 2) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
}

function groupBy(sites: readonly SplitSite[], key: "IGBP" | "KOPPEN_MAIN"): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const s of [...sites].sort((a, b) => a.SITE_ID.localeCompare(b.SITE_ID))) {
    const g = groups.get(s[key]) ?? [];
    g.push(s.SITE_ID);
    groups.set(s[key], g);
  }
  return new Map([...groups.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Deal the members of every class to `val` (round(n * fraction), 1 to n - 1 when n >= 2) and
 * `train`, each class shuffled with a seed derived from `seed`, `key` and the class.
 */
function holdOutVal(
  groups: ReadonlyMap<string, string[]>,
  options: { fraction: number; key: string; seed: number; train: string[]; val: string[] },
): void {
  for (const [cls, members] of groups) {
    const order = shuffled(members, seededRng(deriveSeed(options.seed, `${options.key}:${cls}`)));
    const nVal = testCount(members.length, options.fraction);
    options.val.push(...order.slice(0, nVal));
    options.train.push(...order.slice(nVal));
  }
}

/** Throw when holding out validation sites left no validation or no training site. */
function checkHeldOut(kind: string, n: number, parts: { train: string[]; val: string[] }): void {
  if (parts.val.length === 0 || parts.train.length === 0) {
    throw new Error(
      `makeSplit: split kind ${kind} over ${n} site(s) leaves no ` +
        `${parts.val.length === 0 ? "validation" : "training"} site (each class needs 2 sites to ` +
        `hold one out)`,
    );
  }
}

/** Options of {@link makeSplit}. */
export interface MakeSplitOptions {
  /**
   * Kind `all` without `valSites`: the share of sites held out for validation, per class, in
   * [0, 1) (default 0.2; 0 = none).
   */
  valFraction?: number;
}

/** How a dataset validates (see {@link validationMode}). */
export type ValidationMode = "sites" | "days" | "none";

/**
 * How a data config validates: "sites" (held-out validation sites: kind `all` with a share > 0,
 * kfold with `valSites` > 0), "days" (the last `valFraction` of each training site's days), or
 * "none" (no validation data: every day of every training site trains; the trainer then runs
 * every epoch and keeps the last weights).
 *
 * @example
 * ```ts
 * import { validationMode } from "./splits.ts";
 * validationMode({ split: { kind: "all" }, valFraction: 0.2 }); // "sites"
 * validationMode({ split: { kind: "all", valSites: 0 }, valFraction: 0.2 }); // "days"
 * validationMode({ split: { kind: "kfold" }, valFraction: 0 }); // "none"
 * ```
 */
export function validationMode(
  data: { split?: Partial<Pick<SplitSpec, "kind" | "valSites">>; valFraction?: number },
): ValidationMode {
  const valFraction = data.valFraction ?? 0.2;
  const kind = data.split?.kind ?? "koppen";
  const siteShare = kind === "all"
    ? data.split?.valSites ?? valFraction
    : kind === "kfold"
    ? data.split?.valSites ?? 0
    : 0;
  if (siteShare > 0) return "sites";
  return valFraction > 0 ? "days" : "none";
}

/**
 * Make a split of `sites` (ids must be unique). The same sites and spec give the same split.
 *
 * @example
 * ```ts
 * import { makeSplit } from "./splits.ts";
 * const split = makeSplit(sites, { kind: "igbp", seed: 7 });
 * const production = makeSplit(sites, { kind: "all", seed: 7 }, { valFraction: 0.2 });
 * ```
 */
export function makeSplit(
  sites: readonly SplitSite[],
  spec: Partial<SplitSpec> = {},
  options: MakeSplitOptions = {},
): Split {
  const s = SplitSpecSchema.parse(spec);
  const ids = sites.map((x) => x.SITE_ID);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw new Error(`makeSplit: site ${dup} appears twice`);
  const stratKey = s.kind === "igbp" ||
      ((s.kind === "kfold" || s.kind === "all") && s.stratify === "igbp")
    ? "IGBP"
    : "KOPPEN_MAIN";
  const groups = groupBy(sites, stratKey);
  const train: string[] = [];
  const test: string[] = [];
  const val: string[] = [];
  if (s.kind === "all") {
    const fraction = s.valSites ?? options.valFraction ?? 0.2;
    if (!(fraction >= 0 && fraction < 1)) {
      throw new Error(
        `makeSplit: split kind all needs a validation share in [0, 1), not ${fraction}`,
      );
    }
    if (fraction === 0) {
      train.push(...sites.map((x) => x.SITE_ID)); // every site trains; no validation site
    } else {
      holdOutVal(groups, { fraction, key: `all:${stratKey}`, seed: s.seed, train, val });
      checkHeldOut("all", sites.length, { train, val });
    }
  } else if (s.kind === "kfold") {
    if (s.fold >= s.k) throw new Error(`makeSplit: fold ${s.fold} must be < k = ${s.k}`);
    // deal shuffled sites of each class to folds in turn, continuing where the last class ended,
    // so that folds differ in size by at most one site
    let next = 0;
    for (const [cls, members] of groups) {
      for (
        const id of shuffled(members, seededRng(deriveSeed(s.seed, `kfold:${stratKey}:${cls}`)))
      ) {
        (next % s.k === s.fold ? test : train).push(id);
        next++;
      }
    }
  } else {
    for (const [cls, members] of groups) {
      const fraction = s.kind === "igbp" && members.length <= s.smallClassMax
        ? 0.5
        : s.testFraction;
      const order = shuffled(members, seededRng(deriveSeed(s.seed, `${s.kind}:${cls}`)));
      const nTest = testCount(members.length, fraction);
      test.push(...order.slice(0, nTest));
      train.push(...order.slice(nTest));
    }
  }
  for (const id of s.forceTest) {
    const i = train.indexOf(id);
    if (i >= 0) test.push(...train.splice(i, 1));
  }
  const kfoldVal = s.kind === "kfold" && (s.valSites ?? 0) > 0;
  if (kfoldVal) {
    // the fold's training sites, by class (site-id order)
    const inTrain = new Set(train);
    const trainGroups = new Map(
      [...groups].map(([cls, members]) => [cls, members.filter((id) => inTrain.has(id))]),
    );
    train.length = 0;
    holdOutVal(trainGroups, {
      fraction: s.valSites!,
      key: `kfold-val:${stratKey}`,
      seed: s.seed,
      train,
      val,
    });
    checkHeldOut("kfold", inTrain.size, { train, val });
  }
  const strata: Record<string, string> = {};
  for (const x of sites) strata[x.SITE_ID] = x[stratKey];
  return SplitSchema.parse({
    kind: s.kind,
    seed: s.seed,
    spec: s,
    train: train.sort(),
    test: test.sort(),
    ...(s.kind === "all" || kfoldVal ? { val: val.sort() } : {}),
    strata,
  });
}

/**
 * Save a split as JSON (atomic write).
 *
 * @example
 * ```ts
 * import { makeSplit, saveSplit } from "./splits.ts";
 * await saveSplit("runs/x/split.json", makeSplit(sites, { kind: "koppen", seed: 1 }));
 * ```
 */
export async function saveSplit(path: string, split: Split): Promise<void> {
  await writeJsonAtomic(path, SplitSchema.parse(split));
}

/**
 * Load and validate a split (rejects a file with a site in both train and test).
 *
 * @example
 * ```ts
 * import { loadSplit } from "./splits.ts";
 * const split = await loadSplit("runs/x/split.json");
 * ```
 */
export async function loadSplit(path: string): Promise<Split> {
  const parsed = SplitSchema.safeParse(JSON.parse(await Deno.readTextFile(path)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${path}: invalid split at ${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
  }
  return parsed.data;
}
