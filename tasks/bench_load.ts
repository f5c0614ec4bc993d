/**
 * Times loading all FLUXNET2015 daily sites: cold (cache bypassed), cold with a cleared cache
 * (parse + write the Parquet cache), and cached loads. Goals: cold < 10 s, cached < 1 s.
 *
 * Usage: deno task bench:load [--source daily|official_dd] [--repeat 3]
 *
 * @module
 */
import { join } from "node:path";
import { cli, defineTask, opt } from "../lib/cli/mod.ts";
import { loadFluxnet } from "../lib/data/mod.ts";
import { cacheDir } from "../lib/data/paths.ts";

const TASK = defineTask({
  name: "bench:load",
  description: "times loading all sites cold and from the Parquet cache",
  options: {
    source: opt.choice(["daily", "official_dd"] as const, "which daily files to load", {
      default: "daily",
    }),
    repeat: opt.int("cached loads to time", { min: 1, default: 3 }),
  },
  examples: ["deno task bench:load", "deno task bench:load --source official_dd --repeat 5"],
});

const { source, repeat } = cli(TASK);
// A private cache folder, so the bench starts from an empty (cleared) cache and leaves the
// project's cache alone.
const benchCache = join(cacheDir(), `bench_load_${Deno.pid}`);

async function timed(label: string, cache: boolean): Promise<number> {
  const t0 = performance.now();
  const { frame, report } = await loadFluxnet({ source, cache, cacheDir: benchCache });
  const s = (performance.now() - t0) / 1000;
  console.log(
    `${label.padEnd(32)} ${s.toFixed(3).padStart(7)} s  ` +
      `(${report.filesRead} sites, ${frame.height} rows, cache ${report.cache.status}` +
      `${report.cache.lookup ? `/${report.cache.lookup}` : ""})`,
  );
  return s;
}

function load(): string {
  return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
}

console.log(`bench:load source=${source}, ${navigator.hardwareConcurrency} CPUs, load ${load()}`);
try {
  const cold = await timed("cold (cache bypassed)", false);
  const build = await timed("cold + write cache (cleared)", true);
  const cached: number[] = [];
  for (let i = 0; i < repeat; i++) cached.push(await timed(`cached #${i + 1}`, true));
  const best = Math.min(...cached);
  console.log(
    `\ncold ${cold.toFixed(2)} s (goal < 10 s: ${cold < 10 ? "met" : "NOT met"}), ` +
      `cold + cache write ${build.toFixed(2)} s, ` +
      `cached best ${best.toFixed(3)} s (goal < 1 s: ${best < 1 ? "met" : "NOT met"}); ` +
      `load ${load()}`,
  );
} finally {
  Deno.removeSync(benchCache, { recursive: true });
}
