/**
 * The epoch at which each CV unit's neural model had its best validation loss, from the unit's
 * run log (`results/<run>/units/<unit-id>/run/log.jsonl`, one line per epoch): to pick the fixed
 * epoch count E of a training without validation (data.valFraction 0, train.epochs E). Only the
 * final stage (TAM-RL's main stage, after pretraining) counts; units without a run log (the
 * trees) are left out. `deno task cv` writes the rows to `tables/cv_epochs.csv` and prints
 * {@link describeBestEpochs}.
 *
 * @module
 */
import { join } from "node:path";
import type { EpochRecord } from "../train/trainer.ts";
import { exists, readJsonl } from "../train/runs.ts";
import { finishedUnits } from "./plan.ts";

/** One finished unit's final stage. */
export interface UnitEpochs {
  unit: string;
  label: string;
  split: string;
  seed: number;
  /** 1-based epoch of the lowest monitored (validation) loss. */
  bestEpoch: number;
  /** Epochs the stage ran (fewer than `epochs` after an early stop). */
  epochsRun: number;
  /** The configured maximum. */
  epochs: number;
  earlyStop: boolean;
  /** Whether the monitored loss was a validation loss (false: training loss, or no validation). */
  validated: boolean;
}

/**
 * The final stage's best epoch of every finished unit of a run folder with a run log, by unit id.
 *
 * @example
 * ```ts ignore
 * import { bestEpochs } from "./cv_epochs.ts";
 * for (const u of await bestEpochs("results/cv_final")) console.log(u.unit, u.bestEpoch);
 * ```
 */
export async function bestEpochs(runDir: string): Promise<UnitEpochs[]> {
  const out: UnitEpochs[] = [];
  for (const m of await finishedUnits(runDir)) {
    const log = join(runDir, "units", m.unit.id, "run", "log.jsonl");
    if (!await exists(log)) continue;
    const records = await readJsonl(log) as EpochRecord[];
    const last = records.at(-1);
    if (!last) continue;
    const stage = records.filter((r) => r.stageIndex === last.stageIndex);
    out.push({
      unit: m.unit.id,
      label: m.unit.label,
      split: m.unit.split,
      seed: m.unit.seed,
      bestEpoch: last.bestEpoch,
      epochsRun: stage.length,
      epochs: last.epochs,
      earlyStop: last.earlyStop,
      validated: stage.every((r) => r.val !== null),
    });
  }
  return out;
}

/**
 * One line per label: its units' best epochs (fold order) and their median.
 *
 * @example
 * ```ts
 * import { describeBestEpochs } from "./cv_epochs.ts";
 * const u = { label: "tamrl", seed: 0, epochs: 8, earlyStop: false, validated: true };
 * describeBestEpochs([
 *   { ...u, unit: "a", split: "cv0of2", bestEpoch: 5, epochsRun: 7 },
 *   { ...u, unit: "b", split: "cv1of2", bestEpoch: 7, epochsRun: 8 },
 * ]); // ["tamrl: best epoch 5, 7 (median 6) of at most 8; epochs run 7, 8"]
 * ```
 */
export function describeBestEpochs(rows: readonly UnitEpochs[]): string[] {
  const byLabel = new Map<string, UnitEpochs[]>();
  for (const r of rows) byLabel.set(r.label, [...byLabel.get(r.label) ?? [], r]);
  return [...byLabel].sort(([a], [b]) => a.localeCompare(b)).map(([label, units]) => {
    const sorted = [...units].sort((a, b) =>
      a.split.localeCompare(b.split, undefined, { numeric: true }) || a.seed - b.seed
    );
    const best = sorted.map((u) => u.bestEpoch);
    const s = [...best].sort((a, b) => a - b);
    const median = s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    const max = [...new Set(sorted.map((u) => u.epochs))].join("/");
    return `${label}: best epoch ${best.join(", ")} (median ${median}) of at most ${max}; ` +
      `epochs run ${sorted.map((u) => u.epochsRun).join(", ")}` +
      (sorted.some((u) => !u.validated) ? " (some without validation: best = last)" : "");
  });
}

/**
 * The rows as CSV (header: unit,label,split,seed,bestEpoch,epochsRun,epochs,earlyStop,validated).
 *
 * @example
 * ```ts ignore
 * await Deno.writeTextFile("cv_epochs.csv", cvEpochsCsv(await bestEpochs("results/cv_final")));
 * ```
 */
export function cvEpochsCsv(rows: readonly UnitEpochs[]): string {
  const cols = [
    "unit",
    "label",
    "split",
    "seed",
    "bestEpoch",
    "epochsRun",
    "epochs",
    "earlyStop",
    "validated",
  ] as const;
  return [cols.join(","), ...rows.map((r) => cols.map((c) => String(r[c])).join(","))].join("\n") +
    "\n";
}
