/**
 * Prediction inputs: a site table for new sites and FLUXNET2015-style daily (DD) files that need
 * only `TIMESTAMP` and the drivers a run was trained with. Flux and QC columns may be present;
 * they are never read. Everything is validated, and errors name the file, the column and the line.
 *
 * Driver units are checked for plausibility per file ({@link DriverSummarySchema}; the ranges are
 * lib/data/ranges.ts, shared with the training loader):
 * - TA_F, degC: every value in [-70, 60]; a median above 200 reads as kelvin;
 * - SW_IN_F, W m-2 (daily mean): every value in [-10, 600]; the median ratio to the
 *   top-of-atmosphere radiation (SW_POT, from latitude and day of year) must lie in [0.15, 1.2]
 *   (FLUXNET2015 sites: 0.37-0.76); a lower ratio reads as a daily sum in MJ m-2 d-1;
 * - VPD_F, hPa: every value in [-1, 120]; the median ratio to the saturation vapour pressure at
 *   TA_F (days with TA_F >= 5 degC) must be at least 0.06 (FLUXNET2015 sites: 0.083-0.79); a lower
 *   ratio reads as kPa. Values in kPa give 0.008-0.079, so kPa at the most arid sites (ratio above
 *   0.6 in hPa) is not detected.
 *
 * The drivers are also checked against each other and the site (the thresholds of
 * lib/data/ranges.ts `DRIVER_CONSISTENCY`, shared with the training loader): a record whose
 * SW_IN_F does not follow the seasonal cycle of the potential radiation at LAT is an error naming
 * the site table, column LAT and line ({@link checkDriverLatitude}, before the unit checks); VPD_F
 * above saturation at TA_F or SW_IN_F above the potential radiation on a day is an error naming
 * the file, column and line ({@link checkDriverConsistency}, after them).
 *
 * @module
 */
import { z } from "zod";
import { dayOfYear } from "../data/features.ts";
import { FluxnetInputError, listFluxnetFiles } from "../data/fluxnet.ts";
import { IGBP_CODES, KOPPEN_GROUPS, parseSiteTable } from "../data/sites.ts";
import { potentialShortwave } from "../data/solar.ts";
import {
  checkLatitude,
  findInconsistentDriver,
  PLAUSIBLE_RANGES,
  saturationVapourPressure,
} from "../data/ranges.ts";
import { STATIC_EXTRA } from "../data/static.ts";

/** Tower drivers a run may read from the daily files, with their FLUXNET2015 units. */
export const FILE_DRIVERS = { TA_F: "degC", SW_IN_F: "W m-2", VPD_F: "hPa" } as const;
/** One of {@link FILE_DRIVERS}. */
export type FileDriver = keyof typeof FILE_DRIVERS;

/** Whether a feature name is a driver read from the daily files. */
export function isFileDriver(name: string): name is FileDriver {
  return Object.hasOwn(FILE_DRIVERS, name);
}

/** The columns a prediction site table must have (cells of the last four may be empty). */
export const PREDICTION_SITE_COLUMNS = [
  "SITE_ID",
  "LAT",
  "LON",
  "IGBP",
  "KOPPEN_MAIN",
  "ELEV",
  "MAT",
  "MAP",
  "P_OVER_PET",
] as const;

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

const numberCell = (min: number, max: number, unit: string, required: boolean) =>
  z.string().trim().transform((s, ctx): number | null => {
    if (s === "") {
      if (required) {
        ctx.addIssue({ code: "custom", message: "required, but the cell is empty" });
        return z.NEVER;
      }
      return null;
    }
    if (!NUMBER_RE.test(s)) {
      ctx.addIssue({ code: "custom", message: `not a number: "${s}"` });
      return z.NEVER;
    }
    const v = Number(s);
    if (v < min || v > max) {
      ctx.addIssue({ code: "custom", message: `${s} is outside [${min}, ${max}] ${unit}` });
      return z.NEVER;
    }
    return v;
  });

/**
 * One row of a prediction site table (cells arrive as strings). IGBP must be a FLUXNET IGBP code
 * and KOPPEN_MAIN one of A-E; whether the run knows the IGBP class is checked later.
 *
 * @example
 * ```ts
 * import { PredictionSiteSchema } from "./inputs.ts";
 * const site = PredictionSiteSchema.parse({
 *   SITE_ID: "FR-Pue", LAT: "43.74", LON: "3.60", IGBP: "EBF", KOPPEN_MAIN: "C",
 *   ELEV: "270", MAT: "", MAP: "", P_OVER_PET: "",
 * });
 * console.log(site.MAT); // null
 * ```
 */
export const PredictionSiteSchema = z.object({
  SITE_ID: z.string().trim().regex(/^[A-Z]{2}-[A-Za-z0-9]{3}$/, {
    message: "expected a FLUXNET site id like FR-Pue",
  }),
  LAT: numberCell(-90, 90, "degrees", true).pipe(z.number()),
  LON: numberCell(-180, 180, "degrees", true).pipe(z.number()),
  IGBP: z.string().trim().pipe(z.enum(IGBP_CODES, {
    error: (issue) =>
      `unknown IGBP code "${String(issue.input)}" (known: ${IGBP_CODES.join(", ")})`,
  })),
  KOPPEN_MAIN: z.string().trim().pipe(z.enum(KOPPEN_GROUPS, {
    error: (issue) => `unknown Köppen main group "${String(issue.input)}" (expected one of A-E)`,
  })),
  ELEV: numberCell(-500, 9000, "m", false),
  MAT: numberCell(-40, 40, "degC", false),
  MAP: numberCell(0, 15000, "mm", false),
  P_OVER_PET: numberCell(0, 50, "(ratio)", false),
  /** Optional column, read when the table has it (runs with `staticExtra` need it). */
  CANOPY_HEIGHT: numberCell(0, 150, "m", false).optional(),
  /** Optional column, read when the table has it (runs with `staticExtra` need it). */
  WHC: numberCell(0, 5000, "mm", false).optional(),
});
/**
 * A validated prediction site (numbers other than LAT/LON may be null; CANOPY_HEIGHT and WHC are
 * undefined when the table has no such column).
 */
export type PredictionSite = z.output<typeof PredictionSiteSchema> & {
  /** The 1-based line of the site table (the header is line 1). */
  line: number;
};

/**
 * Parse a prediction site table: the columns {@link PREDICTION_SITE_COLUMNS}, plus CANOPY_HEIGHT
 * and WHC when the header has them (the extra static descriptors of lib/data/static.ts; others,
 * e.g. the rest of FLUXNET2015's sites.csv, are ignored). Errors name the file, column and line.
 *
 * @example
 * ```ts
 * import { parsePredictionSites } from "./inputs.ts";
 * const text = "SITE_ID,LAT,LON,IGBP,KOPPEN_MAIN,ELEV,MAT,MAP,P_OVER_PET\n" +
 *   "FR-Pue,43.74,3.60,EBF,C,270,,,\n";
 * const [site] = parsePredictionSites(text, { file: "sites.csv" });
 * console.log(site.IGBP, site.line); // EBF 2
 * ```
 */
export function parsePredictionSites(
  text: string,
  options: { file: string },
): PredictionSite[] {
  const header = (text.split("\n", 1)[0] ?? "").replace(/^\uFEFF/, "").split(",")
    .map((h) => h.trim().replace(/^"(.*)"$/, "$1"));
  return parseSiteTable(text, {
    file: options.file,
    columns: [...PREDICTION_SITE_COLUMNS, ...STATIC_EXTRA.filter((c) => header.includes(c))],
    schema: PredictionSiteSchema,
    error: (message, where) => new FluxnetInputError(message, where),
  }).map(({ row, line }) => ({ ...row, line }));
}

/**
 * Read and parse a prediction site table.
 *
 * @example
 * ```ts ignore
 * import { loadPredictionSites } from "./inputs.ts";
 * const sites = await loadPredictionSites("../shared/data/fluxnet2015/sites.csv");
 * ```
 */
export async function loadPredictionSites(path: string): Promise<PredictionSite[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new FluxnetInputError(`cannot read the site table (${(error as Error).message})`, {
      file: path,
    });
  }
  return parsePredictionSites(text, { file: path });
}

/** The drivers of one daily file, sorted by day; NaN where missing (-9999 or empty). */
export interface DriverDaily {
  site: string;
  file: string;
  /** Days since 1970-01-01, strictly ascending. */
  days: Int32Array;
  /** The 1-based line of each day in the file. */
  lines: Int32Array;
  values: Partial<Record<FileDriver, Float64Array>>;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function parseDay(s: string): number {
  if (!/^\d{8}$/.test(s)) return NaN;
  const y = Number(s.slice(0, 4)), m = Number(s.slice(4, 6)), d = Number(s.slice(6, 8));
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) return NaN;
  return Math.round(Date.UTC(y, m - 1, d) / 86_400_000);
}

/**
 * Parse a FLUXNET2015-style daily file, reading only `TIMESTAMP` (YYYYMMDD) and `drivers`; every
 * other column is ignored. `-9999` and empty cells are missing. Throws a `FluxnetInputError` for a
 * missing column, a malformed TIMESTAMP or value, a short row, or a duplicated day.
 *
 * @example
 * ```ts
 * import { parseDriverDaily } from "./inputs.ts";
 * const text = "TIMESTAMP,TA_F,SW_IN_F,VPD_F\n20120101,5,100,-9999\n";
 * const d = parseDriverDaily(text, { file: "f.csv", site: "FR-Pue", drivers: ["TA_F", "VPD_F"] });
 * console.log(d.values.TA_F?.[0], d.values.VPD_F?.[0]); // 5 NaN
 * ```
 */
export function parseDriverDaily(
  text: string,
  options: { file: string; site: string; drivers: readonly FileDriver[] },
): DriverDaily {
  const { file, site, drivers } = options;
  const lines = text.split("\n");
  const header = (lines[0] ?? "").replace(/^\uFEFF/, "").replace(/\r$/, "").split(",")
    .map((h) => h.trim());
  if (text.trim() === "") throw new FluxnetInputError("the file is empty", { file });
  const need = ["TIMESTAMP", ...drivers];
  const missing = need.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new FluxnetInputError(
      `required column${missing.length > 1 ? "s are" : " is"} missing from the header (the run ` +
        `needs ${need.join(", ")}; flux and QC columns are optional)`,
      { file, column: missing.join(", "), line: 1 },
    );
  }
  const iTs = header.indexOf("TIMESTAMP");
  const idx = drivers.map((d) => header.indexOf(d));
  const rows: { day: number; line: number; v: number[] }[] = [];
  for (let li = 1; li < lines.length; li++) {
    const line = lines[li].replace(/\r$/, "");
    if (line.trim() === "") continue;
    const cells = line.split(",");
    if (cells.length !== header.length) {
      throw new FluxnetInputError(
        `the row has ${cells.length} cells but the header has ${header.length}`,
        { file, line: li + 1 },
      );
    }
    const ts = cells[iTs].trim();
    const day = parseDay(ts);
    if (Number.isNaN(day)) {
      throw new FluxnetInputError(
        `malformed TIMESTAMP "${ts}" (expected a real calendar day as YYYYMMDD)`,
        { file, column: "TIMESTAMP", line: li + 1 },
      );
    }
    const v = idx.map((i, k) => {
      const s = cells[i].trim();
      if (s === "") return NaN;
      if (!NUMBER_RE.test(s)) {
        throw new FluxnetInputError(`non-numeric value "${s}"`, {
          file,
          column: drivers[k],
          line: li + 1,
        });
      }
      const x = Number(s);
      if (!Number.isFinite(x)) {
        throw new FluxnetInputError(`non-finite value "${s}"`, {
          file,
          column: drivers[k],
          line: li + 1,
        });
      }
      return x === -9999 ? NaN : x;
    });
    rows.push({ day, line: li + 1, v });
  }
  if (rows.length === 0) throw new FluxnetInputError("the file has no data rows", { file });
  rows.sort((a, b) => a.day - b.day);
  for (let i = 1; i < rows.length; i++) {
    if (rows[i].day === rows[i - 1].day) {
      const [a, b] = [rows[i - 1].line, rows[i].line].sort((x, y) => x - y);
      throw new FluxnetInputError(`duplicated day: it is already on line ${a}`, {
        file,
        column: "TIMESTAMP",
        line: b,
      });
    }
  }
  const values: Partial<Record<FileDriver, Float64Array>> = {};
  drivers.forEach((d, k) => (values[d] = Float64Array.from(rows, (r) => r.v[k])));
  return {
    site,
    file,
    days: Int32Array.from(rows, (r) => r.day),
    lines: Int32Array.from(rows, (r) => r.line),
    values,
  };
}

/** Statistics of one driver column of one file, checked by {@link DriverSummarySchema}. */
export interface DriverSummary {
  column: FileDriver;
  /** Non-missing values. */
  n: number;
  min: number;
  max: number;
  /** The 1-based lines of the min and max. */
  minLine: number;
  maxLine: number;
  median: number;
  /** SW_IN_F: median of SW_IN_F / SW_POT over days with SW_POT >= 50 W m-2 (null if none). */
  ratioToPotential: number | null;
  /** VPD_F: median of VPD_F / e_s(TA_F) (hPa) over days with TA_F >= 5 degC (null if none). */
  ratioToSaturation: number | null;
}

function unitHint(s: DriverSummary): string {
  if (s.column === "TA_F") {
    if (s.median > 200) return "; TA_F looks like kelvin, expected degC (subtract 273.15)";
    return "; expected degC";
  }
  if (s.column === "SW_IN_F") {
    if (s.ratioToPotential !== null && s.ratioToPotential < 0.15) {
      return "; SW_IN_F looks like a daily sum in MJ m-2 d-1, expected the daily mean in W m-2 " +
        "(1 MJ m-2 d-1 = 11.574 W m-2)";
    }
    if (s.max > 600) {
      return "; SW_IN_F looks like a daily sum (e.g. Wh m-2 d-1 or J cm-2 d-1) or a " +
        "half-hourly peak, expected the daily mean in W m-2";
    }
    return "; expected the daily mean in W m-2";
  }
  if (s.ratioToSaturation !== null && s.ratioToSaturation < 0.06) {
    return "; VPD_F looks like kPa, expected hPa (multiply by 10)";
  }
  if (s.max > 120) return "; VPD_F looks like Pa, expected hPa (divide by 100)";
  return "; expected hPa";
}

/**
 * The plausibility rules of a driver column (see the module doc); an issue's message names the
 * column, the offending value and line, and the likely unit.
 *
 * @example
 * ```ts
 * import { DriverSummarySchema } from "./inputs.ts";
 * const r = DriverSummarySchema.safeParse({
 *   column: "SW_IN_F", n: 365, min: 0.5, max: 30, minLine: 2, maxLine: 170, median: 14,
 *   ratioToPotential: 0.05, ratioToSaturation: null,
 * });
 * console.log(r.success); // false: looks like MJ m-2 d-1
 * ```
 */
export const DriverSummarySchema = z.object({
  column: z.enum(["TA_F", "SW_IN_F", "VPD_F"]),
  n: z.number().int().nonnegative(),
  min: z.number(),
  max: z.number(),
  minLine: z.number().int(),
  maxLine: z.number().int(),
  median: z.number(),
  ratioToPotential: z.number().nullable(),
  ratioToSaturation: z.number().nullable(),
}).superRefine((s, ctx) => {
  if (s.n === 0) return;
  const { min: lo, max: hi } = PLAUSIBLE_RANGES[s.column];
  const hint = unitHint(s);
  if (s.min < lo) {
    ctx.addIssue({
      code: "custom",
      path: ["min"],
      message: `value ${s.min} (line ${s.minLine}) is below the plausible ${lo}${hint}`,
    });
    return;
  }
  if (s.max > hi) {
    ctx.addIssue({
      code: "custom",
      path: ["max"],
      message: `value ${s.max} (line ${s.maxLine}) is above the plausible ${hi}${hint}`,
    });
    return;
  }
  if (s.column === "TA_F" && s.median > 200) {
    ctx.addIssue({ code: "custom", path: ["median"], message: `median ${s.median}${hint}` });
  }
  const r = s.ratioToPotential;
  if (s.column === "SW_IN_F" && r !== null && (r < 0.15 || r > 1.2)) {
    ctx.addIssue({
      code: "custom",
      path: ["ratioToPotential"],
      message: `the median ratio to top-of-atmosphere radiation is ${r.toFixed(3)}, plausible ` +
        `0.15-1.2 for daily means in W m-2${hint}`,
    });
  }
  const q = s.ratioToSaturation;
  if (s.column === "VPD_F" && q !== null && q < 0.06) {
    ctx.addIssue({
      code: "custom",
      path: ["ratioToSaturation"],
      message: `the median ratio to the saturation vapour pressure at TA_F is ${q.toFixed(4)}, ` +
        `plausible >= 0.06 in hPa${hint}`,
    });
  }
});

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = values.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const saturation = saturationVapourPressure;

/**
 * Summarise the drivers of one file (see {@link DriverSummary}).
 *
 * @example
 * ```ts ignore
 * const summaries = summarizeDrivers(parsed, { lat: 43.74 });
 * ```
 */
export function summarizeDrivers(daily: DriverDaily, options: { lat: number }): DriverSummary[] {
  const out: DriverSummary[] = [];
  for (const [column, values] of Object.entries(daily.values) as [FileDriver, Float64Array][]) {
    let n = 0, min = Infinity, max = -Infinity, minLine = 0, maxLine = 0;
    const finite: number[] = [];
    values.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      n++;
      finite.push(v);
      if (v < min) [min, minLine] = [v, daily.lines[i]];
      if (v > max) [max, maxLine] = [v, daily.lines[i]];
    });
    let ratioToPotential: number | null = null;
    let ratioToSaturation: number | null = null;
    if (column === "SW_IN_F") {
      const r: number[] = [];
      values.forEach((v, i) => {
        if (!Number.isFinite(v)) return;
        const { doy, daysInYear } = dayOfYear(daily.days[i]);
        const pot = potentialShortwave(options.lat, doy, { daysInYear });
        if (pot >= 50) r.push(v / pot);
      });
      ratioToPotential = r.length ? median(r) : null;
    }
    const ta = daily.values.TA_F;
    if (column === "VPD_F" && ta) {
      const r: number[] = [];
      values.forEach((v, i) => {
        if (Number.isFinite(v) && Number.isFinite(ta[i]) && ta[i] >= 5 && ta[i] < 60) {
          r.push(v / saturation(ta[i]));
        }
      });
      ratioToSaturation = r.length ? median(r) : null;
    }
    out.push({
      column,
      n,
      min: n ? min : 0,
      max: n ? max : 0,
      minLine,
      maxLine,
      median: n ? median(finite) : 0,
      ratioToPotential,
      ratioToSaturation,
    });
  }
  return out;
}

/**
 * Check the units of a file's drivers; throws a `FluxnetInputError` naming the file and column.
 *
 * @example
 * ```ts ignore
 * checkDriverUnits(parsed, { lat: 43.74 });
 * ```
 */
export function checkDriverUnits(daily: DriverDaily, options: { lat: number }): void {
  for (const summary of summarizeDrivers(daily, options)) {
    const r = DriverSummarySchema.safeParse(summary);
    if (!r.success) {
      throw new FluxnetInputError(`implausible values: ${r.error.issues[0].message}`, {
        file: daily.file,
        column: summary.column,
      });
    }
  }
}

/**
 * Check that a file's SW_IN_F follows the seasonal cycle of the potential radiation at the site's
 * LAT (lib/data/ranges.ts `checkLatitude`, as the training loader); throws a `FluxnetInputError`
 * naming the site table, column LAT and the site's line. Run it before {@link checkDriverUnits}:
 * a flipped latitude also spoils the unit check's ratio to the potential radiation, while a
 * correlation does not depend on the unit.
 *
 * @example
 * ```ts ignore
 * checkDriverLatitude(parsed, { site, sitesFile: "my_sites/sites.csv" });
 * ```
 */
export function checkDriverLatitude(
  daily: DriverDaily,
  options: { site: Pick<PredictionSite, "LAT" | "line">; sitesFile: string },
): void {
  const { site, sitesFile } = options;
  const lat = checkLatitude({ days: daily.days, ...daily.values }, { lat: site.LAT });
  if (lat.message) {
    throw new FluxnetInputError(`site ${daily.site}: ${lat.message} (daily file ${daily.file})`, {
      file: sitesFile,
      column: "LAT",
      line: site.line,
    });
  }
}

/**
 * Check a file's drivers against each other and the site's latitude day by day
 * (lib/data/ranges.ts `findInconsistentDriver`, as the training loader): VPD_F above saturation at
 * TA_F, SW_IN_F above the potential radiation. Throws a `FluxnetInputError` naming the file,
 * column and line of the first implausible day (and how many days fail). Run it after
 * {@link checkDriverUnits}, whose unit hints are more telling for a whole column in a wrong unit.
 *
 * @example
 * ```ts ignore
 * checkDriverConsistency(parsed, { lat: 43.74 });
 * ```
 */
export function checkDriverConsistency(daily: DriverDaily, options: { lat: number }): void {
  const bad = findInconsistentDriver({ days: daily.days, ...daily.values }, options);
  if (bad) {
    throw new FluxnetInputError(bad.message, {
      file: daily.file,
      column: bad.column,
      line: daily.lines[bad.index],
    });
  }
}

/** A daily file of a prediction folder. */
export interface DriverFile {
  site: string;
  path: string;
}

/**
 * The FLUXNET2015-style daily files of a folder (one per site), optionally restricted to `only`
 * (each must have a file).
 *
 * @example
 * ```ts ignore
 * const files = listDriverFiles("../shared/data/fluxnet2015/daily", { only: ["FR-Pue"] });
 * ```
 */
export function listDriverFiles(dir: string, options: { only?: readonly string[] } = {}) {
  const files: DriverFile[] = listFluxnetFiles(dir).map((f) => ({ site: f.site, path: f.path }));
  if (!options.only) return files;
  const have = new Set(files.map((f) => f.site));
  const absent = options.only.filter((s) => !have.has(s));
  if (absent.length > 0) {
    throw new FluxnetInputError(`no daily file for site(s) ${absent.join(", ")}`, { file: dir });
  }
  const want = new Set(options.only);
  return files.filter((f) => want.has(f.site));
}

/**
 * Throw unless `path` is an existing folder: an input folder that is mistyped must not read as an
 * empty one (e.g. `--monthly` as "no MODIS"). The error names `what` (e.g. the flag) and the path.
 *
 * @example
 * ```ts
 * import { requireFolder } from "./inputs.ts";
 * requireFolder(".", { what: "--data" });
 * ```
 */
export function requireFolder(path: string, options: { what: string }): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`${options.what} ${path}: no such folder`);
    }
    throw new Error(`${options.what} ${path}: ${(error as Error).message.split("\n")[0]}`);
  }
  if (!info.isDirectory) throw new Error(`${options.what} ${path}: a file, not a folder`);
}
