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
import { type ExperimentConfig, loadExperimentConfig } from "../lib/train/config.ts";
import { htmlProgress, type ProgressCallbacks, terminalProgress } from "../lib/train/progress.ts";
import { patchConfig } from "../lib/train/run_cache.ts";

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
 * Wait until a display has left the kernel. `Deno.jupyter.display` resolves before its message is
 * on the IOPub socket, and the kernel's "idle" status can overtake it; headless runners
 * (nbconvert/nbclient) drop what arrives after "idle", so the last outputs of a cell went missing
 * at random. Measured with jupyter_client (Deno 2.9.6): a 0 ms timer still lost messages, 25 ms
 * lost none in 30 cells.
 */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
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
  // one decimal is a tenth of a pixel: enough for the fallback image, and a third smaller;
  // only inside tags (coordinates, paths), never in text such as axis labels ("0.25")
  const svg = (await renderSvg(spec)).replace(
    /<[^>]*>/g,
    (tag) => tag.replace(/(\d+\.\d)\d+/g, "$1"),
  );
  const nb = jupyter();
  if (nb) {
    await nb.display(
      { "application/vnd.vegalite.v5+json": spec, "image/svg+xml": svg },
      { raw: true },
    );
    await settle();
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
  if (nb) {
    await nb.display({ "text/plain": value }, { raw: true });
    await settle();
  } else console.log(value);
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
  if (nb) {
    await nb.display({ "text/markdown": value, "text/plain": value }, { raw: true });
    await settle();
  } else console.log(value);
}

type JupyterUpdatable = {
  display(
    data: Record<string, unknown>,
    options: { raw: boolean; update?: boolean; display_id?: string },
  ): Promise<void> | void;
};

/**
 * A live training progress display for `trainModel` (`{ ...progress() }` gives `onStep` and
 * `onEpoch`): one output that is updated in place with a status line and a table of the loss
 * terms per epoch (`htmlProgress` from lib/train). Outside a kernel it prints one line per epoch.
 *
 * @example
 * ```ts
 * import { progress } from "./nb.ts";
 * const callbacks = progress();
 * // await trainModel(data, config, { ...options, ...callbacks });
 * ```
 */
export function progress(options: { everyMs?: number } = {}): ProgressCallbacks {
  const nb = jupyter() as JupyterUpdatable | undefined;
  if (!nb) return terminalProgress({ live: false });
  const id = `tamflux-progress-${crypto.randomUUID()}`;
  return htmlProgress(
    (bundle, { update }) => nb.display({ ...bundle }, { raw: true, display_id: id, update }),
    options,
  );
}

/** Windows per epoch the training notebooks use in small mode (null in full mode: all). */
export const SMALL_MODE_MAX_WINDOWS = 1024;

/**
 * The experiment config of the training notebooks: `cfg.trainConfig`, restricted to `cfg.sites`
 * when set, with every stage capped at `cfg.epochs` epochs when set; and the window cap per
 * epoch ({@link SMALL_MODE_MAX_WINDOWS} in small mode, null = all windows in full mode).
 *
 * @example
 * ```ts
 * import { notebookConfig, trainingSetup } from "./nb.ts";
 * const { config, maxWindows } = await trainingSetup(await notebookConfig());
 * ```
 */
export async function trainingSetup(
  cfg: NotebookConfig,
): Promise<{ config: ExperimentConfig; maxWindows: number | null }> {
  const base = await loadExperimentConfig(cfg.trainConfig);
  const cap = (n: number) => (cfg.epochs === null ? n : Math.min(n, cfg.epochs));
  const config = patchConfig(base, {
    data: cfg.sites ? { sites: cfg.sites } : {},
    train: {
      epochs: cap(base.train.epochs),
      pretrain: { epochs: cap(base.train.pretrain.epochs) },
    },
  });
  return { config, maxWindows: cfg.mode === "small" ? SMALL_MODE_MAX_WINDOWS : null };
}
