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
 * No silent holes: a day with drivers in a run of at least `window` consecutive days is predicted.
 * Days without a MODIS observation (before the first MODIS month, 2000-02 for EVI and 2001-01 for
 * LAI in MetaFlux, after the last, or in a gap of more than `modisMaxGapMonths` months) get LAI/EVI
 * from the site's mean seasonal cycle (lib/data/modis.ts `interpolateModisFilled`) and the status
 * {@link STATUS_OK_SEASONAL}: training never saw such inputs (it drops those days), so these
 * values extrapolate and the status says so. An ensemble whose members use different feature
 * sets is split into groups (lib/predict/groups.ts): a site with MODIS (at least one value of each
 * variable) is predicted by the MODIS members, a site without by the meteo-only members
 * ({@link STATUS_OK_METEO}), else its days get {@link STATUS_NO_MODIS}. Members of a water feature
 * set (`*_water`, lib/data/water.ts) also need the monthly file's precipitation: months without P
 * are filled from the site's mean seasonal cycle of P ({@link STATUS_OK_SEASONAL_P}), a site
 * without any goes to members without the water drivers ({@link STATUS_OK_NO_WATER}), else
 * {@link STATUS_NO_MONTHLY}. Plain days say `ok`.
 *
 * Days that cannot be predicted carry null values and a status giving the reason.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import pl from "polars";
import { disposeBatch, type SupportStats, WindowBatchSource } from "../data/batches.ts";
import { buildFeatures, needsTrailing, needsWater } from "../data/features.ts";
import { FluxnetInputError } from "../data/fluxnet.ts";
import {
  loadModisMonthly,
  MODIS_VARIABLES,
  type ModisMonthly,
  modisSeasonalCycle,
} from "../data/modis.ts";
import { preprocessSites, supportPool } from "../data/preprocess.ts";
import { encodeStatic } from "../data/static.ts";
import { parseTrailingName, trailingMean } from "../data/trailing.ts";
import { PRECIPITATION_WINDOWS, precipitationCycle, WATER_COLUMNS } from "../data/water.ts";
import type { SiteSeries, WindowRef } from "../data/windows.ts";
import { checkFinitePrediction, ensembleInference } from "../train/predict.ts";
import type { LoadedEnsemble, LoadEnsembleOptions } from "./ensemble.ts";
import {
  type EnsembleGroups,
  isEnsembleGroups,
  loadEnsembleGroups,
  modisVariables,
} from "./groups.ts";
import {
  checkDriverConsistency,
  checkDriverLatitude,
  checkDriverUnits,
  type DriverDaily,
  type FileDriver,
  isFileDriver,
  listDriverFiles,
  loadPredictionSites,
  parseDriverDaily,
  type PredictionSite,
  requireFolder,
} from "./inputs.ts";
import { type AdaptationSummary, adaptationSummary } from "./adaptation.ts";
import { assessSite, oodSummary, oodWarning, prepareOodReference, type SiteOod } from "./ood.ts";
import { planWindows, type WindowPlan } from "./tiling.ts";

/** Features computed from the date and latitude (lib/data/features.ts). */
const COMPUTED = ["SW_POT", "DAY_LENGTH", "DOY_SIN", "DOY_COS"];

/** The daily-file driver a dynamic feature is read or computed from (itself, or a trailing mean's). */
function fileDriverOf(name: string): FileDriver | null {
  const source = parseTrailingName(name)?.column ?? name;
  return isFileDriver(source) ? source : null;
}

/**
 * The columns of predict's output table, in order (lib/eval's PREDICTION_COLUMNS are those of a
 * stored predictions table of a unit).
 */
export const PREDICT_OUTPUT_COLUMNS = [
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
  "OOD",
  "OOD_Z_DIST",
  "OOD_STATIC_DIST",
  "NEAREST_SITES",
] as const;

/** Status of a day predicted from observed (or linearly bridged) MODIS, or without MODIS. */
export const STATUS_OK = "ok";
/** Status of a day predicted with LAI/EVI from the site's mean seasonal cycle. */
export const STATUS_OK_SEASONAL = "ok (LAI/EVI from the site's mean seasonal cycle)";
/**
 * Status of a day predicted with precipitation from the site's mean seasonal cycle (water feature
 * sets: the day or one of the 90 days before it has no monthly P of its own).
 */
export const STATUS_OK_SEASONAL_P = "ok (P from the site's mean seasonal cycle)";
/** Status of a day with both LAI/EVI and precipitation from the site's mean seasonal cycle. */
export const STATUS_OK_SEASONAL_BOTH = "ok (LAI/EVI and P from the site's mean seasonal cycle)";
/**
 * Status of a day of a site without monthly precipitation, predicted by members without the water
 * drivers (an ensemble with `*_water` members and others).
 */
export const STATUS_OK_NO_WATER =
  "ok (members without water drivers: no precipitation for this site)";
/**
 * Status of every day of a site that no group of an ensemble with water members can predict (no
 * MODIS or no precipitation for a member that needs it, and no member that does without).
 */
export const STATUS_NO_MONTHLY =
  "no monthly MODIS/precipitation for this site that the members need, and no member without them";
/** Status of a day of a site without MODIS, predicted by the meteo-only members of the ensemble. */
export const STATUS_OK_METEO = "ok (meteo-only members: no MODIS for this site)";
/** Status of every day of a site without MODIS when the ensemble has no meteo-only member. */
export const STATUS_NO_MODIS = "no MODIS for this site and no meteo-only member in the ensemble";

/**
 * Whether a status is one of a predicted day (`ok`, or `ok (...)` naming where its inputs came
 * from).
 *
 * @example
 * ```ts
 * import { isPredicted } from "./predict.ts";
 * console.log(isPredicted("ok (LAI/EVI from the site's mean seasonal cycle)")); // true
 * ```
 */
export function isPredicted(status: string): boolean {
  return status === STATUS_OK || status.startsWith(`${STATUS_OK} (`);
}

/** Options of {@link predictSites}. */
export interface PredictSitesOptions {
  /** Folder of FLUXNET2015-style daily files `FLX_<SITE>_FLUXNET2015_<SET>_DD_<years>*.csv`. */
  data: string;
  /** Site table with SITE_ID, LAT, LON, IGBP, KOPPEN_MAIN, ELEV, MAT, MAP, P_OVER_PET. */
  sites: string;
  /**
   * Folder of `<SITE>_MM.csv` monthly files (MetaFlux layout); required when every member uses
   * LAI/EVI or (water feature sets) precipitation; it must exist (a missing folder is an error, not
   * "no MODIS"). A site without a file is predicted by the members that need none, if any.
   */
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

/** The members of one feature set of the ensemble. */
export interface PredictGroupReport {
  featureSet: string;
  members: string[];
  /** MODIS variables the members read (empty: meteo-only). */
  modis: string[];
  window: number;
  stride: number;
  supportK: number;
}

/** What happened at one site. */
export interface SitePredictionReport {
  site: string;
  file: string;
  /** The feature set of the members that predicted the site (null: no group could). */
  group: string | null;
  days: number;
  predicted: number;
  /** predicted / days. */
  share: number;
  /** Days with every driver (TA_F, SW_IN_F, VPD_F as the members need). */
  daysWithDrivers: number;
  /** predicted / daysWithDrivers (0 when no day has drivers). */
  coverage: number;
  firstDate: string;
  lastDate: string;
  windows: number;
  /**
   * Days per status kind: "ok", "ok (LAI/EVI from the site's mean seasonal cycle)",
   * "ok (meteo-only members: ...)", "missing driver", "not enough days for a window", "no MODIS".
   */
  reasons: Record<string, number>;
  /** How the support sets of this site's windows were filled. */
  support: SupportStats;
  /**
   * Out-of-distribution assessment (lib/predict/ood.ts): distances to the nearest training site
   * in z and static descriptors, their thresholds, the nearest training sites, the flag.
   */
  ood: SiteOod;
  seconds: number;
}

/** What {@link predictSites} did. */
export interface PredictReport {
  members: string[];
  /** The members grouped by feature set (MODIS groups first). */
  groups: PredictGroupReport[];
  /** Window, stride, support K and features of the first group. */
  window: number;
  stride: number;
  supportK: number;
  featureNames: { dyn: string[]; static: string[] };
  seed: number;
  /**
   * A few-shot adapted run (`deno task adapt`, lib/predict/adapt.ts): method, site and months of
   * its adaptation.json; null for a plain (zero-shot) run.
   */
  adaptation: AdaptationSummary | null;
  sites: SitePredictionReport[];
  /**
   * Sites flagged out of distribution, and what the out-of-distribution reference could not use
   * (e.g. a member without reference_sites.json).
   */
  ood: { flagged: string[]; warnings: string[] };
  total: {
    days: number;
    predicted: number;
    share: number;
    daysWithDrivers: number;
    coverage: number;
  };
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

/**
 * One line on the coverage of a report: predicted days of all days and of the days with drivers.
 *
 * @example
 * ```ts ignore
 * console.error(`predict: ${coverageLine(report)}`);
 * ```
 */
export function coverageLine(report: Pick<PredictReport, "total" | "sites">): string {
  const t = report.total;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return `${t.predicted}/${t.days} days predicted (${pct(t.share)}); ${t.predicted}/` +
    `${t.daysWithDrivers} days with drivers (${pct(t.coverage)}) at ${report.sites.length} site(s)`;
}

interface Prepared {
  site: PredictionSite;
  daily: DriverDaily;
  /** The group that predicts the site (null: none can). */
  group: LoadedEnsemble | null;
}

function iso(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Predict daily GPP, RECO and NEE (ensemble mean, GPP/RECO clipped at 0) and their ensemble
 * standard deviations at every day of every daily file of a folder. `run` is a run folder, an
 * ensemble folder, a list of run folders, an already loaded ensemble or groups of ensembles
 * (lib/predict/groups.ts; not disposed here). Members are grouped by feature set: a site with MODIS
 * is predicted by the members that use it (days without a MODIS observation get LAI/EVI from the
 * site's mean seasonal cycle, status {@link STATUS_OK_SEASONAL}), a site without by the meteo-only
 * members ({@link STATUS_OK_METEO}), else its days get {@link STATUS_NO_MODIS}.
 * Every input is validated before any prediction; a bad input throws an error naming the file
 * and column. The table has the columns {@link PREDICT_OUTPUT_COLUMNS}, one row per input day, sorted
 * by site and date; days that cannot be predicted have null values and a reason in `status`.
 * OOD, OOD_Z_DIST, OOD_STATIC_DIST and NEAREST_SITES (constant per site) compare the site with the
 * run's training sites (lib/predict/ood.ts); a flagged site gets a warning line through
 * `onProgress`.
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
 * console.log(frame.head().toString(), report.total.coverage);
 * ```
 */
export async function predictSites(
  run: string | readonly string[] | LoadedEnsemble | EnsembleGroups,
  options: PredictSitesOptions,
): Promise<{ frame: pl.DataFrame; report: PredictReport }> {
  const t0 = performance.now();
  const progress = options.onProgress ?? (() => {});
  const owned = typeof run === "string" || Array.isArray(run);
  const ens: EnsembleGroups = owned
    ? await loadEnsembleGroups(run as string | string[], options.load)
    : isEnsembleGroups(run)
    ? run
    : { groups: [run as LoadedEnsemble], dirs: (run as LoadedEnsemble).dirs, dispose() {} };
  try {
    const tLoad = performance.now();
    for (const g of ens.groups) {
      progress(
        `predict: ${g.models.length} member(s) (${g.info.model.name}, feature set ` +
          `${g.data.featureSet}), window ${g.data.window}, stride ${g.data.stride}, support K ` +
          `${g.data.supportK}`,
      );
    }
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

/**
 * Validate the site's static cells against a group's static encoding (an error naming the site
 * table, the column and the line).
 *
 * @example
 * ```ts ignore
 * checkStatics(ens, site, "new_sites/sites.csv");
 * ```
 */
export function checkStatics(
  ens: Pick<LoadedEnsemble, "statics">,
  site: PredictionSite,
  sitesFile: string,
): void {
  const encoding = ens.statics.encoding;
  if (!encoding.igbpClasses.includes(site.IGBP)) {
    throw new FluxnetInputError(
      `site ${site.SITE_ID}: IGBP class ${site.IGBP} is unknown to the run (it was trained ` +
        `with ${encoding.igbpClasses.join(", ")})`,
      { file: sitesFile, column: "IGBP", line: site.line },
    );
  }
  for (const c of encoding.numeric) {
    const key = c as keyof typeof ens.statics.unverified;
    if (site[key] === undefined) {
      throw new FluxnetInputError(
        `the run uses the static descriptor ${c} (data.staticExtra): the site table needs a ` +
          `${c} column (cells may be empty: imputed as in training)`,
        { file: sitesFile, column: c, line: 1 },
      );
    }
    if (site[key] === null && !ens.statics.verifiedFill.includes(key)) {
      throw new FluxnetInputError(
        `site ${site.SITE_ID}: the cell is empty and the run's imputation value for ${c} is ` +
          `not known (${ens.statics.unverified[key]}); give a value`,
        { file: sitesFile, column: c, line: site.line },
      );
    }
  }
}

/**
 * The first group (MODIS groups first, then water groups) whose MODIS variables the site has at
 * least one value of, and (water feature sets) at least one month of precipitation (null: none).
 *
 * @example
 * ```ts ignore
 * const group = groupOf(ens.groups, modis.get("FR-Pue"));
 * ```
 */
export function groupOf(
  groups: readonly LoadedEnsemble[],
  monthly: ModisMonthly | undefined,
): LoadedEnsemble | null {
  return groups.find((g) =>
    modisVariables(g).every((v) => modisSeasonalCycle(monthly, v) !== null) &&
    (!usesWater(g) || precipitationCycle(monthly) !== null)
  ) ?? null;
}

/** Whether a group's members read the water drivers (lib/data/water.ts). */
function usesWater(g: Pick<LoadedEnsemble, "info">): boolean {
  return needsWater(g.info.featureNames.dyn);
}

async function predictWith(
  ens: EnsembleGroups,
  options: PredictSitesOptions,
  progress: (line: string) => void,
): Promise<{ frame: pl.DataFrame; report: PredictReport }> {
  const t0 = performance.now();
  const groups = ens.groups;
  if (groups.length === 0) throw new Error("predict: the ensemble has no member");
  for (const g of groups) {
    const unknown = g.info.featureNames.dyn.filter((n) =>
      fileDriverOf(n) === null && !COMPUTED.includes(n) &&
      !(MODIS_VARIABLES as readonly string[]).includes(n) && !WATER_COLUMNS.includes(n)
    );
    if (unknown.length > 0) {
      throw new Error(`the run uses features prediction cannot build: ${unknown.join(", ")}`);
    }
  }
  const drivers = [
    ...new Set(groups.flatMap((g) => g.info.featureNames.dyn.map(fileDriverOf))),
  ].filter((d): d is FileDriver => d !== null);
  const modisGroups = groups.filter((g) => modisVariables(g).length > 0);
  const meteoGroup = groups.find((g) => modisVariables(g).length === 0);
  // water members need the monthly file too (its P_F/P_ERA); without any, as before
  const waterGroups = groups.filter(usesWater);
  const monthlyGroups = groups.filter((g) => modisVariables(g).length > 0 || usesWater(g));
  const freeGroup = groups.find((g) => !monthlyGroups.includes(g));

  // 1. inputs: site table, files, MODIS; all validated before any prediction
  const table = await loadPredictionSites(options.sites);
  const byId = new Map(table.map((s) => [s.SITE_ID, s]));
  // a mistyped folder is an error, not "no MODIS" (every site by the meteo-only members)
  if (options.monthly !== undefined) requireFolder(options.monthly, { what: "--monthly" });
  const files = listDriverFiles(options.data, { only: options.only });
  if (files.length === 0) throw new Error(`${options.data}: no site to predict`);
  const sitesOfFiles = files.map((f) => {
    const site = byId.get(f.site);
    if (!site) {
      throw new FluxnetInputError(
        `site ${f.site} (from the file name) is not in the site table ${options.sites}`,
        { file: f.path, column: "SITE_ID" },
      );
    }
    return site;
  });
  let modis = new Map<string, ModisMonthly>();
  if (waterGroups.length > 0) {
    const first = monthlyGroups[0];
    const vars = modisVariables(first);
    if (!options.monthly && !freeGroup) {
      throw new Error(
        `the run uses ${vars.length ? `MODIS ${vars.join(" and ")} and ` : ""}precipitation ` +
          `(P_F/P_ERA) (feature set "${first.data.featureSet}"): give the folder of monthly ` +
          `<SITE>_MM.csv files (MetaFlux layout) with --monthly`,
      );
    }
    if (options.monthly) {
      const loaded = loadModisMonthly(options.monthly, sitesOfFiles.map((s) => s.SITE_ID));
      modis = loaded.monthly;
      if (loaded.missing.length > 0) {
        progress(
          `inputs: no monthly file (<SITE>_MM.csv in ${options.monthly}) for site(s) ` +
            `${loaded.missing.join(", ")}: ${
              freeGroup
                ? `predicted by the ${freeGroup.data.featureSet} members`
                : STATUS_NO_MONTHLY
            }`,
        );
      }
    } else {
      progress(
        `inputs: no --monthly folder: every site is predicted by the ` +
          `${freeGroup!.data.featureSet} members`,
      );
    }
    if (!table.some((s) => s.WHC !== undefined)) {
      progress(
        `inputs: the site table has no WHC column: the water members' soil-water bucket uses ` +
          `the default capacity (lib/data/water.ts DEFAULT_WHC) at every site`,
      );
    }
  } else if (modisGroups.length > 0) {
    const vars = modisVariables(modisGroups[0]);
    if (!options.monthly && !meteoGroup) {
      throw new Error(
        `the run uses MODIS ${vars.join(" and ")} (feature set ` +
          `"${modisGroups[0].data.featureSet}"): give the folder of monthly <SITE>_MM.csv files ` +
          `(MetaFlux layout) with --monthly`,
      );
    }
    if (options.monthly) {
      const loaded = loadModisMonthly(options.monthly, sitesOfFiles.map((s) => s.SITE_ID));
      modis = loaded.monthly;
      if (loaded.missing.length > 0) {
        progress(
          `inputs: no monthly MODIS file (<SITE>_MM.csv in ${options.monthly}) for site(s) ` +
            `${loaded.missing.join(", ")}: ${
              meteoGroup ? "predicted by the meteo-only members" : STATUS_NO_MODIS
            }`,
        );
      }
    } else {
      progress(`inputs: no --monthly folder: every site is predicted by the meteo-only members`);
    }
  }
  // an adapted run predicts the site it was adapted to, and only that one
  const adapted = groups.find((g) => g.adaptation)?.adaptation ?? null;
  if (adapted) {
    const others = sitesOfFiles.map((s) => s.SITE_ID).filter((s) => s !== adapted.site);
    if (others.length > 0) {
      throw new Error(
        `the run ${ens.dirs[0]} is adapted to site ${adapted.site} (adaptation.json, method ` +
          `${adapted.method}): it predicts only that site; ${options.data} also holds ` +
          `${others.join(", ")} (predict them with the source run ${adapted.source.run}, or pass ` +
          `--only ${adapted.site})`,
      );
    }
    progress(
      `predict: adapted run: method ${adapted.method}, site ${adapted.site}, ${
        adapted.months.length ? `months ${adapted.months[0]}..${adapted.months.at(-1)}` : "0 months"
      } (${adapted.qcGoodDays} QC-good days), source ${adapted.source.run}`,
    );
  }
  const prepared: Prepared[] = [];
  for (const [k, f] of files.entries()) {
    const site = sitesOfFiles[k];
    const group = groupOf(groups, modis.get(site.SITE_ID));
    if (group) checkStatics(group, site, options.sites);
    const text = await Deno.readTextFile(f.path);
    const daily = parseDriverDaily(text, { file: f.path, site: f.site, drivers });
    checkDriverLatitude(daily, { site, sitesFile: options.sites });
    checkDriverUnits(daily, { lat: site.LAT });
    checkDriverConsistency(daily, { lat: site.LAT });
    prepared.push({ site, daily, group });
  }
  // out-of-distribution references, one per group (lib/predict/ood.ts); warnings said once
  const oodRefs = new Map(groups.map((g) => [g, prepareOodReference(g, { sites: table })]));
  const oodWarnings = [...new Set([...oodRefs.values()].flatMap((r) => r.warnings))];
  for (const w of oodWarnings) progress(`predict: WARNING: ${w}`);
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
    const withDrivers = p.daily.days.filter((_, i) =>
      drivers.every((c) => Number.isFinite(p.daily.values[c]![i]))
    ).length;
    let rep: SitePredictionReport;
    const base = {
      site: id,
      file: p.daily.file,
      days: n,
      daysWithDrivers: withDrivers,
      firstDate: iso(p.daily.days[0]),
      lastDate: iso(p.daily.days[n - 1]),
    };
    if (!p.group) {
      const nan = new Float64Array(n * 3).fill(NaN);
      // no group predicts the site: static descriptors only, against the first group's reference
      const ood = assessSite(oodRefs.get(groups[0])!, groups[0], { site: p.site });
      const noGroup = waterGroups.length > 0 ? STATUS_NO_MONTHLY : STATUS_NO_MODIS;
      frames.push(
        siteFrame(id, p.daily.days, { mean: nan, sd: nan }, {
          status: new Array(n).fill(noGroup),
          context: new Int32Array(n),
          ood,
        }),
      );
      rep = {
        ...base,
        group: null,
        predicted: 0,
        share: 0,
        coverage: 0,
        windows: 0,
        reasons: { [waterGroups.length > 0 ? "no monthly data" : "no MODIS"]: n },
        support: { full: 0, repeated: 0, selfOnly: 0 },
        ood,
        seconds: (performance.now() - ts) / 1000,
      };
    } else {
      const g = p.group;
      const inputs = siteInputs(g, p, modis, { modisFill: "seasonalCycle" });
      const okStatus = modisGroups.length > 0 && modisVariables(g).length === 0
        ? STATUS_OK_METEO
        : waterGroups.length > 0 && !usesWater(g)
        ? STATUS_OK_NO_WATER
        : STATUS_OK;
      const { status, reasons } = dayStatus(inputs, p, { ens: g, drivers, okStatus });
      const predicted = inputs.plan.starts.length > 0
        ? predictSite(g, inputs, {
          batchSize,
          seed,
          where: (row) =>
            `run ${g.dirs.join(", ")}: site ${id} (${p.daily.file}), ${iso(p.daily.days[row])}`,
        })
        : { mean: new Float64Array(n * 3).fill(NaN), sd: new Float64Array(n * 3).fill(NaN) };
      const ood = assessSite(oodRefs.get(g)!, g, { site: p.site, inputs });
      frames.push(
        siteFrame(id, p.daily.days, predicted, { status, context: inputs.plan.context, ood }),
      );
      const nOk = Object.entries(reasons).reduce((s, [r, c]) => s + (isPredicted(r) ? c : 0), 0);
      rep = {
        ...base,
        group: g.data.featureSet,
        predicted: nOk,
        share: n ? nOk / n : 0,
        coverage: withDrivers ? nOk / withDrivers : 0,
        windows: inputs.plan.starts.length,
        reasons,
        support: inputs.plan.starts.length > 0
          ? sourceOf(g, inputs).supportStats()
          : { full: 0, repeated: 0, selfOnly: 0 },
        ood,
        seconds: (performance.now() - ts) / 1000,
      };
    }
    reports.push(rep);
    const other = Object.entries(rep.reasons).filter(([r]) => !isPredicted(r))
      .map(([r, c]) => `${r} ${c}`);
    const both = rep.reasons[STATUS_OK_SEASONAL_BOTH] ?? 0;
    const filled = (rep.reasons[STATUS_OK_SEASONAL] ?? 0) + both;
    const filledP = (rep.reasons[STATUS_OK_SEASONAL_P] ?? 0) + both;
    progress(
      `[${k + 1}/${prepared.length}] ${id}: ${rep.predicted}/${n} days predicted ` +
        `(${(100 * rep.share).toFixed(1)}%), ${rep.predicted}/${withDrivers} days with drivers ` +
        `(${(100 * rep.coverage).toFixed(1)}%) by the ${rep.group ?? "(no)"} members` +
        `${filled ? ` (${filled} with LAI/EVI from the seasonal cycle)` : ""}` +
        `${filledP ? ` (${filledP} with P from the seasonal cycle)` : ""}, ${rep.windows} ` +
        `windows, ${rep.seconds.toFixed(1)} s${
          other.length ? `; not predicted: ${other.join(", ")}` : ""
        }; ${oodSummary(rep.ood)}`,
    );
    const warning = oodWarning(id, rep.ood);
    if (warning) progress(`predict: ${warning}`);
  }
  const tEnd = performance.now();
  const days = reports.reduce((s, r) => s + r.days, 0);
  const predicted = reports.reduce((s, r) => s + r.predicted, 0);
  const daysWithDrivers = reports.reduce((s, r) => s + r.daysWithDrivers, 0);
  const frame = pl.concat(frames, { how: "vertical" });
  const first = groups[0];
  return {
    frame: frame.sort(["site", "date"]),
    report: {
      members: ens.dirs,
      groups: groups.map((g) => ({
        featureSet: g.data.featureSet,
        members: g.dirs,
        modis: modisVariables(g),
        window: g.data.window,
        stride: g.data.stride,
        supportK: g.data.supportK,
      })),
      window: first.data.window,
      stride: first.data.stride,
      supportK: first.data.supportK,
      featureNames: {
        dyn: [...first.info.featureNames.dyn],
        static: [...first.info.featureNames.static],
      },
      seed,
      adaptation: adapted ? adaptationSummary(adapted) : null,
      sites: reports,
      ood: { flagged: reports.filter((r) => r.ood.ood).map((r) => r.site), warnings: oodWarnings },
      total: {
        days,
        predicted,
        share: days ? predicted / days : 0,
        daysWithDrivers,
        coverage: daysWithDrivers ? predicted / daysWithDrivers : 0,
      },
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
  /**
   * Support pool: non-overlapping complete driver windows, as for test sites in training; windows
   * with LAI/EVI from the seasonal cycle only when the site has no other window.
   */
  pool: WindowRef[];
  /** Per row: 1 when every dynamic feature exists. */
  complete: Uint8Array;
  /** Per row: 1 when a MODIS feature of the run comes from the site's mean seasonal cycle. */
  seasonal: Uint8Array;
  /**
   * Per row (water feature sets): 1 when the precipitation of the day or of one of the 89 days
   * before it (the longest trailing window of P) comes from the site's mean seasonal cycle.
   */
  seasonalPrecipitation: Uint8Array;
  /** Which window predicts which day. */
  plan: WindowPlan;
}

/**
 * Features, standardized series, static vector, support pool and window plan of one site: the
 * features of its drivers by lib/data `buildFeatures`, then `preprocessSites` and `supportPool`,
 * the functions `buildDataset` uses, with the run's scaler and static encoding. With
 * `modisFill: "seasonalCycle"` (what {@link predictSites} uses) days without a MODIS observation
 * get LAI/EVI from the site's mean seasonal cycle; without it they are incomplete, as in training.
 *
 * @example
 * ```ts ignore
 * const inputs = siteInputs(ens, { site, daily }, modis, { modisFill: "seasonalCycle" });
 * ```
 */
export function siteInputs(
  ens: Pick<LoadedEnsemble, "info" | "scaler" | "data" | "statics">,
  input: { site: PredictionSite; daily: DriverDaily },
  modis: ReadonlyMap<string, ModisMonthly>,
  options: { modisFill?: "seasonalCycle" } = {},
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
  const water = needsWater(dynNames);
  const { table: features, runs } = buildFeatures(frame, [{
    SITE_ID: id,
    LAT: site.LAT,
    WHC: site.WHC,
  }], {
    modis: modis as Map<string, ModisMonthly>,
    maxGapMonths: ens.data.modisMaxGapMonths,
    modisFill: options.modisFill,
    trailing: needsTrailing(dynNames),
    water,
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
    standardize: ens.data.standardize,
  });
  const F = dynNames.length;
  const complete = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let ok = 1;
    for (let f = 0; f < F; f++) if (Number.isNaN(series.dyn[i * F + f])) ok = 0;
    complete[i] = ok;
  }
  // a MODIS feature from the seasonal cycle: flagged missing (no observation) yet with a value
  const seasonal = new Uint8Array(n);
  for (const v of MODIS_VARIABLES.filter((x) => dynNames.includes(x))) {
    const flag = features.getColumn(`${v}_MISSING`).toArray() as number[];
    const f = dynNames.indexOf(v);
    for (let i = 0; i < n; i++) {
      if (flag[i] === 1 && !Number.isNaN(series.dyn[i * F + f])) seasonal[i] = 1;
    }
  }
  // precipitation from the seasonal cycle (flagged missing yet with a value), spread over the
  // days whose trailing P windows contain such a day
  const seasonalPrecipitation = new Uint8Array(n);
  if (water) {
    const flag = features.getColumn("P_MISSING").toArray() as number[];
    const pCol = features.getColumn("P").toArray() as (number | null)[];
    const filled = Float64Array.from(flag, (f, i) => (f === 1 && pCol[i] !== null ? 1 : 0));
    const longest = Math.max(...PRECIPITATION_WINDOWS);
    const spread = trailingMean(filled, series.days, new Array(n).fill(id), longest);
    for (let i = 0; i < n; i++) if (spread[i] > 0) seasonalPrecipitation[i] = 1;
  }
  const plan = planWindows(daily.days, complete, {
    window: ens.data.window,
    stride: ens.data.stride,
  });
  // the support pool as in training (windows of observed inputs only), unless the site has none
  const T = ens.data.window;
  const all = supportPool(series, 0, T);
  const observed = all.filter((w) =>
    !seasonal.subarray(w.start, w.start + T).includes(1) &&
    !seasonalPrecipitation.subarray(w.start, w.start + T).includes(1)
  );
  return {
    series,
    statics,
    pool: observed.length > 0 ? observed : all,
    complete,
    seasonal,
    seasonalPrecipitation,
    plan,
  };
}

/** The status of every day: "ok", "ok (...)", or why it cannot be predicted; counts per kind. */
function dayStatus(
  inputs: SiteInputs,
  input: Prepared,
  context: { ens: LoadedEnsemble; drivers: FileDriver[]; okStatus: string },
): { status: string[]; reasons: Record<string, number> } {
  const { plan, complete, series, seasonal, seasonalPrecipitation } = inputs;
  const { daily } = input;
  const T = context.ens.data.window;
  const dynNames = context.ens.info.featureNames.dyn;
  const F = dynNames.length;
  const n = daily.days.length;
  const status: string[] = new Array(n);
  const reasons: Record<string, number> = {};
  const count = (kind: string) => (reasons[kind] = (reasons[kind] ?? 0) + 1);
  for (let i = 0; i < n; i++) {
    if (plan.window[i] >= 0) {
      status[i] = seasonal[i] && seasonalPrecipitation[i]
        ? STATUS_OK_SEASONAL_BOTH
        : seasonal[i]
        ? STATUS_OK_SEASONAL
        : seasonalPrecipitation[i]
        ? STATUS_OK_SEASONAL_P
        : context.okStatus;
      count(status[i]);
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
    const missingDrivers = context.drivers.filter((c) =>
      dynNames.includes(c) && !Number.isFinite(daily.values[c]![i])
    );
    if (missingDrivers.length > 0) {
      parts.push(`missing driver ${missingDrivers.join(", ")}`);
      kinds.push("missing driver");
    }
    const noModis = MODIS_VARIABLES.filter((v) =>
      dynNames.includes(v) && Number.isNaN(series.dyn[i * F + dynNames.indexOf(v)])
    );
    if (noModis.length > 0) {
      parts.push(`no MODIS ${noModis.join(" and ")} for the site`);
      kinds.push("no MODIS");
    }
    const noWater = WATER_COLUMNS.filter((c) =>
      dynNames.includes(c) && Number.isNaN(series.dyn[i * F + dynNames.indexOf(c)])
    );
    if (noWater.length > 0 && missingDrivers.length === 0) {
      parts.push(`no precipitation for the day (${noWater.join(", ")} missing)`);
      kinds.push("no precipitation");
    }
    // one kind per day: the first reason
    count(kinds[0] ?? "incomplete features");
    status[i] = parts.join("; ") || "incomplete features";
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
  // an adapted run: each member's fixed z, the ensemble's linear map (lib/predict/adaptation.ts)
  const fixedZ = (ens.adaptations ?? []).map((a) =>
    a?.z ? tf.tensor2d(a.z, [1, a.z.length]) : null
  );
  const linear = ens.adaptation?.linear ?? null;
  const inference = ensembleInference(ens.models, source, { fixedZ });
  try {
    for (
      const batch of source.batches({
        batchSize: options.batchSize,
        seed: options.seed,
        shuffle: false,
      })
    ) {
      try {
        const { mean: mv, sd: sv } = inference.predict(batch);
        if (linear) applyLinear(mv, sv, linear);
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
  } finally {
    inference.dispose();
    tf.dispose(fixedZ.filter((z) => z !== null));
  }
  return { mean, sd };
}

/**
 * Apply a per-flux linear map y' = a y + b to `[..., 3]` ensemble means in place (GPP and RECO
 * clipped at 0 after it) and scale the sd by |a| (method "linear" of lib/predict/adapt.ts).
 *
 * @example
 * ```ts
 * import { applyLinear } from "./predict.ts";
 * const mean = new Float32Array([1, 2, -1]), sd = new Float32Array([1, 1, 1]);
 * applyLinear(mean, sd, { GPP: [2, 0], RECO: [1, -5], NEE: [1, 1] }); // mean [2, 0, 0], sd [2, 1, 1]
 * ```
 */
export function applyLinear(
  mean: Float32Array | Float64Array,
  sd: Float32Array | Float64Array,
  linear: { GPP: [number, number]; RECO: [number, number]; NEE: [number, number] },
): void {
  const maps = [linear.GPP, linear.RECO, linear.NEE];
  for (let i = 0; i < mean.length; i += 3) {
    for (let j = 0; j < 3; j++) {
      const [a, b] = maps[j];
      const v = a * mean[i + j] + b;
      mean[i + j] = j < 2 ? Math.max(0, v) : v;
      sd[i + j] = Math.abs(a) * sd[i + j];
    }
  }
}

/** One site's rows of the prediction table ({@link PREDICT_OUTPUT_COLUMNS}). */
function siteFrame(
  id: string,
  days: Int32Array,
  values: { mean: Float64Array; sd: Float64Array },
  extra: { status: string[]; context: Int32Array; ood: SiteOod },
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
    // constant per site (lib/predict/ood.ts)
    OOD: pl.Series("OOD", new Array(n).fill(extra.ood.ood), pl.Bool),
    OOD_Z_DIST: pl.Series("OOD_Z_DIST", new Array(n).fill(extra.ood.zDistance), pl.Float64),
    OOD_STATIC_DIST: pl.Series(
      "OOD_STATIC_DIST",
      new Array(n).fill(extra.ood.staticDistance),
      pl.Float64,
    ),
    NEAREST_SITES: pl.Series(
      "NEAREST_SITES",
      new Array(n).fill(extra.ood.nearestStatic.join(";") || null),
      pl.Utf8,
    ),
  }).withColumns(
    ...["GPP", "RECO", "NEE", "GPP_sd", "RECO_sd", "NEE_sd"].map((c) => pl.col(c).fillNan(null)),
    pl.col("context_days").fillNan(null).cast(pl.Int32),
  );
}
