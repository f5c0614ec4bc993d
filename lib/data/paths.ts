/**
 * Where the data live. tamflux looks, in order, at the folder named by the `TAMFLUX_DATA`
 * environment variable, at `../shared/data` beside the project, and at the project's own `data/`.
 * A folder counts when it holds `fluxnet2015/sites.csv`.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The project root (the folder holding deno.json). */
export const PROJECT_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The paths of every data source inside one data folder. */
export interface DataPaths {
  /** The data folder itself. */
  root: string;
  /** How it was found. */
  foundBy: "TAMFLUX_DATA" | "../shared/data" | "data/" | "argument";
  /** Daily FLUXNET2015-layout files, one per site (`FLX_<SITE>_FLUXNET2015_*_DD_*.csv`). */
  daily: string;
  /** Original FLUXNET2015 SUBSET/FULLSET DD files (may be absent). */
  officialDd: string;
  /** The site table. */
  sitesCsv: string;
  /** Monthly MetaFlux files with MODIS LAI/EVI, `<SITE>_MM.csv`. */
  metafluxMonthly: string;
  /** FLUXCOM-X-BASE monthly extracts at four towers (may be absent). */
  xbaseMonthly: string;
  /** Small fixture files for unit tests (may be absent). */
  fixtures: string;
}

/** What to download, printed when no data folder is found. */
export const DATA_HELP: string = `tamflux could not find its data.
It looks, in order, at:
  1. the folder in the TAMFLUX_DATA environment variable,
  2. ../shared/data (beside the project folder),
  3. data/ inside the project.
A data folder must contain:
  fluxnet2015/sites.csv          one row per site: SITE_ID, LAT, LON, IGBP, KOPPEN_MAIN, ... , DOI
  fluxnet2015/daily/             FLUXNET2015 daily files, FLX_<SITE>_FLUXNET2015_<SET>_DD_<years>_<ver>.csv
                                 (download the SUBSET or FULLSET zip of each site from
                                 https://fluxnet.org/data/fluxnet2015-dataset/ and keep the *_DD_* file)
  metaflux_monthly/<SITE>_MM.csv monthly MODIS LAI/EVI (MetaFlux, Nathaniel et al. 2023,
                                 https://github.com/leap-stc/metaflux, folder metaflux/data/sample/)
Put them under data/ in the project, or point TAMFLUX_DATA at the folder.
Or let tamflux build them from the public FLUXNET2015 Zarr store (about 220 MB, a few minutes):
  deno task data:fetch            (writes data/fluxnet2015/ and data/metaflux_monthly/)`;

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function pathsOf(root: string, foundBy: DataPaths["foundBy"]): DataPaths {
  return {
    root,
    foundBy,
    daily: join(root, "fluxnet2015", "daily"),
    officialDd: join(root, "fluxnet2015", "official_dd"),
    sitesCsv: join(root, "fluxnet2015", "sites.csv"),
    metafluxMonthly: join(root, "metaflux_monthly"),
    xbaseMonthly: join(root, "xbase_monthly"),
    fixtures: join(root, "fixtures"),
  };
}

/**
 * Find the data folder, or throw an error that says what to download and where to put it.
 *
 * @example
 * ```ts
 * import { resolveDataDir } from "./paths.ts";
 * const paths = resolveDataDir();
 * console.log(paths.daily);
 * ```
 */
export function resolveDataDir(options: { dataDir?: string } = {}): DataPaths {
  const candidates: [string, DataPaths["foundBy"]][] = [];
  if (options.dataDir) candidates.push([resolve(options.dataDir), "argument"]);
  const env = Deno.env.get("TAMFLUX_DATA");
  if (env) candidates.push([resolve(env), "TAMFLUX_DATA"]);
  candidates.push([resolve(PROJECT_ROOT, "..", "shared", "data"), "../shared/data"]);
  candidates.push([resolve(PROJECT_ROOT, "data"), "data/"]);
  for (const [root, how] of candidates) {
    if (exists(join(root, "fluxnet2015", "sites.csv"))) return pathsOf(root, how);
    if ((how === "argument" || how === "TAMFLUX_DATA")) {
      throw new Error(
        `tamflux: ${how === "argument" ? "the data folder" : "TAMFLUX_DATA"} points at ${root}, ` +
          `which has no fluxnet2015/sites.csv.\n\n${DATA_HELP}`,
      );
    }
  }
  throw new Error(DATA_HELP);
}

/** The project's folder for caches (ignored by git). */
export function cacheDir(): string {
  return Deno.env.get("TAMFLUX_CACHE") ?? join(PROJECT_ROOT, "cache");
}
