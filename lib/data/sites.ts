/**
 * The FLUXNET2015 site table (`fluxnet2015/sites.csv`), parsed and validated with zod.
 *
 * One row per site: SITE_ID, COUNTRY, LAT, LON, ELEV, IGBP, KOPPEN_MAIN, KOPPEN, MAT, MAP,
 * P_OVER_PET, CANOPY_HEIGHT, WHC, FIRST_YEAR, LAST_YEAR, DAILY_SOURCE, DOI, DATA_POLICY.
 * An empty cell means unknown and becomes `null`.
 *
 * @module
 */
import { parse } from "csv-parse/sync";
import { z } from "zod";

/** IGBP land-cover classes as FLUXNET uses them (CVM = cropland/natural vegetation mosaic). */
export const IGBP_CODES = [
  "ENF",
  "EBF",
  "DNF",
  "DBF",
  "MF",
  "CSH",
  "OSH",
  "WSA",
  "SAV",
  "GRA",
  "WET",
  "CRO",
  "CVM",
  "URB",
  "SNO",
  "BSV",
  "WAT",
] as const;

/** An IGBP land-cover class. */
export type IgbpCode = typeof IGBP_CODES[number];

/** Main Köppen groups: A tropical, B arid, C temperate, D continental, E polar. */
export const KOPPEN_GROUPS = ["A", "B", "C", "D", "E"] as const;

/** A main Köppen group. */
export type KoppenGroup = typeof KOPPEN_GROUPS[number];

/** The columns sites.csv must have, in the documented order. */
export const SITE_COLUMNS = [
  "SITE_ID",
  "COUNTRY",
  "LAT",
  "LON",
  "ELEV",
  "IGBP",
  "KOPPEN_MAIN",
  "KOPPEN",
  "MAT",
  "MAP",
  "P_OVER_PET",
  "CANOPY_HEIGHT",
  "WHC",
  "FIRST_YEAR",
  "LAST_YEAR",
  "DAILY_SOURCE",
  "DOI",
  "DATA_POLICY",
] as const;

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A cell holding a number, or empty (-> null). */
const numberCell = z.string().trim().transform((s, ctx): number | null => {
  if (s === "") return null;
  if (!NUMBER_RE.test(s)) {
    ctx.addIssue({ code: "custom", message: `not a number: "${s}"` });
    return z.NEVER;
  }
  const v = Number(s);
  if (!Number.isFinite(v)) {
    ctx.addIssue({ code: "custom", message: `not a finite number: "${s}"` });
    return z.NEVER;
  }
  return v;
});

/** A cell holding text, or empty (-> null). */
const textCell = z.string().trim().transform((s) => (s === "" ? null : s));

const requiredNumber = (min: number, max: number) =>
  numberCell.pipe(
    z.number({ error: "required, but the cell is empty" }).min(min).max(max),
  );

const yearCell = numberCell.pipe(z.number().int().min(1900).max(2100).nullable());

/**
 * zod schema of one sites.csv row (all cells arrive as strings, the output is typed).
 *
 * @example
 * ```ts
 * import { SiteRowSchema } from "./sites.ts";
 * const site = SiteRowSchema.parse({
 *   SITE_ID: "FR-Pue", COUNTRY: "France", LAT: "43.7413", LON: "3.5957", ELEV: "270",
 *   IGBP: "EBF", KOPPEN_MAIN: "C", KOPPEN: "Csa", MAT: "", MAP: "", P_OVER_PET: "",
 *   CANOPY_HEIGHT: "", WHC: "", FIRST_YEAR: "2000", LAST_YEAR: "2014", DAILY_SOURCE: "",
 *   DOI: "", DATA_POLICY: "CCBY4.0",
 * });
 * console.log(site.LAT, site.MAT); // 43.7413 null
 * ```
 */
export const SiteRowSchema = z.object({
  SITE_ID: z.string().trim().regex(/^[A-Z]{2}-[A-Za-z0-9]{3}$/, {
    message: "expected a FLUXNET site id like FR-Pue",
  }),
  COUNTRY: textCell,
  LAT: requiredNumber(-90, 90),
  LON: requiredNumber(-180, 180),
  ELEV: numberCell,
  IGBP: z.string().trim().pipe(z.enum(IGBP_CODES, {
    error: (issue) =>
      `unknown IGBP code "${String(issue.input)}" (known: ${IGBP_CODES.join(", ")})`,
  })),
  KOPPEN_MAIN: z.string().trim().pipe(z.enum(KOPPEN_GROUPS, {
    error: (issue) => `unknown Köppen main group "${String(issue.input)}" (expected one of A-E)`,
  })),
  KOPPEN: textCell,
  MAT: numberCell,
  MAP: numberCell,
  P_OVER_PET: numberCell,
  CANOPY_HEIGHT: numberCell,
  WHC: numberCell,
  FIRST_YEAR: yearCell,
  LAST_YEAR: yearCell,
  DAILY_SOURCE: textCell,
  DOI: textCell,
  DATA_POLICY: textCell,
});

/** One site of sites.csv (numbers are `number | null`). */
export type Site = z.output<typeof SiteRowSchema>;

/** Where in a file a problem is. */
export interface InputLocation {
  file: string;
  column?: string;
  line?: number;
}

/**
 * Bad input data: the message starts with the file, then the column and the 1-based line (the
 * header is line 1) when known. The base of the loader's and the site table's errors.
 *
 * @example
 * ```ts
 * import { InputError } from "./sites.ts";
 * const e = new InputError("not a number", { file: "a.csv", column: "TA_F", line: 3 });
 * console.log(e.message); // "a.csv, column TA_F, line 3: not a number"
 * ```
 */
export class InputError extends Error {
  /** The file or folder at fault. */
  readonly file: string;
  /** The column at fault, when one is. */
  readonly column?: string;
  /** The 1-based line of the file (the header is line 1), when a row is at fault. */
  readonly line?: number;

  constructor(message: string, where: InputLocation) {
    const at = [
      where.file,
      where.column !== undefined ? `column ${where.column}` : undefined,
      where.line !== undefined ? `line ${where.line}` : undefined,
    ].filter((s) => s !== undefined).join(", ");
    super(`${at}: ${message}`);
    this.name = "InputError";
    this.file = where.file;
    this.column = where.column;
    this.line = where.line;
  }
}

/** An error in sites.csv, naming the file, the column and the line. */
export class SitesError extends InputError {
  constructor(message: string, where: InputLocation) {
    super(message, where);
    this.name = "SitesError";
  }
}

/**
 * Parse the text of sites.csv. Throws a {@link SitesError} naming file, column and line on bad
 * input (missing column, unknown IGBP code, Köppen group outside A-E, non-numeric number, ...).
 *
 * @example
 * ```ts
 * import { parseSites } from "./sites.ts";
 * const text = await Deno.readTextFile("../shared/data/fluxnet2015/sites.csv");
 * const sites = parseSites(text, { file: "sites.csv" });
 * console.log(sites.length);
 * ```
 */
export function parseSites(text: string, options: { file?: string } = {}): Site[] {
  return parseSiteTable(text, {
    file: options.file ?? "sites.csv",
    columns: SITE_COLUMNS,
    schema: SiteRowSchema,
    error: (message, where) => new SitesError(message, where),
  }).map((r) => r.row);
}

/**
 * Parse a site table (CSV with a header): every row validated with `schema` over the `columns` it
 * needs (other columns are ignored), site ids unique; each row comes with its 1-based line. Every problem is thrown as `error(message,
 * where)` naming the file, column and line. Shared by the loader's sites.csv and the site table of
 * `deno task predict`, which needs fewer columns.
 *
 * @example
 * ```ts
 * import { parseSiteTable, SiteRowSchema, SITE_COLUMNS, SitesError } from "./sites.ts";
 * const text = await Deno.readTextFile("../shared/data/fluxnet2015/sites.csv");
 * const sites = parseSiteTable(text, {
 *   file: "sites.csv", columns: SITE_COLUMNS, schema: SiteRowSchema,
 *   error: (m, w) => new SitesError(m, w),
 * });
 * ```
 */
export function parseSiteTable<S extends z.ZodType<{ SITE_ID: string }>>(
  text: string,
  options: {
    file: string;
    columns: readonly string[];
    schema: S;
    error: (message: string, where: InputLocation) => Error;
  },
): { row: z.output<S>; line: number }[] {
  const { file, columns, schema, error } = options;
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (err) {
    throw error(`not a readable CSV file (${(err as Error).message})`, { file });
  }
  if (records.length === 0) throw error("the file is empty", { file });
  const header = records[0].record.map((h) => h.trim());
  for (const column of columns) {
    if (!header.includes(column)) {
      throw error(
        `required column is missing (required: ${columns.join(", ")}; header: ${header.join(",")})`,
        { file, column, line: 1 },
      );
    }
  }
  const index = new Map(columns.map((c) => [c, header.indexOf(c)]));
  const out: { row: z.output<S>; line: number }[] = [];
  const seen = new Map<string, number>();
  for (let r = 1; r < records.length; r++) {
    const line = records[r].info.lines;
    const cells = records[r].record;
    if (cells.length !== header.length) {
      throw error(`the row has ${cells.length} cells but the header has ${header.length}`, {
        file,
        line,
      });
    }
    const raw: Record<string, string> = {};
    for (const [column, i] of index) raw[column] = cells[i];
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const site = raw.SITE_ID?.trim();
      throw error(`${site ? `site ${site}: ` : ""}${issue.message}`, {
        file,
        column: String(issue.path[0] ?? ""),
        line,
      });
    }
    const row = parsed.data as z.output<S>;
    const previous = seen.get(row.SITE_ID);
    if (previous !== undefined) {
      throw error(`site ${row.SITE_ID} appears twice (also on line ${previous})`, {
        file,
        column: "SITE_ID",
        line,
      });
    }
    seen.set(row.SITE_ID, line);
    out.push({ row, line });
  }
  return out;
}

/**
 * Read and validate a sites.csv file.
 *
 * @example
 * ```ts
 * import { loadSites } from "./sites.ts";
 * import { resolveDataDir } from "./paths.ts";
 * const sites = await loadSites(resolveDataDir().sitesCsv);
 * console.log(sites[0].SITE_ID, sites[0].IGBP);
 * ```
 */
export async function loadSites(path: string): Promise<Site[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new SitesError(`cannot read the site table (${(err as Error).message})`, {
      file: path,
    });
  }
  return parseSites(text, { file: path });
}
