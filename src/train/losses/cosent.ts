// CoSENTLoss for scored pairs: log(1 + sum over pairs ranked wrongly of exp(scale * (cos_i - cos_j))), forward and
// backward in one pass (sentence-transformers' CoSENTLoss.compute_loss_from_embeddings).
import { l2NormalizeBackward, l2NormalizeForward } from '../../model/sentence/normalize.js';
import { checkColumns, type EmbeddingColumn, type EmbeddingLossResult } from './types.js';

/**
 * columns = [sentences1, sentences2] ([B, D] each), labels[B] the gold similarity of each pair. Every (i, j) with
 * labels[i] < labels[j] adds exp(scale * (cos_i - cos_j)); scale defaults to 20.
 */
export function coSentLoss(
  columns: readonly EmbeddingColumn[],
  labels: ArrayLike<number>,
  options: { scale?: number } = {},
): EmbeddingLossResult {
  checkColumns(columns, 'CoSENTLoss', 2);
  if (columns.length !== 2) throw new RangeError(`CoSENTLoss: needs exactly 2 columns, got ${columns.length}`);
  const scale = options.scale ?? 20;
  const B = columns[0]!.rows,
    D = columns[0]!.dim;
  if (labels.length !== B) throw new RangeError(`CoSENTLoss: ${labels.length} labels for ${B} pairs`);
  const a = l2NormalizeForward(columns[0]!.data, B, D);
  const b = l2NormalizeForward(columns[1]!.data, B, D);
  const s = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    let dot = 0;
    for (let k = 0; k < D; k++) dot += a.y[i * D + k]! * b.y[i * D + k]!;
    s[i] = scale * dot;
  }
  // logsumexp over {0} and the included differences, stabilised by their maximum.
  let max = 0;
  for (let i = 0; i < B; i++)
    for (let j = 0; j < B; j++) if (labels[i]! < labels[j]!) max = Math.max(max, s[i]! - s[j]!);
  let z = Math.exp(-max);
  for (let i = 0; i < B; i++)
    for (let j = 0; j < B; j++) if (labels[i]! < labels[j]!) z += Math.exp(s[i]! - s[j]! - max);
  const dS = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < B; j++) {
      if (!(labels[i]! < labels[j]!)) continue;
      const p = Math.exp(s[i]! - s[j]! - max) / z;
      dS[i]! += p;
      dS[j]! -= p;
    }
  }
  const dA = new Float32Array(B * D),
    dB = new Float32Array(B * D);
  for (let i = 0; i < B; i++) {
    const g = dS[i]! * scale;
    for (let k = 0; k < D; k++) {
      dA[i * D + k] = g * b.y[i * D + k]!;
      dB[i * D + k] = g * a.y[i * D + k]!;
    }
  }
  return {
    loss: max + Math.log(z),
    grads: [l2NormalizeBackward(dA, a.y, a.norms, B, D), l2NormalizeBackward(dB, b.y, b.norms, B, D)],
  };
}
