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
import { cli, defineTask, opt } from "../lib/cli/mod.ts";

const TASK = defineTask({
  name: "data:summary",
  description:
    "sites, days and days with NEE QC >= 0.8 per IGBP class and Köppen group; windows and sites per split",
  options: {
    source: opt.choice(["daily", "official_dd"] as const, "which daily files to read", {
      default: "daily",
    }),
    dir: opt.string("read the files of this folder instead of the data folder's", {
      arg: "folder",
    }),
    qc: opt.number("NEE QC threshold of the days_qc column", { min: 0, max: 1, default: 0.8 }),
    "no-cache": opt.flag("do not read or write the Parquet cache"),
    "no-windows": opt.flag("skip the dataset part (windows and sites per split)"),
    "feature-set": opt.choice(["minimal", "meteo"] as const, "features of the dataset part", {
      default: "minimal",
    }),
    seed: opt.int("split seed", { default: 42 }),
  },
  examples: ["deno task data:summary", "deno task data:summary --source official_dd --qc 1"],
});

const values = cli(TASK);
const qcThreshold = values.qc;

let loaded;
try {
  loaded = await loadFluxnet({
    source: values.source,
    dir: values.dir,
    cache: !values["no-cache"],
  });
} catch (err) {
  // the whole message: it says what to download when no data folder is found
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
        featureSet: values["feature-set"],
        split: { kind, seed: values.seed },
      },
      { loaded },
    );
    console.log(`\n== dataset, ${kind} split (seed ${values.seed}) ==`);
    console.log(formatDatasetSummary(dataset, summarizeDataset(dataset)));
  }
}
console.log(`\n${DATA_ATTRIBUTION}`);
