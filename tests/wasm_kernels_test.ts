import assert from "node:assert/strict";
import { packedASize } from "../lib/models/kernels/wasm_gemm.ts";
import {
  compiledKernels,
  kernelModuleBytes,
  kernelsFor,
} from "../lib/models/kernels/wasm_kernels.ts";
import { mulberry32 } from "../lib/data/random.ts";

/** A memory with the kernels bound, a bump allocator and a seeded filler. */
function setup(seed: number) {
  const memory = new WebAssembly.Memory({ initial: 64 });
  const k = kernelsFor(memory);
  assert.ok(k !== null, "the kernels compile on this runtime");
  const f = () => new Float32Array(memory.buffer);
  let top = 1024;
  const alloc = (n: number) => {
    const at = top;
    top += Math.ceil((n * 4 + 64) / 64) * 64;
    return at;
  };
  const rng = mulberry32(seed);
  const fill = (at: number, n: number, scale = 1) => {
    const a = f();
    for (let i = 0; i < n; i++) a[at / 4 + i] = (rng() * 2 - 1) * scale;
  };
  return { k, f, alloc, fill };
}

Deno.test("the kernel module validates with and without relaxed SIMD", () => {
  assert.ok(WebAssembly.validate(kernelModuleBytes(false)));
  assert.ok(WebAssembly.validate(kernelModuleBytes(true)));
  assert.notEqual(compiledKernels().kind, "none");
});

Deno.test("packed GEMM = the naive product (remainder rows, long k, transposed A, accumulate)", () => {
  const { k, f, alloc, fill } = setup(1);
  const shapes: [number, number, number, number, number][] = [
    [13, 37, 24, 0, 0],
    [13, 300, 16, 1, 1],
    [4, 5, 8, 0, 1],
    [33, 513, 40, 1, 0],
    [32, 131, 16, 0, 1],
    [1, 1, 8, 0, 0],
  ];
  for (const [m, kk, n, transposed, accumulate] of shapes) {
    const a = alloc(m * kk), b = alloc(kk * n), c = alloc(m * n);
    const ap = alloc(packedASize(m, kk)), bp = alloc(kk * n);
    fill(a, m * kk);
    fill(b, kk * n);
    fill(c, m * n);
    const c0 = f().slice(c / 4, c / 4 + m * n);
    k.packA(a, ap, m, kk, transposed);
    k.packB(b, bp, kk, n);
    k.gemm(ap, bp, c, m, kk, n, accumulate, m % 2 === 0 ? 8 : n);
    const h = f();
    let worst = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = accumulate ? c0[i * n + j] : 0;
        for (let p = 0; p < kk; p++) {
          const av = h[a / 4 + (transposed ? p * m + i : i * kk + p)];
          sum += av * h[b / 4 + p * n + j];
        }
        worst = Math.max(worst, Math.abs(sum - h[c / 4 + i * n + j]));
      }
    }
    assert.ok(worst < 1e-4, `[${m}, ${kk}, ${n}] t${transposed} a${accumulate}: off by ${worst}`);
  }
});

Deno.test("cellForward: sigmoid within 2e-7 relative, LSTM state update, masked rows carried", () => {
  const { k, f, alloc, fill } = setup(2);
  const B = 5, H = 8, G = 4 * H, T = 3, t = 1;
  const gates = alloc(B * G), c = alloc(B * H), cPrev = alloc(B * H), tanhC = alloc(B * H);
  const hIn = alloc(B * H), hNext = alloc(B * H), seq = alloc(B * T * H), mask = alloc(B);
  fill(gates, B * G, 8);
  fill(c, B * H, 3);
  fill(hIn, B * H);
  const extremes = [200, -200, 0, 90, -88, 1e-8];
  extremes.forEach((x, i) => f()[gates / 4 + i] = x);
  for (let b = 0; b < B; b++) new Int32Array(f().buffer)[mask / 4 + b] = b % 2;
  const z0 = f().slice(gates / 4, gates / 4 + B * G);
  const c0 = f().slice(c / 4, c / 4 + B * H), h0 = f().slice(hIn / 4, hIn / 4 + B * H);
  k.cellForward(gates, c, cPrev, tanhC, hIn, hNext, seq + t * H * 4, T * H * 4, mask, B, H);
  const h = f();
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  for (let i = 0; i < B * G; i++) {
    const want = sig(z0[i]);
    const got = h[gates / 4 + i];
    assert.ok(
      Math.abs(got - want) <= 2e-7 * want + 1e-37,
      `sigmoid(${z0[i]}) = ${got}, want ${want}`,
    );
  }
  for (let b = 0; b < B; b++) {
    const used = b % 2 === 1;
    for (let j = 0; j < H; j++) {
      const g = (q: number) => sig(z0[b * G + q * H + j]);
      const cp = c0[b * H + j];
      const cn = g(1) * cp + g(0) * (2 * g(2) - 1);
      const hv = used ? g(3) * Math.tanh(cn) : h0[b * H + j];
      assert.ok(Math.abs(h[hNext / 4 + b * H + j] - hv) < 1e-6);
      assert.ok(Math.abs(h[seq / 4 + (b * T + t) * H + j] - hv) < 1e-6);
      assert.equal(h[cPrev / 4 + b * H + j], cp);
      assert.ok(Math.abs(h[c / 4 + b * H + j] - (used ? cn : cp)) < 1e-6);
    }
  }
});

Deno.test("colSum adds the column sums of a matrix", () => {
  const { k, f, alloc, fill } = setup(3);
  const rows = 7, cols = 12;
  const src = alloc(rows * cols), dst = alloc(cols);
  fill(src, rows * cols);
  f().fill(1, dst / 4, dst / 4 + cols);
  k.colSum(src, dst, rows, cols);
  const h = f();
  for (let j = 0; j < cols; j++) {
    let sum = 1;
    for (let r = 0; r < rows; r++) sum += h[src / 4 + r * cols + j];
    assert.ok(Math.abs(sum - h[dst / 4 + j]) < 1e-5);
  }
});
