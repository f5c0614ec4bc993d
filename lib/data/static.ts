/**
 * Static site descriptors: IGBP one-hot (every class present in the site table), Köppen main
 * group one-hot (A-E), latitude, longitude, elevation, MAT, MAP and P/PET, then the extra numeric
 * descriptors asked for (`extra`, the data config's `staticExtra`: CANOPY_HEIGHT, WHC; none by
 * default), treated like the other numeric descriptors. Missing numeric values
 * are imputed with the median over TRAINING sites only (0 when no training site has a value), and each numeric descriptor that is missing
 * for any site of the table gets a `<NAME>_MISSING` flag (1 = imputed).
 *
 * @module
 */
import { z } from "zod";
import { KOPPEN_GROUPS } from "./sites.ts";

/** The fields of a `Site` (lib/data/sites.ts) that the static descriptors use. */
export interface StaticSite {
  SITE_ID: string;
  IGBP: string;
  KOPPEN_MAIN: string;
  LAT: number | null;
  LON: number | null;
  ELEV: number | null;
  MAT: number | null;
  MAP: number | null;
  P_OVER_PET: number | null;
  /** Only read when asked for as an extra descriptor (absent counts as missing). */
  CANOPY_HEIGHT?: number | null;
  /** Only read when asked for as an extra descriptor (absent counts as missing). */
  WHC?: number | null;
}

/** Numeric static descriptors, in order. */
export const STATIC_NUMERIC = ["LAT", "LON", "ELEV", "MAT", "MAP", "P_OVER_PET"] as const;
/** One of {@link STATIC_NUMERIC}. */
export type StaticNumeric = typeof STATIC_NUMERIC[number];
/** Extra numeric descriptors of sites.csv a data config may add (`staticExtra`), in order. */
export const STATIC_EXTRA = ["CANOPY_HEIGHT", "WHC"] as const;
/** One of {@link STATIC_EXTRA}. */
export type StaticExtra = typeof STATIC_EXTRA[number];
/** A numeric static column: one of {@link STATIC_NUMERIC} or {@link STATIC_EXTRA}. */
export type StaticNumericColumn = StaticNumeric | StaticExtra;

/** How sites are turned into static vectors; fitted on training sites. */
export interface StaticEncoding {
  /** Column names of the static vector, in order. */
  names: string[];
  /**
   * Numeric columns (standardized later), in order: {@link STATIC_NUMERIC}, then the extras; the
   * other columns are 0/1 indicators.
   */
  numeric: string[];
  igbpClasses: string[];
  koppenClasses: string[];
  /** Columns with a missing flag. */
  flagged: StaticNumericColumn[];
  /** Imputation value per numeric column (median over training sites). */
  fill: Partial<Record<StaticNumericColumn, number>>;
  /** The training sites the imputation values were computed from. */
  fittedOn: string[];
  /** Columns without any value at a training site: imputed with 0 (never from test sites). */
  noTrainValue: StaticNumericColumn[];
}

const numericEnum = z.enum([...STATIC_NUMERIC, ...STATIC_EXTRA]);

/**
 * A saved {@link StaticEncoding} (a run folder's `static_encoding.json`), validated where it is
 * read: by `deno task predict` (lib/predict/encoding.ts) and by the CV's nearest training sites
 * (lib/train/reference.ts `readStaticReference`).
 */
export const StaticEncodingSchema = z.object({
  names: z.array(z.string()),
  numeric: z.array(z.string()),
  igbpClasses: z.array(z.string()),
  koppenClasses: z.array(z.string()),
  flagged: z.array(numericEnum),
  fill: z.partialRecord(numericEnum, z.number()),
  fittedOn: z.array(z.string()),
  noTrainValue: z.array(numericEnum),
});

/**
 * The numeric columns of an encoding with these extras: {@link STATIC_NUMERIC}, then the extras
 * in {@link STATIC_EXTRA} order (each once).
 *
 * @example
 * ```ts
 * import { numericColumns } from "./static.ts";
 * numericColumns(["WHC"]); // ["LAT", "LON", "ELEV", "MAT", "MAP", "P_OVER_PET", "WHC"]
 * ```
 */
export function numericColumns(extra: readonly StaticExtra[] = []): StaticNumericColumn[] {
  return [...STATIC_NUMERIC, ...STATIC_EXTRA.filter((c) => extra.includes(c))];
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = values.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Fit the encoding: IGBP classes from `options.igbpClasses` (pass every class of sites.csv) or
 * else from all `sites` (so dimensions do not depend on the split); imputation values from
 * `trainSites` only; `options.extra` adds numeric descriptors of {@link STATIC_EXTRA} (default
 * none: the encoding of {@link STATIC_NUMERIC} alone).
 *
 * @example
 * ```ts
 * import { fitStaticEncoding } from "./static.ts";
 * const enc = fitStaticEncoding(sites, ["FR-Pue"]); // sites: Site[] from loadFluxnet
 * const withWhc = fitStaticEncoding(sites, ["FR-Pue"], { extra: ["WHC"] });
 * ```
 */
export function fitStaticEncoding(
  sites: readonly StaticSite[],
  trainSites: readonly string[],
  options: { igbpClasses?: readonly string[]; extra?: readonly StaticExtra[] } = {},
): StaticEncoding {
  const numeric = numericColumns(options.extra);
  const train = new Set(trainSites);
  const trainRows = sites.filter((s) => train.has(s.SITE_ID));
  if (trainRows.length === 0) {
    throw new Error("fitStaticEncoding: no training site in the site table");
  }
  const igbpClasses = [...new Set([...(options.igbpClasses ?? []), ...sites.map((s) => s.IGBP)])]
    .sort();
  for (const s of sites) {
    if (!(KOPPEN_GROUPS as readonly string[]).includes(s.KOPPEN_MAIN)) {
      throw new Error(
        `site table, site ${s.SITE_ID}, column KOPPEN_MAIN: "${s.KOPPEN_MAIN}" is not one of A-E`,
      );
    }
  }
  const flagged = numeric.filter((c) => sites.some((s) => (s[c] ?? null) === null));
  const fill: Partial<Record<StaticNumericColumn, number>> = {};
  const noTrainValue: StaticNumericColumn[] = [];
  for (const c of numeric) {
    const vals = trainRows.map((s) => s[c] ?? null).filter((v): v is number => v !== null);
    const m = median(vals);
    if (!Number.isFinite(m)) noTrainValue.push(c);
    fill[c] = Number.isFinite(m) ? m : 0;
  }
  const names = [
    ...numeric,
    ...flagged.map((c) => `${c}_MISSING`),
    ...igbpClasses.map((c) => `IGBP_${c}`),
    ...KOPPEN_GROUPS.map((c) => `KOPPEN_${c}`),
  ];
  return {
    names,
    numeric,
    igbpClasses,
    koppenClasses: [...KOPPEN_GROUPS],
    flagged,
    fill,
    fittedOn: trainRows.map((s) => s.SITE_ID).sort(),
    noTrainValue,
  };
}

/**
 * The static vector of one site in physical units (imputed where missing), in `encoding.names`
 * order. An IGBP class not seen when fitting gives an all-zero IGBP block.
 *
 * @example
 * ```ts
 * import { encodeStatic, fitStaticEncoding } from "./static.ts";
 * const enc = fitStaticEncoding(sites, trainIds);
 * const v = encodeStatic(sites[0], enc);
 * ```
 */
export function encodeStatic(site: StaticSite, encoding: StaticEncoding): Float64Array {
  const out = new Float64Array(encoding.names.length);
  let k = 0;
  for (const c of encoding.numeric as StaticNumericColumn[]) {
    const v = site[c] ?? null;
    out[k++] = v === null ? encoding.fill[c]! : v;
  }
  for (const c of encoding.flagged) out[k++] = (site[c] ?? null) === null ? 1 : 0;
  for (const c of encoding.igbpClasses) out[k++] = site.IGBP === c ? 1 : 0;
  for (const c of encoding.koppenClasses) out[k++] = site.KOPPEN_MAIN === c ? 1 : 0;
  return out;
}
