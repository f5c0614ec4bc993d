/**
 * Zero-shot prediction of daily GPP, RECO and NEE at new sites, from drivers only, with the
 * ensemble's spread as uncertainty.
 *
 * Per site ({@link siteInputs}): the drivers of its daily file (flux and QC columns are never
 * read), the features of the run's feature set built by training's own functions (lib/data
 * `buildFeatures`: MODIS LAI/EVI from the monthly files, solar and calendar terms; then
 * `preprocessSites`: standardized with the run's scaler, the static vector from the given site
 * table with the run's static encoding and scaler; `supportPool`). Windows are planned by
 * {@link planWindows} (lib/predict/tiling.ts) on training's grid: every day in a run of at least
 * `window` consecutive days with complete drivers gets a value, and a day that a test site's
 * window reports in training gets the value of that same window. The task encoder of TAM-RL sees,
 * for every window, `supportK` windows drawn from the site's own non-overlapping complete driver
 * windows (the pool of test sites in training; the draws are seeded per site, so a site's result
 * does not depend on the other sites, and so they differ from training's, which draw for all test
 * sites from one stream). Every member sees the same inputs; GPP and RECO of each member are clipped at 0, then the
 * mean and the population standard deviation over members are reported.
 *
 * Days that cannot be predicted carry null values and a status giving the reason.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import pl from "polars";
import { disposeBatch, type SupportStats, WindowBatchSource } from "../data/batches.ts";
import { buildFeatures } from "../data/features.ts";
import { FluxnetInputError } from "../data/fluxnet.ts";
import { epochDay, loadModisMonthly, type ModisMonthly } from "../data/modis.ts";
import { preprocessSites, supportPool } from "../data/preprocess.ts";
import { encodeStatic } from "../data/static.ts";
import type { SiteSeries, WindowRef } from "../data/windows.ts";
import { checkFinitePrediction, predictPhysical } from "../train/predict.ts";
import { type LoadedEnsemble, loadEnsemble, type LoadEnsembleOptions } from "./ensemble.ts";
import {
  checkDriverUnits,
  type DriverDaily,
  type FileDriver,
  isFileDriver,
  listDriverFiles,
  loadPredictionSites,
  parseDriverDaily,
  type PredictionSite,
} from "./inputs.ts";
import { planWindows, type WindowPlan } from "./tiling.ts";

/** Features computed from the date and latitude (lib/data/features.ts). */
const COMPUTED = ["SW_POT", "DAY_LENGTH", "DOY_SIN", "DOY_COS"];
/** Features from the MODIS monthly files. */
const MODIS = ["LAI", "EVI"] as const;

/** The columns of the prediction table, in order. */
export const PREDICTION_COLUMNS = [
  "site",
  "date",
  "GPP",
  "RECO",
  "NEE",
  "GPP_sd",
  "RECO_sd",
  "NEE_sd",
  "status",
  "context_days",
] as const;

/** Options of {@link predictSites}. */
export interface PredictSitesOptions {
  /** Folder of FLUXNET2015-style daily files `FLX_<SITE>_FLUXNET2015_<SET>_DD_<years>*.csv`. */
  data: string;
  /** Site table with SITE_ID, LAT, LON, IGBP, KOPPEN_MAIN, ELEV, MAT, MAP, P_OVER_PET. */
  sites: string;
  /** Folder of `<SITE>_MM.csv` monthly files (MetaFlux layout); required when the run uses LAI/EVI. */
  monthly?: string;
  /** Predict only these sites of the folder. */
  only?: readonly string[];
  /** Seed of the support-window draws (default 0). */
  seed?: number;
  /** Windows per forward pass (default 256). */
  batchSize?: number;
  /** Passed to {@link loadEnsemble} when `run` is a path. */
  load?: LoadEnsembleOptions;
  /** Progress lines (e.g. `console.error`). */
  onProgress?: (line: string) => void;
}

/** What happened at one site. */
export interface SitePredictionReport {
  site: string;
  file: string;
  days: number;
  predicted: number;
  /** predicted / days. */
  share: number;
  firstDate: string;
  lastDate: string;
  windows: number;
  /** Days per status kind ("ok", "missing driver", "before MODIS", ...). */
  reasons: Record<string, number>;
  /** How the support sets of this site's windows were filled. */
  support: SupportStats;
  seconds: number;
}

/** What {@link predictSites} did. */
export interface PredictReport {
  members: string[];
  window: number;
  stride: number;
  supportK: number;
  featureNames: { dyn: string[]; static: string[] };
  seed: number;
  sites: SitePredictionReport[];
  total: { days: number; predicted: number; share: number };
  seconds: { load: number; inputs: number; predict: number; total: number };
}

/**
 * The sites of a report with no day predicted, one line each naming the site, its file and why
 * (the reasons with their day counts).
 *
 * @example
 * ```ts ignore
 * for (const line of emptySites(report)) console.error(`predict: ${line}`);
 * ```
 */
export function emptySites(report: Pick<PredictReport, "sites">): string[] {
  return report.sites.filter((s) => s.predicted === 0).map((s) => {
    const why = Object.entries(s.reasons).map(([r, n]) => `${r} on ${n} day(s)`).join(", ");
    return `site ${s.site} (${s.file}): 0 of ${s.days} days predicted: ${why || "no day"}`;
  });
}

interface Prepared {
  site: PredictionSite;
  daily: DriverDaily;
}

function iso(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

function ym(yyyymm: number): string {
  return `${Math.floor(yyyymm / 100)}-${String(yyyymm % 100).padStart(2, "0")}`;
}

/** Why a MODIS variable is missing on a day, as a (kind, text) pair. */
function modisReason(
  m: ModisMonthly | undefined,
  variable: "LAI" | "EVI",
  day: number,
  maxGap: number,
): [string, string] {
  const months = m ? m.months.filter((_, i) => m[variable][i] !== null) : [];
  if (months.length === 0) return ["no MODIS", `no MODIS ${variable} for the site`];
  const first = months[0], last = months[months.length - 1];
  const start = epochDay(Math.floor(first / 100), first % 100, 1);
  const lastMonth = last % 100;
  const end = epochDay(Math.floor(last / 100) + (lastMonth === 12 ? 1 : 0), lastMonth % 12 + 1, 1) -
    1;
  if (day < start) return ["before MODIS", `before MODIS (${variable} from ${ym(first)})`];
  if (day > end) return ["after MODIS", `after MODIS (${variable} to ${ym(last)})`];
  return ["MODIS gap", `MODIS gap (${variable}: more than ${maxGap} months missing)`];
}

/**
 * Predict daily GPP, RECO and NEE (ensemble mean, GPP/RECO clipped at 0) and their ensemble
 * standard deviations at every day of every daily file of a folder. `run` is a run folder, an
 * ensemble folder, a list of run folders, or an already loaded ensemble (not disposed here).
 * Every input is validated before any prediction; a bad input throws an error naming the file
 * and column. The table has the columns {@link PREDICTION_COLUMNS}, one row per input day, sorted
 * by site and date; days that cannot be predicted have null values and a reason in `status`.
 *
 * @example
 * ```ts ignore
 * import { useBackend } from "../backend.ts";
 * import { predictSites } from "./predict.ts";
 * await useBackend("wasm");
 * const { frame, report } = await predictSites("runs/quick/tamrl", {
 *   data: "my_sites/daily", sites: "my_sites/sites.csv", monthly: "my_sites/monthly",
 *   onProgress: console.error,
 * });
 * console.log(frame.head().toString(), report.total.share);
 * ```
 */
export async function predictSites(
  run: string | readonly string[] | LoadedEnsemble,
  options: PredictSitesOptions,
): Promise<{ frame: pl.DataFrame; report: PredictReport }> {
  const t0 = performance.now();
  const progress = options.onProgress ?? (() => {});
  const owned = typeof run === "string" || Array.isArray(run);
  const ens: LoadedEnsemble = owned
    ? await loadEnsemble(run as string | string[], options.load)
    : run as LoadedEnsemble;
  try {
    const tLoad = performance.now();
    progress(
      `predict: ${ens.models.length} member(s) (${ens.info.model.name}), window ` +
        `${ens.data.window}, stride ${ens.data.stride}, support K ${ens.data.supportK}`,
    );
    const result = await predictWith(ens, options, progress);
    const tEnd = performance.now();
    result.report.seconds = {
      load: (tLoad - t0) / 1000,
      inputs: result.report.seconds.inputs,
      predict: result.report.seconds.predict,
      total: (tEnd - t0) / 1000,
    };
    return result;
  } finally {
    if (owned) ens.dispose();
  }
}

async function predictWith(
  ens: LoadedEnsemble,
  options: PredictSitesOptions,
  progress: (line: string) => void,
): Promise<{ frame: pl.DataFrame; report: PredictReport }> {
  const t0 = performance.now();
  const { info } = ens;
  const T = ens.data.window, stride = ens.data.stride, K = ens.data.supportK;
  const dynNames = info.featureNames.dyn;
  const staticNames = info.featureNames.static;
  const encoding = ens.statics.encoding;
  const unknown = dynNames.filter((n) =>
    !isFileDriver(n) && !COMPUTED.includes(n) && !(MODIS as readonly string[]).includes(n)
  );
  if (unknown.length > 0) {
    throw new Error(`the run uses features prediction cannot build: ${unknown.join(", ")}`);
  }
  const drivers = dynNames.filter(isFileDriver) as FileDriver[];
  const modisVars = MODIS.filter((v) => dynNames.includes(v));

  // 1. inputs: site table, files, MODIS; all validated before any prediction
  const table = await loadPredictionSites(options.sites);
  const byId = new Map(table.map((s) => [s.SITE_ID, s]));
  const files = listDriverFiles(options.data, { only: options.only });
  if (files.length === 0) throw new Error(`${options.data}: no site to predict`);
  const prepared: Prepared[] = [];
  for (const f of files) {
    const site = byId.get(f.site);
    if (!site) {
      throw new FluxnetInputError(
        `site ${f.site} (from the file name) is not in the site table ${options.sites}`,
        { file: f.path, column: "SITE_ID" },
      );
    }
    if (!encoding.igbpClasses.includes(site.IGBP)) {
      throw new FluxnetInputError(
        `site ${site.SITE_ID}: IGBP class ${site.IGBP} is unknown to the run (it was trained ` +
          `with ${encoding.igbpClasses.join(", ")})`,
        { file: options.sites, column: "IGBP", line: site.line },
      );
    }
    for (const c of encoding.numeric) {
      const key = c as keyof typeof ens.statics.unverified;
      if (site[key] === null && !ens.statics.verifiedFill.includes(key)) {
        throw new FluxnetInputError(
          `site ${site.SITE_ID}: the cell is empty and the run's imputation value for ${c} is ` +
            `not known (${ens.statics.unverified[key]}); give a value`,
          { file: options.sites, column: c, line: site.line },
        );
      }
    }
    const text = await Deno.readTextFile(f.path);
    const daily = parseDriverDaily(text, { file: f.path, site: f.site, drivers });
    checkDriverUnits(daily, { lat: site.LAT });
    prepared.push({ site, daily });
  }
  let modis = new Map<string, ModisMonthly>();
  if (modisVars.length > 0) {
    if (!options.monthly) {
      throw new Error(
        `the run uses MODIS ${modisVars.join(" and ")} (feature set "${ens.data.featureSet}"): ` +
          `give the folder of monthly <SITE>_MM.csv files (MetaFlux layout) with --monthly`,
      );
    }
    const loaded = loadModisMonthly(options.monthly, prepared.map((p) => p.site.SITE_ID));
    if (loaded.missing.length > 0) {
      throw new FluxnetInputError(
        `no monthly MODIS file for site(s) ${loaded.missing.join(", ")} (expected ` +
          `<SITE>_MM.csv with TIMESTAMP, LAI, EVI); the run uses ${modisVars.join(" and ")}`,
        { file: options.monthly, column: modisVars.join(", ") },
      );
    }
    modis = loaded.monthly;
  }
  const tInputs = performance.now();
  progress(
    `inputs: ${prepared.length} site(s), ${
      prepared.reduce((n, p) => n + p.daily.days.length, 0)
    } days, validated in ${((tInputs - t0) / 1000).toFixed(1)} s`,
  );

  // 2. per site: inputs (as in training), status of each day, predictions, rows
  const reports: SitePredictionReport[] = [];
  const frames: pl.DataFrame[] = [];
  const batchSize = options.batchSize ?? 256;
  const seed = options.seed ?? 0;
  for (const [k, p] of prepared.entries()) {
    const ts = performance.now();
    const id = p.site.SITE_ID;
    const n = p.daily.days.length;
    const inputs = siteInputs(ens, p, modis);
    const { status, reasons } = dayStatus(inputs, p, { ens, drivers, modisVars, modis });
    const predicted = inputs.plan.starts.length > 0
      ? predictSite(ens, inputs, {
        batchSize,
        seed,
        where: (row) =>
          `run ${ens.dirs.join(", ")}: site ${id} (${p.daily.file}), ${iso(p.daily.days[row])}`,
      })
      : { mean: new Float64Array(n * 3).fill(NaN), sd: new Float64Array(n * 3).fill(NaN) };
    frames.push(siteFrame(id, p.daily.days, predicted, { status, context: inputs.plan.context }));
    const nOk = reasons.ok ?? 0;
    const rep: SitePredictionReport = {
      site: id,
      file: p.daily.file,
      days: n,
      predicted: nOk,
      share: n ? nOk / n : 0,
      firstDate: iso(p.daily.days[0]),
      lastDate: iso(p.daily.days[n - 1]),
      windows: inputs.plan.starts.length,
      reasons,
      support: inputs.plan.starts.length > 0
        ? sourceOf(ens, inputs).supportStats()
        : { full: 0, repeated: 0, selfOnly: 0 },
      seconds: (performance.now() - ts) / 1000,
    };
    reports.push(rep);
    const other = Object.entries(reasons).filter(([r]) => r !== "ok").map(([r, c]) => `${r} ${c}`);
    progress(
      `[${k + 1}/${prepared.length}] ${id}: ${nOk}/${n} days predicted ` +
        `(${(100 * rep.share).toFixed(1)}%), ${rep.windows} windows, ` +
        `${rep.seconds.toFixed(1)} s${other.length ? `; not predicted: ${other.join(", ")}` : ""}`,
    );
  }
  const tEnd = performance.now();
  const days = reports.reduce((s, r) => s + r.days, 0);
  const predicted = reports.reduce((s, r) => s + r.predicted, 0);
  const frame = pl.concat(frames, { how: "vertical" });
  return {
    frame: frame.sort(["site", "date"]),
    report: {
      members: ens.dirs,
      window: T,
      stride,
      supportK: K,
      featureNames: { dyn: [...dynNames], static: [...staticNames] },
      seed,
      sites: reports,
      total: { days, predicted, share: days ? predicted / days : 0 },
      seconds: {
        load: 0,
        inputs: (tInputs - t0) / 1000,
        predict: (tEnd - tInputs) / 1000,
        total: 0,
      },
    },
  };
}

/** A site's model inputs, built by the same preprocessing as training (lib/data/preprocess.ts). */
export interface SiteInputs {
  /** Standardized drivers (no targets: y and qc are NaN). */
  series: SiteSeries;
  /** Standardized static vector. */
  statics: Float32Array;
  /** Support pool: non-overlapping complete driver windows, as for test sites in training. */
  pool: WindowRef[];
  /** Per row: 1 when every dynamic feature exists. */
  complete: Uint8Array;
  /** Which window predicts which day. */
  plan: WindowPlan;
}

/**
 * Features, standardized series, static vector, support pool and window plan of one site: the
 * features of its drivers by lib/data `buildFeatures`, then `preprocessSites` and `supportPool`,
 * the functions `buildDataset` uses, with the run's scaler and static encoding.
 *
 * @example
 * ```ts ignore
 * const inputs = siteInputs(ens, { site, daily }, modis);
 * ```
 */
export function siteInputs(
  ens: Pick<LoadedEnsemble, "info" | "scaler" | "data" | "statics">,
  input: { site: PredictionSite; daily: DriverDaily },
  modis: ReadonlyMap<string, ModisMonthly>,
): SiteInputs {
  const { site, daily } = input;
  const id = site.SITE_ID;
  const n = daily.days.length;
  const dynNames = ens.info.featureNames.dyn;
  const staticNames = ens.info.featureNames.static;
  const fileColumn = (c: string) => daily.values[c as FileDriver] ?? new Float64Array(n).fill(NaN);
  const columns = ["TA_F", "SW_IN_F", "VPD_F", "GPP", "RECO", "NEE", "NEE_QC"];
  const frame = pl.DataFrame({
    site: pl.Series("site", new Array(n).fill(id), pl.Utf8),
    date: pl.Series("date", daily.days).cast(pl.Date),
    ...Object.fromEntries(columns.map((c) => [c, fileColumn(c)])),
  }).withColumns(...columns.map((c) => pl.col(c).fillNan(null)));
  const { table: features, runs } = buildFeatures(frame, [{ SITE_ID: id, LAT: site.LAT }], {
    modis: modis as Map<string, ModisMonthly>,
    maxGapMonths: ens.data.modisMaxGapMonths,
  });
  if (features.height !== n) {
    throw new Error(`predict: ${id}: ${features.height} feature rows for ${n} days`);
  }
  const { series: [series], statics: [statics] } = preprocessSites(features, {
    scaler: ens.scaler,
    dynNames,
    staticNames,
    staticRaw: new Map([[id, encodeStatic(site, ens.statics.encoding)]]),
    runs,
  });
  const F = dynNames.length;
  const complete = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let ok = 1;
    for (let f = 0; f < F; f++) if (Number.isNaN(series.dyn[i * F + f])) ok = 0;
    complete[i] = ok;
  }
  const plan = planWindows(daily.days, complete, {
    window: ens.data.window,
    stride: ens.data.stride,
  });
  return { series, statics, pool: supportPool(series, 0, ens.data.window), complete, plan };
}

/** The status of every day: "ok", or why it cannot be predicted; counts per kind. */
function dayStatus(
  inputs: SiteInputs,
  input: Prepared,
  context: {
    ens: LoadedEnsemble;
    drivers: FileDriver[];
    modisVars: ("LAI" | "EVI")[];
    modis: Map<string, ModisMonthly>;
  },
): { status: string[]; reasons: Record<string, number> } {
  const { plan, complete, series } = inputs;
  const { daily, site } = input;
  const T = context.ens.data.window;
  const dynNames = context.ens.info.featureNames.dyn;
  const F = dynNames.length;
  const n = daily.days.length;
  const status: string[] = new Array(n);
  const reasons: Record<string, number> = {};
  const count = (kind: string) => (reasons[kind] = (reasons[kind] ?? 0) + 1);
  for (let i = 0; i < n; i++) {
    if (plan.window[i] >= 0) {
      status[i] = "ok";
      count("ok");
      continue;
    }
    if (complete[i]) {
      status[i] = `not enough days for a window (a run of ${plan.runLength[i]} consecutive ` +
        `days with all drivers, ${T} needed)`;
      count("not enough days for a window");
      continue;
    }
    const parts: string[] = [];
    const kinds: string[] = [];
    const missingDrivers = context.drivers.filter((c) => !Number.isFinite(daily.values[c]![i]));
    if (missingDrivers.length > 0) {
      parts.push(`missing driver ${missingDrivers.join(", ")}`);
      kinds.push("missing driver");
    }
    const modisParts = new Map<string, string[]>();
    for (const v of context.modisVars) {
      if (!Number.isNaN(series.dyn[i * F + dynNames.indexOf(v)])) continue;
      const [kind, text] = modisReason(
        context.modis.get(site.SITE_ID),
        v,
        daily.days[i],
        context.ens.data.modisMaxGapMonths,
      );
      if (!modisParts.has(kind)) modisParts.set(kind, []);
      modisParts.get(kind)!.push(text);
    }
    for (const [kind, texts] of modisParts) {
      parts.push(texts.join("; "));
      kinds.push(kind);
    }
    // one kind per day: the first reason
    count(kinds[0] ?? "incomplete features");
    status[i] = parts.join("; ");
  }
  return { status, reasons };
}

/** The batch source of one site's planned windows. */
function sourceOf(ens: LoadedEnsemble, inputs: SiteInputs): WindowBatchSource {
  return new WindowBatchSource({
    series: [inputs.series],
    statics: [inputs.statics],
    weights: [1],
    windows: inputs.plan.starts.map((start) => ({ series: 0, start })),
    pools: [inputs.pool],
  }, {
    window: ens.data.window,
    stride: ens.data.stride,
    supportK: ens.data.supportK,
    nStatic: ens.info.featureNames.static.length,
    targetScale: ens.info.targetScale,
    role: `predict:${inputs.series.site}`,
  });
}

/** Ensemble mean and sd of every planned day (`[n * 3]`, NaN where no window reports the day). */
function predictSite(
  ens: LoadedEnsemble,
  inputs: SiteInputs,
  options: { batchSize: number; seed: number; where: (row: number) => string },
): { mean: Float64Array; sd: Float64Array } {
  const { plan } = inputs;
  const T = ens.data.window;
  const n = inputs.series.days.length;
  const mean = new Float64Array(n * 3).fill(NaN);
  const sd = new Float64Array(n * 3).fill(NaN);
  // rows of each window, in window order
  const rowsOf: number[][] = plan.starts.map(() => []);
  for (let i = 0; i < n; i++) if (plan.window[i] >= 0) rowsOf[plan.window[i]].push(i);
  let w0 = 0;
  const source = sourceOf(ens, inputs);
  for (
    const batch of source.batches({
      batchSize: options.batchSize,
      seed: options.seed,
      shuffle: false,
    })
  ) {
    try {
      const [meanT, sdT] = tf.tidy(() => {
        const members = tf.stack(
          ens.models.map((m) => predictPhysical(m, batch, ens.info.targetScale)),
        );
        const { mean, variance } = tf.moments(members, 0);
        return [mean, tf.sqrt(tf.relu(variance))];
      });
      const mv = meanT.dataSync(), sv = sdT.dataSync();
      tf.dispose([meanT, sdT]);
      const B = batch.xDyn.shape[0];
      for (let b = 0; b < B; b++) {
        const w = w0 + b;
        for (const row of rowsOf[w]) {
          const t = row - plan.starts[w];
          checkFinitePrediction(mv, sv, (b * T + t) * 3, options.where(row));
          for (let j = 0; j < 3; j++) {
            mean[row * 3 + j] = mv[(b * T + t) * 3 + j];
            sd[row * 3 + j] = sv[(b * T + t) * 3 + j];
          }
        }
      }
      w0 += B;
    } finally {
      disposeBatch(batch);
    }
  }
  return { mean, sd };
}

/** One site's rows of the prediction table ({@link PREDICTION_COLUMNS}). */
function siteFrame(
  id: string,
  days: Int32Array,
  values: { mean: Float64Array; sd: Float64Array },
  extra: { status: string[]; context: Int32Array },
): pl.DataFrame {
  const n = days.length;
  const pick = (a: Float64Array, j: number) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = a[i * 3 + j];
    return out;
  };
  return pl.DataFrame({
    site: pl.Series("site", new Array(n).fill(id), pl.Utf8),
    date: pl.Series("date", days).cast(pl.Date),
    GPP: pick(values.mean, 0),
    RECO: pick(values.mean, 1),
    NEE: pick(values.mean, 2),
    GPP_sd: pick(values.sd, 0),
    RECO_sd: pick(values.sd, 1),
    NEE_sd: pick(values.sd, 2),
    status: pl.Series("status", extra.status, pl.Utf8),
    context_days: Float64Array.from(extra.context, (c) => (c > 0 ? c : NaN)),
  }).withColumns(
    ...["GPP", "RECO", "NEE", "GPP_sd", "RECO_sd", "NEE_sd"].map((c) => pl.col(c).fillNan(null)),
    pl.col("context_days").fillNan(null).cast(pl.Int32),
  );
}
