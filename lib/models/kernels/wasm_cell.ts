/**
 * The element-wise work of one LSTM time step in WebAssembly SIMD, for the fused LSTM of
 * `fused_lstm.ts`: after the step's recurrent product, one call does all of a step's gate
 * arithmetic (forward), or all of its gradient arithmetic (backward), four lanes at a time.
 *
 * Layouts are those of `fused_lstm.ts`: gate rows `[B, 4H]` in the order i, f, g, o with the g
 * pre-activation doubled (so g = 2 sigmoid - 1), states `[B, H]`, and the sequence and its
 * gradient `[B, T, H]` (rows `stride` bytes apart). H must be a multiple of 4.
 *
 * The sigmoid is computed here as well: sigmoid(x) = 1 / (1 + exp(-x)), with x capped to
 * [-87, 87] (so that every intermediate stays a normal float), exp by range reduction to r in
 * [-ln2/2, ln2/2] (n = round(-x log2 e) by adding 2^23 + 127, which also leaves n + 127 in the low
 * bits, ready to shift into the exponent of 2^n; r = -x - n ln2 in two parts) and a degree-6
 * Taylor polynomial of exp(r) (relative error < 2e-7).
 *
 * @module
 */
import {
  add,
  type AsmFunction,
  body,
  type ConstPool,
  constPool,
  end,
  eqz,
  floatAt,
  forUp,
  get,
  I32,
  i32,
  i32load,
  ifThen,
  mul,
  ne,
  orElse,
  set,
  V128,
  vadd,
  vdiv,
  vload,
  vmadd,
  vmul,
  vneg,
  vpmax,
  vpmin,
  vshlI,
  vstore,
  vsub,
  vzero,
} from "./wasm_asm.ts";

/** The cell's functions; every pointer is a byte offset into the wasm memory. */
export interface WasmCell {
  /**
   * One forward step: sigmoid of the gate pre-activations in place (`gates`, `[B, 4H]`), then,
   * for rows whose mask is nonzero (every row when `mask` is 0): `cPrev` = c,
   * c = f c + i g, `tanhC` = sigmoid(2 c), h = o tanh(c) into `hNext` and the sequence row; for
   * masked rows `cPrev` = c and h carried over from `hIn`. `mask` points to B i32s.
   */
  cellForward(
    gates: number,
    c: number,
    cPrev: number,
    tanhC: number,
    hIn: number,
    hNext: number,
    seq: number,
    seqStride: number,
    mask: number,
    batch: number,
    hidden: number,
  ): void;
  /**
   * One backward step: from dh (the gradient of the state after the step, from later steps) plus
   * the sequence gradient `dy`, and dc, write dz (`[B, 4H]`) and the new dc; dh is zeroed
   * (masked rows: dh += dy, dz left as is, dc unchanged).
   */
  cellBackward(
    gates: number,
    tanhC: number,
    cPrev: number,
    dz: number,
    dh: number,
    dc: number,
    dy: number,
    dyStride: number,
    mask: number,
    batch: number,
    hidden: number,
  ): void;
  /** dst[j] += sum over rows of src[r, j] (`[rows, cols]`, cols % 4 === 0). */
  colSum(src: number, dst: number, rows: number, cols: number): void;
}

const LOG2E = 1.4426950408889634;
const LN2_HI = 0.693145751953125; // few mantissa bits: n * LN2_HI is exact for |n| < 2^8
const LN2_LO = 1.428606820309417e-6;
const MAGIC = 8388608 + 127; // 2^23 + 127

/**
 * Code that leaves sigmoid(x) on the stack; `x` is a local holding the input and `t` the first
 * of four scratch v128 locals.
 */
function sigmoid(fused: boolean, x: number, t: number, k: ConstPool): number[] {
  const [Z, NM, P] = [t, t + 1, t + 2];
  const code: number[] = [];
  const e = (...parts: number[][]) => parts.forEach((p) => code.push(...p));
  // z = -x, capped to [-87, 87] (pmin / pmax: one instruction each; x is never NaN here)
  e(vpmax(vpmin(vneg(get(x)), k.v(87)), k.v(-87)), set(Z));
  // NM = z log2e + MAGIC rounds z log2e to an integer n held in the low mantissa bits
  // (MAGIC = 2^23 + 127: the low 23 bits of NM hold n + 127, and NM - MAGIC = n exactly)
  e(vmadd(fused, get(Z), k.v(LOG2E), k.v(MAGIC)), set(NM));
  // r = z - n ln2 (in Z), with n = NM - MAGIC
  e(vsub(get(NM), k.v(MAGIC)), set(P));
  e(vmadd(fused, get(P), k.v(-LN2_LO), vmadd(fused, get(P), k.v(-LN2_HI), get(Z))));
  e(set(Z));
  // exp(r) by Horner, 1/720 down to 1
  const coefficients = [1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1];
  e(k.v(coefficients[0]), set(P));
  for (const cf of coefficients.slice(1)) e(vmadd(fused, get(P), get(Z), k.v(cf)), set(P));
  // exp(z) = p 2^n (2^n: the bits of NM shifted into the exponent); sigmoid = 1 / (1 + exp(z))
  e(vdiv(k.v(1), vmadd(fused, get(P), vshlI(get(NM), 23), k.v(1))));
  return code;
}

/**
 * For each row b: `used` when `mask` is 0 (no mask) or mask[b] is nonzero, else `masked`.
 * (`used` appears twice in the code: V8 then compiles the unmasked case without a test per row.)
 */
function byMask(mask: number, b: number, used: number[], masked: number[]): number[] {
  const rowUsed = [...floatAt(mask, get(b)), ...i32load(0), ...i32(0)];
  return [
    ...get(mask),
    ...eqz,
    ...ifThen,
    ...used,
    ...orElse,
    ...rowUsed,
    ...ne,
    ...ifThen,
    ...used,
    ...orElse,
    ...masked,
    ...end,
    ...end,
  ];
}

/** `dst = 4 b h`: the byte offset of row b of an `[B, H]` state. */
function rowBytes(b: number, h: number, dst: number): number[] {
  return [...get(b), ...get(h), ...mul, ...i32(4), ...mul, ...set(dst)];
}

/** `dst = base + offset` (offset: code leaving an i32). */
function offsetBy(dst: number, base: number, offset: number[]): number[] {
  return [...get(base), ...offset, ...add, ...set(dst)];
}

/** cellForward(gates, c, cPrev, tanhC, hIn, hNext, seq, seqStride, mask, batch, hidden). */
function forwardBody(fused: boolean): number[] {
  const [GATES, C, CPREV, TANHC, HIN, HNEXT, SEQ, STRIDE, MASK, BATCH, HID] = [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
  ];
  const [B, J, ROW4, ROW16, PG, PS, HB] = [11, 12, 13, 14, 15, 16, 17]; // HB = H in bytes
  const V = 18; // v128 locals: X, I, F, G, O, CP, CN, TC, then 4 sigmoid scratch
  const [X, I, F, G, O, CP, CN, TC, T] = [
    V,
    V + 1,
    V + 2,
    V + 3,
    V + 4,
    V + 5,
    V + 6,
    V + 7,
    V + 8,
  ];
  const k = constPool(T + 3);
  const code: number[] = [];
  const e = (...parts: number[][]) => parts.forEach((p) => code.push(...p));
  /** address = base + row offset + j (all in bytes). */
  const at = (base: number, row: number) => [...get(base), ...get(row), ...add, ...get(J), ...add];
  /** PG + j + k H (bytes): gate k of the row. */
  const gate = (
    k: number,
  ) => [...get(PG), ...get(J), ...add, ...get(HB), ...i32(k), ...mul, ...add];
  const bodyOf = (used: boolean): number[] => {
    const s: number[] = [];
    const p = (...parts: number[][]) => parts.forEach((q) => s.push(...q));
    [I, F, G, O].forEach((local, q) => {
      p(
        gate(q),
        vload(0),
        set(X),
        sigmoid(fused, X, T, k),
        set(local),
        gate(q),
        get(local),
        vstore(0),
      );
    });
    p(at(C, ROW4), vload(0), set(CP), at(CPREV, ROW4), get(CP), vstore(0));
    if (used) {
      // c = f c + i (2 s_g - 1); tanhC = sigmoid(2 c); h = o (2 tanhC - 1)
      p(vmadd(fused, get(F), get(CP), vmul(get(I), vsub(vadd(get(G), get(G)), k.v(1)))));
      p(set(CN), vadd(get(CN), get(CN)), set(X), sigmoid(fused, X, T, k), set(TC));
      p(at(C, ROW4), get(CN), vstore(0), at(TANHC, ROW4), get(TC), vstore(0));
      p(vmul(get(O), vsub(vadd(get(TC), get(TC)), k.v(1))), set(X));
    } else {
      p(at(HIN, ROW4), vload(0), set(X));
    }
    p(at(HNEXT, ROW4), get(X), vstore(0), get(PS), get(J), add, get(X), vstore(0));
    return s;
  };
  // ROW4 = 4 b H (a state row's bytes); PG = gates + 4 ROW4; PS = seq + b stride
  const rowSetup = [
    ...rowBytes(B, HID, ROW4),
    ...get(ROW4),
    ...i32(4),
    ...mul,
    ...set(ROW16),
    ...offsetBy(PG, GATES, get(ROW16)),
    ...offsetBy(PS, SEQ, [...get(B), ...get(STRIDE), ...mul]),
  ];
  e(get(HID), i32(4), mul, set(HB)); // HB = H in bytes (one gate block)
  e(forUp(B, BATCH, 1, [
    ...rowSetup,
    ...byMask(MASK, B, forUp(J, HB, 16, bodyOf(true)), forUp(J, HB, 16, bodyOf(false))),
  ]));
  return body([[7, I32], [11 + k.size, V128]], [...k.init(), ...code]);
}

/** cellBackward(gates, tanhC, cPrev, dz, dh, dc, dy, dyStride, mask, batch, hidden). */
function backwardBody(fused: boolean): number[] {
  const [GATES, TANHC, CPREV, DZ, DH, DC, DY, STRIDE, MASK, BATCH, HID] = [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
  ];
  const [B, J, ROW4, PG, PZ, PY, HB] = [11, 12, 13, 14, 15, 16, 17];
  const V = 18;
  const [DHT, TC, IG, FG, GG, OG, DCN] = [V, V + 1, V + 2, V + 3, V + 4, V + 5, V + 6];
  const code: number[] = [];
  const e = (...parts: number[][]) => parts.forEach((p) => code.push(...p));
  const at = (base: number, row: number) => [...get(base), ...get(row), ...add, ...get(J), ...add];
  const gateAt = (base: number, k: number) => [
    ...get(base),
    ...get(J),
    ...add,
    ...get(HB),
    ...i32(k),
    ...mul,
    ...add,
  ];
  const k = constPool(DCN + 1);
  const one = k.v(1);
  /** x (1 - x) */
  const dsig = (x: number) => vmul(get(x), vsub(one, get(x)));
  const step: number[] = [];
  const p = (...parts: number[][]) => parts.forEach((q) => step.push(...q));
  p(vadd(at(DH, ROW4).concat(vload(0)), get(PY).concat(get(J), add, vload(0))), set(DHT));
  p(at(TANHC, ROW4), vload(0), set(TC), vsub(vadd(get(TC), get(TC)), one), set(TC));
  p(gateAt(PG, 0), vload(0), set(IG), gateAt(PG, 1), vload(0), set(FG));
  p(gateAt(PG, 2), vload(0), set(GG), vsub(vadd(get(GG), get(GG)), one), set(GG));
  p(gateAt(PG, 3), vload(0), set(OG));
  // dcn = dc + dht og (1 - tc^2)
  p(vmadd(
    fused,
    vmul(get(DHT), get(OG)),
    vsub(one, vmul(get(TC), get(TC))),
    at(DC, ROW4).concat(vload(0)),
  ));
  p(set(DCN));
  p(gateAt(PZ, 0), vmul(vmul(get(DCN), get(GG)), dsig(IG)), vstore(0));
  p(gateAt(PZ, 1), vmul(vmul(get(DCN), at(CPREV, ROW4).concat(vload(0))), dsig(FG)), vstore(0));
  p(gateAt(PZ, 2), vmul(vmul(get(DCN), get(IG)), vsub(one, vmul(get(GG), get(GG)))), vstore(0));
  p(gateAt(PZ, 3), vmul(vmul(get(DHT), get(TC)), dsig(OG)), vstore(0));
  p(at(DC, ROW4), vmul(get(DCN), get(FG)), vstore(0));
  p(at(DH, ROW4), vzero, vstore(0));
  // Masked row: the state passes through unchanged (dh += dy); dz stays 0, dc unchanged.
  const carry = [
    ...at(DH, ROW4),
    ...vadd(at(DH, ROW4).concat(vload(0)), get(PY).concat(get(J), add, vload(0))),
    ...vstore(0),
  ];
  e(get(HID), i32(4), mul, set(HB));
  // ROW4 = 4 b H; PG = gates + 4 ROW4; PZ = dz + 4 ROW4; PY = dy + b stride
  const rowSetup = [
    ...rowBytes(B, HID, ROW4),
    ...offsetBy(PG, GATES, [...get(ROW4), ...i32(4), ...mul]),
    ...offsetBy(PZ, DZ, [...get(ROW4), ...i32(4), ...mul]),
    ...offsetBy(PY, DY, [...get(B), ...get(STRIDE), ...mul]),
  ];
  e(forUp(B, BATCH, 1, [
    ...rowSetup,
    ...byMask(MASK, B, forUp(J, HB, 16, step), forUp(J, HB, 16, carry)),
  ]));
  return body([[7, I32], [7 + k.size, V128]], [...k.init(), ...code]);
}

/** colSum(src, dst, rows, cols). */
function colSumBody(): number[] {
  const [SRC, DST, ROWS, COLS] = [0, 1, 2, 3];
  const [R, J, CB, PS] = [4, 5, 6, 7];
  const code: number[] = [];
  const e = (...parts: number[][]) => parts.forEach((p) => code.push(...p));
  e(get(COLS), i32(4), mul, set(CB), get(SRC), set(PS));
  e(forUp(R, ROWS, 1, [
    ...forUp(J, CB, 16, [
      ...get(DST),
      ...get(J),
      ...add,
      ...vadd(get(DST).concat(get(J), add, vload(0)), get(PS).concat(get(J), add, vload(0))),
      ...vstore(0),
    ]),
    ...get(PS),
    ...get(CB),
    ...add,
    ...set(PS),
  ]));
  return body([[4, I32]], code);
}

/** The functions cellForward, cellBackward and colSum. */
export function cellFunctions(fused: boolean): AsmFunction[] {
  return [
    { name: "cellForward", params: 11, body: forwardBody(fused) },
    { name: "cellBackward", params: 11, body: backwardBody(fused) },
    { name: "colSum", params: 4, body: colSumBody() },
  ];
}
