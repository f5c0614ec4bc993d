/**
 * A tiny WebAssembly assembler: just the opcodes the kernels of `wasm_gemm.ts` and `wasm_cell.ts`
 * need, as functions returning bytes, so a kernel reads like the expression it computes
 * (`vmul(vget(A), vconst(2))`). No toolchain is needed and no binary sits in the repository.
 *
 * @module
 */

/** Unsigned LEB128. */
export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128. */
export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** Value types. */
export const I32 = 0x7f, V128 = 0x7b;

// Locals and i32 arithmetic.
export const get = (i: number): number[] => [0x20, ...uleb(i)];
export const set = (i: number): number[] => [0x21, ...uleb(i)];
export const tee = (i: number): number[] => [0x22, ...uleb(i)];
export const i32 = (v: number): number[] => [0x41, ...sleb(v)];
export const add = [0x6a], sub = [0x6b], mul = [0x6c], and = [0x71], or = [0x72];
export const eqz = [0x45], ne = [0x47], ltu = [0x49], gtu = [0x4b], leu = [0x4d], geu = [0x4f];
export const select = [0x1b];

// Control.
export const block = [0x02, 0x40], loop = [0x03, 0x40], ifThen = [0x04, 0x40];
export const orElse = [0x05], end = [0x0b];
export const br = (d: number): number[] => [0x0c, d];
export const brIf = (d: number): number[] => [0x0d, d];

// Memory (offsets in bytes; the address is on the stack).
export const simd = (op: number): number[] => [0xfd, ...uleb(op)];
export const i32load = (off: number): number[] => [0x28, 2, ...uleb(off)];
export const fload = (off: number): number[] => [0x2a, 2, ...uleb(off)];
export const fstore = (off: number): number[] => [0x38, 2, ...uleb(off)];
export const vload = (off: number): number[] => [...simd(0), 4, ...uleb(off)];
export const vstore = (off: number): number[] => [...simd(11), 4, ...uleb(off)];
export const splat = (off: number): number[] => [...simd(9), 2, ...uleb(off)];
export const fzero = [0x43, 0, 0, 0, 0];

/** `v128.const` with the same float in all four lanes. */
export function vconst(x: number): number[] {
  const bytes = new Uint8Array(new Float32Array([x, x, x, x]).buffer);
  return [...simd(12), ...bytes];
}

/** `v128.const` with the same i32 in all four lanes. */
export function vconstI(x: number): number[] {
  const bytes = new Uint8Array(new Int32Array([x, x, x, x]).buffer);
  return [...simd(12), ...bytes];
}

export const vzero = vconst(0);

// f32x4 expressions: operands are byte sequences that each leave one v128 on the stack.
const binary = (op: number) => (a: number[], b: number[]): number[] => [...a, ...b, ...simd(op)];
export const vadd = binary(228), vsub = binary(229), vmul = binary(230), vdiv = binary(231);
export const vmin = binary(232), vlt = binary(67);
/** `f32x4.pmin`: b < a ? b : a (one instruction; unlike `f32x4.min`, no NaN handling). */
export const vpmin = binary(234);
/** `f32x4.pmax`: a < b ? b : a. */
export const vpmax = binary(235);
export const vabs = (a: number[]): number[] => [...a, ...simd(224)];
export const vneg = (a: number[]): number[] => [...a, ...simd(225)];
export const vnearest = (a: number[]): number[] => [...a, ...simd(106)];
/** i32x4.trunc_sat_f32x4_s */
export const vtruncI = (a: number[]): number[] => [...a, ...simd(248)];
export const vaddI = binary(174);
export const vshlI = (a: number[], bits: number): number[] => [...a, ...i32(bits), ...simd(171)];
/** `cond ? a : b` lane by lane (`v128.bitselect`). */
export const vselect = (a: number[], b: number[], cond: number[]): number[] => [
  ...a,
  ...b,
  ...cond,
  ...simd(82),
];

/**
 * `a * b + c`: one `f32x4.relaxed_madd` when `fused`, else `f32x4.mul` then `f32x4.add`.
 */
export function vmadd(fused: boolean, a: number[], b: number[], c: number[]): number[] {
  return fused ? [...a, ...b, ...c, ...simd(261)] : vadd(vmul(a, b), c);
}

/** `base + 4 index`: the byte address of float number `index` (code leaving an i32) at local `base`. */
export function floatAt(base: number, index: number[]): number[] {
  return [...get(base), ...index, ...i32(4), ...mul, ...add];
}

/** A function body: locals (runs of [count, type]) and code. */
export function body(locals: [number, number][], code: number[]): number[] {
  const decl = [...uleb(locals.length), ...locals.flatMap(([n, t]) => [...uleb(n), t])];
  const bytes = [...decl, ...code, ...end];
  return [...uleb(bytes.length), ...bytes];
}

/**
 * `for (v = start; v < limit; v += step) { inner }` with `limit` a local; `start` is code leaving
 * an i32 (default 0), or null to go on from v's current value.
 */
export function forUp(
  v: number,
  limit: number,
  step: number,
  inner: number[],
  start: number[] | null = i32(0),
): number[] {
  return [
    ...(start === null ? [] : [...start, ...set(v)]),
    ...block,
    ...loop,
    ...get(v),
    ...get(limit),
    ...geu,
    ...brIf(1),
    ...inner,
    ...get(v),
    ...i32(step),
    ...add,
    ...set(v),
    ...br(0),
    ...end,
    ...end,
  ];
}

/** A function of the module: its name, its number of i32 parameters and its body. */
export interface AsmFunction {
  name: string;
  params: number;
  body: number[];
}

/**
 * A module of exported functions (i32 parameters, no result) on an imported memory
 * `env.memory`.
 *
 * @example
 * ```ts
 * import { body, moduleBytes } from "./wasm_asm.ts";
 * const bytes = moduleBytes([{ name: "noop", params: 0, body: body([], []) }]);
 * console.log(WebAssembly.validate(bytes)); // true
 * ```
 */
export function moduleBytes(functions: AsmFunction[]): Uint8Array<ArrayBuffer> {
  const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
  const name = (text: string) => [...uleb(text.length), ...new TextEncoder().encode(text)];
  const n = functions.length;
  const types = functions.flatMap((f) => [0x60, f.params, ...new Array(f.params).fill(I32), 0]);
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [...uleb(n), ...types]),
    ...section(2, [1, ...name("env"), ...name("memory"), 0x02, 0x00, 0x01]),
    ...section(3, [...uleb(n), ...functions.map((_, i) => i)]),
    ...section(7, [...uleb(n), ...functions.flatMap((f, i) => [...name(f.name), 0x00, i])]),
    ...section(10, [...uleb(n), ...functions.flatMap((f) => f.body)]),
  ]);
}

/** Vector constants held in locals, set once at function entry (see {@linkcode constPool}). */
export interface ConstPool {
  /** Code that leaves the constant (the same float in four lanes) on the stack. */
  v(x: number): number[];
  /** How many locals the pool uses. */
  readonly size: number;
  /** The code that sets them; put it before the code that uses them. */
  init(): number[];
}

/**
 * A pool of vector constants in v128 locals from `first` on. V8 materialises a `v128.const` with
 * several instructions wherever it appears, also inside loops; a local costs at most one load.
 *
 * @example
 * ```ts
 * import { constPool, vadd } from "./wasm_asm.ts";
 * const pool = constPool(3);
 * const code = vadd(pool.v(1), pool.v(2)); // uses locals 3 and 4
 * console.log(pool.size); // 2
 * ```
 */
export function constPool(first: number): ConstPool {
  const values: number[] = [];
  return {
    v(x) {
      let at = values.findIndex((y) => Object.is(y, Math.fround(x)));
      if (at < 0) at = values.push(Math.fround(x)) - 1;
      return get(first + at);
    },
    get size() {
      return values.length;
    },
    init() {
      return values.flatMap((x, i) => [...vconst(x), ...set(first + i)]);
    },
  };
}
