/**
 * Figures as vega-lite specs, rendered headless to SVG (vega, no browser, no canvas) and to PNG
 * (@resvg/resvg-js with the system fonts):
 * - predicted vs observed per flux and model (2-D histogram of all valid days, with the 1:1 line);
 * - per-site R2 distributions per model (box plots, one panel per flux);
 * - mean seasonal cycles at test sites of different climates (observed and each model).
 *
 * Specs carry their data inline (pre-binned where the raw data would be large), so a written
 * `.vl.json` renders the same anywhere (vega-editor, Jupyter).
 *
 * @module
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import { Resvg } from "@resvg/resvg-js";
import { join } from "node:path";
import { atomicWrite } from "../train/runs.ts";
import type { SiteMetricRow } from "./aggregate.ts";
import { FLUXES, type PredictionRow } from "./predictions.ts";
import { monthlyPairs, seasonalCycle } from "./scales.ts";
import { displayName } from "./tables.ts";

/** A vega-lite top-level spec. */
export type FigureSpec = vl.TopLevelSpec;

const UNITS = "gC m-2 d-1";
const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

/**
 * Predicted against observed values per model (rows) and flux (columns), as a 2-D histogram over
 * `bins` x `bins` cells of the days with NEE QC >= `qcThreshold`, with the 1:1 line.
 *
 * @example
 * ```ts
 * import { scatterSpec } from "./figures.ts";
 * const spec = scatterSpec([], { qcThreshold: 1 });
 * ```
 */
export function scatterSpec(
  rows: readonly PredictionRow[],
  options: { qcThreshold?: number; bins?: number; models?: readonly string[] } = {},
): FigureSpec {
  const qc = options.qcThreshold ?? 1.0;
  const bins = options.bins ?? 40;
  const models = options.models ?? [...new Set(rows.map((r) => r.model))];
  const cells: Record<string, string | number>[] = [];
  for (const flux of FLUXES) {
    const pts: [string, number, number][] = [];
    for (const r of rows) {
      const o = r[`${flux}_obs`];
      if (o === null || r.NEE_QC === null || r.NEE_QC < qc || !models.includes(r.model)) continue;
      pts.push([r.model, o, r[flux]]);
    }
    if (!pts.length) continue;
    // Common range of the flux over observed and predicted, 0.5% trimmed each side.
    const all = pts.flatMap((p) => [p[1], p[2]]).sort((a, b) => a - b);
    const lo = all[Math.floor(0.005 * (all.length - 1))];
    const hi = all[Math.ceil(0.995 * (all.length - 1))];
    const w = (hi - lo) / bins || 1;
    const counts = new Map<string, number>();
    for (const [m, o, p] of pts) {
      if (o < lo || o > hi || p < lo || p > hi) continue;
      const i = Math.min(bins - 1, Math.floor((o - lo) / w));
      const j = Math.min(bins - 1, Math.floor((p - lo) / w));
      const k = `${m}\u0000${i}\u0000${j}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    for (const [k, n] of counts) {
      const [m, i, j] = k.split("\u0000");
      const x = lo + Number(i) * w;
      const y = lo + Number(j) * w;
      cells.push({
        kind: "cell",
        model: displayName(m),
        flux,
        x,
        x2: x + w,
        y,
        y2: y + w,
        days: n,
      });
    }
    for (const m of models) {
      cells.push({ kind: "diagonal", model: displayName(m), flux, x: lo, y: lo, x2: hi, y2: hi });
    }
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `Predicted vs observed daily fluxes (${UNITS}), test days with NEE QC >= ${qc}`,
    data: { values: cells },
    facet: {
      row: { field: "model", type: "nominal", title: null, sort: models.map(displayName) },
      column: { field: "flux", type: "nominal", title: null, sort: [...FLUXES] },
    },
    spec: {
      width: 160,
      height: 160,
      layer: [
        {
          transform: [{ filter: "datum.kind === 'cell'" }],
          mark: { type: "rect" },
          encoding: {
            x: { field: "x", type: "quantitative", title: "observed" },
            x2: { field: "x2" },
            y: { field: "y", type: "quantitative", title: "predicted" },
            y2: { field: "y2" },
            color: {
              field: "days",
              type: "quantitative",
              scale: { type: "log", scheme: "viridis" },
              title: "days",
            },
          },
        },
        {
          transform: [{ filter: "datum.kind === 'diagonal'" }],
          mark: { type: "rule", color: "#d62728", strokeDash: [4, 3] },
          encoding: {
            x: { field: "x", type: "quantitative" },
            y: { field: "y", type: "quantitative" },
            x2: { field: "x2" },
            y2: { field: "y2" },
          },
        },
      ],
    },
    resolve: { scale: { x: "independent", y: "independent", color: "shared" } },
  } as FigureSpec;
}

/**
 * Distribution of per-site R2 per model (box plots and the sites as ticks), one panel per flux.
 * R2 below `floor` (default -1) is drawn at `floor` so one bad site does not squash the panel; the
 * number of such sites is in the subtitle.
 *
 * @example
 * ```ts
 * import { siteR2Spec } from "./figures.ts";
 * const spec = siteR2Spec([]);
 * ```
 */
export function siteR2Spec(
  sites: readonly SiteMetricRow[],
  options: { floor?: number; models?: readonly string[] } = {},
): FigureSpec {
  const floor = options.floor ?? -1;
  const models = options.models ?? [...new Set(sites.map((s) => s.model))];
  let clipped = 0;
  const values = sites.filter((s) => models.includes(s.model) && Number.isFinite(s.r2)).map((s) => {
    if (s.r2 < floor) clipped++;
    return { model: displayName(s.model), flux: s.flux, site: s.site, r2: Math.max(floor, s.r2) };
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: "Per-site R2 (1 - SSE/SST) on test sites",
      subtitle: `${clipped} site-model-flux values below ${floor} drawn at ${floor}`,
    },
    data: { values },
    facet: { column: { field: "flux", type: "nominal", title: null, sort: [...FLUXES] } },
    spec: {
      width: 200,
      height: 220,
      layer: [
        {
          mark: { type: "boxplot", extent: "min-max", opacity: 0.6 },
          encoding: {
            x: { field: "model", type: "nominal", sort: models.map(displayName), title: null },
            y: { field: "r2", type: "quantitative", title: "R2", scale: { domain: [floor, 1] } },
            color: { field: "model", type: "nominal", legend: null },
          },
        },
        {
          mark: { type: "tick", color: "black", opacity: 0.5, size: 8 },
          encoding: {
            x: { field: "model", type: "nominal", sort: models.map(displayName) },
            y: { field: "r2", type: "quantitative" },
          },
        },
      ],
    },
  } as FigureSpec;
}

/**
 * Pick up to `count` test sites of different climates: per Köppen main group (A-E, in order) the
 * site with the most valid days (obs present, NEE QC >= `qcThreshold`); if there are fewer groups
 * than `count`, the next sites by valid days fill up.
 *
 * @example
 * ```ts
 * import { pickClimateSites } from "./figures.ts";
 * const sites = pickClimateSites([], { count: 4 });
 * ```
 */
export function pickClimateSites(
  rows: readonly PredictionRow[],
  options: { count?: number; qcThreshold?: number } = {},
): string[] {
  const count = options.count ?? 4;
  const qc = options.qcThreshold ?? 0.8;
  const first = rows[0]?.model;
  const days = new Map<string, { n: number; koppen: string }>();
  for (const r of rows) {
    if (r.model !== first || r.NEE_QC === null || r.NEE_QC < qc || r.NEE_obs === null) continue;
    const d = days.get(r.site) ?? { n: 0, koppen: r.KOPPEN_MAIN };
    d.n++;
    days.set(r.site, d);
  }
  const ranked = [...days.entries()].sort((a, b) => b[1].n - a[1].n || a[0].localeCompare(b[0]));
  const picked: string[] = [];
  for (const g of [...new Set(ranked.map(([, d]) => d.koppen))].sort()) {
    const best = ranked.find(([, d]) => d.koppen === g);
    if (best && picked.length < count) picked.push(best[0]);
  }
  for (const [site] of ranked) {
    if (picked.length >= count) break;
    if (!picked.includes(site)) picked.push(site);
  }
  return picked;
}

/**
 * Mean seasonal cycles (monthly means of valid days, averaged over years) of the observations and
 * each model at the given sites, one panel per site (columns) and flux (rows).
 *
 * @example
 * ```ts
 * import { seasonalCycleSpec } from "./figures.ts";
 * const spec = seasonalCycleSpec([], { sites: ["DE-Tha"] });
 * ```
 */
export function seasonalCycleSpec(
  rows: readonly PredictionRow[],
  options: { sites: readonly string[]; qcThreshold?: number; minDaysPerMonth?: number },
): FigureSpec {
  const qc = options.qcThreshold ?? 0.8;
  const minDays = options.minDaysPerMonth ?? 15;
  const values: Record<string, string | number>[] = [];
  const series = new Set<string>();
  const siteLabel = new Map<string, string>();
  for (const site of options.sites) {
    const siteRows = rows.filter((r) => r.site === site);
    if (!siteRows.length) continue;
    siteLabel.set(site, `${site} (${siteRows[0].KOPPEN_MAIN}, ${siteRows[0].IGBP})`);
    const models = [...new Set(siteRows.map((r) => r.model))];
    for (const flux of FLUXES) {
      models.forEach((model, mi) => {
        const days = [];
        for (const r of siteRows) {
          const o = r[`${flux}_obs`];
          if (r.model !== model || o === null || r.NEE_QC === null || r.NEE_QC < qc) continue;
          days.push({ date: r.date, obs: o, pred: r[flux] });
        }
        const msc = seasonalCycle(monthlyPairs(days, { minDays }));
        msc.forEach((m, k) => {
          if (!m) return;
          const base = { site: siteLabel.get(site)!, flux, month: k + 1 };
          values.push({ ...base, series: displayName(model), value: m.pred });
          series.add(displayName(model));
          if (mi === 0) values.push({ ...base, series: "observed", value: m.obs });
        });
      });
    }
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `Mean seasonal cycle at test sites (${UNITS})`,
      subtitle: `months with >= ${minDays} valid days (NEE QC >= ${qc}), averaged over years; ` +
        "observed in black",
    },
    data: { values },
    facet: {
      row: { field: "flux", type: "nominal", title: null, sort: [...FLUXES] },
      column: { field: "site", type: "nominal", title: null },
    },
    spec: {
      width: 170,
      height: 120,
      mark: { type: "line", point: { size: 12 } },
      encoding: {
        x: { field: "month", type: "quantitative", scale: { domain: [1, 12] }, title: "month" },
        y: { field: "value", type: "quantitative", title: null },
        color: {
          field: "series",
          type: "nominal",
          title: null,
          scale: { domain: ["observed", ...series], range: ["black", ...PALETTE] },
          legend: { labelLimit: 320 },
        },
        strokeWidth: {
          condition: { test: "datum.series === 'observed'", value: 2.5 },
          value: 1.2,
        },
      },
    },
    resolve: { scale: { y: "independent" } },
  } as FigureSpec;
}

/**
 * Render a vega-lite spec to SVG text, headless.
 *
 * @example
 * ```ts
 * import { renderSvg } from "./figures.ts";
 * const svg = await renderSvg({ data: { values: [{ a: 1 }] }, mark: "point",
 *   encoding: { x: { field: "a", type: "quantitative" } } });
 * ```
 */
export async function renderSvg(spec: FigureSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Rasterise SVG text to PNG bytes with resvg (system fonts, DejaVu Sans by default).
 *
 * @example
 * ```ts
 * import { renderPng, renderSvg } from "./figures.ts";
 * const png = renderPng(await renderSvg({ mark: "point" }), { scale: 2 });
 * ```
 */
export function renderPng(svg: string, options: { scale?: number } = {}): Uint8Array {
  const resvg = new Resvg(svg, {
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
    fitTo: { mode: "zoom", value: options.scale ?? 2 },
    background: "white",
  });
  return resvg.render().asPng();
}

/**
 * Write a figure as `<name>.vl.json` (the spec), `<name>.svg` and `<name>.png`, atomically.
 *
 * @example
 * ```ts
 * import { writeFigure } from "./figures.ts";
 * await writeFigure({ mark: "point" }, { dir: "results/quick/figures", name: "demo" });
 * ```
 */
export async function writeFigure(
  spec: FigureSpec,
  options: { dir: string; name: string },
): Promise<string[]> {
  const svg = await renderSvg(spec);
  const png = renderPng(svg);
  const base = join(options.dir, options.name);
  await atomicWrite(`${base}.vl.json`, JSON.stringify(spec, null, 1) + "\n");
  await atomicWrite(`${base}.svg`, svg);
  await atomicWrite(`${base}.png`, png);
  return [`${base}.vl.json`, `${base}.svg`, `${base}.png`];
}
