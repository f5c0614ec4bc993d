import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend.ts";
import { Adam, type OptimizerOptions } from "../lib/train/optim.ts";

/** Adam written with tensor ops, step by step as in Kingma & Ba (2015), for comparison. */
function referenceSteps(
  w0: tf.Tensor,
  grads: tf.Tensor[],
  o: Required<Pick<OptimizerOptions, "lr" | "weightDecay" | "clipNorm">> & { kind: string },
): Float32Array {
  return tf.tidy(() => {
    let w = w0, m = tf.zerosLike(w0), v = tf.zerosLike(w0);
    grads.forEach((g0, i) => {
      const t = i + 1;
      const norm = tf.norm(g0).dataSync()[0];
      let g = o.clipNorm > 0 && norm > o.clipNorm ? tf.mul(g0, o.clipNorm / norm) : g0;
      if (o.kind === "adam") g = tf.add(g, tf.mul(w, o.weightDecay));
      m = tf.add(tf.mul(m, 0.9), tf.mul(g, 0.1));
      v = tf.add(tf.mul(v, 0.999), tf.mul(tf.square(g), 0.001));
      const mHat = tf.div(m, 1 - 0.9 ** t), vHat = tf.div(v, 1 - 0.999 ** t);
      const update = tf.div(mHat, tf.add(tf.sqrt(vHat), 1e-8));
      if (o.kind === "adamw") w = tf.mul(w, 1 - o.lr * o.weightDecay);
      w = tf.sub(w, tf.mul(update, o.lr));
    });
    return w.dataSync() as Float32Array;
  });
}

for (const backend of ["wasm", "cpu"] as const) {
  for (
    const o of [
      { kind: "adam", lr: 0.01, weightDecay: 0, clipNorm: 0 },
      { kind: "adam", lr: 0.01, weightDecay: 0.1, clipNorm: 0.5 },
      { kind: "adamw", lr: 0.003, weightDecay: 0.2, clipNorm: 0 },
    ] as const
  ) {
    // [8, 5] takes the SIMD path on wasm (size % 4 === 0), [7, 5] the scalar one.
    for (const shape of [[8, 5], [7, 5]]) {
      Deno.test(`Adam (${o.kind}, decay ${o.weightDecay}, clip ${o.clipNorm}) follows the textbook update on ${backend}, [${shape}]`, async () => {
        await useBackend(backend);
        const w0 = tf.randomNormal(shape, 0, 1, "float32", 1);
        const grads = [2, 3, 4].map((s) => tf.randomNormal(shape, 0, 1, "float32", s));
        const w = tf.variable(w0.clone());
        const opt = new Adam(new Map([["w", w]]), o);
        const norms = grads.map((g) => opt.apply(new Map([["w", g]]), 0));
        const expected = referenceSteps(w0, grads, o);
        const got = w.dataSync();
        for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - expected[i]) < 1e-6);
        // The returned norm is the norm before clipping.
        assert.ok(Math.abs(norms[0] - tf.norm(grads[0]).dataSync()[0]) < 1e-4);
        assert.equal(opt.step, 3);
        opt.dispose();
        tf.dispose([w, w0, ...grads]);
      });
    }
  }
}

Deno.test("an Adam step leaves no tensor behind", async () => {
  await useBackend("wasm");
  const w = tf.variable(tf.ones([4, 3]));
  const opt = new Adam(new Map([["w", w]]), { lr: 0.1 });
  const g = tf.ones([4, 3]);
  opt.apply(new Map([["w", g]]), 0);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) opt.apply(new Map([["w", g]]), 0);
  assert.equal(tf.memory().numTensors, before);
  opt.dispose();
  tf.dispose([w, g]);
});
