import assert from "node:assert/strict";
import { renderSvg } from "../lib/eval/figures.ts";
import type { PredictionRow } from "../lib/eval/predictions.ts";
import {
  balanceViolationSpec,
  lossCurvesSpec,
  lossPoints,
  siteBalance,
} from "../lib/eval/training_figures.ts";
import { epochRecord } from "./_epoch_record.ts";

const history = [
  epochRecord({ stage: "pretrain", stageIndex: 0, model: "lstm", epoch: 1, epochs: 1 }),
  epochRecord({ epoch: 1 }),
  epochRecord({ epoch: 2, val: null }),
];

Deno.test("lossPoints: one row per run, epoch, split and term; epochs counted over stages", () => {
  const rows = lossPoints([{ label: "a", history }, { label: "b", history: history.slice(0, 1) }]);
  // run a: 2 epochs with train+val, 1 with train only, 2 terms each -> (2*2 + 1) * 2; run b: 4
  assert.equal(rows.length, 14);
  const last = rows.filter((r) => r.run === "a" && r.epoch === 3);
  assert.deepEqual(last.map((r) => r.split), ["train", "train"]);
  assert.equal(rows.find((r) => r.run === "a" && r.epoch === 2)!.stageEpoch, 1);
  const balance = rows.find((r) => r.run === "a" && r.split === "val" && /balance/.test(r.term));
  assert.equal(balance!.value, 1.5);
  assert.equal(lossPoints([{ label: "a", history }], { terms: ["total"] }).length, 5);
});

Deno.test("lossCurvesSpec renders, log scale only when every value is positive", async () => {
  const spec = lossCurvesSpec([{ label: "α = 0.1", history }]);
  assert.match(JSON.stringify(spec), /"type":"log"/);
  const svg = await renderSvg(spec);
  assert.ok(svg.includes("<svg") && svg.includes("epoch (all stages)"));
  const zero = [epochRecord({ train: { total: 0, data: 0, balance: 0, mse: 0 } })];
  assert.doesNotMatch(JSON.stringify(lossCurvesSpec([{ label: "z", history: zero }])), /"log"/);
});

function row(over: Partial<PredictionRow>): PredictionRow {
  return {
    model: "m",
    seed: 0,
    site: "S1",
    date: "2010-01-01",
    GPP: 5,
    RECO: 3,
    NEE: -2,
    GPP_obs: 5,
    RECO_obs: 3,
    NEE_obs: -2,
    NEE_QC: 1,
    IGBP: "ENF",
    KOPPEN_MAIN: "D",
    ...over,
  };
}

Deno.test("siteBalance: mean |NEE - (RECO - GPP)| per model and site, observations once", () => {
  const rows = [
    row({ NEE: -1 }), // violation 1
    row({ date: "2010-01-02", NEE: 0 }), // violation 2
    row({ model: "n", NEE: -2 }), // 0
    row({ model: "n", site: "S2", NEE: 1, NEE_obs: null }), // 3, no observation
  ];
  assert.deepEqual(siteBalance(rows), [
    { model: "m", site: "S1", days: 2, mean: 1.5 },
    { model: "n", site: "S1", days: 1, mean: 0 },
    { model: "observed", site: "S1", days: 2, mean: 0 },
    { model: "n", site: "S2", days: 1, mean: 3 },
  ]);
});

Deno.test("balanceViolationSpec renders a bar per site and model", async () => {
  const svg = await renderSvg(balanceViolationSpec([row({ NEE: -1 }), row({ model: "n" })]));
  assert.ok(svg.includes("S1") && svg.includes("gC m"));
});
