/**
 * A small seeded pseudo-random generator (mulberry32) and helpers, so that splits, shuffles and
 * support sets are reproducible from one integer seed.
 *
 * @module
 */

/** A function returning uniform numbers in [0, 1). */
export type Rng = () => number;

/**
 * The mulberry32 generator started from a raw 32-bit state.
 *
 * @example
 * ```ts
 * import { mulberry32 } from "./random.ts";
 * const next = mulberry32(42);
 * console.log(next() < 1); // true
 * ```
 */
export function mulberry32(state: number): Rng {
  let s = state >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Create a seeded generator (mulberry32 from the seed mixed with the golden-ratio constant).
 *
 * @example
 * ```ts
 * import { seededRng } from "./random.ts";
 * const rng = seededRng(42);
 * const u = rng(); // same value for the same seed, every run
 * ```
 */
export function seededRng(seed: number): Rng {
  return mulberry32((Math.trunc(seed) ^ 0x9e3779b9) >>> 0);
}

/** The 32-bit FNV-1a offset basis (the start value of {@linkcode fnv1a}). */
export const FNV1A_OFFSET = 0x811c9dc5;

/**
 * 32-bit FNV-1a: from `start`, for each unit (a string's UTF-16 code units, or the numbers given),
 * `h = (h ^ unit) * 16777619 mod 2^32`. The one FNV-1a of the library: `deriveSeed` here,
 * `deriveSeed` of lib/train/seed.ts and `seedFor` of lib/models/layers.ts all use it.
 *
 * @example
 * ```ts
 * import { fnv1a } from "./random.ts";
 * console.log(fnv1a("") === 0x811c9dc5); // true
 * console.log(fnv1a("a") === fnv1a([97])); // true
 * ```
 */
export function fnv1a(units: string | ArrayLike<number>, start: number = FNV1A_OFFSET): number {
  let h = start >>> 0;
  const text = typeof units === "string" ? units : null;
  for (let i = 0; i < units.length; i++) {
    h ^= text === null ? (units as ArrayLike<number>)[i] : text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Derive a seed from a base seed and a string (FNV-1a from the offset basis xor the seed), for
 * independent reproducible streams.
 *
 * @example
 * ```ts
 * import { deriveSeed } from "./random.ts";
 * const s = deriveSeed(42, "split:koppen:C");
 * ```
 */
export function deriveSeed(seed: number, label: string): number {
  return fnv1a(label, FNV1A_OFFSET ^ Math.trunc(seed));
}

/**
 * Fisher-Yates shuffle of a copy of `items`.
 *
 * @example
 * ```ts
 * import { seededRng, shuffled } from "./random.ts";
 * const order = shuffled([1, 2, 3, 4], seededRng(1));
 * ```
 */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
  return out;
}

/**
 * A random permutation of 0..n-1 as an Int32Array.
 *
 * @example
 * ```ts
 * import { permutation, seededRng } from "./random.ts";
 * const p = permutation(10, seededRng(3));
 * ```
 */
export function permutation(n: number, rng: Rng): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
  return out;
}
