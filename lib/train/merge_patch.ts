/**
 * The one config merge of the project: a JSON merge patch (RFC 7386). Used for config patches
 * (`patchConfig`, the notebooks' edits) and for profile overrides and ablation variants
 * (lib/experiments). It lives in lib/train, the lowest floor that patches configs.
 *
 * @module
 */

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Apply `patch` to `target` as a JSON merge patch (RFC 7386): when the patch is an object, each of
 * its keys merges into the target (a target that is not an object counts as `{}`): `null`
 * deletes the key, an object merges recursively, anything else (numbers, strings, arrays)
 * replaces; a patch that is not an object replaces the target. `undefined` (not a JSON value) is
 * treated as absent: a key set to `undefined` leaves the target's value, an `undefined` patch
 * returns the target. Returns a new value; neither input is changed (values taken from the patch
 * are copied).
 *
 * @example
 * ```ts
 * import { mergePatch } from "./merge_patch.ts";
 * mergePatch({ train: { epochs: 5, lr: 1 }, note: "x" }, { train: { epochs: 2 }, note: null });
 * // { train: { epochs: 2, lr: 1 } }
 * ```
 */
export function mergePatch(
  target: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown>;
export function mergePatch(target: unknown, patch: unknown): unknown;
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === undefined) return target;
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
