/**
 * One Adam / AdamW update of a whole variable in WebAssembly SIMD (for `lib/train/optim.ts` on
 * the wasm backend): new moments and new weights in one pass over the heap, four lanes at a
 * time, in float32.
 *
 * @module
 */
import {
  add,
  type AsmFunction,
  body,
  forUp,
  get,
  I32,
  i32,
  set,
  simd,
  splat,
  V128,
  vadd,
  vdiv,
  vload,
  vmadd,
  vmul,
  vstore,
  vsub,
} from "./wasm_asm.ts";

/** The constants of an update, in this order at `constants` (10 floats). */
export const ADAM_CONSTANTS = [
  "scale", // gradient scale (clipping)
  "l2", // Adam's L2 weight decay, added to the gradient
  "beta1",
  "oneMinusBeta1",
  "beta2",
  "oneMinusBeta2",
  "lrOverC1", // lr / (1 - beta1^t)
  "invC2", // 1 / (1 - beta2^t)
  "epsilon",
  "shrink", // AdamW's decoupled decay factor 1 - lr * decay
] as const;

/** The update's function; every pointer is a byte offset into the wasm memory. */
export interface WasmAdam {
  /**
   * For i < n (n % 4 === 0): g' = scale g + l2 w; m' = b1 m + (1 - b1) g';
   * v' = b2 v + (1 - b2) g'^2; w' = shrink w - (lr / c1) m' / (sqrt(v' / c2) + eps).
   */
  adam(
    w: number,
    g: number,
    m: number,
    v: number,
    outW: number,
    outM: number,
    outV: number,
    n: number,
    constants: number,
  ): void;
}

function adamBody(fused: boolean): number[] {
  const [W, G, M, V, OW, OM, OV, N, K] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [I, NB] = [9, 10];
  const C = 11; // v128 locals: the 10 constants, then g', m', v'
  const [GP, MP, VP] = [C + 10, C + 11, C + 12];
  const code: number[] = [];
  const e = (...parts: number[][]) => parts.forEach((p) => code.push(...p));
  for (let c = 0; c < ADAM_CONSTANTS.length; c++) e(get(K), splat(4 * c), set(C + c));
  const [SCALE, L2, B1, OB1, B2, OB2, LRC, IC2, EPS, SHRINK] = ADAM_CONSTANTS.map((_, c) => C + c);
  const at = (base: number) => [...get(base), ...get(I), ...add];
  const load = (base: number) => [...at(base), ...vload(0)];
  e(get(N), i32(4), [0x6c], set(NB)); // bytes
  e(forUp(I, NB, 16, [
    ...vmadd(fused, get(SCALE), load(G), vmul(get(L2), load(W))),
    ...set(GP),
    ...vmadd(fused, get(B1), load(M), vmul(get(OB1), get(GP))),
    ...set(MP),
    ...vmadd(fused, get(B2), load(V), vmul(get(OB2), vmul(get(GP), get(GP)))),
    ...set(VP),
    ...at(OM),
    ...get(MP),
    ...vstore(0),
    ...at(OV),
    ...get(VP),
    ...vstore(0),
    ...at(OW),
    ...vsub(
      vmul(get(SHRINK), load(W)),
      vdiv(vmul(get(LRC), get(MP)), vadd([...vmul(get(VP), get(IC2)), ...simd(227)], get(EPS))),
    ),
    ...vstore(0),
  ]));
  return body([[2, I32], [13, V128]], code);
}

/** The function adam. */
export function adamFunctions(fused: boolean): AsmFunction[] {
  return [{ name: "adam", params: 9, body: adamBody(fused) }];
}
