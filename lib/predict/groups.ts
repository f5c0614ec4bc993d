/**
 * An ensemble folder whose members use different feature sets (e.g. `runs/production/tamrl` with
 * `seed0..2` on the "minimal" set, MODIS LAI/EVI included, and `meteo_seed0..2` on "meteo"): the
 * members are grouped by the feature set their config.json names, and each group is loaded as one
 * {@link LoadedEnsemble} (members of a group must be seeds of one config). Groups that use MODIS
 * come first, and among groups of equal MODIS use those with the water drivers (`*_water`, which
 * need the site's monthly precipitation): a site with MODIS is predicted by them, a site without by
 * a group that needs no MODIS, a site without precipitation by a group without the water drivers
 * (lib/predict/predict.ts).
 *
 * @module
 */
import { z } from "zod";
import { FeatureSetSchema, needsWater } from "../data/features.ts";
import { MODIS_VARIABLES, type ModisVariable } from "../data/modis.ts";
import { readJson, runPaths } from "../train/runs.ts";
import {
  ensembleMembers,
  type LoadedEnsemble,
  loadEnsemble,
  type LoadEnsembleOptions,
} from "./ensemble.ts";

/** The members of an ensemble, grouped by feature set (MODIS groups first). */
export interface EnsembleGroups {
  groups: LoadedEnsemble[];
  /** Every member run folder, in the order of the groups. */
  dirs: string[];
  /** Dispose every member of every group. */
  dispose(): void;
}

const MemberConfigSchema = z.object({
  data: z.object({ featureSet: FeatureSetSchema.default("minimal") }),
});

/**
 * The MODIS variables a loaded ensemble reads (empty for a meteo-only ensemble).
 *
 * @example
 * ```ts ignore
 * if (modisVariables(ens).length === 0) console.log("meteo-only");
 * ```
 */
export function modisVariables(ens: Pick<LoadedEnsemble, "info">): ModisVariable[] {
  return MODIS_VARIABLES.filter((v) => ens.info.featureNames.dyn.includes(v));
}

/**
 * Whether a value is an {@link EnsembleGroups} (rather than one loaded ensemble).
 *
 * @example
 * ```ts ignore
 * const groups = isEnsembleGroups(run) ? run.groups : [run];
 * ```
 */
export function isEnsembleGroups(value: unknown): value is EnsembleGroups {
  return typeof value === "object" && value !== null && Array.isArray(
    (value as EnsembleGroups).groups,
  );
}

/**
 * Load a run or ensemble folder (or a list of run folders) as groups of members with one feature
 * set each, groups that use MODIS first.
 *
 * @example
 * ```ts ignore
 * import { loadEnsembleGroups } from "./groups.ts";
 * const ens = await loadEnsembleGroups("runs/production/tamrl");
 * console.log(ens.groups.map((g) => `${g.data.featureSet}: ${g.dirs.length}`));
 * ens.dispose();
 * ```
 */
export async function loadEnsembleGroups(
  run: string | readonly string[],
  options: LoadEnsembleOptions = {},
): Promise<EnsembleGroups> {
  const dirs = await ensembleMembers(run);
  const bySet = new Map<string, string[]>();
  for (const dir of dirs) {
    const path = runPaths(dir).config;
    const parsed = MemberConfigSchema.safeParse(await readJson(path));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`${path}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
    }
    const set = parsed.data.data.featureSet;
    bySet.set(set, [...(bySet.get(set) ?? []), dir]);
  }
  const groups: LoadedEnsemble[] = [];
  const dispose = () => groups.forEach((g) => g.dispose());
  try {
    for (const members of bySet.values()) groups.push(await loadEnsemble(members, options));
  } catch (error) {
    dispose();
    throw error;
  }
  // MODIS groups first, then (within each) groups with the water drivers (stable otherwise)
  const rank = (g: LoadedEnsemble) =>
    2 * Number(modisVariables(g).length === 0) + Number(!needsWater(g.info.featureNames.dyn));
  groups.sort((a, b) => rank(a) - rank(b));
  return { groups, dirs: groups.flatMap((g) => g.dirs), dispose };
}
