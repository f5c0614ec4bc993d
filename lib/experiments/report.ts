/**
 * Merge the finished units of a run folder into tables and figures:
 * `results/<run>/tables/*.{md,csv,json}` and `results/<run>/figures/*.{vl.json,svg,png}`.
 *
 * Per split: each model label's seeds are read (per-seed site metrics are kept for the spread over
 * seeds) and averaged into an ensemble when there are several; then all labels are aligned on the
 * site-days every one of them predicted, and every table is computed on those same days.
 *
 * @module
 */
import { join } from "node:path";
import { configHash, gitCommit, readJson } from "../train/runs.ts";
import type { Site } from "../data/sites.ts";
import {
  type AggregateRow,
  aggregateSites,
  seedSpread,
  type SiteMetricRow,
  siteMetrics,
} from "../eval/aggregate.ts";
import { balanceTable } from "../eval/balance.ts";
import {
  pickClimateSites,
  scatterSpec,
  seasonalCycleSpec,
  siteR2Spec,
  writeFigure,
} from "../eval/figures.ts";
import {
  type DoneMarker,
  finishedUnits,
  type Profile,
  ProfileSchema,
  SPLIT_KINDS,
} from "./plan.ts";
import {
  alignPredictions,
  ensemblePredictions,
  type PredictionRow,
  readPredictions,
} from "../eval/predictions.ts";
import { multiScaleMetrics } from "../eval/scales.ts";
import { describeSignificance, significanceTable } from "../eval/significance_table.ts";
import {
  collectXbaseDays,
  compareXbase,
  readXbase,
  XBASE_SITES,
  xbaseTableRows,
} from "../eval/xbase.ts";
import {
  ablationTable,
  balanceSummaryTable,
  type Cell,
  displayName,
  groupTable,
  MAIN_MODELS,
  mainTable,
  type Provenance,
  scalesTable,
  siteCitations,
  siteSummaryTable,
  type Table,
  type TableContext,
  writeTable,
} from "../eval/tables.ts";

/** Options of {@link buildReport}. */
export interface ReportOptions {
  /** The parsed sites.csv (for DOIs). */
  sites: readonly Site[];
  /** The profile the run used (its hash goes into the provenance). */
  profile?: Profile;
  /** Skip rendering figures. */
  figures?: boolean;
  /** The X-BASE monthly extract folder (DataPaths.xbaseMonthly); no X-BASE table without it. */
  xbaseDir?: string;
  log?: (message: string) => void;
  /**
   * Extra tables computed from the aligned predictions of a split (e.g. the X-BASE comparison);
   * called once per split.
   */
  extraTables?: (
    rows: readonly PredictionRow[],
    context: TableContext & { split: string },
  ) => Promise<Table[]> | Table[];
}

/** What {@link buildReport} wrote. */
export interface ReportResult {
  units: number;
  tables: string[];
  figures: string[];
  /** Main-table aggregates per split (first QC threshold), for printing. */
  main: Record<string, AggregateRow[]>;
  /** Rows dropped by the alignment, per split and model. */
  alignmentDropped: Record<string, Record<string, number>>;
  /** Per split: which TAM-RL margins are resolved at 95 % (first QC threshold), in one sentence. */
  significance: Record<string, string>;
}

function qcSuffix(qc: number, first: number): string {
  return qc === first ? "" : `_qc${Math.round(qc * 100)}`;
}

function rename(table: Table, suffix: string, titleExtra: string): Table {
  return { ...table, name: `${table.name}${suffix}`, title: `${table.title}${titleExtra}` };
}

/**
 * The X-BASE comparison of a split's predictions at the four X-BASE towers that are test sites of
 * the split (towers used for training cannot be scored and are named in the notes): monthly R2
 * and RMSE of FLUXCOM-X-BASE and of every main model over the same months (lib/eval/xbase.ts,
 * monthly rule of lib/eval/monthly.ts). Returns no table when no tower is a test site or the
 * X-BASE extract is missing.
 *
 * @example
 * ```ts ignore
 * const tables = xbaseTables(rows, { provenance, sites, split: "koppen" }, { xbaseDir });
 * ```
 */
export function xbaseTables(
  rows: readonly PredictionRow[],
  context: TableContext & { split: string },
  options: { xbaseDir: string },
): Table[] {
  const testSites = new Set(rows.map((r) => r.site));
  const towers = XBASE_SITES.filter((s) => testSites.has(s));
  const notTest = XBASE_SITES.filter((s) => !testSites.has(s));
  if (!towers.length) return [];
  let xbase;
  try {
    xbase = readXbase(options.xbaseDir, { sites: towers });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const models = MAIN_MODELS.filter((m) => rows.some((r) => r.model === m));
  const byDay = collectXbaseDays(
    rows.filter((r) => (models as readonly string[]).includes(r.model)),
    { sites: towers },
  );
  const cmp = compareXbase([...byDay.values()], xbase, { models, sites: towers });
  const { columns, rows: tableRows } = xbaseTableRows(cmp.scores, models);
  return [{
    name: "xbase",
    title: "Monthly scores at the FLUXCOM-X-BASE towers: X-BASE and our models on the same months",
    columns,
    rows: tableRows,
    notes: [
      ...cmp.notes,
      `Towers scored (test sites of split ${context.split}): ${towers.join(", ")}` +
      (notTest.length
        ? `; not scored because they are not test sites of this split: ${notTest.join(", ")}`
        : ""),
      ...(context.rules ?? []),
    ],
    provenance: context.provenance,
    sites: context.sites,
  }];
}

/**
 * Build every table and figure of a run folder from its finished units.
 *
 * @example
 * ```ts
 * import { buildReport } from "./report.ts";
 * import { loadSites, resolveDataDir } from "../data/mod.ts";
 * const result = await buildReport("results/quick", {
 *   sites: await loadSites(resolveDataDir().sitesCsv),
 * });
 * ```
 */
export async function buildReport(runDir: string, options: ReportOptions): Promise<ReportResult> {
  const log = options.log ?? ((m: string) => console.log(m));
  const markers = await finishedUnits(runDir);
  const result: ReportResult = {
    units: markers.length,
    tables: [],
    figures: [],
    main: {},
    alignmentDropped: {},
    significance: {},
  };
  if (!markers.length) {
    log(`no finished units under ${join(runDir, "units")}; nothing to tabulate`);
    return result;
  }
  const profile = options.profile ?? await readRunProfile(runDir);
  const qcThresholds = profile?.eval.qcThresholds ?? [1.0, 0.8];
  const minDays = profile?.eval.minDays ?? 10;
  const commit = await gitCommit();
  const hash = profile ? (await configHash(profile)).slice(0, 16) : "unknown (no profile.json)";
  const tablesDir = join(runDir, "tables");
  const figuresDir = join(runDir, "figures");

  for (const split of SPLIT_KINDS) {
    const splitMarkers = markers.filter((m) => m.unit.split === split);
    if (!splitMarkers.length) continue;
    const byLabel = new Map<string, DoneMarker[]>();
    for (const m of splitMarkers) {
      const list = byLabel.get(m.unit.label) ?? [];
      list.push(m);
      byLabel.set(m.unit.label, list);
    }
    // Per-seed site metrics (for the spread over seeds) and the ensemble rows of each label.
    let { perSeedSites, ensembleRows, seedsOf } = readSplitPredictions(runDir, byLabel, {
      split,
      qcThreshold: qcThresholds[0],
      minDays,
      log,
    });
    const aligned = alignPredictions(ensembleRows);
    ensembleRows = [];
    result.alignmentDropped[split] = aligned.dropped;
    const rows = aligned.rows;
    const testSites = [...new Set(rows.map((r) => r.site))];
    const allSeeds = [...new Set(splitMarkers.map((m) => m.unit.seed))].sort((a, b) => a - b);
    const dataSummaries = [...new Set(splitMarkers.map((m) => m.outcome.dataSummary))];
    const provenance: Provenance = {
      gitCommit: commit,
      configHash: hash,
      seeds: allSeeds,
      backend: [...new Set(splitMarkers.map((m) => m.outcome.backend))].join(", "),
      dataSummary: `split ${split}: ${testSites.length} test sites, ${aligned.siteDays} ` +
        `site-days predicted by every model (${[...byLabel.keys()].length} models); ` +
        dataSummaries.join(" | "),
      wallTimeSeconds: splitMarkers.reduce((a, m) => a + m.wallSeconds, 0),
      profile: profile?.name,
      run: runDir.split("/").filter(Boolean).pop(),
      generatedAt: new Date().toISOString(),
    };
    // Training sites (from each unit's split.json, when the runner saved one) are cited too.
    const trainSites = await trainSitesOf(runDir, splitMarkers);
    const sites = [
      ...siteCitations(testSites, options.sites, { role: "test" }),
      ...siteCitations([...trainSites].filter((s) => !testSites.includes(s)), options.sites, {
        role: "train",
      }),
    ];
    const droppedNote = Object.entries(aligned.dropped).filter(([, n]) => n > 0)
      .map(([m, n]) => `${m} ${n}`).join(", ");
    const seedNote = Object.entries(seedsOf).map(([l, s]) => `${l}: ${s.join(",")}`).join("; ");
    const commonNotes = [
      `Ensembles: predictions averaged over the seeds of each model before scoring (seeds ${seedNote}).`,
      `All models scored on the same ${aligned.siteDays} site-days (rows dropped by this ` +
      `alignment: ${droppedNote || "none"}).`,
    ];
    const write = async (t: Table) => {
      result.tables.push(...await writeTable(t, tablesDir));
    };
    const balance = balanceTable(rows, { tolerance: 0.01 });
    for (const qc of qcThresholds) {
      const suffix = `_${split}${qcSuffix(qc, qcThresholds[0])}`;
      const titleExtra = ` [split ${split}, NEE QC >= ${qc}]`;
      const sm = siteMetrics(rows, { qcThreshold: qc, minDays });
      const excluded = sm.report.excluded.length
        ? [
          `Excluded (fewer than ${minDays} valid days): ` +
          sm.report.excluded.map((e) => `${e.model}/${e.site}/${e.flux} (${e.days})`).join(", "),
        ]
        : [];
      const context: TableContext = {
        provenance,
        sites,
        rules: [...sm.report.rules, ...commonNotes, ...excluded],
      };
      const all = aggregateSites(sm.sites);
      if (qc === qcThresholds[0]) result.main[split] = all;
      const main = mainTable(all, context);
      if (perSeedSites.length) {
        const spread = seedSpread(perSeedSites, "rmse");
        main.notes.push(
          "Single-seed spread of the site-mean RMSE (mean ± sd over seeds): " +
            spread.map((s) => `${s.model} ${s.flux} ${s.mean.toFixed(3)} ± ${s.sd.toFixed(3)}`)
              .join("; "),
        );
      }
      await write(rename(main, suffix, titleExtra));
      const mainModels = MAIN_MODELS.filter((m) => byLabel.has(m));
      if (byLabel.has("tamrl") && mainModels.length > 1) {
        const sig = significanceTable(sm.sites, context, {
          models: mainModels,
          perSeed: qc === qcThresholds[0] ? perSeedSites : undefined,
        });
        await write(rename(sig.table, suffix, titleExtra));
        if (qc === qcThresholds[0]) result.significance[split] = describeSignificance(sig.summary);
      }
      await write(rename(
        groupTable(aggregateSites(sm.sites, { by: "KOPPEN_MAIN" }), {
          ...context,
          by: "KOPPEN_MAIN",
          models: mainModels,
        }),
        suffix,
        titleExtra,
      ));
      await write(rename(
        groupTable(aggregateSites(sm.sites, { by: "IGBP" }), {
          ...context,
          by: "IGBP",
          models: mainModels,
        }),
        suffix,
        titleExtra,
      ));
      if ([...byLabel.keys()].some((l) => l.startsWith("tamrl:"))) {
        await write(rename(ablationTable(all, { ...context, balance }), suffix, titleExtra));
      }
      await write(rename(siteSummaryTable(all, context), suffix, titleExtra));
      const siteRows: Cell[][] = sm.sites.map((s) => [
        displayName(s.model),
        s.model,
        s.site,
        s.IGBP,
        s.KOPPEN_MAIN,
        s.flux,
        s.n,
        s.r2,
        s.r2_clipped,
        s.rmse,
        s.nmae,
        s.rae,
        s.bias,
      ]);
      await write({
        name: `site_metrics${suffix}`,
        title: `Per-site metrics${titleExtra}`,
        columns: [
          "model",
          "model label",
          "site",
          "IGBP",
          "Köppen",
          "flux",
          "days",
          "R2",
          "R2 clipped",
          "RMSE",
          "nMAE",
          "RAE",
          "bias",
        ],
        rows: siteRows,
        notes: context.rules ?? [],
        provenance,
        sites,
      });
    }
    const scales = multiScaleMetrics(rows);
    await write(rename(
      scalesTable(scales.rows, { provenance, sites, rules: [...scales.rules, ...commonNotes] }),
      `_${split}`,
      ` [split ${split}]`,
    ));
    await write(rename(
      balanceSummaryTable(balance, { provenance, sites, tolerance: 0.01, rules: commonNotes }),
      `_${split}`,
      ` [split ${split}]`,
    ));
    if (options.xbaseDir) {
      for (
        const t of xbaseTables(rows, { provenance, sites, rules: commonNotes, split }, {
          xbaseDir: options.xbaseDir,
        })
      ) {
        await write(rename(t, `_${split}`, ` [split ${split}]`));
      }
    }
    if (options.extraTables) {
      for (
        const t of await options.extraTables(rows, { provenance, sites, rules: commonNotes, split })
      ) {
        await write(rename(t, `_${split}`, ` [split ${split}]`));
      }
    }
    if (options.figures !== false) {
      const mainModels = MAIN_MODELS.filter((m) => byLabel.has(m));
      const mainRows = rows.filter((r) => (mainModels as readonly string[]).includes(r.model));
      const sm = siteMetrics(mainRows, { qcThreshold: qcThresholds[0], minDays });
      const figs: [string, () => ReturnType<typeof scatterSpec>][] = [
        [
          `pred_vs_obs_${split}`,
          () => scatterSpec(mainRows, { qcThreshold: qcThresholds[0], models: mainModels }),
        ],
        [`site_r2_${split}`, () => siteR2Spec(sm.sites, { models: mainModels })],
        [
          `seasonal_cycle_${split}`,
          () => seasonalCycleSpec(mainRows, { sites: pickClimateSites(mainRows, { count: 4 }) }),
        ],
      ];
      for (const [name, spec] of figs) {
        result.figures.push(...await writeFigure(spec(), { dir: figuresDir, name }));
      }
    }
  }
  return result;
}

/**
 * The profile a run folder was planned with (`profile.json`), undefined when there is none; one
 * that cannot be read is an error (its QC thresholds and minimum days would silently fall back to
 * the defaults).
 */
async function readRunProfile(runDir: string): Promise<Profile | undefined> {
  const raw = await readJson(join(runDir, "profile.json")).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  });
  const parsed = raw === null ? null : ProfileSchema.safeParse(raw);
  if (parsed && !parsed.success) {
    throw new Error(`tamflux report: ${join(runDir, "profile.json")} is not a valid profile`);
  }
  return parsed?.data;
}

/**
 * The predictions of one split's finished units, label by label: each label's seeds read and
 * checked, per-seed site metrics when there are several seeds (for the spread over seeds), and
 * the ensemble mean over seeds (a single seed's rows as they are).
 */
function readSplitPredictions(
  runDir: string,
  byLabel: ReadonlyMap<string, DoneMarker[]>,
  options: { split: string; qcThreshold: number; minDays: number; log: (m: string) => void },
): {
  perSeedSites: SiteMetricRow[];
  ensembleRows: PredictionRow[];
  seedsOf: Record<string, number[]>;
} {
  const { split, qcThreshold, minDays, log } = options;
  const perSeedSites: SiteMetricRow[] = [];
  let ensembleRows: PredictionRow[] = [];
  const seedsOf: Record<string, number[]> = {};
  for (const [label, list] of byLabel) {
    let rows: PredictionRow[] = [];
    for (const m of list) {
      const path = join(runDir, "units", m.unit.id, m.outcome.predictions);
      let unitRows: PredictionRow[];
      try {
        unitRows = readPredictions(path);
      } catch (error) {
        // e.g. polars' "File out of specification" for a truncated file: name the file and unit
        const why = ((error as Error).message ?? String(error)).split("\n")[0];
        throw new Error(
          why.includes(path) ? why : `tamflux report: unit ${m.unit.id}: cannot read ${path} ` +
            `(${why}); run the unit again (remove its done.json, then deno task reproduce)`,
        );
      }
      const wrong = unitRows.find((r) => r.model !== label || r.seed !== m.unit.seed);
      if (wrong) {
        throw new Error(
          `tamflux report: ${path} has a row of model ${wrong.model} seed ${wrong.seed}; ` +
            `the unit is ${label} seed ${m.unit.seed}`,
        );
      }
      rows = rows.concat(unitRows);
    }
    seedsOf[label] = list.map((m) => m.unit.seed).sort((a, b) => a - b);
    if (list.length > 1) {
      perSeedSites.push(...siteMetrics(rows, { qcThreshold, minDays }).sites);
      const ens = ensemblePredictions(rows);
      if (ens.dropped[label]) {
        log(`${split}/${label}: ${ens.dropped[label]} rows not predicted by every seed, dropped`);
      }
      rows = ens.rows;
    }
    ensembleRows = ensembleRows.concat(rows);
    log(`${split}/${label}: ${list.length} seed(s), ${rows.length} site-days`);
  }
  return { perSeedSites, ensembleRows, seedsOf };
}

/** The training sites of a split's units (from each unit's split.json, when it has one). */
async function trainSitesOf(runDir: string, markers: readonly DoneMarker[]): Promise<Set<string>> {
  const trainSites = new Set<string>();
  for (const m of markers) {
    try {
      const split = await readJson(join(runDir, "units", m.unit.id, "split.json")) as {
        train?: string[];
      };
      for (const s of split.train ?? []) trainSites.add(s);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return trainSites;
}
