/**
 * Site-level k-fold cross-validation (`deno task cv`): every site is a test site exactly once.
 *
 * A CV config (`configs/cv/<name>.json`, {@link CvConfigSchema}) names the models (the trees and
 * TAM-RL), their seeds and the TAM-RL candidates (config patches, each run as a variant). It
 * becomes a reproduction profile whose splits are the folds `cv0of<k>` .. `cv<k-1>of<k>` (kind
 * `kfold`, stratified by Köppen main group, no forced test sites), so the units, claims, shards,
 * workers and resumption are reproduce's own.
 *
 * The report ({@link buildCvReport}) pools the folds: each model's predictions of every fold (its
 * seeds averaged into an ensemble), all models aligned on the site-days every one of them
 * predicted, then per site and flux the metrics of lib/eval (days with NEE QC >= the threshold,
 * sites with at least `minDays` such days). Tables in `results/<run>/tables/`:
 * - `cv_summary`: per model and flux, the sites scored, site-median and site-mean R2, mean
 *   clipped R2, mean and median RMSE;
 * - `cv_vs_trees`: the reference model (TAM-RL) minus the trees in site-median R2, mean R2,
 *   mean clipped R2 and mean RMSE, each with its 95 % percentile bootstrap interval over sites
 *   (pairs resampled together) and the Wilcoxon signed-rank p of the per-site differences;
 *   "better"/"worse" only when the interval excludes 0 and p < 0.05;
 * - `cv_candidates`: each candidate minus the plain reference at the candidates' seeds (the same
 *   folds and seeds, so the difference is the candidate's effect), the trees minus that
 *   reference, and, with several seeds, the seed ensemble minus its first seed alone;
 * - `cv_sites`: the per-site metrics of every model, with the site's fold;
 * - `cv_bias` and `cv_bias_worst`, and the figure `figures/cv_bias_map`: the per-site bias of the
 *   reference (and the trees) with each site's nearest training sites of its fold in static
 *   descriptors and its out-of-distribution flag, and what the worst sites have in common
 *   (lib/experiments/cv_bias.ts).
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import type { Site } from "../data/sites.ts";
import { quantile, type SiteMetricRow, siteMetrics } from "../eval/aggregate.ts";
import { siteValues } from "../eval/significance_table.ts";
import {
  alignPredictions,
  ensemblePredictions,
  type Flux,
  FLUXES,
  type PredictionRow,
  readPredictions,
} from "../eval/predictions.ts";
import { type PairedStatistic, pairedStatistic, type SiteStatistic } from "../eval/significance.ts";
import {
  type Cell,
  displayName,
  type Provenance,
  siteCitations,
  type Table,
  type TableContext,
  writeTable,
} from "../eval/tables.ts";
import type { MetricName } from "../metrics/metrics.ts";
import { configHash, gitCommit } from "../train/runs.ts";
import { type CvBiasRow, cvBiasRows, foldStaticReferences, writeCvBias } from "./cv_bias.ts";
import {
  cvSplitName,
  type DoneMarker,
  finishedUnits,
  type Profile,
  ProfileSchema,
  splitSpecOf,
  UNIT_MODELS,
} from "./plan.ts";

const Patch = z.record(z.string(), z.unknown());
const Seeds = z.array(z.number().int().min(0)).min(1);

/** A cross-validation config (`configs/cv/<name>.json`). */
export const CvConfigSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/),
  description: z.string().optional(),
  /** The experiment config every neural unit starts from (path from the project root). */
  trainConfig: z.string(),
  /** Patch deep-merged into the experiment config of every neural unit. */
  overrides: Patch.default({}),
  /** Per-model patches, merged after `overrides`. */
  modelOverrides: z.record(z.string(), Patch).default({}),
  /** The trees baseline's config (path). */
  treesConfig: z.string().optional(),
  treesOverrides: Patch.default({}),
  /** Models of the CV, e.g. ["trees", "tamrl"]. */
  models: z.array(z.enum(UNIT_MODELS)).min(1),
  /** Seeds of every model (a model's seeds are averaged into an ensemble). */
  seeds: Seeds,
  /** Seeds of the trees (default: `seeds`). */
  treesSeeds: Seeds.optional(),
  /** TAM-RL candidates: name -> description and config patch (run as variants of tamrl). */
  candidates: z.record(
    z.string().regex(/^[a-z0-9_]+$/),
    z.object({ description: z.string(), overrides: Patch }).strict(),
  ).default({}),
  /** Seeds of the candidate units (default: the first seed). */
  candidateSeeds: Seeds.optional(),
  /** Number of folds (`--folds` overrides it). */
  folds: z.number().int().min(2).default(5),
  /** The model compared with the trees and the base of the candidates. */
  reference: z.literal("tamrl").default("tamrl"),
  eval: z.object({
    qcThreshold: z.number().min(0).max(1).default(1.0),
    minDays: z.number().int().min(1).default(10),
    resamples: z.number().int().min(100).default(10_000),
  }).strict().prefault({}),
}).strict();
/** A validated CV config. */
export type CvConfig = z.output<typeof CvConfigSchema>;

/**
 * Read and validate a CV config file; the error names the file and every offending field.
 *
 * @example
 * ```ts ignore
 * import { loadCvConfig } from "./cv.ts";
 * const config = await loadCvConfig("configs/cv/screen.json");
 * ```
 */
export async function loadCvConfig(path: string): Promise<CvConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(`tamflux cv: cannot read ${path}: ${(e as Error).message}`);
  }
  const parsed = CvConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`tamflux cv: ${path} is not a valid CV config: ${lines.join("; ")}`);
  }
  return parsed.data;
}

/**
 * The fold split names of a k-fold CV.
 *
 * @example
 * ```ts
 * import { cvFolds } from "./cv.ts";
 * cvFolds(3); // ["cv0of3", "cv1of3", "cv2of3"]
 * ```
 */
export function cvFolds(k: number): `cv${number}of${number}`[] {
  return Array.from({ length: k }, (_, i) => cvSplitName(i, k));
}

/**
 * The reproduction profile of a CV config: one split per fold, the candidates as TAM-RL variants
 * on every fold with the candidate seeds.
 *
 * @example
 * ```ts
 * import { cvProfile, CvConfigSchema } from "./cv.ts";
 * const profile = cvProfile(CvConfigSchema.parse({
 *   name: "cv", trainConfig: "configs/quick.json", models: ["trees", "tamrl"], seeds: [0],
 * }), { folds: 5 });
 * console.log(profile.splits.length); // 5
 * ```
 */
export function cvProfile(config: CvConfig, options: { folds?: number } = {}): Profile {
  const folds = cvFolds(options.folds ?? config.folds);
  return ProfileSchema.parse({
    name: config.name,
    description: config.description,
    trainConfig: config.trainConfig,
    overrides: config.overrides,
    modelOverrides: config.modelOverrides,
    treesConfig: config.treesConfig,
    treesOverrides: config.treesOverrides,
    models: config.models,
    splits: folds,
    seeds: config.seeds,
    ...(config.treesSeeds ? { modelSeeds: { trees: config.treesSeeds } } : {}),
    ablations: config.candidates,
    ablationSplits: folds,
    ablationSeeds: config.candidateSeeds ?? [config.seeds[0]],
    eval: { qcThresholds: [config.eval.qcThreshold], minDays: config.eval.minDays },
  });
}

/** One scored model of the CV report: a label and the seeds averaged into it. */
export interface CvEntry {
  /** Name in the tables: the label, or `<label>@s<seeds>` for a subset of its seeds. */
  name: string;
  label: string;
  seeds: number[];
}

/** What {@link buildCvReport} found and wrote. */
export interface CvReport {
  tables: string[];
  /** Figures written (`figures/cv_bias_map.*`). */
  figures: string[];
  /** The rows of `cv_bias` (empty without the reference model). */
  bias: CvBiasRow[];
  /** Per-site metrics of every entry (ensembles, seed -1). */
  sites: SiteMetricRow[];
  /** Fold of every site. */
  foldOf: Map<string, string>;
  /** The reference minus the trees, per flux and statistic. */
  vsTrees: CvComparison[];
  /** Every candidate comparison. */
  candidates: CvComparison[];
  entries: CvEntry[];
}

/** One comparison row: `a - b` for a flux and a statistic of a per-site metric. */
export interface CvComparison extends PairedStatistic {
  a_name: string;
  b_name: string;
  flux: Flux;
  metric: MetricName;
  lowerIsBetter: boolean;
  verdict: "better" | "worse" | "not resolved";
}

/** The statistics of the comparisons: site-median R2, mean R2, mean clipped R2, mean RMSE. */
export const CV_STATISTICS: readonly {
  metric: MetricName;
  statistic: SiteStatistic;
  lowerIsBetter: boolean;
  title: string;
}[] = [
  { metric: "r2", statistic: "median", lowerIsBetter: false, title: "site-median R2" },
  { metric: "r2", statistic: "mean", lowerIsBetter: false, title: "mean R2" },
  { metric: "r2_clipped", statistic: "mean", lowerIsBetter: false, title: "mean clipped R2" },
  { metric: "rmse", statistic: "mean", lowerIsBetter: true, title: "mean RMSE" },
];

/**
 * Check that the folds of each (label, seed) partition the sites: no site is a test site of two
 * folds. Returns the fold of every site (over all labels); throws naming the site and folds.
 *
 * @example
 * ```ts
 * import { foldsOfSites } from "./cv.ts";
 * foldsOfSites([{ label: "trees", seed: 0, split: "cv0of2", testSites: ["A"] },
 *   { label: "trees", seed: 0, split: "cv1of2", testSites: ["B"] }]); // Map { A => cv0of2, B => cv1of2 }
 * ```
 */
export function foldsOfSites(
  units: readonly { label: string; seed: number; split: string; testSites: readonly string[] }[],
): Map<string, string> {
  const foldOf = new Map<string, string>();
  const seen = new Map<string, string>();
  for (const u of units) {
    for (const site of u.testSites) {
      const key = `${u.label}\u0000${u.seed}\u0000${site}`;
      const before = seen.get(key);
      if (before !== undefined && before !== u.split) {
        throw new Error(
          `tamflux cv: site ${site} is a test site of folds ${before} and ${u.split} ` +
            `(${u.label}, seed ${u.seed})`,
        );
      }
      seen.set(key, u.split);
      const f = foldOf.get(site);
      if (f !== undefined && f !== u.split) {
        throw new Error(`tamflux cv: site ${site} is tested in folds ${f} and ${u.split}`);
      }
      foldOf.set(site, u.split);
    }
  }
  return foldOf;
}

/**
 * Compare entry `a` with entry `b` on every flux and {@link CV_STATISTICS} statistic.
 *
 * @example
 * ```ts
 * import { compareEntries } from "./cv.ts";
 * const rows = compareEntries([], "tamrl", "trees", { resamples: 200 });
 * ```
 */
export function compareEntries(
  sites: readonly SiteMetricRow[],
  a: string,
  b: string,
  options: { resamples?: number; seed?: number } = {},
): CvComparison[] {
  const out: CvComparison[] = [];
  for (const flux of FLUXES) {
    for (const s of CV_STATISTICS) {
      const p = pairedStatistic(
        siteValues(sites, a, flux, s.metric),
        siteValues(sites, b, flux, s.metric),
        {
          statistic: s.statistic,
          resamples: options.resamples,
          seed: options.seed,
        },
      );
      const good = s.lowerIsBetter ? p.difference < 0 : p.difference > 0;
      out.push({
        ...p,
        a_name: a,
        b_name: b,
        flux,
        metric: s.metric,
        lowerIsBetter: s.lowerIsBetter,
        verdict: p.resolved ? (good ? "better" : "worse") : "not resolved",
      });
    }
  }
  return out;
}

function entryName(label: string, seeds: readonly number[], all: readonly number[]): string {
  return seeds.length === all.length && seeds.every((s, i) => s === all[i])
    ? label
    : `${label}@s${seeds.join(",")}`;
}

/** The display name of a CV entry: the model's display name plus its seeds when a subset. */
export function cvDisplayName(name: string): string {
  const [label, seeds] = name.split("@");
  return seeds ? `${displayName(label)} (seed ${seeds.slice(1)})` : displayName(label);
}

function statisticKey(s: { metric: MetricName; statistic: SiteStatistic }): string {
  return `${s.statistic}:${s.metric}`;
}

function fmt(v: number, digits = 3): string {
  return Number.isFinite(v) ? (v >= 0 ? "+" : "") + v.toFixed(digits) : "";
}

/**
 * Merge the finished CV units of a run folder into the CV tables (see the module doc). Throws
 * when a site is a test site of two folds; units of non-CV splits in the folder are ignored.
 *
 * @example
 * ```ts ignore
 * import { buildCvReport } from "./cv.ts";
 * const report = await buildCvReport("results/cv_screen", { sites, config });
 * ```
 */
export async function buildCvReport(
  runDir: string,
  options: { sites: readonly Site[]; config: CvConfig; log?: (m: string) => void },
): Promise<CvReport> {
  const log = options.log ?? ((m: string) => console.log(m));
  const { config } = options;
  const { qcThreshold, minDays, resamples } = config.eval;
  const markers = (await finishedUnits(runDir)).filter((m) =>
    splitSpecOf(m.unit.split).kind === "kfold"
  );
  if (!markers.length) throw new Error(`tamflux cv: no finished CV units under ${runDir}/units`);
  const foldOf = foldsOfSites(markers.map((m) => ({
    label: m.unit.label,
    seed: m.unit.seed,
    split: m.unit.split,
    testSites: m.outcome.testSites,
  })));

  // entries: every label with all its seeds; the reference also at the candidates' seeds and,
  // with several seeds, at its first seed alone
  const byLabel = new Map<string, DoneMarker[]>();
  for (const m of markers) byLabel.set(m.unit.label, [...(byLabel.get(m.unit.label) ?? []), m]);
  const seedsOfLabel = (label: string) =>
    [...new Set((byLabel.get(label) ?? []).map((m) => m.unit.seed))].sort((a, b) => a - b);
  const entries: CvEntry[] = [];
  for (const label of [...byLabel.keys()].sort()) {
    entries.push({ name: label, label, seeds: seedsOfLabel(label) });
  }
  const ref = config.reference;
  const refSeeds = seedsOfLabel(ref);
  const candSeeds = [...(config.candidateSeeds ?? [config.seeds[0]])].sort((a, b) => a - b);
  const extra = [candSeeds, refSeeds.slice(0, 1)];
  for (const seeds of extra) {
    const name = entryName(ref, seeds, refSeeds);
    if (
      refSeeds.length && seeds.every((s) => refSeeds.includes(s)) &&
      !entries.some((e) => e.name === name)
    ) {
      entries.push({ name, label: ref, seeds });
    }
  }

  // predictions of every entry: its seeds' units over all folds, days passing QC only (the only
  // ones scored), seeds averaged
  // each unit's file is read once, though the reference's units serve several entries
  const unitRows = new Map<string, PredictionRow[]>();
  const scoredRows = (m: DoneMarker): PredictionRow[] => {
    let rows = unitRows.get(m.unit.id);
    if (!rows) {
      const path = join(runDir, "units", m.unit.id, m.outcome.predictions);
      rows = readPredictions(path).filter((r) => {
        if (r.model !== m.unit.label || r.seed !== m.unit.seed) {
          throw new Error(`tamflux cv: ${path} has a row of ${r.model} seed ${r.seed}`);
        }
        return r.NEE_QC !== null && r.NEE_QC >= qcThreshold;
      });
      unitRows.set(m.unit.id, rows);
    }
    return rows;
  };
  let all: PredictionRow[] = [];
  for (const e of entries) {
    let rows: PredictionRow[] = [];
    const units = byLabel.get(e.label)!.filter((m) => e.seeds.includes(m.unit.seed));
    for (const m of units) {
      for (const r of scoredRows(m)) rows.push({ ...r, model: e.name });
    }
    const folds = new Set(units.map((m) => m.unit.split));
    if (e.seeds.length > 1) {
      const ens = ensemblePredictions(rows);
      if (ens.dropped[e.name]) {
        log(`cv ${e.name}: ${ens.dropped[e.name]} rows not predicted by every seed, dropped`);
      }
      rows = ens.rows;
    }
    log(`cv ${e.name}: seeds ${e.seeds.join(",")}, ${folds.size} folds, ${rows.length} site-days`);
    all = all.concat(rows);
  }
  unitRows.clear();
  const aligned = alignPredictions(all);
  all = [];
  const sm = siteMetrics(aligned.rows, { qcThreshold, minDays });
  const sites = sm.sites;

  const vsTrees = entries.some((e) => e.name === "trees") && entries.some((e) => e.name === ref)
    ? compareEntries(sites, ref, "trees", { resamples })
    : [];
  const candidates: CvComparison[] = [];
  const candBase = entryName(ref, candSeeds, refSeeds);
  for (const e of entries) {
    if (e.label.startsWith(`${ref}:`)) {
      candidates.push(...compareEntries(sites, e.name, candBase, { resamples }));
    }
  }
  if (entries.some((e) => e.name === "trees") && entries.some((e) => e.name === candBase)) {
    candidates.push(...compareEntries(sites, "trees", candBase, { resamples }));
  }
  if (refSeeds.length > 1) {
    candidates.push(
      ...compareEntries(sites, ref, entryName(ref, refSeeds.slice(0, 1), refSeeds), { resamples }),
    );
  }

  const seen = new Set([...sites.map((s) => s.site), ...sm.report.excluded.map((e) => e.site)]);
  const unscored = [...foldOf.keys()].filter((s) => !seen.has(s)).sort();

  // provenance and tables
  const hash = (await configHash(config)).slice(0, 16);
  const provenance: Provenance = {
    gitCommit: await gitCommit(),
    configHash: hash,
    seeds: [...new Set(markers.map((m) => m.unit.seed))].sort((a, b) => a - b),
    backend: [...new Set(markers.map((m) => m.outcome.backend))].join(", "),
    dataSummary: `${foldOf.size} sites in ${new Set(foldOf.values()).size} folds (site-level CV, ` +
      `kfold stratified by Köppen main group); ${aligned.siteDays} site-days with NEE QC >= ` +
      `${qcThreshold} predicted by every model; ` +
      [...new Set(markers.map((m) => m.outcome.dataSummary))].slice(0, 2).join(" | "),
    wallTimeSeconds: markers.reduce((a, m) => a + m.wallSeconds, 0),
    profile: config.name,
    run: runDir.split("/").filter(Boolean).pop(),
    generatedAt: new Date().toISOString(),
  };
  const context: TableContext = {
    provenance,
    sites: siteCitations(foldOf.keys(), options.sites, { role: "test" }),
    rules: [
      ...sm.report.rules,
      `Every site is a test site exactly once (${new Set(foldOf.values()).size}-fold site CV); ` +
      `each model's predictions of all folds are pooled, its seeds averaged into an ensemble.`,
      `All models scored on the same ${aligned.siteDays} site-days (rows dropped by this ` +
      `alignment: ${
        Object.entries(aligned.dropped).filter(([, n]) => n > 0).map(([m, n]) => `${m} ${n}`)
          .join(", ") || "none"
      }).`,
      ...(unscored.length
        ? [
          `Not scored (no day with NEE QC >= ${qcThreshold} that every model predicted): ` +
          `${unscored.join(", ")}.`,
        ]
        : []),
      ...(sm.report.excluded.length
        ? [
          `Excluded (fewer than ${minDays} valid days): ` +
          [...new Set(sm.report.excluded.map((e) => `${e.site}/${e.flux}`))].join(", "),
        ]
        : []),
    ],
  };
  const tablesDir = join(runDir, "tables");
  const written: string[] = [];
  const write = async (t: Table) => written.push(...await writeTable(t, tablesDir));

  // cv_summary
  const summaryRows: Cell[][] = [];
  for (const e of entries) {
    for (const flux of FLUXES) {
      const r2 = [...siteValues(sites, e.name, flux, "r2").values()];
      if (!r2.length) continue;
      const r2c = [...siteValues(sites, e.name, flux, "r2_clipped").values()];
      const rmse = [...siteValues(sites, e.name, flux, "rmse").values()];
      const median = (v: number[]) => quantile(v, 0.5);
      const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
      summaryRows.push([
        cvDisplayName(e.name),
        e.name,
        e.seeds.join(","),
        flux,
        r2.length,
        median(r2),
        mean(r2),
        mean(r2c),
        mean(rmse),
        median(rmse),
      ]);
    }
  }
  await write({
    name: "cv_summary",
    title: `Site-level ${
      new Set(foldOf.values()).size
    }-fold cross-validation: every site tested once`,
    columns: [
      "model",
      "label",
      "seeds",
      "flux",
      "sites",
      "site-median R2",
      "mean R2",
      "mean clipped R2",
      "mean RMSE",
      "median RMSE",
    ],
    rows: summaryRows,
    notes: [...context.rules ?? []],
    provenance,
    sites: context.sites,
  });

  const comparisonTable = (
    name: string,
    title: string,
    rows: readonly CvComparison[],
    notes: string[],
  ): Table => ({
    name,
    title,
    columns: [
      "comparison",
      "flux",
      "statistic",
      "a",
      "b",
      "a - b",
      "95% CI low",
      "95% CI high",
      "Wilcoxon p",
      "sites",
      "verdict",
    ],
    rows: rows.map((c) => {
      const s = CV_STATISTICS.find((x) => statisticKey(x) === statisticKey(c))!;
      return [
        `${cvDisplayName(c.a_name)} - ${cvDisplayName(c.b_name)}`,
        c.flux,
        s.title,
        c.a,
        c.b,
        c.difference,
        c.lo,
        c.hi,
        c.wilcoxon.p,
        c.n,
        c.verdict,
      ];
    }),
    notes: [
      "a - b of the statistic over the sites where both are scored; 95 % percentile bootstrap " +
      `interval from ${resamples} resamples of sites (pairs kept together); Wilcoxon signed-rank ` +
      "p of the per-site differences; verdict (for a) only when the interval excludes 0 AND " +
      "p < 0.05 (lower RMSE, higher R2 is better).",
      ...notes,
      ...context.rules ?? [],
    ],
    provenance,
    sites: context.sites,
  });
  if (vsTrees.length) {
    await write(comparisonTable(
      "cv_vs_trees",
      `${cvDisplayName(ref)} vs the trees, site-level CV`,
      vsTrees,
      [],
    ));
  }
  if (candidates.length) {
    const desc = Object.entries(config.candidates).map(([k, c]) => `${k}: ${c.description}`);
    await write(comparisonTable(
      "cv_candidates",
      `Candidates for generalization: each minus ${cvDisplayName(candBase)}, site-level CV`,
      candidates,
      [`Candidates: ${desc.join("; ") || "none"}.`],
    ));
  }
  const siteRows: Cell[][] = sites.map((s) => [
    cvDisplayName(s.model),
    s.model,
    s.site,
    foldOf.get(s.site) ?? "",
    s.IGBP,
    s.KOPPEN_MAIN,
    s.flux,
    s.n,
    s.r2,
    s.r2_clipped,
    s.rmse,
    s.bias,
  ]);
  await write({
    name: "cv_sites",
    title: "Per-site metrics of the site-level cross-validation",
    columns: [
      "model",
      "label",
      "site",
      "fold",
      "IGBP",
      "KOPPEN_MAIN",
      "flux",
      "days",
      "R2",
      "clipped R2",
      "RMSE",
      "bias",
    ],
    rows: siteRows,
    notes: [...context.rules ?? []],
    provenance,
    sites: context.sites,
  });

  // cv_bias, cv_bias_worst and the bias map: the reference (and the trees) per site
  let bias: CvBiasRow[] = [];
  let figures: string[] = [];
  if (entries.some((e) => e.name === ref)) {
    const references = await foldStaticReferences(runDir, markers, { label: ref });
    const folds = [...new Set(foldOf.values())].sort();
    bias = cvBiasRows(sites, {
      models: [ref, ...(entries.some((e) => e.name === "trees") ? ["trees"] : [])],
      foldOf,
      references,
      siteTable: options.sites,
    });
    const out = await writeCvBias(bias, {
      tablesDir,
      figuresDir: join(runDir, "figures"),
      context,
      siteTable: options.sites,
      missingReferences: folds.filter((f) => !references.get(f)),
    });
    written.push(...out.tables);
    figures = out.figures;
  }
  return { tables: written, figures, bias, sites, foldOf, vsTrees, candidates, entries };
}

/**
 * One line per flux of the reference vs the trees, for the task's output and the README.
 *
 * @example
 * ```ts
 * import { describeVsTrees } from "./cv.ts";
 * describeVsTrees([]); // []
 * ```
 */
export function describeVsTrees(rows: readonly CvComparison[]): string[] {
  return rows.filter((c) => c.statistic === "median" || c.metric === "rmse").map((c) =>
    `${c.flux} ${c.statistic === "median" ? "site-median R2" : "mean RMSE"}: ` +
    `${c.a.toFixed(3)} vs ${c.b.toFixed(3)} (${fmt(c.difference)} [${fmt(c.lo)}, ${fmt(c.hi)}], p ${
      c.wilcoxon.p.toPrecision(2)
    }): ${c.verdict}`
  );
}
