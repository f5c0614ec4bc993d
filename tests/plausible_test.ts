/**
 * Plausible-range checks at load (one definition, lib/data/ranges.ts, for training and
 * prediction): a unit mistake or a corrupt cell is an error naming the file, column and line.
 */
import assert from "node:assert/strict";
import { parseFluxnetDaily } from "../lib/data/fluxnet.ts";
import { PLAUSIBLE_RANGES } from "../lib/data/ranges.ts";
import { checkDriverUnits, parseDriverDaily } from "../lib/predict/inputs.ts";

const HEADER = "TIMESTAMP,TA_F,TA_F_QC,SW_IN_F,SW_IN_F_QC,VPD_F,VPD_F_QC,NEE_VUT_REF," +
  "NEE_VUT_REF_QC,GPP_NT_VUT_REF,GPP_DT_VUT_REF";
const FILE = "FLX_FR-Pue_FLUXNET2015_HH2DD_DD_2012-2012.csv";

/** Ten plausible days; `edit` changes the cells of row `row` (0-based) by column name. */
function daily(edit: Record<string, string> = {}, row = 4): string {
  const names = HEADER.split(",");
  const rows = [HEADER];
  for (let i = 0; i < 10; i++) {
    const cells = [
      `201206${String(i + 1).padStart(2, "0")}`,
      `${18 + i / 10}`,
      "1",
      "250",
      "1",
      "9",
      "1",
      "-3",
      "0.9",
      "8",
      "7.5",
    ];
    if (i === row) { for (const [c, v] of Object.entries(edit)) cells[names.indexOf(c)] = v; }
    rows.push(cells.join(","));
  }
  return rows.join("\n") + "\n";
}

const train = (text: string) => parseFluxnetDaily(text, { file: FILE, site: "FR-Pue" });

Deno.test("training load: TA_F in kelvin, 99999 and 1e999 are errors naming file, column, line", () => {
  assert.equal(train(daily()).rows, 10);
  assert.throws(
    () => train(daily({ TA_F: "290.15" })),
    /FR-Pue\S*\.csv, column TA_F, line 6: implausible value 290\.15: outside the plausible range \[-70, 60\] degC \(kelvin/,
  );
  assert.throws(
    () => train(daily({ SW_IN_F: "99999" }, 7)),
    /column SW_IN_F, line 9: implausible value 99999/,
  );
  assert.throws(
    () => train(daily({ NEE_VUT_REF: "-75" })),
    /column NEE_VUT_REF, line 6: implausible value -75/,
  );
  assert.throws(
    () => train(daily({ GPP_NT_VUT_REF: "1e999" })),
    /column GPP_NT_VUT_REF, line 6: non-finite value "1e999"/,
  );
  assert.throws(
    () => train(daily({ VPD_F: "inf" })),
    /column VPD_F, line 6: non-numeric value "inf"/,
  );
  // -9999 stays "missing", not implausible
  assert.ok(Number.isNaN(train(daily({ TA_F: "-9999" })).values.TA_F[4]));
});

Deno.test("prediction input: the same ranges; kelvin, 99999 and 1e999 rejected with file/column/line", () => {
  const drivers = ["TA_F", "SW_IN_F", "VPD_F"] as const;
  const predict = (text: string) => {
    const d = parseDriverDaily(text, { file: FILE, site: "FR-Pue", drivers });
    checkDriverUnits(d, { lat: 43.7 });
  };
  predict(daily());
  assert.throws(
    () => predict(daily({ TA_F: "290.15" })),
    /FR-Pue\S*\.csv, column TA_F: implausible values: value 290\.15 \(line 6\) is above the plausible 60/,
  );
  assert.throws(
    () => predict(daily({ VPD_F: "99999" })),
    /column VPD_F: implausible values: value 99999 \(line 6\) is above the plausible 120/,
  );
  for (const text of ["1e999", "-1E400"]) {
    assert.throws(
      () => predict(daily({ SW_IN_F: text })),
      new RegExp(`column SW_IN_F, line 6: non-finite value "${text}"`),
    );
  }
  for (const text of ["inf", "NaN", "Infinity"]) {
    assert.throws(
      () => predict(daily({ SW_IN_F: text })),
      new RegExp(`column SW_IN_F, line 6: non-numeric value "${text}"`),
    );
  }
  assert.equal(PLAUSIBLE_RANGES.TA_F.max, 60);
});
