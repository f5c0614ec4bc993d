/**
 * The sites table of a fetched data folder (`fluxnet2015/sites.csv`, the loader's layout) and
 * the attribution note written beside it.
 *
 * Where each column comes from:
 * - SITE_ID, LAT, LON: the Zarr store (`site`, `latitude`, `longitude`; the coordinates are
 *   uint16-packed there, so they are good to about 0.002 degrees).
 * - COUNTRY: the ISO 3166 code that starts every FLUXNET id, named by `Intl.DisplayNames`.
 * - IGBP and KOPPEN_MAIN: the `PFT` and `Climate` columns of the site's MetaFlux monthly file
 *   (Tropical A, Arid B, Temperate C, Continental D, Arctic/Polar E); empty when the site has no
 *   MetaFlux file. The store itself carries no land-cover or climate attribute.
 * - FIRST_YEAR, LAST_YEAR: the span of the daily file written.
 * - DAILY_SOURCE: "hh_aggregated" (half-hours of the store aggregated by this fetch).
 * - DATA_POLICY: the store's `license` attribute (CC-BY-4.0 -> "CCBY4.0").
 * - DOI: empty. Neither the store nor MetaFlux lists the per-site FLUXNET2015 DOIs
 *   (10.18140/FLX/...); look them up at https://fluxnet.org/data/fluxnet2015-dataset/ .
 * - ELEV, KOPPEN, MAT, MAP, P_OVER_PET, CANOPY_HEIGHT, WHC: empty (no public source without a
 *   login that this fetch reads).
 *
 * @module
 */
import { parse } from "csv-parse/sync";
import { z } from "zod";
import type { StoreAttributes } from "./zarr_fluxnet.ts";
import { SITE_COLUMNS } from "../sites.ts";

/** Columns of sites.csv, in the loader's order (lib/data/sites.ts). */
export { SITE_COLUMNS };

/** One row of sites.csv; null = empty cell. */
export type SiteRow = Record<typeof SITE_COLUMNS[number], string | number | null>;

/** MetaFlux `Climate` names to the main Köppen class letter. */
export const CLIMATE_TO_KOPPEN: Readonly<Record<string, string>> = {
  Tropical: "A",
  Arid: "B",
  Dry: "B",
  Temperate: "C",
  Continental: "D",
  Cold: "D",
  Arctic: "E",
  Polar: "E",
};

const MetafluxHeadSchema = z.object({
  PFT: z.string().optional(),
  Climate: z.string().optional(),
});

/**
 * IGBP class and main Köppen class of a site from its MetaFlux monthly file text (first row).
 *
 * @example
 * ```ts
 * import { classesFromMetaflux } from "./sites_table.ts";
 * classesFromMetaflux("TIMESTAMP,Site,PFT,Climate\n200001,FR-Pue,EBF,Temperate\n", "FR-Pue.csv");
 * // { igbp: "EBF", koppenMain: "C" }
 * ```
 */
export function classesFromMetaflux(
  text: string,
  file: string,
): { igbp: string | null; koppenMain: string | null } {
  const rows = parse(text, { columns: true, to_line: 2, skip_empty_lines: true }) as unknown[];
  if (rows.length === 0) return { igbp: null, koppenMain: null };
  const head = MetafluxHeadSchema.safeParse(rows[0]);
  if (!head.success) throw new Error(`${file}, row 2: ${head.error.message}`);
  const igbp = head.data.PFT?.trim() || null;
  const climate = head.data.Climate?.trim() ?? "";
  const koppenMain = climate === "" ? null : CLIMATE_TO_KOPPEN[climate] ?? null;
  if (climate !== "" && koppenMain === null) {
    throw new Error(`${file}, row 2, column Climate: unknown climate class "${climate}"`);
  }
  return { igbp, koppenMain };
}

/** Country name of a FLUXNET site id (its first two letters are an ISO 3166 code). */
export function countryOf(site: string): string | null {
  try {
    const code = site.slice(0, 2).toUpperCase();
    const name = new Intl.DisplayNames(["en"], { type: "region" }).of(code);
    return name && name !== code ? name : null;
  } catch {
    return null;
  }
}

/** The store licence in the DATA_POLICY spelling of the bundled sites.csv ("CCBY4.0"). */
export function dataPolicy(attrs: StoreAttributes): string | null {
  return typeof attrs.license === "string" ? attrs.license.replaceAll("-", "") : null;
}

function cell(value: string | number | null): string {
  if (value === null) return "";
  const s = String(value);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * sites.csv text from rows (sorted by SITE_ID).
 *
 * @example
 * ```ts
 * import { sitesCsv, SITE_COLUMNS, type SiteRow } from "./sites_table.ts";
 * const row = Object.fromEntries(SITE_COLUMNS.map((c) => [c, null])) as SiteRow;
 * row.SITE_ID = "FR-Pue";
 * console.log(sitesCsv([row]));
 * ```
 */
export function sitesCsv(rows: SiteRow[]): string {
  const sorted = [...rows].sort((a, b) => String(a.SITE_ID).localeCompare(String(b.SITE_ID)));
  const lines = [SITE_COLUMNS.join(",")];
  for (const row of sorted) lines.push(SITE_COLUMNS.map((c) => cell(row[c])).join(","));
  return lines.join("\n") + "\n";
}

/**
 * The attribution note written as `fluxnet2015/README.md` of a fetched folder: the store's own
 * citation, licence and guidelines, and where each sites.csv column comes from.
 */
export function attributionNote(attrs: StoreAttributes, storeLocation: string): string {
  const text = (v: unknown) => typeof v === "string" && v.trim() !== "" ? v.trim() : "(not given)";
  return `# FLUXNET2015 daily files fetched by tamflux (\`deno task data:fetch\`)

Source: the FLUXNET2015 Zarr store ${storeLocation}
(${text(attrs.title)}; ${text(attrs.history)}).

Licence: ${text(attrs.license)}.
Cite: ${text(attrs.citation)} ${text(attrs.doi)}
(Pastorello et al. 2020, Scientific Data 7:225), and each site's FLUXNET2015 DOI.

Attribution guidelines of the store:
${text(attrs.attribution_guidelines)}

## daily/
One file per site, FLX_<SITE>_FLUXNET2015_HH2DD_DD_<first>-<last>.csv: half-hours shifted to
local standard time (UTC offset of the site's time zone on 2010-01-01), each half-hour in the
local day in which it ends, daily mean of days with >= 46 half-hours (else -9999), QC = share of
the day's half-hours with flag <= 1, fluxes in gC m-2 d-1.

## sites.csv
- SITE_ID, LAT, LON: the store (coordinates packed as uint16, about 0.002 degrees).
- COUNTRY: from the ISO 3166 code of the site id.
- IGBP, KOPPEN_MAIN: PFT and Climate columns of the MetaFlux monthly file
  (Nathaniel et al. 2023, Scientific Data 10:440, MIT, https://github.com/leap-stc/metaflux);
  empty when the site has no MetaFlux file.
- FIRST_YEAR, LAST_YEAR: span of the daily file. DAILY_SOURCE: hh_aggregated.
- DATA_POLICY: the store's licence.
- DOI: EMPTY — no public source without login lists the per-site DOIs; see
  https://fluxnet.org/data/fluxnet2015-dataset/ (each site page gives its 10.18140/FLX/... DOI).
- ELEV, KOPPEN, MAT, MAP, P_OVER_PET, CANOPY_HEIGHT, WHC: empty (not in these sources).
`;
}
