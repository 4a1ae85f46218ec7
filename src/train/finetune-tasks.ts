// Question answering (SQuAD v1.1 / v2.0) and multiple choice (SWAG) for finetune(): data, features, model and
// evaluation, handed to the same training loop as classification (HF run_qa.py and run_swag.py).
import { BertForMultipleChoice, BertForQuestionAnswering } from '../model/bert.js';
import { InputError } from '../model/errors.js';
import { choicesDataset, encodedDataset, type EncodedChoices, type EncodedExample } from '../data/batching.js';
import { readSquad, readSwag, qaTrainFeatures, type ChoiceExample, type QaExample } from '../data/squad.js';
import { sampleSubset } from '../data/sampling.js';
import { evaluateMultipleChoice, evaluateQuestionAnswering } from './evaluation.js';
import { loadFinetuneTokenizer, type FinetuneTokenizer } from './text-encoding.js';
import { loadForFinetuning } from './finetune-model.js';
import type { PrepareContext, PreparedTask } from './finetune.js';

/** Question answering's defaults, as HF run_qa.py: windows of 384 tokens sharing 128, answers of up to 30 tokens. */
export const QA_DEFAULTS = { maxLength: 384, docStride: 128, maxAnswerLength: 30 } as const;

/** The decoding options evaluation uses (and a pipeline call given the same values reproduces). */
export function qaDecodeOptions(
  maxLength: number,
  o: { docStride?: number; maxAnswerLength?: number; evalBatchSize?: number },
  impossible: boolean,
) {
  return {
    maxSeqLen: maxLength,
    docStride: o.docStride ?? Math.min(QA_DEFAULTS.docStride, Math.floor(maxLength / 2)),
    maxAnswerLen: o.maxAnswerLength ?? QA_DEFAULTS.maxAnswerLength,
    handleImpossibleAnswer: impossible,
    batchSize: o.evalBatchSize ?? 32,
  };
}

function sampled<T>(examples: T[], n: number | undefined, seed: number): T[] {
  return n === undefined ? examples : sampleSubset(examples, n, seed);
}

/** One encoded pair per choice: (context, choice), truncated longest first to maxLength. */
export function encodeChoices(
  tok: FinetuneTokenizer,
  examples: readonly ChoiceExample[],
  maxLength: number,
): EncodedChoices[] {
  return examples.map((e) => ({
    choices: e.choices.map((choice) => tok.encode(e.context, choice, maxLength)),
    label: e.label,
  }));
}

/** Question answering or multiple choice: data read first (errors fast), then tokenizer, features and model. */
export async function prepareSpanOrChoiceTask(c: PrepareContext): Promise<PreparedTask> {
  const { o, config, task, maxLength, seed, kernels, progress } = c;
  const tokDir = o.tokenizer ?? o.model;
  const modelOptions = { kernels, seed, randomInit: o.randomInit, warn: (m: string) => progress.message(m) };
  if (task === 'multiple-choice') {
    const train = sampled(await readSwag(o.train), o.trainSamples, seed);
    const evalEx = o.eval ? sampled(await readSwag(o.eval), o.evalSamples, seed + 1) : null;
    const choices = train[0]!.choices.length;
    if (evalEx && evalEx[0]!.choices.length !== choices)
      throw new InputError(o.eval!, `${evalEx[0]!.choices.length} choices per example, the training data ${choices}`);
    const tok = await loadFinetuneTokenizer(tokDir);
    progress.message(
      `read ${train.length} training examples of ${choices} choices; tokenizing (max length ${maxLength})`,
    );
    const model = await loadForFinetuning(BertForMultipleChoice, o.model, {}, modelOptions);
    const evalEnc = evalEx ? encodeChoices(tok, evalEx, maxLength) : null;
    const trainEnc = encodeChoices(tok, train, maxLength);
    const evalData = evalEnc ? choicesDataset(evalEnc, tok.padId) : null;
    return {
      model,
      train: choicesDataset(trainEnc, tok.padId),
      trainCount: trainEnc.length,
      evaluate: evalData
        ? () =>
            evaluateMultipleChoice(
              model,
              evalData,
              evalEnc!.map((e) => e.label),
              o.evalBatchSize ?? 32,
            ).metrics
        : undefined,
      metric: o.metric ?? 'accuracy',
      id2label: { ...config.id2label },
      tokDir,
      settings: { choices },
    };
  }
  const train: QaExample[] = sampled(await readSquad(o.train), o.trainSamples, seed);
  const evalEx = o.eval ? sampled(await readSquad(o.eval), o.evalSamples, seed + 1) : null;
  const tok = await loadFinetuneTokenizer(tokDir);
  // SQuAD v2.0 data (unanswerable questions) lets evaluation answer "no answer", as HF's version_2_with_negative.
  const impossible = (evalEx ?? train).some((e) => e.answers.length === 0);
  const decode = qaDecodeOptions(maxLength, o, impossible);
  const docStride = decode.docStride;
  const features: EncodedExample[] = [];
  for (const ex of train) {
    try {
      features.push(...qaTrainFeatures(tok, ex, maxLength, docStride));
    } catch (e) {
      throw new InputError(`${o.train}: question ${ex.id}`, (e as Error).message, { cause: e });
    }
  }
  const answerable = train.filter((e) => e.answers.length > 0).length;
  progress.message(
    `read ${train.length} questions (${train.length - answerable} unanswerable) -> ${features.length} windows of ` +
      `at most ${maxLength} tokens (stride ${docStride})`,
  );
  const model = await loadForFinetuning(BertForQuestionAnswering, o.model, {}, modelOptions);
  return {
    model,
    train: encodedDataset(features, 'qa', tok.padId),
    trainCount: features.length,
    evaluate: evalEx ? () => evaluateQuestionAnswering(model, tok, evalEx, decode).metrics : undefined,
    metric: o.metric ?? 'f1',
    id2label: { ...config.id2label },
    tokDir,
    settings: { docStride, squadV2: impossible },
  };
}
