import assert from "node:assert/strict";
import { join } from "node:path";
import { aggregateMonthly, type DailyValues, monthlyRuleText } from "../lib/eval/monthly.ts";
import {
  compareXbase,
  readXbase,
  readXbaseFile,
  XBASE_SITES,
  type XbaseDay,
  xbaseTableRows,
} from "../lib/eval/xbase.ts";
import { resolveDataDir } from "../lib/data/paths.ts";

function days(site: string, month: string, n: number, f: (d: number) => Partial<DailyValues>) {
  return Array.from({ length: n }, (_, k): DailyValues => ({
    site,
    date: `${month}-${String(k + 1).padStart(2, "0")}`,
    obs: k,
    qc: 1,
    pred: { a: k + 1 },
    ...f(k),
  }));
}

Deno.test("monthly: a month counts only with at least minValidDays valid days", () => {
  const input = [
    ...days("S", "2010-01", 31, () => ({})), // 31 valid
    ...days("S", "2010-02", 28, (k) => (k < 14 ? {} : { obs: null })), // 14 valid
    ...days("S", "2010-03", 31, (k) => (k < 15 ? {} : { qc: 0.5 })), // 15 valid
  ];
  const { months, report } = aggregateMonthly(input, { minValidDays: 15, qcThreshold: 0.8 });
  assert.deepEqual(months.map((m) => m.month), ["2010-01", "2010-03"]);
  assert.equal(report.months, 3);
  assert.equal(report.monthsDropped, 1);
  assert.deepEqual(report.invalidDays, { noObs: 14, lowQc: 16, noPrediction: 0 });
  // means over the valid days only: March = days 0..14 -> obs mean 7, pred mean 8
  const mar = months[1];
  assert.equal(mar.validDays, 15);
  assert.equal(mar.obs, 7);
  assert.equal(mar.pred.a, 8);
  assert.equal(months[0].obs, 15);
  assert.match(report.text, />= 15 valid days/);
  assert.match(monthlyRuleText(), /NEE_QC >= 0\.8.*>= 15 valid days/);
});

Deno.test("monthly: models are averaged over the same days; a missing prediction invalidates the day", () => {
  const input = days("S", "2011-07", 20, (k) => ({
    pred: { a: 1, b: k === 0 ? null : 3 },
  }));
  const { months, report } = aggregateMonthly(input, { minValidDays: 19 });
  assert.equal(report.invalidDays.noPrediction, 1);
  assert.equal(months.length, 1);
  assert.equal(months[0].validDays, 19);
  assert.equal(months[0].obs, (1 + 19) * 19 / 2 / 19); // days 1..19
  assert.deepEqual(months[0].pred, { a: 1, b: 3 });
  const strict = aggregateMonthly(input, { minValidDays: 20 });
  assert.equal(strict.months.length, 0);
});

Deno.test("monthly: missing QC counts as low QC unless the threshold is 0; sites stay apart", () => {
  const input = [
    ...days("A", "2012-05", 10, () => ({ qc: null })),
    ...days("B", "2012-05", 10, () => ({ obs: 100 })),
  ];
  assert.equal(aggregateMonthly(input, { minValidDays: 10 }).months.length, 1);
  const all = aggregateMonthly(input, { minValidDays: 10, qcThreshold: 0 }).months;
  assert.deepEqual(all.map((m) => [m.site, m.obs]), [["A", 4.5], ["B", 100]]);
  assert.throws(
    () => aggregateMonthly([{ site: "A", date: "2012/05/01", obs: 1, qc: 1, pred: {} }]),
    /site A: date "2012\/05\/01"/,
  );
});

Deno.test("xbase: reads the four real extracts (comment lines skipped, NaN kept as null)", () => {
  const dir = resolveDataDir().xbaseMonthly;
  const rows = readXbase(dir);
  assert.equal(rows.length, 4 * 21 * 12);
  for (const s of XBASE_SITES) {
    const r = rows.filter((x) => x.site === s);
    assert.equal(r[0].month, "2001-01");
    assert.equal(r.at(-1)!.month, "2021-12");
  }
  const nr1 = rows.find((r) => r.site === "US-NR1" && r.month === "2001-01")!;
  assert.equal(nr1.GPP, 0.0075147016905248165); // the first data line of the file
  assert.equal(nr1.NEE, 0.4151236116886139);
  // summer GPP of a deciduous forest exceeds winter GPP
  const sor = rows.filter((r) => r.site === "DK-Sor" && r.GPP !== null);
  const jul = sor.filter((r) => r.month.endsWith("-07")).map((r) => r.GPP!);
  const jan = sor.filter((r) => r.month.endsWith("-01")).map((r) => r.GPP!);
  assert.ok(Math.min(...jul) > Math.max(...jan));
});

Deno.test("xbase: bad files are refused with the file, row and column", () => {
  const tmp = Deno.makeTempDirSync();
  const p = join(tmp, "X_fluxcom_monthly.csv");
  Deno.writeTextFileSync(p, "# c\nyear,month,GPP_gC_m2_d,NEE_gC_m2_d\n2001,1,1.0,abc\n");
  assert.throws(() => readXbaseFile(p, "X"), /data row 1, column NEE_gC_m2_d: not a number/);
  Deno.writeTextFileSync(p, "year,month,GPP_gC_m2_d,NEE_gC_m2_d\n2001,13,1.0,NaN\n");
  assert.throws(() => readXbaseFile(p, "X"), /column month: month must be 1-12/);
  Deno.writeTextFileSync(p, "year,month,GPP_gC_m2_d,NEE_gC_m2_d\n2001,1,1.0,NaN\n");
  assert.deepEqual(readXbaseFile(p, "X"), [{ site: "X", month: "2001-01", GPP: 1, NEE: null }]);
  Deno.removeSync(tmp, { recursive: true });
});

Deno.test("xbase: models and X-BASE are scored on the same months", () => {
  // one tower, 3 months of 20 days; the tower observes obs = month index; model = obs + 1;
  // X-BASE = obs exactly except in month 3, where X-BASE is missing
  const tower = "T";
  const ds: XbaseDay[] = [];
  for (const [m, v] of [["2005-01", 1], ["2005-02", 2], ["2005-03", 3], ["2005-04", 4]] as const) {
    for (let d = 1; d <= 20; d++) {
      ds.push({
        site: tower,
        date: `${m}-${String(d).padStart(2, "0")}`,
        qc: m === "2005-04" ? 0.1 : 1, // April fails the QC rule
        obs: { GPP: v, NEE: -v },
        pred: { trees: { GPP: v + 1, NEE: -v } },
      });
    }
  }
  const xb = [
    { site: tower, month: "2005-01", GPP: 1, NEE: -1 },
    { site: tower, month: "2005-02", GPP: 2, NEE: -2 },
    { site: tower, month: "2005-03", GPP: null, NEE: -3 },
    { site: tower, month: "2005-04", GPP: 4, NEE: -4 },
  ];
  const c = compareXbase(ds, xb, { models: ["trees"], sites: [tower], minValidDays: 15 });
  const get = (flux: string, source: string) =>
    c.scores.find((s) => s.flux === flux && s.source === source)!;
  assert.equal(get("GPP", "X-BASE").months, 2);
  assert.equal(get("GPP", "trees").months, 2);
  assert.equal(get("GPP", "X-BASE").rmse, 0);
  assert.equal(get("GPP", "trees").rmse, 1);
  assert.equal(get("GPP", "trees").bias, 1);
  assert.equal(get("NEE", "trees").months, 3);
  assert.equal(get("NEE", "X-BASE").r2, 1);
  assert.equal(get("NEE", "trees").from, "2005-01");
  assert.equal(get("NEE", "trees").to, "2005-03");
  assert.equal(c.reports.find((r) => r.flux === "GPP")!.xbaseMissing, 1);
  const t = xbaseTableRows(c.scores, ["trees"]);
  assert.deepEqual(t.columns, [
    "site",
    "flux",
    "months",
    "from",
    "to",
    "X-BASE R2",
    "X-BASE RMSE",
    "trees R2",
    "trees RMSE",
  ]);
  assert.deepEqual(t.rows[0].slice(0, 5), ["T", "GPP", 2, "2005-01", "2005-02"]);
  // a tower without predictions of a model is refused
  assert.throws(
    () => compareXbase(ds, xb, { models: ["tamrl"], sites: [tower] }),
    /tamrl has no prediction at T/,
  );
});
