// MLM-only pre-training (RoBERTa's objective, no NSP): the masked-LM forward on a pre-training batch, its Trainer
// adapter and its held-out evaluation, for BertForMaskedLM and RobertaForMaskedLM (one class over the family).
//
// The batch is the shard pipeline's: [CLS] A [SEP] B [SEP] filled to the target length (RoBERTa's FULL-SENTENCES
// packs text across sentence and document boundaries the same way); the next-sentence labels are not used. A model
// with one token type (RoBERTa) sees every token as type 0.
import type { BertForMaskedLM } from '../model/bert.js';
import type { PretrainingBatch } from '../data/batching.js';
import type { PretrainingInstance } from '../data/pretraining.js';
import type { TrainerModel } from './trainer.js';
import { argmaxCorrect, maskedLabels, type PretrainingForwardOptions } from './pretrain-model.js';
import { sumOverBatches } from './pretrain-eval.js';

/** Loss and counts of one masked-LM forward. */
export interface MaskedLmStepOutput {
  /** Mean cross-entropy over the masked positions. */
  loss: number;
  mlmCorrect: number;
  mlmCount: number;
}

/** The batch's token types, or zeros for a model with one token type (RoBERTa). */
export function tokenTypesFor(typeVocabSize: number, batch: PretrainingBatch): Int32Array {
  return typeVocabSize > 1 ? batch.tokenTypeIds : new Int32Array(batch.B * batch.T);
}

/** Masked-LM forward (the head at the masked positions only); a following backward() accumulates the gradients. */
export function maskedLmForward(
  model: BertForMaskedLM,
  batch: PretrainingBatch,
  options: PretrainingForwardOptions = {},
): MaskedLmStepOutput {
  const train = options.train ?? true;
  const { B, T } = batch;
  if (batch.maskedIndex.length === 0)
    throw new Error('maskedLmForward: the batch has no masked positions (unmasked data needs dynamic masking)');
  const labels = maskedLabels(batch);
  const out = model.forward(
    {
      inputIds: { data: batch.inputIds, shape: [B, T] },
      tokenTypeIds: { data: tokenTypesFor(model.config.typeVocabSize, batch), shape: [B, T] },
      attentionMask: { data: batch.attentionMask, shape: [B, T] },
      labels: { data: labels, shape: [B, T] },
    },
    {
      train,
      mlmLabeledOnly: true,
      firstExample: options.firstExample,
      ...(train && options.forwardIndex !== undefined ? { seed: options.forwardIndex } : {}),
    },
  );
  if (out.loss === undefined) throw new Error('maskedLmForward: the model returned no loss for a labelled batch');
  const rowLabels = labels.filter((l) => l !== -100);
  const mlmCorrect = argmaxCorrect(out.logits.data, model.config.vocabSize, rowLabels, (k) => k);
  return { loss: out.loss, mlmCorrect, mlmCount: rowLabels.length };
}

/** Wraps a BertForMaskedLM / RobertaForMaskedLM for the Trainer (one loss term: the mean over masked tokens). */
export function maskedLmTrainerModel(model: BertForMaskedLM): TrainerModel<PretrainingBatch> {
  const params = model.parameters();
  let last: MaskedLmStepOutput | null = null;
  return {
    forwardLoss: (batch, train, forwardIndex, firstExample) => {
      last = maskedLmForward(model, batch, { train, forwardIndex, firstExample });
      return last.loss;
    },
    lossTerms: () => {
      if (!last) throw new Error('maskedLmTrainerModel: lossTerms before any forward');
      return [{ loss: last.loss, count: last.mlmCount }];
    },
    backward: (ready) => (ready ? model.backwardReporting(ready) : model.backward()),
    zeroGrad: () => model.zeroGrad(),
    parameters: () => params,
    seed: model.seed,
  };
}

export interface MaskedLmEvaluation {
  mlm_loss: number;
  mlm_accuracy: number;
  instances: number;
}

/** Held-out MLM loss (mean over masked positions) and accuracy, dropout off. */
export function evaluateMaskedLm(
  model: BertForMaskedLM,
  instances: readonly PretrainingInstance[],
  batchSize: number,
  padId: number,
): MaskedLmEvaluation {
  const [loss = 0, correct = 0, count = 0, n = 0] = sumOverBatches(instances, batchSize, padId, 4, (batch) => {
    const o = maskedLmForward(model, batch, { train: false });
    return [o.loss * o.mlmCount, o.mlmCorrect, o.mlmCount, batch.B];
  });
  return { mlm_loss: loss / count, mlm_accuracy: correct / count, instances: n };
}
