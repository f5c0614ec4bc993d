/**
 * The per-site bias of the site-level CV (lib/experiments/cv.ts): where the product is wrong, and
 * whether those sites are unlike the sites their fold was trained on.
 *
 * - {@link cvBiasRows}: one row per site, flux and model (the reference TAM-RL, and the trees when
 *   scored) with the days scored, mean bias (predicted - observed), RMSE and R2 of the CV's
 *   per-site metrics, the site's IGBP class, Köppen group and DOI, and its place among the
 *   training sites of its fold in standardized static descriptors: the {@link NEAREST_COUNT}
 *   nearest training sites, the distance to the nearest one and the out-of-distribution flag
 *   (distance > the run's threshold, the 95th percentile of the training sites' leave-one-out
 *   nearest-neighbour distances). The static vector of the test site is computed as `deno task
 *   predict` computes it (lib/train/reference.ts `referenceStaticVector`: the run's
 *   static_encoding.json and scaler), against the `reference_sites.json` of the fold's reference
 *   TAM-RL unit run (its lowest seed: the folds' seeds share split and scaler, so the static
 *   reference is the same). The distance in the task embedding z is NOT computed: it would need
 *   each fold's model and the test sites' drivers (predict does it); the flag is the static one.
 *   Rows are grouped by site, the sites sorted by the reference model's RECO |bias|, largest
 *   first (sites without a RECO score last).
 * - {@link cvBiasWorst}: the `count` (10) worst sites by RECO |bias| and what they have in common:
 *   counts per IGBP class and Köppen group, the share flagged out of distribution and the mean
 *   static distance, each beside the same over all scored sites.
 * - {@link writeCvBias}: the tables `cv_bias` and `cv_bias_worst` and the figure `cv_bias_map`
 *   (the scored sites on a world map coloured by the reference's RECO bias, lib/eval
 *   `siteValueMapSpec`), called by `buildCvReport`.
 *
 * @module
 */
import { join } from "node:path";
import type { Site } from "../data/sites.ts";
import type { SiteMetricRow } from "../eval/aggregate.ts";
import { siteValueMapSpec } from "../eval/data_figures.ts";
import { writeFigure } from "../eval/figures.ts";
import { type Flux, FLUXES } from "../eval/predictions.ts";
import { type Cell, displayName, type TableContext, writeTable } from "../eval/tables.ts";
import {
  assessStatic,
  NEAREST_COUNT,
  readStaticReference,
  referenceStaticVector,
  type StaticReference,
} from "../train/reference.ts";
import type { DoneMarker } from "./plan.ts";

/** One row of `cv_bias`: a site, flux and model. */
export interface CvBiasRow {
  site: string;
  fold: string;
  flux: Flux;
  model: string;
  /** Days scored (NEE QC >= the threshold). */
  days: number;
  /** Mean of predicted minus observed. */
  bias: number;
  rmse: number;
  r2: number;
  IGBP: string;
  KOPPEN_MAIN: string;
  /** The nearest training sites of the fold in static descriptors, nearest first. */
  nearest: { site: string; distance: number }[];
  /** Distance to the nearest training site (null: no reference for the fold). */
  staticDistance: number | null;
  staticThreshold: number | null;
  /** staticDistance > staticThreshold (null: not tested). */
  ood: boolean | null;
  doi: string | null;
}

/**
 * The static reference of every fold: the run folder of the fold's finished `label` unit with
 * the lowest seed that has one (`units/<id>/run/`); null for a fold without any (trees only, or
 * runs from before reference_sites.json).
 *
 * @example
 * ```ts ignore
 * const refs = await foldStaticReferences("results/cv_final", markers, { label: "tamrl" });
 * ```
 */
export async function foldStaticReferences(
  runDir: string,
  markers: readonly DoneMarker[],
  options: { label: string },
): Promise<Map<string, StaticReference | null>> {
  const out = new Map<string, StaticReference | null>();
  const units = markers.filter((m) => m.unit.label === options.label)
    .sort((a, b) => a.unit.seed - b.unit.seed);
  for (const m of units) {
    if (out.get(m.unit.split)) continue;
    out.set(m.unit.split, await readStaticReference(join(runDir, "units", m.unit.id, "run")));
  }
  return out;
}

/**
 * The rows of `cv_bias` (see the module doc). `models` are entry names of `sites`, the first one
 * the reference whose RECO |bias| orders the sites; `references` the static reference per fold
 * ({@link foldStaticReferences}); `siteTable` the sites.csv rows (static descriptors and DOI).
 * Throws naming a scored site that is not in the site table or has no fold.
 *
 * @example
 * ```ts ignore
 * const rows = cvBiasRows(report.sites, { models: ["tamrl", "trees"], foldOf, references, siteTable });
 * ```
 */
export function cvBiasRows(
  sites: readonly SiteMetricRow[],
  options: {
    models: readonly string[];
    foldOf: ReadonlyMap<string, string>;
    references: ReadonlyMap<string, StaticReference | null>;
    siteTable: readonly Site[];
  },
): CvBiasRow[] {
  const byId = new Map(options.siteTable.map((s) => [s.SITE_ID, s]));
  const placed = new Map<
    string,
    Pick<CvBiasRow, "nearest" | "staticDistance" | "staticThreshold" | "ood">
  >();
  const place = (site: string, fold: string) => {
    let p = placed.get(site);
    if (p) return p;
    const ref = options.references.get(fold) ?? null;
    if (!ref) {
      p = { nearest: [], staticDistance: null, staticThreshold: null, ood: null };
    } else {
      const a = assessStatic(referenceStaticVector(byId.get(site)!, ref), {
        points: ref.reference.sites.map((s) => ({ site: s.site, v: s.static })),
        threshold: ref.reference.thresholds.static,
      }, NEAREST_COUNT);
      p = {
        nearest: a.nearest,
        staticDistance: a.distance,
        staticThreshold: a.threshold,
        ood: a.ood,
      };
    }
    placed.set(site, p);
    return p;
  };
  const rows: CvBiasRow[] = [];
  for (const s of sites) {
    if (!options.models.includes(s.model)) continue;
    const fold = options.foldOf.get(s.site);
    if (fold === undefined) throw new Error(`tamflux cv: site ${s.site} has no fold`);
    const info = byId.get(s.site);
    if (!info) throw new Error(`tamflux cv: site ${s.site} is not in sites.csv`);
    rows.push({
      site: s.site,
      fold,
      flux: s.flux,
      model: s.model,
      days: s.n,
      bias: s.bias,
      rmse: s.rmse,
      r2: s.r2,
      IGBP: info.IGBP,
      KOPPEN_MAIN: info.KOPPEN_MAIN,
      ...place(s.site, fold),
      doi: info.DOI ?? null,
    });
  }
  const key = new Map<string, number>();
  for (const r of rows) {
    if (r.model === options.models[0] && r.flux === "RECO" && Number.isFinite(r.bias)) {
      key.set(r.site, Math.abs(r.bias));
    }
  }
  const k = (site: string) => key.get(site) ?? -Infinity;
  return rows.sort((a, b) =>
    k(b.site) - k(a.site) || a.site.localeCompare(b.site) ||
    FLUXES.indexOf(a.flux) - FLUXES.indexOf(b.flux) ||
    options.models.indexOf(a.model) - options.models.indexOf(b.model)
  );
}

/** What the worst sites have in common ({@link cvBiasWorst}). */
export interface CvBiasWorst {
  model: string;
  flux: Flux;
  /** The worst sites' rows (the model's, this flux), worst first. */
  worst: CvBiasRow[];
  /** Sites scored for the model and flux. */
  all: number;
  /** Sites per IGBP class and Köppen group among the worst and among all. */
  groups: { feature: "IGBP" | "KOPPEN_MAIN"; value: string; worst: number; all: number }[];
  /** Sites flagged out of distribution (of those tested) among the worst and among all. */
  ood: { worst: number; worstTested: number; all: number; allTested: number };
  /** Mean distance to the nearest training site among the worst and among all (null: none). */
  meanStaticDistance: { worst: number | null; all: number | null };
}

function mean(xs: readonly number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/**
 * The `count` (default 10) sites with the largest |bias| of `model` (default the first model of
 * the rows) in `flux` (default RECO), and what they have in common against all scored sites.
 *
 * @example
 * ```ts ignore
 * const worst = cvBiasWorst(rows, { count: 10 });
 * console.log(worst.worst.map((r) => r.site), worst.ood);
 * ```
 */
export function cvBiasWorst(
  rows: readonly CvBiasRow[],
  options: { count?: number; model?: string; flux?: Flux } = {},
): CvBiasWorst {
  const model = options.model ?? rows[0]?.model ?? "";
  const flux = options.flux ?? "RECO";
  const of = rows.filter((r) => r.model === model && r.flux === flux && Number.isFinite(r.bias))
    .sort((a, b) => Math.abs(b.bias) - Math.abs(a.bias) || a.site.localeCompare(b.site));
  const worst = of.slice(0, options.count ?? 10);
  const groups: CvBiasWorst["groups"] = [];
  for (const feature of ["IGBP", "KOPPEN_MAIN"] as const) {
    const values = [...new Set(of.map((r) => r[feature]))].sort();
    const rowsOf = values.map((value) => ({
      feature,
      value,
      worst: worst.filter((r) => r[feature] === value).length,
      all: of.filter((r) => r[feature] === value).length,
    }));
    groups.push(...rowsOf.sort((a, b) => b.worst - a.worst || b.all - a.all));
  }
  const tested = (xs: CvBiasRow[]) => xs.filter((r) => r.ood !== null);
  const dist = (xs: CvBiasRow[]) =>
    mean(xs.map((r) => r.staticDistance).filter((d): d is number => d !== null));
  return {
    model,
    flux,
    worst,
    all: of.length,
    groups,
    ood: {
      worst: worst.filter((r) => r.ood === true).length,
      worstTested: tested(worst).length,
      all: of.filter((r) => r.ood === true).length,
      allTested: tested(of).length,
    },
    meanStaticDistance: { worst: dist(worst), all: dist(of) },
  };
}

/**
 * Write `cv_bias` and `cv_bias_worst` (Markdown, CSV, JSON) to `tablesDir` and the map
 * `cv_bias_map` (vega-lite, SVG, PNG) to `figuresDir`; returns the files written.
 *
 * @example
 * ```ts ignore
 * const files = await writeCvBias(rows, { tablesDir, figuresDir, context, siteTable });
 * ```
 */
export async function writeCvBias(
  rows: readonly CvBiasRow[],
  options: {
    tablesDir: string;
    figuresDir: string;
    context: TableContext;
    siteTable: readonly Site[];
    /** Folds without a static reference (said in the notes). */
    missingReferences?: readonly string[];
    count?: number;
  },
): Promise<{ tables: string[]; figures: string[] }> {
  const { context } = options;
  const nearestNote = `Nearest training sites: the ${NEAREST_COUNT} training sites of the site's ` +
    `fold nearest in standardized static descriptors (Euclidean), from reference_sites.json of ` +
    `the fold's TAM-RL unit run, the test site's static vector computed as deno task predict ` +
    `does (the run's static_encoding.json and scaler). OOD: distance to the nearest training ` +
    `site > the run's threshold (the 95th percentile of the training sites' leave-one-out ` +
    `nearest-neighbour distances). Static descriptors only: the distance in the task embedding z ` +
    `is not computed here (it needs each fold's model and the site's drivers; predict reports it).`;
  const missing = options.missingReferences?.length
    ? [
      `No static reference (reference_sites.json and static_encoding.json of a TAM-RL unit run) ` +
      `for ${options.missingReferences.join(", ")}: their nearest sites and OOD flag are empty.`,
    ]
    : [];
  const f3 = (x: number) => Number(x.toFixed(3));
  const tableRows: Cell[][] = rows.map((r) => [
    r.site,
    r.fold,
    r.flux,
    displayName(r.model),
    r.days,
    r.bias,
    r.rmse,
    r.r2,
    r.IGBP,
    r.KOPPEN_MAIN,
    r.nearest.map((n) => `${n.site} (${n.distance.toFixed(2)})`).join(", "),
    r.staticDistance,
    r.staticThreshold,
    r.ood === null ? "" : r.ood ? "yes" : "no",
    r.doi ?? "",
  ]);
  const tables: string[] = [];
  tables.push(
    ...await writeTable({
      name: "cv_bias",
      title: "Per-site bias of the site-level cross-validation, largest RECO |bias| first",
      columns: [
        "site",
        "fold",
        "flux",
        "model",
        "days",
        "mean bias (pred - obs)",
        "RMSE",
        "R2",
        "IGBP",
        "KOPPEN_MAIN",
        "nearest training sites (static distance)",
        "static distance",
        "static threshold",
        "OOD (static)",
        "DOI",
      ],
      rows: tableRows,
      notes: [
        `Rows grouped by site, the sites ordered by ${
          displayName(rows[0]?.model ?? "")
        }'s |mean bias| in RECO (gC m-2 d-1), largest first.`,
        nearestNote,
        ...missing,
        ...context.rules ?? [],
      ],
      provenance: context.provenance,
      sites: context.sites,
    }, options.tablesDir),
  );

  const w = cvBiasWorst(rows, { count: options.count });
  const share = (n: number, of: number) => (of ? f3(n / of) : null);
  const worstRows: Cell[][] = [
    ...w.groups.map((g) => [
      g.feature === "IGBP" ? "IGBP" : "Köppen",
      g.value,
      g.worst,
      share(g.worst, w.worst.length),
      g.all,
      share(g.all, w.all),
    ]),
    [
      "out of distribution (static)",
      "yes",
      w.ood.worst,
      share(w.ood.worst, w.ood.worstTested),
      w.ood.all,
      share(w.ood.all, w.ood.allTested),
    ],
    [
      "mean static distance to the nearest training site",
      "",
      w.meanStaticDistance.worst,
      null,
      w.meanStaticDistance.all,
      null,
    ],
  ];
  tables.push(
    ...await writeTable({
      name: "cv_bias_worst",
      title: `The ${w.worst.length} sites with the largest ${w.flux} |bias| of ${
        displayName(w.model)
      }: what they have in common`,
      columns: ["feature", "value", "worst sites", "worst share", "all sites", "all share"],
      rows: worstRows,
      notes: [
        `Worst sites (${w.flux} mean bias, gC m-2 d-1): ${
          w.worst.map((r) => `${r.site} ${r.bias >= 0 ? "+" : ""}${r.bias.toFixed(2)}`).join(", ")
        }.`,
        `"all sites": the ${w.all} sites scored in ${w.flux} for ${displayName(w.model)}. Shares ` +
        `of out of distribution are over the sites tested (a fold with a static reference).`,
        nearestNote,
        ...missing,
      ],
      provenance: context.provenance,
      sites: context.sites,
    }, options.tablesDir),
  );

  const byId = new Map(options.siteTable.map((s) => [s.SITE_ID, s]));
  const points = rows.filter((r) => r.model === w.model && r.flux === "RECO").map((r) => ({
    site: r.site,
    lat: byId.get(r.site)!.LAT!,
    lon: byId.get(r.site)!.LON!,
    value: r.bias,
    IGBP: r.IGBP,
    KOPPEN_MAIN: r.KOPPEN_MAIN,
  }));
  const figures = points.length
    ? await writeFigure(
      siteValueMapSpec(points, {
        title: `${displayName(w.model)} RECO mean bias (pred - obs), gC m-2 d-1`,
      }),
      { dir: options.figuresDir, name: "cv_bias_map" },
    )
    : [];
  return { tables, figures };
}
