/**
 * Time one training step (or one prediction) of a tamflux model with exactly the shapes of the
 * PyTorch reference `../shared/bench/torch_tamrl_step.py`: B 32, T 30, F 20, S 21, H 128, Z 32,
 * loss on the last 15 days, Adam lr 1e-3; the task encoder reads one support window per sample,
 * the dynamic features with the static vector repeated on every step.
 *
 * The step is the product's own code path: `buildModel` from `lib/models` and `trainStep` (forward,
 * loss sums, gradients, Adam update) from `lib/train/trainer.ts`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { useBackend } from "../backend.ts";
import { fusedLstmKernels } from "../models/kernels/fused_lstm.ts";
import { buildModel, type FluxModel, parseModelConfig } from "../models/mod.ts";
import type { Batch } from "../train/contracts.ts";
import type { LossOptions } from "../train/loss.ts";
import { Adam } from "../train/optim.ts";
import { trainStep } from "../train/trainer.ts";

/** The shapes of the PyTorch reference. */
export const BENCH_SHAPES = { B: 32, T: 30, F: 20, S: 21, H: 128, Z: 32, LAST: 15 } as const;

/** What is timed: a TAM-RL training step, a plain LSTM training step, or a TAM-RL prediction. */
export const BENCH_CASES = ["tamrl", "lstm", "predict"] as const;

/** One of {@linkcode BENCH_CASES}. */
export type BenchCase = typeof BENCH_CASES[number];

/** Options of {@linkcode benchStep}, validated with {@linkcode BenchOptionsSchema}. */
export const BenchOptionsSchema = z.object({
  case: z.enum(BENCH_CASES),
  impl: z.enum(["reference", "fused"]),
  steps: z.number().int().min(1).default(30),
  warmup: z.number().int().min(0).default(3),
  backend: z.enum(["wasm", "cpu"]).default("wasm"),
  seed: z.number().int().default(0),
}).strict();

/** Input of {@linkcode benchStep}. */
export type BenchOptions = z.input<typeof BenchOptionsSchema>;

/** One timing, with the keys of the PyTorch reference's JSON line. */
export interface BenchResult {
  bench: string;
  impl: string;
  /** The fused LSTM's kernels ("wasm-relaxed-simd-gemm", "wasm-xnnpack", "js"), or "tfjs-ops". */
  lstm_kernels: string;
  threads: number;
  ms_per_step: number;
  min_ms: number;
  steps: number;
  B: number;
  T: number;
  F: number;
  S: number;
  H: number;
  Z: number;
}

/** Median of a non-empty list. */
export function median(values: number[]): number {
  if (values.length === 0) throw new Error("median of an empty list");
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** A synthetic batch with the reference's shapes (seeded normal features, uniform qc and w). */
function syntheticBatch(seed: number): Batch {
  const { B, T, F, S, LAST } = BENCH_SHAPES;
  return tf.tidy(() => {
    const xDyn = tf.randomNormal([B, T, F], 0, 1, "float32", seed) as tf.Tensor3D;
    const xStatic = tf.randomNormal([B, S], 0, 1, "float32", seed + 1) as tf.Tensor2D;
    const staticSteps = tf.tile(tf.reshape(xStatic, [B, 1, S]), [1, T, 1]);
    const support = tf.reshape(tf.concat([xDyn, staticSteps], 2), [B, 1, T, F + S]) as tf.Tensor4D;
    const y = tf.randomNormal([B, T, 3], 0, 1, "float32", seed + 2) as tf.Tensor3D;
    const lossDays = tf.concat([tf.zeros([B, T - LAST, 3]), tf.ones([B, LAST, 3])], 1);
    const qc = tf.randomUniform([B, T], 0, 1, "float32", seed + 3) as tf.Tensor2D;
    const weight = tf.randomUniform([B], 0, 1, "float32", seed + 4) as tf.Tensor1D;
    return {
      xDyn,
      xStatic,
      support,
      y,
      mask: lossDays as tf.Tensor3D,
      qc,
      weight,
      meta: { site: new Array(B).fill("BENCH"), start: new Array(B).fill("2000-01-01") },
    };
  });
}

function disposeSynthetic(batch: Batch): void {
  tf.dispose([
    batch.xDyn,
    batch.xStatic,
    batch.support,
    batch.y,
    batch.mask,
    batch.qc,
    batch.weight,
  ]);
}

/**
 * Time `steps` steps after `warmup` untimed ones (a fresh model each call); returns each step's
 * time in ms.
 *
 * @example
 * ```ts ignore
 * import { timeSteps } from "./step_bench.ts";
 * const times = await timeSteps({ case: "tamrl", impl: "fused", steps: 20 });
 * ```
 */
export async function timeSteps(options: BenchOptions): Promise<number[]> {
  const o = BenchOptionsSchema.parse(options);
  await useBackend(o.backend);
  const { F, S, H, Z } = BENCH_SHAPES;
  const name = o.case === "lstm" ? "lstm" : "tamrl";
  const config = parseModelConfig({ name, hidden: H, latent: Z, lstmImpl: o.impl });
  const model: FluxModel = buildModel(config, { nDyn: F, nStatic: S }, { seed: o.seed });
  const batch = syntheticBatch(o.seed + 100);
  const loss: LossOptions = {
    targetScale: { mean: [0, 0, 0], std: [1, 1, 1] },
    alpha: 0.1,
    useQc: true,
    useClassWeights: true,
    useBalance: true,
  };
  const optimizer = new Adam(model.variables, { lr: 1e-3 });
  const run = (i: number): void => {
    if (o.case === "predict") {
      // Prediction: forward only, no tape; read the values back like a caller would.
      const pred = model.apply({
        xDyn: batch.xDyn,
        xStatic: batch.xStatic,
        support: batch.support,
      });
      pred.dataSync();
      pred.dispose();
    } else {
      const { sums } = trainStep(model, optimizer, batch, { loss, epoch: 0, seed: o.seed + i });
      tf.dispose(Object.values(sums));
    }
  };
  const times: number[] = [];
  try {
    for (let i = 0; i < o.warmup; i++) run(i);
    for (let i = 0; i < o.steps; i++) {
      const t0 = performance.now();
      run(o.warmup + i);
      times.push(performance.now() - t0);
    }
  } finally {
    optimizer.dispose();
    model.dispose();
    disposeSynthetic(batch);
  }
  return times;
}

/**
 * Summarise step times (in ms) as the reference's JSON line: median and minimum.
 *
 * @example
 * ```ts ignore
 * import { summarizeSteps, timeSteps } from "./step_bench.ts";
 * const options = { case: "tamrl", impl: "fused", steps: 20 } as const;
 * console.log(JSON.stringify(summarizeSteps(await timeSteps(options), options)));
 * ```
 */
export function summarizeSteps(times: number[], options: BenchOptions): BenchResult {
  const o = BenchOptionsSchema.parse(options);
  const { B, T, F, S, H, Z } = BENCH_SHAPES;
  const backend = o.backend;
  return {
    bench: o.case === "predict" ? "tamrl_predict" : `${o.case}_step`,
    impl: `tfjs-${tf.version.tfjs}-${backend}-${o.impl}`,
    lstm_kernels: o.impl === "fused" ? fusedLstmKernels() : "tfjs-ops",
    threads: 1,
    ms_per_step: round2(median(times)),
    min_ms: round2(Math.min(...times)),
    steps: times.length,
    B,
    T,
    F,
    S,
    H,
    Z,
  };
}

/**
 * Time `steps` steps after `warmup` untimed ones; returns the median and the minimum in ms.
 *
 * @example
 * ```ts ignore
 * import { benchStep } from "./step_bench.ts";
 * const result = await benchStep({ case: "tamrl", impl: "fused", steps: 20 });
 * console.log(JSON.stringify(result));
 * ```
 */
export async function benchStep(options: BenchOptions): Promise<BenchResult> {
  return summarizeSteps(await timeSteps(options), options);
}
