/**
 * Deterministic seeds derived from a run's seed and a position (stage, epoch, step), so that every
 * random choice of a run — shuffling, dropout, initialisation — is a function of where it happens,
 * and a resumed run makes the same choices as an unbroken one.
 *
 * @module
 */

/**
 * A 31-bit seed derived from a base seed and a position (FNV-1a over the numbers, then a
 * splitmix-style finaliser).
 *
 * @example
 * ```ts
 * import { deriveSeed } from "./seed.ts";
 * const shuffleSeed = deriveSeed(42, 1, 7); // seed 42, stage 1, epoch 7
 * ```
 */
export function deriveSeed(seed: number, ...position: number[]): number {
  let h = 0x811c9dc5;
  for (const n of [seed, ...position]) {
    if (!Number.isInteger(n)) throw new Error(`deriveSeed: ${n} is not an integer`);
    let v = n >>> 0;
    for (let i = 0; i < 4; i++) {
      h ^= v & 0xff;
      h = Math.imul(h, 0x01000193);
      v >>>= 8;
    }
    // also mix the high part of numbers above 2^32
    h ^= Math.floor(n / 0x100000000) & 0xff;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) & 0x7fffffff;
}
