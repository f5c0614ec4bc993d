/**
 * The training sites a run can be compared with: `reference_sites.json` of a run folder, written
 * at the end of training, read by `deno task predict` for its out-of-distribution warning
 * (lib/predict/ood.ts).
 *
 * For every TRAINING site (split.json `train`; validation and test sites are not in it) the file
 * holds its standardized static vector (as the model sees it: lib/data `encodeStatic`, then the
 * run's scaler) and, for models with a task encoder (TAM-RL), its mean z over the windows of its
 * support pool (the windows its support sets were drawn from in training), computed with the final
 * model's best weights (`weights/best.bin`). For each space (z, static) it holds a threshold: the
 * {@link OOD_PERCENTILE}th percentile ({@link percentile}: linear interpolation between order
 * statistics, numpy's default) of the training sites' leave-one-out nearest-neighbour Euclidean
 * distances ({@link looNearestDistances}); null with fewer than two sites. A new site farther than
 * the threshold from every training site is farther from the training set than 95 % of the
 * training sites are from each other.
 *
 * The distance math is here, not in lib/predict, because training writes the thresholds and
 * lib/train may not import lib/predict; predict's warning (lib/predict/ood.ts) and the CV's
 * per-site bias table (lib/experiments/cv_bias.ts) both use it: a site's static vector as the
 * run's model sees it ({@link referenceStaticVector}) and its nearest training sites against the
 * static threshold ({@link assessStatic}). The file is written atomically and records the SHA-256 of
 * its canonical JSON (without the `sha256` field), checked on load.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { z } from "zod";
import { sha256Hex } from "../data/checksum.ts";
import { standardizeStatic } from "../data/preprocess.ts";
import { loadScaler, type Scaler } from "../data/scaler.ts";
import {
  encodeStatic,
  type StaticEncoding,
  StaticEncodingSchema,
  type StaticSite,
} from "../data/static.ts";
import type { SiteSeries, WindowRef } from "../data/windows.ts";
import type { FluxModel } from "../models/types.ts";
import { canonicalJson, exists, readJson, writeJson } from "./runs.ts";

/** The file name of the reference in a run folder. */
export const REFERENCE_FILE = "reference_sites.json";
/** The percentile of the leave-one-out nearest-neighbour distances that is the threshold. */
export const OOD_PERCENTILE = 95;
/** Training sites named per assessed site (nearest first). */
export const NEAREST_COUNT = 3;

const vector = z.array(z.number());

/** One training site of {@link ReferenceSitesSchema}. */
export const ReferenceSiteSchema = z.object({
  site: z.string(),
  /** Standardized static vector, in `staticFeatures` order. */
  static: vector,
  /** Mean z over the site's support pool windows (null: no task encoder, or no window). */
  z: vector.nullable(),
  /** Windows the mean z is over. */
  windows: z.number().int().nonnegative(),
}).strict();

/** reference_sites.json. */
export const ReferenceSitesSchema = z.object({
  version: z.literal(1),
  /** The weights the z come from. */
  weights: z.literal("best"),
  percentile: z.number().min(0).max(100),
  staticFeatures: z.array(z.string()),
  /** Length of z (null: the model has no task encoder). */
  zDim: z.number().int().positive().nullable(),
  sites: z.array(ReferenceSiteSchema),
  /** The percentile of the leave-one-out nearest-neighbour distances (null: < 2 sites). */
  thresholds: z.object({ static: z.number().nullable(), z: z.number().nullable() }).strict(),
  /** SHA-256 of the canonical JSON of the other fields. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
}).strict();
/** The contents of reference_sites.json. */
export type ReferenceSites = z.output<typeof ReferenceSitesSchema>;

/**
 * Euclidean distance of two vectors of the same length.
 *
 * @example
 * ```ts
 * import { euclidean } from "./reference.ts";
 * console.log(euclidean([0, 0], [3, 4])); // 5
 * ```
 */
export function euclidean(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`euclidean: lengths ${a.length} and ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

/**
 * The `k` points nearest to `query` (ties by name), with their distances.
 *
 * @example
 * ```ts
 * import { nearestPoints } from "./reference.ts";
 * const near = nearestPoints([1, 0], [{ site: "A", v: [0, 0] }, { site: "B", v: [5, 0] }], 1);
 * console.log(near); // [{ site: "A", distance: 1 }]
 * ```
 */
export function nearestPoints(
  query: ArrayLike<number>,
  points: readonly { site: string; v: ArrayLike<number> }[],
  k: number,
): { site: string; distance: number }[] {
  return points.map((p) => ({ site: p.site, distance: euclidean(query, p.v) }))
    .sort((a, b) => a.distance - b.distance || a.site.localeCompare(b.site))
    .slice(0, k);
}

/**
 * A site's static vector as a run's model sees it: lib/data `encodeStatic` with the run's static
 * encoding, standardized with its scaler (`names`: the run's static feature names, default the
 * encoding's). The code `deno task predict` uses for its out-of-distribution distance.
 *
 * @example
 * ```ts ignore
 * const ref = await readStaticReference("results/cv/units/tamrl_cv0of5_s0/run");
 * const v = referenceStaticVector(site, ref!);
 * ```
 */
export function referenceStaticVector(
  site: StaticSite,
  run: { encoding: StaticEncoding; scaler: Scaler; names?: readonly string[] },
): Float32Array {
  return standardizeStatic(
    encodeStatic(site, run.encoding),
    run.names ?? run.encoding.names,
    run.scaler,
  );
}

/** A site against the training sites in one space ({@link assessStatic}). */
export interface SpaceAssessment {
  /** The nearest training sites, nearest first, with their distances. */
  nearest: { site: string; distance: number }[];
  /** Distance to the nearest training site (null: no training site). */
  distance: number | null;
  threshold: number | null;
  /** distance > threshold; null when either is missing. */
  ood: boolean | null;
}

/**
 * A vector against a space's reference points and threshold: its `k` (default
 * {@link NEAREST_COUNT}) nearest points, the distance to the nearest one, and the flag (distance
 * above the threshold, strictly).
 *
 * @example
 * ```ts
 * import { assessStatic } from "./reference.ts";
 * const a = assessStatic([3, 0], { points: [{ site: "A", v: [0, 0] }], threshold: 2 });
 * console.log(a.distance, a.ood); // 3 true
 * ```
 */
export function assessStatic(
  query: ArrayLike<number>,
  space: { points: readonly { site: string; v: ArrayLike<number> }[]; threshold: number | null },
  k: number = NEAREST_COUNT,
): SpaceAssessment {
  const nearest = nearestPoints(query, space.points, k);
  const distance = nearest[0]?.distance ?? null;
  return {
    nearest,
    distance,
    threshold: space.threshold,
    ood: distance !== null && space.threshold !== null ? distance > space.threshold : null,
  };
}

/**
 * For each point, the distance to its nearest OTHER point (leave-one-out); [] for fewer than two.
 *
 * @example
 * ```ts
 * import { looNearestDistances } from "./reference.ts";
 * console.log(looNearestDistances([[0], [1], [5]])); // [1, 1, 4]
 * ```
 */
export function looNearestDistances(points: readonly ArrayLike<number>[]): number[] {
  if (points.length < 2) return [];
  return points.map((p, i) => {
    let best = Infinity;
    for (const [j, q] of points.entries()) if (j !== i) best = Math.min(best, euclidean(p, q));
    return best;
  });
}

/**
 * The `p`th percentile (0-100) of values, linear between order statistics (numpy's default,
 * Hyndman-Fan type 7: rank (n - 1) p / 100 from 0); null for no value.
 *
 * @example
 * ```ts
 * import { percentile } from "./reference.ts";
 * console.log(percentile([1, 2, 3, 4, 5], 95)); // 4.8
 * ```
 */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const rank = (s.length - 1) * p / 100;
  const lo = Math.floor(rank), hi = Math.ceil(rank);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

/**
 * The out-of-distribution threshold of a set of points: the `p`th percentile (default
 * {@link OOD_PERCENTILE}) of their leave-one-out nearest-neighbour distances; null for fewer than
 * two points.
 *
 * @example
 * ```ts
 * import { oodThreshold } from "./reference.ts";
 * console.log(oodThreshold([[0], [1], [5]])); // 3.7 (the 95th percentile of [1, 1, 4])
 * ```
 */
export function oodThreshold(
  points: readonly ArrayLike<number>[],
  p: number = OOD_PERCENTILE,
): number | null {
  return percentile(looNearestDistances(points), p);
}

/**
 * A site's mean task embedding z over windows of its drivers (null when the model has no
 * `embed`, or no window is given). Each window is embedded on its own (support of one window,
 * drivers and the static vector on every step, as the batches build it); the encoder's z of K
 * windows is the mean of their z, so this is the z of the whole pool at once.
 *
 * @example
 * ```ts ignore
 * const input = ds.train.siteInputs("FR-Pue")!;
 * const z = siteMeanZ(model, input, { window: 30 });
 * ```
 */
export function siteMeanZ(
  model: FluxModel,
  input: { series: SiteSeries; statics: Float32Array; pool: readonly WindowRef[] },
  options: { window: number; batchSize?: number },
): number[] | null {
  if (!model.embed || input.pool.length === 0) return null;
  const T = options.window;
  const F = input.series.nDyn;
  const S = input.statics.length;
  const FS = F + S;
  const chunk = options.batchSize ?? 128;
  let sum: Float64Array | null = null;
  for (let w0 = 0; w0 < input.pool.length; w0 += chunk) {
    const part = input.pool.slice(w0, w0 + chunk);
    const values = new Float32Array(part.length * T * FS);
    part.forEach((w, b) => {
      for (let t = 0; t < T; t++) {
        const o = (b * T + t) * FS;
        values.set(input.series.dyn.subarray((w.start + t) * F, (w.start + t + 1) * F), o);
        values.set(input.statics, o + F);
      }
    });
    const zs = tf.tidy(() => {
      const support = tf.tensor4d(values, [part.length, 1, T, FS]);
      return tf.sum(model.embed!(support), 0);
    });
    const v = zs.dataSync();
    zs.dispose();
    sum ??= new Float64Array(v.length);
    for (let j = 0; j < v.length; j++) sum[j] += v[j];
  }
  return Array.from(sum!, (x) => x / input.pool.length);
}

/** What {@link buildReferenceSites} needs of a dataset (lib/data `Dataset` has all of it). */
export interface ReferenceData {
  split: { train: readonly string[] };
  /** The training source: each training site's standardized series, static vector and pool. */
  train: {
    siteInputs(
      site: string,
    ): { series: SiteSeries; statics: Float32Array; pool: readonly WindowRef[] } | undefined;
  };
  featureNames: { static: readonly string[] };
  config: { window: number };
}

function withChecksum(body: Omit<ReferenceSites, "sha256">): ReferenceSites {
  return { ...body, sha256: sha256Hex(canonicalJson(body)) };
}

/**
 * The reference of a trained model: every training site's static vector and mean z (see the
 * module doc), and the thresholds. Training sites the source does not hold are left out.
 *
 * @example
 * ```ts ignore
 * const ref = buildReferenceSites(result.model, ds);
 * console.log(ref.sites.length, ref.thresholds);
 * ```
 */
export function buildReferenceSites(model: FluxModel, data: ReferenceData): ReferenceSites {
  const sites: ReferenceSites["sites"] = [];
  for (const site of [...data.split.train].sort()) {
    const input = data.train.siteInputs(site);
    if (!input) continue;
    const zMean = siteMeanZ(model, input, { window: data.config.window });
    sites.push({
      site,
      static: Array.from(input.statics),
      z: zMean,
      windows: zMean ? input.pool.length : 0,
    });
  }
  const zs = sites.map((s) => s.z).filter((v): v is number[] => v !== null);
  return withChecksum({
    version: 1,
    weights: "best",
    percentile: OOD_PERCENTILE,
    staticFeatures: [...data.featureNames.static],
    zDim: zs[0]?.length ?? null,
    sites,
    thresholds: {
      static: data.featureNames.static.length > 0 ? oodThreshold(sites.map((s) => s.static)) : null,
      z: oodThreshold(zs),
    },
  });
}

/**
 * Write `reference_sites.json` into a run folder (atomically), from the final model (best
 * weights) and the run's dataset. The train task, `trainOrLoad` and the reproduce units call it
 * when training completes.
 *
 * @example
 * ```ts ignore
 * await writeReferenceSites("runs/quick/tamrl/seed0", { model: result.model, data: ds });
 * ```
 */
export async function writeReferenceSites(
  dir: string,
  run: { model: FluxModel; data: ReferenceData },
): Promise<ReferenceSites> {
  const ref = buildReferenceSites(run.model, run.data);
  await writeJson(join(dir, REFERENCE_FILE), ref);
  return ref;
}

/**
 * Read a run folder's `reference_sites.json`: null when the folder has none (a run from before
 * the file existed); an error naming the file when it is malformed or its checksum differs.
 *
 * @example
 * ```ts ignore
 * const ref = await readReferenceSites("runs/quick/tamrl/seed0");
 * if (!ref) console.error("no reference_sites.json: retrain to get the OOD warning in z");
 * ```
 */
export async function readReferenceSites(dir: string): Promise<ReferenceSites | null> {
  const path = join(dir, REFERENCE_FILE);
  if (!await exists(path)) return null;
  const parsed = ReferenceSitesSchema.safeParse(await readJson(path));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const { sha256, ...body } = parsed.data;
  if (sha256Hex(canonicalJson(body)) !== sha256) {
    throw new Error(
      `${path}: checksum mismatch: the SHA-256 of the contents does not match the one recorded ` +
        `in the file (the file is corrupted or was edited)`,
    );
  }
  return parsed.data;
}

/** What it takes to place a site among a run's training sites in static descriptors. */
export interface StaticReference {
  /** The run folder. */
  dir: string;
  reference: ReferenceSites;
  encoding: StaticEncoding;
  scaler: Scaler;
}

/**
 * A run folder's static reference: reference_sites.json ({@link readReferenceSites}),
 * static_encoding.json and scaler.json; null when the run has no reference_sites.json or no
 * static_encoding.json (an older run), an error naming the file when one is malformed or the
 * static feature names of the files differ.
 *
 * @example
 * ```ts ignore
 * const ref = await readStaticReference("results/cv_final/units/tamrl_cv0of5_s0/run");
 * ```
 */
export async function readStaticReference(dir: string): Promise<StaticReference | null> {
  const reference = await readReferenceSites(dir);
  const encodingPath = join(dir, "static_encoding.json");
  if (!reference || !await exists(encodingPath)) return null;
  const parsed = StaticEncodingSchema.safeParse(await readJson(encodingPath));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${encodingPath}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const encoding = parsed.data as StaticEncoding;
  if (encoding.names.join(",") !== reference.staticFeatures.join(",")) {
    throw new Error(
      `${encodingPath}: its names differ from the static features of ${join(dir, REFERENCE_FILE)}`,
    );
  }
  return { dir, reference, encoding, scaler: await loadScaler(join(dir, "scaler.json")) };
}
