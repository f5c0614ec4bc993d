/**
 * `fetchFluxnet`: build a data folder from public sources — FLUXNET2015 daily files from the
 * public Zarr store, MetaFlux monthly CSVs, and a sites table with the attribution.
 *
 * Restartable: each file is written atomically, so a site whose daily file exists is complete
 * and is skipped on the next run; an interrupted run (signal, Ctrl-C, kill) loses at most the
 * site in progress.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { z } from "zod";
import { PROJECT_ROOT } from "../paths.ts";
import { removeStaleTemps, writeFileAtomic } from "../atomic.ts";
import { dailyCsv } from "./aggregate.ts";
import { dailyFileName, listDailyFiles, siteDaily } from "./fluxnet_daily.ts";
import { fetchMetaflux, METAFLUX_REPO, type MetafluxReport } from "./metaflux.ts";
import {
  attributionNote,
  classesFromMetaflux,
  countryOf,
  dataPolicy,
  type SiteRow,
  sitesCsv,
} from "./sites_table.ts";
import { StoreUnreachableError } from "./store.ts";
import {
  DEFAULT_STORE_URL,
  type FluxnetStore,
  openFluxnetStore,
  STORE_VARIABLES,
} from "./zarr_fluxnet.ts";

const SITE_ID = /^[A-Za-z]{2}-[A-Za-z0-9]{3}$/;

/** Configuration of {@linkcode fetchFluxnet} (validated with zod). */
export const FetchConfigSchema = z.object({
  /** Zarr store URL or local path. */
  store: z.string().min(1).default(DEFAULT_STORE_URL),
  /** Output data folder (gets fluxnet2015/daily, fluxnet2015/sites.csv, metaflux_monthly). */
  out: z.string().min(1).default(join(PROJECT_ROOT, "data")),
  /** Sites to fetch; default every site of the store. */
  sites: z.array(z.string().regex(SITE_ID, "a FLUXNET site id like FR-Pue")).min(1).optional(),
  /** MetaFlux source (GitHub repository URL or local folder), or false to skip MetaFlux. */
  metaflux: z.union([z.string().min(1), z.literal(false)]).default(
    `https://github.com/${METAFLUX_REPO}`,
  ),
  /** Repository folders searched for MetaFlux files. */
  metafluxFolders: z.array(z.string()).optional(),
  /** GitHub API / raw bases (tests point them at a local server). */
  githubApi: z.string().url().optional(),
  githubRaw: z.string().url().optional(),
  /** Retries of a failed download, first delay, and per-request timeout. */
  retries: z.number().int().min(0).max(10).default(3),
  retryDelayMs: z.number().min(0).default(1000),
  timeoutMs: z.number().positive().default(120_000),
  /** Minimum half-hours for a daily mean. */
  minHalfHours: z.number().int().min(1).max(48).default(46),
});

/** Input of {@linkcode fetchFluxnet}: the config plus runtime hooks. */
export type FetchOptions = z.input<typeof FetchConfigSchema> & {
  /** Stop after the site in progress (or abort it); the run can be resumed later. */
  signal?: AbortSignal;
  /** Progress and report lines; default `console.error`. */
  log?: (line: string) => void;
  /** Called after each site (written, skipped, absent or failed). */
  onSite?: (result: SiteResult) => void;
};

/** What happened to one site. */
export interface SiteResult {
  site: string;
  status: "written" | "skipped" | "absent" | "empty" | "failed";
  /** The daily file (written, or found when skipped). */
  file?: string;
  days?: number;
  daysWithData?: number;
  firstYear?: number;
  lastYear?: number;
  timeZone?: string;
  offsetMinutes?: number;
  bytes: number;
  seconds: number;
  message: string;
}

/** What {@linkcode fetchFluxnet} did. */
export interface FetchReport {
  /** True when every selected site was handled, MetaFlux and the sites table were written. */
  ok: boolean;
  interrupted: boolean;
  store: string;
  out: string;
  sites: SiteResult[];
  metaflux?: MetafluxReport;
  metafluxError?: string;
  sitesCsv?: string;
  sitesInTable: number;
  /** Sites of the table without IGBP or KOPPEN_MAIN (no MetaFlux file); the loader needs both. */
  unclassified: string[];
  /** Bytes read from the Zarr store. */
  storeBytes: number;
  seconds: number;
  /** Every report line, in order. */
  lines: string[];
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 90) return `${seconds.toFixed(1)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function offsetText(minutes: number): string {
  const sign = minutes < 0 ? "-" : "+";
  const a = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(a / 60)).padStart(2, "0")}:${
    String(a % 60).padStart(2, "0")
  }`;
}

function isAbort(error: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true ||
    (error instanceof Error && error.name === "AbortError");
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

async function buildSitesRows(
  store: FluxnetStore,
  dailyDir: string,
  metafluxDir: string,
  known: Map<string, { lat: number; lon: number }>,
  signal?: AbortSignal,
): Promise<SiteRow[]> {
  const files = await listDailyFiles(dailyDir);
  const rows: SiteRow[] = [];
  for (const [site, file] of files) {
    let coords = known.get(site);
    const index = store.sites.indexOf(site);
    if (!coords && index >= 0) coords = await store.readCoordinates(index, { signal });
    const mmPath = join(metafluxDir, `${site}_MM.csv`);
    const mm = await readIfExists(mmPath);
    const classes = mm ? classesFromMetaflux(mm, mmPath) : { igbp: null, koppenMain: null };
    const num = (x: number | undefined) =>
      x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(4));
    rows.push({
      SITE_ID: site,
      COUNTRY: countryOf(site),
      LAT: num(coords?.lat),
      LON: num(coords?.lon),
      ELEV: null,
      IGBP: classes.igbp,
      KOPPEN_MAIN: classes.koppenMain,
      KOPPEN: null,
      MAT: null,
      MAP: null,
      P_OVER_PET: null,
      CANOPY_HEIGHT: null,
      WHC: null,
      FIRST_YEAR: file.firstYear,
      LAST_YEAR: file.lastYear,
      DAILY_SOURCE: "hh_aggregated",
      DOI: null,
      DATA_POLICY: dataPolicy(store.attrs),
    });
  }
  return rows;
}

/**
 * Fetch FLUXNET2015 daily files (from the public Zarr store or a local copy), the MetaFlux
 * monthly CSVs and a sites table into `out`. Sites whose chunks are absent from the store get
 * no file and a report line; an unreachable store throws a {@linkcode StoreUnreachableError}
 * with a clear message.
 *
 * @example
 * ```ts
 * import { fetchFluxnet } from "./fetch_fluxnet.ts";
 * const report = await fetchFluxnet({
 *   store: "../shared/data/zarr_sample/fluxnet.zarr",
 *   sites: ["FR-Pue", "AU-Lox"],
 *   out: "cache/fetched",
 *   metaflux: "../shared/data/metaflux_monthly",
 * });
 * console.log(report.sites.map((s) => `${s.site} ${s.status}`));
 * ```
 */
export async function fetchFluxnet(options: FetchOptions = {}): Promise<FetchReport> {
  const { signal, onSite } = options;
  const config = FetchConfigSchema.parse(options);
  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(line);
    (options.log ?? console.error)(line);
  };
  const started = performance.now();
  const out = resolve(config.out);
  const dailyDir = join(out, "fluxnet2015", "daily");
  const metafluxDir = join(out, "metaflux_monthly");

  const storeOptions = {
    retries: config.retries,
    retryDelayMs: config.retryDelayMs,
    timeoutMs: config.timeoutMs,
    onRetry: (key: string, attempt: number, error: Error) =>
      log(`  retry ${attempt}/${config.retries} of ${key}: ${error.message}`),
  };
  let store: FluxnetStore;
  try {
    store = await openFluxnetStore(config.store, storeOptions);
  } catch (error) {
    if (error instanceof StoreUnreachableError) {
      throw new StoreUnreachableError(
        `data:fetch: cannot open the FLUXNET2015 Zarr store ${config.store}: ${error.message}`,
        { cause: error },
      );
    }
    throw error;
  }
  await Deno.mkdir(dailyDir, { recursive: true });
  const stale = (await removeStaleTemps(dailyDir)) +
    (await removeStaleTemps(join(out, "fluxnet2015")));
  if (stale > 0) log(`removed ${stale} temporary file(s) of an interrupted run`);
  const selected = config.sites ?? store.sites;
  const unknown = selected.filter((s) => !store.sites.includes(s));
  if (unknown.length > 0) {
    throw new Error(
      `data:fetch: site(s) ${unknown.join(", ")} not in the store ${config.store} ` +
        `(it has ${store.sites.length} sites, e.g. ${store.sites.slice(0, 5).join(", ")})`,
    );
  }
  const done = await listDailyFiles(dailyDir);
  const already = selected.filter((s) => done.has(s)).length;
  log(
    `data:fetch: store ${config.store} (${store.sites.length} sites, ` +
      `${store.timeMinutes.length} half-hours); ${selected.length} selected, ` +
      `${already} already done; out ${out}`,
  );

  const results: SiteResult[] = [];
  const coords = new Map<string, { lat: number; lon: number }>();
  let interrupted = false;
  let workSeconds = 0;
  let worked = 0;
  for (let i = 0; i < selected.length; i++) {
    const site = selected[i];
    if (signal?.aborted) {
      interrupted = true;
      break;
    }
    const t0 = performance.now();
    let result: SiteResult;
    const existing = done.get(site);
    if (existing) {
      result = {
        site,
        status: "skipped",
        file: existing.path,
        firstYear: existing.firstYear,
        lastYear: existing.lastYear,
        bytes: 0,
        seconds: 0,
        message: `already complete: ${existing.name}`,
      };
    } else {
      try {
        const daily = await siteDaily(store, site, { signal, minHalfHours: config.minHalfHours });
        coords.set(site, { lat: daily.lat, lon: daily.lon });
        const seconds = (performance.now() - t0) / 1000;
        const base = {
          site,
          bytes: daily.bytes,
          timeZone: daily.timeZone,
          offsetMinutes: daily.offsetMinutes,
        };
        if (daily.absent.length === STORE_VARIABLES.length) {
          result = {
            ...base,
            status: "absent",
            seconds,
            message: "no chunks in the store for this site: no file written",
          };
        } else if (!daily.table) {
          result = {
            ...base,
            status: "empty",
            seconds,
            message: `no day with >= ${config.minHalfHours} half-hours: no file written`,
          };
        } else {
          const { table } = daily;
          const name = dailyFileName(site, table.firstYear, table.lastYear);
          const path = join(dailyDir, name);
          await writeFileAtomic(path, dailyCsv(table));
          result = {
            ...base,
            status: "written",
            file: path,
            days: table.days.length,
            daysWithData: table.daysWithData,
            firstYear: table.firstYear,
            lastYear: table.lastYear,
            seconds: (performance.now() - t0) / 1000,
            message: `${name} (${table.days.length} days, ${table.daysWithData} with data; ` +
              `${daily.timeZone} ${offsetText(daily.offsetMinutes ?? 0)}` +
              (daily.absent.length > 0 ? `; absent: ${daily.absent.join(", ")}` : "") + ")",
          };
        }
      } catch (error) {
        if (isAbort(error, signal)) {
          interrupted = true;
          log(`[${i + 1}/${selected.length}] ${site}: interrupted, nothing written`);
          break;
        }
        if (error instanceof StoreUnreachableError) throw error;
        result = {
          site,
          status: "failed",
          bytes: 0,
          seconds: (performance.now() - t0) / 1000,
          message: (error as Error).message,
        };
      }
      workSeconds += result.seconds;
      worked++;
    }
    results.push(result);
    const remaining = selected.slice(i + 1).filter((s) => !done.has(s)).length;
    const eta = worked > 0 ? (workSeconds / worked) * remaining : NaN;
    log(
      `[${i + 1}/${selected.length}] ${site} ${result.status}: ${result.message}` +
        (result.status === "skipped"
          ? ""
          : ` | ${mb(result.bytes)} in ${result.seconds.toFixed(2)} s`) +
        ` | total ${mb(store.bytes.stats.bytes)}, ${
          duration((performance.now() - started) / 1000)
        } | ETA ${remaining === 0 ? "0 s" : duration(eta)}`,
    );
    onSite?.(result);
  }

  const report: FetchReport = {
    ok: false,
    interrupted,
    store: config.store,
    out,
    sites: results,
    sitesInTable: 0,
    unclassified: [],
    storeBytes: store.bytes.stats.bytes,
    seconds: 0,
    lines,
  };
  if (interrupted) {
    log(
      `data:fetch: stopped after ${results.length} of ${selected.length} sites; run again to ` +
        `finish (finished files are kept and skipped)`,
    );
    report.seconds = (performance.now() - started) / 1000;
    return report;
  }

  const withFiles = [
    ...new Set([...done.keys(), ...results.filter((r) => r.file).map((r) => r.site)]),
  ]
    .filter((s) => selected.includes(s));
  if (config.metaflux !== false) {
    try {
      report.metaflux = await fetchMetaflux(withFiles, metafluxDir, {
        source: config.metaflux,
        folders: config.metafluxFolders,
        githubApi: config.githubApi,
        githubRaw: config.githubRaw,
        signal,
        log,
        ...storeOptions,
      });
      const m = report.metaflux;
      log(
        `MetaFlux (${m.source}): ${m.written.length} written, ${m.skipped.length} already there, ` +
          `${m.missing.length} without a MetaFlux file` +
          (m.missing.length > 0 ? ` (${m.missing.join(", ")})` : ""),
      );
    } catch (error) {
      if (isAbort(error, signal)) {
        report.interrupted = true;
        report.seconds = (performance.now() - started) / 1000;
        return report;
      }
      report.metafluxError = (error as Error).message;
      log(`MetaFlux failed: ${report.metafluxError}`);
    }
  }

  const rows = await buildSitesRows(store, dailyDir, metafluxDir, coords, signal);
  report.sitesCsv = join(out, "fluxnet2015", "sites.csv");
  await writeFileAtomic(report.sitesCsv, sitesCsv(rows));
  await writeFileAtomic(
    join(out, "fluxnet2015", "README.md"),
    attributionNote(store.attrs, config.store),
  );
  report.sitesInTable = rows.length;
  const unclassified = rows
    .filter((r) => r.IGBP === null || r.KOPPEN_MAIN === null)
    .map((r) => String(r.SITE_ID));
  report.unclassified = unclassified;
  log(
    `sites table ${report.sitesCsv}: ${rows.length} sites (coordinates from the store; IGBP and ` +
      `KOPPEN_MAIN from MetaFlux; DOI not available from these sources — see ` +
      `fluxnet2015/README.md)`,
  );
  if (unclassified.length > 0) {
    log(
      `WARNING: no IGBP/KOPPEN_MAIN for ${unclassified.join(", ")} (no MetaFlux file); the ` +
        `loader rejects such rows: fill them in sites.csv, or re-run with a --metaflux source ` +
        `that has these sites.`,
    );
  }
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  report.storeBytes = store.bytes.stats.bytes;
  report.seconds = (performance.now() - started) / 1000;
  report.ok = !results.some((r) => r.status === "failed") && report.metafluxError === undefined;
  log(
    `data:fetch: done in ${duration(report.seconds)}, ${mb(report.storeBytes)} read from the ` +
      `store; ${[...counts].map(([k, v]) => `${v} ${k}`).join(", ")}. ` +
      `FLUXNET2015 data CC-BY-4.0: cite Pastorello et al. (2020), Sci Data 7:225, and each site.`,
  );
  return report;
}
