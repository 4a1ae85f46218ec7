// sentence-transformers' Pooling module: token embeddings [B,T,H] -> sentence embeddings [B, modes*H], forward and
// backward side by side (sentence_transformer/modules/pooling.py, _forward_padded).

export const POOLING_MODES = ['cls', 'max', 'mean', 'mean_sqrt_len_tokens', 'weightedmean', 'lasttoken'] as const;
export type PoolingMode = (typeof POOLING_MODES)[number];

export function isPoolingMode(value: unknown): value is PoolingMode {
  return typeof value === 'string' && (POOLING_MODES as readonly string[]).includes(value);
}

/** What backward needs from a pooling forward. */
export interface PoolingCache {
  B: number;
  T: number;
  H: number;
  /** The pooling mask actually used (attention mask with the prompt excluded when include_prompt is false). */
  mask: Uint8Array;
  /** For max: the token index chosen per [b, h] (-1 when the row has no token). */
  argmax: Int32Array | null;
}

/**
 * The mask pooling reads: the attention mask, with the first `promptLength` positions zeroed when the prompt is
 * excluded (right padding, so the prompt starts at position 0, as Pooling._exclude_prompt_from_mask).
 */
export function poolingMask(attentionMask: ArrayLike<number>, B: number, T: number, promptLength: number): Uint8Array {
  const mask = new Uint8Array(B * T);
  for (let i = 0; i < B * T; i++) mask[i] = attentionMask[i] === 1 ? 1 : 0;
  if (promptLength > 0) for (let b = 0; b < B; b++) mask.fill(0, b * T, b * T + Math.min(promptLength, T));
  return mask;
}

function firstIndex(mask: Uint8Array, b: number, T: number): number {
  // torch argmax of a 0/1 row: the first 1, or 0 when the row is all zeros.
  for (let t = 0; t < T; t++) if (mask[b * T + t] === 1) return t;
  return 0;
}

function lastIndex(mask: Uint8Array, b: number, T: number): number {
  // Pooling's flip + max: the last 1, or T-1 when the row is all zeros (then multiplied by the 0 mask).
  for (let t = T - 1; t >= 0; t--) if (mask[b * T + t] === 1) return t;
  return T - 1;
}

/** The divisor of a mean mode for row b: max(count, 1e-9), its square root, or max(sum of t+1, 1e-9) (weightedmean). */
function meanDenominator(mask: Uint8Array, b: number, T: number, mode: PoolingMode): number {
  let count = 0;
  let weightSum = 0;
  for (let t = 0; t < T; t++) {
    if (mask[b * T + t] === 1) {
      count++;
      weightSum += t + 1;
    }
  }
  if (mode === 'mean') return Math.max(count, 1e-9);
  if (mode === 'mean_sqrt_len_tokens') return Math.sqrt(Math.max(count, 1e-9));
  return Math.max(weightSum, 1e-9);
}

/**
 * Pools x [B,T,H] with each mode in turn, concatenated per sentence: out [B, modes.length*H]. The mean variants
 * divide by max(count, 1e-9) and weightedmean weighs position t by t+1, as sentence-transformers.
 */
export function poolingForward(
  x: Float32Array,
  mask: Uint8Array,
  modes: readonly PoolingMode[],
  B: number,
  T: number,
  H: number,
): { out: Float32Array; cache: PoolingCache } {
  const M = modes.length;
  const out = new Float32Array(B * M * H);
  const argmax = modes.includes('max') ? new Int32Array(B * H).fill(-1) : null;
  for (let b = 0; b < B; b++) {
    modes.forEach((mode, m) => {
      const o = (b * M + m) * H;
      if (mode === 'cls' || mode === 'lasttoken') {
        const t = mode === 'cls' ? firstIndex(mask, b, T) : lastIndex(mask, b, T);
        const keep = mode === 'cls' || mask[b * T + t] === 1;
        if (keep) out.set(x.subarray((b * T + t) * H, (b * T + t + 1) * H), o);
      } else if (mode === 'max') {
        for (let h = 0; h < H; h++) {
          let best = -Infinity;
          let at = -1;
          for (let t = 0; t < T; t++) {
            if (mask[b * T + t] !== 1) continue;
            const v = x[(b * T + t) * H + h]!;
            if (v > best || at < 0) {
              best = v;
              at = t;
            }
          }
          out[o + h] = best;
          argmax![b * H + h] = at;
        }
      } else {
        const weighted = mode === 'weightedmean';
        const denom = meanDenominator(mask, b, T, mode);
        for (let t = 0; t < T; t++) {
          if (mask[b * T + t] !== 1) continue;
          const w = weighted ? t + 1 : 1;
          const row = (b * T + t) * H;
          for (let h = 0; h < H; h++) out[o + h]! += w * x[row + h]!;
        }
        for (let h = 0; h < H; h++) out[o + h] = out[o + h]! / denom;
      }
    });
  }
  return { out, cache: { B, T, H, mask, argmax } };
}

/**
 * Backward of poolingForward: reads dOut [B, modes*H] and the cache, returns a new d(x) [B,T,H] (the pooled token
 * positions receive their share, every other position zero).
 */
export function poolingBackward(dOut: Float32Array, modes: readonly PoolingMode[], cache: PoolingCache): Float32Array {
  const { B, T, H, mask, argmax } = cache;
  const M = modes.length;
  const dx = new Float32Array(B * T * H);
  for (let b = 0; b < B; b++) {
    modes.forEach((mode, m) => {
      const o = (b * M + m) * H;
      if (mode === 'cls' || mode === 'lasttoken') {
        const t = mode === 'cls' ? firstIndex(mask, b, T) : lastIndex(mask, b, T);
        if (mode === 'lasttoken' && mask[b * T + t] !== 1) return;
        for (let h = 0; h < H; h++) dx[(b * T + t) * H + h]! += dOut[o + h]!;
      } else if (mode === 'max') {
        for (let h = 0; h < H; h++) {
          const t = argmax![b * H + h]!;
          if (t >= 0) dx[(b * T + t) * H + h]! += dOut[o + h]!;
        }
      } else {
        const weighted = mode === 'weightedmean';
        const denom = meanDenominator(mask, b, T, mode);
        for (let t = 0; t < T; t++) {
          if (mask[b * T + t] !== 1) continue;
          const w = (weighted ? t + 1 : 1) / denom;
          const row = (b * T + t) * H;
          for (let h = 0; h < H; h++) dx[row + h]! += w * dOut[o + h]!;
        }
      }
    });
  }
  return dx;
}
