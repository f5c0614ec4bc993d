/**
 * Shared helpers for the dataset tests: the two fixture site-years (FR-Pue 2012, AU-Lox 2009)
 * loaded with the real loader, their MetaFlux monthly rows, and a hand-made split.
 */
import { join } from "node:path";
import pl from "polars";
import { buildDataset, type BuildDatasetOptions, type DatasetConfig } from "../lib/data/dataset.ts";
import { loadFluxnet } from "../lib/data/fluxnet.ts";
import { readModisMonthlyFile } from "../lib/data/modis.ts";
import { resolveDataDir } from "../lib/data/paths.ts";
import { type Split, SplitSchema, SplitSpecSchema } from "../lib/data/splits.ts";

export const paths = resolveDataDir();

/** The fixtures as loaded by loadFluxnet (no cache). */
export async function loadFixtures() {
  return await loadFluxnet({ dir: paths.fixtures, cache: false });
}

/** MetaFlux monthly LAI/EVI of the two fixture sites. */
export function fixtureModis() {
  const file = join(paths.fixtures, "metaflux_monthly_FR-Pue_AU-Lox.csv");
  return new Map(readModisMonthlyFile(file).map((m) => [m.site, m]));
}

/** A split with the given train and test sites. */
export function handSplit(train: string[], test: string[]): Split {
  return SplitSchema.parse({
    kind: "koppen",
    seed: 0,
    spec: SplitSpecSchema.parse({}),
    train,
    test,
    strata: {},
  });
}

/** Build a dataset on the fixtures; `edit` may change the loaded frame first. */
export async function fixtureDataset(
  config: DatasetConfig,
  options: {
    train?: string[];
    test?: string[];
    edit?: (frame: pl.DataFrame) => pl.DataFrame;
  } & BuildDatasetOptions = {},
) {
  const loaded = await loadFixtures();
  const frame = options.edit ? options.edit(loaded.frame) : loaded.frame;
  return await buildDataset(config, {
    ...options,
    loaded: { frame, sites: loaded.sites },
    modis: fixtureModis(),
    split: handSplit(options.train ?? ["FR-Pue"], options.test ?? ["AU-Lox"]),
  });
}

/** Set `column` to null on the given ISO day of `site`. */
export function nullOn(site: string, iso: string, column: string) {
  return (frame: pl.DataFrame) =>
    frame.withColumns(
      pl.when(
        pl.col("site").eq(pl.lit(site)).and(
          pl.col("date").eq(pl.lit(new Date(iso + "T00:00:00Z")).cast(pl.Date)),
        ),
      )
        .then(pl.lit(null).cast(pl.Float64))
        .otherwise(pl.col(column))
        .alias(column),
    );
}
