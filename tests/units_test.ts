/** The unit runner's in-process dataset cache (lib/experiments/units.ts). */
import assert from "node:assert/strict";
import { datasetKey } from "../lib/experiments/units.ts";

Deno.test("datasetKey: nested keys count (the split kind), key order does not", () => {
  const base = {
    featureSet: "minimal",
    window: 30,
    stride: 15,
    split: { kind: "koppen", seed: 42, forceTest: ["DE-Tha"] },
  };
  const igbp = { ...base, split: { ...base.split, kind: "igbp" } };
  assert.notEqual(datasetKey(base), datasetKey(igbp), "Köppen and IGBP datasets share a key");
  assert.notEqual(
    datasetKey(base),
    datasetKey({ ...base, split: { ...base.split, forceTest: ["US-MMS"] } }),
  );
  const reordered = {
    split: { forceTest: ["DE-Tha"], seed: 42, kind: "koppen" },
    stride: 15,
    window: 30,
    featureSet: "minimal",
  };
  assert.equal(datasetKey(reordered), datasetKey(base));
});
