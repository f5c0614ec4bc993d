/**
 * The static encoding of a run, rebuilt from what the run folder saved: the static column names
 * (model.json), the scaler (scaler.json) and the training sites (split.json).
 *
 * Column layout, IGBP and Köppen classes and missing flags come from the names alone. The
 * imputation values (median over training sites, see lib/data/static.ts) are not saved by
 * training: they are recomputed from the training data's site table and accepted per column only
 * when the mean of the imputed values over the training sites reproduces the scaler's mean of that
 * column (relative difference below 1e-6). A new site with an empty cell in a column whose fill
 * could not be verified gets an error. A run folder holding `static_encoding.json` (a
 * {@link StaticEncodingSchema}) is used as is. Extra numeric descriptors (the data config's
 * `staticExtra`: CANOPY_HEIGHT, WHC) follow the six base ones in the names and are rebuilt and
 * verified the same way.
 *
 * @module
 */
import type { Scaler } from "../data/scaler.ts";
import { KOPPEN_GROUPS } from "../data/sites.ts";
import {
  fitStaticEncoding,
  numericColumns,
  STATIC_EXTRA,
  type StaticEncoding,
  StaticEncodingSchema,
  type StaticExtra,
  type StaticNumericColumn,
  type StaticSite,
} from "../data/static.ts";

/** A saved static encoding (lib/data/static.ts `StaticEncoding`), re-exported from lib/data. */
export { StaticEncodingSchema };

/** A run's static encoding and which imputation values could be verified. */
export interface RunStaticEncoding {
  encoding: StaticEncoding;
  /** Numeric columns whose fill value is known (saved, or recomputed and verified). */
  verifiedFill: StaticNumericColumn[];
  /** Why the other columns' fill values are not known. */
  unverified: Partial<Record<StaticNumericColumn, string>>;
}

/**
 * The layout of a static vector from its column names (as saved in model.json): numeric columns
 * (the six base ones, then extras), missing flags, IGBP classes and Köppen groups. Throws when the
 * names do not follow the layout of lib/data/static.ts.
 *
 * @example
 * ```ts
 * import { staticLayout } from "./encoding.ts";
 * const l = staticLayout(["LAT", "LON", "ELEV", "MAT", "MAP", "P_OVER_PET", "MAT_MISSING",
 *   "IGBP_ENF", "IGBP_GRA", "KOPPEN_A", "KOPPEN_B", "KOPPEN_C", "KOPPEN_D", "KOPPEN_E"]);
 * console.log(l.igbpClasses, l.flagged); // ["ENF", "GRA"] ["MAT"]
 * ```
 */
export function staticLayout(
  names: readonly string[],
): {
  numeric: StaticNumericColumn[];
  flagged: StaticNumericColumn[];
  igbpClasses: string[];
  koppenClasses: string[];
} {
  const flagged = names.filter((n) => n.endsWith("_MISSING")).map((n) =>
    n.slice(0, -"_MISSING".length)
  );
  const igbpClasses = names.filter((n) => n.startsWith("IGBP_")).map((n) => n.slice(5));
  const koppenClasses = names.filter((n) => n.startsWith("KOPPEN_")).map((n) => n.slice(7));
  const extra = STATIC_EXTRA.filter((c) => names.includes(c));
  const numeric = numericColumns(extra);
  const expected = [
    ...numeric,
    ...flagged.map((c) => `${c}_MISSING`),
    ...igbpClasses.map((c) => `IGBP_${c}`),
    ...koppenClasses.map((c) => `KOPPEN_${c}`),
  ];
  const bad = flagged.find((c) => !(numeric as readonly string[]).includes(c));
  if (
    bad !== undefined || expected.join(",") !== names.join(",") ||
    koppenClasses.join(",") !== KOPPEN_GROUPS.join(",")
  ) {
    throw new Error(
      `the run's static columns do not follow the layout of lib/data/static.ts ` +
        `(${names.join(", ")})`,
    );
  }
  return { numeric, flagged: flagged as StaticNumericColumn[], igbpClasses, koppenClasses };
}

/**
 * Rebuild a run's static encoding (see the module doc). `trainingSites` is the site table the run
 * was trained with (may be null when unavailable: then no fill value is known).
 *
 * @example
 * ```ts ignore
 * const { encoding, verifiedFill } = rebuildStaticEncoding(info.featureNames.static, {
 *   scaler, trainSites: split.train, trainingSites: await loadSites(paths.sitesCsv),
 * });
 * ```
 */
export function rebuildStaticEncoding(
  names: readonly string[],
  options: {
    scaler: Scaler;
    trainSites: readonly string[];
    trainingSites: readonly StaticSite[] | null;
    saved?: unknown;
  },
): RunStaticEncoding {
  const layout = staticLayout(names);
  if (options.saved !== undefined) {
    const parsed = StaticEncodingSchema.parse(options.saved) as StaticEncoding;
    if (parsed.names.join(",") !== names.join(",")) {
      throw new Error("static_encoding.json: its names differ from model.json's static features");
    }
    return { encoding: parsed, verifiedFill: layout.numeric, unverified: {} };
  }
  const { numeric } = layout;
  const fill: Partial<Record<StaticNumericColumn, number>> = Object.fromEntries(
    numeric.map((c) => [c, NaN]),
  );
  const verifiedFill: StaticNumericColumn[] = [];
  const unverified: Partial<Record<StaticNumericColumn, string>> = {};
  const train = new Set(options.trainSites);
  const rows = (options.trainingSites ?? []).filter((s) => train.has(s.SITE_ID));
  if (options.trainingSites === null) {
    for (const c of numeric) unverified[c] = "the training site table is not available";
  } else if (rows.length !== train.size) {
    for (const c of numeric) {
      unverified[c] = `the training site table has ${rows.length} of the run's ${train.size} ` +
        `training sites`;
    }
  } else {
    const refit = fitStaticEncoding(rows, [...train], {
      igbpClasses: layout.igbpClasses,
      extra: numeric.filter((c): c is StaticExtra =>
        (STATIC_EXTRA as readonly string[]).includes(c)
      ),
    });
    for (const c of numeric) {
      const col = options.scaler.columns.find((x) => x.name === c);
      if (!col) {
        unverified[c] = `the scaler has no column ${c}`;
        continue;
      }
      let sum = 0;
      for (const s of rows) sum += s[c] ?? refit.fill[c]!;
      const mean = sum / rows.length;
      const rel = Math.abs(mean - col.mean) / Math.max(1e-9, Math.abs(col.mean));
      if (rel < 1e-6) {
        fill[c] = refit.fill[c];
        verifiedFill.push(c);
      } else {
        unverified[c] = `recomputed imputation does not reproduce the scaler (mean ` +
          `${mean} vs ${col.mean})`;
      }
    }
  }
  const encoding: StaticEncoding = {
    names: [...names],
    numeric: [...numeric],
    igbpClasses: layout.igbpClasses,
    koppenClasses: layout.koppenClasses,
    flagged: layout.flagged,
    fill,
    fittedOn: [...options.trainSites].sort(),
    noTrainValue: [],
  };
  return { encoding, verifiedFill, unverified };
}
