/**
 * Byte stores for the FLUXNET2015 Zarr store: a zarrita `FetchStore` for `http(s)://` locations,
 * a tiny Deno file store for local copies, and one wrapper used by both that retries failed
 * reads, counts bytes and absent keys, and turns network failures into a clear message.
 * The Zarr format and the blosc/zstd codecs are decoded by zarrita and numcodecs, not here.
 *
 * @module
 */
import * as zarr from "zarrita";
import { join } from "node:path";

/** A key inside a store, always starting with "/" (e.g. "/nee/203.0"). */
export type StoreKey = `/${string}`;

/** The read interface zarrita expects (its `AsyncReadable`). */
export interface ByteStore {
  get(key: StoreKey, options?: { signal?: AbortSignal }): Promise<Uint8Array | undefined>;
}

/** Read counters of a {@linkcode CountingStore}. */
export interface StoreStats {
  /** Bytes received. */
  bytes: number;
  /** Keys read that existed. */
  hits: number;
  /** Keys read that were absent (404 or no such file). */
  missing: number;
  /** Reads that failed at least once and were retried. */
  retries: number;
}

/** Options of {@linkcode openByteStore}. */
export interface OpenStoreOptions {
  /** How many times to retry a failed read (network error, HTTP 5xx/429). Default 3. */
  retries?: number;
  /** First retry delay in milliseconds, doubled after each failure. Default 1000. */
  retryDelayMs?: number;
  /** Give up one HTTP request after this many milliseconds. Default 120000. */
  timeoutMs?: number;
  /** Called before each retry. */
  onRetry?: (key: string, attempt: number, error: Error) => void;
  /** What to suggest when a URL cannot be read (default: pass --store with a local copy). */
  offlineHint?: string;
}

/** Raised when a store cannot be read after all retries (offline, server down, bad path). */
export class StoreUnreachableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnreachableError";
  }
}

/** True when `location` is an http(s) URL rather than a file path. */
export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/**
 * A read-only store over a folder on disk (a local copy of a Zarr store). Absent files read as
 * `undefined`, which zarrita treats as a missing chunk (filled with the fill value).
 *
 * @example
 * ```ts
 * import { DenoFileStore } from "./store.ts";
 * const store = new DenoFileStore("/data/fluxnet.zarr");
 * const bytes = await store.get("/.zmetadata");
 * console.log(bytes?.length);
 * ```
 */
export class DenoFileStore implements ByteStore {
  /** The folder of the store. */
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }
  async get(key: StoreKey): Promise<Uint8Array | undefined> {
    try {
      return await Deno.readFile(join(this.root, ...key.slice(1).split("/")));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  }
}

function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "AbortError") return false;
  // zarrita's FetchStore throws "Unexpected response status 503 ..." for non-404 errors.
  const status = /status (\d{3})/.exec(error.message);
  if (status) {
    const code = Number(status[1]);
    return code >= 500 || code === 429 || code === 408;
  }
  return true; // network errors (TypeError: error sending request, DNS, reset, timeout)
}

/**
 * Wraps a store: retries transient failures with exponential back-off, counts bytes, hits and
 * absent keys, and reports the store location in errors.
 */
export class CountingStore implements ByteStore {
  /** Read counters, updated as reads complete. */
  readonly stats: StoreStats = { bytes: 0, hits: 0, missing: 0, retries: 0 };
  readonly #inner: ByteStore;
  readonly #location: string;
  readonly #options:
    & Required<Omit<OpenStoreOptions, "onRetry" | "offlineHint">>
    & Pick<OpenStoreOptions, "onRetry" | "offlineHint">;

  constructor(inner: ByteStore, location: string, options: OpenStoreOptions = {}) {
    this.#inner = inner;
    this.#location = location;
    this.#options = {
      retries: options.retries ?? 3,
      retryDelayMs: options.retryDelayMs ?? 1000,
      timeoutMs: options.timeoutMs ?? 120_000,
      onRetry: options.onRetry,
      offlineHint: options.offlineHint,
    };
  }

  async get(
    key: StoreKey,
    options: { signal?: AbortSignal } = {},
  ): Promise<Uint8Array | undefined> {
    const { retries, retryDelayMs, timeoutMs, onRetry } = this.#options;
    let lastError: Error | undefined;
    for (let attempt = 0; attempt <= retries; attempt++) {
      options.signal?.throwIfAborted();
      try {
        const timeout = AbortSignal.timeout(timeoutMs);
        const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
        const bytes = await this.#inner.get(key, { signal });
        if (bytes === undefined) this.stats.missing++;
        else {
          this.stats.hits++;
          this.stats.bytes += bytes.byteLength;
        }
        return bytes;
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        lastError = error instanceof Error ? error : new Error(String(error));
        const cause = lastError.cause;
        if (cause instanceof Error && !lastError.message.includes(cause.message)) {
          lastError = new Error(`${lastError.message} (${cause.message})`, { cause: lastError });
        }
        if (!isTransient(error) || attempt === retries) break;
        this.stats.retries++;
        onRetry?.(key, attempt + 1, lastError);
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs * 2 ** attempt));
      }
    }
    const where = `${this.#location.replace(/\/$/, "")}${key}`;
    const hint = isUrl(this.#location)
      ? "Is this machine online and the URL right? " +
        (this.#options.offlineHint ??
          "To read a local copy instead, pass --store <path to fluxnet.zarr>.")
      : "Is the path right and readable?";
    throw new StoreUnreachableError(
      `could not read ${where} after ${retries + 1} attempt(s): ${lastError?.message}. ${hint}`,
      { cause: lastError },
    );
  }
}

/**
 * Open a store location: an `http(s)://` URL gives zarrita's `FetchStore`, anything else a
 * {@linkcode DenoFileStore}; both wrapped in one {@linkcode CountingStore}, so the HTTP and the
 * local path run the same code.
 *
 * @example
 * ```ts
 * import { openByteStore } from "./store.ts";
 * const store = openByteStore("../shared/data/zarr_sample/fluxnet.zarr");
 * await store.get("/.zmetadata");
 * console.log(store.stats.bytes);
 * ```
 */
export function openByteStore(location: string, options: OpenStoreOptions = {}): CountingStore {
  if (isUrl(location)) return new CountingStore(new zarr.FetchStore(location), location, options);
  // A local read that fails is not going to succeed on retry.
  return new CountingStore(new DenoFileStore(location), location, { retries: 0, ...options });
}
