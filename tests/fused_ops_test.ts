import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend.ts";
import { filmHidden, filmInput, leakyRelu, stepOf } from "../lib/models/kernels/fused_ops.ts";
import { matMul } from "../lib/models/kernels/matmul.ts";

/** The same maths composed of TF.js ops (what autodiff differentiates). */
const reference = {
  leakyRelu: (x: tf.Tensor, slope: number) => tf.leakyRelu(x, slope),
  filmInput: (x: tf.Tensor3D, s: tf.Tensor2D) => {
    const s3 = tf.expandDims(s, 1);
    return tf.add(tf.mul(s3, x), s3);
  },
  filmHidden: (h: tf.Tensor3D, gb: tf.Tensor2D) => {
    const [gamma, beta] = tf.split(gb, 2, 1);
    return tf.add(tf.mul(tf.add(tf.expandDims(gamma, 1), 1), h), tf.expandDims(beta, 1));
  },
  stepOf: (x: tf.Tensor3D, t: number) => {
    const [b, , h] = x.shape;
    return tf.reshape(tf.slice(x, [0, t, 0], [b, 1, h]), [b, h]);
  },
};

function assertClose(got: tf.Tensor, want: tf.Tensor, what: string, tol = 1e-5): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const g = got.dataSync(), w = want.dataSync();
  for (let i = 0; i < g.length; i++) {
    assert.ok(
      Math.abs(g[i] - w[i]) <= tol * (1 + Math.abs(w[i])),
      `${what}[${i}]: ${g[i]} vs ${w[i]}`,
    );
  }
}

/** Values and gradients (of a random weighted sum of the output) of `f` and `ref` agree. */
function assertSameOp(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  ref: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  what: string,
): void {
  tf.tidy(() => {
    const y = f(...inputs), yRef = ref(...inputs);
    assertClose(y, yRef, `${what} value`);
    const w = tf.randomNormal(y.shape, 0, 1, "float32", 7);
    const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), w)))(inputs);
    const gradsRef = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(ref(...xs), w)))(inputs);
    grads.forEach((g, i) => assertClose(g, gradsRef[i], `${what} gradient ${i}`));
  });
}

for (const backend of ["wasm", "cpu"] as const) {
  // H 8 takes the SIMD kernels on wasm, H 6 (and 90 values for LeakyReLU) the JavaScript loops.
  for (const H of [8, 6]) {
    Deno.test(`fused element-wise ops equal their TF.js composition, values and gradients, on ${backend}, H ${H}`, async () => {
      await useBackend(backend);
      const [B, T] = [3, 5];
      const x = tf.randomNormal([B, T, H], 0, 1, "float32", 1) as tf.Tensor3D;
      const s = tf.randomNormal([B, H], 0, 1, "float32", 2) as tf.Tensor2D;
      const gb = tf.randomNormal([B, 2 * H], 0, 1, "float32", 3) as tf.Tensor2D;
      for (const slope of [0.2, 0]) {
        assertSameOp(
          (a) => leakyRelu(a, slope),
          (a) => reference.leakyRelu(a, slope),
          [x],
          `leakyRelu(${slope})`,
        );
      }
      assertSameOp(
        (a, b) => filmInput(a as tf.Tensor3D, b as tf.Tensor2D),
        (a, b) => reference.filmInput(a as tf.Tensor3D, b as tf.Tensor2D),
        [x, s],
        "filmInput",
      );
      assertSameOp(
        (a, b) => filmHidden(a as tf.Tensor3D, b as tf.Tensor2D),
        (a, b) => reference.filmHidden(a as tf.Tensor3D, b as tf.Tensor2D),
        [x, gb],
        "filmHidden",
      );
      for (const t of [0, T - 1, 2]) {
        assertSameOp(
          (a) => stepOf(a as tf.Tensor3D, t),
          (a) => reference.stepOf(a as tf.Tensor3D, t),
          [x],
          `stepOf(${t})`,
        );
      }
      tf.dispose([x, s, gb]);
    });
  }

  Deno.test(`matMul with dataInput: same value and weight gradient, none for the data, on ${backend}`, async () => {
    await useBackend(backend);
    // 16 columns take the packed GEMM on wasm, 3 the TF.js product.
    for (const n of [16, 3]) {
      tf.tidy(() => {
        const a = tf.randomNormal([12, 5], 0, 1, "float32", 4) as tf.Tensor2D;
        const b = tf.randomNormal([5, n], 0, 1, "float32", 5) as tf.Tensor2D;
        const w = tf.randomNormal([12, n], 0, 1, "float32", 6);
        assertClose(matMul(a, b, { dataInput: true }), tf.matMul(a, b), `value n=${n}`);
        const [db] = tf.grads((y: tf.Tensor) =>
          tf.sum(tf.mul(matMul(a, y as tf.Tensor2D, { dataInput: true }), w))
        )([b]);
        const [dbRef] = tf.grads((y: tf.Tensor) =>
          tf.sum(tf.mul(tf.matMul(a, y as tf.Tensor2D), w))
        )([b]);
        assertClose(db, dbRef, `weight gradient n=${n}`);
        assert.throws(
          () =>
            tf.grads((x: tf.Tensor) => tf.sum(matMul(x as tf.Tensor2D, b, { dataInput: true })))([
              a,
            ]),
          /Cannot compute gradient/,
        );
      });
    }
  });

  Deno.test(`fused element-wise ops leave no tensor behind on ${backend}`, async () => {
    await useBackend(backend);
    const x = tf.randomNormal([2, 4, 8], 0, 1, "float32", 1) as tf.Tensor3D;
    const gb = tf.randomNormal([2, 16], 0, 1, "float32", 2) as tf.Tensor2D;
    const s = tf.randomNormal([2, 8], 0, 1, "float32", 3) as tf.Tensor2D;
    const step = () =>
      tf.tidy(() => {
        const f = (a: tf.Tensor) => {
          const h = filmHidden(filmInput(leakyRelu(a as tf.Tensor3D, 0.2), s), gb);
          return tf.sum(stepOf(h, 3));
        };
        return tf.grads(f)([x])[0].dataSync();
      });
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, gb, s]);
  });
}

Deno.test("fused element-wise ops reject mismatched shapes with a clear error", () => {
  const x = tf.zeros([2, 4, 8]) as tf.Tensor3D;
  assert.throws(
    () => filmInput(x, tf.zeros([2, 7]) as tf.Tensor2D),
    /filmInput: s must be \[2, 8\]/,
  );
  assert.throws(
    () => filmHidden(x, tf.zeros([2, 8]) as tf.Tensor2D),
    /gammaBeta must be \[2, 16\]/,
  );
  assert.throws(() => stepOf(x, 4), /step 4 is outside the sequence's 4 steps/);
});
