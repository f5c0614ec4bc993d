/**
 * `deno task data:fetch [--store <url or path>] [--sites FR-Pue,AU-Lox] [--out <folder>]
 *   [--metaflux <github url or folder> | --no-metaflux] [--retries N]`
 *
 * Builds a tamflux data folder from public sources: FLUXNET2015 daily files from the public
 * Zarr store (default https://excited-co2.github.io/zarr-fluxnet2015/fluxnet.zarr), the MetaFlux
 * monthly CSVs (github.com/leap-stc/metaflux) and fluxnet2015/sites.csv. Ctrl-C stops after the
 * site in progress; running the same command again finishes the rest.
 *
 * @module
 */
import { cli, defineTask, opt } from "../lib/cli/mod.ts";
import { fetchFluxnet, StoreUnreachableError } from "../lib/data/fetch/mod.ts";
import { DEFAULT_STORE_URL } from "../lib/data/fetch/zarr_fluxnet.ts";
import { PROJECT_ROOT } from "../lib/data/paths.ts";
import { join } from "node:path";

const TASK = defineTask({
  name: "data:fetch",
  description: "builds the daily files from the public FLUXNET2015 Zarr store",
  options: {
    store: opt.string("FLUXNET2015 Zarr store", {
      arg: "url|path",
      defaultText: DEFAULT_STORE_URL,
    }),
    sites: opt.custom("only these sites", {
      arg: "A,B,...",
      type: "comma-separated site ids",
      defaultText: "every site of the store",
      parse: (text) => text.split(",").map((s) => s.trim()).filter((s) => s !== ""),
    }),
    out: opt.string("output data folder", {
      arg: "folder",
      defaultText: join(PROJECT_ROOT, "data"),
    }),
    metaflux: opt.string("MetaFlux source: a GitHub URL or a folder of <SITE>_MM.csv files", {
      arg: "src",
      defaultText: "https://github.com/leap-stc/metaflux",
    }),
    "no-metaflux": opt.flag("skip the MetaFlux monthly files"),
    retries: opt.int("retries of a failed download", { min: 0, defaultText: "3" }),
  },
  examples: ["deno task data:fetch", "deno task data:fetch --sites FR-Pue,AU-Lox --out /tmp/data"],
  notes: [
    "Builds a data folder (fluxnet2015/daily, fluxnet2015/sites.csv, metaflux_monthly); " +
    "restartable: finished files are kept and skipped. Ctrl-C stops after the site in progress.",
    "Data: FLUXNET2015 (CC-BY-4.0; cite Pastorello et al. 2020, Sci Data 7:225, and each site),\n" +
    "MetaFlux (MIT; Nathaniel et al. 2023, Sci Data 10:440).",
  ],
});

async function main(): Promise<number> {
  const values = cli(TASK);
  const controller = new AbortController();
  let stops = 0;
  const onSigint = () => {
    stops++;
    if (stops > 1) Deno.exit(130);
    console.error("\nstopping after the site in progress (Ctrl-C again to quit at once)...");
    controller.abort(new DOMException("interrupted by Ctrl-C", "AbortError"));
  };
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    const report = await fetchFluxnet({
      store: values.store,
      out: values.out,
      sites: values.sites,
      metaflux: values["no-metaflux"] ? false : values.metaflux,
      retries: values.retries,
      signal: controller.signal,
    });
    if (report.interrupted) return 130;
    return report.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof StoreUnreachableError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

Deno.exit(await main());
