/**
 * Test stand-in: a small synthetic `BatchSource` with a learnable signal, so the lib/train tests
 * run in seconds without the real data (the models are the real ones from lib/models).
 */
import * as tf from "@tensorflow/tfjs";
import { mulberry32 } from "../lib/data/random.ts";
import type { Batch, BatchSource, TargetScale } from "../lib/train/contracts.ts";

/** Options of {@link fakeSource}. */
export interface FakeSourceOptions {
  sites?: number;
  windowsPerSite?: number;
  window?: number;
  nDyn?: number;
  nStatic?: number;
  supportK?: number;
  /** Loss on the last `lossDays` days. */
  lossDays?: number;
  /** Share of target entries missing. */
  missing?: number;
  seed?: number;
  /** Shift the driver series in time (other windows of the same sites with the same seed). */
  timeOffset?: number;
  /** Multiply the targets by this (-1 gives a source on which a model trained on +1 gets worse). */
  targetSign?: number;
  targetScale?: TargetScale;
}

/** A synthetic source: targets are a fixed smooth function of the drivers plus noise. */
export function fakeSource(options: FakeSourceOptions = {}): BatchSource & { lossDays: number } {
  const sites = options.sites ?? 4;
  const perSite = options.windowsPerSite ?? 6;
  const T = options.window ?? 8;
  const F = options.nDyn ?? 3;
  const S = options.nStatic ?? 2;
  const K = options.supportK ?? 2;
  const lossDays = options.lossDays ?? 4;
  const missing = options.missing ?? 0.1;
  const rng = mulberry32(options.seed ?? 1);
  const n = sites * perSite;
  const xDyn = new Float32Array(n * T * F);
  const xStatic = new Float32Array(n * S);
  const support = new Float32Array(n * K * T * (F + S));
  const y = new Float32Array(n * T * 3);
  const mask = new Float32Array(n * T * 3);
  const qc = new Float32Array(n * T);
  const weight = new Float32Array(n);
  const site: string[] = [];
  const start: string[] = [];
  const siteStatic = Array.from(
    { length: sites },
    () => Array.from({ length: S }, () => rng() * 2 - 1),
  );
  for (let w = 0; w < n; w++) {
    const s = Math.floor(w / perSite);
    site.push(`S${s}`);
    start.push(
      new Date(Date.UTC(2010, 0, 1 + (w % perSite) * lossDays)).toISOString().slice(0, 10),
    );
    weight[w] = s % 2 === 0 ? 0.5 : 1.5;
    for (let j = 0; j < S; j++) xStatic[w * S + j] = siteStatic[s][j];
    for (let t = 0; t < T; t++) {
      let sum = 0;
      for (let f = 0; f < F; f++) {
        const v = Math.sin(0.3 * (t + w + (options.timeOffset ?? 0)) + f) + 0.2 * (rng() - 0.5);
        xDyn[(w * T + t) * F + f] = v;
        sum += v * (f + 1) * 0.3;
      }
      const st = siteStatic[s][0];
      qc[w * T + t] = rng() < 0.2 ? 0.5 : 1;
      const sign = options.targetSign ?? 1;
      const vals = [Math.tanh(sum + st), Math.tanh(0.5 * sum - st), Math.tanh(-sum)].map((v) =>
        sign * v
      );
      for (let k = 0; k < 3; k++) {
        const i = (w * T + t) * 3 + k;
        const inLoss = t >= T - lossDays;
        const present = rng() >= missing;
        y[i] = present ? vals[k] : 0;
        mask[i] = inLoss && present ? 1 : 0;
      }
    }
    for (let k = 0; k < K; k++) {
      for (let t = 0; t < T; t++) {
        for (let f = 0; f < F + S; f++) {
          support[((w * K + k) * T + t) * (F + S) + f] = f < F
            ? Math.sin(0.3 * (t + k * 7) + f)
            : siteStatic[s][f - F];
        }
      }
    }
  }
  const targetScale = options.targetScale ??
    { mean: [3, 4, 1], std: [2, 1.5, 1] } as TargetScale;
  return {
    windows: n,
    lossDays,
    dims: { nDyn: F, nStatic: S, window: T, supportK: K },
    targetScale,
    *batches({ batchSize, shuffle, seed }): Generator<Batch> {
      const order = Array.from({ length: n }, (_, i) => i);
      if (shuffle) {
        const r = mulberry32(seed);
        for (let i = n - 1; i > 0; i--) {
          const j = Math.floor(r() * (i + 1));
          [order[i], order[j]] = [order[j], order[i]];
        }
      }
      for (let b0 = 0; b0 < n; b0 += batchSize) {
        const idx = order.slice(b0, b0 + batchSize);
        const B = idx.length;
        const pick = (src: Float32Array, size: number) => {
          const out = new Float32Array(B * size);
          idx.forEach((w, i) => out.set(src.subarray(w * size, (w + 1) * size), i * size));
          return out;
        };
        yield {
          xDyn: tf.tensor3d(pick(xDyn, T * F), [B, T, F]),
          xStatic: tf.tensor2d(pick(xStatic, S), [B, S]),
          support: tf.tensor4d(pick(support, K * T * (F + S)), [B, K, T, F + S]),
          y: tf.tensor3d(pick(y, T * 3), [B, T, 3]),
          mask: tf.tensor3d(pick(mask, T * 3), [B, T, 3]),
          qc: tf.tensor2d(pick(qc, T), [B, T]),
          weight: tf.tensor1d(pick(weight, 1)),
          meta: { site: idx.map((w) => site[w]), start: idx.map((w) => start[w]) },
        };
      }
    },
  };
}
