/**
 * The read-back of a site-level CV for notebook 05 (generalization): which CV run to show, its
 * tables as Markdown, the bias map, and the verdicts the product was chosen from.
 *
 * {@link cvNotebook} takes the run given, else `results/cv_final` when it has tables, else the
 * newest `results/cv_*` run with tables (in full mode passing over the notebook's own tiny CV);
 * in small mode (CI, a fresh clone) without any, it runs the tiny CV of
 * `configs/cv/notebook_small.json` in-process (the cv machinery: `cvProfile`, `runPlan` with the
 * real unit runner, `buildCvReport`) into `results/cv_notebook_small/` (ignored by git; about a
 * minute on 2 cores).
 *
 * @module
 */
import { join, resolve } from "node:path";
import { PROJECT_ROOT } from "../data/paths.ts";
import { loadSites } from "../data/sites.ts";
import { resolveDataDir } from "../data/paths.ts";
import type { FigureSpec } from "../eval/figures.ts";
import { type Cell, type Table, toMarkdown } from "../eval/tables.ts";
import { writeJsonAtomic } from "../data/atomic.ts";
import { buildCvReport, cvProfile, loadCvConfig } from "./cv.ts";
import { hasTable, latestRun } from "./drilldown.ts";
import { buildPlan, runPlan } from "./plan.ts";
import { treesUnit } from "./trees_unit.ts";
import { createUnitRunner } from "./units.ts";

/** The tiny CV of small mode (path from the project root). */
export const NOTEBOOK_CV_CONFIG = "configs/cv/notebook_small.json";
/** The CV tables notebook 05 shows. */
export const CV_TABLES = [
  "cv_summary",
  "cv_vs_trees",
  "cv_candidates",
  "cv_bias",
  "cv_bias_worst",
] as const;

/** What {@link cvNotebook} found. */
export interface CvNotebookRun {
  runDir: string;
  /** How the run was found. */
  source: "given" | "cv_final" | "newest" | "built";
  /** Markdown of each table of {@link CV_TABLES} (null: the run has none, an older run). */
  tables: Record<(typeof CV_TABLES)[number], string | null>;
  /** `figures/cv_bias_map.vl.json` (null: not written). */
  map: FigureSpec | null;
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * Run the tiny CV of `config` (a CV config path from `root`) in-process into
 * `<resultsDir>/cv_<name>/` and write its tables; finished units are skipped, so a second call
 * only rewrites the tables. Returns the run folder.
 *
 * @example
 * ```ts ignore
 * const dir = await runSmallCv("results", { config: NOTEBOOK_CV_CONFIG });
 * ```
 */
export async function runSmallCv(
  resultsDir: string,
  options: { config?: string; root?: string; log?: (m: string) => void } = {},
): Promise<string> {
  const root = options.root ?? PROJECT_ROOT;
  const config = await loadCvConfig(resolve(root, options.config ?? NOTEBOOK_CV_CONFIG));
  const profile = cvProfile(config);
  const runDir = join(resultsDir, `cv_${config.name}`);
  await writeJsonAtomic(join(runDir, "cv_profile.json"), profile);
  const log = options.log ?? (() => {});
  const plan = await runPlan(buildPlan(profile), {
    runDir,
    runner: createUnitRunner({ profile, root }, { trees: treesUnit }),
    log,
  });
  if (plan.failed.length) {
    throw new Error(
      `tamflux cv: ${plan.failed.length} units of ${config.name} failed: ` +
        plan.failed.map((f) => `${f.id}: ${f.error.split("\n")[0]}`).join("; "),
    );
  }
  await buildCvReport(runDir, { sites: await loadSites(resolveDataDir().sitesCsv), config, log });
  return runDir;
}

/**
 * The CV run notebook 05 shows (see the module doc) and its tables, the per-site bias table cut
 * to the `biasSites` (default 15) worst sites' RECO rows (the whole table is in the run's
 * tables/cv_bias.md), and the bias map.
 *
 * @example
 * ```ts ignore
 * const cv = await cvNotebook("../results", { mode: "small" });
 * console.log(cv.runDir, cv.tables.cv_summary);
 * ```
 */
export async function cvNotebook(
  resultsDir: string,
  options: {
    mode: "small" | "full";
    run?: string | null;
    root?: string;
    biasSites?: number;
    log?: (m: string) => void;
  },
): Promise<CvNotebookRun> {
  const smallName = "cv_notebook_small";
  let runDir: string | null = null;
  let source: CvNotebookRun["source"] = "given";
  if (options.run) {
    if (!hasTable(options.run, "cv_summary")) {
      throw new Error(`${options.run}: no CV tables (run \`deno task cv --tables-only\` there)`);
    }
    runDir = options.run;
  } else if (hasTable(join(resultsDir, "cv_final"), "cv_summary")) {
    runDir = join(resultsDir, "cv_final");
    source = "cv_final";
  } else {
    runDir = await latestRun(resultsDir, {
      exclude: options.mode === "full" ? [smallName] : [],
      prefix: "cv_",
      table: "cv_summary",
    });
    source = "newest";
  }
  if (!runDir && options.mode === "small") {
    runDir = await runSmallCv(resultsDir, { root: options.root, log: options.log });
    source = "built";
  }
  if (!runDir) {
    throw new Error(
      `no CV run with tables under ${resultsDir}: run \`deno task cv --config ` +
        `configs/cv/final.json\` first`,
    );
  }
  const tables = {} as CvNotebookRun["tables"];
  for (const name of CV_TABLES) {
    tables[name] = await readOptional(join(runDir, "tables", `${name}.md`));
  }
  const biasJson = await readOptional(join(runDir, "tables", "cv_bias.json"));
  if (biasJson) tables.cv_bias = biasHead(JSON.parse(biasJson), options.biasSites ?? 15);
  const mapJson = await readOptional(join(runDir, "figures", "cv_bias_map.vl.json"));
  return { runDir, source, tables, map: mapJson ? JSON.parse(mapJson) : null };
}

/**
 * Markdown of a `cv_bias` table cut to the RECO rows of its first `sites` sites (the table is
 * sorted by RECO |bias|, largest first).
 *
 * @example
 * ```ts ignore
 * const md = biasHead(JSON.parse(await Deno.readTextFile("tables/cv_bias.json")), 15);
 * ```
 */
export function biasHead(table: Table, sites: number): string {
  const siteCol = table.columns.indexOf("site"), fluxCol = table.columns.indexOf("flux");
  if (siteCol < 0 || fluxCol < 0) throw new Error(`table ${table.name}: no site or flux column`);
  const keep = new Set<Cell>();
  for (const r of table.rows) {
    if (keep.size >= sites && !keep.has(r[siteCol])) break;
    keep.add(r[siteCol]);
  }
  const rows = table.rows.filter((r) => keep.has(r[siteCol]) && r[fluxCol] === "RECO");
  const all = new Set(table.rows.map((r) => r[siteCol])).size;
  return toMarkdown({
    ...table,
    title: `${table.title} (RECO rows of the ${keep.size} worst of ${all} sites)`,
    rows,
    notes: [
      `Cut for the notebook: the RECO rows of the ${keep.size} sites with the largest RECO |bias|; ` +
      `every site and flux is in tables/cv_bias.md of the run.`,
      ...table.notes,
    ],
  });
}

interface ComparisonJson {
  columns: string[];
  rows: Cell[][];
}

/**
 * The verdicts of a run's comparisons, one Markdown bullet per comparison: for which flux and
 * statistic it is resolved better, resolved worse, and how many are not resolved (from
 * `cv_vs_trees.json` and `cv_candidates.json`; the rule is the tables': the 95 % interval
 * excludes 0 and Wilcoxon p < 0.05).
 *
 * @example
 * ```ts ignore
 * console.log((await cvVerdicts("results/cv_final")).join("\n"));
 * ```
 */
export async function cvVerdicts(runDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of ["cv_vs_trees", "cv_candidates"]) {
    const text = await readOptional(join(runDir, "tables", `${name}.json`));
    if (!text) continue;
    const t = JSON.parse(text) as ComparisonJson;
    const col = (c: string) => {
      const i = t.columns.indexOf(c);
      if (i < 0) throw new Error(`${runDir}/tables/${name}.json: no column "${c}"`);
      return i;
    };
    const [cmp, flux, stat, verdict] = ["comparison", "flux", "statistic", "verdict"].map(col);
    const by = new Map<string, Cell[][]>();
    for (const r of t.rows) by.set(String(r[cmp]), [...by.get(String(r[cmp])) ?? [], r]);
    for (const [comparison, rows] of by) {
      const of = (v: string) =>
        rows.filter((r) => r[verdict] === v).map((r) => `${r[flux]} ${r[stat]}`);
      const better = of("better"), worse = of("worse");
      out.push(
        `- \`${name}\` **${comparison}**: resolved better in ${better.join(", ") || "none"}; ` +
          `resolved worse in ${worse.join(", ") || "none"}; ` +
          `${rows.length - better.length - worse.length} of ${rows.length} not resolved.`,
      );
    }
  }
  return out;
}

/**
 * The settings a CV config gives its reference model (`modelOverrides.<reference>` after the
 * shared `overrides`), one `path = value` line each: what the product's TAM-RL changes from its
 * train config.
 *
 * @example
 * ```ts ignore
 * console.log(await referenceSettings("configs/cv/final.json"));
 * // ["data.featureSet = \"minimal_trailing\"", "model.inferenceSupport = \"all\""]
 * ```
 */
export async function referenceSettings(configPath: string): Promise<string[]> {
  const config = await loadCvConfig(configPath);
  const out: string[] = [];
  const walk = (v: unknown, path: string) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
    } else out.push(`${path} = ${JSON.stringify(v)}`);
  };
  walk(config.modelOverrides[config.reference] ?? {}, "");
  return out;
}
