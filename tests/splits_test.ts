import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveDataDir } from "../lib/data/paths.ts";
import { loadSites } from "../lib/data/sites.ts";
import { loadSplit, makeSplit, saveSplit, type Split } from "../lib/data/splits.ts";

const sites = await loadSites(resolveDataDir().sitesCsv);

function assertDisjointCover(split: Split) {
  const train = new Set(split.train);
  for (const s of split.test) assert.ok(!train.has(s), `${s} in train and test`);
  assert.equal(split.train.length + split.test.length, sites.length);
  assert.deepEqual([...split.train, ...split.test].sort(), sites.map((s) => s.SITE_ID).sort());
}

function perClass(split: Split, key: "IGBP" | "KOPPEN_MAIN") {
  const test = new Set(split.test);
  const out = new Map<string, { n: number; test: number }>();
  for (const s of sites) {
    const e = out.get(s[key]) ?? { n: 0, test: 0 };
    e.n++;
    if (test.has(s.SITE_ID)) e.test++;
    out.set(s[key], e);
  }
  return out;
}

Deno.test("no site is in both train and test of any split (183 real sites, many seeds)", () => {
  assert.equal(sites.length, 183);
  for (const seed of [0, 1, 42, 12345]) {
    assertDisjointCover(makeSplit(sites, { kind: "koppen", seed }));
    assertDisjointCover(makeSplit(sites, { kind: "igbp", seed }));
    for (let fold = 0; fold < 5; fold++) {
      assertDisjointCover(makeSplit(sites, { kind: "kfold", seed, fold }));
      assertDisjointCover(makeSplit(sites, { kind: "kfold", seed, fold, stratify: "igbp" }));
    }
  }
});

Deno.test("koppen split: 80/20 within every Köppen main group", () => {
  const split = makeSplit(sites, { kind: "koppen", seed: 42 });
  for (const [cls, { n, test }] of perClass(split, "KOPPEN_MAIN")) {
    assert.equal(test, Math.min(n - 1, Math.max(1, Math.round(0.2 * n))), `group ${cls}`);
  }
  assert.equal(split.strata["FR-Pue"], "C");
});

Deno.test("igbp split: 80/20 per class, 50/50 for classes with <= 10 sites, singletons stay in train", () => {
  const split = makeSplit(sites, { kind: "igbp", seed: 42 });
  const classes = perClass(split, "IGBP");
  let small = 0;
  for (const [cls, { n, test }] of classes) {
    const fraction = n <= 10 ? 0.5 : 0.2;
    if (n <= 10) small++;
    const expected = n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
    assert.equal(test, expected, `class ${cls} (${n} sites)`);
  }
  assert.ok(small > 0, "the real table has small IGBP classes");
});

Deno.test("k-fold: every site is test in exactly one fold, folds balanced, strata spread", () => {
  const times = new Map<string, number>();
  const sizes: number[] = [];
  for (let fold = 0; fold < 5; fold++) {
    const split = makeSplit(sites, { kind: "kfold", seed: 3, k: 5, fold });
    sizes.push(split.test.length);
    for (const s of split.test) times.set(s, (times.get(s) ?? 0) + 1);
    // each Köppen group's test share differs from 1/5 by less than one site
    for (const [cls, { n, test }] of perClass(split, "KOPPEN_MAIN")) {
      assert.ok(Math.abs(test - n / 5) < 1, `fold ${fold} group ${cls}: ${test} of ${n}`);
    }
  }
  assert.equal(times.size, 183);
  assert.ok([...times.values()].every((t) => t === 1));
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `fold sizes ${sizes}`);
  assert.throws(() => makeSplit(sites, { kind: "kfold", k: 5, fold: 5 }), /fold/);
});

Deno.test("the same seed gives the same split; another seed a different one", () => {
  for (const kind of ["koppen", "igbp", "kfold"] as const) {
    const a = makeSplit(sites, { kind, seed: 7 });
    const b = makeSplit([...sites].reverse(), { kind, seed: 7 }); // input order does not matter
    assert.deepEqual(a, b);
    const c = makeSplit(sites, { kind, seed: 8 });
    assert.notDeepEqual(a.test, c.test);
  }
});

Deno.test("splits save and load as JSON; a file with a site in both sets is rejected", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const split = makeSplit(sites, { kind: "igbp", seed: 11 });
    const path = join(dir, "split.json");
    await saveSplit(path, split);
    assert.deepEqual(await loadSplit(path), split);
    const bad = { ...split, test: [...split.test, split.train[0]] };
    await Deno.writeTextFile(join(dir, "bad.json"), JSON.stringify(bad));
    await assert.rejects(() => loadSplit(join(dir, "bad.json")), /both train and test/);
    assert.equal([...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp")).length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("forceTest moves the named sites to test and leaves the rest of the draw unchanged", () => {
  const towers = ["DE-Tha", "DK-Sor", "US-MMS", "US-NR1"];
  const plain = makeSplit(sites, { kind: "koppen", seed: 42 });
  const forced = makeSplit(sites, { kind: "koppen", seed: 42, forceTest: towers });
  assertDisjointCover(forced);
  for (const t of towers) assert.ok(forced.test.includes(t), `${t} should be a test site`);
  const moved = towers.filter((t) => plain.train.includes(t));
  assert.deepEqual(forced.test, [...plain.test, ...moved].sort());
  assert.deepEqual(forced.train, plain.train.filter((s) => !moved.includes(s)));
});

Deno.test("split all: no test site, validation sites disjoint from training sites, every site in one, per Köppen group, deterministic", () => {
  for (const seed of [0, 7, 42]) {
    const split = makeSplit(sites, { kind: "all", seed }, { valFraction: 0.2 });
    assert.equal(split.kind, "all");
    assert.deepEqual(split.test, [], "no test site");
    const val = split.val ?? [];
    assert.ok(val.length > 0, "validation sites are held out");
    const train = new Set(split.train);
    for (const s of val) assert.ok(!train.has(s), `${s} in train and val`);
    assert.deepEqual([...split.train, ...val].sort(), sites.map((s) => s.SITE_ID).sort());
    // the held-out share per Köppen main group, as the koppen split's test share
    const byGroup = new Map<string, { n: number; val: number }>();
    const valSet = new Set(val);
    for (const s of sites) {
      const e = byGroup.get(s.KOPPEN_MAIN) ?? { n: 0, val: 0 };
      e.n++;
      if (valSet.has(s.SITE_ID)) e.val++;
      byGroup.set(s.KOPPEN_MAIN, e);
    }
    for (const [cls, { n, val: v }] of byGroup) {
      assert.equal(
        v,
        n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(0.2 * n))),
        `group ${cls}`,
      );
    }
    assert.deepEqual(makeSplit(sites, { kind: "all", seed }, { valFraction: 0.2 }), split);
  }
  const a = makeSplit(sites, { kind: "all", seed: 1 });
  const b = makeSplit(sites, { kind: "all", seed: 2 });
  assert.notDeepEqual(a.val, b.val, "another seed holds out other sites");
  const wider = makeSplit(sites, { kind: "all", seed: 1 }, { valFraction: 0.4 });
  assert.ok(wider.val!.length > a.val!.length, "the share sets how many sites are held out");
  const igbp = makeSplit(sites, { kind: "all", seed: 1, stratify: "igbp" });
  assert.equal(igbp.strata["FR-Pue"], sites.find((s) => s.SITE_ID === "FR-Pue")!.IGBP);
});

Deno.test("split all: refuses forceTest, a val list elsewhere, and a saved file with a test site", async () => {
  assert.throws(() => makeSplit(sites, { kind: "all", forceTest: ["DE-Tha"] }), /forceTest/);
  assert.throws(() => makeSplit(sites, { kind: "all" }, { valFraction: 1 }), /validation share/);
  assert.deepEqual(makeSplit(sites, { kind: "all" }, { valFraction: 0 }).val, [], "0: no val site");
  assert.throws(() => makeSplit(sites.slice(0, 1), { kind: "all" }), /no validation site/);
  const split = makeSplit(sites, { kind: "all", seed: 3 });
  const tmp = await Deno.makeTempDir();
  try {
    const path = join(tmp, "split.json");
    await saveSplit(path, split);
    assert.deepEqual(await loadSplit(path), split);
    const bad = { ...split, test: [split.val![0]] };
    await Deno.writeTextFile(path, JSON.stringify(bad));
    await assert.rejects(loadSplit(path), /validation sites also in train or test/);
    const koppen = { ...makeSplit(sites, { kind: "koppen" }), val: [] };
    await Deno.writeTextFile(path, JSON.stringify(koppen));
    await assert.rejects(loadSplit(path), /has no val sites/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
