/**
 * The training loop: one or two stages (stage 1 trains an `lstm`, stage 2 copies its weights into a
 * `tamrl`/`tamlstm` decoder and trains encoder and decoder jointly), Adam/AdamW with step decay,
 * early stopping on the validation loss with best-epoch restore, per-step and per-epoch callbacks,
 * and exact resume from the last finished epoch.
 *
 * A config without validation (lib/data `validationMode(config.data)` "none": `valFraction` 0 and
 * no validation site) trains every stage for its fixed number of epochs on the fixed lr
 * schedule: no early stopping, every epoch counts as the best (`improved`, `bestEpoch` = the
 * epoch), so the final weights are the model (`best` = `last`). Otherwise, without a validation
 * source (or with an empty one), the monitored loss is the training loss.
 *
 * Randomness is a function of position: batch order uses `deriveSeed(seed, stage, epoch)`,
 * dropout `deriveSeed(seed, stage, epoch, step)` and initialisation `deriveSeed(seed, stage)`, so
 * a resumed run makes the same choices as an unbroken run.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ExperimentConfig } from "./config.ts";
import type { ModelConfig } from "../models/config.ts";
import {
  type Batch,
  type BatchSource,
  disposeBatch,
  type FluxModel,
  type ModelName,
} from "./contracts.ts";
import {
  disposeSums,
  LossAccumulator,
  type LossOptions,
  type LossSums,
  lossSums,
  type LossValues,
  termsFromSums,
} from "./loss.ts";
import { Adam } from "./optim.ts";
import { deriveSeed } from "./seed.ts";
import { validationMode } from "../data/splits.ts";
import { encodeWeights, readWeights } from "../models/weights.ts";
import { applyWithHeads } from "../models/heads.ts";
import {
  assignVariables,
  atomicWrite,
  exists,
  loadTensors,
  runConfigHash,
  runPaths,
  saveTensors,
  snapshotVariables,
  writeJsonl,
} from "./runs.ts";

/** Builds a model (lib/models `buildModel`). */
export type ModelBuilder = (
  config: ModelConfig,
  dims: { nDyn: number; nStatic: number },
  options: { seed: number },
) => FluxModel;

/** Copies a pretrained `lstm` into a `tamrl`/`tamlstm` decoder (lib/models `transferPretrained`). */
export type Transfer = (from: FluxModel, to: FluxModel) => void;

/** One training stage. */
export interface StagePlan {
  name: "pretrain" | "main";
  model: ModelName;
  epochs: number;
}

/** Which loss terms were on, written into every log line. */
export interface TermSwitches {
  balance: boolean;
  qc: boolean;
  classWeights: boolean;
  alpha: number;
}

/** One line of the run log: everything about one finished epoch. */
export interface EpochRecord {
  stage: StagePlan["name"];
  stageIndex: number;
  model: ModelName;
  /** 1-based epoch within the stage. */
  epoch: number;
  epochs: number;
  lr: number;
  steps: number;
  windows: number;
  /** Training loss terms (mean over the epoch's days, before each step's update). */
  train: LossValues;
  /** Validation loss terms after the epoch, or null without a validation source. */
  val: LossValues | null;
  /**
   * The monitored loss (val.total, or train.total without validation; with no validation in the
   * config it decides nothing: every epoch is `improved`).
   */
  monitor: number;
  improved: boolean;
  bestEpoch: number;
  bestMonitor: number;
  badEpochs: number;
  /** The stage ended after this epoch (early stop or last epoch). */
  stageEnd: boolean;
  earlyStop: boolean;
  terms: TermSwitches;
  gradNorm: number;
  seconds: number;
}

/** What the per-step callback sees. */
export interface StepInfo {
  stage: StagePlan["name"];
  stageIndex: number;
  stages: number;
  model: ModelName;
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  /** Running mean of the loss terms over this epoch so far. */
  loss: LossValues;
  /** Seconds since this epoch started. */
  seconds: number;
}

/** A finished stage. */
export interface StageSummary {
  name: StagePlan["name"];
  model: ModelName;
  epochsRun: number;
  bestEpoch: number;
  bestMonitor: number;
  earlyStop: boolean;
  seconds: number;
}

/** Options of {@link trainModel}. */
export interface TrainOptions {
  /** The run's seed (model init, shuffling, dropout). */
  seed: number;
  /** Build models (lib/models `buildModel`). */
  buildModel: ModelBuilder;
  /** Copy stage-1 weights into the stage-2 model (lib/models `transferPretrained`). */
  transfer: Transfer;
  /** Run folder: checkpoint.tfw, log.jsonl and weights/ are written there. */
  runDir?: string;
  /** Continue from runDir's checkpoint (if there is one). */
  resume?: boolean;
  /** Called after each finished (and checkpointed) epoch; return false to stop the run there. */
  onEpoch?: (record: EpochRecord) => void | boolean | Promise<void | boolean>;
  /** Called after each training step. */
  onStep?: (info: StepInfo) => void;
  /** Stop at the next step boundary (the unfinished epoch is discarded). */
  signal?: AbortSignal;
}

/** The outcome of {@link trainModel}. */
export interface TrainResult {
  /** The final stage's model with its best weights restored (the caller disposes it). */
  model: FluxModel;
  /** Every epoch of every stage, including those done before a resume. */
  history: EpochRecord[];
  stages: StageSummary[];
  /** False when stopped by `onEpoch` or `signal` before the end. */
  completed: boolean;
  /** Epochs trained by this call (0 when resuming a finished run). */
  epochsThisCall: number;
  /** Wall time of this call. */
  seconds: number;
}

interface CheckpointState {
  version: 1;
  configHash: string;
  seed: number;
  stageIndex: number;
  epochsDone: number;
  stageFinished: boolean;
  bestMonitor: number | null;
  bestEpoch: number;
  badEpochs: number;
  optimizerStep: number;
  history: EpochRecord[];
  stages: StageSummary[];
}

/**
 * The stages a config asks for: [pretrain (lstm), main] for tamrl/tamlstm with pretraining on,
 * else [main].
 *
 * @example
 * ```ts
 * import { parseExperimentConfig } from "./config.ts";
 * import { planStages } from "./trainer.ts";
 * const c = parseExperimentConfig({ name: "x", data: {}, model: { name: "tamrl" }, train: {} });
 * console.log(planStages(c).map((s) => s.model)); // ["lstm", "tamrl"]
 * ```
 */
export function planStages(config: ExperimentConfig): StagePlan[] {
  const name = config.model.name;
  const main: StagePlan = { name: "main", model: name, epochs: config.train.epochs };
  if ((name === "tamrl" || name === "tamlstm") && config.train.pretrain.enabled) {
    return [{ name: "pretrain", model: "lstm", epochs: config.train.pretrain.epochs }, main];
  }
  return [main];
}

/** The loss options of a config and a source. */
export function lossOptionsOf(config: ExperimentConfig, source: BatchSource): LossOptions {
  return { targetScale: source.targetScale, ...config.train.loss };
}

/**
 * One optimisation step on one batch: forward (training mode, dropout seeded by `seed`; the
 * model's output heads, lib/models `applyWithHeads`, with the loss's target scale), loss,
 * gradients, update. Returns the batch's loss sums (the caller disposes them with `disposeSums`)
 * and the gradient norm. The batch is not disposed.
 *
 * @example
 * ```ts ignore
 * const { sums } = trainStep(model, optimizer, batch, { loss, epoch: 0, seed: 1 });
 * disposeSums(sums);
 * ```
 */
export function trainStep(
  model: FluxModel,
  optimizer: Adam,
  batch: Batch,
  options: { loss: LossOptions; epoch: number; seed: number },
): { sums: LossSums; gradNorm: number } {
  const entries = [...model.variables.entries()];
  let kept: LossSums | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const pred = applyWithHeads(
      model,
      { xDyn: batch.xDyn, xStatic: batch.xStatic, support: batch.support },
      { training: true, seed: options.seed, targetScale: options.loss.targetScale },
    );
    const sums = lossSums(pred, batch, options.loss);
    kept = {
      weightedSq: tf.keep(sums.weightedSq),
      count: tf.keep(sums.count),
      plainSq: tf.keep(sums.plainSq),
      balanceSq: tf.keep(sums.balanceSq),
      days: tf.keep(sums.days),
    };
    const terms = termsFromSums(sums, options.loss);
    return terms.total;
  }, entries.map(([, v]) => v));
  const named = new Map<string, tf.Tensor>();
  for (const [name, v] of entries) {
    const g = grads[v.name];
    if (g) named.set(name, g);
  }
  const gradNorm = optimizer.apply(named, options.epoch);
  value.dispose();
  tf.dispose(Object.values(grads));
  return { sums: kept!, gradNorm };
}

/**
 * The loss terms of a model over a whole source (no dropout, no gradients; the model's output
 * heads as in {@link trainStep}).
 *
 * @example
 * ```ts ignore
 * const val = evaluateLoss(model, valSource, { batchSize: 256, loss });
 * console.log(val.total, val.balance);
 * ```
 */
export function evaluateLoss(
  model: FluxModel,
  source: BatchSource,
  options: { batchSize: number; loss: LossOptions },
): LossValues {
  const acc = new LossAccumulator(options.loss);
  for (const batch of source.batches({ batchSize: options.batchSize, shuffle: false, seed: 0 })) {
    try {
      const sums = tf.tidy(() => {
        const pred = applyWithHeads(
          model,
          { xDyn: batch.xDyn, xStatic: batch.xStatic, support: batch.support },
          { training: false, targetScale: options.loss.targetScale },
        );
        return lossSums(pred, batch, options.loss);
      });
      acc.add(sums);
      disposeSums(sums);
    } finally {
      disposeBatch(batch);
    }
  }
  return acc.values();
}

/**
 * Train the model of a config (all its stages) with one seed.
 *
 * @example
 * ```ts ignore
 * import { buildModel, transferPretrained } from "../models/mod.ts";
 * const result = await trainModel({ train, val }, config, {
 *   seed: 0, buildModel, transfer: transferPretrained, runDir: "runs/quick/tamrl/seed0",
 *   onEpoch: (r) => console.log(r.epoch, r.train.total, r.val?.total),
 * });
 * result.model.dispose();
 * ```
 */
export async function trainModel(
  data: { train: BatchSource; val?: BatchSource },
  config: ExperimentConfig,
  options: TrainOptions,
): Promise<TrainResult> {
  const t0 = performance.now();
  const seed = options.seed;
  const stages = planStages(config);
  const hash = await runConfigHash(config);
  const paths = options.runDir ? runPaths(options.runDir) : null;
  const loss = lossOptionsOf(config, data.train);
  const tc = config.train;
  const dims = { nDyn: data.train.dims.nDyn, nStatic: data.train.dims.nStatic };
  const terms: TermSwitches = {
    balance: tc.loss.useBalance,
    qc: tc.loss.useQc,
    classWeights: tc.loss.useClassWeights,
    alpha: tc.loss.alpha,
  };
  const stepsPerEpoch = Math.ceil(data.train.windows / tc.batchSize);
  // no validation: fixed epochs, the last weights are the model
  const fixedEpochs = validationMode(config.data) === "none";
  if (data.train.windows === 0) throw new Error("trainModel: the training source has no windows");

  let { state, restored } = await openRun(paths, { hash, seed, resume: !!options.resume });

  let previous: FluxModel | null = null;
  let model: FluxModel | null = null;
  let epochsThisCall = 0;
  let lastYield = performance.now();
  try {
    for (let si = state.stageIndex; si < stages.length; si++) {
      const stage = stages[si];
      model = options.buildModel({ ...config.model, name: stage.model }, dims, {
        seed: deriveSeed(seed, si),
      });
      const optimizer = new Adam(model.variables, {
        kind: tc.optimizer,
        lr: tc.lr,
        weightDecay: tc.weightDecay,
        decayStep: tc.decay.step,
        decayGamma: tc.decay.gamma,
        clipNorm: tc.clipNorm,
      });
      let best: Map<string, tf.Tensor> | null = null;
      try {
        if (restored && si === state.stageIndex) {
          assignVariables(model.variables, restored, {
            prefix: "model/",
            source: paths!.checkpoint,
          });
          if (restored.has(`best/${[...model.variables.keys()][0]}`)) {
            best = new Map();
            for (const name of model.variables.keys()) {
              best.set(name, tf.keep(restored.get(`best/${name}`)!.clone()));
            }
          }
          const opt = new Map<string, tf.Tensor>();
          for (const [k, t] of restored) if (k.startsWith("opt/")) opt.set(k.slice(4), t);
          if (!state.stageFinished) optimizer.setState({ step: state.optimizerStep, tensors: opt });
          tf.dispose([...restored.values()]);
          restored = null;
        } else {
          if (previous) {
            options.transfer(previous, model);
            previous.dispose();
            previous = null;
          }
          state.stageIndex = si;
          state.epochsDone = 0;
          state.stageFinished = false;
          state.bestMonitor = null;
          state.bestEpoch = 0;
          state.badEpochs = 0;
          state.optimizerStep = 0;
        }

        while (!state.stageFinished) {
          const epoch = state.epochsDone;
          const epochStart = performance.now();
          const lr = optimizer.lrAt(epoch);
          const acc = new LossAccumulator(loss);
          let step = 0;
          let gradNorm = 0;
          const shuffleSeed = deriveSeed(seed, si, epoch);
          for (
            const batch of data.train.batches({
              batchSize: tc.batchSize,
              shuffle: true,
              seed: shuffleSeed,
            })
          ) {
            try {
              const out = trainStep(model, optimizer, batch, {
                loss,
                epoch,
                seed: deriveSeed(seed, si, epoch, step),
              });
              acc.add(out.sums);
              disposeSums(out.sums);
              gradNorm += out.gradNorm;
            } finally {
              disposeBatch(batch);
            }
            step++;
            options.onStep?.({
              stage: stage.name,
              stageIndex: si,
              stages: stages.length,
              model: stage.model,
              epoch: epoch + 1,
              epochs: stage.epochs,
              step,
              steps: stepsPerEpoch,
              loss: acc.values(),
              seconds: (performance.now() - epochStart) / 1000,
            });
            // let timers, signals and notebook displays run (the step loop is synchronous)
            if (performance.now() - lastYield > 250) {
              await new Promise((resolve) => setTimeout(resolve, 0));
              lastYield = performance.now();
            }
            if (options.signal?.aborted) {
              return finish(false);
            }
          }
          const trainValues = acc.values();
          const val = data.val && data.val.windows > 0
            ? evaluateLoss(model, data.val, { batchSize: tc.evalBatchSize, loss })
            : null;
          const monitor = val ? val.total : trainValues.total;
          if (!Number.isFinite(monitor)) {
            throw new Error(
              `trainModel: the ${val ? "validation" : "training"} loss is ${monitor} at stage ` +
                `${stage.name}, epoch ${
                  epoch + 1
                } (lr ${lr}); lower the learning rate or clip gradients`,
            );
          }
          const improved = fixedEpochs || state.bestMonitor === null ||
            monitor < state.bestMonitor - tc.minDelta;
          if (improved) {
            if (best) tf.dispose([...best.values()]);
            best = snapshotVariables(model.variables);
            state.bestMonitor = monitor;
            state.bestEpoch = epoch + 1;
            state.badEpochs = 0;
          } else {
            state.badEpochs++;
          }
          state.epochsDone = epoch + 1;
          state.optimizerStep = optimizer.step;
          const earlyStop = state.badEpochs >= tc.patience && state.epochsDone < stage.epochs;
          const stageEnd = earlyStop || state.epochsDone >= stage.epochs;
          const record: EpochRecord = {
            stage: stage.name,
            stageIndex: si,
            model: stage.model,
            epoch: epoch + 1,
            epochs: stage.epochs,
            lr,
            steps: step,
            windows: data.train.windows,
            train: trainValues,
            val,
            monitor,
            improved,
            bestEpoch: state.bestEpoch,
            bestMonitor: state.bestMonitor!,
            badEpochs: state.badEpochs,
            stageEnd,
            earlyStop,
            terms,
            gradNorm: step > 0 ? gradNorm / step : 0,
            seconds: (performance.now() - epochStart) / 1000,
          };
          state.history.push(record);
          epochsThisCall++;
          if (stageEnd) {
            const last = encodeWeights(readWeights(model.variables));
            assignVariables(model.variables, best!);
            state.stageFinished = true;
            state.stages.push({
              name: stage.name,
              model: stage.model,
              epochsRun: state.epochsDone,
              bestEpoch: state.bestEpoch,
              bestMonitor: state.bestMonitor!,
              earlyStop,
              seconds: state.history.filter((r) => r.stageIndex === si)
                .reduce((s, r) => s + r.seconds, 0),
            });
            if (paths) {
              await writeStageWeights(paths, model, {
                stage: stage.name,
                last,
                final: si === stages.length - 1,
              });
            }
          }
          if (paths) {
            await writeCheckpoint(paths.checkpoint, state, model, optimizer, best);
            await writeJsonl(paths.log, state.history);
          }
          const go = await options.onEpoch?.(record);
          if (go === false || options.signal?.aborted) {
            if (!stageEnd || si < stages.length - 1) return finish(false);
          }
        }
      } finally {
        optimizer.dispose();
        if (best) tf.dispose([...best.values()]);
      }
      if (si < stages.length - 1) {
        previous = model;
        model = null;
      }
    }
    return finish(true);
  } catch (error) {
    previous?.dispose();
    model?.dispose();
    if (restored) tf.dispose([...restored.values()]);
    throw error;
  }

  function finish(completed: boolean): TrainResult {
    previous?.dispose();
    return {
      model: model!,
      history: state.history,
      stages: state.stages,
      completed,
      epochsThisCall,
      seconds: (performance.now() - t0) / 1000,
    };
  }
}

/**
 * The state a run starts from: the checkpoint of `paths` when resuming (checked against the
 * config hash and seed; its tensors returned for the caller to assign), else a fresh state (the
 * log emptied).
 */
async function openRun(
  paths: ReturnType<typeof runPaths> | null,
  options: { hash: string; seed: number; resume: boolean },
): Promise<{ state: CheckpointState; restored: Map<string, tf.Tensor> | null }> {
  const { hash, seed } = options;
  let state: CheckpointState = {
    version: 1,
    configHash: hash,
    seed,
    stageIndex: 0,
    epochsDone: 0,
    stageFinished: false,
    bestMonitor: null,
    bestEpoch: 0,
    badEpochs: 0,
    optimizerStep: 0,
    history: [],
    stages: [],
  };
  let restored: Map<string, tf.Tensor> | null = null;
  if (options.resume && paths && await exists(paths.checkpoint)) {
    const { tensors, meta } = await loadTensors(paths.checkpoint);
    const saved = meta as CheckpointState;
    if (saved?.version !== 1) throw new Error(`${paths.checkpoint}: unknown checkpoint version`);
    if (saved.configHash !== hash) {
      tf.dispose([...tensors.values()]);
      throw new Error(
        `${paths.checkpoint}: written with another config (hash ${
          saved.configHash.slice(0, 12)
        }, ` +
          `now ${hash.slice(0, 12)}); cannot resume`,
      );
    }
    if (saved.seed !== seed) {
      tf.dispose([...tensors.values()]);
      throw new Error(`${paths.checkpoint}: written with seed ${saved.seed}, not ${seed}`);
    }
    state = saved;
    restored = tensors;
    // the log must agree with the checkpoint (a crash may have come between the two writes)
    await writeJsonl(paths.log, state.history);
  } else if (paths) {
    await writeJsonl(paths.log, []);
  }
  return { state, restored };
}

/** The weights of a finished stage (best and last; for the final stage also `best`, `last`). */
async function writeStageWeights(
  paths: ReturnType<typeof runPaths>,
  model: FluxModel,
  options: { stage: string; last: Uint8Array; final: boolean },
): Promise<void> {
  const { stage, last } = options;
  const bestBytes = encodeWeights(readWeights(model.variables));
  await atomicWrite(paths.weights(`${stage}_last`), last);
  await atomicWrite(paths.weights(`${stage}_best`), bestBytes);
  if (options.final) {
    await atomicWrite(paths.weights("last"), last);
    await atomicWrite(paths.weights("best"), bestBytes);
  }
}

async function writeCheckpoint(
  path: string,
  state: CheckpointState,
  model: FluxModel,
  optimizer: Adam,
  best: Map<string, tf.Tensor> | null,
): Promise<void> {
  const tensors = new Map<string, tf.Tensor>();
  for (const [n, v] of model.variables) tensors.set(`model/${n}`, v);
  if (best) { for (const [n, t] of best) tensors.set(`best/${n}`, t); }
  const opt = state.stageFinished ? null : optimizer.getState();
  if (opt) { for (const [n, t] of opt.tensors) tensors.set(`opt/${n}`, t); }
  try {
    await saveTensors(path, tensors, state);
  } finally {
    if (opt) tf.dispose([...opt.tensors.values()]);
  }
}
