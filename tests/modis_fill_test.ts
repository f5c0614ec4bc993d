/**
 * The MODIS seasonal-cycle fill of prediction (lib/data/modis.ts): the cycle is the mean of the
 * site's values per calendar month, computed here by hand on a small synthetic series.
 */
import assert from "node:assert/strict";
import {
  epochDay,
  interpolateModis,
  interpolateModisFilled,
  type ModisMonthly,
  modisSeasonalCycle,
} from "../lib/data/modis.ts";

/**
 * LAI in 2001-2002: month m of year y is m + 10 (y - 2001), with 2001-05..2001-09 missing (a gap of
 * 5 months, more than the 2 bridged). EVI: only 2001-01 (0.2) and 2001-07 (0.8).
 */
function synthetic(): ModisMonthly {
  const months: number[] = [], LAI: (number | null)[] = [], EVI: (number | null)[] = [];
  for (const y of [2001, 2002]) {
    for (let m = 1; m <= 12; m++) {
      months.push(y * 100 + m);
      LAI.push(y === 2001 && m >= 5 && m <= 9 ? null : m + 10 * (y - 2001));
      EVI.push(y === 2001 && m === 1 ? 0.2 : y === 2001 && m === 7 ? 0.8 : null);
    }
  }
  return { site: "XX-Syn", months, LAI, EVI };
}

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

Deno.test("seasonal cycle: the mean of the site's values per calendar month", () => {
  const m = synthetic();
  // by hand: Jan (1 + 11) / 2 = 6, ..., Apr (4 + 14) / 2 = 9; May-Sep only 2002: m + 10;
  // Oct (10 + 20) / 2 = 15, Nov 16, Dec 17
  const lai = modisSeasonalCycle(m, "LAI")!;
  [6, 7, 8, 9, 15, 16, 17, 18, 19, 15, 16, 17].forEach((v, i) => close(lai[i], v, `LAI ${i + 1}`));
  // EVI: Jan 0.2 and Jul 0.8; other months linear between them, round the year
  const evi = modisSeasonalCycle(m, "EVI")!;
  const want = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3];
  want.forEach((v, i) => close(evi[i], v, `EVI ${i + 1}`));
  assert.equal(modisSeasonalCycle({ ...m, EVI: m.EVI.map(() => null) }, "EVI"), null);
  assert.equal(modisSeasonalCycle(undefined, "LAI"), null);
});

Deno.test("fill: holes take the cycle (interpolated as observed months), observed days unchanged", () => {
  const m = synthetic();
  const cases: [string, number, number, number][] = [
    // [what, day, expected LAI, filled]
    ["before MODIS, mid-month", epochDay(1999, 1, 15), 6, 1],
    ["before MODIS, June 15", epochDay(1999, 6, 15), 16, 1],
    ["before MODIS, between mid-months", epochDay(1999, 6, 30), 16 + (17 - 16) * 15 / 30, 1],
    ["in the gap", epochDay(2001, 7, 15), 17, 1],
    ["gap edge: observed April to cycle May", epochDay(2001, 4, 30), 4 + (15 - 4) * 15 / 30, 1],
    ["observed", epochDay(2001, 4, 15), 4, 0],
    ["observed, held to the 1st", epochDay(2001, 1, 1), 1, 0],
    ["after MODIS", epochDay(2003, 2, 15), 7, 1],
  ];
  const days = cases.map((c) => c[1]);
  const { values, filled } = interpolateModisFilled(m, "LAI", days, { maxGapMonths: 2 });
  const plain = interpolateModis(m, "LAI", days, { maxGapMonths: 2 });
  cases.forEach(([what, , v, f], i) => {
    close(values[i], v, what);
    assert.equal(filled[i], f, what);
    if (!f) assert.equal(plain[i], values[i], `${what}: the observed value is kept`);
    else assert.ok(Number.isNaN(plain[i]), `${what}: a hole without the fill`);
  });
  // EVI in its gap: 2001-03-15 is the cycle's March (0.4)
  const evi = interpolateModisFilled(m, "EVI", [epochDay(2001, 3, 15)]);
  close(evi.values[0], 0.4, "EVI March");
  // no value at all: nothing to fill from
  const none = interpolateModisFilled({ ...m, LAI: m.LAI.map(() => null) }, "LAI", days);
  assert.ok(none.values.every((v) => Number.isNaN(v)));
  assert.ok(none.filled.every((f) => f === 0));
});
