/**
 * Checksums of file contents: the cache stamps its inputs with them, weight and checkpoint files
 * record them in their headers and check them on load.
 *
 * @module
 */
import { createHash } from "node:crypto";

/**
 * The SHA-256 of bytes (or of a UTF-8 string), as 64 lower-case hex digits.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./checksum.ts";
 * console.log(sha256Hex(new Uint8Array([1, 2, 3])).length); // 64
 * ```
 */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}
