/**
 * Times building the dataset (features, split, scaler, windows, sources) on every site, for the
 * Köppen and IGBP splits, and prints the window and class summaries. Goal: under 15 s.
 *
 * Usage: deno run -A tasks/bench_dataset.ts [--feature-set minimal|meteo] [--window 30]
 *   [--stride 15] [--seed 42] [--batches N]  (N: also time N training batches of 64)
 */
import { parseArgs } from "node:util";
import { useBackend } from "../lib/backend.ts";
import { disposeBatch } from "../lib/data/batches.ts";
import { buildDataset } from "../lib/data/dataset.ts";
import { loadFluxnet } from "../lib/data/fluxnet.ts";
import { formatDatasetSummary, summarizeDataset } from "../lib/data/summary.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "feature-set": { type: "string", default: "minimal" },
    window: { type: "string", default: "30" },
    stride: { type: "string", default: "15" },
    seed: { type: "string", default: "42" },
    batches: { type: "string", default: "20" },
  },
});

const load0 = performance.now();
const loaded = await loadFluxnet();
// loadFluxnet uses its Parquet cache when present; the load time is reported separately
const loadSeconds = (performance.now() - load0) / 1000;
console.log(
  `load: ${loaded.sites.length} sites, ${loaded.frame.height} site-days, ${
    loadSeconds.toFixed(2)
  } s (cache ${loaded.report.cache.status})`,
);
await useBackend("wasm");
for (const kind of ["koppen", "igbp"] as const) {
  const t0 = performance.now();
  const ds = await buildDataset({
    featureSet: values["feature-set"] as "minimal" | "meteo",
    window: Number(values.window),
    stride: Number(values.stride),
    split: { kind, seed: Number(values.seed) },
  }, { loaded });
  const build = (performance.now() - t0) / 1000;
  console.log(`\n=== ${kind} split ===`);
  console.log(formatDatasetSummary(ds, summarizeDataset(ds)));
  const nb = Number(values.batches);
  const b0 = performance.now();
  let made = 0;
  for (const b of ds.train.batches({ batchSize: 64, shuffle: true, seed: 1 })) {
    disposeBatch(b);
    if (++made >= nb) break;
  }
  const perBatch = made ? (performance.now() - b0) / made : 0;
  console.log(
    `build ${build.toFixed(2)} s (features ${ds.report.seconds.features.toFixed(2)} s, ` +
      `prepare ${ds.report.seconds.prepare.toFixed(2)} s) + load ${loadSeconds.toFixed(2)} s = ` +
      `${(build + loadSeconds).toFixed(2)} s; ${made} training batches of 64: ` +
      `${perBatch.toFixed(1)} ms each`,
  );
}
const mem = Deno.memoryUsage();
console.log(
  `memory: rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, heap ${
    (mem.heapUsed / 2 ** 20).toFixed(0)
  } MiB`,
);
console.log(`load average: ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
