/**
 * Local standard time of a FLUXNET site: the IANA time zone from its coordinates (npm
 * `tz-lookup`, with the overrides of the store's README) and that zone's UTC offset on
 * 2010-01-01 (from `Intl`).
 *
 * @module
 */
import tzlookupUntyped from "tz-lookup";

const tzlookup = tzlookupUntyped as (lat: number, lon: number) => string;

/**
 * Sites whose zone from coordinates is wrong (the coordinates decoded from the store are
 * quantised, and these towers sit near zone borders), as listed in the store sample README.
 */
export const TIME_ZONE_OVERRIDES: Readonly<Record<string, string>> = {
  "AU-Lox": "Australia/Adelaide",
  "GL-ZaF": "America/Godthab",
  "GL-ZaH": "America/Godthab",
};

/** The instant whose UTC offset defines a site's local standard time. */
export const OFFSET_REFERENCE_DATE: Date = new Date(Date.UTC(2010, 0, 1));

/**
 * The IANA time zone of a site: the override when listed, else looked up from coordinates.
 *
 * @example
 * ```ts
 * import { siteTimeZone } from "./local_time.ts";
 * siteTimeZone("FR-Pue", 43.7414, 3.5958); // "Europe/Paris"
 * ```
 */
export function siteTimeZone(site: string, lat: number, lon: number): string {
  const override = TIME_ZONE_OVERRIDES[site];
  if (override) return override;
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) {
    throw new Error(`site ${site}: no coordinates (lat ${lat}, lon ${lon}) to find its time zone`);
  }
  return tzlookup(lat, lon);
}

/**
 * UTC offset of a time zone in minutes (east positive) at an instant, from `Intl`.
 *
 * @example
 * ```ts
 * import { utcOffsetMinutes } from "./local_time.ts";
 * utcOffsetMinutes("Australia/Adelaide", new Date(Date.UTC(2010, 0, 1))); // 630
 * ```
 */
export function utcOffsetMinutes(timeZone: string, at: Date = OFFSET_REFERENCE_DATE): number {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" })
    .formatToParts(at);
  const name = parts.find((p) => p.type === "timeZoneName")?.value ?? "";
  if (name === "GMT") return 0;
  const match = /^GMT([+-])(\d{2}):(\d{2})$/.exec(name);
  if (!match) throw new Error(`time zone ${timeZone}: cannot read the UTC offset "${name}"`);
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === "-" ? -minutes : minutes;
}

/**
 * Time zone and fixed offset (minutes) that turn a site's store time stamps into local standard
 * time.
 *
 * @example
 * ```ts
 * import { siteOffset } from "./local_time.ts";
 * siteOffset("CH-Dav", 46.8153, 9.8559); // { timeZone: "Europe/Zurich", offsetMinutes: 60 }
 * ```
 */
export function siteOffset(
  site: string,
  lat: number,
  lon: number,
): { timeZone: string; offsetMinutes: number } {
  const timeZone = siteTimeZone(site, lat, lon);
  return { timeZone, offsetMinutes: utcOffsetMinutes(timeZone) };
}
