// Scalar math that JavaScript's Math lacks: erf in double precision (fdlibm s_erf.c port) and argmax.

/**
 * Index of the largest of `values[offset .. offset + n)`, counted from `offset`; the first one on ties, as numpy's
 * argmax. The one argmax of the library: pipelines, metrics and evaluation all call it.
 */
export function argmax(values: ArrayLike<number>, offset = 0, n = values.length - offset): number {
  let best = 0;
  // offset + i < offset + n <= values.length: every index read is inside the array.
  for (let i = 1; i < n; i++) if (values[offset + i]! > values[offset + best]!) best = i;
  return best;
}

const erx = 8.45062911510467529297e-1;
const efx8 = 1.02703333676410069053;
// fdlibm s_erf.c coefficients, lowest order first (the Q / S denominators with their leading 1).
const PP = [
  1.28379167095512558561e-1, -3.2504210724700149937e-1, -2.84817495755985104766e-2, -5.77027029648944159157e-3,
  -2.37630166566501626084e-5,
];
const QQ = [
  1.0, 3.97917223959155352819e-1, 6.50222499887672944485e-2, 5.08130628187576562776e-3, 1.32494738004321644526e-4,
  -3.9602282787753681232e-6,
];
const PA = [
  -2.36211856075265944077e-3, 4.14856118683748331666e-1, -3.72207876035701323847e-1, 3.18346619901161753674e-1,
  -1.10894694282396677476e-1, 3.54783043256182359371e-2, -2.166375594868790843e-3,
];
const QA = [
  1.0, 1.06420880400844228286e-1, 5.40397917702171048937e-1, 7.18286544141962662868e-2, 1.26171219808761642112e-1,
  1.36370839120290507362e-2, 1.1984499846799107417e-2,
];
const RA = [
  -9.86494403484714822705e-3, -6.93858572707181764372e-1, -1.05586262253232909814e1, -6.23753324503260060396e1,
  -1.62396669462573470355e2, -1.84605092906711035994e2, -8.12874355063065934246e1, -9.81432934416914548592,
];
const SA = [
  1.0, 1.96512716674392571292e1, 1.376577541435190426e2, 4.34565877475229228821e2, 6.45387271733267880336e2,
  4.29008140027567833386e2, 1.08635005541779435134e2, 6.57024977031928170135, -6.04244152148580987438e-2,
];
const RB = [
  -9.86494292470009928597e-3, -7.99283237680523006574e-1, -1.77579549177547519889e1, -1.60636384855821916062e2,
  -6.37566443368389627722e2, -1.02509513161107724954e3, -4.83519191608651397019e2,
];
const SB = [
  1.0, 3.03380607434824582924e1, 3.25792512996573918826e2, 1.53672958608443695994e3, 3.19985821950859553908e3,
  2.55305040643316442583e3, 4.74528541206955367215e2, -2.24409524465858183362e1,
];

/** c[0] + x * (c[1] + x * (c[2] + ...)): Horner's rule in fdlibm's order of operations. */
function poly(c: readonly number[], x: number): number {
  let r = c[c.length - 1]!;
  for (let i = c.length - 2; i >= 0; i--) r = c[i]! + x * r;
  return r;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
// Clears the low 32 bits of a double, as fdlibm's SET_LOW_WORD(z, 0) does, so exp(-z*z) is exact.
function truncLow(x: number): number {
  f64[0] = x;
  u32[0] = 0; // little-endian: index 0 is the low word
  return f64[0];
}

/** The error function, accurate to about 1 ulp in double precision. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return x;
  if (!Number.isFinite(x)) return x > 0 ? 1 : -1;
  const sign = x < 0;
  const ax = Math.abs(x);
  if (ax < 0.84375) {
    if (ax < 3.7252902984e-9) return 0.125 * (8.0 * x + efx8 * x);
    const z = x * x;
    const r = poly(PP, z);
    const s = poly(QQ, z);
    return x + x * (r / s);
  }
  if (ax < 1.25) {
    const s = ax - 1.0;
    const P = poly(PA, s);
    const Q = poly(QA, s);
    return sign ? -erx - P / Q : erx + P / Q;
  }
  if (ax >= 6) return sign ? -1 : 1;
  const s = 1.0 / (ax * ax);
  let R: number, S: number;
  if (ax < 1 / 0.35) {
    R = poly(RA, s);
    S = poly(SA, s);
  } else {
    R = poly(RB, s);
    S = poly(SB, s);
  }
  const z = truncLow(ax);
  const r = Math.exp(-z * z - 0.5625) * Math.exp((z - ax) * (z + ax) + R / S);
  return sign ? r / ax - 1 : 1 - r / ax;
}

/** torch.finfo(float32).min: the additive attention mask of a position that may not be attended (HF's value). */
export const FLOAT32_MIN = -3.4028234663852886e38;
