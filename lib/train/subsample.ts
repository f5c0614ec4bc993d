/**
 * A cap on the windows a source yields per pass, for quick runs (notebooks in CI): each pass takes
 * the first `max` windows of a shuffled order. A shuffled pass (training) uses the caller's seed,
 * so every epoch sees another random subset; an unshuffled pass (validation, prediction) uses a
 * fixed seed, so it always sees the same subset.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type Batch, type BatchSource, disposeBatch } from "./contracts.ts";

/** Options of {@link capWindows}. */
export interface CapOptions {
  /** Windows per pass at most. */
  max: number;
  /** Seed of the fixed subset of unshuffled passes (default 0). */
  seed?: number;
}

/**
 * A source that yields at most `options.max` windows of `source` per pass (the source itself
 * when it has no more than that).
 *
 * @example
 * ```ts ignore
 * import { capWindows } from "./subsample.ts";
 * const quick = capWindows(dataset.train, { max: 1024 });
 * console.log(quick.windows); // <= 1024
 * ```
 */
export function capWindows(source: BatchSource, options: CapOptions): BatchSource {
  const max = options.max;
  if (!Number.isInteger(max) || max < 1) {
    throw new Error(`capWindows: max must be a positive integer, got ${max}`);
  }
  if (source.windows <= max) return source;
  const fixedSeed = options.seed ?? 0;
  return {
    windows: max,
    dims: source.dims,
    targetScale: source.targetScale,
    *batches(pass: { batchSize: number; shuffle: boolean; seed: number }): Generator<Batch> {
      let left = max;
      const inner = source.batches({
        batchSize: pass.batchSize,
        shuffle: true,
        seed: pass.shuffle ? pass.seed : fixedSeed,
      });
      for (const batch of inner) {
        const n = batch.xDyn.shape[0];
        if (n <= left) {
          left -= n;
          yield batch;
        } else {
          const head = sliceBatch(batch, left);
          disposeBatch(batch);
          left = 0;
          yield head;
        }
        if (left <= 0) break;
      }
    },
  };
}

/** The first `n` windows of a batch (new tensors; the caller disposes both). */
function sliceBatch(batch: Batch, n: number): Batch {
  const first = <T extends tf.Tensor>(t: T): T =>
    tf.slice(t, [0, ...t.shape.slice(1).map(() => 0)], [n, ...t.shape.slice(1)]);
  return {
    xDyn: first(batch.xDyn),
    xStatic: first(batch.xStatic),
    support: first(batch.support),
    y: first(batch.y),
    mask: first(batch.mask),
    qc: first(batch.qc),
    weight: first(batch.weight),
    meta: { site: batch.meta.site.slice(0, n), start: batch.meta.start.slice(0, n) },
  };
}
