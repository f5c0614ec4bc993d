import assert from "node:assert/strict";
import { formatNumber, markdownTable } from "../lib/eval/markdown.ts";

Deno.test("markdownTable: header, separator, escaped and formatted cells", () => {
  const md = markdownTable([
    { site: "A|B", value: 1.23456, n: 3, note: null },
    { site: "C", value: 0.00001234, n: 4, note: "x" },
  ], { digits: 2 });
  assert.equal(
    md,
    [
      "| site | value | n | note |",
      "|---|---|---|---|",
      "| A\\|B | 1.23 | 3 |  |",
      "| C | 1.23e-5 | 4 | x |",
    ].join("\n"),
  );
  assert.equal(markdownTable([{ a: 1, b: 2 }], { columns: ["b"] }), "| b |\n|---|\n| 2 |");
  assert.equal(formatNumber(NaN), "NaN");
  assert.equal(formatNumber(-0.5, 1), "-0.5");
});
