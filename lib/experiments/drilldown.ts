/**
 * Looking into a finished reproduce run: find the newest run, read its tables, and drill down into
 * one test site (every model's daily predictions against the tower, and the site's metrics).
 *
 * @module
 */
import { join } from "node:path";
import type { FigureSpec } from "../eval/figures.ts";
import { finishedUnits } from "./plan.ts";
import {
  ensemblePredictions,
  FLUXES,
  type PredictionRow,
  readPredictions,
} from "../eval/predictions.ts";
import { type SiteMetricRow, siteMetrics } from "../eval/aggregate.ts";

/**
 * The newest run folder under `resultsDir` that has finished units and tables (by the time of its
 * newest table), or null when there is none; `exclude` names run folders to pass over, `prefix`
 * keeps only folders whose name starts with it, `table` only runs that have `tables/<table>.json`.
 *
 * @example
 * ```ts
 * import { latestRun } from "./drilldown.ts";
 * const run = await latestRun("results");
 * ```
 */
export async function latestRun(
  resultsDir: string,
  options: { exclude?: readonly string[]; prefix?: string; table?: string } = {},
): Promise<string | null> {
  let best: { dir: string; time: number } | null = null;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(resultsDir)];
  } catch {
    return null;
  }
  for (const e of entries) {
    if (!e.isDirectory || options.exclude?.includes(e.name)) continue;
    if (options.prefix && !e.name.startsWith(options.prefix)) continue;
    const dir = join(resultsDir, e.name);
    if (options.table && !hasTable(dir, options.table)) continue;
    let time = 0;
    try {
      for (const t of Deno.readDirSync(join(dir, "tables"))) {
        const m = Deno.statSync(join(dir, "tables", t.name)).mtime?.getTime() ?? 0;
        time = Math.max(time, m);
      }
    } catch {
      continue;
    }
    if ((await finishedUnits(dir)).length === 0) continue;
    if (!best || time > best.time) best = { dir, time };
  }
  return best?.dir ?? null;
}

/**
 * Whether a run folder has `tables/<table>.json`.
 *
 * @example
 * ```ts
 * import { hasTable } from "./drilldown.ts";
 * const done = hasTable("results/cv_final", "cv_summary");
 * ```
 */
export function hasTable(dir: string, table: string): boolean {
  try {
    return Deno.statSync(join(dir, "tables", `${table}.json`)).isFile;
  } catch {
    return false;
  }
}

/**
 * Read the Markdown of one table of a run (`tables/<name>.md`).
 *
 * @example
 * ```ts
 * import { readTable } from "./drilldown.ts";
 * // const md = await readTable("results/quick", "main_koppen");
 * ```
 */
export async function readTable(runDir: string, name: string): Promise<string> {
  const path = join(runDir, "tables", `${name}.md`);
  try {
    return await Deno.readTextFile(path);
  } catch {
    throw new Error(`no table ${path}: run \`deno task tables\` (or reproduce) first`);
  }
}

/**
 * Every finished unit's predictions at the given sites (seed ensembles averaged), one list of
 * rows in the predictions-table layout of lib/eval.
 *
 * @example
 * ```ts
 * import { sitePredictions } from "./drilldown.ts";
 * // const rows = await sitePredictions("results/quick", { sites: ["US-MMS"] });
 * ```
 */
export async function sitePredictions(
  runDir: string,
  options: { sites: readonly string[]; split?: string; models?: readonly string[] },
): Promise<PredictionRow[]> {
  const wanted = new Set(options.sites);
  const byLabel = new Map<string, PredictionRow[]>();
  for (const m of await finishedUnits(runDir)) {
    if (options.split && m.unit.split !== options.split) continue;
    if (options.models && !options.models.includes(m.unit.label)) continue;
    const rows = readPredictions(join(runDir, "units", m.unit.id, m.outcome.predictions))
      .filter((r) => wanted.has(r.site));
    byLabel.set(m.unit.label, (byLabel.get(m.unit.label) ?? []).concat(rows));
  }
  const out: PredictionRow[] = [];
  for (const rows of byLabel.values()) {
    const seeds = new Set(rows.map((r) => r.seed));
    out.push(...(seeds.size > 1 ? ensemblePredictions(rows).rows : rows));
  }
  return out;
}

/**
 * The test sites of a run with at least one prediction, sorted.
 *
 * @example
 * ```ts
 * import { runTestSites } from "./drilldown.ts";
 * // const sites = await runTestSites("results/quick");
 * ```
 */
export async function runTestSites(runDir: string): Promise<string[]> {
  const markers = await finishedUnits(runDir);
  if (markers.length === 0) return [];
  const m = markers[0];
  const rows = readPredictions(join(runDir, "units", m.unit.id, m.outcome.predictions));
  return [...new Set(rows.map((r) => r.site))].sort();
}

/**
 * Per-model metrics at one site (physical units, days with NEE QC >= `qcThreshold`).
 *
 * @example
 * ```ts
 * import { siteDrillMetrics } from "./drilldown.ts";
 * const rows = siteDrillMetrics([], { qcThreshold: 1 });
 * ```
 */
export function siteDrillMetrics(
  rows: readonly PredictionRow[],
  options: { qcThreshold?: number; minDays?: number } = {},
): SiteMetricRow[] {
  return siteMetrics(rows, {
    qcThreshold: options.qcThreshold ?? 1,
    minDays: options.minDays ?? 10,
  })
    .sites;
}

/**
 * Daily observed and predicted GPP, RECO and NEE at one site, one panel per flux: the tower as
 * grey points (filled where NEE QC >= `qcThreshold`), each model as a line. `from`/`to` (ISO days)
 * narrow the period; by default the site's first test year with observations.
 *
 * @example
 * ```ts
 * import { siteDrillSpec } from "./drilldown.ts";
 * const spec = siteDrillSpec([], { site: "US-MMS" });
 * ```
 */
export function siteDrillSpec(
  rows: readonly PredictionRow[],
  options: {
    site: string;
    from?: string;
    to?: string;
    models?: readonly string[];
    qcThreshold?: number;
  },
): FigureSpec {
  const qc = options.qcThreshold ?? 1;
  const at = rows.filter((r) => r.site === options.site);
  const days = [...new Set(at.map((r) => r.date))].sort();
  const firstObs = at.find((r) => r.NEE_obs !== null)?.date ?? days[0] ?? "";
  const from = options.from ?? firstObs;
  const to = options.to ?? (from ? `${Number(from.slice(0, 4)) + 1}${from.slice(4)}` : "");
  const inRange = at.filter((r) => r.date >= from && r.date < to);
  const models = options.models ?? [...new Set(inRange.map((r) => r.model))];
  const lines = ["d,f,m,v,g"];
  const obsSeen = new Set<string>();
  for (const r of inRange) {
    for (const [k, flux] of FLUXES.entries()) {
      if (models.includes(r.model)) {
        const v = r[flux];
        if (v !== null) lines.push(`${r.date},${k},${r.model},${Math.round(v * 1e3) / 1e3},1`);
      }
      const key = `${r.date}:${flux}`;
      const obs = r[`${flux}_obs`];
      if (obs !== null && !obsSeen.has(key)) {
        obsSeen.add(key);
        const good = r.NEE_QC !== null && r.NEE_QC >= qc ? 1 : 0;
        lines.push(`${r.date},${k},tower,${Math.round(obs * 1e3) / 1e3},${good}`);
      }
    }
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `${options.site}: tower and zero-shot predictions, ${from} to ${to} (gC m-2 d-1)`,
    data: {
      values: lines.join("\n"),
      format: { type: "csv", parse: { d: "date", f: "number", v: "number", g: "number" } },
    },
    transform: [{ calculate: `${JSON.stringify(FLUXES)}[datum.f]`, as: "flux" }],
    facet: { row: { field: "flux", type: "nominal", title: null, sort: [...FLUXES] } },
    spec: {
      width: 640,
      height: 120,
      layer: [
        {
          transform: [{ filter: "datum.m == 'tower'" }],
          mark: { type: "point", size: 8, color: "#555555" },
          encoding: {
            x: { field: "d", type: "temporal", title: null },
            y: { field: "v", type: "quantitative", title: null },
            opacity: {
              field: "g",
              type: "quantitative",
              scale: { domain: [0, 1], range: [0.25, 1] },
              legend: null,
            },
          },
        },
        {
          transform: [{ filter: "datum.m != 'tower'" }],
          mark: { type: "line", strokeWidth: 1 },
          encoding: {
            x: { field: "d", type: "temporal" },
            y: { field: "v", type: "quantitative" },
            color: { field: "m", type: "nominal", title: "model" },
          },
        },
      ],
    },
    resolve: { scale: { y: "independent" } },
  } as unknown as FigureSpec;
}
