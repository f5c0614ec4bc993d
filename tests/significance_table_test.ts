import assert from "node:assert/strict";
import type { SiteMetricRow } from "../lib/eval/aggregate.ts";
import { describeSignificance, significanceTable } from "../lib/eval/significance_table.ts";
import { type Provenance, TableSchema } from "../lib/eval/tables.ts";
import type { Flux } from "../lib/eval/predictions.ts";

const provenance: Provenance = {
  gitCommit: "abc",
  configHash: "h",
  seeds: [0, 1],
  backend: "cpu",
  dataSummary: "synthetic",
  wallTimeSeconds: 1,
  generatedAt: "2026-01-01T00:00:00Z",
};

function siteRow(model: string, seed: number, i: number, flux: Flux, rmse: number): SiteMetricRow {
  return {
    model,
    seed,
    site: `S-${String(i).padStart(2, "0")}`,
    IGBP: "ENF",
    KOPPEN_MAIN: "C",
    flux,
    n: 100,
    rmse,
    r2: 1 - rmse / 4,
    r2_clipped: Math.min(1, Math.max(0, 1 - rmse / 4)),
    nmae: 0,
    rae: 0,
    bias: 0,
  };
}

/** 12 sites; TAM-RL 0.3 lower RMSE than the trees everywhere, equal to the LSTM on average. */
function rows(seed: number, shift = 0): SiteMetricRow[] {
  const out: SiteMetricRow[] = [];
  for (let i = 0; i < 12; i++) {
    for (const flux of ["GPP", "RECO", "NEE"] as Flux[]) {
      const base = 2 + (i % 4) * 0.25 + shift;
      out.push(siteRow("tamrl", seed, i, flux, base));
      out.push(siteRow("trees", seed, i, flux, base + 0.3 + (i % 3) * 0.01));
      out.push(siteRow("lstm", seed, i, flux, base + (i % 2 ? 0.2 : -0.2)));
    }
  }
  return out;
}

Deno.test("significance: a uniform margin is resolved, a symmetric one is not", () => {
  const { table, summary } = significanceTable(rows(-1), { provenance, sites: [] }, {
    models: ["trees", "lstm"],
    resamples: 2000,
  });
  TableSchema.parse(table);
  const verdict = (model: string, flux: string, metric: string) =>
    summary.rows.find((r) => r.model === model && r.flux === flux && r.metric === metric)!.verdict;
  for (const flux of ["GPP", "RECO", "NEE"]) {
    assert.equal(verdict("trees", flux, "rmse"), "better");
    assert.equal(verdict("trees", flux, "r2"), "better"); // higher R2 is better
    assert.equal(verdict("lstm", flux, "rmse"), "not resolved");
  }
  const row = table.rows.find((r) => r[0] === "TAM-RL vs Trees (GBT)" && r[1] === "GPP")!;
  assert.equal(row[3], 12); // sites
  assert.ok(Math.abs((row[6] as number) - -0.31) < 1e-9); // mean difference -0.3 - 0.01
  // all 12 differences negative, in 3 tied groups of 4: normal approximation, z = 38.5 / sqrt(158.75)
  assert.ok(Math.abs((row[9] as number) - 0.002244) < 2e-5, `p ${row[9]}`);
  assert.match(describeSignificance(summary), /better at 95 % in GPP RMSE vs Trees/);
  assert.match(describeSignificance(summary), /not resolved/);
});

Deno.test("significance: seed ranges come from the per-seed site means", () => {
  const perSeed = [...rows(0, 0), ...rows(1, 0.5)];
  const { table } = significanceTable(rows(-1, 0.25), { provenance, sites: [] }, {
    models: ["trees"],
    perSeed,
    resamples: 200,
  });
  const row = table.rows.find((r) => r[1] === "NEE" && r[2] === "RMSE")!;
  // tamrl's site means: seed 0 -> 2.375, seed 1 -> 2.875
  assert.ok(Math.abs((row[11] as number) - 2.375) < 1e-9);
  assert.ok(Math.abs((row[12] as number) - 2.875) < 1e-9);
});
