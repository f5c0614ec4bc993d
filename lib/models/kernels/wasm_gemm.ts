/**
 * A small single-precision GEMM in WebAssembly, assembled here (no toolchain, no binary in the
 * repository) and run on the wasm backend's own memory by the fused LSTM of `fused_lstm.ts`.
 *
 * It is built like the GEMMs of BLIS and GotoBLAS, at the scale of an LSTM:
 * - `packA` copies A (`[m, k]`, or `[k, m]` when transposed) into panels of 4 rows laid out
 *   step by step (`[m/4][k][4]`, the last panel zero-padded);
 * - `packB` copies B (`[k, n]`, n a multiple of 8) into strips of 8 columns (`[n/8][k][8]`);
 * - `gemm` multiplies packed operands: for each block of 256 steps of k, each panel of A and each
 *   strip of B, a 4 x 8 tile of C lives in eight 4-lane registers while both operands stream
 *   through memory contiguously (unrolled by 4, one multiply-add per register and step of k:
 *   `f32x4.relaxed_madd` where the runtime has relaxed SIMD, else `f32x4.mul` + `f32x4.add`).
 *
 * Packing makes every read contiguous: unpacked, the 8 columns of B sit 4n bytes apart, which on a
 * 512-column matrix maps them onto two sets of the L1 cache. An operand used many times (the
 * recurrent kernel, once per time step) is packed once.
 *
 * @module
 */

import {
  add,
  and,
  type AsmFunction,
  block,
  body,
  br,
  brIf,
  end,
  fload,
  floatAt,
  forUp,
  fstore,
  fzero,
  get,
  geu,
  gtu,
  I32,
  i32,
  ifThen,
  leu,
  loop,
  ltu,
  mul,
  ne,
  or,
  orElse,
  select,
  set,
  simd,
  sub,
  tee,
  V128,
  vload,
  vstore,
  vzero,
} from "./wasm_asm.ts";

/** Rows of a panel of packed A. */
export const GEMM_MR = 4;
/** Columns of a strip of packed B (n must be a multiple). */
export const GEMM_NR = 8;
/** Floats per cache line: where packed operands start (see `fused_lstm.ts`, `matmul.ts`). */
export const CACHE_LINE_FLOATS = 16;

/**
 * The first float offset at or after `offset` (in floats) that starts a cache line; allocate
 * `CACHE_LINE_FLOATS - 1` floats more to have room for it. The wasm backend's allocator aligns to
 * 8 bytes only, and one 16-byte load in four then spans two lines.
 *
 * @example
 * ```ts
 * import { cacheLineStart } from "./wasm_gemm.ts";
 * cacheLineStart(18); // 32
 * ```
 */
export function cacheLineStart(offset: number): number {
  return Math.ceil(offset / CACHE_LINE_FLOATS) * CACHE_LINE_FLOATS;
}
/** Steps of k per pass (a panel of A and a strip of B stay in the L1 cache). */
const K_BLOCK = 256;
/** Steps of k unrolled in the inner loop. */
const UNROLL = 4;

/** The GEMM's functions; every pointer is a byte offset into the wasm memory. */
export interface WasmGemm {
  /** Pack A (`[m, k]`, or `[k, m]` when `transposed` is 1) at `ap` (`packedASize(m, k)` floats). */
  packA(a: number, ap: number, m: number, k: number, transposed: number): void;
  /** Pack B (`[k, n]`, n % 8 === 0) at `bp` (`k * n` floats). */
  packB(b: number, bp: number, k: number, n: number): void;
  /**
   * C[m, n] = Ap Bp, or C += Ap Bp when `accumulate` is 1 (C row-major, n % 8 === 0), in blocks
   * of `ncols` columns (a positive multiple of 8; `n` for one block).
   */
  gemm(
    ap: number,
    bp: number,
    c: number,
    m: number,
    k: number,
    n: number,
    accumulate: number,
    ncols: number,
  ): void;
}

/**
 * The columns per block of {@linkcode WasmGemm.gemm} for B `[k, n]`: all of them while a pass's
 * block of packed B (256 steps of k) fits in 256 KiB (half the L2 cache of this machine's cores),
 * else blocks of 128 columns.
 *
 * @example
 * ```ts
 * import { gemmColumnBlock } from "./wasm_gemm.ts";
 * gemmColumnBlock(128, 512); // 512
 * gemmColumnBlock(960, 512); // 128
 * ```
 */
export function gemmColumnBlock(k: number, n: number): number {
  return Math.min(k, K_BLOCK) * n * 4 <= 256 * 1024 ? n : 128;
}

/** Floats of A `[m, k]` once packed (m rounded up to whole panels). */
export function packedASize(m: number, k: number): number {
  return Math.ceil(m / GEMM_MR) * GEMM_MR * k;
}

/** `i8x16.shuffle` picking four 32-bit lanes of (a, b) (lanes 0-3 of a, 4-7 of b). */
function shuffle32(pick: number[]): number[] {
  const bytes = pick.flatMap((lane) => [4 * lane, 4 * lane + 1, 4 * lane + 2, 4 * lane + 3]);
  return [...simd(13), ...bytes];
}

/** packA(a, ap, m, k, transposed). */
function packABody(): number[] {
  const [A, AP, M, K, TR] = [0, 1, 2, 3, 4];
  const [I, P, DST, S0] = [5, 6, 7, 8]; // S0..S3: row pointers
  const MR = GEMM_MR;
  const c: number[] = [];
  const e = (...parts: number[][]) => parts.forEach((p) => c.push(...p));
  const next = [...get(DST), ...i32(4 * MR), ...add, ...set(DST)];
  // Full panel of untransposed A: four row pointers, one float of each per step.
  const full: number[] = [];
  for (let r = 0; r < MR; r++) {
    full.push(...get(A), ...get(I), ...i32(r), ...add, ...get(K), ...mul, ...i32(4), ...mul);
    full.push(...add, ...set(S0 + r));
  }
  const fullStep: number[] = [];
  for (let r = 0; r < MR; r++) {
    fullStep.push(...get(DST), ...get(S0 + r), ...fload(0), ...fstore(4 * r));
    fullStep.push(...get(S0 + r), ...i32(4), ...add, ...set(S0 + r));
  }
  // Four steps at a time: four rows of 4 floats, transposed in registers (8 shuffles).
  const R0 = S0 + MR, T0 = R0 + 4; // v128 locals
  const quad: number[] = [];
  for (let r = 0; r < MR; r++) quad.push(...get(S0 + r), ...vload(0), ...set(R0 + r));
  const lanes = (a: number[], b: number[], pick: number[]) => [
    ...a,
    ...b,
    ...shuffle32(pick),
  ];
  quad.push(...lanes(get(R0), get(R0 + 1), [0, 4, 1, 5]), ...set(T0));
  quad.push(...lanes(get(R0), get(R0 + 1), [2, 6, 3, 7]), ...set(T0 + 1));
  quad.push(...lanes(get(R0 + 2), get(R0 + 3), [0, 4, 1, 5]), ...set(T0 + 2));
  quad.push(...lanes(get(R0 + 2), get(R0 + 3), [2, 6, 3, 7]), ...set(T0 + 3));
  quad.push(...get(DST), ...lanes(get(T0), get(T0 + 2), [0, 1, 4, 5]), ...vstore(0));
  quad.push(...get(DST), ...lanes(get(T0), get(T0 + 2), [2, 3, 6, 7]), ...vstore(16));
  quad.push(...get(DST), ...lanes(get(T0 + 1), get(T0 + 3), [0, 1, 4, 5]), ...vstore(32));
  quad.push(...get(DST), ...lanes(get(T0 + 1), get(T0 + 3), [2, 3, 6, 7]), ...vstore(48));
  for (let r = 0; r < MR; r++) quad.push(...get(S0 + r), ...i32(16), ...add, ...set(S0 + r));
  quad.push(...get(DST), ...i32(64), ...add, ...set(DST), ...get(P), ...i32(4), ...add, ...set(P));
  full.push(...i32(0), ...set(P));
  full.push(...block, ...loop, ...get(P), ...i32(4), ...add, ...get(K), ...gtu, ...brIf(1));
  full.push(...quad, ...br(0), ...end, ...end);
  // The remaining steps one at a time.
  full.push(...forUp(P, K, 1, [...fullStep, ...next], null));
  // Full panel of transposed A ([k, m]): the panel's 4 values of step p are contiguous.
  const fullT = forUp(P, K, 1, [
    ...get(DST),
    ...floatAt(A, [...get(P), ...get(M), ...mul, ...get(I), ...add]),
    ...vload(0),
    ...vstore(0),
    ...next,
  ]);
  // Last, partial panel: element by element, zeros past row m.
  const partialStep: number[] = [];
  for (let r = 0; r < MR; r++) {
    partialStep.push(...get(I), ...i32(r), ...add, ...get(M), ...ltu, ...ifThen, ...get(DST));
    // a + 4 * (transposed ? p*m + i + r : (i + r)*k + p)
    partialStep.push(...get(A), ...get(TR), 0x04, I32);
    partialStep.push(...get(P), ...get(M), ...mul, ...get(I), ...add, ...i32(r), ...add);
    partialStep.push(...orElse, ...get(I), ...i32(r), ...add, ...get(K), ...mul, ...get(P), ...add);
    partialStep.push(...end, ...i32(4), ...mul, ...add, ...fload(0), ...fstore(4 * r));
    partialStep.push(...orElse, ...get(DST), ...fzero, ...fstore(4 * r), ...end);
  }
  const partial = forUp(P, K, 1, [...partialStep, ...next]);
  e(get(AP), set(DST));
  e(forUp(I, M, MR, [
    ...get(I),
    ...i32(MR),
    ...add,
    ...get(M),
    ...leu,
    ...ifThen,
    ...get(TR),
    ...ifThen,
    ...fullT,
    ...orElse,
    ...full,
    ...end,
    ...orElse,
    ...partial,
    ...end,
  ]));
  return body([[3 + MR, I32], [2 * MR, V128]], c);
}

/** packB(b, bp, k, n). */
function packBBody(): number[] {
  const [Bp, BP, K, N] = [0, 1, 2, 3];
  const [J, P, SRC, DST, LDB] = [4, 5, 6, 7, 8];
  const c: number[] = [];
  const e = (...parts: number[][]) => parts.forEach((p) => c.push(...p));
  e(get(N), i32(4), mul, set(LDB), get(BP), set(DST));
  const step: number[] = [];
  for (let v = 0; v < GEMM_NR / 4; v++) {
    step.push(...get(DST), ...get(SRC), ...vload(16 * v), ...vstore(16 * v));
  }
  step.push(...get(DST), ...i32(4 * GEMM_NR), ...add, ...set(DST));
  step.push(...get(SRC), ...get(LDB), ...add, ...set(SRC));
  e(forUp(J, N, GEMM_NR, [
    ...get(Bp),
    ...get(J),
    ...i32(4),
    ...mul,
    ...add,
    ...set(SRC),
    ...forUp(P, K, 1, step),
  ]));
  return body([[5, I32]], c);
}

/** gemm(ap, bp, c, m, k, n, accumulate). */
function gemmBody(fused: boolean): number[] {
  const [AP, BP, C, M, K, N, ACCUM, NCOLS] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [I, J, KB, KC, PA, PB, PEND, PC, LOADC, TMP, JB, JEND] = [
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
  ];
  const MR = GEMM_MR, NV = GEMM_NR / 4;
  const AV = 20, B0 = AV + 1, ACC = B0 + NV, AQ = ACC + MR * NV; // v128 locals
  const acc = (r: number, v: number) => ACC + r * NV + v;
  const c: number[] = [];
  const e = (...parts: number[][]) => parts.forEach((p) => c.push(...p));
  const multiplyAdd = (a: number, bv: number) =>
    fused
      ? [...get(AV), ...get(bv), ...get(a), ...simd(261), ...set(a)]
      : [...get(a), ...get(AV), ...get(bv), ...simd(230), ...simd(228), ...set(a)];
  /** One step of k at unrolled position u. */
  const step = (u: number): number[] => {
    const s: number[] = [];
    for (let v = 0; v < NV; v++) {
      s.push(...get(PB), ...vload(4 * (u * GEMM_NR + 4 * v)), ...set(B0 + v));
    }
    // The panel's 4 values at this step in one load, each broadcast by a shuffle: a load costs
    // more than its own instruction here, as V8 checks the bounds of every load explicitly
    // when the embedder (Deno) does not install its trap handler.
    s.push(...get(PA), ...vload(4 * u * MR), ...set(AQ));
    for (let r = 0; r < MR; r++) {
      s.push(...get(AQ), ...get(AQ), ...shuffle32([r, r, r, r]), ...set(AV));
      for (let v = 0; v < NV; v++) s.push(...multiplyAdd(acc(r, v), B0 + v));
    }
    return s;
  };
  /** base + 4 (row k + kb width): where the packed panel of `row` starts in this block of k. */
  const panelAt = (base: number, row: number, width: number) =>
    floatAt(base, [...get(row), ...get(K), ...mul, ...get(KB), ...i32(width), ...mul, ...add]);
  const bump = (pointer: number, bytes: number) => [...get(pointer), ...i32(bytes), ...add];
  const advance = (u: number) => [
    ...bump(PA, 4 * MR * u),
    ...set(PA),
    ...bump(PB, 4 * GEMM_NR * u),
    ...set(PB),
  ];
  /** PC = c + 4 ((i + r) n + j), if row i + r < m. */
  const rowIf = (r: number, then: number[], otherwise: number[] = []) => [
    ...get(I),
    ...i32(r),
    ...add,
    ...get(M),
    ...ltu,
    ...ifThen,
    ...floatAt(C, [...get(I), ...i32(r), ...add, ...get(N), ...mul, ...get(J), ...add]),
    ...set(PC),
    ...then,
    ...(otherwise.length > 0 ? [...orElse, ...otherwise] : []),
    ...end,
  ];
  const load: number[] = [], zero: number[] = [], store: number[] = [];
  for (let r = 0; r < MR; r++) {
    const rowLoad: number[] = [], rowZero: number[] = [], rowStore: number[] = [];
    for (let v = 0; v < NV; v++) {
      rowLoad.push(...get(PC), ...vload(16 * v), ...set(acc(r, v)));
      rowZero.push(...vzero, ...set(acc(r, v)));
      rowStore.push(...get(PC), ...get(acc(r, v)), ...vstore(16 * v));
    }
    load.push(...rowIf(r, rowLoad, rowZero));
    zero.push(...rowZero);
    store.push(...rowIf(r, rowStore));
  }
  const tile = [
    ...get(LOADC),
    ...ifThen,
    ...load,
    ...orElse,
    ...zero,
    ...end,
    // PA = ap + 4 (i k + kb MR); PB = bp + 4 (j k + kb NR); PEND = PB + 4 kc NR
    ...panelAt(AP, I, MR),
    ...set(PA),
    ...panelAt(BP, J, GEMM_NR),
    ...tee(PB),
    ...get(KC),
    ...i32(4 * GEMM_NR),
    ...mul,
    ...add,
    ...set(PEND),
    // unrolled: while PB + 4 NR UNROLL <= PEND
    ...block,
    ...loop,
    ...get(PB),
    ...i32(4 * GEMM_NR * UNROLL),
    ...add,
    ...get(PEND),
    ...gtu,
    ...brIf(1),
    ...Array.from({ length: UNROLL }, (_, u) => step(u)).flat(),
    ...advance(UNROLL),
    ...br(0),
    ...end,
    ...end,
    // the rest: while PB < PEND
    ...block,
    ...loop,
    ...get(PB),
    ...get(PEND),
    ...geu,
    ...brIf(1),
    ...step(0),
    ...advance(1),
    ...br(0),
    ...end,
    ...end,
    ...store,
  ];
  // for kb in blocks of K_BLOCK: kc = min(k - kb, K_BLOCK); loadC = accumulate || kb > 0
  e(i32(0), set(KB), block, loop, get(KB), get(K), geu, brIf(1));
  e(get(K), get(KB), sub, set(TMP), i32(K_BLOCK), get(TMP), get(TMP), i32(K_BLOCK), gtu, select);
  e(set(KC), get(ACCUM), i32(1), and, get(KB), i32(0), ne, or, set(LOADC));
  // for jb in blocks of `ncols` columns (so that the block of packed B stays in the L2 cache):
  // for each panel of A, for each strip of the block: the tile.
  e(i32(0), set(JB), block, loop, get(JB), get(N), geu, brIf(1));
  e(get(JB), get(NCOLS), add, set(TMP), get(N), get(TMP), get(TMP), get(N), gtu, select, set(JEND));
  e(forUp(I, M, MR, forUp(J, JEND, GEMM_NR, tile, get(JB))));
  e(get(JB), get(NCOLS), add, set(JB), br(0), end, end);
  e(get(KB), i32(K_BLOCK), add, set(KB), br(0), end, end);
  return body([[12, I32], [2 + NV + MR * NV, V128]], c);
}

/** The functions packA, packB and gemm. */
export function gemmFunctions(fused: boolean): AsmFunction[] {
  return [
    { name: "packA", params: 5, body: packABody() },
    { name: "packB", params: 4, body: packBBody() },
    { name: "gemm", params: 8, body: gemmBody(fused) },
  ];
}
