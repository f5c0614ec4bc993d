/**
 * Run folders: `runs/<name>/` with config.json, split.json, scaler.json, static_encoding.json,
 * model.json, weights/ (per stage, best, last), checkpoint.tfw (everything `--resume` needs),
 * log.jsonl (one line per epoch), metrics.json and provenance.json. Every write is atomic: a temp
 * file in the same folder, then a rename. {@link writeRunFolder} writes the files a run starts
 * with, for the train task, the notebooks' run cache and the reproduce units alike, so that every
 * run folder can be loaded by `deno task predict`.
 *
 * @module
 */
import { writeFileAtomic } from "../data/atomic.ts";
import { sha256Hex } from "../data/checksum.ts";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { z } from "zod";
import type { Scaler } from "../data/scaler.ts";
import { saveScaler } from "../data/scaler.ts";
import { saveSplit, type Split } from "../data/splits.ts";
import { buildModel } from "../models/build.ts";
import { ModelConfigSchema } from "../models/config.ts";
import type { FluxModel } from "../models/types.ts";
import { decodeWeights, writeWeights } from "../models/weights.ts";

/** Write a file atomically: write `<path>.<random>.tmp`, then rename it over `path`. */
export async function atomicWrite(path: string, data: string | Uint8Array): Promise<void> {
  await writeFileAtomic(path, data);
}

/**
 * Write a value as pretty JSON, atomically.
 *
 * @example
 * ```ts ignore
 * import { writeJson } from "./runs.ts";
 * await writeJson("runs/demo/metrics.json", { rmse: 1.2 });
 * ```
 */
export async function writeJson(path: string, value: unknown): Promise<void> {
  await atomicWrite(path, JSON.stringify(value, null, 2) + "\n");
}

/** Read a JSON file, with the file name in the error when it is not valid JSON. */
export async function readJson(path: string): Promise<unknown> {
  const text = await Deno.readTextFile(path);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
  }
}

/** JSON with object keys sorted at every level: a canonical text for hashing. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]),
      );
    }
    return v;
  });
}

/**
 * SHA-256 (hex) of the canonical JSON of a config.
 *
 * @example
 * ```ts
 * import { configHash } from "./runs.ts";
 * const hash = await configHash({ b: 1, a: 2 }); // same as for { a: 2, b: 1 }
 * ```
 */
export async function configHash(config: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(canonicalJson(config));
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The hash that identifies a run's config: the whole validated config except `seeds` (a run has
 * one seed, recorded next to the hash), so that `--seed` and `--resume` agree with the file.
 *
 * @example
 * ```ts ignore
 * const hash = await runConfigHash(config);
 * ```
 */
export async function runConfigHash(config: { seeds?: unknown }): Promise<string> {
  return await configHash({ ...config, seeds: undefined });
}

const MAGIC = "TAMFLUXW1\n";

interface TensorEntry {
  name: string;
  shape: number[];
  dtype: "float32" | "int32";
  offset: number;
  length: number;
}

/**
 * Serialise named tensors (and a JSON `meta` value) into one binary blob: a magic line, a 4-byte
 * header length, a JSON header, then the raw little-endian values. float32 and int32 only.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { decodeTensors, encodeTensors } from "./runs.ts";
 * const bytes = encodeTensors(new Map([["w", tf.ones([2, 2])]]), { epoch: 3 });
 * const { tensors, meta } = decodeTensors(bytes);
 * ```
 */
export function encodeTensors(tensors: Map<string, tf.Tensor>, meta: unknown = null): Uint8Array {
  const entries: TensorEntry[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (t.dtype !== "float32" && t.dtype !== "int32") {
      throw new Error(`encodeTensors: "${name}" has dtype ${t.dtype}; only float32/int32`);
    }
    const values = t.dataSync() as Float32Array | Int32Array;
    const bytes = new Uint8Array(
      values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength),
    );
    entries.push({ name, shape: t.shape, dtype: t.dtype, offset, length: bytes.byteLength });
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  const data = new Uint8Array(offset);
  let at = 0;
  for (const c of chunks) {
    data.set(c, at);
    at += c.byteLength;
  }
  const header = new TextEncoder().encode(
    JSON.stringify({ meta, entries, sha256: sha256Hex(data) }),
  );
  const magic = new TextEncoder().encode(MAGIC);
  const out = new Uint8Array(magic.length + 4 + header.length + offset);
  out.set(magic, 0);
  new DataView(out.buffer).setUint32(magic.length, header.length, true);
  out.set(header, magic.length + 4);
  out.set(data, magic.length + 4 + header.length);
  return out;
}

/** Inverse of {@link encodeTensors}. The caller disposes the returned tensors. */
export function decodeTensors(
  bytes: Uint8Array,
  source = "tensor file",
): { tensors: Map<string, tf.Tensor>; meta: unknown } {
  const magic = new TextEncoder().encode(MAGIC);
  const head = new TextDecoder().decode(bytes.subarray(0, magic.length));
  if (head !== MAGIC) throw new Error(`${source}: not a tamflux tensor file (bad magic)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(magic.length, true);
  const start = magic.length + 4;
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(start, start + headerLength)),
  ) as {
    meta: unknown;
    entries: TensorEntry[];
    sha256?: string;
  };
  const base = start + headerLength;
  const end = base + header.entries.reduce((n, e) => Math.max(n, e.offset + e.length), 0);
  if (header.sha256 !== undefined && end <= bytes.byteLength) {
    if (sha256Hex(bytes.subarray(base, end)) !== header.sha256) {
      throw new Error(
        `${source}: checksum mismatch: the SHA-256 of the tensors does not match the one ` +
          `recorded in the file (the file is corrupted or was edited)`,
      );
    }
  }
  const tensors = new Map<string, tf.Tensor>();
  for (const e of header.entries) {
    if (base + e.offset + e.length > bytes.byteLength) {
      throw new Error(`${source}: truncated at tensor "${e.name}"`);
    }
    const raw = bytes.slice(base + e.offset, base + e.offset + e.length).buffer;
    const values = e.dtype === "int32" ? new Int32Array(raw) : new Float32Array(raw);
    tensors.set(e.name, tf.tensor(values, e.shape, e.dtype));
  }
  return { tensors, meta: header.meta };
}

/** Save named tensors to a file, atomically. */
export async function saveTensors(
  path: string,
  tensors: Map<string, tf.Tensor>,
  meta: unknown = null,
): Promise<void> {
  await atomicWrite(path, encodeTensors(tensors, meta));
}

/** Load named tensors from a file written by {@link saveTensors}. */
export async function loadTensors(
  path: string,
): Promise<{ tensors: Map<string, tf.Tensor>; meta: unknown }> {
  return decodeTensors(await Deno.readFile(path), path);
}

/**
 * Copy tensors into variables of the same names; every variable must be present with its shape.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assignVariables } from "./runs.ts";
 * const v = tf.variable(tf.zeros([2]));
 * assignVariables(new Map([["v", v]]), new Map([["v", tf.ones([2])]]));
 * ```
 */
export function assignVariables(
  variables: Map<string, tf.Variable>,
  tensors: Map<string, tf.Tensor>,
  options: { prefix?: string; source?: string } = {},
): void {
  const prefix = options.prefix ?? "";
  for (const [name, v] of variables) {
    const t = tensors.get(prefix + name);
    const where = options.source ? `${options.source}: ` : "";
    if (!t) throw new Error(`${where}no weights for variable "${prefix + name}"`);
    if (t.shape.join(",") !== v.shape.join(",")) {
      throw new Error(`${where}"${prefix + name}" is [${t.shape}], the variable is [${v.shape}]`);
    }
    v.assign(t);
  }
}

/** Clones of variables, keyed by `prefix + name` (the caller disposes them). */
export function snapshotVariables(
  variables: Map<string, tf.Variable>,
  prefix = "",
): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, v] of variables) out.set(prefix + name, tf.keep(v.clone()));
  return out;
}

/** The git commit of the project (with "+dirty" when the tree has changes), or null. */
export async function gitCommit(cwd?: string): Promise<string | null> {
  const run = async (args: string[]) => {
    const out = await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  };
  try {
    const head = await run(["rev-parse", "HEAD"]);
    if (!head) return null;
    const status = await run(["status", "--porcelain", "--untracked-files=no"]);
    return status ? `${head}+dirty` : head;
  } catch {
    return null;
  }
}

/** The files of a run folder. */
export interface RunPaths {
  dir: string;
  config: string;
  split: string;
  scaler: string;
  log: string;
  metrics: string;
  provenance: string;
  checkpoint: string;
  /** static_encoding.json: the static encoding of the training sites (for `deno task predict`). */
  staticEncoding: string;
  /** model.json: what it takes to rebuild the model ({@link RunModelInfo}). */
  model: string;
  weightsDir: string;
  /** `weights/<label>.bin` (lib/models encodeWeights format), e.g. "pretrain_best", "best". */
  weights(label: string): string;
}

/**
 * The paths of the files in a run folder.
 *
 * @example
 * ```ts
 * import { runPaths } from "./runs.ts";
 * const paths = runPaths("runs/quick/tamrl/seed0");
 * console.log(paths.log); // runs/quick/tamrl/seed0/log.jsonl
 * ```
 */
export function runPaths(dir: string): RunPaths {
  return {
    dir,
    config: join(dir, "config.json"),
    split: join(dir, "split.json"),
    scaler: join(dir, "scaler.json"),
    log: join(dir, "log.jsonl"),
    metrics: join(dir, "metrics.json"),
    provenance: join(dir, "provenance.json"),
    checkpoint: join(dir, "checkpoint.tfw"),
    staticEncoding: join(dir, "static_encoding.json"),
    model: join(dir, "model.json"),
    weightsDir: join(dir, "weights"),
    weights: (label: string) => join(dir, "weights", `${label}.bin`),
  };
}

/** Write JSON lines (one record per line), atomically. */
export async function writeJsonl(path: string, records: unknown[]): Promise<void> {
  await atomicWrite(
    path,
    records.map((r) => JSON.stringify(r)).join("\n") + (records.length ? "\n" : ""),
  );
}

/** Read JSON lines; a missing file gives []. */
export async function readJsonl(path: string): Promise<unknown[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return text.split("\n").filter((l) => l.trim()).map((line, i) => {
    try {
      return JSON.parse(line);
    } catch (error) {
      throw new Error(`${path}, line ${i + 1}: not valid JSON (${(error as Error).message})`);
    }
  });
}

/** Whether a file exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

const num3 = z.tuple([z.number(), z.number(), z.number()]);

/** model.json: the model config and the input layout a run's weights belong to. */
export const RunModelInfoSchema = z.object({
  model: ModelConfigSchema,
  dims: z.object({
    nDyn: z.number().int().positive(),
    nStatic: z.number().int().nonnegative(),
    window: z.number().int().positive(),
    supportK: z.number().int().positive(),
  }),
  targetScale: z.object({ mean: num3, std: num3 }),
  /** Days at the end of each window that are predicted (the dataset's stride). */
  lossDays: z.number().int().positive(),
  featureNames: z.object({ dyn: z.array(z.string()), static: z.array(z.string()) }),
});
/** The contents of model.json. */
export type RunModelInfo = z.output<typeof RunModelInfoSchema>;

/**
 * Rebuild a run's model from model.json and one of its weight files (default "best").
 *
 * @example
 * ```ts ignore
 * const { model, info } = await loadRunModel("runs/quick/tamrl/seed0");
 * model.dispose();
 * ```
 */
export async function loadRunModel(
  dir: string,
  options: { label?: string } = {},
): Promise<{ model: FluxModel; info: RunModelInfo }> {
  const paths = runPaths(dir);
  const parsed = RunModelInfoSchema.safeParse(await readJson(paths.model));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${paths.model}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const info = parsed.data;
  const file = paths.weights(options.label ?? "best");
  const weights = decodeWeights(await Deno.readFile(file), { source: file });
  const model = buildModel(info.model, { nDyn: info.dims.nDyn, nStatic: info.dims.nStatic }, {
    seed: 0,
  });
  try {
    writeWeights(model.variables, weights);
  } catch (error) {
    model.dispose();
    throw new Error(`${file}: ${(error as Error).message}`);
  }
  return { model, info };
}

/** What a run folder records about its dataset (lib/data `Dataset` has all of it). */
export interface RunFolderData {
  /** The training source: its input dimensions and target scale go into model.json. */
  train: { dims: RunModelInfo["dims"]; targetScale: RunModelInfo["targetScale"] };
  split: Split;
  scaler: Scaler;
  featureNames: RunModelInfo["featureNames"];
  /** The static encoding of the training sites (static_encoding.json; skipped when absent). */
  staticEncoding?: unknown;
  /** The dataset config; `stride` = the predicted days at the end of each window. */
  config: { stride: number };
}

/**
 * Write the files a run folder starts with, before training: config.json (the run's config, one
 * seed), split.json, scaler.json, static_encoding.json and model.json ({@link RunModelInfo}).
 * Training (`trainModel` with `runDir`) adds weights/, checkpoint.tfw and log.jsonl; the caller
 * adds metrics.json and provenance.json. The train task, `trainOrLoad` and the reproduce units
 * all write run folders through this function, so `loadRunModel` and `deno task predict` read
 * any of them.
 *
 * @example
 * ```ts ignore
 * import { buildDataset } from "../data/dataset.ts";
 * import { writeRunFolder } from "./runs.ts";
 * const ds = await buildDataset(config.data);
 * const { paths, info } = await writeRunFolder("runs/demo/seed0", { config, data: ds });
 * ```
 */
export async function writeRunFolder(
  dir: string,
  run: { config: { model: RunModelInfo["model"] }; data: RunFolderData },
): Promise<{ paths: RunPaths; info: RunModelInfo }> {
  const paths = runPaths(dir);
  const { config, data } = run;
  const info: RunModelInfo = {
    model: config.model,
    dims: data.train.dims,
    targetScale: data.train.targetScale,
    lossDays: data.config.stride,
    featureNames: data.featureNames,
  };
  await writeJson(paths.config, config);
  await saveSplit(paths.split, data.split);
  await saveScaler(paths.scaler, data.scaler);
  if (data.staticEncoding !== undefined) await writeJson(paths.staticEncoding, data.staticEncoding);
  await writeJson(paths.model, info);
  return { paths, info };
}
