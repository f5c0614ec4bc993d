/**
 * Deterministic seeds derived from a run's seed and a position (stage, epoch, step), so that every
 * random choice of a run — shuffling, dropout, initialisation — is a function of where it happens,
 * and a resumed run makes the same choices as an unbroken one.
 *
 * @module
 */
import { fnv1a } from "../data/random.ts";

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
  // Five bytes per number: the low 32 bits little-endian, then the low byte of the part above 2^32.
  const bytes: number[] = [];
  for (const n of [seed, ...position]) {
    if (!Number.isInteger(n)) throw new Error(`deriveSeed: ${n} is not an integer`);
    const v = n >>> 0;
    bytes.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
    bytes.push(Math.floor(n / 0x100000000) & 0xff);
  }
  let h = fnv1a(bytes);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) & 0x7fffffff;
}
