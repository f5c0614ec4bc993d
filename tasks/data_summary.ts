/**
 * Prints what the FLUXNET2015 loader reads: the load report, then sites, days, days with NEE and
 * days with NEE QC >= 0.8 per IGBP class, per Köppen main group and in total, and the data
 * attribution.
 *
 * With the daily source it then builds the dataset (features, windows, splits) for the Köppen and
 * IGBP site-holdout splits and prints windows per split, sites per class per split and the rows
 * dropped by each rule (`--no-windows` skips that part).
 *
 * Usage: deno task data:summary [--source daily|official_dd] [--dir FOLDER] [--qc 0.8] [--no-cache]
 *        [--no-windows] [--feature-set minimal|meteo] [--seed 42]
 *
 * @module
 */
import { parseArgs } from "node:util";
import pl from "polars";
import {
  buildDataset,
  DATA_ATTRIBUTION,
  formatDatasetSummary,
  formatLoadReport,
  loadFluxnet,
  summarize,
  summarizeDataset,
} from "../lib/data/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    source: { type: "string", default: "daily" },
    dir: { type: "string" },
    qc: { type: "string", default: "0.8" },
    "no-cache": { type: "boolean", default: false },
    "no-windows": { type: "boolean", default: false },
    "feature-set": { type: "string", default: "minimal" },
    seed: { type: "string", default: "42" },
  },
});
if (values.source !== "daily" && values.source !== "official_dd") {
  console.error(`--source must be daily or official_dd, not ${values.source}`);
  Deno.exit(2);
}
const qcThreshold = Number(values.qc);
if (!(qcThreshold >= 0 && qcThreshold <= 1)) {
  console.error(`--qc must be a number in [0, 1], not ${values.qc}`);
  Deno.exit(2);
}

let loaded;
try {
  loaded = await loadFluxnet({
    source: values.source,
    dir: values.dir,
    cache: !values["no-cache"],
  });
} catch (err) {
  console.error((err as Error).message);
  Deno.exit(1);
}
const { frame, report } = loaded;
const summary = summarize(frame, { qcThreshold });
pl.Config.setTblRows(100);

const qcName = `days_qc (NEE_QC >= ${qcThreshold})`;
const pretty = (df: pl.DataFrame) => df.rename({ days_qc: qcName }).toString();
console.log("== load report ==");
console.log(formatLoadReport(report));
console.log(
  "\ndays = site-days in the table; days_nee = days with NEE; " +
    `days_qc = days with NEE and NEE_QC >= ${qcThreshold}`,
);
console.log("\n== per IGBP class ==");
console.log(pretty(summary.byIgbp));
console.log("\n== per Köppen main group ==");
console.log(pretty(summary.byKoppen));
console.log("\n== total ==");
console.log(pretty(summary.total));

if (values.source === "daily" && !values.dir && !values["no-windows"]) {
  for (const kind of ["koppen", "igbp"] as const) {
    const dataset = await buildDataset(
      {
        featureSet: values["feature-set"] as "minimal" | "meteo",
        split: { kind, seed: Number(values.seed) },
      },
      { loaded },
    );
    console.log(`\n== dataset, ${kind} split (seed ${values.seed}) ==`);
    console.log(formatDatasetSummary(dataset, summarizeDataset(dataset)));
  }
}
console.log(`\n${DATA_ATTRIBUTION}`);
