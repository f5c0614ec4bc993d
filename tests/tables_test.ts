import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import type { AggregateRow } from "../lib/eval/aggregate.ts";
import { METRIC_NAMES } from "../lib/metrics/metrics.ts";
import { type Flux, FLUXES, writePredictions } from "../lib/eval/predictions.ts";
import { runPlan, type Unit } from "../lib/experiments/plan.ts";
import { buildReport } from "../lib/experiments/report.ts";
import {
  ablationTable,
  groupTable,
  mainTable,
  PAPER_MAIN,
  type Provenance,
  relativeChange,
  siteCitations,
  TableSchema,
  toCsv,
  toMarkdown,
  writeTable,
} from "../lib/eval/tables.ts";
import { loadSites } from "../lib/data/sites.ts";
import { resolveDataDir } from "../lib/data/paths.ts";
import { SITES, syntheticTable } from "./eval_fixtures.ts";

const provenance: Provenance = {
  gitCommit: "abc123",
  configHash: "cafe",
  seeds: [0],
  backend: "cpu",
  dataSummary: "4 synthetic sites",
  wallTimeSeconds: 12.5,
  generatedAt: "2026-01-01T00:00:00Z",
};
const sites = [{ site: "DE-Tha", doi: "10.18140/FLX/1440152" }, { site: "XX-Nod", doi: null }];

/** An aggregate row with given mean RMSE and R2 (other summaries filled with the same value). */
function agg(model: string, flux: Flux, rmse: number, r2: number, group = "all"): AggregateRow {
  const s = (v: number) => ({ n: 4, mean: v, median: v, q25: v, q75: v });
  const metrics = {} as AggregateRow["metrics"];
  for (const m of METRIC_NAMES) metrics[m] = s(0);
  metrics.rmse = s(rmse);
  metrics.r2 = s(r2);
  metrics.r2_clipped = s(Math.max(0, r2));
  return {
    model,
    seed: 0,
    flux,
    groupBy: group === "all" ? "all" : "KOPPEN_MAIN",
    group,
    sites: 4,
    metrics,
  };
}

Deno.test("main table: ours beside the paper, relative change as the abstract computes it", () => {
  const rows: AggregateRow[] = [];
  for (const f of FLUXES) {
    rows.push(agg("trees", f, 2.0, 0.4), agg("tamrl", f, 1.8, 0.5), agg("lstm", f, 1.9, 0.45));
  }
  const t = mainTable(rows, { provenance, sites });
  TableSchema.parse(t);
  const col = (name: string) => t.columns.indexOf(name);
  const names = t.rows.map((r) => r[0]);
  assert.deepEqual(names.slice(0, 3), ["Trees (GBT)", "LSTM", "TAM-RL"]);
  const trees = t.rows[0];
  assert.equal(trees[col("GPP RMSE")], 2.0);
  assert.equal(trees[col("paper row")], "XGBoost");
  assert.equal(trees[col("paper GPP RMSE")], 2.17);
  assert.equal(t.rows[1][col("paper GPP RMSE")], null); // no LSTM row in the paper
  const ours = t.rows.find((r) => r[0] === "TAM-RL vs trees (ours), change")!;
  assert.equal(ours[col("GPP RMSE")], "-10.0%");
  assert.equal(ours[col("NEE R2")], "+25.0%");
  const paper = t.rows.find((r) => r[0] === "TAM-RL vs XGBoost (paper), change")!;
  // (1.97 - 2.17) / 2.17 = -9.2%; (0.43 - 0.34) / 0.34 = +26.5%; NEE (1.62-1.76)/1.76 = -8.0%
  assert.equal(paper[col("paper GPP RMSE")], "-9.2%");
  assert.equal(paper[col("paper GPP R2")], "+26.5%");
  assert.equal(paper[col("paper NEE RMSE")], "-8.0%");
  assert.equal(paper[col("paper NEE R2")], "+43.8%");
  const xb = t.rows.find((r) => r[0] === "TAM-RL vs FLUXCOM-X-BASE (paper), change")!;
  assert.equal(xb[col("paper GPP RMSE")], "-9.6%");
  assert.equal(PAPER_MAIN.length, 5);
  // An R2 change against a reference <= 0 is not given.
  const neg = mainTable([agg("trees", "GPP", 2, -0.5), agg("tamrl", "GPP", 1, 0.2)], {
    provenance,
    sites,
  });
  const negRow = neg.rows.find((r) => r[0] === "TAM-RL vs trees (ours), change")!;
  assert.equal(negRow[neg.columns.indexOf("GPP R2")], "n/a (ref <= 0)");
  assert.equal(negRow[neg.columns.indexOf("GPP R2 clipped")], "n/a (ref <= 0)");
  assert.equal(negRow[neg.columns.indexOf("GPP RMSE")], "-50.0%");
  assert.ok(Math.abs(relativeChange(1.8, 2.0) + 10) < 1e-9);
});

Deno.test("markdown and CSV carry provenance, notes, sites with DOIs and the citation", () => {
  const t = mainTable([agg("tamrl", "GPP", 1.8, 0.5)], { provenance, sites, rules: ["rule X"] });
  const md = toMarkdown(t);
  assert.match(md, /- git commit: abc123/);
  assert.match(md, /- config hash: cafe/);
  assert.match(md, /- seeds: 0/);
  assert.match(md, /- backend: cpu/);
  assert.match(md, /- data: 4 synthetic sites/);
  assert.match(md, /- wall time \(sum over units\): 12\.5 s/);
  assert.match(md, /rule X/);
  assert.match(
    md,
    /Sites used \(2\): DE-Tha \(doi:10\.18140\/FLX\/1440152\); XX-Nod \(no DOI listed\)/,
  );
  assert.match(md, /Pastorello/);
  const csv = toCsv(t);
  assert.match(csv, /^# Main table/);
  assert.match(csv, /# citation: Pastorello/);
  const records = parse(csv, { comment: "#", columns: true }) as Record<string, string>[];
  assert.equal(records[0].model, "TAM-RL");
  assert.equal(Number(records[0]["GPP RMSE"]), 1.8);
});

Deno.test("group and ablation tables", () => {
  const rows = [
    agg("tamrl", "GPP", 1, 0.5, "C"),
    agg("tamrl", "RECO", 1, 0.5, "C"),
    agg("tamrl", "NEE", 1, 0.5, "C"),
    agg("trees", "GPP", 2, 0.3, "C"),
  ];
  const g = groupTable(rows, { provenance, sites, by: "KOPPEN_MAIN", models: ["trees", "tamrl"] });
  assert.equal(g.name, "by_koppen");
  assert.deepEqual(g.rows.map((r) => [r[0], r[1]]), [["C", "Trees (GBT)"], ["C", "TAM-RL"]]);

  const all: AggregateRow[] = [];
  for (const f of FLUXES) {
    all.push(
      agg("tamrl", f, 1.0, 0.5),
      agg("tamrl:no_balance", f, 1.1, 0.45),
      agg("tamlstm", f, 1.2, 0.4),
    );
  }
  const bal = [{
    model: "tamrl:no_balance",
    seed: 0,
    days: 5,
    mean: 0.7,
    median: 0,
    p95: 0,
    max: 0,
    shareAbove: 0,
  }];
  const a = ablationTable(all, { provenance, sites, balance: bal });
  const col = (n: string) => a.columns.indexOf(n);
  assert.deepEqual(a.rows.map((r) => r[1]), ["tamrl", "tamrl:no_balance", "tamlstm"]);
  assert.equal(a.rows[1][col("NEE RMSE change vs full")], "+10.0%");
  assert.equal(a.rows[1][col("balance violation mean")], 0.7);
  assert.equal(a.rows[2][0], "static descriptors instead of z (= TAMLSTM)");
});

Deno.test("writeTable writes md, csv and json; bad tables are refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tamflux_tables_" });
  try {
    const t = mainTable([agg("tamrl", "GPP", 1.8, NaN)], { provenance, sites });
    const files = await writeTable(t, dir);
    assert.deepEqual(files.map((f) => f.split(".").pop()), ["md", "csv", "json"]);
    const json = JSON.parse(await Deno.readTextFile(join(dir, "main.json")));
    assert.equal(json.provenance.gitCommit, "abc123");
    assert.equal(json.rows[0][3], null); // NaN R2 written as null
    await assert.rejects(writeTable({ ...t, name: "Bad Name" }, dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("site citations come from sites.csv; an unknown site is an error", async () => {
  const all = await loadSites(resolveDataDir().sitesCsv);
  const c = siteCitations(["US-MMS", "DE-Tha", "DE-Tha"], all);
  assert.deepEqual(c.map((x) => x.site), ["DE-Tha", "US-MMS"]);
  assert.equal(c[0].doi, "10.18140/FLX/1440152");
  assert.throws(() => siteCitations(["XX-Nop"], all), /XX-Nop is not in sites.csv/);
});

Deno.test("report: a profile.json that is not JSON is an error, not the default QC settings", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "tamflux_report_" });
  try {
    const unit: Unit = {
      id: "lstm_koppen_s0",
      model: "lstm",
      split: "koppen",
      seed: 0,
      variant: null,
      label: "lstm",
      overrides: {},
    };
    await runPlan([unit], {
      runDir,
      log: () => {},
      runner: () =>
        Promise.resolve({
          predictions: "predictions.parquet",
          backend: "cpu",
          configHash: "h",
          dataSummary: "synthetic",
          testSites: [],
          extra: {},
        }),
    });
    await Deno.writeTextFile(join(runDir, "profile.json"), '{ "name": "cut sh');
    await assert.rejects(
      () => buildReport(runDir, { sites: [], log: () => {}, figures: false }),
      /profile\.json/,
    );
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("report: fake units -> every table and figure (SVG + PNG), ensembles over seeds", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "tamflux_report_" });
  try {
    const noise: Record<string, number> = {
      trees: 1.2,
      lstm: 0.9,
      ctlstm: 0.8,
      tamlstm: 0.7,
      tamrl: 0.5,
      mlp: 1.5,
      "tamrl:no_balance": 0.6,
    };
    const units: Unit[] = [];
    for (const label of Object.keys(noise)) {
      for (const seed of [0, 1]) {
        const [model, variant] = label.split(":");
        units.push({
          id: `${label.replace(":", "-")}_koppen_s${seed}`,
          model: model as Unit["model"],
          split: "koppen",
          seed,
          variant: variant ?? null,
          label,
          overrides: {},
        });
      }
    }
    const report = await runPlan(units, {
      runDir,
      log: () => {},
      runner: async (unit, { dir }) => {
        // 400 days, one day less for trees (alignment must drop it for everyone).
        const rows = syntheticTable({ models: [unit.label], days: 400, seed: unit.seed, noise })
          .filter((r) => !(unit.label === "trees" && r.date === "2009-01-01"));
        await writePredictions(join(dir, "predictions.parquet"), rows);
        return {
          predictions: "predictions.parquet",
          backend: "cpu",
          configHash: "h",
          dataSummary: "synthetic",
          testSites: SITES.map((s) => s.site),
          extra: {},
        };
      },
    });
    assert.equal(report.failed.length, 0);
    const out = await buildReport(runDir, {
      sites: await loadSites(resolveDataDir().sitesCsv),
      log: () => {},
    });
    assert.equal(out.units, units.length);
    const names = out.tables.map((p) => p.split("/").pop());
    for (
      const n of [
        "main_koppen.md",
        "main_koppen_qc80.csv",
        "by_koppen_koppen.json",
        "by_igbp_koppen.md",
        "ablation_koppen.md",
        "scales_koppen.md",
        "balance_koppen.md",
        "site_summary_koppen.csv",
        "site_metrics_koppen.csv",
      ]
    ) assert.ok(names.includes(n), `missing ${n}`);
    // Every model lost the trees' missing day at each of the 4 sites (2 seeds averaged first).
    assert.equal(out.alignmentDropped.koppen.tamrl, 4);
    const main = out.main.koppen;
    const rmse = (m: string) =>
      main.find((a) => a.model === m && a.flux === "GPP")!.metrics.rmse.mean;
    assert.ok(rmse("tamrl") < rmse("trees"));
    assert.ok(main.every((a) => a.seed === -1), "two seeds are averaged into an ensemble");
    const md = await Deno.readTextFile(join(runDir, "tables", "main_koppen.md"));
    assert.match(md, /Single-seed spread/);
    assert.match(md, /AU-Ade \(doi:10\.18140\/FLX\/1440193\)/);
    assert.equal(out.figures.length, 9);
    for (const f of out.figures.filter((p) => p.endsWith(".png"))) {
      const bytes = await Deno.readFile(f);
      assert.deepEqual([...bytes.slice(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
      assert.ok(bytes.length > 5000, `${f} is suspiciously small`);
    }
    const svg = await Deno.readTextFile(join(runDir, "figures", "seasonal_cycle_koppen.svg"));
    assert.match(svg, /<svg/);
    assert.match(svg, /DE-Tha/);
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});
