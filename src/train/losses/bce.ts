// Cross-encoder BinaryCrossEntropyLoss: BCE with logits (torch BCEWithLogitsLoss, mean reduction, optional
// pos_weight) on one logit per (query, passage) pair, with its gradient.

export function binaryCrossEntropyWithLogits(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: { posWeight?: number } = {},
): { loss: number; grad: Float32Array } {
  const n = logits.length;
  if (labels.length !== n) throw new RangeError(`BinaryCrossEntropyLoss: ${labels.length} labels for ${n} logits`);
  if (n === 0) throw new RangeError('BinaryCrossEntropyLoss: empty batch');
  const pw = options.posWeight ?? 1;
  const grad = new Float32Array(n);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const x = logits[i]!,
      y = labels[i]!;
    // log sigmoid(x) and log(1 - sigmoid(x)) in their overflow-free forms.
    const logSig = -(Math.max(-x, 0) + Math.log1p(Math.exp(-Math.abs(x))));
    const logOneMinus = -(Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))));
    loss -= pw * y * logSig + (1 - y) * logOneMinus;
    const sig = 1 / (1 + Math.exp(-x));
    grad[i] = (sig * (pw * y + 1 - y) - pw * y) / n;
  }
  return { loss: loss / n, grad };
}
