/**
 * Out-of-distribution warning: how far a site predicted is from the sites the run was trained on,
 * in the standardized static descriptors and (TAM-RL) in the task embedding z.
 *
 * Per site: the Euclidean distance to the nearest training site in each space, the 3 nearest
 * training sites in static descriptors, and `ood` = true when either distance exceeds its
 * threshold. The training sites, their vectors and the thresholds (the 95th percentile of the
 * training sites' leave-one-out nearest-neighbour distances) come from each member's
 * `reference_sites.json` (lib/train/reference.ts, written when training completes).
 *
 * - Static space: the site's static vector as the model sees it (lib/data `encodeStatic` with the
 *   run's static encoding, standardized with its scaler: {@link siteInputs}' `statics`). Members of
 *   a group share split and scaler, so their static references are the same; the first member's
 *   file is used.
 * - z space: each member has its own encoder, so z of different seeds are not comparable: per
 *   member, the site's mean z over the windows of its support pool (the windows its support sets
 *   are drawn from) against that member's training sites. The ensemble's z distance is the mean of
 *   the members' nearest distances, its threshold the mean of the members' thresholds, and the
 *   site is out of distribution in z when the mean distance exceeds the mean threshold (one rule
 *   for the column and the flag; a majority vote would give a flag that no column shows).
 * - A run from before reference_sites.json: the static reference is rebuilt from split.json's
 *   training sites that are in the site table given to predict (`--sites`), its threshold computed
 *   the same way; the z distance is empty, and one warning names the missing file and says to
 *   retrain (`deno task train`, or the reproduce units) to get it. Also empty: z of a model without
 *   a task encoder, and z with weights other than `best` (the reference's z are of `best`).
 * - A threshold is null with fewer than two training sites; a space without a distance or a
 *   threshold is not tested, and `ood` is null when no space is.
 *
 * @module
 */
import {
  assessStatic,
  euclidean,
  NEAREST_COUNT,
  oodThreshold,
  REFERENCE_FILE,
  referenceStaticVector,
  siteMeanZ,
} from "../train/reference.ts";
import type { LoadedEnsemble } from "./ensemble.ts";
import type { PredictionSite } from "./inputs.ts";
import type { SiteInputs } from "./predict.ts";

/** Training sites named per predicted site (nearest first; lib/train/reference.ts). */
export { NEAREST_COUNT };

/** Reference points of one space. */
interface Space {
  points: { site: string; v: readonly number[] }[];
  threshold: number | null;
}

/** The reference of one group of members, prepared once ({@link prepareOodReference}). */
export interface OodReference {
  /** Static space (null: no static feature, or no training site known). */
  static: (Space & { source: "file" | "site table" }) | null;
  /** z space, one entry per member with a z reference (index into the group's models). */
  z: (Space & { member: number })[];
  /** What could not be used and why (said once by predict). */
  warnings: string[];
}

/** The out-of-distribution assessment of one site. */
export interface SiteOod {
  /** True when a tested distance exceeds its threshold; null when no space could be tested. */
  ood: boolean | null;
  /** Distance to the nearest training site in z (mean over members; null: not computed). */
  zDistance: number | null;
  /** The z threshold (mean over members' thresholds). */
  zThreshold: number | null;
  /** Distance to the nearest training site in standardized static descriptors. */
  staticDistance: number | null;
  staticThreshold: number | null;
  /** The {@link NEAREST_COUNT} nearest training sites in static descriptors, nearest first. */
  nearestStatic: string[];
  /** The nearest training sites in z (by the members' mean distance), nearest first. */
  nearestZ: string[];
  /** Members whose z was compared. */
  zMembers: number;
  /** Where the static reference came from. */
  staticReference: "file" | "site table" | "none";
}

/** The static vector of a site as the group's model sees it. */
function staticVector(
  ens: Pick<LoadedEnsemble, "info" | "scaler" | "statics">,
  site: PredictionSite,
): Float32Array {
  return referenceStaticVector(site, {
    encoding: ens.statics.encoding,
    scaler: ens.scaler,
    names: ens.info.featureNames.static,
  });
}

/**
 * The reference of a group (see the module doc): the static points and threshold from the first
 * member's reference_sites.json, else rebuilt from split.json's training sites found in `sites`;
 * the z points of every member with a file and a task encoder.
 *
 * @example
 * ```ts ignore
 * const ref = prepareOodReference(ens, { sites: await loadPredictionSites("sites.csv") });
 * for (const w of ref.warnings) console.error(`predict: WARNING: ${w}`);
 * ```
 */
export function prepareOodReference(
  ens: Pick<
    LoadedEnsemble,
    "dirs" | "models" | "info" | "scaler" | "statics" | "split" | "references" | "weights"
  >,
  options: { sites: readonly PredictionSite[] },
): OodReference {
  const warnings: string[] = [];
  const staticNames = ens.info.featureNames.static;
  const sameStatics = (names: readonly string[]) =>
    names.length === staticNames.length && names.every((n, i) => n === staticNames[i]);
  const missing = ens.dirs.filter((_, m) => ens.references[m] === null);
  if (missing.length > 0) {
    warnings.push(
      `no ${REFERENCE_FILE} in ${missing.join(", ")} (a run from before the file existed): the ` +
        `out-of-distribution distance in z is empty${
          missing.length < ens.dirs.length ? " for these members" : ""
        }; retrain the run (deno task train, or the reproduce units) to write it`,
    );
  }
  let staticSpace: OodReference["static"] = null;
  const file = ens.references.find((r) => r !== null && sameStatics(r.staticFeatures));
  if (staticNames.length > 0 && file) {
    staticSpace = {
      points: file.sites.map((s) => ({ site: s.site, v: s.static })),
      threshold: file.thresholds.static,
      source: "file",
    };
  } else if (staticNames.length > 0) {
    const train = new Set(ens.split.train);
    const points = options.sites.filter((s) => train.has(s.SITE_ID))
      .map((s) => ({ site: s.SITE_ID, v: Array.from(staticVector(ens, s)) }));
    if (points.length > 0) {
      staticSpace = {
        points,
        threshold: oodThreshold(points.map((p) => p.v)),
        source: "site table",
      };
      if (points.length < train.size) {
        warnings.push(
          `static out-of-distribution reference rebuilt from ${points.length} of the run's ` +
            `${train.size} training sites (the others are not in the --sites table)`,
        );
      }
    } else {
      warnings.push(
        `no static out-of-distribution reference: no ${REFERENCE_FILE} and none of the run's ` +
          `training sites (split.json) is in the --sites table`,
      );
    }
  }
  const z: OodReference["z"] = [];
  if (ens.weights !== "best") {
    if (ens.references.some((r) => r?.zDim)) {
      warnings.push(
        `weights "${ens.weights}": the z of ${REFERENCE_FILE} are of the best weights, so the ` +
          `out-of-distribution distance in z is left empty`,
      );
    }
  } else {
    ens.references.forEach((r, m) => {
      if (!r || r.zDim === null || !ens.models[m].embed) return;
      const points = r.sites.filter((s) => s.z !== null).map((s) => ({ site: s.site, v: s.z! }));
      z.push({ member: m, points, threshold: r.thresholds.z });
    });
  }
  return { static: staticSpace, z, warnings };
}

function mean(xs: readonly number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/**
 * Assess one site against a group's reference: distances to the nearest training site in static
 * descriptors and (with `inputs`, the site's model inputs) in z, its nearest training sites, and
 * the flag.
 *
 * @example
 * ```ts ignore
 * const ood = assessSite(ref, ens, { site, inputs });
 * if (ood.ood) console.error(oodWarning(site.SITE_ID, ood));
 * ```
 */
export function assessSite(
  reference: OodReference,
  ens: Pick<LoadedEnsemble, "models" | "info" | "scaler" | "statics" | "data">,
  input: { site: PredictionSite; inputs?: Pick<SiteInputs, "series" | "statics" | "pool"> },
): SiteOod {
  let staticDistance: number | null = null;
  let nearestStatic: string[] = [];
  if (reference.static) {
    const v = input.inputs?.statics ?? staticVector(ens, input.site);
    const near = assessStatic(v, reference.static, NEAREST_COUNT);
    staticDistance = near.distance;
    nearestStatic = near.nearest.map((n) => n.site);
  }
  const zNearest: number[] = [];
  const zThresholds: number[] = [];
  const bySite = new Map<string, number[]>();
  if (input.inputs) {
    for (const space of reference.z) {
      const z = siteMeanZ(ens.models[space.member], input.inputs, { window: ens.data.window });
      if (!z || space.points.length === 0) continue;
      let best = Infinity;
      for (const p of space.points) {
        const d = euclidean(z, p.v);
        best = Math.min(best, d);
        bySite.set(p.site, [...bySite.get(p.site) ?? [], d]);
      }
      zNearest.push(best);
      if (space.threshold !== null) zThresholds.push(space.threshold);
    }
  }
  const zDistance = mean(zNearest);
  const zThreshold = zThresholds.length === zNearest.length ? mean(zThresholds) : null;
  const nearestZ = [...bySite].map(([site, ds]) => ({ site, d: mean(ds)! }))
    .sort((a, b) => a.d - b.d || a.site.localeCompare(b.site))
    .slice(0, NEAREST_COUNT).map((x) => x.site);
  const staticThreshold = reference.static?.threshold ?? null;
  const tests: boolean[] = [];
  if (staticDistance !== null && staticThreshold !== null) {
    tests.push(staticDistance > staticThreshold);
  }
  if (zDistance !== null && zThreshold !== null) tests.push(zDistance > zThreshold);
  return {
    ood: tests.length ? tests.some(Boolean) : null,
    zDistance,
    zThreshold,
    staticDistance,
    staticThreshold,
    nearestStatic,
    nearestZ,
    zMembers: zNearest.length,
    staticReference: reference.static?.source ?? "none",
  };
}

const fmt = (x: number | null) => (x === null ? "-" : x.toFixed(3));

/**
 * A short summary of a site's assessment for predict's per-site line.
 *
 * @example
 * ```ts ignore
 * console.error(`${line}; ${oodSummary(ood)}`);
 * ```
 */
export function oodSummary(ood: SiteOod): string {
  const flag = ood.ood === null
    ? "not tested"
    : ood.ood
    ? "OUT OF DISTRIBUTION"
    : "in distribution";
  return `${flag} (nearest training site: static ${fmt(ood.staticDistance)}/` +
    `${fmt(ood.staticThreshold)}, z ${fmt(ood.zDistance)}/${fmt(ood.zThreshold)}; ` +
    `${ood.nearestStatic.join(", ") || "-"})`;
}

/**
 * The warning line of a site flagged out of distribution (null when it is not flagged): which
 * distance exceeds which threshold, and the nearest training sites.
 *
 * @example
 * ```ts
 * import { oodWarning } from "./ood.ts";
 * console.log(oodWarning("XX-New", {
 *   ood: true, zDistance: null, zThreshold: null, staticDistance: 9, staticThreshold: 3,
 *   nearestStatic: ["AU-Lox"], nearestZ: [], zMembers: 0, staticReference: "file",
 * }));
 * ```
 */
export function oodWarning(site: string, ood: SiteOod): string | null {
  if (!ood.ood) return null;
  const parts: string[] = [];
  if (ood.staticDistance !== null && ood.staticThreshold !== null) {
    if (ood.staticDistance > ood.staticThreshold) {
      parts.push(
        `static descriptors ${fmt(ood.staticDistance)} from the nearest training site ` +
          `(${ood.nearestStatic[0]}) > threshold ${fmt(ood.staticThreshold)}`,
      );
    }
  }
  if (ood.zDistance !== null && ood.zThreshold !== null && ood.zDistance > ood.zThreshold) {
    parts.push(
      `task embedding z ${fmt(ood.zDistance)} from the nearest training site ` +
        `(${ood.nearestZ[0]}) > threshold ${fmt(ood.zThreshold)}`,
    );
  }
  return `WARNING: site ${site} is unlike every training site (out of distribution): ` +
    `${parts.join("; ")}; nearest training sites ${ood.nearestStatic.join(", ") || "-"}. ` +
    `Its predictions are an extrapolation (threshold: the 95th percentile of the training sites' ` +
    `distances to their nearest other training site)`;
}
