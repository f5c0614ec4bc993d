import assert from "node:assert/strict";
import {
  enumerateWindows,
  fillTargets,
  type SiteSeries,
  windowCount,
} from "../lib/data/windows.ts";
import { fixtureDataset, nullOn } from "./_dataset_fixtures.ts";

function series(n: number, options: { nullDyn?: number[]; nullY?: number[]; gapAt?: number } = {}) {
  const days = Int32Array.from(
    { length: n },
    (_, i) => 15000 + i + (options.gapAt !== undefined && i >= options.gapAt ? 1 : 0),
  );
  const dyn = new Float32Array(n * 2).map((_, i) => i);
  for (const r of options.nullDyn ?? []) dyn[r * 2 + 1] = NaN;
  const y = new Float32Array(n * 3).map((_, i) => i / 10);
  for (const r of options.nullY ?? []) y.fill(NaN, 3 * r, 3 * r + 3);
  const qc = new Float32Array(n).fill(0.5);
  return { site: "XX-Xxx", days, dyn, nDyn: 2, y, qc } satisfies SiteSeries;
}

Deno.test("window counts on the fixtures match a hand count (30/15, val 20%)", async () => {
  // FR-Pue 2012 has 366 days: val = round(0.2 * 366) = 73 rows, train = 293 rows.
  //   train: starts 0, 15, ..., 255 (255 + 30 = 285 <= 293; 270 + 30 = 300 > 293) -> 18 windows
  //   val: 73 rows, starts 0, 15, 30 (30 + 30 = 60 <= 73; 45 + 30 = 75 > 73) -> 3 windows
  // AU-Lox 2009 (test) has 365 days: starts 0..330 step 15 (330 + 30 = 360; 345 + 30 > 365) -> 23
  const ds = await fixtureDataset({});
  assert.equal(ds.report.windows.train.rows, 293);
  assert.equal(ds.report.windows.val.rows, 73);
  assert.equal(ds.train.windows, 18);
  assert.equal(ds.val.windows, 3);
  assert.equal(ds.test.windows, 23);
  // loss days: 18 * 15 = 270 of 293 train rows; the other 23 = 15 warm-up + 8 tail
  assert.deepEqual(ds.report.windows.train.lossDays, { kept: 270, dropped: 0, never: 23 });
  const starts = ds.train.windowList().map((w) => w.start);
  assert.equal(starts[0], "2012-01-01");
  assert.equal(starts[17], "2012-09-12"); // row 255 = day 256 of 2012
  assert.equal(ds.val.windowList()[0].start, "2012-10-20"); // row 293 = day 294
  // swapped roles: AU-Lox 365 -> val 73, train 292 -> 18 (255 + 30 = 285 <= 292), val 3
  const swapped = await fixtureDataset({}, { train: ["AU-Lox"], test: ["FR-Pue"] });
  assert.equal(swapped.train.windows, 18);
  assert.equal(swapped.val.windows, 3);
  assert.equal(swapped.test.windows, 23); // 366 days: 330 + 30 = 360 <= 366, 345 + 30 = 375 > 366
});

Deno.test("window length/stride from config: 45/45 and 45/15 on the fixtures", async () => {
  const a = await fixtureDataset({ window: 45, stride: 45, valFraction: 0 });
  // FR-Pue train 366 rows: floor(366 / 45) = 8; AU-Lox test 365: 8
  assert.equal(a.train.windows, 8);
  assert.equal(a.val.windows, 0);
  assert.equal(a.test.windows, 8);
  const b = await fixtureDataset({ window: 45, stride: 15, valFraction: 0 });
  // floor((366 - 45) / 15) + 1 = 22; floor((365 - 45) / 15) + 1 = 22
  assert.equal(b.train.windows, 22);
  assert.equal(b.test.windows, 22);
  assert.equal(windowCount(366, 45, 15), 22);
});

Deno.test("windows with a null driver are dropped and counted (hand count)", async () => {
  // AU-Lox 2009-04-11 is row 100; windows containing row 100 start at 75 and 90 -> 23 - 2 = 21
  const ds = await fixtureDataset({}, { edit: nullOn("AU-Lox", "2009-04-11", "TA_F") });
  assert.equal(ds.test.windows, 21);
  assert.deepEqual(ds.report.windows.test.dropped.nullDriver, { TA_F: 2 });
  assert.equal(ds.report.windows.test.lossDays.dropped, 30);
  assert.ok(!ds.test.windowList().some((w) => w.row === 75 || w.row === 90));
  // a missing TARGET does not drop the window: it is masked
  const masked = await fixtureDataset({}, { edit: nullOn("AU-Lox", "2009-04-11", "GPP") });
  assert.equal(masked.test.windows, 23);
  assert.equal(masked.report.windows.test.targetsInLoss[0], 23 * 15 - 1);
});

Deno.test("enumerateWindows: gap and no-target rules, segment bounds", () => {
  const base = enumerateWindows(series(100), 0, { window: 30, stride: 15 });
  assert.equal(base.windows.length, 5); // 0, 15, 30, 45, 60
  assert.equal(base.candidates, 5);
  const gap = enumerateWindows(series(100, { gapAt: 50 }), 0, { window: 30, stride: 15 });
  assert.equal(gap.dropped.gap, 2); // windows 30 and 45 span rows 49 -> 50
  assert.equal(gap.windows.length, 3);
  const noY = series(100, { nullY: Array.from({ length: 15 }, (_, i) => 15 + i) });
  // rows 15..29 have no target: the window at 0 (loss rows 15..29) has none
  const r = enumerateWindows(noY, 0, { window: 30, stride: 15 });
  assert.equal(r.dropped.noTarget, 1);
  assert.equal(r.windows[0].start, 15);
  assert.equal(
    enumerateWindows(noY, 0, { window: 30, stride: 15, requireTarget: false }).windows.length,
    5,
  );
  const nul = enumerateWindows(series(100, { nullDyn: [0] }), 0, {
    window: 30,
    stride: 15,
    dynNames: ["A", "B"],
  });
  assert.deepEqual(nul.dropped.nullDriver, { B: 1 });
  const seg = enumerateWindows(series(100), 0, { window: 30, stride: 15, from: 40, to: 90 });
  assert.deepEqual(seg.windows.map((w) => w.start), [40, 55]);
  assert.throws(() => enumerateWindows(series(10), 0, { window: 5, stride: 6 }), /stride/);
});

Deno.test("masked targets carry no loss: mask is 0 outside the last stride days and where null", () => {
  const s = series(60, { nullY: [25] });
  const y = new Float32Array(90), mask = new Float32Array(90), qc = new Float32Array(30);
  fillTargets(s, { series: 0, start: 0 }, { window: 30, stride: 10 }, { y, mask, qc });
  for (let t = 0; t < 30; t++) {
    for (let j = 0; j < 3; j++) {
      const expected = t >= 20 && t !== 25 ? 1 : 0;
      assert.equal(mask[3 * t + j], expected, `t=${t} j=${j}`);
      if (t === 25) assert.equal(y[3 * t + j], 0);
    }
  }
  // a loss computed as sum(mask * (pred - y)^2) ignores anything at masked positions
  const loss = (pred: Float32Array) => pred.reduce((a, p, i) => a + mask[i] * (p - y[i]) ** 2, 0);
  const pred = Float32Array.from(y);
  const wild = Float32Array.from(y);
  for (let i = 0; i < 90; i++) if (mask[i] === 0) wild[i] = 1e6;
  assert.equal(loss(pred), 0);
  assert.equal(loss(wild), 0);
  assert.ok(qc.every((q) => q === 0.5));
});
