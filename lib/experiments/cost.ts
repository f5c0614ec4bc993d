/**
 * The cost of a reproduction plan: seconds per unit, core-hours of the plan, and the wall time on
 * `n` workers (a local work queue, or the `n` shards of a batch array). Issue 15 prints it with
 * `reproduce --dry-run`; issue 17 uses it to suggest the size and time limit of a Slurm array.
 *
 * How a unit's time is estimated:
 * - a neural unit: for every training stage (`planStages`: the LSTM pretraining stage, then the
 *   model), epochs x ceil(training windows / batch size) steps, each at the time of a training
 *   step measured with the unit's own shapes (batch, window, features, hidden size, latent size,
 *   support windows) on the unit's backend; plus evaluation (a validation pass per epoch and the
 *   test pass) counted as forward passes, a third of a training step per sample. Epochs are the
 *   configured maximum: early stopping only makes a unit shorter, so this is an upper bound.
 * - a trees unit: training rows x trees (summed over the three targets) x depth, at a rate
 *   measured by fitting two boosters (2 and 10 trees) on a synthetic matrix of the same width,
 *   plus the binning of the rows (what the smaller fit costs beyond its trees).
 * - every unit: the time to build its dataset once (measured; a worker builds each dataset once,
 *   so this over-counts when one worker runs several units of a split).
 *
 * Measurements are cached in `cache/cost/` keyed by the hash of what was measured, so only the
 * first estimate on a machine pays for them. The pure part (`estimateUnits`' arithmetic,
 * {@link planWall}, {@link suggestArray}) is separate from the measuring ({@link measureUnits}).
 *
 * @module
 */
import { dirname } from "node:path";
import { writeJsonAtomic } from "../data/atomic.ts";
import type { Unit } from "./plan.ts";
import type { ExperimentConfig } from "../train/config.ts";
import { planStages } from "../train/trainer.ts";
import type { StepShapes } from "../bench/step_bench.ts";

/** What a unit's time is made of (the inputs of {@link unitSeconds}). */
export interface UnitWork {
  id: string;
  /** Training stages: steps of each and the measured seconds per step. */
  stages: { name: string; model: string; epochs: number; steps: number; secondsPerStep: number }[];
  /** Evaluation, in training-step equivalents (at the main stage's step time). */
  evalSteps: number;
  /**
   * Trees: rows x trees x depth and the measured seconds per unit of it, plus the rows at the
   * measured seconds per row of binning the matrix.
   */
  trees: { work: number; secondsPerWork: number; rows: number; secondsPerRow: number } | null;
  /** Seconds to build the unit's dataset. */
  datasetSeconds: number;
}

/** Window counts and widths of a dataset, as the estimate needs them. */
export interface DatasetShape {
  windows: { train: number; val: number; test: number };
  /** Dynamic and static feature counts. */
  nDyn: number;
  nStatic: number;
  /** Training rows of the trees (days of the training sites). */
  trainDays: number;
  /** Seconds it took to build. */
  seconds: number;
}

/** A forward pass costs about a third of a training step (forward, backward, update). */
export const FORWARD_FRACTION = 1 / 3;

/**
 * Steps per stage and evaluation passes (in training-step equivalents) of a neural config.
 *
 * @example
 * ```ts ignore
 * import { neuralSteps } from "./cost.ts";
 * const s = neuralSteps(config, { train: 1000, val: 200, test: 300 });
 * ```
 */
export function neuralSteps(
  config: Pick<ExperimentConfig, "model" | "train">,
  windows: DatasetShape["windows"],
): { stages: { name: string; model: string; epochs: number; steps: number }[]; evalSteps: number } {
  const perEpoch = Math.ceil(windows.train / config.train.batchSize);
  const stages = planStages(config as ExperimentConfig).map((s) => ({
    name: s.name,
    model: s.model,
    epochs: s.epochs,
    steps: s.epochs * perEpoch,
  }));
  const epochs = stages.reduce((a, s) => a + s.epochs, 0);
  const evalSamples = windows.val * epochs + windows.test;
  return { stages, evalSteps: (evalSamples / config.train.batchSize) * FORWARD_FRACTION };
}

/**
 * The estimated seconds of one unit.
 *
 * @example
 * ```ts
 * import { unitSeconds } from "./cost.ts";
 * unitSeconds({
 *   id: "lstm_koppen_s0", evalSteps: 10, trees: null, datasetSeconds: 5,
 *   stages: [{ name: "main", model: "lstm", epochs: 1, steps: 100, secondsPerStep: 0.05 }],
 * }); // 5 + 100 * 0.05 + 10 * 0.05 = 10.5
 * ```
 */
export function unitSeconds(work: UnitWork): number {
  const train = work.stages.reduce((a, s) => a + s.steps * s.secondsPerStep, 0);
  const last = work.stages.at(-1);
  const evalSec = last ? work.evalSteps * last.secondsPerStep : 0;
  const t = work.trees;
  const trees = t ? t.work * t.secondsPerWork + t.rows * t.secondsPerRow : 0;
  return work.datasetSeconds + train + evalSec + trees;
}

/**
 * Wall seconds of units on `workers` workers: `"queue"` is the local work queue of
 * `reproduce --jobs` (costliest first, each to the first free worker), `"shard"` the `--shard i/n`
 * split of a batch array (shard i runs every n-th unit in plan order; the slowest shard bounds it).
 *
 * @example
 * ```ts
 * import { planWall } from "./cost.ts";
 * planWall([4, 3, 2, 1], 2, "shard"); // shards [4, 2] and [3, 1]: 6
 * planWall([4, 3, 2, 1], 2, "queue"); // [4, 1] and [3, 2]: 5
 * ```
 */
export function planWall(
  seconds: readonly number[],
  workers: number,
  mode: "queue" | "shard",
): number {
  if (!Number.isInteger(workers) || workers < 1) {
    throw new Error(`tamflux cost: workers must be a positive integer, not ${workers}`);
  }
  const load = new Array(workers).fill(0);
  if (mode === "shard") {
    seconds.forEach((s, k) => load[k % workers] += s);
  } else {
    for (const s of [...seconds].sort((a, b) => b - a)) {
      const i = load.indexOf(Math.min(...load));
      load[i] += s;
    }
  }
  return Math.max(0, ...load);
}

/**
 * The array size and time limit to suggest for a batch array: the fewest tasks whose slowest
 * shard is within `slack` (default 10%) of the best any number of tasks can do (more tasks would
 * wait on the longest units), and a time limit of that shard's wall x `safety` (default 1.5)
 * plus `marginSeconds` (default 600 s, start-up), rounded up to whole minutes.
 *
 * @example
 * ```ts
 * import { suggestArray } from "./cost.ts";
 * suggestArray([100, 100, 100, 100]); // { tasks: 4, shardSeconds: 100, timeLimitSeconds: 780 }
 * ```
 */
export function suggestArray(
  seconds: readonly number[],
  options: { slack?: number; safety?: number; marginSeconds?: number; maxTasks?: number } = {},
): { tasks: number; shardSeconds: number; timeLimitSeconds: number } {
  const n = Math.max(1, Math.min(seconds.length, options.maxTasks ?? Infinity));
  const best = planWall(seconds, n, "shard");
  let tasks = n;
  for (let k = 1; k <= n; k++) {
    if (planWall(seconds, k, "shard") <= best * (1 + (options.slack ?? 0.1))) {
      tasks = k;
      break;
    }
  }
  const shardSeconds = planWall(seconds, tasks, "shard");
  const limit = shardSeconds * (options.safety ?? 1.5) + (options.marginSeconds ?? 600);
  return { tasks, shardSeconds, timeLimitSeconds: Math.ceil(limit / 60) * 60 };
}

/**
 * Seconds as a Slurm time limit, `[D-]HH:MM:SS`.
 *
 * @example
 * ```ts
 * import { slurmTime } from "./cost.ts";
 * slurmTime(3_723); // "01:02:03"
 * slurmTime(90_000); // "1-01:00:00"
 * ```
 */
export function slurmTime(seconds: number): string {
  const s = Math.ceil(seconds);
  const d = Math.floor(s / 86_400);
  const hms = [Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60, s % 60]
    .map((x) => String(x).padStart(2, "0")).join(":");
  return d > 0 ? `${d}-${hms}` : hms;
}

/** The estimate of a plan. */
export interface PlanEstimate {
  units: { id: string; seconds: number; work: UnitWork }[];
  /** Sum of the units' seconds, in core-hours (one core per unit). */
  coreHours: number;
}

/**
 * Put unit estimates together.
 *
 * @example
 * ```ts
 * import { summarizeEstimate } from "./cost.ts";
 * const work = { id: "a", stages: [], evalSteps: 0, trees: null, datasetSeconds: 3600 };
 * summarizeEstimate([work]).coreHours; // 1
 * ```
 */
export function summarizeEstimate(works: readonly UnitWork[]): PlanEstimate {
  const units = works.map((work) => ({ id: work.id, seconds: unitSeconds(work), work }));
  return { units, coreHours: units.reduce((a, u) => a + u.seconds, 0) / 3600 };
}

/**
 * Minutes with one decimal, or hours above two hours.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./cost.ts";
 * formatDuration(90); // "1.5 min"
 * formatDuration(9000); // "2.5 h"
 * ```
 */
export function formatDuration(seconds: number): string {
  return seconds < 7200 ? `${(seconds / 60).toFixed(1)} min` : `${(seconds / 3600).toFixed(1)} h`;
}

/**
 * The lines `reproduce --dry-run` prints: one per unit and the totals for `workers` workers.
 *
 * @example
 * ```ts
 * import { estimateLines, summarizeEstimate } from "./cost.ts";
 * const e = summarizeEstimate([{ id: "a", stages: [], evalSteps: 0, trees: null, datasetSeconds: 60 }]);
 * estimateLines(e, { workers: 2 }).at(-1); // "estimate: 0.02 core-hours; wall 1.0 min with 2 workers (--jobs), 1.0 min as 2 shards"
 * ```
 */
export function estimateLines(estimate: PlanEstimate, options: { workers: number }): string[] {
  const secs = estimate.units.map((u) => u.seconds);
  const lines = estimate.units.map((u) => `  ~${formatDuration(u.seconds).padStart(9)}  ${u.id}`);
  lines.push(
    `estimate: ${estimate.coreHours.toFixed(2)} core-hours; wall ` +
      `${formatDuration(planWall(secs, options.workers, "queue"))} with ${options.workers} ` +
      `workers (--jobs), ${formatDuration(planWall(secs, options.workers, "shard"))} as ` +
      `${options.workers} shards`,
  );
  return lines;
}

/** What {@link measureUnits} measures with, injected so that tests need no model or data. */
export interface Measurer {
  /** The unit's experiment config. */
  config: (unit: Unit) => Promise<ExperimentConfig>;
  /** The dataset shape of a data config. */
  dataset: (config: ExperimentConfig) => Promise<DatasetShape>;
  /** Seconds per training step of a model config at the given shapes. */
  step: (model: Record<string, unknown>, shapes: StepShapes, backend: string) => Promise<number>;
  /** Seconds per (row x tree x depth) of the trees, and per row of binning, at `nCols` columns. */
  treesRate: (nCols: number) => Promise<{ perWork: number; perRow: number }>;
  /** The trees config of a unit (merged), for tree counts and depths. */
  treesConfig: (unit: Unit) => Promise<Record<string, unknown>>;
}

export type { StepShapes } from "../bench/step_bench.ts";

/**
 * The shapes of a config's training step on a dataset.
 *
 * @example
 * ```ts ignore
 * import { stepShapes } from "./cost.ts";
 * const shapes = stepShapes(config, { windows: { train: 900, val: 100, test: 200 }, nDyn: 12,
 *   nStatic: 20, trainDays: 40_000, seconds: 3 });
 * // { B: config.train.batchSize, T: config.data.window, F: 12, S: 20, H: ..., Z: ..., ... }
 * ```
 */
export function stepShapes(
  config: Pick<ExperimentConfig, "train" | "data" | "model">,
  ds: Pick<DatasetShape, "nDyn" | "nStatic">,
): StepShapes {
  return {
    B: config.train.batchSize,
    T: config.data.window,
    F: ds.nDyn,
    S: ds.nStatic,
    H: config.model.hidden,
    Z: config.model.latent,
    LAST: config.data.stride,
    K: config.data.supportK,
  };
}

/**
 * Total trees x depth over the three targets of a trees config (defaults as lib/models/trees).
 *
 * @example
 * ```ts
 * import { treesDepthWork } from "./cost.ts";
 * treesDepthWork({}); // 5400 (3 targets x 300 trees x depth 6)
 * treesDepthWork({ gbm: { nTrees: 100 }, perTarget: { NEE: { maxDepth: 3 } } }); // 1500
 * ```
 */
export function treesDepthWork(config: Record<string, unknown>): number {
  const gbm = (config.gbm ?? {}) as { nTrees?: number; maxDepth?: number };
  const per = (config.perTarget ?? {}) as Record<string, { nTrees?: number; maxDepth?: number }>;
  return ["GPP", "RECO", "NEE"].reduce((a, t) => {
    const n = per[t]?.nTrees ?? gbm.nTrees ?? 300;
    const d = per[t]?.maxDepth ?? gbm.maxDepth ?? 6;
    return a + n * d;
  }, 0);
}

/**
 * Measure the work of every unit (steps, rates, dataset builds) with `measurer`.
 *
 * @example
 * ```ts ignore
 * import { measureUnits, summarizeEstimate } from "./cost.ts";
 * const estimate = summarizeEstimate(await measureUnits(units, measurer));
 * ```
 */
export async function measureUnits(
  units: readonly Unit[],
  measurer: Measurer,
): Promise<UnitWork[]> {
  const out: UnitWork[] = [];
  for (const unit of units) {
    const config = await measurer.config(unit);
    const ds = await measurer.dataset(config);
    if (unit.model === "trees") {
      const tc = await measurer.treesConfig(unit);
      const rolling = (tc.rolling ?? {}) as { columns?: string[]; windows?: number[] };
      const nCols = ds.nDyn + ds.nStatic +
        (rolling.columns?.length ?? 0) * (rolling.windows?.length ?? 0);
      const rate = await measurer.treesRate(nCols);
      out.push({
        id: unit.id,
        stages: [],
        evalSteps: 0,
        trees: {
          work: ds.trainDays * treesDepthWork(tc),
          secondsPerWork: rate.perWork,
          rows: ds.trainDays,
          secondsPerRow: rate.perRow,
        },
        datasetSeconds: ds.seconds,
      });
      continue;
    }
    const { stages, evalSteps } = neuralSteps(config, ds.windows);
    const shapes = stepShapes(config, ds);
    const timed = [];
    for (const s of stages) {
      const model = { ...config.model, name: s.model };
      timed.push({ ...s, secondsPerStep: await measurer.step(model, shapes, config.backend) });
    }
    out.push({ id: unit.id, stages: timed, evalSteps, trees: null, datasetSeconds: ds.seconds });
  }
  return out;
}

/** A memo of measurements kept in a JSON file (see {@link jsonMemo}). */
export interface JsonMemo {
  /** The value of `key`, measured (and saved) the first time. */
  get<T>(key: string, measure: () => Promise<T>): Promise<T>;
  /** The value of `key` if it was measured before, else undefined. */
  peek<T>(key: string): Promise<T | undefined>;
}

/**
 * A memo of async measurements in a JSON file (`cache/cost/<name>.json`), keyed by a string.
 *
 * @example
 * ```ts ignore
 * import { jsonMemo } from "./cost.ts";
 * const memo = jsonMemo("cache/cost/steps.json");
 * const seconds = await memo.get("key", async () => 0.1);
 * ```
 */
export function jsonMemo(path: string): JsonMemo {
  let table: Record<string, unknown> | null = null;
  const load = async () => {
    if (!table) {
      try {
        table = JSON.parse(await Deno.readTextFile(path));
      } catch {
        table = {};
      }
    }
    return table!;
  };
  return {
    async get<T>(key: string, measure: () => Promise<T>): Promise<T> {
      const t = await load();
      if (key in t) return t[key] as T;
      const value = await measure();
      t[key] = value;
      await Deno.mkdir(dirname(path), { recursive: true });
      await writeJsonAtomic(path, t);
      return value;
    },
    async peek<T>(key: string): Promise<T | undefined> {
      return (await load())[key] as T | undefined;
    },
  };
}
