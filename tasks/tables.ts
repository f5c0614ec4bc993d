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
import { parseArgs } from "node:util";
import { join } from "node:path";
import { PROJECT_ROOT, resolveDataDir } from "../lib/data/paths.ts";
import { loadSites } from "../lib/data/sites.ts";
import { buildPlan, buildReport, ProfileSchema } from "../lib/eval/mod.ts";
import { missingUnits } from "../lib/eval/claims.ts";
import { readJson } from "../lib/train/runs.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    run: { type: "string", default: "quick" },
    "no-figures": { type: "boolean", default: false },
  },
});
if (!/^[A-Za-z0-9_.-]+$/.test(values.run)) {
  console.error(`--run must be letters, digits, _ . - only, not "${values.run}"`);
  Deno.exit(2);
}
const runDir = join(PROJECT_ROOT, "results", values.run);
const t0 = performance.now();
const sites = await loadSites(resolveDataDir().sitesCsv);
const out = await buildReport(runDir, {
  sites,
  figures: !values["no-figures"],
  xbaseDir: resolveDataDir().xbaseMonthly,
});
if (out.units === 0) Deno.exit(1);
const plan = ProfileSchema.safeParse(
  await readJson(join(runDir, "profile.json")).catch(() => null),
);
const missing = plan.success ? await missingUnits(buildPlan(plan.data), runDir) : [];
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
}
