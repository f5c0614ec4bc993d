/**
 * Times building the dataset (features, split, scaler, windows, sources) on every site, for the
 * Köppen and IGBP splits, and prints the window and class summaries. Goal: under 15 s.
 *
 * Usage: deno run -A tasks/bench_dataset.ts [--feature-set minimal|meteo] [--window 30]
 *   [--stride 15] [--seed 42] [--batches N]  (N: also time N training batches of 64)
 */
import { cli, defineTask, opt } from "../lib/cli/mod.ts";
import { useBackend } from "../lib/backend.ts";
import { disposeBatch } from "../lib/data/batches.ts";
import { buildDataset } from "../lib/data/dataset.ts";
import { loadFluxnet } from "../lib/data/fluxnet.ts";
import { formatDatasetSummary, summarizeDataset } from "../lib/data/summary.ts";

const TASK = defineTask({
  name: "bench:dataset",
  description: "times building features, windows and splits on all sites",
  options: {
    "feature-set": opt.choice(["minimal", "meteo"] as const, "feature set", {
      default: "minimal",
    }),
    window: opt.int("window length in days", { min: 1, default: 30 }),
    stride: opt.int("stride between windows in days", { min: 1, default: 15 }),
    seed: opt.int("split seed", { default: 42 }),
    batches: opt.int("also time this many training batches of 64", { min: 0, default: 20 }),
  },
  examples: ["deno task bench:dataset", "deno task bench:dataset --feature-set meteo --batches 0"],
});

const values = cli(TASK);

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
    featureSet: values["feature-set"],
    window: values.window,
    stride: values.stride,
    split: { kind, seed: values.seed },
  }, { loaded });
  const build = (performance.now() - t0) / 1000;
  console.log(`\n=== ${kind} split ===`);
  console.log(formatDatasetSummary(ds, summarizeDataset(ds)));
  const nb = values.batches;
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
