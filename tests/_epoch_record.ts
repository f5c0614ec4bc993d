/** Test helper: a plausible EpochRecord with fields overridden. */
import type { EpochRecord } from "../lib/train/trainer.ts";

/** An epoch record of a tamrl main stage, with `over` applied. */
export function epochRecord(over: Partial<EpochRecord> = {}): EpochRecord {
  return {
    stage: "main",
    stageIndex: 1,
    model: "tamrl",
    epoch: 1,
    epochs: 3,
    lr: 0.001,
    steps: 10,
    windows: 100,
    train: { total: 0.5, data: 0.4, balance: 1.25, mse: 0.45 },
    val: { total: 0.6, data: 0.5, balance: 1.5, mse: 0.55 },
    monitor: 0.6,
    improved: true,
    bestEpoch: 1,
    bestMonitor: 0.6,
    badEpochs: 0,
    stageEnd: false,
    earlyStop: false,
    terms: { balance: true, qc: true, classWeights: true, alpha: 0.1 },
    gradNorm: 1,
    seconds: 2.5,
    ...over,
  };
}
