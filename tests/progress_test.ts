import assert from "node:assert/strict";
import {
  htmlProgress,
  type ProgressBundle,
  progressHtml,
  terminalProgress,
} from "../lib/train/progress.ts";
import type { StepInfo } from "../lib/train/trainer.ts";
import { epochRecord } from "./_epoch_record.ts";

const step = (s: number): StepInfo => ({
  stage: "main",
  stageIndex: 1,
  stages: 2,
  model: "tamrl",
  epoch: 1,
  epochs: 3,
  step: s,
  steps: 10,
  loss: { total: 0.5, data: 0.4, balance: 1, mse: 0.4 },
  seconds: s,
});

Deno.test("htmlProgress: first display is new, later ones update it; one table row per epoch", () => {
  const calls: { bundle: ProgressBundle; update: boolean }[] = [];
  const progress = htmlProgress((bundle, { update }) => {
    calls.push({ bundle, update });
  }, { everyMs: 60_000 });
  progress.onStep(step(1)); // first step is shown at once
  progress.onStep(step(2)); // throttled
  assert.equal(calls.length, 1);
  assert.equal(calls[0].update, false);
  assert.match(calls[0].bundle["text/plain"], /\[2\/2 tamrl\] epoch 1\/3 step 1\/10/);
  progress.onEpoch(epochRecord());
  progress.onEpoch(epochRecord({ epoch: 2, improved: false, val: null }));
  assert.equal(calls.length, 3);
  assert.deepEqual(calls.map((c) => c.update), [false, true, true]);
  const html = calls[2].bundle["text/html"];
  assert.equal(html.match(/<tr><td>/g)?.length, 2);
  assert.ok(html.includes("<td>1.2500</td>"), "train balance in the row");
  assert.match(calls[2].bundle["text/plain"], /main tamrl epoch 2\/3/);
});

Deno.test("progressHtml escapes the status line", () => {
  const html = progressHtml([], "a <b> & c");
  assert.ok(html.includes("a &lt;b&gt; &amp; c"));
  assert.ok(!html.includes("<b>"));
});

Deno.test("terminalProgress without a terminal writes one line per epoch", () => {
  const out: string[] = [];
  const progress = terminalProgress({ write: (t) => out.push(t), live: false });
  progress.onStep(step(1));
  progress.onEpoch(epochRecord());
  assert.equal(out.length, 1);
  assert.match(out[0], /^main tamrl epoch 1\/3 .* \* best .*\n$/);
});
