/**
 * The monthly MetaFlux CSVs (`<SITE>_MM.csv`: monthly FLUXNET2015 + MODIS LAI/EVI; Nathaniel et
 * al. 2023, MIT) from the public GitHub repository `leap-stc/metaflux`, or from a local folder.
 *
 * Remote: one GitHub API call lists the repository tree
 * (`/repos/<repo>/git/trees/<ref>?recursive=1`), then each file is downloaded from
 * `raw.githubusercontent.com`. The files live in subfolders of `metaflux/data/sample/`
 * (`base/`, `target/`, `train/`, `test/`) and `metaflux/data/encoder/` (`train/`, `test/`); a site
 * found in several folders is taken from the first folder listed.
 *
 * @module
 */
import { join, relative } from "node:path";
import { removeStaleTemps, writeFileAtomic } from "../atomic.ts";
import {
  type ByteStore,
  CountingStore,
  isUrl,
  type OpenStoreOptions,
  type StoreKey,
} from "./store.ts";

/** The MetaFlux repository on GitHub. */
export const METAFLUX_REPO = "leap-stc/metaflux";
/** Folders searched for `<SITE>_MM.csv`, in order of preference. */
export const METAFLUX_FOLDERS: readonly string[] = [
  "metaflux/data/sample/",
  "metaflux/data/encoder/",
];
/** GitHub's API and raw-file hosts (overridable for tests with a local server). */
export const GITHUB_API = "https://api.github.com";
export const GITHUB_RAW = "https://raw.githubusercontent.com";

const MM_NAME = /(?:^|\/)([A-Za-z]{2}-[A-Za-z0-9]{3})_MM\.csv$/;

/** Options of {@linkcode fetchMetaflux}. */
export interface MetafluxOptions extends OpenStoreOptions {
  /** Local folder (searched recursively) or a GitHub repository URL
   * (`https://github.com/<owner>/<repo>[/tree/<ref>]`). Default the MetaFlux repository. */
  source?: string;
  /** Repository folders to search (remote only). Default {@linkcode METAFLUX_FOLDERS}. */
  folders?: readonly string[];
  /** Base URLs of the GitHub API and raw files. */
  githubApi?: string;
  githubRaw?: string;
  signal?: AbortSignal;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What {@linkcode fetchMetaflux} did. */
export interface MetafluxReport {
  /** Where the files came from. */
  source: string;
  written: string[];
  /** Sites whose file was already in the output folder. */
  skipped: string[];
  /** Requested sites without a MetaFlux file. */
  missing: string[];
  /** Sites found in more than one folder (the first was used). */
  duplicates: string[];
  bytes: number;
}

/** Reads absolute http(s) URLs with `fetch`: 404 -> undefined, other failures throw. */
class UrlStore implements ByteStore {
  readonly #base: string;
  constructor(base: string) {
    this.#base = base.replace(/\/$/, "");
  }
  async get(key: StoreKey, options: { signal?: AbortSignal } = {}) {
    const response = await fetch(this.#base + key, {
      signal: options.signal,
      headers: { "User-Agent": "tamflux-data-fetch" },
    });
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`Unexpected response status ${response.status} ${response.statusText}`);
    }
    return new Uint8Array(await response.arrayBuffer());
  }
}

interface Source {
  /** site -> how to read its file */
  files: Map<string, () => Promise<Uint8Array>>;
  duplicates: string[];
  stores: CountingStore[];
}

async function walk(dir: string, out: string[]): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) await walk(path, out);
    else if (entry.isFile) out.push(path);
  }
}

async function localSource(folder: string): Promise<Source> {
  const paths: string[] = [];
  try {
    await walk(folder, paths);
  } catch (error) {
    throw new Error(`MetaFlux source folder ${folder} cannot be read: ${(error as Error).message}`);
  }
  paths.sort((a, b) => relative(folder, a).localeCompare(relative(folder, b)));
  const files = new Map<string, () => Promise<Uint8Array>>();
  const duplicates: string[] = [];
  for (const path of paths) {
    const m = MM_NAME.exec(path);
    if (!m) continue;
    if (files.has(m[1])) duplicates.push(m[1]);
    else files.set(m[1], () => Deno.readFile(path));
  }
  return { files, duplicates, stores: [] };
}

function parseRepo(url: string): { repo: string; ref: string } {
  const m = /^https?:\/\/github\.com\/([^/]+\/[^/]+?)(?:\.git)?(?:\/tree\/([^/]+))?\/?$/.exec(url);
  if (!m) {
    throw new Error(
      `MetaFlux source ${url}: expected https://github.com/<owner>/<repo>[/tree/<ref>] or a folder`,
    );
  }
  return { repo: m[1], ref: m[2] ?? "HEAD" };
}

async function remoteSource(url: string, opts: MetafluxOptions): Promise<Source> {
  const { repo, ref } = parseRepo(url);
  const options = {
    ...opts,
    offlineHint: "To use a local copy of the MetaFlux files, pass --metaflux <folder>; " +
      "to skip them, --no-metaflux.",
  };
  const api = new CountingStore(
    new UrlStore(options.githubApi ?? GITHUB_API),
    options.githubApi ?? GITHUB_API,
    options,
  );
  const raw = new CountingStore(
    new UrlStore(options.githubRaw ?? GITHUB_RAW),
    options.githubRaw ?? GITHUB_RAW,
    options,
  );
  const listingKey: StoreKey = `/repos/${repo}/git/trees/${ref}?recursive=1`;
  const listing = await api.get(listingKey, { signal: options.signal });
  if (!listing) throw new Error(`MetaFlux: repository ${repo} at ${ref} not found on GitHub`);
  const tree = JSON.parse(new TextDecoder().decode(listing)) as {
    tree?: { path: string; type: string }[];
    truncated?: boolean;
  };
  if (!Array.isArray(tree.tree)) throw new Error(`MetaFlux: unexpected GitHub tree listing`);
  if (tree.truncated) options.log?.(`MetaFlux: GitHub listing of ${repo} is truncated`);
  const folders = options.folders ?? METAFLUX_FOLDERS;
  const files = new Map<string, () => Promise<Uint8Array>>();
  const duplicates: string[] = [];
  for (const folder of folders) {
    const inFolder = tree.tree
      .filter((e) => e.type === "blob" && e.path.startsWith(folder) && MM_NAME.test(e.path))
      .map((e) => e.path)
      .sort();
    for (const path of inFolder) {
      const site = MM_NAME.exec(path)![1];
      if (files.has(site)) {
        duplicates.push(site);
        continue;
      }
      const key: StoreKey = `/${repo}/${ref}/${path}`;
      files.set(site, async () => {
        const bytes = await raw.get(key, { signal: options.signal });
        if (!bytes) throw new Error(`MetaFlux: ${options.githubRaw ?? GITHUB_RAW}${key} not found`);
        return bytes;
      });
    }
  }
  return { files, duplicates, stores: [api, raw] };
}

/**
 * Copy or download the MetaFlux monthly file of each site into `outDir` as `<SITE>_MM.csv`
 * (atomically; files already there are kept).
 *
 * @example
 * ```ts
 * import { fetchMetaflux } from "./metaflux.ts";
 * const report = await fetchMetaflux(["FR-Pue"], "cache/demo/metaflux_monthly", {
 *   source: "../shared/data/metaflux_monthly",
 * });
 * console.log(report.written, report.missing);
 * ```
 */
export async function fetchMetaflux(
  sites: readonly string[],
  outDir: string,
  options: MetafluxOptions = {},
): Promise<MetafluxReport> {
  const sourceName = options.source ?? `https://github.com/${METAFLUX_REPO}`;
  await Deno.mkdir(outDir, { recursive: true });
  await removeStaleTemps(outDir);
  const report: MetafluxReport = {
    source: sourceName,
    written: [],
    skipped: [],
    missing: [],
    duplicates: [],
    bytes: 0,
  };
  const todo: string[] = [];
  for (const site of sites) {
    try {
      await Deno.stat(join(outDir, `${site}_MM.csv`));
      report.skipped.push(site);
    } catch {
      todo.push(site);
    }
  }
  if (todo.length === 0) return report;
  const source = isUrl(sourceName)
    ? await remoteSource(sourceName, options)
    : await localSource(sourceName);
  report.duplicates = source.duplicates.filter((s) => sites.includes(s));
  for (const site of todo) {
    options.signal?.throwIfAborted();
    const read = source.files.get(site);
    if (!read) {
      report.missing.push(site);
      continue;
    }
    const bytes = await read();
    await writeFileAtomic(join(outDir, `${site}_MM.csv`), bytes);
    report.written.push(site);
    report.bytes += bytes.byteLength;
    options.log?.(
      `MetaFlux ${report.written.length}/${todo.length}: ${site}_MM.csv ` +
        `(${(bytes.byteLength / 1024).toFixed(0)} KB)`,
    );
  }
  return report;
}
