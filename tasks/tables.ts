/**
 * Merges whatever units of a run have finished into tables and figures:
 * `results/<run>/tables/*.{md,csv,json}` and `results/<run>/figures/*.{vl.json,svg,png}`.
 * When the run's plan (`profile.json`) has units that are not done, a warning names them: such
 * tables are partial (`deno task reproduce` itself writes tables only from a complete plan).
 *
 * Usage: deno task tables [--run <name>] [--no-figures]
 *
 * @module
 */
import { join } from "node:path";
import { cli, defineTask, opt } from "../lib/cli/mod.ts";
import { PROJECT_ROOT, resolveDataDir } from "../lib/data/paths.ts";
import { loadSites } from "../lib/data/sites.ts";
import { buildReport, runMissingUnits } from "../lib/experiments/mod.ts";

const TASK = defineTask({
  name: "tables",
  description: "merges the finished units of a run into tables and figures",
  options: {
    run: opt.name("the run folder under results/", { default: "quick" }),
    "no-figures": opt.flag("write the tables only"),
  },
  examples: ["deno task tables --run quick", "deno task tables --run smoke --no-figures"],
});

const values = cli(TASK);
const runDir = join(PROJECT_ROOT, "results", values.run);
const t0 = performance.now();
const sites = await loadSites(resolveDataDir().sitesCsv);
const out = await buildReport(runDir, {
  sites,
  figures: !values["no-figures"],
  xbaseDir: resolveDataDir().xbaseMonthly,
});
if (out.units === 0) Deno.exit(1);
let missing: string[] = [];
try {
  missing = await runMissingUnits(runDir);
} catch (error) {
  // without the run's plan nobody can tell whether the tables are partial: say so
  console.error(
    `tables: WARNING: cannot tell whether units of the plan are missing: ${
      (error as Error).message
    }`,
  );
}
if (missing.length > 0) {
  console.error(
    `tables: WARNING: partial tables: ${missing.length} unit(s) of the plan are not done: ` +
      `${missing.join(", ")}`,
  );
}
console.log(
  `${out.units} finished units -> ${out.tables.length} table files, ${out.figures.length} figure ` +
    `files under ${runDir} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
);
for (const split of Object.keys(out.main)) {
  console.log(`\n${await Deno.readTextFile(join(runDir, "tables", `main_${split}.md`))}`);
  if (out.significance[split]) {
    console.log(`Significance, ${split} split: ${out.significance[split]}\n`);
  }
}
