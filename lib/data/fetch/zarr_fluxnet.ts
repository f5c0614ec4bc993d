/**
 * Reading the public FLUXNET2015 Zarr v2 store (`EXCITED-CO2/zarr-fluxnet2015`) with zarrita:
 * site ids, CF-decoded time, per-site coordinates, and one site's half-hourly variables decoded
 * from uint16 with `scale_factor`/`add_offset` (fill value -> NaN).
 *
 * @module
 */
import * as zarr from "zarrita";
import { z } from "zod";
import { type CountingStore, isUrl, openByteStore, type OpenStoreOptions } from "./store.ts";

/** The public store, served over HTTP by GitHub Pages. */
export const DEFAULT_STORE_URL = "https://excited-co2.github.io/zarr-fluxnet2015/fluxnet.zarr";

/** The half-hourly variables of the store that feed the daily files. */
export const STORE_VARIABLES = [
  "ta",
  "ta_qc",
  "sw_in",
  "sw_in_qc",
  "vpd",
  "vpd_qc",
  "nee",
  "nee_qc",
  "gpp_nt",
  "gpp_dt",
] as const;

/** One of {@linkcode STORE_VARIABLES}. */
export type StoreVariable = typeof STORE_VARIABLES[number];

const PackedAttrsSchema = z.object({
  scale_factor: z.number().default(1),
  add_offset: z.number().default(0),
});

const TimeAttrsSchema = z.object({
  units: z.string(),
  calendar: z.string().default("standard"),
});

type NumArray = zarr.Array<zarr.NumberDataType, zarr.Readable>;

/** What the store says about itself (its root `.zattrs`). */
export interface StoreAttributes {
  title?: string;
  citation?: string;
  doi?: string;
  license?: string;
  attribution_guidelines?: string;
  history?: string;
  [key: string]: unknown;
}

/** One site's half-hourly data. */
export interface SiteSeries {
  /** Decoded values per variable, NaN = missing. */
  values: Record<StoreVariable, Float64Array>;
  /** Variables whose chunk for this site is absent from the store. */
  absent: StoreVariable[];
  /** Bytes read for this site. */
  bytes: number;
}

/** An opened FLUXNET2015 Zarr store. */
export interface FluxnetStore {
  /** The URL or path it was opened from. */
  location: string;
  /** The byte store with its read counters. */
  bytes: CountingStore;
  /** Root attributes (citation, licence, DOI of the dataset). */
  attrs: StoreAttributes;
  /** FLUXNET site ids in store order. */
  sites: string[];
  /** Time stamps as minutes since 1970-01-01 UTC (decoded from CF units). */
  timeMinutes: Float64Array;
  /** Half-hourly variables of one site (by index into `sites`). */
  readSite(index: number, options?: { signal?: AbortSignal }): Promise<SiteSeries>;
  /** Latitude and longitude of one site (NaN when absent from the store). */
  readCoordinates(index: number, options?: { signal?: AbortSignal }): Promise<
    { lat: number; lon: number }
  >;
}

/**
 * CF time decoding: `<unit> since <date>[ <time>]` to minutes since 1970-01-01 UTC.
 *
 * @example
 * ```ts
 * import { decodeCfTime } from "./zarr_fluxnet.ts";
 * decodeCfTime([0n, 30n], "minutes since 1991-01-01 06:00:00"); // Float64Array [ 10958760, ... ]
 * ```
 */
export function decodeCfTime(
  raw: ArrayLike<number | bigint>,
  units: string,
  calendar = "proleptic_gregorian",
): Float64Array {
  if (!["proleptic_gregorian", "gregorian", "standard"].includes(calendar)) {
    throw new Error(`time: calendar "${calendar}" is not supported (need proleptic_gregorian)`);
  }
  const m =
    /^\s*(seconds|minutes|hours|days)\s+since\s+(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d*)?))?)?\s*(?:Z|UTC|\+00:?00)?\s*$/i
      .exec(units);
  if (!m) throw new Error(`time: cannot read the CF units "${units}"`);
  const perUnit = { seconds: 1 / 60, minutes: 1, hours: 60, days: 1440 }[
    m[1].toLowerCase() as "seconds" | "minutes" | "hours" | "days"
  ];
  const epochMs = Date.UTC(
    Number(m[2]),
    Number(m[3]) - 1,
    Number(m[4]),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
    Number(m[7] ?? 0),
  );
  const base = epochMs / 60_000;
  const out = new Float64Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = base + Number(raw[i]) * perUnit;
  return out;
}

function unpack(arr: NumArray, raw: ArrayLike<number>, what: string): Float64Array {
  const parsed = PackedAttrsSchema.safeParse(arr.attrs);
  if (!parsed.success) {
    throw new Error(`${what}: bad scale_factor/add_offset attributes: ${parsed.error.message}`);
  }
  const { scale_factor: scale, add_offset: offset } = parsed.data;
  const fill = arr.fillValue;
  const out = new Float64Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const x = raw[i];
    out[i] = x === fill ? NaN : x * scale + offset;
  }
  return out;
}

async function openNumeric(root: zarr.Location<zarr.Readable>, name: string): Promise<NumArray> {
  const arr = await zarr.open.v2(root.resolve(name), { kind: "array" });
  if (!arr.is("number")) {
    throw new Error(`store variable ${name}: dtype ${arr.dtype} is not numeric`);
  }
  return arr;
}

/**
 * Open the FLUXNET2015 Zarr store at a URL (zarrita `FetchStore`) or a local path (file store):
 * reads the consolidated metadata, the site ids and the time axis.
 *
 * @example
 * ```ts
 * import { openFluxnetStore } from "./zarr_fluxnet.ts";
 * const store = await openFluxnetStore("../shared/data/zarr_sample/fluxnet.zarr");
 * const fr = await store.readSite(store.sites.indexOf("FR-Pue"));
 * console.log(fr.values.nee.length, fr.absent);
 * ```
 */
export async function openFluxnetStore(
  location: string,
  options: OpenStoreOptions = {},
): Promise<FluxnetStore> {
  const bytes = openByteStore(location, options);
  if (!isUrl(location)) {
    const info = await Deno.stat(location).catch(() => null);
    if (!info?.isDirectory) throw new Error(`Zarr store ${location}: no such folder`);
  }
  const store = await zarr.withMaybeConsolidatedMetadata(bytes);
  const root = zarr.root(store);
  const group = await zarr.open.v2(root, { kind: "group" }).catch((error) => {
    if (error instanceof zarr.NotFoundError) {
      throw new Error(`${location} is not a Zarr v2 store (no .zmetadata or .zgroup)`);
    }
    throw error;
  });
  const siteArr = await zarr.open.v2(root.resolve("site"), { kind: "array" });
  const siteData = (await zarr.get(siteArr)).data as unknown;
  if (!(siteData instanceof zarr.UnicodeStringArray)) {
    throw new Error(`${location}: variable "site" is not a unicode string array`);
  }
  const sites = Array.from({ length: siteData.length }, (_, i) => siteData.get(i).trim());
  const timeArr = await zarr.open.v2(root.resolve("time"), { kind: "array" });
  const timeAttrs = TimeAttrsSchema.safeParse(timeArr.attrs);
  if (!timeAttrs.success) throw new Error(`${location}: time has no CF "units" attribute`);
  const timeRaw = (await zarr.get(timeArr)).data as ArrayLike<number | bigint>;
  const timeMinutes = decodeCfTime(timeRaw, timeAttrs.data.units, timeAttrs.data.calendar);

  const variables = {} as Record<StoreVariable, NumArray>;
  for (const name of STORE_VARIABLES) {
    const arr = await openNumeric(root, name);
    if (arr.shape.length !== 2 || arr.shape[0] !== sites.length) {
      throw new Error(
        `store variable ${name}: shape [${arr.shape}] is not (site=${sites.length}, time)`,
      );
    }
    if (arr.shape[1] !== timeMinutes.length) {
      throw new Error(
        `store variable ${name}: ${arr.shape[1]} time steps, time has ${timeMinutes.length}`,
      );
    }
    variables[name] = arr;
  }
  const latArr = await openNumeric(root, "latitude");
  const lonArr = await openNumeric(root, "longitude");

  return {
    location,
    bytes,
    attrs: group.attrs as StoreAttributes,
    sites,
    timeMinutes,
    async readSite(index, opts = {}) {
      const before = { ...bytes.stats };
      const decoded = await Promise.all(STORE_VARIABLES.map(async (name) => {
        const arr = variables[name];
        const chunk = await zarr.get(arr, [index, null], { signal: opts.signal });
        return unpack(arr, chunk.data as ArrayLike<number>, name);
      }));
      const values = {} as Record<StoreVariable, Float64Array>;
      STORE_VARIABLES.forEach((name, k) => values[name] = decoded[k]);
      // The reads run in parallel, so absent chunks are counted from the store's totals.
      const missing = bytes.stats.missing - before.missing;
      const absent: StoreVariable[] = missing === 0
        ? []
        : missing === STORE_VARIABLES.length
        ? [...STORE_VARIABLES]
        : STORE_VARIABLES.filter((name) => values[name].every(Number.isNaN));
      return { values, absent, bytes: bytes.stats.bytes - before.bytes };
    },
    async readCoordinates(index, opts = {}) {
      const sel = [zarr.slice(index, index + 1)];
      const [lat, lon] = await Promise.all([latArr, lonArr].map(async (arr, k) => {
        const got = await zarr.get(arr, sel, { signal: opts.signal });
        return unpack(arr, got.data as ArrayLike<number>, k === 0 ? "latitude" : "longitude")[0];
      }));
      return { lat, lon };
    },
  };
}
