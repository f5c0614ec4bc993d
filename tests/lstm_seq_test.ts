import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend.ts";
import { mulberry32 } from "../lib/models/layers.ts";
import { lstmSequence } from "../lib/models/lstm_seq.ts";
import type { LstmWeights } from "../lib/models/types.ts";

await useBackend("cpu");

function seeded(shape: number[], seed: number, scale = 1): tf.Tensor {
  const next = mulberry32(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = (2 * next() - 1) * scale;
  return tf.tensor(values, shape);
}

function weightsFor(nIn: number, hidden: number, seed: number): LstmWeights {
  return {
    kernel: seeded([nIn, 4 * hidden], seed, 0.6) as tf.Tensor2D,
    recurrent: seeded([hidden, 4 * hidden], seed + 1, 0.6) as tf.Tensor2D,
    bias: seeded([4 * hidden], seed + 2, 0.3) as tf.Tensor1D,
  };
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** tf.layers.lstm with the same weights; output in the original time order. */
function layersLstm(
  x: tf.Tensor3D,
  w: LstmWeights,
  options: { reverse?: boolean; mask?: tf.Tensor2D },
): tf.Tensor3D {
  const hidden = w.recurrent.shape[0];
  const layer = tf.layers.lstm({
    units: hidden,
    returnSequences: true,
    recurrentActivation: "sigmoid",
    goBackwards: options.reverse ?? false,
  });
  const kwargs = options.mask === undefined ? {} : { mask: options.mask };
  // The first call builds the layer (with its own initial weights); then use ours.
  (layer.apply(x, kwargs) as tf.Tensor).dispose();
  layer.setWeights([w.kernel, w.recurrent, w.bias]);
  const out = layer.apply(x, kwargs) as tf.Tensor3D;
  // go_backwards returns the outputs in processing order (t = T-1 first): flip them back.
  const result = options.reverse ? tf.reverse(out, 1) as tf.Tensor3D : out;
  if (result !== out) out.dispose();
  layer.dispose();
  return result;
}

const B = 3, T = 7, IN = 4, H = 5;
// The tests below up to the fused one check the reference implementation (the oracle); the
// default impl is "fused".
const REFERENCE = "reference" as const;
// Sample 0 all steps; sample 1 gaps inside; sample 2 masked at both ends.
const MASK = [
  [1, 1, 1, 1, 1, 1, 1],
  [1, 0, 0, 1, 1, 0, 1],
  [0, 0, 1, 1, 1, 0, 0],
];

for (const reverse of [false, true]) {
  for (const masked of [false, true]) {
    Deno.test(`lstmSequence equals tf.layers.lstm (reverse=${reverse}, mask=${masked})`, () => {
      const x = seeded([B, T, IN], 11) as tf.Tensor3D;
      const w = weightsFor(IN, H, 20);
      const mask = masked ? tf.tensor2d(MASK) : undefined;
      const ours = lstmSequence(x, w, { reverse, mask, impl: REFERENCE });
      const theirs = layersLstm(x, w, { reverse, mask });
      assert.deepEqual(ours.sequence.shape, [B, T, H]);
      assert.deepEqual(ours.last.shape, [B, H]);
      const diff = maxAbsDiff(ours.sequence, theirs);
      assert.ok(diff < 1e-5, `sequence differs from tf.layers.lstm by ${diff}`);
      // `last` is the state after the final processed step.
      const lastStep = reverse ? 0 : T - 1;
      const fromSeq = tf.squeeze(tf.slice(ours.sequence, [0, lastStep, 0], [B, 1, H]), [1]);
      assert.ok(maxAbsDiff(ours.last, fromSeq) < 1e-7);
      // The sequences really differ between options (guards against a vacuous comparison).
      const plain = lstmSequence(x, w, { impl: REFERENCE });
      if (reverse || masked) assert.ok(maxAbsDiff(plain.sequence, ours.sequence) > 1e-3);
      tf.dispose([x, w.kernel, w.recurrent, w.bias, ours.sequence, ours.last, theirs, fromSeq]);
      tf.dispose([plain.sequence, plain.last]);
      if (mask) mask.dispose();
    });
  }
}

Deno.test("lstmSequence: masked steps carry state and output over unchanged", () => {
  const x = seeded([B, T, IN], 3) as tf.Tensor3D;
  const w = weightsFor(IN, H, 30);
  const mask = tf.tensor2d(MASK);
  const { sequence, last } = lstmSequence(x, w, { mask, impl: REFERENCE });
  const seq = sequence.arraySync();
  // Sample 1: steps 1 and 2 masked -> equal to step 0; sample 2: steps 0, 1 masked -> zeros.
  assert.deepEqual(seq[1][1], seq[1][0]);
  assert.deepEqual(seq[1][2], seq[1][0]);
  assert.ok(seq[2][0].every((v) => v === 0) && seq[2][1].every((v) => v === 0));
  // Sample 2 ends masked: last equals the state after step 4.
  assert.deepEqual(last.arraySync()[2], seq[2][4]);
  tf.dispose([x, w.kernel, w.recurrent, w.bias, mask, sequence, last]);
});

Deno.test("lstmSequence: forget-gate column order matches tf.layers.lstm's unitForgetBias", () => {
  const layer = tf.layers.lstm({ units: 2, unitForgetBias: true });
  (layer.apply(tf.zeros([1, 3, 1])) as tf.Tensor).dispose();
  const bias = Array.from(layer.getWeights()[2].dataSync());
  assert.deepEqual(bias, [0, 0, 1, 1, 0, 0, 0, 0]); // i, f, g, o blocks of H = 2
  layer.dispose();
});

Deno.test("lstmSequence: gradients reach kernel, recurrent and bias; no leaks", () => {
  const x = seeded([B, T, IN], 5) as tf.Tensor3D;
  const w = weightsFor(IN, H, 40);
  const vars = {
    kernel: tf.variable(w.kernel),
    recurrent: tf.variable(w.recurrent),
    bias: tf.variable(w.bias),
  };
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const { grads, value } = tf.variableGrads(() =>
      tf.sum(
        lstmSequence(x, {
          kernel: vars.kernel as tf.Tensor2D,
          recurrent: vars.recurrent as tf.Tensor2D,
          bias: vars.bias as tf.Tensor1D,
        }, { reverse: i === 1, impl: REFERENCE }).sequence,
      ) as tf.Scalar, [vars.kernel, vars.recurrent, vars.bias]);
    for (const g of Object.values(grads)) {
      assert.ok(tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]) > 0);
    }
    tf.dispose(grads);
    value.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, w.kernel, w.recurrent, w.bias, vars.kernel, vars.recurrent, vars.bias]);
});

Deno.test("lstmSequence: shape errors name the tensor", () => {
  const x = tf.zeros([2, 3, 4]) as tf.Tensor3D;
  const w = weightsFor(5, 2, 1);
  for (const impl of ["reference", "fused"] as const) {
    assert.throws(() => lstmSequence(x, w, { impl }), /kernel must be \[In=4/);
  }
  const w2 = weightsFor(4, 2, 1);
  for (const impl of ["reference", "fused"] as const) {
    const mask = tf.ones([2, 4]) as tf.Tensor2D;
    assert.throws(() => lstmSequence(x, w2, { mask, impl }), /mask/);
    mask.dispose();
  }
  tf.dispose([x, w.kernel, w.recurrent, w.bias, w2.kernel, w2.recurrent, w2.bias]);
});

Deno.test("lstmSequence: impl fused (the default) equals the reference", () => {
  const x = seeded([B, T, IN], 9) as tf.Tensor3D;
  const w = weightsFor(IN, H, 50);
  const mask = tf.tensor2d(MASK);
  for (const reverse of [false, true]) {
    const ref = lstmSequence(x, w, { reverse, mask, impl: REFERENCE });
    const fused = lstmSequence(x, w, { reverse, mask, impl: "fused" });
    const byDefault = lstmSequence(x, w, { reverse, mask });
    assert.ok(maxAbsDiff(ref.sequence, fused.sequence) < 1e-4);
    assert.ok(maxAbsDiff(ref.last, fused.last) < 1e-4);
    assert.equal(maxAbsDiff(byDefault.sequence, fused.sequence), 0);
    tf.dispose([ref.sequence, ref.last, fused.sequence, fused.last]);
    tf.dispose([byDefault.sequence, byDefault.last]);
  }
  mask.dispose();
  tf.dispose([x, w.kernel, w.recurrent, w.bias]);
});

Deno.test("matMul: same value and gradients as tf.matMul (packed GEMM and fallback shapes)", async () => {
  const { matMul } = await import("../lib/models/kernels/matmul.ts");
  // [m, k, n]: all on tf.matMul (n = 3); all in the GEMM on wasm; the input gradient on
  // tf.matMul (k = 5). On cpu everything runs on tf.matMul.
  const cases = [[5, 4, 3], [13, 16, 24], [13, 5, 16]];
  for (
    const [backend, [m, k, n]] of ["wasm", "cpu"].flatMap((b) => cases.map((c) => [b, c] as const))
  ) {
    await useBackend(backend as "wasm" | "cpu");
    const a = seeded([m, k], 61) as tf.Tensor2D;
    const b = seeded([k, n], 62) as tf.Tensor2D;
    const weight = seeded([m, n], 63);
    const loss =
      (f: (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor2D) => (x: tf.Tensor, y: tf.Tensor) =>
        tf.sum(tf.mul(f(x as tf.Tensor2D, y as tf.Tensor2D), weight));
    const ours = tf.grads(loss(matMul))([a, b]);
    const theirs = tf.grads(loss((x, y) => tf.matMul(x, y)))([a, b]);
    const valueOurs = matMul(a, b), valueTheirs = tf.matMul(a, b);
    const at = `[${m}, ${k}, ${n}] on ${backend}`;
    assert.ok(maxAbsDiff(valueOurs, valueTheirs) < 1e-5, `value ${at}`);
    assert.ok(maxAbsDiff(ours[0], theirs[0]) < 1e-5, `d/da ${at}`);
    assert.ok(maxAbsDiff(ours[1], theirs[1]) < 1e-5, `d/db ${at}`);
    tf.dispose([a, b, weight, valueOurs, valueTheirs, ...ours, ...theirs]);
  }
  await useBackend("cpu"); // the rest of this file runs on cpu
});

Deno.test("lstmSequence gradients equal tf.layers.lstm gradients (mask, reverse)", () => {
  const x = seeded([B, T, IN], 71) as tf.Tensor3D;
  const w = weightsFor(IN, H, 72);
  const mask = tf.tensor2d(MASK);
  const target = seeded([B, T, H], 73);
  const lossOf = (seq: tf.Tensor) => tf.sum(tf.mul(seq, target)) as tf.Scalar;
  const layer = tf.layers.lstm({
    units: H,
    returnSequences: true,
    recurrentActivation: "sigmoid",
    goBackwards: true,
  });
  (layer.apply(x, { mask }) as tf.Tensor).dispose();
  layer.setWeights([w.kernel, w.recurrent, w.bias]);
  const theirs = tf.variableGrads(
    () => lossOf(tf.reverse(layer.apply(x, { mask }) as tf.Tensor3D, 1)),
    layer.trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val),
  );
  const vars = [tf.variable(w.kernel), tf.variable(w.recurrent), tf.variable(w.bias)];
  const ours = tf.variableGrads(() =>
    lossOf(
      lstmSequence(x, {
        kernel: vars[0] as tf.Tensor2D,
        recurrent: vars[1] as tf.Tensor2D,
        bias: vars[2] as tf.Tensor1D,
      }, { reverse: true, mask }).sequence,
    ), vars);
  assert.ok(Math.abs(ours.value.dataSync()[0] - theirs.value.dataSync()[0]) < 1e-4);
  const theirGrads = Object.values(theirs.grads);
  vars.forEach((v, i) => {
    const diff = maxAbsDiff(ours.grads[v.name], theirGrads[i]);
    assert.ok(diff < 1e-4, `gradient ${i} differs by ${diff}`);
  });
  tf.dispose([x, w.kernel, w.recurrent, w.bias, mask, target, ...vars, ours.value, theirs.value]);
  tf.dispose(ours.grads);
  tf.dispose(theirs.grads);
  layer.dispose();
});
