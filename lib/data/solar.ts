/**
 * Potential (top-of-atmosphere) shortwave radiation and day length from latitude and day of year.
 *
 * Solar declination and the earth-sun distance factor follow Spencer (1971); the daily integral of
 * extraterrestrial radiation follows FAO-56 (Allen et al. 1998, eq. 21, 25, 34) with the solar
 * constant 1367 W m-2. Values are daily means in W m-2, comparable to FLUXNET's `SW_IN_POT`.
 * In polar night the radiation and day length are 0; in polar day the day length is 24 h.
 *
 * @module
 */

/** The solar constant, W m-2. */
export const SOLAR_CONSTANT = 1367;

const DEG = Math.PI / 180;

function dayAngle(doy: number, daysInYear: number): number {
  return (2 * Math.PI * (doy - 1)) / daysInYear;
}

/** Solar declination (radians) for a day of year (1-366), Spencer (1971). */
export function solarDeclination(doy: number, daysInYear = 365): number {
  const g = dayAngle(doy, daysInYear);
  return 0.006918 - 0.399912 * Math.cos(g) + 0.070257 * Math.sin(g) -
    0.006758 * Math.cos(2 * g) + 0.000907 * Math.sin(2 * g) -
    0.002697 * Math.cos(3 * g) + 0.00148 * Math.sin(3 * g);
}

/** Inverse squared relative earth-sun distance (eccentricity factor), Spencer (1971). */
export function eccentricityFactor(doy: number, daysInYear = 365): number {
  const g = dayAngle(doy, daysInYear);
  return 1.00011 + 0.034221 * Math.cos(g) + 0.00128 * Math.sin(g) + 0.000719 * Math.cos(2 * g) +
    0.000077 * Math.sin(2 * g);
}

function sunsetHourAngle(latDeg: number, decl: number): number {
  const x = -Math.tan(latDeg * DEG) * Math.tan(decl);
  if (x >= 1) return 0; // polar night
  if (x <= -1) return Math.PI; // polar day
  return Math.acos(x);
}

/**
 * Day length in hours (astronomical, sun centre above the horizon).
 *
 * @example
 * ```ts
 * import { dayLength } from "./solar.ts";
 * dayLength(0, 80); // about 12 h at the equator
 * ```
 */
export function dayLength(
  latDeg: number,
  doy: number,
  options: { daysInYear?: number } = {},
): number {
  const ws = sunsetHourAngle(latDeg, solarDeclination(doy, options.daysInYear ?? 365));
  return (24 * ws) / Math.PI;
}

/**
 * Daily mean potential (extraterrestrial) shortwave radiation on a horizontal surface, W m-2.
 *
 * @example
 * ```ts
 * import { potentialShortwave } from "./solar.ts";
 * potentialShortwave(43.74, 172); // about 480 W m-2 at FR-Pue in June
 * ```
 */
export function potentialShortwave(
  latDeg: number,
  doy: number,
  options: { daysInYear?: number } = {},
): number {
  const n = options.daysInYear ?? 365;
  const decl = solarDeclination(doy, n);
  const phi = latDeg * DEG;
  const ws = sunsetHourAngle(latDeg, decl);
  const value = (SOLAR_CONSTANT / Math.PI) * eccentricityFactor(doy, n) *
    (ws * Math.sin(phi) * Math.sin(decl) + Math.cos(phi) * Math.cos(decl) * Math.sin(ws));
  return Math.max(0, value);
}
