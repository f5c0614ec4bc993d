/**
 * Model weights to and from bytes or JSON, by variable name, with shapes, for run folders and
 * best-epoch snapshots. (Files are written by the trainer, atomically; this module only converts.)
 *
 * Binary layout ("TFXW" v1): 4 bytes magic "TFXW", uint32 little-endian header length n, n bytes
 * of UTF-8 JSON `{ format: "tamflux-weights", version: 1, tensors: [{ name, shape, offset, length }],
 * sha256 }` (offset and length in float32 elements from the start of the data block; `sha256` the
 * hex SHA-256 of the data block), zero padding to a multiple of 4 bytes, then the float32
 * little-endian data. The checksum is checked on decode: a mismatch is an error naming the file.
 * Files written before the checksum existed have no `sha256`; they still load, with one warning
 * per process.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Buffer } from "node:buffer";
import { sha256Hex } from "../data/checksum.ts";
import { z } from "zod";

/** One named tensor's values. */
export interface NamedWeight {
  name: string;
  shape: number[];
  data: Float32Array;
}

const MAGIC = "TFXW";
const FORMAT = "tamflux-weights";

const shapeSchema = z.array(z.number().int().nonnegative());

const BinaryHeaderSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  tensors: z.array(z.object({
    name: z.string().min(1),
    shape: shapeSchema,
    offset: z.number().int().nonnegative(),
    length: z.number().int().nonnegative(),
  })),
  /** SHA-256 (hex) of the data block; absent in files written before it existed. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});

let warnedNoChecksum = false;

/** The JSON form: every tensor's float32 little-endian bytes in base64. */
export const WeightsJsonSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  tensors: z.array(z.object({
    name: z.string().min(1),
    shape: shapeSchema,
    dtype: z.literal("float32"),
    data: z.string(),
  })),
});

/** The JSON form of a weight set. */
export type WeightsJson = z.infer<typeof WeightsJsonSchema>;

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkWeights(weights: NamedWeight[], where: string): void {
  const seen = new Set<string>();
  for (const w of weights) {
    if (seen.has(w.name)) throw new Error(`${where}: duplicate tensor "${w.name}"`);
    seen.add(w.name);
    if (w.data.length !== sizeOf(w.shape)) {
      throw new Error(`${where}: "${w.name}" has ${w.data.length} values for shape [${w.shape}]`);
    }
  }
}

function floatsToBytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

function bytesToFloats(bytes: Uint8Array, offset: number, length: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, length * 4);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/**
 * Copy the current values of named variables (in their order) out of TF.js.
 *
 * @example
 * ```ts
 * import { buildModel, parseModelConfig, readWeights } from "./mod.ts";
 * const model = buildModel(parseModelConfig({ name: "lstm", hidden: 4 }), { nDyn: 2, nStatic: 1 }, { seed: 1 });
 * const snapshot = readWeights(model.variables); // e.g. the best epoch so far
 * model.dispose();
 * ```
 */
export function readWeights(variables: Map<string, tf.Variable>): NamedWeight[] {
  return [...variables].map(([name, variable]) => ({
    name,
    shape: [...variable.shape],
    data: Float32Array.from(variable.dataSync() as Float32Array),
  }));
}

/**
 * Assign weights to named variables, checking shapes. By default (`strict`) every variable must be
 * given and no unknown name may appear; with `strict: false` only the common names are assigned.
 * Returns the names assigned.
 *
 * @example
 * ```ts
 * import { buildModel, parseModelConfig, readWeights, writeWeights } from "./mod.ts";
 * const config = parseModelConfig({ name: "lstm", hidden: 4 });
 * const a = buildModel(config, { nDyn: 2, nStatic: 1 }, { seed: 1 });
 * const b = buildModel(config, { nDyn: 2, nStatic: 1 }, { seed: 2 });
 * writeWeights(b.variables, readWeights(a.variables)); // b now equals a
 * ```
 */
export function writeWeights(
  variables: Map<string, tf.Variable>,
  weights: NamedWeight[],
  options: { strict?: boolean } = {},
): string[] {
  checkWeights(weights, "writeWeights");
  const strict = options.strict ?? true;
  const given = new Map(weights.map((w) => [w.name, w]));
  if (strict) {
    const missing = [...variables.keys()].filter((name) => !given.has(name));
    const unknown = weights.map((w) => w.name).filter((name) => !variables.has(name));
    if (missing.length > 0 || unknown.length > 0) {
      throw new Error(
        `writeWeights: names do not match the model: missing [${missing.join(", ")}], ` +
          `unknown [${unknown.join(", ")}]`,
      );
    }
  }
  const assigned: string[] = [];
  // Check every shape before assigning anything, so a failure leaves the model unchanged.
  for (const [name, variable] of variables) {
    const w = given.get(name);
    if (w !== undefined && w.shape.join(",") !== variable.shape.join(",")) {
      throw new Error(
        `writeWeights: "${name}" has shape [${w.shape}], the model [${variable.shape}]`,
      );
    }
  }
  for (const [name, variable] of variables) {
    const w = given.get(name);
    if (w === undefined) continue;
    tf.tidy(() => variable.assign(tf.tensor(w.data, w.shape, "float32")));
    assigned.push(name);
  }
  return assigned;
}

/**
 * Encode weights in the compact binary layout described in the module doc.
 *
 * @example
 * ```ts
 * import { decodeWeights, encodeWeights } from "./weights.ts";
 * const bytes = encodeWeights([{ name: "head/bias", shape: [3], data: new Float32Array([1, 2, 3]) }]);
 * console.log(decodeWeights(bytes)[0].data); // Float32Array [1, 2, 3]
 * ```
 */
export function encodeWeights(weights: NamedWeight[]): Uint8Array {
  checkWeights(weights, "encodeWeights");
  let offset = 0;
  const tensors = weights.map((w) => {
    const entry = { name: w.name, shape: w.shape, offset, length: w.data.length };
    offset += w.data.length;
    return entry;
  });
  const data = new Uint8Array(offset * 4);
  for (let i = 0; i < weights.length; i++) {
    data.set(floatsToBytes(weights[i].data), tensors[i].offset * 4);
  }
  const header = new TextEncoder().encode(
    JSON.stringify({ format: FORMAT, version: 1, tensors, sha256: sha256Hex(data) }),
  );
  const dataStart = Math.ceil((8 + header.length) / 4) * 4;
  const out = new Uint8Array(dataStart + data.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(4, header.length, true);
  out.set(header, 8);
  out.set(data, dataStart);
  return out;
}

/**
 * Decode the binary layout written by {@linkcode encodeWeights}. `source` names the file in errors.
 *
 * @example
 * ```ts
 * import { decodeWeights, encodeWeights } from "./weights.ts";
 * const back = decodeWeights(encodeWeights([]), { source: "runs/x/weights/best.bin" });
 * console.log(back.length); // 0
 * ```
 */
export function decodeWeights(bytes: Uint8Array, options: { source?: string } = {}): NamedWeight[] {
  const where = `decodeWeights(${options.source ?? "bytes"})`;
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) {
    throw new Error(`${where}: not a tamflux weights file (no "${MAGIC}" magic)`);
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(4, true);
  if (8 + headerLength > bytes.length) throw new Error(`${where}: truncated header`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    throw new Error(`${where}: unreadable header: ${(error as Error).message}`);
  }
  const parsed = BinaryHeaderSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${where}: bad header: ${parsed.error.message}`);
  const dataStart = Math.ceil((8 + headerLength) / 4) * 4;
  const dataEnd = dataStart + 4 * parsed.data.tensors.reduce((n, t) => n + t.length, 0);
  if (parsed.data.sha256 === undefined) {
    if (!warnedNoChecksum) {
      warnedNoChecksum = true;
      console.warn(
        `${where}: the weights file has no checksum (written before checksums existed); ` +
          `loaded unchecked (this warning is shown once)`,
      );
    }
  } else if (dataEnd > bytes.length) {
    throw new Error(`${where}: truncated data (${bytes.length} of ${dataEnd} bytes)`);
  } else if (sha256Hex(bytes.subarray(dataStart, dataEnd)) !== parsed.data.sha256) {
    throw new Error(
      `${where}: checksum mismatch: the SHA-256 of the weights does not match the one recorded ` +
        `in the file (the file is corrupted or was edited)`,
    );
  }
  const weights = parsed.data.tensors.map((t) => {
    if (t.length !== sizeOf(t.shape)) {
      throw new Error(`${where}: "${t.name}" has length ${t.length} for shape [${t.shape}]`);
    }
    const start = dataStart + t.offset * 4;
    if (start + t.length * 4 > bytes.length) throw new Error(`${where}: "${t.name}" is truncated`);
    return { name: t.name, shape: t.shape, data: bytesToFloats(bytes, start, t.length) };
  });
  checkWeights(weights, where);
  return weights;
}

/**
 * The JSON form of a weight set (base64 float32 data), e.g. to embed in another JSON file.
 *
 * @example
 * ```ts
 * import { weightsFromJson, weightsToJson } from "./weights.ts";
 * const json = weightsToJson([{ name: "head/bias", shape: [3], data: new Float32Array([1, 2, 3]) }]);
 * console.log(weightsFromJson(JSON.parse(JSON.stringify(json)))[0].shape); // [3]
 * ```
 */
export function weightsToJson(weights: NamedWeight[]): WeightsJson {
  checkWeights(weights, "weightsToJson");
  return {
    format: FORMAT,
    version: 1,
    tensors: weights.map((w) => ({
      name: w.name,
      shape: w.shape,
      dtype: "float32" as const,
      data: Buffer.from(floatsToBytes(w.data)).toString("base64"),
    })),
  };
}

/**
 * Parse the JSON form written by {@linkcode weightsToJson}. `source` names the file in errors.
 *
 * @example
 * ```ts
 * import { weightsFromJson } from "./weights.ts";
 * const weights = weightsFromJson({ format: "tamflux-weights", version: 1, tensors: [] });
 * ```
 */
export function weightsFromJson(json: unknown, options: { source?: string } = {}): NamedWeight[] {
  const where = `weightsFromJson(${options.source ?? "object"})`;
  const parsed = WeightsJsonSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${where}: ${parsed.error.message}`);
  const weights = parsed.data.tensors.map((t) => {
    const bytes = new Uint8Array(Buffer.from(t.data, "base64"));
    if (bytes.length !== sizeOf(t.shape) * 4) {
      throw new Error(`${where}: "${t.name}" has ${bytes.length} bytes for shape [${t.shape}]`);
    }
    return { name: t.name, shape: t.shape, data: bytesToFloats(bytes, 0, bytes.length / 4) };
  });
  checkWeights(weights, where);
  return weights;
}
