// Writes a trained WordPiece vocabulary as a HF tokenizer folder: vocab.txt, tokenizer.json, tokenizer_config.json.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/files.js';

/** How the tokenizer that goes with the vocabulary normalises text (BertNormalizer's settings). */
export interface BertTokenizerFilesOptions {
  /** Lowercase (and strip accents, as BERT-uncased does). */
  lowercase: boolean;
  /** Longest input in tokens, tokenizer_config.json's model_max_length (default 512). */
  modelMaxLength?: number;
  unkToken?: string;
  sepToken?: string;
  padToken?: string;
  clsToken?: string;
  maskToken?: string;
}

interface SpecialNames {
  unk: string;
  sep: string;
  pad: string;
  cls: string;
  mask: string;
}

function specialNames(o: BertTokenizerFilesOptions): SpecialNames {
  return {
    unk: o.unkToken ?? '[UNK]',
    sep: o.sepToken ?? '[SEP]',
    pad: o.padToken ?? '[PAD]',
    cls: o.clsToken ?? '[CLS]',
    mask: o.maskToken ?? '[MASK]',
  };
}

/** The tokenizer.json a HF `BertTokenizerFast` saves for this vocabulary (as an object, ready for JSON). */
export function bertTokenizerJson(
  vocab: readonly string[],
  options: BertTokenizerFilesOptions,
): Record<string, unknown> {
  const sp = specialNames(options);
  const ids = new Map<string, number>();
  vocab.forEach((t, i) => {
    if (!ids.has(t)) ids.set(t, i);
  });
  for (const [role, t] of Object.entries(sp)) {
    if (!ids.has(t)) {
      throw new Error(
        `tokenizer.json: the vocabulary has no ${role} token ${JSON.stringify(t)}; train with BERT's special tokens ` +
          `([PAD] [UNK] [CLS] [SEP] [MASK]) or name the ones the vocabulary has`,
      );
    }
  }
  const special = (t: string): Record<string, unknown> => ({
    id: ids.get(t)!,
    content: t,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const addedOrder = [sp.pad, sp.unk, sp.cls, sp.sep, sp.mask].sort((a, b) => ids.get(a)! - ids.get(b)!);
  const vocabObject: Record<string, number> = {};
  for (const [t, i] of ids) vocabObject[t] = i;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedOrder.map(special),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: options.lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: sp.cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sp.sep, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: sp.cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sp.sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: sp.sep, type_id: 1 } },
      ],
      special_tokens: {
        [sp.cls]: { id: sp.cls, ids: [ids.get(sp.cls)!], tokens: [sp.cls] },
        [sp.sep]: { id: sp.sep, ids: [ids.get(sp.sep)!], tokens: [sp.sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: sp.unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: vocabObject,
    },
  };
}

/** tokenizer_config.json as transformers' BertTokenizer writes it. */
export function bertTokenizerConfig(options: BertTokenizerFilesOptions): Record<string, unknown> {
  const sp = specialNames(options);
  return {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: options.lowercase,
    model_max_length: options.modelMaxLength ?? 512,
    unk_token: sp.unk,
    sep_token: sp.sep,
    pad_token: sp.pad,
    cls_token: sp.cls,
    mask_token: sp.mask,
    tokenize_chinese_chars: true,
    strip_accents: null,
  };
}

// io's atomic write (temp file, fsync, rename), with the file named in the error.
function writeAtomic(path: string, content: string): void {
  try {
    writeFileAtomic(path, content);
  } catch (e) {
    throw new Error(`${path}: could not write (${(e as Error).message})`);
  }
}

/** Writes vocab.txt, tokenizer.json and tokenizer_config.json into `dir` (created if needed); returns their paths. */
export function saveBertTokenizerFiles(
  dir: string,
  vocab: readonly string[],
  options: BertTokenizerFilesOptions,
): string[] {
  for (const t of vocab) {
    if (/[\n\r]/.test(t))
      throw new Error(`vocab.txt: token ${JSON.stringify(t)} contains a line break and cannot be written one per line`);
  }
  const tokenizerJson = bertTokenizerJson(vocab, options); // validates the special tokens before anything is written
  mkdirSync(dir, { recursive: true });
  const files = [join(dir, 'vocab.txt'), join(dir, 'tokenizer.json'), join(dir, 'tokenizer_config.json')];
  writeAtomic(files[0]!, vocab.join('\n') + '\n');
  writeAtomic(files[1]!, JSON.stringify(tokenizerJson, null, 2) + '\n');
  writeAtomic(files[2]!, JSON.stringify(bertTokenizerConfig(options), null, 2) + '\n');
  return files;
}
