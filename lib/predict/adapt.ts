/**
 * Few-shot adaptation of a trained ensemble to a new tower (issue 26): from the first months of a
 * site's measured fluxes, adapt every member and write a run folder that `deno task predict`
 * takes like any other (lib/predict/adaptation.ts for the record and how predict applies it).
 *
 * Methods ({@link adaptEnsemble}): "z" (TAM-RL's inner loop: each member's z starts at the
 * encoder's mean over the site's support pool and takes `steps` full-batch Adam steps on the
 * loss of the adaptation days, the decoder and encoder frozen); "film" (z plus the FiLM layers
 * `decoder/film_*` and the output layer `head/*`, a small learning rate, early stopping on the
 * loss of the last `validationShare` of the adaptation windows, the best step's parameters
 * kept); "linear" (per flux, least squares y = a p + b of the observed fluxes on the zero-shot
 * ensemble mean p, applied after the mean; the simple baseline).
 *
 * The months: the first `months` calendar months of the record that have QC-good flux days
 * (NEE_VUT_REF present and NEE_VUT_REF_QC >= `qcThreshold`, default 0.8), or every such month up
 * to `until` (YYYY-MM). Fluxes of days outside them, and of days that are not QC-good, are never
 * read into the loss (the evaluation period stays untouched); drivers of the whole record are
 * used as in zero-shot prediction (features, and the encoder's support pool). The loss is
 * training's `lossTerms` (QC-weighted squared error on the standardized scale plus the balance
 * term, class weights off: one site) on the last `stride` days of training-grid windows.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { basename, join, relative, resolve } from "node:path";
import { type Batch, disposeBatch, WindowBatchSource } from "../data/batches.ts";
import { FluxnetInputError } from "../data/fluxnet.ts";
import { loadModisMonthly, type ModisMonthly } from "../data/modis.ts";
import { PLAUSIBLE_RANGES } from "../data/ranges.ts";
import { parseTrailingName } from "../data/trailing.ts";
import type { WindowRef } from "../data/windows.ts";
import { encodeWeights, type NamedWeight, readWeights } from "../models/weights.ts";
import { type LossOptions, lossTerms } from "../train/loss.ts";
import { Adam } from "../train/optim.ts";
import { ensembleInference, poolEmbedding } from "../train/predict.ts";
import { applyWithHeads } from "../models/heads.ts";
import {
  assignVariables,
  atomicWrite,
  exists,
  runPaths,
  snapshotVariables,
} from "../train/runs.ts";
import { type Adaptation, type AdaptMethod, writeAdaptation } from "./adaptation.ts";
import type { LoadedEnsemble, LoadEnsembleOptions } from "./ensemble.ts";
import { type EnsembleGroups, loadEnsembleGroups } from "./groups.ts";
import {
  checkDriverConsistency,
  checkDriverLatitude,
  checkDriverUnits,
  type DriverDaily,
  FILE_DRIVERS,
  type FileDriver,
  listDriverFiles,
  loadPredictionSites,
  parseDriverDaily,
  type PredictionSite,
  requireFolder,
} from "./inputs.ts";
import { applyLinear, checkStatics, groupOf, siteInputs } from "./predict.ts";

/** The flux columns adaptation reads (FLUXNET2015 names; RECO optional: GPP + NEE). */
export const FLUX_COLUMNS = {
  NEE: "NEE_VUT_REF",
  NEE_QC: "NEE_VUT_REF_QC",
  GPP: "GPP_NT_VUT_REF",
  RECO: "RECO_NT_VUT_REF",
} as const;

/** A site's daily drivers plus its measured fluxes (NaN where missing). */
export interface FluxDaily extends DriverDaily {
  fluxes: { GPP: Float64Array; RECO: Float64Array; NEE: Float64Array; NEE_QC: Float64Array };
}

/**
 * Parse a FLUXNET2015-style daily file for adaptation: the drivers (lib/predict
 * `parseDriverDaily`) and the flux columns of {@link FLUX_COLUMNS} (`-9999`/empty: missing; RECO
 * = GPP + NEE without RECO_NT_VUT_REF, as the loader derives it). A file without NEE_VUT_REF,
 * NEE_VUT_REF_QC or GPP_NT_VUT_REF, a non-numeric cell or an implausible flux is an error naming
 * the file, the column and the line.
 *
 * @example
 * ```ts
 * import { parseFluxDaily } from "./adapt.ts";
 * const text = "TIMESTAMP,TA_F,NEE_VUT_REF,NEE_VUT_REF_QC,GPP_NT_VUT_REF\n20120101,5,1,0.9,2\n";
 * const d = parseFluxDaily(text, { file: "f.csv", site: "FR-Pue", drivers: ["TA_F"] });
 * console.log(d.fluxes.RECO[0]); // 3
 * ```
 */
export function parseFluxDaily(
  text: string,
  options: { file: string; site: string; drivers: readonly FileDriver[] },
): FluxDaily {
  const daily = parseDriverDaily(text, options);
  const lines = text.split("\n");
  const header = lines[0].replace(/^\uFEFF/, "").replace(/\r$/, "").split(",").map((h) => h.trim());
  const need = [FLUX_COLUMNS.NEE, FLUX_COLUMNS.NEE_QC, FLUX_COLUMNS.GPP];
  const missing = need.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new FluxnetInputError(
      `no flux column${missing.length > 1 ? "s" : ""} ${missing.join(", ")}: adaptation needs ` +
        `the site's measured ${need.join(", ")} (RECO_NT_VUT_REF optional)`,
      { file: options.file, column: missing.join(", "), line: 1 },
    );
  }
  const read = (column: string, range: { min: number; max: number } | null) => {
    const i = header.indexOf(column);
    if (i < 0) return null;
    return Float64Array.from(daily.lines, (line) => {
      const s = lines[line - 1].replace(/\r$/, "").split(",")[i].trim();
      const x = s === "" ? -9999 : Number(s);
      if (!Number.isFinite(x)) {
        throw new FluxnetInputError(`non-numeric value "${s}"`, {
          file: options.file,
          column,
          line,
        });
      }
      if (x === -9999) return NaN;
      if (range && (x < range.min || x > range.max)) {
        throw new FluxnetInputError(
          `implausible value ${x} (plausible ${range.min} .. ${range.max})`,
          { file: options.file, column, line },
        );
      }
      return x;
    });
  };
  const NEE = read(FLUX_COLUMNS.NEE, PLAUSIBLE_RANGES.NEE)!;
  const GPP = read(FLUX_COLUMNS.GPP, PLAUSIBLE_RANGES.GPP)!;
  const NEE_QC = read(FLUX_COLUMNS.NEE_QC, { min: 0, max: 1 })!;
  const RECO = read(FLUX_COLUMNS.RECO, PLAUSIBLE_RANGES.RECO) ??
    Float64Array.from(GPP, (g, i) => g + NEE[i]);
  return { ...daily, fluxes: { GPP, RECO, NEE, NEE_QC } };
}

function ym(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 7);
}

function iso(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** The adaptation period of a site: see {@link adaptationPeriod}. */
export interface AdaptationPeriod {
  months: string[];
  /** Per row: 1 when the day is a QC-good flux day of the months used. */
  good: Uint8Array;
  qcGoodDays: number;
  firstDate: string | null;
  lastDate: string | null;
}

/**
 * The months used for adaptation: the first `months` calendar months of the record with a QC-good
 * flux day (NEE present, NEE_QC >= `qcThreshold`), or those up to `until` (YYYY-MM, inclusive).
 * Asking for more months than the record has, or an `until` past the record's last day or before
 * its first QC-good month, is an error naming the file and the month.
 *
 * @example
 * ```ts ignore
 * const period = adaptationPeriod(daily, { months: 3, qcThreshold: 0.8 });
 * console.log(period.months, period.qcGoodDays);
 * ```
 */
export function adaptationPeriod(
  daily: Pick<FluxDaily, "days" | "fluxes" | "file">,
  options: { months?: number; until?: string; qcThreshold: number },
): AdaptationPeriod {
  const { days, fluxes } = daily;
  const n = days.length;
  if ((options.months === undefined) === (options.until === undefined)) {
    throw new Error("adapt: give exactly one of months and until");
  }
  const goodDay = (i: number) =>
    Number.isFinite(fluxes.NEE[i]) && fluxes.NEE_QC[i] >= options.qcThreshold;
  const withGood = [...new Set([...days].filter((_, i) => goodDay(i)).map(ym))].sort();
  let months: string[];
  const what = `QC-good flux days (${FLUX_COLUMNS.NEE} with ${FLUX_COLUMNS.NEE_QC} >= ` +
    `${options.qcThreshold})`;
  if (options.months !== undefined) {
    if (options.months > withGood.length) {
      throw new FluxnetInputError(
        `${options.months} month(s) asked for, but the record has ${what} in only ` +
          `${withGood.length} month(s)${
            withGood.length ? ` (${withGood[0]}..${withGood.at(-1)})` : ""
          }; the months after ${withGood.at(-1) ?? "its start"} are past the end of the record`,
        { file: daily.file, column: FLUX_COLUMNS.NEE },
      );
    }
    months = withGood.slice(0, options.months);
  } else {
    const until = options.until!;
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(until)) {
      throw new Error(`adapt: until "${until}" is not a month YYYY-MM`);
    }
    if (until > ym(days[n - 1])) {
      throw new FluxnetInputError(
        `month ${until} is past the end of the record (its last day is ${iso(days[n - 1])})`,
        { file: daily.file, column: "TIMESTAMP" },
      );
    }
    months = withGood.filter((m) => m <= until);
    if (months.length === 0) {
      throw new FluxnetInputError(
        `no ${what} up to ${until} (the first is in ${withGood[0] ?? "no month"})`,
        { file: daily.file, column: FLUX_COLUMNS.NEE },
      );
    }
  }
  const chosen = new Set(months);
  const good = Uint8Array.from(days, (d, i) => (chosen.has(ym(d)) && goodDay(i) ? 1 : 0));
  const rows = [...good.keys()].filter((i) => good[i]);
  return {
    months,
    good,
    qcGoodDays: rows.length,
    firstDate: rows.length ? iso(days[rows[0]]) : null,
    lastDate: rows.length ? iso(days[rows.at(-1)!]) : null,
  };
}

/** Options of {@link adaptEnsemble}. */
export interface AdaptOptions {
  method: AdaptMethod;
  /** The first N months with QC-good fluxes (0: no adaptation, the source run's predictions). */
  months?: number;
  /** Every month with QC-good fluxes up to this one (YYYY-MM). */
  until?: string;
  /** Monthly MODIS/precipitation of the site, when the members read them. */
  modis?: ReadonlyMap<string, ModisMonthly>;
  /** NEE_VUT_REF_QC a day needs to enter the loss (default 0.8, data:summary's threshold). */
  qcThreshold?: number;
  /** Adam learning rate (default 0.05 for "z", 0.003 for "film"). */
  lr?: number;
  /** Full-batch steps (default 200). */
  steps?: number;
  /** "film": steps without a better validation loss before stopping (default 20). */
  patience?: number;
  /** "film": share of the adaptation windows, the last ones, that early-stop (default 0.25). */
  validationShare?: number;
  /** Seed of the support draws (default 0). */
  seed?: number;
}

/** One member's result of {@link adaptEnsemble}. */
export interface MemberAdaptation {
  dir: string;
  z: number[] | null;
  /** "film": the fine-tuned weights (every variable of the model); else null (source weights). */
  weights: NamedWeight[] | null;
  bestStep: number | null;
}

/** What {@link adaptEnsemble} returns (everything of adaptation.json but the source hashes). */
export interface AdaptResult {
  method: AdaptMethod;
  site: string;
  request: { months: number | null; until: string | null };
  period: Omit<AdaptationPeriod, "good">;
  qcThreshold: number;
  windows: number;
  validationWindows: number;
  lr: number;
  steps: number;
  patience: number;
  seed: number;
  members: MemberAdaptation[];
  linear: Adaptation["linear"];
  metrics: Adaptation["metrics"];
}

type FluxMetrics = NonNullable<Adaptation["metrics"]>["before"];

/** Makes the names of the z variables unique (TF.js variable names are global). */
let zCounter = 0;

/** RMSE, bias (pred - obs) and n per flux over paired values (`[n * 3]`, NaN obs skipped). */
function fluxMetrics(pred: Float64Array, obs: Float64Array): FluxMetrics {
  const out = { rmse: { GPP: 0, RECO: 0, NEE: 0 }, bias: { GPP: 0, RECO: 0, NEE: 0 }, n: 0 };
  const keys = ["GPP", "RECO", "NEE"] as const;
  keys.forEach((k, j) => {
    let sq = 0, d = 0, n = 0;
    for (let i = j; i < obs.length; i += 3) {
      if (Number.isNaN(obs[i])) continue;
      sq += (pred[i] - obs[i]) ** 2;
      d += pred[i] - obs[i];
      n++;
    }
    out.rmse[k] = n ? Math.sqrt(sq / n) : NaN;
    out.bias[k] = n ? d / n : NaN;
    out.n = Math.max(out.n, n);
  });
  return out;
}

/** Ensemble means and observations (physical units) of the loss days of every window. */
function lossDayPredictions(
  models: LoadedEnsemble["models"],
  source: WindowBatchSource,
  options: { seed: number; fixedZ?: (tf.Tensor2D | null)[] },
): { pred: Float64Array; obs: Float64Array } {
  const pred: number[] = [], obs: number[] = [];
  const { mean: ym, std: ys } = source.targetScale;
  const inference = ensembleInference(models, source, { fixedZ: options.fixedZ });
  try {
    for (const batch of source.batches({ batchSize: 256, shuffle: false, seed: options.seed })) {
      try {
        const { mean } = inference.predict(batch);
        const y = batch.y.dataSync(), mask = batch.mask.dataSync();
        for (let i = 0; i < mask.length; i += 3) {
          if (mask[i] + mask[i + 1] + mask[i + 2] === 0) continue;
          for (let j = 0; j < 3; j++) {
            pred.push(mean[i + j]);
            obs.push(mask[i + j] > 0 ? y[i + j] * ys[j] + ym[j] : NaN);
          }
        }
      } finally {
        disposeBatch(batch);
      }
    }
  } finally {
    inference.dispose();
  }
  return { pred: Float64Array.from(pred), obs: Float64Array.from(obs) };
}

/** Per flux least squares obs = a pred + b (b alone when pred barely varies or n < 10). */
function fitLinear(pred: Float64Array, obs: Float64Array): NonNullable<Adaptation["linear"]> {
  const fit = (j: number): [number, number] => {
    const p: number[] = [], o: number[] = [];
    for (let i = j; i < obs.length; i += 3) {
      if (!Number.isNaN(obs[i])) (p.push(pred[i]), o.push(obs[i]));
    }
    const n = p.length;
    const mp = p.reduce((s, v) => s + v, 0) / n, mo = o.reduce((s, v) => s + v, 0) / n;
    let sxy = 0, sxx = 0;
    for (let i = 0; i < n; i++) (sxy += (p[i] - mp) * (o[i] - mo), sxx += (p[i] - mp) ** 2);
    if (n < 10 || sxx < 1e-9 * n) return [1, mo - mp];
    const a = sxy / sxx;
    return [a, mo - a * mp];
  };
  return { GPP: fit(0), RECO: fit(1), NEE: fit(2) };
}

/** Loss of a model with a fixed z over batches (no update): the mean of the batches' totals. */
function batchLoss(
  model: LoadedEnsemble["models"][number],
  z: tf.Variable<tf.Rank.R2>,
  batches: readonly Batch[],
  loss: LossOptions,
): tf.Scalar {
  return tf.tidy(() => {
    const totals = batches.map((b) => {
      const pred = applyWithHeads(
        model,
        {
          xDyn: b.xDyn,
          xStatic: b.xStatic,
          support: b.support,
          z: tf.tile(z, [b.xDyn.shape[0], 1]) as tf.Tensor2D,
        },
        { training: false, targetScale: loss.targetScale },
      );
      return lossTerms(pred, b, loss).total;
    });
    return tf.div(tf.addN(totals), totals.length) as tf.Scalar;
  });
}

/**
 * Adapt the members of one loaded ensemble (one feature set: a group of lib/predict/groups.ts) to
 * one site from its measured fluxes (see the module doc for the methods and the months). The
 * ensemble's models are left as they were (method "film" restores the source weights after
 * reading the fine-tuned ones). Too few QC-good days for one window is an error naming the file
 * and the months. With zero months nothing is fitted: the result is the identity.
 *
 * @example
 * ```ts ignore
 * const result = adaptEnsemble(group, { site, daily }, { method: "z", months: 3, modis });
 * await writeAdaptedRun("runs/adapted/FR-Pue", { ensemble: group, result, run: "runs/quick/tamrl" });
 * ```
 */
export function adaptEnsemble(
  ens: LoadedEnsemble,
  input: { site: PredictionSite; daily: FluxDaily },
  options: AdaptOptions,
): AdaptResult {
  const { site, daily } = input;
  const id = site.SITE_ID;
  const method = options.method;
  const qcThreshold = options.qcThreshold ?? 0.8;
  const seed = options.seed ?? 0;
  const steps = options.steps ?? 200;
  const lr = options.lr ?? (method === "film" ? 0.003 : 0.05);
  const patience = options.patience ?? 20;
  if (method !== "linear" && ens.models.some((m) => m.embed === undefined)) {
    throw new Error(
      `adapt: method ${method} needs TAM-RL members (a task embedding z); ${ens.dirs[0]} is ` +
        `${ens.info.model.name}: use method linear`,
    );
  }
  const period = adaptationPeriod(daily, {
    months: options.months,
    until: options.until,
    qcThreshold,
  });
  const base: Omit<
    AdaptResult,
    "members" | "linear" | "metrics" | "windows" | "validationWindows"
  > = {
    method,
    site: id,
    request: { months: options.months ?? null, until: options.until ?? null },
    period: {
      months: period.months,
      qcGoodDays: period.qcGoodDays,
      firstDate: period.firstDate,
      lastDate: period.lastDate,
    },
    qcThreshold,
    lr,
    steps,
    patience,
    seed,
  };
  const identity = (): AdaptResult => ({
    ...base,
    windows: 0,
    validationWindows: 0,
    members: ens.dirs.map((dir) => ({ dir, z: null, weights: null, bestStep: null })),
    linear: null,
    metrics: null,
  });
  if (period.months.length === 0) return identity();
  const T = ens.data.window, stride = ens.data.stride;
  const span = `${period.months[0]}..${period.months.at(-1)}`;
  const tooFew = (what: string) =>
    new FluxnetInputError(
      `site ${id}: ${what} in the months ${span}, fewer than one window of the run ` +
        `(${T} days, its last ${stride} scored): give more months`,
      { file: daily.file, column: FLUX_COLUMNS.NEE },
    );
  if (period.qcGoodDays < T) throw tooFew(`${period.qcGoodDays} QC-good flux days`);
  // targets only on the QC-good days of the months; NaN elsewhere (never in the loss)
  const masked = (a: Float64Array) => Float64Array.from(a, (v, i) => (period.good[i] ? v : NaN));
  const withTargets: DriverDaily = {
    ...daily,
    values: {
      ...daily.values,
      ...{
        GPP: masked(daily.fluxes.GPP),
        RECO: masked(daily.fluxes.RECO),
        NEE: masked(daily.fluxes.NEE),
        NEE_QC: masked(daily.fluxes.NEE_QC),
      } as Partial<Record<FileDriver, Float64Array>>,
    },
  };
  const inputs = siteInputs(ens, { site, daily: withTargets }, options.modis ?? new Map(), {
    modisFill: "seasonalCycle",
  });
  // training-grid windows of complete drivers with a target among their scored days
  const windows: WindowRef[] = [];
  const n = inputs.series.days.length;
  for (let s = 0; s + T <= n; s += stride) {
    if (inputs.complete.subarray(s, s + T).includes(0)) continue;
    if (period.good.subarray(s + T - stride, s + T).includes(1)) {
      windows.push({ series: 0, start: s });
    }
  }
  if (windows.length === 0) throw tooFew("no training-grid window with drivers and fluxes");
  const nVal = method === "film" && windows.length >= 2
    ? Math.max(1, Math.round((options.validationShare ?? 0.25) * windows.length))
    : 0;
  const sourceOf = (w: WindowRef[], role: string) =>
    new WindowBatchSource({
      series: [inputs.series],
      statics: [inputs.statics],
      weights: [1],
      windows: w,
      pools: [inputs.pool],
    }, {
      window: T,
      stride,
      supportK: ens.data.supportK,
      nStatic: ens.info.featureNames.static.length,
      targetScale: ens.info.targetScale,
      role,
    });
  const all = sourceOf(windows, `adapt:${id}`);
  const before = lossDayPredictions(ens.models, all, { seed });
  const result: AdaptResult = {
    ...identity(),
    windows: windows.length,
    validationWindows: nVal,
  };
  if (method === "linear") {
    const linear = fitLinear(before.pred, before.obs);
    const after = Float64Array.from(before.pred);
    applyLinear(after, new Float64Array(after.length), linear);
    return {
      ...result,
      linear,
      metrics: {
        before: fluxMetrics(before.pred, before.obs),
        after: fluxMetrics(after, before.obs),
      },
    };
  }
  const trainSrc = sourceOf(windows.slice(0, windows.length - nVal), `adapt:${id}`);
  const valSrc = nVal ? sourceOf(windows.slice(windows.length - nVal), `adapt-val:${id}`) : null;
  const collect = (src: WindowBatchSource | null) =>
    src ? [...src.batches({ batchSize: 256, shuffle: false, seed })] : [];
  const trainBatches = collect(trainSrc), valBatches = collect(valSrc);
  const loss: LossOptions = { targetScale: ens.info.targetScale, useClassWeights: false };
  const originals = ens.models.map((m) => snapshotVariables(m.variables));
  const zs: tf.Variable<tf.Rank.R2>[] = [];
  const optimizers: Adam[] = []; // their moment tensors, disposed at the end
  try {
    for (const [k, model] of ens.models.entries()) {
      const z0 = poolEmbedding(model, all, id, { chunk: 64 });
      if (z0 === null) throw tooFew("no support window");
      const z: tf.Variable<tf.Rank.R2> = tf.variable(z0, true, `adapt/z_${k}_${++zCounter}`);
      z0.dispose();
      zs.push(z);
      const trainable = new Map<string, tf.Variable>([["z", z]]);
      if (method === "film") {
        for (const [name, v] of model.variables) {
          if (/^decoder\/film_|^head\//.test(name)) trainable.set(name, v);
        }
      }
      const optimizer = new Adam(trainable, { lr });
      optimizers.push(optimizer);
      let best = Infinity, bestStep = 0, since = 0;
      let kept: Map<string, tf.Tensor> | null = null;
      const keep = () => {
        if (kept) tf.dispose([...kept.values()]);
        kept = snapshotVariables(trainable);
      };
      if (valBatches.length) {
        const v0 = batchLoss(model, z, valBatches, loss);
        best = v0.dataSync()[0];
        v0.dispose();
        keep();
      }
      for (let step = 1; step <= steps; step++) {
        const entries = [...trainable.entries()];
        const { value, grads } = tf.variableGrads(
          () => batchLoss(model, z, trainBatches, loss),
          entries.map(([, v]) => v),
        );
        const named = new Map<string, tf.Tensor>();
        for (const [name, v] of entries) if (grads[v.name]) named.set(name, grads[v.name]);
        optimizer.apply(named, 0);
        value.dispose();
        tf.dispose(Object.values(grads));
        if (valBatches.length) {
          const vl = batchLoss(model, z, valBatches, loss);
          const val = vl.dataSync()[0];
          vl.dispose();
          if (val < best - 1e-6) (best = val, bestStep = step, since = 0, keep());
          else if (++since >= patience) break;
        } else bestStep = step;
      }
      if (kept) {
        assignVariables(trainable, kept);
        tf.dispose([...(kept as Map<string, tf.Tensor>).values()]);
      }
      result.members[k] = {
        dir: ens.dirs[k],
        z: Array.from(z.dataSync()),
        weights: method === "film" ? readWeights(model.variables) : null,
        bestStep,
      };
    }
    const after = lossDayPredictions(ens.models, all, { seed, fixedZ: zs });
    result.metrics = {
      before: fluxMetrics(before.pred, before.obs),
      after: fluxMetrics(after.pred, after.obs),
    };
    return result;
  } finally {
    ens.models.forEach((m, k) => assignVariables(m.variables, originals[k]));
    for (const o of originals) tf.dispose([...o.values()]);
    tf.dispose(zs);
    for (const o of optimizers) o.dispose();
    for (const b of [...trainBatches, ...valBatches]) disposeBatch(b);
  }
}

async function sha256File(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The run files copied from a source member into its adapted member (when present). */
const COPIED = [
  "config.json",
  "split.json",
  "scaler.json",
  "static_encoding.json",
  "model.json",
  "reference_sites.json",
];

/**
 * The adaptation record of member `k` of an adaptation result (what `adaptation.json` holds), from
 * the member's source run.
 *
 * @example
 * ```ts ignore
 * const record = adaptationRecord(result, 0, { run, member, weights: "best", weightsSha256 });
 * ```
 */
export function adaptationRecord(
  result: AdaptResult,
  k: number,
  source: Adaptation["source"],
): Adaptation {
  const member = result.members[k];
  return {
    version: 1,
    method: result.method,
    site: result.site,
    request: result.request,
    months: result.period.months,
    firstDate: result.period.firstDate,
    lastDate: result.period.lastDate,
    qcGoodDays: result.period.qcGoodDays,
    qcThreshold: result.qcThreshold,
    windows: result.windows,
    validationWindows: result.validationWindows,
    source,
    seed: result.seed,
    lr: result.lr,
    steps: result.steps,
    patience: result.patience,
    bestStep: member.bestStep,
    z: member.z,
    linear: result.linear,
    metrics: result.metrics,
  };
}

/**
 * Write an adapted run folder: one member folder per source member (same name; `member<i>` when
 * two source members share a name), each a normal run folder (the files of `COPIED`, and
 * weights/best.bin: the source member's weights, or the fine-tuned ones of method "film") plus
 * adaptation.json. `out` must not exist or be empty, and must not lie inside a source member.
 *
 * @example
 * ```ts ignore
 * const dirs = await writeAdaptedRun("runs/adapted", { ensemble: group, result, run: "runs/quick/tamrl" });
 * ```
 */
export async function writeAdaptedRun(
  out: string,
  options: { ensemble: Pick<LoadedEnsemble, "dirs" | "weights">; result: AdaptResult; run: string },
): Promise<string[]> {
  const { ensemble, result } = options;
  const target = resolve(out);
  for (const dir of ensemble.dirs) {
    const rel = relative(resolve(dir), target);
    if (rel === "" || !rel.startsWith("..")) {
      throw new Error(`--out ${out}: inside the source run ${dir}; choose a folder outside it`);
    }
  }
  if (await exists(target)) {
    const stat = await Deno.stat(target);
    if (!stat.isDirectory || [...Deno.readDirSync(target)].length > 0) {
      throw new Error(`--out ${out}: exists and is not an empty folder; choose a new folder`);
    }
  }
  const names = ensemble.dirs.map((d) => basename(d));
  const unique = new Set(names).size === names.length;
  const written: string[] = [];
  for (const [k, dir] of ensemble.dirs.entries()) {
    const member = result.members[k];
    const dest = join(target, unique ? names[k] : `member${k}`);
    const src = runPaths(dir), dst = runPaths(dest);
    await Deno.mkdir(dst.weightsDir, { recursive: true });
    for (const f of COPIED) {
      if (await exists(join(dir, f))) {
        await atomicWrite(join(dest, f), await Deno.readFile(join(dir, f)));
      }
    }
    const sourceWeights = src.weights(ensemble.weights);
    await atomicWrite(
      dst.weights("best"),
      member.weights ? encodeWeights(member.weights) : await Deno.readFile(sourceWeights),
    );
    await writeAdaptation(
      dest,
      adaptationRecord(result, k, {
        run: resolve(options.run),
        member: resolve(dir),
        weights: ensemble.weights,
        weightsSha256: await sha256File(sourceWeights),
      }),
    );
    written.push(dest);
  }
  return written;
}

/** The daily-file drivers a group reads (its dynamic features, or their trailing means' source). */
function groupDrivers(ens: Pick<LoadedEnsemble, "info">): FileDriver[] {
  const names = ens.info.featureNames.dyn.map((n) => parseTrailingName(n)?.column ?? n);
  return (Object.keys(FILE_DRIVERS) as FileDriver[]).filter((d) => names.includes(d));
}

/** What {@link loadAdaptationSite} returns. */
export interface AdaptationSite {
  /** The group of the ensemble that predicts the site (as predict chooses it). */
  group: LoadedEnsemble;
  site: PredictionSite;
  daily: FluxDaily;
  modis: Map<string, ModisMonthly>;
}

/**
 * Read one site for adaptation as predict reads it (site table, daily file with fluxes, monthly
 * file) and pick the group of the ensemble that predicts it; every input validated (the site
 * table's static cells against the run's encoding, the drivers the group reads, their units,
 * consistency and the site's latitude). `site` may be omitted when the folder holds one file.
 *
 * @example
 * ```ts ignore
 * const ens = await loadEnsembleGroups("runs/quick/tamrl");
 * const s = await loadAdaptationSite(ens, { data: "new/daily", sites: "new/sites.csv", site: "FR-Pue" });
 * ```
 */
export async function loadAdaptationSite(
  ens: EnsembleGroups,
  options: { data: string; sites: string; monthly?: string; site?: string },
): Promise<AdaptationSite> {
  requireFolder(options.data, { what: "--data" });
  if (options.monthly !== undefined) requireFolder(options.monthly, { what: "--monthly" });
  const files = listDriverFiles(options.data, { only: options.site ? [options.site] : undefined });
  if (files.length !== 1) {
    throw new Error(
      `${options.data}: ${files.length} daily files (${files.map((f) => f.site).join(", ")}): ` +
        `name the site to adapt to with --site`,
    );
  }
  const file = files[0];
  const table = await loadPredictionSites(options.sites);
  const site = table.find((s) => s.SITE_ID === file.site);
  if (!site) {
    throw new FluxnetInputError(`site ${file.site} is not in the site table ${options.sites}`, {
      file: file.path,
      column: "SITE_ID",
    });
  }
  const modis = options.monthly
    ? loadModisMonthly(options.monthly, [site.SITE_ID]).monthly
    : new Map();
  const group = groupOf(ens.groups, modis.get(site.SITE_ID));
  if (!group) {
    throw new Error(
      `site ${site.SITE_ID}: no member of the run can take it (its members need monthly ` +
        `MODIS/precipitation${
          options.monthly ? ` and ${options.monthly} has none for the site` : ": give --monthly"
        })`,
    );
  }
  checkStatics(group, site, options.sites);
  const daily = parseFluxDaily(await Deno.readTextFile(file.path), {
    file: file.path,
    site: site.SITE_ID,
    drivers: groupDrivers(group),
  });
  checkDriverLatitude(daily, { site, sitesFile: options.sites });
  checkDriverUnits(daily, { lat: site.LAT });
  checkDriverConsistency(daily, { lat: site.LAT });
  return { group, site, daily, modis };
}

/**
 * Load a run, read a site and adapt the run to it, then write the adapted run folder: what
 * `deno task adapt` does.
 *
 * @example
 * ```ts ignore
 * const { result } = await adaptRun("runs/quick/tamrl", {
 *   data: "new/daily", sites: "new/sites.csv", out: "runs/adapted", adapt: { method: "z", months: 3 },
 * });
 * ```
 */
export async function adaptRun(
  run: string,
  options: {
    data: string;
    sites: string;
    out: string;
    monthly?: string;
    site?: string;
    adapt: Omit<AdaptOptions, "modis">;
    load?: LoadEnsembleOptions;
  },
): Promise<{ result: AdaptResult; dirs: string[] }> {
  const ens = await loadEnsembleGroups(run, options.load);
  try {
    const s = await loadAdaptationSite(ens, options);
    const result = adaptEnsemble(s.group, s, { ...options.adapt, modis: s.modis });
    const dirs = await writeAdaptedRun(options.out, { ensemble: s.group, result, run });
    return { result, dirs };
  } finally {
    ens.dispose();
  }
}
