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
import { parseArgs } from "node:util";
import { fetchFluxnet, StoreUnreachableError } from "../lib/data/fetch/mod.ts";
import { DEFAULT_STORE_URL } from "../lib/data/fetch/zarr_fluxnet.ts";
import { PROJECT_ROOT } from "../lib/data/paths.ts";
import { join } from "node:path";

const HELP = `deno task data:fetch [options]

Builds a data folder (fluxnet2015/daily, fluxnet2015/sites.csv, metaflux_monthly) from
public sources. Restartable: finished files are kept and skipped.

  --store <url|path>   FLUXNET2015 Zarr store (default ${DEFAULT_STORE_URL})
  --sites A,B,...      only these sites (default: every site of the store)
  --out <folder>       output data folder (default ${join(PROJECT_ROOT, "data")})
  --metaflux <src>     MetaFlux source: GitHub URL (default https://github.com/leap-stc/metaflux)
                       or a local folder holding <SITE>_MM.csv files
  --no-metaflux        skip the MetaFlux monthly files
  --retries N          retries of a failed download (default 3)
  -h, --help           this help

Data: FLUXNET2015 (CC-BY-4.0; cite Pastorello et al. 2020, Sci Data 7:225, and each site),
MetaFlux (MIT; Nathaniel et al. 2023, Sci Data 10:440).`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      store: { type: "string" },
      sites: { type: "string" },
      out: { type: "string" },
      metaflux: { type: "string" },
      "no-metaflux": { type: "boolean", default: false },
      retries: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
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
      sites: values.sites?.split(",").map((s) => s.trim()).filter((s) => s !== ""),
      metaflux: values["no-metaflux"] ? false : values.metaflux,
      retries: values.retries === undefined ? undefined : Number(values.retries),
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
