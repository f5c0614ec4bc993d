/**
 * Figures of the data themselves (before any model): where the sites are, how many per class, one
 * site's year of drivers and fluxes, and how the daily NEE QC is distributed. All are vega-lite specs
 * with their data inline; render them with `renderSvg` from `./figures.ts`.
 *
 * @module
 */
import pl from "polars";
import world from "world-atlas/land-110m.json" with { type: "json" };
import type { Site } from "../data/sites.ts";
import type { Summary } from "../data/report.ts";
import type { FigureSpec } from "./figures.ts";

/**
 * The sites on a world outline (Natural Earth 1:110m land, from the world-atlas package), coloured
 * by IGBP class or Köppen group, with the marker shape showing a grouping (e.g. train/test split).
 *
 * @example
 * ```ts
 * import { siteMapSpec } from "./data_figures.ts";
 * const spec = siteMapSpec([], { colorBy: "IGBP" });
 * ```
 */
export function siteMapSpec(
  sites: readonly Site[],
  options: { colorBy?: "IGBP" | "KOPPEN_MAIN"; groups?: Record<string, string>; width?: number } =
    {},
): FigureSpec {
  const colorBy = options.colorBy ?? "IGBP";
  const values = sites.map((s) => ({
    site: s.SITE_ID,
    lat: s.LAT,
    lon: s.LON,
    IGBP: s.IGBP,
    KOPPEN_MAIN: s.KOPPEN_MAIN,
    group: options.groups?.[s.SITE_ID] ?? "",
  }));
  const shape = options.groups
    ? { shape: { field: "group", type: "nominal", title: "split" } }
    : {};
  return worldMap(values, {
    width: options.width,
    mark: { size: 30, opacity: 0.85, stroke: "white" },
    encoding: {
      color: { field: colorBy, type: "nominal", scale: { scheme: "tableau20" } },
      ...shape,
      tooltip: [
        { field: "site" },
        { field: "IGBP" },
        { field: "KOPPEN_MAIN", title: "Köppen" },
      ],
    },
  });
}

/**
 * The world outline (Natural Earth 1:110m land) with one point per row of `values` (fields `lon`,
 * `lat`): the scaffold of {@link siteMapSpec} and {@link siteValueMapSpec}.
 */
function worldMap(
  values: readonly Record<string, unknown>[],
  options: {
    width?: number;
    mark: { size: number; opacity: number; stroke: string };
    encoding: Record<string, unknown>;
  },
): FigureSpec {
  const width = options.width ?? 720;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width,
    height: width / 2,
    projection: { type: "equalEarth" },
    layer: [
      {
        data: { values: world, format: { type: "topojson", feature: "land" } },
        mark: { type: "geoshape", fill: "#e8e8e8", stroke: "#bbbbbb", strokeWidth: 0.5 },
      },
      {
        data: { values },
        mark: { type: "point", filled: true, strokeWidth: 0.5, ...options.mark },
        encoding: {
          longitude: { field: "lon", type: "quantitative" },
          latitude: { field: "lat", type: "quantitative" },
          ...options.encoding,
        },
      },
    ],
  } as unknown as FigureSpec;
}

/**
 * Sites on the world outline of {@link siteMapSpec}, coloured by a value on a diverging scale
 * centred at 0 (blue below, red above, the domain symmetric: +-max |value|), e.g. a per-site bias.
 *
 * @example
 * ```ts
 * import { siteValueMapSpec } from "./data_figures.ts";
 * const spec = siteValueMapSpec([{ site: "FR-Pue", lat: 43.7, lon: 3.6, value: -0.4 }], {
 *   title: "RECO bias",
 * });
 * ```
 */
export function siteValueMapSpec(
  points: readonly {
    site: string;
    lat: number;
    lon: number;
    value: number;
    IGBP?: string;
    KOPPEN_MAIN?: string;
  }[],
  options: { title: string; width?: number },
): FigureSpec {
  const values = points.filter((p) => Number.isFinite(p.value)).map((p) => ({
    site: p.site,
    lat: p.lat,
    lon: p.lon,
    value: p.value,
    IGBP: p.IGBP ?? "",
    KOPPEN_MAIN: p.KOPPEN_MAIN ?? "",
  }));
  const m = Math.max(1e-9, ...values.map((v) => Math.abs(v.value)));
  const width = options.width ?? 720;
  return worldMap(values, {
    width,
    mark: { size: 45, opacity: 0.9, stroke: "#555555" },
    encoding: {
      color: {
        field: "value",
        type: "quantitative",
        title: options.title,
        scale: { scheme: "redblue", reverse: true, domain: [-m, m], domainMid: 0 },
        legend: { orient: "bottom", gradientLength: 300, titleLimit: width },
      },
      tooltip: [
        { field: "site" },
        { field: "value", format: ".3f", title: options.title },
        { field: "IGBP" },
        { field: "KOPPEN_MAIN", title: "Köppen" },
      ],
    },
  });
}

/**
 * Bar charts of site-days per IGBP class and per Köppen group from `summarize()` (lib/data), each
 * bar split into days with NEE QC >= the summary's threshold and the rest.
 *
 * @example
 * ```ts
 * import { loadFluxnet, summarize } from "../data/mod.ts";
 * import { classCountsSpec } from "./data_figures.ts";
 * // const spec = classCountsSpec(summarize((await loadFluxnet()).frame));
 * ```
 */
export function classCountsSpec(summary: Summary): FigureSpec {
  const qc = summary.qcThreshold;
  const values: Record<string, unknown>[] = [];
  const add = (frame: pl.DataFrame, column: string, kind: string) => {
    for (const r of frame.toRecords() as Record<string, unknown>[]) {
      const days = Number(r.days), good = Number(r.days_qc);
      values.push({ class: r[column], kind, part: `NEE QC >= ${qc}`, days: good });
      values.push({ class: r[column], kind, part: `NEE QC < ${qc} or missing`, days: days - good });
    }
  };
  add(summary.byIgbp, "IGBP", "IGBP class");
  add(summary.byKoppen, "KOPPEN_MAIN", "Köppen main group");
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    data: { values },
    facet: { column: { field: "kind", type: "nominal", title: null } },
    spec: {
      width: 300,
      height: 220,
      mark: "bar",
      encoding: {
        x: { field: "class", type: "nominal", sort: "-y", title: null },
        y: { field: "days", type: "quantitative", aggregate: "sum", title: "site-days" },
        color: { field: "part", type: "nominal", title: null },
      },
    },
    resolve: { scale: { x: "independent" } },
  } as unknown as FigureSpec;
}

const SERIES: { column: string; label: string }[] = [
  { column: "TA_F", label: "TA_F (degC)" },
  { column: "SW_IN_F", label: "SW_IN_F (W m-2)" },
  { column: "VPD_F", label: "VPD_F (hPa)" },
  { column: "GPP", label: "GPP (gC m-2 d-1)" },
  { column: "RECO", label: "RECO (gC m-2 d-1)" },
  { column: "NEE", label: "NEE (gC m-2 d-1)" },
];

/**
 * One site's year of daily drivers and fluxes from the loader's frame, one panel per variable; days
 * with NEE QC below the threshold are marked with a red tick.
 *
 * @example
 * ```ts
 * import { siteYearSpec } from "./data_figures.ts";
 * // const spec = siteYearSpec(frame, { site: "FR-Pue", year: 2012 });
 * ```
 */
export function siteYearSpec(
  frame: pl.DataFrame,
  options: { site: string; year: number; qcThreshold?: number },
): FigureSpec {
  const qc = options.qcThreshold ?? 0.8;
  const start = new Date(Date.UTC(options.year, 0, 1));
  const end = new Date(Date.UTC(options.year + 1, 0, 1));
  const part = frame.filter(
    pl.col("site").eq(pl.lit(options.site))
      .and(pl.col("date").gtEq(pl.lit(start)))
      .and(pl.col("date").lt(pl.lit(end))),
  );
  if (part.height === 0) {
    throw new Error(`siteYearSpec: no rows for site ${options.site} in ${options.year}`);
  }
  const records = part.toRecords() as Record<string, unknown>[];
  // inline CSV with short columns and rounded values keeps the spec small (notebooks embed it)
  const lines = ["d,k,v,g"];
  for (const r of records) {
    const day = (r.date as Date).toISOString().slice(0, 10);
    const good = typeof r.NEE_QC === "number" && r.NEE_QC >= qc ? 1 : 0;
    for (const [k, s] of SERIES.entries()) {
      const v = r[s.column];
      if (typeof v === "number") lines.push(`${day},${k},${Math.round(v * 1e3) / 1e3},${good}`);
    }
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `${options.site}, ${options.year} (red ticks: NEE QC < ${qc})`,
    data: {
      values: lines.join("\n"),
      format: { type: "csv", parse: { d: "date", k: "number", v: "number", g: "number" } },
    },
    transform: [{
      calculate: `[${SERIES.map((s) => JSON.stringify(s.label)).join(",")}][datum.k]`,
      as: "variable",
    }],
    facet: {
      row: { field: "variable", type: "nominal", title: null, sort: SERIES.map((s) => s.label) },
    },
    spec: {
      width: 640,
      height: 90,
      layer: [
        {
          mark: { type: "line", strokeWidth: 1, color: "#1f77b4" },
          encoding: {
            x: { field: "d", type: "temporal", title: null },
            y: { field: "v", type: "quantitative", title: null },
          },
        },
        {
          transform: [{ filter: "datum.g == 0" }],
          mark: { type: "tick", color: "#d62728", thickness: 1, size: 6 },
          encoding: {
            x: { field: "d", type: "temporal" },
            y: { field: "v", type: "quantitative" },
          },
        },
      ],
    },
    resolve: { scale: { y: "independent" } },
  } as unknown as FigureSpec;
}

/**
 * Histogram of the daily NEE QC (share of good half-hours) over all site-days that have NEE.
 *
 * @example
 * ```ts
 * import { qcHistogramSpec } from "./data_figures.ts";
 * // const spec = qcHistogramSpec(frame);
 * ```
 */
export function qcHistogramSpec(frame: pl.DataFrame, options: { bins?: number } = {}): FigureSpec {
  const bins = options.bins ?? 20;
  const qc = frame.getColumn("NEE_QC").toArray() as (number | null)[];
  const counts = new Array<number>(bins).fill(0);
  for (const v of qc) {
    if (v === null || !Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.floor(v * bins))]++;
  }
  const values = counts.map((n, i) => ({ from: i / bins, to: (i + 1) / bins, days: n }));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    data: { values },
    width: 480,
    height: 200,
    mark: "bar",
    encoding: {
      x: {
        field: "from",
        type: "quantitative",
        bin: { binned: true, step: 1 / bins },
        title: "daily NEE QC",
      },
      x2: { field: "to" },
      y: { field: "days", type: "quantitative", title: "site-days" },
    },
  } as unknown as FigureSpec;
}
