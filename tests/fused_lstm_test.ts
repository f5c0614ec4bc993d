/**
 * The fused LSTM against the plain `tf.layers.lstm` (same weights): outputs and gradients w.r.t.
 * x, kernel, recurrent kernel and bias within 1e-4 on random inputs, both directions, with and
 * without masks, on the wasm and the cpu backend; plus memory hygiene and input checks.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { type BackendName, useBackend } from "../lib/backend.ts";
import { fusedLstmKernels, lstmSequenceFused } from "../lib/models/kernels/fused_lstm.ts";

const TOL = 1e-4;

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const x = a.dataSync(), y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

interface Case {
  batch: number;
  steps: number;
  nIn: number;
  hidden: number;
  reverse: boolean;
  masked: boolean;
  seed: number;
}

/** A 0/1 mask with zeros at the start, in the middle, at the end, and a fully masked row. */
function makeMask(batch: number, steps: number, seed: number): tf.Tensor2D {
  const values = new Float32Array(batch * steps);
  let s = seed;
  for (let i = 0; i < values.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    values[i] = s / 2147483648 < 0.3 ? 0 : 1;
  }
  for (let t = 0; t < steps; t++) values[t] = t < 2 || t === steps - 1 ? 0 : 1; // row 0
  if (batch > 2) { for (let t = 0; t < steps; t++) values[2 * steps + t] = 0; // row 2: all masked
   }
  return tf.tensor2d(values, [batch, steps]);
}

function compare(c: Case): void {
  tf.tidy(() => {
    const { batch, steps, nIn, hidden, reverse, masked, seed } = c;
    const x = tf.randomNormal([batch, steps, nIn], 0, 1, "float32", seed) as tf.Tensor3D;
    const kernel = tf.randomNormal([nIn, 4 * hidden], 0, 0.5, "float32", seed + 1) as tf.Tensor2D;
    const recurrent = tf.randomNormal(
      [hidden, 4 * hidden],
      0,
      0.5,
      "float32",
      seed + 2,
    ) as tf.Tensor2D;
    const bias = tf.randomNormal([4 * hidden], 0, 0.5, "float32", seed + 3) as tf.Tensor1D;
    const wSeq = tf.randomNormal([batch, steps, hidden], 0, 1, "float32", seed + 4);
    const wLast = tf.randomNormal([batch, hidden], 0, 1, "float32", seed + 5);
    const mask = masked ? makeMask(batch, steps, seed) : undefined;
    const loss = (seq: tf.Tensor, last: tf.Tensor) =>
      tf.add(tf.sum(tf.mul(seq, wSeq)), tf.sum(tf.mul(last, wLast))) as tf.Scalar;

    // Reference: the plain tfjs layer with the same weights.
    const layer = tf.layers.lstm({
      units: hidden,
      returnSequences: true,
      returnState: true,
      goBackwards: reverse,
      recurrentActivation: "sigmoid",
    });
    layer.apply(x);
    layer.setWeights([kernel, recurrent, bias]);
    const refRun = (input: tf.Tensor) => {
      const [seqRaw, h] = layer.apply(input, mask ? { mask } : {}) as tf.Tensor[];
      // goBackwards returns the sequence in processing order: flip it back to time order.
      const seq = reverse ? tf.reverse(seqRaw, 1) : seqRaw;
      return { seq, last: h };
    };
    const xVar = tf.variable(x);
    const layerVars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const ref = refRun(x);
    const refGrads = tf.variableGrads(() => {
      const r = refRun(xVar);
      return loss(r.seq, r.last);
    }, [xVar, ...layerVars]);

    const fused = lstmSequenceFused(x, { kernel, recurrent, bias }, { reverse, mask });
    const label = JSON.stringify(c);
    assert.ok(maxAbsDiff(fused.sequence, ref.seq) < TOL, `sequence differs: ${label}`);
    assert.ok(maxAbsDiff(fused.last, ref.last) < TOL, `last differs: ${label}`);

    const grads = tf.grads((xi: tf.Tensor, k: tf.Tensor, r: tf.Tensor, b: tf.Tensor) => {
      const out = lstmSequenceFused(
        xi as tf.Tensor3D,
        { kernel: k as tf.Tensor2D, recurrent: r as tf.Tensor2D, bias: b as tf.Tensor1D },
        { reverse, mask },
      );
      return loss(out.sequence, out.last);
    })([x, kernel, recurrent, bias]);
    const refList = [xVar, ...layerVars].map((v) => refGrads.grads[v.name]);
    const names = ["x", "kernel", "recurrent", "bias"];
    for (let i = 0; i < 4; i++) {
      const diff = maxAbsDiff(grads[i], refList[i]);
      assert.ok(diff < TOL, `d/d${names[i]} differs by ${diff}: ${label}`);
      // The gradients are not trivially zero.
      assert.ok(tf.max(tf.abs(refList[i])).dataSync()[0] > 1e-3, `d/d${names[i]} is ~0: ${label}`);
    }
    xVar.dispose();
    layer.dispose();
  });
}

for (const backend of ["wasm", "cpu"] as BackendName[]) {
  for (const reverse of [false, true]) {
    for (const masked of [false, true]) {
      Deno.test(`fused LSTM = tf.layers.lstm on ${backend}, reverse ${reverse}, mask ${masked}`, async () => {
        await useBackend(backend);
        compare({ batch: 4, steps: 7, nIn: 5, hidden: 6, reverse, masked, seed: 11 });
        compare({ batch: 3, steps: 9, nIn: 12, hidden: 16, reverse, masked, seed: 29 });
        // Odd H (4H % 8 !== 0: the XNNPACK fallback of every product on wasm), and T*B > 256 (the
        // GEMM's blocking over k in the weight gradients).
        compare({ batch: 2, steps: 4, nIn: 3, hidden: 5, reverse, masked, seed: 47 });
        compare({ batch: 9, steps: 31, nIn: 8, hidden: 8, reverse, masked, seed: 53 });
      });
    }
  }
}

for (const backend of ["wasm", "cpu"] as BackendName[]) {
  Deno.test(`fused LSTM leaks no tensor or backend buffer on ${backend}`, async () => {
    await useBackend(backend);
    const x = tf.randomNormal([3, 5, 4]) as tf.Tensor3D;
    const kernel = tf.variable(tf.randomNormal([4, 32])) as tf.Variable<tf.Rank.R2>;
    const recurrent = tf.variable(tf.randomNormal([8, 32])) as tf.Variable<tf.Rank.R2>;
    const bias = tf.variable(tf.zeros([32])) as tf.Variable<tf.Rank.R1>;
    const mask = tf.tensor2d([[1, 1, 0, 1, 1], [0, 1, 1, 1, 0], [1, 1, 1, 1, 1]]);
    const run = () => {
      // Inference (no tape) and a training step (tape, gradients, disposal).
      const { sequence, last } = lstmSequenceFused(x, { kernel, recurrent, bias }, { mask });
      sequence.dispose();
      last.dispose();
      const { value, grads } = tf.variableGrads(() =>
        tf.sum(lstmSequenceFused(x, { kernel, recurrent, bias }, { reverse: true }).sequence)
      );
      value.dispose();
      for (const g of Object.values(grads)) g.dispose();
    };
    run(); // first call: backend kernels may set themselves up
    const before = tf.memory().numTensors;
    const dataIds = tf.engine().backend.numDataIds();
    run();
    run();
    assert.equal(tf.memory().numTensors, before);
    assert.equal(tf.engine().backend.numDataIds(), dataIds);
    tf.dispose([x, kernel, recurrent, bias, mask]);
  });
}

Deno.test("fused LSTM runs its own GEMM on wasm and JS kernels on cpu", async () => {
  await useBackend("wasm");
  // Deno's V8 has wasm SIMD (and relaxed SIMD since V8 11.4): the GEMM is what the tests above ran.
  assert.ok(["wasm-relaxed-simd-gemm", "wasm-simd-gemm"].includes(fusedLstmKernels()));
  await useBackend("cpu");
  assert.equal(fusedLstmKernels(), "js");
});

Deno.test("fused LSTM rejects bad shapes with a clear error", async () => {
  await useBackend("cpu");
  tf.tidy(() => {
    const x = tf.zeros([2, 3, 4]) as tf.Tensor3D;
    const good = {
      kernel: tf.zeros([4, 8]) as tf.Tensor2D,
      recurrent: tf.zeros([2, 8]) as tf.Tensor2D,
      bias: tf.zeros([8]) as tf.Tensor1D,
    };
    assert.throws(
      () => lstmSequenceFused(x, { ...good, kernel: tf.zeros([5, 8]) as tf.Tensor2D }),
      /kernel must be \[In=4, 4H=8\]/,
    );
    assert.throws(
      () => lstmSequenceFused(x, { ...good, bias: tf.zeros([7]) as tf.Tensor1D }),
      /bias must be \[4H=8\]/,
    );
    assert.throws(
      () => lstmSequenceFused(x, good, { mask: tf.ones([2, 4]) as tf.Tensor2D }),
      /mask must be \[B=2, T=3\]/,
    );
    const { sequence, last } = lstmSequenceFused(x, good);
    assert.deepEqual(sequence.shape, [2, 3, 2]);
    assert.deepEqual(last.shape, [2, 2]);
  });
});
