/**
 * Notebook support: the one config every notebook reads, and chart display with an SVG fallback.
 * This file is the only place that touches `Deno.jupyter` (it exists only inside the kernel), so
 * `lib/` stays usable from scripts and tests.
 *
 * Mode: `TAMFLUX_NOTEBOOK_MODE=small` (what CI uses: few sites, few epochs) or `full` (the default),
 * or a JSON file named by `TAMFLUX_NOTEBOOK_CONFIG` with the fields of `NotebookConfigSchema`.
 *
 * @module
 */
import { z } from "zod";
import { renderSvg } from "../lib/eval/figures.ts";
import type { FigureSpec } from "../lib/eval/figures.ts";

/** The settings every notebook reads from its first cell. */
export const NotebookConfigSchema = z.object({
  /** small: a CI-sized run (minutes); full: the real thing. */
  mode: z.enum(["small", "full"]),
  /** Site subset for small mode (null = all sites). */
  sites: z.array(z.string()).nullable(),
  /** Experiment config used by the training notebooks. */
  trainConfig: z.string(),
  /** Epoch cap for notebook training (null = as in the config). */
  epochs: z.number().int().positive().nullable(),
  /** Where the notebooks keep their own runs (ignored by git). */
  runsDir: z.string(),
  /** The reproduce run whose tables notebook 04 shows (null = the newest under results/). */
  resultsRun: z.string().nullable(),
}).strict();

/** A validated notebook config. */
export type NotebookConfig = z.infer<typeof NotebookConfigSchema>;

const SMALL_SITES = [
  // every Köppen group and most IGBP classes, so that the small-mode splits stay meaningful
  "FR-Pue",
  "AU-Lox",
  "CH-Dav",
  "DE-Tha",
  "US-MMS",
  "IT-Col",
  "BE-Bra",
  "AU-DaS",
  "US-Var",
  "CA-Oas",
  "DE-Hai",
  "US-NR1",
  "BR-Sa1",
  "US-ARM",
  "DK-Sor",
  "RU-Fyo",
  "AT-Neu",
  "CN-Cng",
  "IT-Tor",
  "DE-Gri",
  "US-Los",
  "NL-Hor",
  "GF-Guy",
  "AU-DaP",
  "US-SRM",
  "ES-LgS",
  "US-Wkg",
  "AU-Stp",
  "GL-ZaF",
  "US-Atq",
  "CH-Fru",
  "RU-Cok",
  "DE-Geb",
  "US-Ne1",
  "IT-Ro2",
];

const DEFAULTS: Record<"small" | "full", NotebookConfig> = {
  small: {
    mode: "small",
    sites: SMALL_SITES,
    trainConfig: "../configs/quick.json",
    epochs: 2,
    runsDir: "../runs/notebooks-small",
    resultsRun: null,
  },
  full: {
    mode: "full",
    sites: null,
    trainConfig: "../configs/quick.json",
    epochs: null,
    runsDir: "../runs/notebooks",
    resultsRun: null,
  },
};

/**
 * The notebook config: `TAMFLUX_NOTEBOOK_CONFIG` (a JSON file, merged over the mode's defaults),
 * else the defaults of `TAMFLUX_NOTEBOOK_MODE` (small | full; full when unset).
 *
 * @example
 * ```ts
 * import { notebookConfig } from "./nb.ts";
 * const cfg = await notebookConfig();
 * console.log(cfg.mode);
 * ```
 */
export async function notebookConfig(): Promise<NotebookConfig> {
  const file = Deno.env.get("TAMFLUX_NOTEBOOK_CONFIG");
  const modeEnv = Deno.env.get("TAMFLUX_NOTEBOOK_MODE") ?? "full";
  if (modeEnv !== "small" && modeEnv !== "full") {
    throw new Error(`TAMFLUX_NOTEBOOK_MODE must be "small" or "full", not "${modeEnv}"`);
  }
  let raw: Record<string, unknown> = {};
  if (file) {
    try {
      raw = JSON.parse(await Deno.readTextFile(file));
    } catch (error) {
      throw new Error(`TAMFLUX_NOTEBOOK_CONFIG=${file}: ${(error as Error).message}`);
    }
  }
  const mode = (raw.mode as "small" | "full" | undefined) ?? modeEnv;
  const result = NotebookConfigSchema.safeParse({ ...DEFAULTS[mode] ?? DEFAULTS.full, ...raw });
  if (!result.success) {
    throw new Error(
      `notebook config ${file ?? `(mode ${mode})`}: ${z.prettifyError(result.error)}`,
    );
  }
  return result.data;
}

type Jupyter = {
  display(data: Record<string, unknown>, options: { raw: boolean }): Promise<void> | void;
};

function jupyter(): Jupyter | undefined {
  return (Deno as unknown as { jupyter?: Jupyter }).jupyter;
}

/**
 * Show a vega-lite chart: the interactive spec for front ends that render vega-lite (JupyterLab,
 * VS Code) and its SVG for those that do not (GitHub, nbviewer, the classic notebook).
 * Outside a kernel it renders the chart (so errors still surface) and displays nothing.
 *
 * @example
 * ```ts
 * import { show } from "./nb.ts";
 * await show({ data: { values: [{ a: 1 }] }, mark: "point", encoding: { x: { field: "a" } } });
 * ```
 */
export async function show(spec: FigureSpec): Promise<void> {
  // one decimal is a tenth of a pixel: enough for the fallback image, and a third smaller
  const svg = (await renderSvg(spec)).replace(/(\d+\.\d)\d+/g, "$1");
  const nb = jupyter();
  if (nb) {
    await nb.display(
      { "application/vnd.vegalite.v5+json": spec, "image/svg+xml": svg },
      { raw: true },
    );
  }
}

/**
 * Show text as preformatted output (polars frames, reports).
 *
 * @example
 * ```ts
 * import { text } from "./nb.ts";
 * await text("hello");
 * ```
 */
export async function text(value: string): Promise<void> {
  const nb = jupyter();
  if (nb) await nb.display({ "text/plain": value }, { raw: true });
  else console.log(value);
}

/**
 * Show Markdown (tables written by lib/eval).
 *
 * @example
 * ```ts
 * import { markdown } from "./nb.ts";
 * await markdown("| a |\n|---|\n| 1 |");
 * ```
 */
export async function markdown(value: string): Promise<void> {
  const nb = jupyter();
  if (nb) await nb.display({ "text/markdown": value, "text/plain": value }, { raw: true });
  else console.log(value);
}
