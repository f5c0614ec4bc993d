/**
 * `deno task predict --run <run, ensemble or reproduce run folder> [--model NAME] [--split KIND]
 *   --data <folder of FLUXNET2015-style DD files>
 *   --sites <sites.csv> --out <file.csv|.parquet> [--monthly <metaflux folder>] [--only A,B]
 *   [--seed N] [--report <file.json>] [--weights best] [--training-sites <sites.csv>]
 *   [--backend wasm|cpu] [--allow-empty]`
 *
 * A reproduce run folder (`results/<run>`) gives the seed ensemble of its finished units of one
 * model (`--model`, default tamrl; `tamrl:<ablation>` for an ablation) on one split (`--split`,
 * default the only one, else koppen, said on stderr).
 *
 * Zero-shot daily GPP, RECO and NEE (ensemble mean, GPP/RECO clipped at 0) with ensemble standard
 * deviations and a status for every day of every input file (see lib/predict). Every input is
 * validated first; an `--out` (or `--report`) that is an input, lies inside an input folder or is
 * a folder is refused before any work, and so is one whose folder is not writable or that another
 * live predict is writing (a lock `<out>.lock`). The output is written atomically at the end (temp
 * file `<out>.tmp-<pid>`), so nothing partial is left on error; SIGINT/SIGTERM remove the temp
 * file and the lock (exit 130/143), and a temp file a killed run left is named and removed by the
 * next run to the same output. A site with no day predicted is an error naming the site and why
 * (nothing is written), unless `--allow-empty` (then a warning). Progress goes to stderr.
 */
import { cli, defineTask, errorLine, opt } from "../lib/cli/mod.ts";
import { useBackend } from "../lib/backend.ts";
import {
  checkOutputPath,
  coverageLine,
  emptySites,
  ensembleMembers,
  guardOutputs,
  loadEnsembleGroups,
  outputFormat,
  predictSites,
  requireFolder,
  writeOutputFile,
  writePredictionTable,
} from "../lib/predict/mod.ts";
import { resolveDataDir } from "../lib/data/paths.ts";
import { readJson } from "../lib/train/runs.ts";

const TASK = defineTask({
  name: "predict",
  description: "zero-shot daily fluxes with ensemble spread for new sites",
  options: {
    run: opt.custom("a run folder, an ensemble folder of runs, or a reproduce run (repeatable)", {
      multiple: true,
      required: true,
      arg: "folder",
      type: "folder",
      parse: (text) => [text],
    }),
    model: opt.string(
      "the units' model for a reproduce run folder (results/<run>): lstm, ctlstm, tamlstm, " +
        "tamrl or an ablation tamrl:<variant>",
      {
        arg: "NAME",
        defaultText: "tamrl",
      },
    ),
    split: opt.string("the units' split, for a reproduce run folder", {
      arg: "koppen|igbp",
      defaultText: "the run's only split, else koppen",
    }),
    data: opt.string("folder of FLUXNET2015-style DD files", { arg: "folder", required: true }),
    sites: opt.string("site table of the new sites", { arg: "sites.csv", required: true }),
    out: opt.string("output table", { arg: "file.csv|file.parquet", required: true }),
    monthly: opt.string("folder of MetaFlux monthly files", { arg: "folder" }),
    only: opt.custom("only these sites", {
      arg: "SITE,SITE",
      type: "comma-separated site ids",
      parse: (text) => text.split(",").map((s) => s.trim()).filter(Boolean),
    }),
    seed: opt.int("seed of the support-window choice", { min: 0, default: 0 }),
    report: opt.string("write the per-site report here", { arg: "file.json" }),
    weights: opt.string("which weights of each run", { arg: "label", defaultText: "best" }),
    "training-sites": opt.string("site table of the training sites", { arg: "sites.csv" }),
    backend: opt.choice(["wasm", "cpu"] as const, "TF.js backend", {
      defaultText: "the run's",
    }),
    "allow-empty": opt.flag("write the output even when a site gets no day predicted (warning)"),
  },
  examples: [
    "deno task predict --run runs/quick/tamrl --data new_sites/daily --sites new_sites/sites.csv --out predictions.csv",
    "deno task predict --run results/quick --model lstm --data new_sites/daily --sites new_sites/sites.csv --out lstm.csv",
  ],
  notes: [
    "Every input is validated first; the output is written atomically at the end. Progress goes to stderr.",
  ],
});

const values = cli(TASK);
const seed = values.seed;

/** The training site table predict reads when --training-sites is not given (if any). */
function defaultTrainingSites(): string[] {
  try {
    return [resolveDataDir().sitesCsv];
  } catch {
    return [];
  }
}

/** The work; returns the exit code. Outputs are guarded from before the first model is loaded. */
async function main(): Promise<number> {
  const out = values.out;
  outputFormat(out); // fail on a bad extension, or an output that is an input, before any work
  // a mistyped input folder is an error (a missing --monthly would read as "no MODIS")
  requireFolder(values.data, { what: "--data" });
  if (values.monthly !== undefined) requireFolder(values.monthly, { what: "--monthly" });
  const inputs = {
    files: [values.sites, values["training-sites"], values.report].filter((f) => f !== undefined),
    folders: [values.data, values.monthly, ...values.run].filter((f) => f !== undefined),
  };
  checkOutputPath(out, { flag: "--out", ...inputs });
  if (values.report) {
    checkOutputPath(values.report, {
      flag: "--report",
      files: [...inputs.files.filter((f) => f !== values.report), out],
      folders: inputs.folders,
    });
  }
  const t0 = performance.now();
  const members = await ensembleMembers(values.run, {
    model: values.model,
    split: values.split,
    onLog: (line) => console.error(`predict: ${line}`),
  });
  // the member folders as resolved (an ensemble's sub-folder may be a link to a run elsewhere)
  // and the default training site table are inputs too: check again before any work
  const resolved = {
    files: values["training-sites"] === undefined ? defaultTrainingSites() : [],
    folders: members,
  };
  checkOutputPath(out, { flag: "--out", ...resolved });
  if (values.report) checkOutputPath(values.report, { flag: "--report", ...resolved });
  // writable folders, a lock on each output, leftovers of killed runs removed; on SIGINT/SIGTERM
  // the temp file and the lock go, nothing partial stays
  const outputs = [
    { flag: "--out", path: out },
    ...(values.report ? [{ flag: "--report", path: values.report }] : []),
  ];
  let written = false;
  const guard = await guardOutputs(outputs, {
    onLog: (line) => console.error(`predict: ${line}`),
    onSignal: (signal, removed) => {
      const left = removed.length ? `; removed ${removed.join(", ")}` : "";
      console.error(
        `predict: ${signal}: stopped${left}; ${
          written ? `${out} was complete before the signal` : `nothing written to ${out}`
        }`,
      );
      Deno.exit(signal === "SIGINT" ? 130 : 143);
    },
  });
  try {
    const saved = await readJson(`${members[0]}/config.json`) as { backend?: string };
    const backend = await useBackend(
      (values.backend ?? (saved.backend === "cpu" ? "cpu" : "wasm")) as "wasm" | "cpu",
    );
    const ensemble = await loadEnsembleGroups(members, {
      weights: values.weights,
      trainingSites: values["training-sites"],
    });
    console.error(`predict: backend ${backend}; members ${members.join(", ")}`);
    try {
      const { frame, report } = await predictSites(ensemble, {
        data: values.data,
        sites: values.sites,
        monthly: values.monthly,
        only: values.only,
        seed,
        onProgress: (line) => console.error(line),
      });
      const empty = emptySites(report);
      if (empty.length > 0 && !values["allow-empty"]) {
        for (const line of empty) console.error(`predict: ${line}`);
        console.error(
          "predict: nothing written; fix the inputs, or pass --allow-empty to write the table anyway",
        );
        return 1;
      }
      for (const line of empty) console.error(`predict: WARNING (--allow-empty): ${line}`);
      await writePredictionTable(frame, out);
      written = true;
      const seconds = (performance.now() - t0) / 1000;
      if (values.report) {
        await writeOutputFile(
          values.report,
          JSON.stringify({ ...report, wallSeconds: seconds }, null, 2) + "\n",
        );
      }
      console.error(`predict: ${coverageLine(report)} -> ${out}; ${seconds.toFixed(1)} s`);
      return 0;
    } finally {
      ensemble.dispose();
    }
  } finally {
    await guard.release();
  }
}

let code: number;
try {
  code = await main();
} catch (error) {
  console.error(errorLine(TASK.name, error));
  code = 1;
}
Deno.exit(code);
