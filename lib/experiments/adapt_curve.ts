/**
 * The adaptation curve over a site-level CV (issue 26): how much few-shot adaptation
 * (lib/predict/adapt.ts, methods z | film | linear) of each fold's TAM-RL ensemble gains over its
 * zero-shot prediction at the fold's test sites, as a function of the months of measured fluxes.
 *
 * Per (fold, site): the fold's reference ensemble (the run/ folders of every finished
 * `<reference>_<fold>_s<seed>` unit) is adapted with each method and each N of `months` (N = 0
 * is the zero-shot prediction, the plain ensemble), the months being the first N calendar months
 * with QC-good flux days ({@link adaptationPeriod}). Every method and every N is scored on the
 * SAME days: the days after the last calendar month of the largest N's period with NEE_QC >=
 * `qcThreshold` (the CV's scoring rule). The fluxes of those days are blanked (NaN) in the copy
 * of the record that adaptation reads, so nothing of the scoring period enters the loss or
 * "film"'s early stopping. A site whose record has fewer than max N months with QC-good fluxes,
 * or fewer than `minDays` scoring days after them, is UNSCORED for every N, with the reason in
 * its file (so the paired comparisons of every N are over one set of sites and days); a single
 * adaptation that fails (e.g. fewer QC-good days than one window in 1 month) leaves that cell
 * unscored with the reason, the other cells scored.
 *
 * One result file per (fold, site), `<out>/sites/<fold>/<site>.json`, written atomically;
 * existing files are skipped (a rerun resumes), and `shard` takes every n-th (fold, site) job.
 * {@link writeAdaptCurveReport} merges them into the table `adapt_curve` (csv, md, json) and the
 * figure `adapt_curve` (mean RMSE against months, one line per method, 95 % bootstrap bands, one
 * panel per flux).
 *
 * Not in it yet: a "trees" method (the fold's trees retrained with the test sites' first N months
 * added to the training rows); lib/models/trees `trainTrees` takes whole sites, not rows.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import pl from "polars";
import { z } from "zod";
import { writeJsonAtomic } from "../data/atomic.ts";
import type { Site } from "../data/sites.ts";
import { type FigureSpec, writeFigure } from "../eval/figures.ts";
import { type Flux, FLUXES } from "../eval/predictions.ts";
import { bootstrapMean, pairedStatistic } from "../eval/significance.ts";
import { type Cell, type Provenance, writeTable } from "../eval/tables.ts";
import { writeWeights } from "../models/weights.ts";
import { scoreSeries } from "../metrics/metrics.ts";
import {
  ADAPT_METHODS,
  adaptationPeriod,
  adaptationRecord,
  adaptEnsemble,
  type AdaptMethod,
  type AdaptResult,
  type FluxDaily,
  loadAdaptationSite,
  type LoadedEnsemble,
  loadEnsembleGroups,
  predictSites,
} from "../predict/mod.ts";
import {
  assignVariables,
  configHash,
  gitCommit,
  readJson,
  snapshotVariables,
} from "../train/runs.ts";
import { finishedUnits, type Shard, shardUnits, splitSpecOf } from "./plan.ts";

/** The default months of the curve (0: zero-shot). */
export const CURVE_MONTHS: readonly number[] = [0, 1, 3, 6, 12];

/** One fold of a CV run: its reference ensemble's member run folders and its test sites. */
export interface CurveFold {
  fold: string;
  runs: string[];
  testSites: string[];
}

/** One job of the curve: a test site of a fold. */
export interface CurveJob {
  fold: string;
  site: string;
}

const Metric = z.object({ n: z.number().int(), rmse: z.number(), r2: z.number() }).strict();
const num = z.number().or(z.null()); // NaN is written as null by JSON

/** One (method, N) cell of a site's curve. */
export const CurveCellSchema = z.object({
  /** "zero-shot" for N = 0. */
  method: z.enum([...ADAPT_METHODS, "zero-shot"]),
  months: z.number().int().nonnegative(),
  /** The months adapted on (YYYY-MM) and their QC-good days (empty for N = 0). */
  period: z.array(z.string()),
  qcGoodDays: z.number().int().nonnegative(),
  /** Why the cell has no metrics (a failed adaptation), or null. */
  reason: z.string().nullable(),
  /** Per flux on the scoring days; a flux with fewer than minDays observed days is absent. */
  metrics: z.partialRecord(z.enum(FLUXES), Metric.extend({ rmse: num, r2: num })).nullable(),
  /** Method "linear": the fitted map per flux. */
  linear: z.record(z.enum(FLUXES), z.tuple([z.number(), z.number()])).nullable(),
}).strict();
/** One (method, N) cell of a site's curve. */
export type CurveCell = z.output<typeof CurveCellSchema>;

/** The result file of one (fold, site). */
export const SiteCurveSchema = z.object({
  version: z.literal(1),
  fold: z.string(),
  site: z.string(),
  members: z.array(z.string()),
  months: z.array(z.number().int().nonnegative()),
  methods: z.array(z.enum(ADAPT_METHODS)),
  qcThreshold: z.number(),
  adaptQcThreshold: z.number(),
  minDays: z.number().int(),
  /** The scoring days (the same for every cell), or null when the site is unscored. */
  scoring: z.object({
    afterMonth: z.string(),
    firstDate: z.string(),
    lastDate: z.string(),
    days: z.number().int().positive(),
  }).strict().nullable(),
  /** Why the site is unscored, or null. */
  unscored: z.string().nullable(),
  cells: z.array(CurveCellSchema),
  backend: z.string(),
  seconds: z.number().nonnegative(),
}).strict();
/** The result file of one (fold, site). */
export type SiteCurve = z.output<typeof SiteCurveSchema>;

/**
 * The folds of a CV run folder: for every kfold split, the run/ folders of the finished units of
 * the reference label (seeds in order) and their test sites (the same in every seed, or an error).
 *
 * @example
 * ```ts ignore
 * const folds = await curveFolds("results/cv_final");
 * console.log(folds.map((f) => `${f.fold}: ${f.runs.length} members, ${f.testSites.length} sites`));
 * ```
 */
export async function curveFolds(
  cvDir: string,
  options: { reference?: string } = {},
): Promise<CurveFold[]> {
  const reference = options.reference ?? "tamrl";
  const markers = (await finishedUnits(cvDir)).filter((m) =>
    m.unit.label === reference && splitSpecOf(m.unit.split).kind === "kfold"
  );
  if (markers.length === 0) {
    throw new Error(`adapt_curve: no finished ${reference} CV unit under ${cvDir}/units`);
  }
  const byFold = new Map<string, typeof markers>();
  for (const m of markers) byFold.set(m.unit.split, [...(byFold.get(m.unit.split) ?? []), m]);
  return [...byFold.keys()].sort().map((fold) => {
    const ms = byFold.get(fold)!.sort((a, b) => a.unit.seed - b.unit.seed);
    const sites = [...ms[0].outcome.testSites].sort();
    for (const m of ms) {
      const other = [...m.outcome.testSites].sort();
      if (JSON.stringify(other) !== JSON.stringify(sites)) {
        throw new Error(
          `adapt_curve: ${cvDir}/units/${m.unit.id}/done.json: test sites differ from ` +
            `${ms[0].unit.id}'s (the seeds of fold ${fold} must share the split)`,
        );
      }
    }
    return { fold, runs: ms.map((m) => join(cvDir, "units", m.unit.id, "run")), testSites: sites };
  });
}

/**
 * The jobs of the curve, fold by fold and site by site, and the shard's share of them (every
 * n-th job starting at i, as `deno task cv --shard`).
 *
 * @example
 * ```ts
 * import { curveJobs } from "./adapt_curve.ts";
 * const jobs = curveJobs([{ fold: "cv0of2", runs: [], testSites: ["A", "B"] }], { index: 1, count: 2 });
 * console.log(jobs); // [{ fold: "cv0of2", site: "B" }]
 * ```
 */
export function curveJobs(folds: readonly CurveFold[], shard?: Shard): CurveJob[] {
  const all = folds.flatMap((f) => f.testSites.map((site) => ({ fold: f.fold, site })));
  return shard ? shardUnits(all, shard) : all;
}

/** The path of a (fold, site) result file. */
export function siteCurvePath(out: string, job: CurveJob): string {
  return join(out, "sites", job.fold, `${job.site}.json`);
}

function ym(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 7);
}

function iso(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** What {@link scoringDays} returns. */
export interface ScoringDays {
  /** Per row: 1 on a scoring day. */
  score: Uint8Array;
  /** First row after the largest period (fluxes from here on are hidden from adaptation). */
  start: number;
  afterMonth: string;
  days: number;
}

/**
 * The scoring days of a site: the days after the last calendar month of the first `maxMonths`
 * months with QC-good flux days (NEE_QC >= `adaptQcThreshold`, as {@link adaptationPeriod}), with
 * NEE and NEE_QC >= `qcThreshold`. A string (the reason) when the record has fewer such months,
 * or fewer than `minDays` scoring days after them.
 *
 * @example
 * ```ts ignore
 * const s = scoringDays(daily, { maxMonths: 12, qcThreshold: 1, adaptQcThreshold: 0.8, minDays: 10 });
 * ```
 */
export function scoringDays(
  daily: Pick<FluxDaily, "days" | "fluxes" | "file">,
  options: { maxMonths: number; qcThreshold: number; adaptQcThreshold: number; minDays: number },
): ScoringDays | string {
  const { days, fluxes } = daily;
  let afterMonth: string;
  if (options.maxMonths === 0) {
    afterMonth = "0000-00";
  } else {
    try {
      const p = adaptationPeriod(daily, {
        months: options.maxMonths,
        qcThreshold: options.adaptQcThreshold,
      });
      afterMonth = p.months.at(-1)!;
    } catch (error) {
      return `fewer than ${options.maxMonths} months with QC-good fluxes: ${
        (error as Error).message
      }`;
    }
  }
  let start = days.length;
  for (let i = 0; i < days.length; i++) {
    if (ym(days[i]) > afterMonth) {
      start = i;
      break;
    }
  }
  const score = new Uint8Array(days.length);
  let n = 0;
  for (let i = start; i < days.length; i++) {
    if (Number.isFinite(fluxes.NEE[i]) && fluxes.NEE_QC[i] >= options.qcThreshold) {
      score[i] = 1;
      n++;
    }
  }
  if (n < options.minDays) {
    return `${n} scoring day(s) (NEE_QC >= ${options.qcThreshold}) after ${afterMonth}, ` +
      `fewer than ${options.minDays}`;
  }
  return { score, start, afterMonth, days: n };
}

/** The record with the fluxes of rows >= `start` blanked: what adaptation reads. */
function hideFrom(daily: FluxDaily, start: number): FluxDaily {
  const cut = (a: Float64Array) => Float64Array.from(a, (v, i) => (i < start ? v : NaN));
  const f = daily.fluxes;
  return {
    ...daily,
    fluxes: { GPP: cut(f.GPP), RECO: cut(f.RECO), NEE: cut(f.NEE), NEE_QC: cut(f.NEE_QC) },
  };
}

/** Adaptation records that make predict apply an in-memory adaptation result. */
function adaptedView(group: LoadedEnsemble, result: AdaptResult): LoadedEnsemble {
  const records = result.members.map((m, k) =>
    adaptationRecord(result, k, {
      run: m.dir,
      member: m.dir,
      weights: group.weights,
      weightsSha256: "0".repeat(64),
    })
  );
  return { ...group, adaptations: records, adaptation: records[0], dispose() {} };
}

/** Options of {@link adaptSiteCurve} and {@link runAdaptCurve}. */
export interface AdaptCurveOptions {
  /** Months of the curve (default {@link CURVE_MONTHS}; 0 is always added). */
  months?: readonly number[];
  /** Methods (default every method of lib/predict/adaptation.ts). */
  methods?: readonly AdaptMethod[];
  /** Daily files, site table and monthly folder of the sites (default: the data folder's). */
  data: string;
  sites: string;
  monthly?: string;
  /** NEE_QC of a scoring day (default 1.0, the CV's `eval.qcThreshold` default). */
  qcThreshold?: number;
  /** NEE_QC of an adaptation day and of the months' definition (default 0.8, as adapt). */
  adaptQcThreshold?: number;
  /** Scoring days a site (and a flux) needs (default 10, the CV's `eval.minDays` default). */
  minDays?: number;
  /** Adam steps, learning rate and support seed of the adaptations (adapt's defaults). */
  steps?: number;
  lr?: number;
  seed?: number;
  log?: (line: string) => void;
}

function resolved(options: AdaptCurveOptions) {
  const months = [...new Set([0, ...(options.months ?? CURVE_MONTHS)])].sort((a, b) => a - b);
  if (months.some((m) => !Number.isInteger(m) || m < 0)) {
    throw new Error(`adapt_curve: months must be whole numbers >= 0, got ${months.join(",")}`);
  }
  return {
    months,
    methods: [...(options.methods ?? ADAPT_METHODS)],
    qcThreshold: options.qcThreshold ?? 1.0,
    adaptQcThreshold: options.adaptQcThreshold ?? 0.8,
    minDays: options.minDays ?? 10,
  };
}

/** Per-flux metrics of predictions (`predictSites` frame columns) on the scoring rows. */
function scoreFrame(
  pred: Record<Flux, (number | null)[]>,
  daily: FluxDaily,
  score: Uint8Array,
  minDays: number,
): CurveCell["metrics"] {
  const out: NonNullable<CurveCell["metrics"]> = {};
  for (const flux of FLUXES) {
    const obs: number[] = [], p: (number | null)[] = [];
    for (let i = 0; i < score.length; i++) {
      if (!score[i]) continue;
      obs.push(daily.fluxes[flux][i]);
      p.push(pred[flux][i]);
    }
    const m = scoreSeries(obs.map((v) => (Number.isFinite(v) ? v : null)), p);
    if (m.n >= minDays) out[flux] = { n: m.n, rmse: m.rmse, r2: m.r2 };
  }
  return out;
}

/**
 * The curve of one site of one fold: zero-shot, then each method and N adapted (on the record
 * with the scoring period's fluxes hidden) and predicted on the scoring days. The ensemble's
 * models are left as they were.
 *
 * @example
 * ```ts ignore
 * const ens = await loadEnsembleGroups(fold.runs);
 * const r = await adaptSiteCurve(ens.groups, { fold: "cv0of5", site: "DE-Tha" }, { data, sites });
 * ```
 */
export async function adaptSiteCurve(
  groups: readonly LoadedEnsemble[],
  job: CurveJob,
  options: AdaptCurveOptions,
): Promise<SiteCurve> {
  const t0 = performance.now();
  const r = resolved(options);
  const ens = { groups: [...groups], dirs: groups.flatMap((g) => g.dirs), dispose() {} };
  const s = await loadAdaptationSite(ens, {
    data: options.data,
    sites: options.sites,
    monthly: options.monthly,
    site: job.site,
  });
  const base: Omit<SiteCurve, "scoring" | "unscored" | "cells" | "seconds"> = {
    version: 1,
    fold: job.fold,
    site: job.site,
    members: s.group.dirs,
    months: r.months,
    methods: r.methods,
    qcThreshold: r.qcThreshold,
    adaptQcThreshold: r.adaptQcThreshold,
    minDays: r.minDays,
    backend: tf.getBackend(),
  };
  const scoring = scoringDays(s.daily, {
    maxMonths: r.months.at(-1)!,
    qcThreshold: r.qcThreshold,
    adaptQcThreshold: r.adaptQcThreshold,
    minDays: r.minDays,
  });
  const seconds = () => (performance.now() - t0) / 1000;
  if (typeof scoring === "string") {
    return { ...base, scoring: null, unscored: scoring, cells: [], seconds: seconds() };
  }
  const rows = new Map<number, number>();
  s.daily.days.forEach((d, i) => rows.set(d, i));
  const predict = async (view: LoadedEnsemble) => {
    const { frame } = await predictSites(view, {
      data: options.data,
      sites: options.sites,
      monthly: options.monthly,
      only: [job.site],
      seed: options.seed,
    });
    const days = frame.getColumn("date").cast(pl.Int32).toArray() as number[];
    const out = Object.fromEntries(
      FLUXES.map((f) => [f, new Array<number | null>(s.daily.days.length).fill(null)]),
    ) as Record<Flux, (number | null)[]>;
    for (const f of FLUXES) {
      const col = frame.getColumn(f).toArray() as (number | null)[];
      days.forEach((d, k) => {
        const i = rows.get(d);
        if (i !== undefined) out[f][i] = col[k];
      });
    }
    return out;
  };
  const cells: CurveCell[] = [];
  const zero = await predict(s.group);
  cells.push({
    method: "zero-shot",
    months: 0,
    period: [],
    qcGoodDays: 0,
    reason: null,
    metrics: scoreFrame(zero, s.daily, scoring.score, r.minDays),
    linear: null,
  });
  const hidden = hideFrom(s.daily, scoring.start);
  for (const method of r.methods) {
    for (const months of r.months.filter((m) => m > 0)) {
      let result: AdaptResult;
      try {
        result = adaptEnsemble(s.group, { site: s.site, daily: hidden }, {
          method,
          months,
          modis: s.modis,
          qcThreshold: r.adaptQcThreshold,
          steps: options.steps,
          lr: options.lr,
          seed: options.seed,
        });
      } catch (error) {
        cells.push({
          method,
          months,
          period: [],
          qcGoodDays: 0,
          reason: (error as Error).message,
          metrics: null,
          linear: null,
        });
        options.log?.(`adapt_curve ${job.fold} ${job.site} ${method} ${months}: ${error}`);
        continue;
      }
      // method "film": the fine-tuned weights into the models for the prediction, then back
      const tuned = result.members.some((m) => m.weights);
      const originals = tuned ? s.group.models.map((m) => snapshotVariables(m.variables)) : [];
      let pred: Record<Flux, (number | null)[]>;
      try {
        result.members.forEach((member, k) => {
          if (member.weights) writeWeights(s.group.models[k].variables, member.weights);
        });
        pred = await predict(adaptedView(s.group, result));
      } finally {
        originals.forEach((o, k) => assignVariables(s.group.models[k].variables, o));
        for (const o of originals) tf.dispose([...o.values()]);
      }
      cells.push({
        method,
        months,
        period: result.period.months,
        qcGoodDays: result.period.qcGoodDays,
        reason: null,
        metrics: scoreFrame(pred, s.daily, scoring.score, r.minDays),
        linear: result.linear,
      });
    }
  }
  return {
    ...base,
    scoring: {
      afterMonth: scoring.afterMonth,
      firstDate: iso(s.daily.days[scoring.score.indexOf(1)]),
      lastDate: iso(s.daily.days[scoring.score.lastIndexOf(1)]),
      days: scoring.days,
    },
    unscored: null,
    cells,
    seconds: seconds(),
  };
}

/** Read a (fold, site) result file (null when absent; an invalid one is an error naming it). */
export async function readSiteCurve(path: string): Promise<SiteCurve | null> {
  let json: unknown;
  try {
    json = await readJson(path); // a broken file is an error naming it
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const parsed = SiteCurveSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * Run the curve over a CV run folder: every (fold, site) job of the shard whose result file does
 * not exist yet (one ensemble load per fold). A result file written with other months, methods or
 * thresholds is an error naming it (use another `out`).
 *
 * @example
 * ```ts ignore
 * const r = await runAdaptCurve("results/cv_final", {
 *   out: "results/cv_final/adapt_curve", data, sites, monthly, months: [0, 1, 3],
 * });
 * console.log(r.ran.length, r.skipped.length);
 * ```
 */
export async function runAdaptCurve(
  cvDir: string,
  options: AdaptCurveOptions & { out: string; shard?: Shard; reference?: string },
): Promise<{ ran: string[]; skipped: string[]; folds: CurveFold[] }> {
  const r = resolved(options);
  const folds = await curveFolds(cvDir, { reference: options.reference });
  const jobs = curveJobs(folds, options.shard);
  const ran: string[] = [], skipped: string[] = [];
  const log = options.log ?? (() => {});
  for (const fold of folds) {
    const todo: CurveJob[] = [];
    for (const job of jobs.filter((j) => j.fold === fold.fold)) {
      const path = siteCurvePath(options.out, job);
      const existing = await readSiteCurve(path);
      if (existing) {
        const key = (c: Pick<SiteCurve, "months" | "methods" | "qcThreshold" | "minDays">) =>
          JSON.stringify([c.months, c.methods, c.qcThreshold, c.minDays]);
        if (key(existing) !== key(r) || existing.adaptQcThreshold !== r.adaptQcThreshold) {
          throw new Error(
            `adapt_curve: ${path} was written with other months, methods or thresholds ` +
              `(${existing.months.join(",")}; ${existing.methods.join(",")}): use another --out`,
          );
        }
        skipped.push(path);
      } else todo.push(job);
    }
    if (todo.length === 0) continue;
    const ens = await loadEnsembleGroups(fold.runs);
    try {
      for (const job of todo) {
        const result = await adaptSiteCurve(ens.groups, job, options);
        const path = siteCurvePath(options.out, job);
        await Deno.mkdir(join(options.out, "sites", job.fold), { recursive: true });
        await writeJsonAtomic(path, SiteCurveSchema.parse(result));
        ran.push(path);
        log(
          `adapt_curve: ${job.fold} ${job.site}: ${
            result.unscored ? `unscored (${result.unscored})` : `${result.scoring!.days} scoring ` +
              `days after ${result.scoring!.afterMonth}`
          }, ${result.seconds.toFixed(1)} s`,
        );
      }
    } finally {
      ens.dispose();
    }
  }
  return { ran, skipped, folds };
}

/** Every result file under `<out>/sites` (fold, then site order). */
export async function readSiteCurves(out: string): Promise<SiteCurve[]> {
  const dir = join(out, "sites");
  const found: SiteCurve[] = [];
  let folds: string[];
  try {
    folds = [...Deno.readDirSync(dir)].filter((e) => e.isDirectory).map((e) => e.name).sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  for (const fold of folds) {
    const files = [...Deno.readDirSync(join(dir, fold))]
      .filter((e) => e.isFile && e.name.endsWith(".json")).map((e) => e.name).sort();
    for (const f of files) found.push((await readSiteCurve(join(dir, fold, f)))!);
  }
  return found;
}

/** One row of the `adapt_curve` table. */
export interface CurveRow {
  method: AdaptMethod;
  months: number;
  flux: Flux;
  sites: number;
  medianR2: number;
  meanRmse: number;
  /** 95 % bootstrap interval of the mean RMSE over the sites (the figure's band). */
  rmseLo: number;
  rmseHi: number;
  /** Adapted - zero-shot at the common sites (null for N = 0). */
  dRmse: ReturnType<typeof pairedStatistic> | null;
  dMedianR2: ReturnType<typeof pairedStatistic> | null;
}

function cellValues(
  curves: readonly SiteCurve[],
  method: AdaptMethod | "zero-shot",
  months: number,
  flux: Flux,
  metric: "rmse" | "r2",
): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of curves) {
    const cell = c.cells.find((x) => x.method === method && x.months === months);
    const v = cell?.metrics?.[flux]?.[metric];
    if (typeof v === "number" && Number.isFinite(v)) out.set(`${c.fold}/${c.site}`, v);
  }
  return out;
}

function median(values: number[]): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The rows of the `adapt_curve` table: per method, N and flux the sites scored, the site-median
 * R2, the mean RMSE (and its bootstrap interval), and for N > 0 the paired difference from the
 * zero-shot prediction at the common sites (lib/eval/significance.ts `pairedStatistic`: mean
 * RMSE, site-median R2; its interval, Wilcoxon p and resolved flag).
 *
 * @example
 * ```ts ignore
 * const rows = adaptCurveRows(await readSiteCurves("results/cv/adapt_curve"), { resamples: 1000 });
 * ```
 */
export function adaptCurveRows(
  curves: readonly SiteCurve[],
  options: { resamples?: number; seed?: number } = {},
): CurveRow[] {
  const months = [...new Set(curves.flatMap((c) => c.months))].sort((a, b) => a - b);
  const methods = ADAPT_METHODS.filter((m) => curves.some((c) => c.methods.includes(m)));
  const rows: CurveRow[] = [];
  for (const method of methods) {
    for (const n of months) {
      for (const flux of FLUXES) {
        const cm = n === 0 ? "zero-shot" : method;
        const rmse = cellValues(curves, cm, n, flux, "rmse");
        const r2 = cellValues(curves, cm, n, flux, "r2");
        const ci = bootstrapMean([...rmse.values()], options);
        const paired = (metric: "rmse" | "r2", statistic: "mean" | "median") =>
          pairedStatistic(
            metric === "rmse" ? rmse : r2,
            cellValues(curves, "zero-shot", 0, flux, metric),
            { statistic, ...options },
          );
        rows.push({
          method,
          months: n,
          flux,
          sites: rmse.size,
          medianR2: median([...r2.values()]),
          meanRmse: ci.mean,
          rmseLo: ci.lo,
          rmseHi: ci.hi,
          dRmse: n === 0 ? null : paired("rmse", "mean"),
          dMedianR2: n === 0 ? null : paired("r2", "median"),
        });
      }
    }
  }
  return rows;
}

/**
 * The figure: mean RMSE against months, one line per method with its 95 % bootstrap band, one
 * panel per flux (independent y scales).
 *
 * @example
 * ```ts ignore
 * const spec = adaptCurveSpec(adaptCurveRows(curves));
 * ```
 */
export function adaptCurveSpec(rows: readonly CurveRow[]): FigureSpec {
  const values = rows.filter((r) => Number.isFinite(r.meanRmse)).map((r) => ({
    method: r.method,
    months: r.months,
    flux: r.flux,
    rmse: r.meanRmse,
    lo: r.rmseLo,
    hi: r.rmseHi,
    sites: r.sites,
  }));
  const x = { field: "months", type: "quantitative", title: "months of measured fluxes" } as const;
  const color = { field: "method", type: "nominal", title: "method" } as const;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Few-shot adaptation over the site-level CV: mean RMSE on the days after the months",
    data: { values },
    facet: { column: { field: "flux", type: "nominal", sort: [...FLUXES], title: null } },
    spec: {
      width: 220,
      height: 180,
      layer: [
        {
          mark: { type: "area", opacity: 0.2 },
          encoding: {
            x,
            y: { field: "lo", type: "quantitative", title: "mean RMSE (gC m-2 d-1)" },
            y2: { field: "hi" },
            color,
          },
        },
        {
          mark: { type: "line", point: true },
          encoding: {
            x,
            y: { field: "rmse", type: "quantitative" },
            color,
            tooltip: [
              { field: "method" },
              { field: "months" },
              { field: "rmse", format: ".3f" },
              { field: "sites" },
            ],
          },
        },
      ],
    },
    resolve: { scale: { y: "independent" } },
  } as FigureSpec;
}

/**
 * Write the table `adapt_curve` (csv, md, json) and the figure `adapt_curve` (vega-lite spec,
 * SVG, PNG) of the result files under `<out>/sites` into `out`.
 *
 * @example
 * ```ts ignore
 * const files = await writeAdaptCurveReport("results/cv_final/adapt_curve", { resamples: 10_000 });
 * ```
 */
export async function writeAdaptCurveReport(
  out: string,
  options: { resamples?: number; siteTable?: readonly Site[]; run?: string } = {},
): Promise<{ files: string[]; rows: CurveRow[]; unscored: SiteCurve[] }> {
  const curves = await readSiteCurves(out);
  if (curves.length === 0) throw new Error(`adapt_curve: no result file under ${out}/sites`);
  const rows = adaptCurveRows(curves, { resamples: options.resamples });
  const unscored = curves.filter((c) => c.unscored !== null);
  const scored = curves.filter((c) => c.unscored === null);
  const f = (v: number | undefined | null, d = 3) =>
    typeof v === "number" && Number.isFinite(v) ? Number(v.toFixed(d)) : null;
  const diff = (p: CurveRow["dRmse"]): Cell[] =>
    p ? [f(p.difference), f(p.lo), f(p.hi), f(p.wilcoxon.p, 4), p.resolved ? "yes" : "no"] : [
      null,
      null,
      null,
      null,
      "",
    ];
  const first = curves[0];
  const doi = new Map((options.siteTable ?? []).map((s) => [s.SITE_ID, s.DOI ?? null]));
  const provenance: Provenance = {
    gitCommit: await gitCommit(),
    configHash: (await configHash({
      months: first.months,
      methods: first.methods,
      qcThreshold: first.qcThreshold,
      adaptQcThreshold: first.adaptQcThreshold,
      minDays: first.minDays,
    })).slice(0, 16),
    seeds: [],
    backend: [...new Set(curves.map((c) => c.backend))].join(", "),
    dataSummary: `${curves.length} (fold, site) results in ${
      new Set(curves.map((c) => c.fold)).size
    } folds: ${scored.length} scored, ${unscored.length} unscored`,
    wallTimeSeconds: curves.reduce((s, c) => s + c.seconds, 0),
    run: options.run,
    generatedAt: new Date().toISOString(),
  };
  const files = await writeTable({
    name: "adapt_curve",
    title: "Few-shot adaptation curve over the site-level CV: adapted vs zero-shot (N = 0)",
    columns: [
      "method",
      "months",
      "flux",
      "sites",
      "site-median R2",
      "mean RMSE",
      "mean RMSE lo",
      "mean RMSE hi",
      "d mean RMSE",
      "d RMSE lo",
      "d RMSE hi",
      "d RMSE Wilcoxon p",
      "d RMSE resolved",
      "d median R2",
      "d median R2 lo",
      "d median R2 hi",
      "d median R2 Wilcoxon p",
      "d median R2 resolved",
    ],
    rows: rows.map((r) => [
      r.method,
      r.months,
      r.flux,
      r.sites,
      f(r.medianR2),
      f(r.meanRmse),
      f(r.rmseLo),
      f(r.rmseHi),
      ...diff(r.dRmse),
      ...diff(r.dMedianR2),
    ]),
    notes: [
      `Per (fold, site): the fold's TAM-RL ensemble adapted with each method on the first N ` +
      `calendar months with QC-good flux days (NEE_QC >= ${first.adaptQcThreshold}); N = 0 is ` +
      `the zero-shot prediction (the same numbers in every method's N = 0 row).`,
      `Every method and N is scored on the same days: those after the last month of the largest ` +
      `N (${Math.max(...first.months)})'s period with NEE_QC >= ${first.qcThreshold}; their ` +
      `fluxes are hidden from adaptation. A flux needs ${first.minDays} such days.`,
      `Sites without ${Math.max(...first.months)} months with QC-good fluxes or without ` +
      `${first.minDays} scoring days after them are unscored (${unscored.length}: ${
        unscored.map((c) => c.site).join(", ") || "none"
      }).`,
      `d = adapted - zero-shot at the common sites (mean RMSE, site-median R2), 95 % percentile ` +
      `bootstrap over sites and the Wilcoxon signed-rank p of the per-site differences; ` +
      `resolved: the interval excludes 0 and p < 0.05 (lib/eval/significance.ts).`,
    ],
    provenance,
    sites: [...new Set(scored.map((c) => c.site))].sort().map((site) => ({
      site,
      doi: doi.get(site) ?? null,
      role: "test" as const,
    })),
  }, out);
  files.push(...await writeFigure(adaptCurveSpec(rows), { dir: out, name: "adapt_curve" }));
  return { files, rows, unscored };
}
