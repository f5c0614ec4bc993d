/**
 * TAM-RL's task-embedding options (lib/models/tamrl.ts, lib/train/predict.ts): z noise and z
 * dropout (training only), an encoder without the static vector, and z over a site's whole
 * support pool at prediction time. Mathematical properties on small models, no training.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend.ts";
import { type SourceData, WindowBatchSource } from "../lib/data/batches.ts";
import { mulberry32 } from "../lib/data/random.ts";
import type { SiteSeries, WindowRef } from "../lib/data/windows.ts";
import {
  buildModel,
  countParameters,
  type FluxModel,
  type ModelConfigInput,
  type ModelInput,
  parseModelConfig,
  tamrlOptions,
} from "../lib/models/mod.ts";
import { type EnsembleDay, poolEmbedding, predictEnsemble } from "../lib/train/mod.ts";

await useBackend("cpu");

const F = 4, S = 2, B = 3, T = 6, K = 2, H = 6, Z = 3;
const DIMS = { nDyn: F, nStatic: S };

function seeded(shape: number[], seed: number): tf.Tensor {
  const next = mulberry32(seed);
  const values = Float32Array.from(
    { length: shape.reduce((a, b) => a * b, 1) },
    () => 2 * next() - 1,
  );
  return tf.tensor(values, shape);
}

function makeInput(seed: number): ModelInput {
  return {
    xDyn: seeded([B, T, F], seed) as tf.Tensor3D,
    xStatic: seeded([B, S], seed + 1) as tf.Tensor2D,
    support: seeded([B, K, T, F + S], seed + 2) as tf.Tensor4D,
  };
}

function disposeInput(input: ModelInput): void {
  tf.dispose([input.xDyn, input.xStatic, input.support!]);
}

function tamrl(options: Omit<ModelConfigInput, "name"> = {}, seed = 1): FluxModel {
  return buildModel(parseModelConfig({ name: "tamrl", hidden: H, latent: Z, ...options }), DIMS, {
    seed,
  });
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Outputs of `model` on `input`: eval, and training with seeds 3, 3, 4. */
function outputs(model: FluxModel, input: ModelInput): tf.Tensor3D[] {
  return [
    model.apply(input),
    model.apply(input, { training: true, seed: 3 }),
    model.apply(input, { training: true, seed: 3 }),
    model.apply(input, { training: true, seed: 4 }),
  ];
}

Deno.test("config: the new fields are absent unless given (same config, same run hash), defaults", () => {
  const plain = parseModelConfig({ name: "tamrl" });
  for (const key of ["zNoise", "zDropout", "encoderStatic", "inferenceSupport"]) {
    assert.ok(!(key in plain), `${key} is not filled in`);
  }
  assert.deepEqual(tamrlOptions(plain), {
    zNoise: 0,
    zDropout: 0,
    encoderStatic: true,
    inferenceSupport: "sampled",
  });
  const set = parseModelConfig({
    name: "tamrl",
    zNoise: 0.2,
    zDropout: 0.1,
    encoderStatic: false,
    inferenceSupport: "all",
  });
  // round-trip through JSON (config.json, model.json)
  assert.deepEqual(parseModelConfig(JSON.parse(JSON.stringify(set))), set);
  assert.deepEqual(tamrlOptions(set), {
    zNoise: 0.2,
    zDropout: 0.1,
    encoderStatic: false,
    inferenceSupport: "all",
  });
  for (
    const bad of [{ zNoise: -1 }, { zDropout: 1 }, { zDropout: -0.1 }, {
      inferenceSupport: "every",
    }, { encoderStatic: "no" }]
  ) {
    assert.throws(() => parseModelConfig({ name: "tamrl", ...bad }), /invalid model config/);
  }
});

Deno.test("zNoise 0 and zDropout 0 give exactly today's outputs, in eval and in training", () => {
  const input = makeInput(10);
  const today = tamrl({ dropout: 0.3 });
  const zeros = tamrl({ dropout: 0.3, zNoise: 0, zDropout: 0 });
  const a = outputs(today, input), b = outputs(zeros, input);
  for (let i = 0; i < a.length; i++) assert.equal(maxAbsDiff(a[i], b[i]), 0, `output ${i}`);
  tf.dispose([...a, ...b]);
  disposeInput(input);
  today.dispose();
  zeros.dispose();
});

Deno.test("zNoise and zDropout have no effect at inference", () => {
  const input = makeInput(20);
  const today = tamrl();
  const noisy = tamrl({ zNoise: 0.5, zDropout: 0.5 });
  const a = today.apply(input), b = noisy.apply(input), c = noisy.apply(input, { seed: 9 });
  assert.equal(maxAbsDiff(a, b), 0);
  assert.equal(maxAbsDiff(a, c), 0);
  tf.dispose([a, b, c]);
  disposeInput(input);
  today.dispose();
  noisy.dispose();
});

for (const options of [{ zNoise: 0.5 }, { zDropout: 0.5 }]) {
  Deno.test(`${JSON.stringify(options)}: training output differs, reproducible for a seed`, () => {
    const input = makeInput(30);
    const today = tamrl();
    const model = tamrl(options);
    const [evalOut, trainA, trainB, trainC] = outputs(model, input);
    const reference = today.apply(input, { training: true, seed: 3 }); // no dropout: = eval
    assert.equal(maxAbsDiff(evalOut, reference), 0);
    assert.ok(maxAbsDiff(trainA, reference) > 1e-4, "training mode changes the output");
    assert.equal(maxAbsDiff(trainA, trainB), 0, "same seed, same output");
    assert.ok(maxAbsDiff(trainA, trainC) > 1e-4, "other seed, other output");
    // gradients still reach the encoder through the noisy / dropped z
    const kernel = model.variables.get("encoder/latent/kernel")!;
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tf.square(model.apply(input, { training: true, seed: 3 }))) as tf.Scalar,
      [kernel],
    );
    assert.ok(tf.tidy(() => tf.sum(tf.abs(grads[kernel.name])).dataSync()[0]) > 0);
    tf.dispose([value, ...Object.values(grads), evalOut, trainA, trainB, trainC, reference]);
    disposeInput(input);
    today.dispose();
    model.dispose();
  });
}

Deno.test("z options leave the decoder's dropout masks alone (own seeds)", () => {
  // zNoise with std ~0 changes z by nothing measurable: the output equals dropout alone
  const input = makeInput(40);
  const today = tamrl({ dropout: 0.5 });
  const tiny = tamrl({ dropout: 0.5, zNoise: 1e-12 });
  const a = today.apply(input, { training: true, seed: 5 });
  const b = tiny.apply(input, { training: true, seed: 5 });
  assert.ok(maxAbsDiff(a, b) < 1e-6);
  tf.dispose([a, b]);
  disposeInput(input);
  today.dispose();
  tiny.dispose();
});

Deno.test("encoderStatic false: encoder input width F, no use of static descriptors", () => {
  const withStatic = tamrl();
  const dynOnly = tamrl({ encoderStatic: false });
  assert.deepEqual(withStatic.variables.get("encoder/input/kernel")!.shape, [F + S, H]);
  assert.deepEqual(dynOnly.variables.get("encoder/input/kernel")!.shape, [F, H]);
  assert.equal(countParameters(withStatic) - countParameters(dynOnly), S * H);
  // every other variable has the same shape and name
  const shapes = (m: FluxModel) =>
    [...m.variables].filter(([n]) => n !== "encoder/input/kernel").map(([n, v]) => [n, v.shape]);
  assert.deepEqual(shapes(dynOnly), shapes(withStatic));
  const input = makeInput(50);
  // other static columns in the support and another xStatic: same z, same prediction
  const otherStatic: ModelInput = {
    xDyn: input.xDyn,
    xStatic: seeded([B, S], 777) as tf.Tensor2D,
    support: tf.concat([
      tf.slice(input.support!, [0, 0, 0, 0], [-1, -1, -1, F]),
      seeded([B, K, T, S], 778),
    ], 3) as tf.Tensor4D,
  };
  const y1 = dynOnly.apply(input), y2 = dynOnly.apply(otherStatic);
  assert.deepEqual(y1.shape, [B, T, 3]);
  assert.equal(maxAbsDiff(y1, y2), 0);
  const z1 = dynOnly.embed!(input.support!), z2 = dynOnly.embed!(otherStatic.support!);
  assert.deepEqual(z1.shape, [B, Z]);
  assert.equal(maxAbsDiff(z1, z2), 0);
  // with the static vector (the default) the encoder does see it
  const w1 = withStatic.apply(input), w2 = withStatic.apply(otherStatic);
  assert.ok(maxAbsDiff(w1, w2) > 1e-5);
  tf.dispose([y1, y2, z1, z2, w1, w2, otherStatic.xStatic, otherStatic.support!]);
  disposeInput(input);
  withStatic.dispose();
  dynOnly.dispose();
});

Deno.test("input.z replaces the encoder: apply with embed(support) equals apply with support", () => {
  const model = tamrl();
  const input = makeInput(60);
  const z = model.embed!(input.support!);
  const a = model.apply(input);
  const b = model.apply({ xDyn: input.xDyn, xStatic: input.xStatic, z });
  assert.equal(maxAbsDiff(a, b), 0);
  assert.throws(
    () => model.apply({ xDyn: input.xDyn, xStatic: input.xStatic, z: tf.zeros([B, Z + 1]) }),
    /z must be \[B=3, Z=3\]/,
  );
  tf.dispose([z, a, b]);
  disposeInput(input);
  model.dispose();
});

// ---- inferenceSupport "all" on a WindowBatchSource -------------------------------------------

const W = 8, STRIDE = 4, KS = 3;

function series(site: number, n: number): SiteSeries {
  const next = mulberry32(100 + site);
  return {
    site: `S${site}`,
    days: Int32Array.from({ length: n }, (_, i) => 15000 + i),
    dyn: Float32Array.from({ length: n * F }, () => 2 * next() - 1),
    nDyn: F,
    y: new Float32Array(n * 3).fill(0.5),
    qc: new Float32Array(n).fill(1),
  };
}

/**
 * Site 0: pool = exactly KS windows at the start (rows 0, W, 2W), queries after them, so every
 * sampled support set is those KS windows; site 1: a pool of 7 windows over its whole record.
 */
function sourceData(order: "forward" | "reverse" = "forward"): SourceData {
  const s0 = series(0, 80), s1 = series(1, 60);
  const pool0: WindowRef[] = [0, 1, 2].map((i) => ({ series: 0, start: i * W }));
  const pool1: WindowRef[] = Array.from({ length: 7 }, (_, i) => ({ series: 1, start: i * W }));
  const windows: WindowRef[] = [];
  for (let start = 3 * W; start + W <= 80; start += STRIDE) windows.push({ series: 0, start });
  for (let start = 0; start + W <= 60; start += STRIDE) windows.push({ series: 1, start });
  if (order === "reverse") windows.reverse();
  return {
    series: [s0, s1],
    statics: [Float32Array.of(0.3, -1), Float32Array.of(-0.5, 1)],
    weights: [1, 1],
    windows,
    pools: [pool0, pool1],
  };
}

function source(order: "forward" | "reverse" = "forward"): WindowBatchSource {
  return new WindowBatchSource(sourceData(order), {
    window: W,
    stride: STRIDE,
    supportK: KS,
    nStatic: S,
    targetScale: { mean: [1, 2, 0], std: [2, 1, 1] },
    role: "test",
  });
}

const keyed = (days: EnsembleDay[]) => new Map(days.map((d) => [`${d.site}|${d.date}`, d]));

function maxDayDiff(a: EnsembleDay[], b: EnsembleDay[]): number {
  const mb = keyed(b);
  assert.equal(a.length, b.length);
  let max = 0;
  for (const d of a) {
    const e = mb.get(`${d.site}|${d.date}`)!;
    for (const k of ["GPP", "RECO", "NEE"] as const) max = Math.max(max, Math.abs(d[k] - e[k]));
  }
  return max;
}

Deno.test("all: a pool of exactly K windows gives the sampled prediction (support = those K)", () => {
  const sampled = tamrl({ latent: Z });
  const all = tamrl({ latent: Z, inferenceSupport: "all" });
  const src = source();
  const a = predictEnsemble([sampled], src, { lossDays: STRIDE }).days.filter((d) =>
    d.site === "S0"
  );
  const b = predictEnsemble([all], src, { lossDays: STRIDE }).days.filter((d) => d.site === "S0");
  assert.ok(a.length > 20);
  assert.ok(maxDayDiff(a, b) < 1e-5, `max diff ${maxDayDiff(a, b)}`);
  // site 1 (pool of 7 > K): the pooled z differs from the sampled ones
  const c = predictEnsemble([sampled], src, { lossDays: STRIDE }).days.filter((d) =>
    d.site === "S1"
  );
  const d = predictEnsemble([all], src, { lossDays: STRIDE }).days.filter((d) => d.site === "S1");
  assert.ok(maxDayDiff(c, d) > 1e-5);
  sampled.dispose();
  all.dispose();
});

Deno.test("all: pool z = the encoder over the whole pool, for any chunk size", () => {
  const model = tamrl({ inferenceSupport: "all" });
  const src = source();
  const [whole] = [...src.poolWindows("S1", { chunk: 100 })];
  assert.deepEqual(whole.shape, [1, 7, W, F + S]);
  const direct = model.embed!(whole);
  for (const chunk of [1, 2, 3, 7, 64]) {
    const z = poolEmbedding(model, src, "S1", { chunk })!;
    assert.ok(maxAbsDiff(z, direct) < 1e-6, `chunk ${chunk}`);
    z.dispose();
  }
  assert.equal(poolEmbedding(model, src, "nowhere", { chunk: 4 }), null);
  tf.dispose([whole, direct]);
  model.dispose();
});

Deno.test("all: predictions do not depend on batch size, window order or chunk size", () => {
  const model = tamrl({ inferenceSupport: "all" });
  const reference = predictEnsemble([model], source(), { lossDays: STRIDE }).days;
  for (
    const [src, batchSize, poolChunk] of [
      [source(), 1, 64],
      [source(), 5, 2],
      [source("reverse"), 3, 64],
      [source("reverse"), 256, 1],
    ] as const
  ) {
    const days = predictEnsemble([model], src, { lossDays: STRIDE, batchSize, poolChunk }).days;
    assert.ok(maxDayDiff(days, reference) < 1e-5, `batch ${batchSize}, chunk ${poolChunk}`);
  }
  model.dispose();
});

Deno.test("all: a mixed ensemble (sampled and all members) is the mean of its members", () => {
  const sampled = tamrl({}, 2);
  const all = tamrl({ inferenceSupport: "all" }, 3);
  const src = source();
  const a = predictEnsemble([sampled], src, { lossDays: STRIDE }).days;
  const b = predictEnsemble([all], src, { lossDays: STRIDE }).days;
  const both = predictEnsemble([sampled, all], src, { lossDays: STRIDE }).days;
  for (let i = 0; i < both.length; i += 5) {
    assert.ok(Math.abs(both[i].NEE - (a[i].NEE + b[i].NEE) / 2) < 1e-5);
  }
  sampled.dispose();
  all.dispose();
});

Deno.test("all: tf.memory().numTensors is flat across repeated prediction calls", () => {
  const model = tamrl({ inferenceSupport: "all", encoderStatic: false });
  const sampled = tamrl({}, 4);
  const src = source();
  predictEnsemble([model, sampled], src, { lossDays: STRIDE, poolChunk: 2 });
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) {
    predictEnsemble([model, sampled], src, { lossDays: STRIDE, batchSize: 4, poolChunk: 2 });
  }
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
  sampled.dispose();
});

Deno.test("all: a site without pool windows falls back to its sampled support", () => {
  const data = sourceData();
  data.pools = [data.pools[0], []];
  const src = new WindowBatchSource(data, {
    window: W,
    stride: STRIDE,
    supportK: KS,
    nStatic: S,
    targetScale: { mean: [0, 0, 0], std: [1, 1, 1] },
    role: "test",
  });
  const sampled = tamrl();
  const all = tamrl({ inferenceSupport: "all" });
  const a = predictEnsemble([sampled], src, { lossDays: STRIDE }).days.filter((d) =>
    d.site === "S1"
  );
  const b = predictEnsemble([all], src, { lossDays: STRIDE }).days.filter((d) => d.site === "S1");
  assert.ok(a.length > 0);
  assert.equal(maxDayDiff(a, b), 0);
  sampled.dispose();
  all.dispose();
});
