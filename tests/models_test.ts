import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend.ts";
import {
  buildModel,
  countParameters,
  decodeWeights,
  encodeWeights,
  type FluxModel,
  type ModelConfigInput,
  type ModelInput,
  mulberry32,
  parseModelConfig,
  readWeights,
  transferPretrained,
  weightsFromJson,
  weightsToJson,
  writeWeights,
} from "../lib/models/mod.ts";

await useBackend("cpu");

const F = 4, S = 2, B = 3, T = 6, K = 2;
const DIMS = { nDyn: F, nStatic: S };

function seeded(shape: number[], seed: number): tf.Tensor {
  const next = mulberry32(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = 2 * next() - 1;
  return tf.tensor(values, shape);
}

function makeInput(seed: number, steps = T): ModelInput {
  return {
    xDyn: seeded([B, steps, F], seed) as tf.Tensor3D,
    xStatic: seeded([B, S], seed + 1) as tf.Tensor2D,
    support: seeded([B, K, steps + 2, F + S], seed + 2) as tf.Tensor4D,
  };
}

function disposeInput(input: ModelInput): void {
  tf.dispose([input.xDyn, input.xStatic, ...(input.support ? [input.support] : [])]);
}

function build(raw: ModelConfigInput, seed = 1): FluxModel {
  return buildModel(parseModelConfig(raw), DIMS, { seed });
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

// Parameter counts by hand. LSTM layer with input width n and H units: 4H (n + H + 1).
const lstmLayer = (n: number, h: number) => 4 * h * (n + h + 1);
const H = 6, Z = 3, HE = 5;

const TOPOLOGY: { raw: ModelConfigInput; params: number }[] = [
  // Linear(F -> H) + LSTM(H) + head(H -> 3)
  { raw: { name: "lstm", hidden: H }, params: F * H + H + lstmLayer(H, H) + 3 * H + 3 },
  {
    raw: { name: "lstm", hidden: H, layers: 2 },
    params: F * H + H + 2 * lstmLayer(H, H) + 3 * H + 3,
  },
  // Linear(F + S -> H) ...
  { raw: { name: "ctlstm", hidden: H }, params: (F + S) * H + H + lstmLayer(H, H) + 3 * H + 3 },
  // W_d (no bias) + LSTM + W_s, b_s (S -> H) + W_f, b_f (S -> 2H) + head
  {
    raw: { name: "tamlstm", hidden: H },
    params: F * H + lstmLayer(H, H) + (S * H + H) + (S * 2 * H + 2 * H) + 3 * H + 3,
  },
  // encoder: Linear(F + S -> HE) + 2 LSTM(HE) + Linear(HE -> Z); decoder conditioned on Z
  {
    raw: { name: "tamrl", hidden: H, latent: Z, encoderHidden: HE },
    params: ((F + S) * HE + HE) + 2 * lstmLayer(HE, HE) + (HE * Z + Z) +
      F * H + lstmLayer(H, H) + (Z * H + H) + (Z * 2 * H + 2 * H) + 3 * H + 3,
  },
  // encoder width defaults to H
  {
    raw: { name: "tamrl", hidden: H, latent: Z, layers: 2 },
    params: ((F + S) * H + H) + 2 * lstmLayer(H, H) + (H * Z + Z) +
      F * H + 2 * lstmLayer(H, H) + (Z * H + H) + (Z * 2 * H + 2 * H) + 3 * H + 3,
  },
  // (F + S -> 5) + (5 -> 7) + (7 -> 3)
  {
    raw: { name: "mlp", mlpWidths: [5, 7] },
    params: ((F + S) * 5 + 5) + (5 * 7 + 7) + (7 * 3 + 3),
  },
];

for (const { raw, params } of TOPOLOGY) {
  Deno.test(`topology ${JSON.stringify(raw)}: [B, T, 3] and ${params} parameters`, () => {
    const model = build(raw);
    const input = makeInput(100);
    const y = model.apply(input);
    assert.deepEqual(y.shape, [B, T, 3]);
    assert.equal(countParameters(model), params);
    // A different window length works too (nothing is tied to T).
    const input2 = makeInput(200, 9);
    const y2 = model.apply(input2);
    assert.deepEqual(y2.shape, [B, 9, 3]);
    assert.ok(Array.from(y.dataSync()).every(Number.isFinite));
    tf.dispose([y, y2]);
    disposeInput(input);
    disposeInput(input2);
    model.dispose();
  });
}

Deno.test("variable names are stable and shared with the transfer target", () => {
  const lstm = build({ name: "lstm", hidden: H, layers: 2 });
  assert.deepEqual([...lstm.variables.keys()], [
    "decoder/input/kernel",
    "decoder/input/bias",
    "decoder/lstm/kernel",
    "decoder/lstm/recurrent",
    "decoder/lstm/bias",
    "decoder/lstm_1/kernel",
    "decoder/lstm_1/recurrent",
    "decoder/lstm_1/bias",
    "head/kernel",
    "head/bias",
  ]);
  const tamrl = build({ name: "tamrl", hidden: H, latent: Z });
  const names = [...tamrl.variables.keys()];
  assert.ok(names.filter((n) => n.startsWith("encoder/")).length === 10);
  assert.ok(
    names.includes("decoder/film_input/kernel") && names.includes("decoder/film_hidden/bias"),
  );
  assert.equal(tamrl.variables.get("decoder/input/bias"), undefined); // W_d has no bias
  // LSTM bias starts with the forget block at 1.
  const bias = Array.from(lstm.variables.get("decoder/lstm/bias")!.dataSync());
  assert.deepEqual(bias, [...Array(H).fill(0), ...Array(H).fill(1), ...Array(2 * H).fill(0)]);
  lstm.dispose();
  tamrl.dispose();
});

Deno.test("seeded initialisation: same seed same weights, other seed other weights", () => {
  const a = build({ name: "tamrl", hidden: H, latent: Z }, 7);
  const b = build({ name: "tamrl", hidden: H, latent: Z }, 7);
  const c = build({ name: "tamrl", hidden: H, latent: Z }, 8);
  const wa = readWeights(a.variables), wb = readWeights(b.variables), wc = readWeights(c.variables);
  assert.deepEqual(wa, wb);
  const kernel = (ws: typeof wa) => ws.find((w) => w.name === "encoder/input/kernel")!.data;
  assert.notDeepEqual(kernel(wa), kernel(wc));
  // The orthogonal recurrent kernel has orthonormal rows: R R^T = I.
  const r = a.variables.get("decoder/lstm/recurrent")!;
  const gram = tf.tidy(() => tf.matMul(r, r, false, true));
  assert.ok(maxAbsDiff(gram, tf.eye(H)) < 1e-5);
  gram.dispose();
  [a, b, c].forEach((m) => m.dispose());
});

function zeroFilm(model: FluxModel): void {
  for (const [name, v] of model.variables) {
    if (name.startsWith("decoder/film_")) v.assign(tf.zerosLike(v));
  }
}

for (const target of ["tamrl", "tamlstm"] as const) {
  for (const layers of [1, 2]) {
    Deno.test(`FiLM with zero modulation weights: ${target} decoder equals lstm (layers ${layers})`, () => {
      const lstm = build({ name: "lstm", hidden: H, layers }, 1);
      // Give the lstm input bias non-trivial values so the bias folding is exercised.
      const inBias = lstm.variables.get("decoder/input/bias")!;
      inBias.assign(seeded([H], 99) as tf.Tensor1D);
      const tam = build({ name: target, hidden: H, latent: Z, layers }, 2);
      const input = makeInput(300);
      const ref = lstm.apply(input);
      transferPretrained(lstm, tam, { modulation: "keep" });
      const modulated = tam.apply(input); // random FiLM weights: not equal
      assert.ok(maxAbsDiff(ref, modulated) > 1e-3, "random modulation should change the output");
      zeroFilm(tam);
      const plain = tam.apply(input);
      const diff = maxAbsDiff(ref, plain);
      assert.ok(diff < 1e-5, `decoder differs from lstm by ${diff}`);
      // the default transfer zeroes the modulation itself: stage 2 starts at the lstm's function
      const fresh = build({ name: target, hidden: H, latent: Z, layers }, 3);
      transferPretrained(lstm, fresh);
      const started = fresh.apply(input);
      const diffFresh = maxAbsDiff(ref, started);
      assert.ok(diffFresh < 1e-5, `default transfer differs from lstm by ${diffFresh}`);
      fresh.dispose();
      tf.dispose([ref, modulated, plain, started]);
      disposeInput(input);
      lstm.dispose();
      tam.dispose();
    });
  }
}

Deno.test("transferPretrained rejects wrong models and shapes", () => {
  const lstm = build({ name: "lstm", hidden: H });
  const tamrl = build({ name: "tamrl", hidden: H, latent: Z });
  const wide = build({ name: "tamrl", hidden: H + 1, latent: Z });
  const ct = build({ name: "ctlstm", hidden: H });
  assert.throws(() => transferPretrained(tamrl, lstm), /source must be an lstm/);
  assert.throws(() => transferPretrained(lstm, ct), /target must be tamrl or tamlstm/);
  assert.throws(() => transferPretrained(lstm, wide), /hidden\/layers differ/);
  [lstm, tamrl, wide, ct].forEach((m) => m.dispose());
});

Deno.test("tamrl: changing the support windows changes z and the prediction", () => {
  const model = build({ name: "tamrl", hidden: H, latent: Z });
  const input = makeInput(400);
  const other = { ...input, support: seeded(input.support!.shape, 999) as tf.Tensor4D };
  const z1 = model.embed!(input.support!);
  const z2 = model.embed!(other.support);
  assert.deepEqual(z1.shape, [B, Z]);
  assert.ok(maxAbsDiff(z1, z2) > 1e-3);
  const y1 = model.apply(input);
  const y2 = model.apply(other);
  assert.ok(maxAbsDiff(y1, y2) > 1e-4);
  // z is the mean over the K windows of each window's own z.
  const perWindow = [0, 1].map((k) =>
    model.embed!(tf.slice(input.support!, [0, k, 0, 0], [B, 1, -1, -1]) as tf.Tensor4D)
  );
  const mean = tf.div(tf.add(perWindow[0], perWindow[1]), 2);
  assert.ok(maxAbsDiff(z1, mean) < 1e-6);
  // The window order within the support set does not matter.
  const swapped = tf.reverse(input.support!, 1) as tf.Tensor4D;
  const z3 = model.embed!(swapped);
  assert.ok(maxAbsDiff(z1, z3) < 1e-6);
  tf.dispose([z1, z2, z3, y1, y2, mean, swapped, other.support, ...perWindow]);
  disposeInput(input);
  model.dispose();
});

Deno.test("tamrl: gradients reach every encoder weight", () => {
  const model = build({ name: "tamrl", hidden: H, latent: Z });
  const input = makeInput(500);
  const encoderVars = [...model.variables].filter(([n]) => n.startsWith("encoder/"));
  assert.equal(encoderVars.length, 10);
  const { value, grads } = tf.variableGrads(
    () => tf.mean(tf.square(model.apply(input))) as tf.Scalar,
    encoderVars.map(([, v]) => v),
  );
  for (const [name, v] of encoderVars) {
    const g = grads[v.name];
    assert.ok(g !== undefined, `no gradient for ${name}`);
    const norm = tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]);
    assert.ok(norm > 0, `zero gradient for ${name}`);
  }
  tf.dispose(grads);
  value.dispose();
  disposeInput(input);
  model.dispose();
});

Deno.test("dropout only when training, reproducible with a seed", () => {
  const model = build({ name: "lstm", hidden: H, dropout: 0.5 });
  const input = makeInput(600);
  const evalA = model.apply(input);
  const evalB = model.apply(input, { seed: 3 });
  const trainA = model.apply(input, { training: true, seed: 3 });
  const trainB = model.apply(input, { training: true, seed: 3 });
  const trainC = model.apply(input, { training: true, seed: 4 });
  assert.equal(maxAbsDiff(evalA, evalB), 0);
  assert.equal(maxAbsDiff(trainA, trainB), 0);
  assert.ok(maxAbsDiff(trainA, evalA) > 1e-4);
  assert.ok(maxAbsDiff(trainA, trainC) > 1e-4);
  tf.dispose([evalA, evalB, trainA, trainB, trainC]);
  disposeInput(input);
  model.dispose();
});

Deno.test("tf.memory().numTensors is flat across repeated apply and gradient steps", () => {
  const names = ["lstm", "ctlstm", "tamlstm", "tamrl", "mlp"] as const;
  const models = names.map((name) =>
    build({ name, hidden: H, latent: Z, dropout: 0.2, mlpWidths: [5] })
  );
  const input = makeInput(700);
  // One optimizer per model (tf.js Adam keeps its moments by position in the variable list).
  const optimizers = models.map(() => tf.train.adam(1e-3));
  const step = (model: FluxModel, i: number) => {
    const optimizer = optimizers[models.indexOf(model)];
    const y = model.apply(input, { training: i % 2 === 0, seed: i });
    y.dispose();
    optimizer.minimize(
      () => tf.mean(tf.square(model.apply(input, { training: true, seed: i }))) as tf.Scalar,
      false,
      [...model.variables.values()],
    );
    model.embed?.(input.support!).dispose();
  };
  // Warm up once: the optimizer creates its moment variables on the first step.
  models.forEach((m) => step(m, 0));
  const before = tf.memory().numTensors;
  for (let i = 1; i <= 20; i++) models.forEach((m) => step(m, i));
  assert.equal(tf.memory().numTensors, before);
  optimizers.forEach((o) => o.dispose());
  disposeInput(input);
  models.forEach((m) => m.dispose());
});

Deno.test("input errors name the tensor and the expected shape", () => {
  const tamrl = build({ name: "tamrl", hidden: H, latent: Z });
  const input = makeInput(800);
  assert.throws(
    () => tamrl.apply({ xDyn: input.xDyn, xStatic: input.xStatic }),
    /support is required/,
  );
  const bad = tf.zeros([B, K, T, F]) as tf.Tensor4D;
  assert.throws(
    () => tamrl.apply({ ...input, support: bad }),
    /support must be \[B=3, K>=1, T, F\+S=6\]/,
  );
  assert.throws(
    () => tamrl.apply({ ...input, xDyn: tf.zeros([B, T, F + 1]) as tf.Tensor3D }),
    /xDyn must be \[B, T, F=4\]/,
  );
  assert.throws(() => parseModelConfig({ name: "gru" }), /invalid model config: name/);
  assert.throws(() => parseModelConfig({ name: "lstm", dropout: 1 }), /dropout/);
  assert.throws(() => parseModelConfig({ name: "lstm", hiden: 3 }), /hiden|Unrecognized/);
  bad.dispose();
  disposeInput(input);
  tamrl.dispose();
});

Deno.test("weights round-trip through bytes and JSON, and restore the same function", () => {
  const a = build({ name: "tamrl", hidden: H, latent: Z }, 1);
  const b = build({ name: "tamrl", hidden: H, latent: Z }, 2);
  const input = makeInput(900);
  const weights = readWeights(a.variables);
  const bytes = encodeWeights(weights);
  assert.deepEqual(decodeWeights(bytes), weights);
  const json = JSON.parse(JSON.stringify(weightsToJson(weights)));
  assert.deepEqual(weightsFromJson(json), weights);
  const ya = a.apply(input);
  const yb = b.apply(input);
  assert.ok(maxAbsDiff(ya, yb) > 1e-4);
  writeWeights(b.variables, decodeWeights(bytes));
  const yb2 = b.apply(input);
  assert.equal(maxAbsDiff(ya, yb2), 0);
  // Mismatches are refused before anything is assigned.
  const lstm = build({ name: "lstm", hidden: H });
  assert.throws(() => writeWeights(lstm.variables, weights), /names do not match/);
  const wrongShape = weights.map((w) =>
    w.name === "head/bias" ? { ...w, shape: [1, 3], data: w.data } : w
  );
  assert.throws(() => writeWeights(b.variables, wrongShape), /"head\/bias" has shape \[1,3\]/);
  assert.throws(() => decodeWeights(bytes.subarray(0, bytes.length - 4)), /truncated/);
  assert.throws(() => decodeWeights(new Uint8Array(16)), /magic/);
  tf.dispose([ya, yb, yb2]);
  disposeInput(input);
  [a, b, lstm].forEach((m) => m.dispose());
});

Deno.test("cpu and wasm backends give the same predictions and gradients (1e-4)", async () => {
  const run = async (backend: "cpu" | "wasm") => {
    assert.equal(await useBackend(backend), backend);
    const out: Float32Array[] = [];
    for (const name of ["tamrl", "lstm"] as const) {
      const model = build({ name, hidden: 8, latent: 4, layers: 2 }, 5);
      const input = makeInput(1000);
      const y = model.apply(input);
      out.push(y.dataSync() as Float32Array);
      y.dispose();
      // Backpropagation too: the gradients of every variable, concatenated.
      const { value, grads } = tf.variableGrads(
        () => tf.mean(tf.square(model.apply(input))) as tf.Scalar,
        [...model.variables.values()],
      );
      assert.equal(Object.keys(grads).length, model.variables.size);
      out.push(Float32Array.from(Object.values(grads).flatMap((g) => Array.from(g.dataSync()))));
      tf.dispose(grads);
      value.dispose();
      disposeInput(input);
      model.dispose();
    }
    return out;
  };
  const cpu = await run("cpu");
  const wasm = await run("wasm");
  await useBackend("cpu");
  for (let m = 0; m < cpu.length; m++) {
    let diff = 0;
    for (let i = 0; i < cpu[m].length; i++) diff = Math.max(diff, Math.abs(cpu[m][i] - wasm[m][i]));
    assert.ok(diff < 1e-4, `output ${m}: cpu and wasm differ by ${diff}`);
    assert.ok(cpu[m].some((v) => v !== 0));
  }
});

Deno.test("lstmImpl fused (the default): same predictions as the reference", () => {
  const raw = { name: "tamrl" as const, hidden: H, latent: Z, layers: 2 };
  assert.equal(parseModelConfig(raw).lstmImpl, "fused");
  const ref = build({ ...raw, lstmImpl: "reference" }, 3);
  const fused = build(raw, 3);
  const input = makeInput(1100);
  const a = ref.apply(input);
  const b = fused.apply(input);
  const diff = maxAbsDiff(a, b);
  assert.ok(diff < 1e-4, `fused differs from reference by ${diff}`);
  tf.dispose([a, b]);
  disposeInput(input);
  ref.dispose();
  fused.dispose();
});
