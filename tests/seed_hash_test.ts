/**
 * The one FNV-1a (lib/data/random.ts) behind the three seed derivations: the values below were
 * computed with the three separate hashes before they were merged (commit 93e7c7d), so a change of
 * any derived seed (and with it of every split, shuffle, initialisation and table) fails here.
 */
import assert from "node:assert/strict";
import { deriveSeed as labelSeed, fnv1a, FNV1A_OFFSET } from "../lib/data/random.ts";
import { seedFor } from "../lib/models/layers.ts";
import { deriveSeed as positionSeed } from "../lib/train/seed.ts";

Deno.test("fnv1a: the 32-bit FNV-1a test vectors; strings hash by UTF-16 code unit", () => {
  assert.equal(fnv1a(""), FNV1A_OFFSET);
  assert.equal(fnv1a("a"), 0xe40c292c);
  assert.equal(fnv1a("foobar"), 0xbf9cf968);
  assert.equal(fnv1a("a€"), fnv1a([97, 0x20ac]));
});

Deno.test("train/seed deriveSeed: derived seeds pinned to their values before the merge", () => {
  const pinned: [number[], number][] = [
    [[42], 1320404333],
    [[42, 1], 2032463150],
    [[42, 1, 7], 170620254],
    [[42, 1, 7, 123], 843191028],
    [[0, 0], 34503278],
    [[2 ** 33 + 5, 3], 984380581],
    [[-1, 2], 293346736],
  ];
  for (const [[seed, ...position], value] of pinned) {
    assert.equal(positionSeed(seed, ...position), value, `deriveSeed(${[seed, ...position]})`);
  }
});

Deno.test("data/random deriveSeed: derived seeds pinned to their values before the merge", () => {
  const pinned: [number, string, number][] = [
    [42, "order", 3896095329],
    [42, "split:koppen:C", 3576997919],
    [7, "gbm", 2233750590],
    [0, "", 2166136261],
    [-3, "support:train", 819949671],
    [2 ** 31 + 9, "kfold:x:é€", 1401310979],
  ];
  for (const [seed, label, value] of pinned) {
    assert.equal(labelSeed(seed, label), value, `deriveSeed(${seed}, ${label})`);
  }
});

Deno.test("models/layers seedFor: derived seeds pinned to their values before the merge", () => {
  const pinned: [number, string, number][] = [
    [1, "head/kernel", 4082505165],
    [42, "dropout/0", 1817929652],
    [0, "", 49103232],
    [12345, "encoder/lstm/fw/recurrent", 2410546769],
    [-5, "x€", 3267684404],
  ];
  for (const [seed, name, value] of pinned) {
    assert.equal(seedFor(seed, name), value, `seedFor(${seed}, ${name})`);
  }
});
