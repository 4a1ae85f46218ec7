// BPE and Unigram tokenizer.json files: their components read by name (an unsupported one is an error naming it),
// and the normalize -> pre-tokenize -> model pipeline of one text segment, plus their decoders.
import { Bpe } from './bpe.js';
import { describe, readVocabObject, Reader, type Json, type JsonObject, type TemplateSpec } from './config.js';
import { TokenizerError } from './errors.js';
import {
  CodePoints,
  compileOnigRegex,
  LowercaseNormalizer,
  NmtNormalizer,
  PrependNormalizer,
  ReplaceNormalizer,
  SequenceNormalizer,
  StripNormalizer,
  UnicodeNormalizer,
  type Normalizer,
} from './normalizers.js';
import { PrecompiledNormalizer } from './precompiled.js';
import {
  BYTE_TO_CHAR,
  ByteLevelPreTokenizer,
  CHAR_TO_BYTE,
  MetaspacePreTokenizer,
  type PrependScheme,
  type PreTokenizer,
} from './pre-tokenizers.js';
import { Unigram } from './unigram.js';
import type { TokenBuffer } from './wordpiece.js';

/** One step of a decoder chain (HF decoders' decode_chain over token strings). */
export type DecoderStep =
  | { type: 'ByteLevel' }
  | { type: 'Metaspace'; replacement: string; prependScheme: PrependScheme }
  | { type: 'Replace'; pattern: string; content: string }
  | { type: 'ByteFallback' }
  | { type: 'Fuse' }
  | { type: 'Strip'; content: string; start: number; stop: number };

/** What a BPE / Unigram tokenizer.json holds besides added tokens and the template. */
export interface PipelineSpec {
  modelType: 'BPE' | 'Unigram';
  /** token -> id of the model. */
  vocab: Map<string, number>;
  /** The model's unk token, if it has one. */
  unkToken: string | null;
  normalizer: Normalizer | null;
  preTokenizer: PreTokenizer | null;
  model: Bpe | Unigram;
  /** ByteLevel offset trimming of RobertaProcessing / a ByteLevel post-processor (null: none). */
  trimOffsets: { addPrefixSpace: boolean } | null;
  decoder: DecoderStep[] | null;
  /** The tokenizer.json document, written back as it was by save(). */
  document: JsonObject;
}

const SUPPORTED_NORMALIZERS =
  'Sequence, Precompiled, Replace, Strip, Nmt, Lowercase, Prepend, NFC, NFD, NFKC, NFKD or null';

function parseNormalizer(r: Reader, v: Json | undefined, path: string): Normalizer | null {
  if (v === undefined || v === null) return null;
  const o = r.object(v, path);
  const type = o['type'];
  switch (type) {
    case 'Sequence': {
      const list = o['normalizers'];
      if (!Array.isArray(list)) throw r.error(`${path}.normalizers`, `expected an array, got ${describe(list)}`);
      const steps = list.map((x, i) => parseNormalizer(r, x, `${path}.normalizers[${i}]`));
      return new SequenceNormalizer(steps.filter((s): s is Normalizer => s !== null));
    }
    case 'Precompiled': {
      const map = o['precompiled_charsmap'];
      if (map === null || map === undefined || map === '') return null; // HF: an empty charsmap does nothing
      if (typeof map !== 'string')
        throw r.error(`${path}.precompiled_charsmap`, `expected a base64 string, got ${describe(map)}`);
      return new PrecompiledNormalizer(new Uint8Array(Buffer.from(map, 'base64')), `${r.file}: ${path}`);
    }
    case 'Replace': {
      const pattern = r.object(o['pattern'], `${path}.pattern`);
      const content = r.string(o, 'content', path);
      if (typeof pattern['String'] === 'string') return new ReplaceNormalizer({ string: pattern['String'] }, content);
      if (typeof pattern['Regex'] === 'string')
        return new ReplaceNormalizer(
          { regex: compileOnigRegex(pattern['Regex'], `${r.file}: ${path}.pattern.Regex`) },
          content,
        );
      throw r.error(`${path}.pattern`, 'expected {"String": ...} or {"Regex": ...}');
    }
    case 'Strip':
      return new StripNormalizer(r.bool(o, 'strip_left', path, true), r.bool(o, 'strip_right', path, true));
    case 'Nmt':
      return new NmtNormalizer();
    case 'Lowercase':
      return new LowercaseNormalizer();
    case 'Prepend':
      return new PrependNormalizer(r.string(o, 'prepend', path));
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return new UnicodeNormalizer(type);
    default:
      throw r.error(
        `${path}.type`,
        `normalizer ${describe(type)} is not supported with a BPE or Unigram model (supported: ${SUPPORTED_NORMALIZERS})`,
      );
  }
}

function parsePrependScheme(r: Reader, o: JsonObject, path: string): PrependScheme {
  const v = o['prepend_scheme'];
  if (v === undefined) {
    // Files from before tokenizers 0.14 have add_prefix_space instead.
    return r.bool(o, 'add_prefix_space', path, true) ? 'always' : 'never';
  }
  if (v === 'always' || v === 'first' || v === 'never') return v;
  throw r.error(`${path}.prepend_scheme`, `expected "always", "first" or "never", got ${describe(v)}`);
}

function singleChar(r: Reader, o: JsonObject, key: string, path: string, fallback: string): string {
  const s = r.string(o, key, path, fallback);
  if ([...s].length !== 1) throw r.error(`${path}.${key}`, `expected one character, got ${JSON.stringify(s)}`);
  return s;
}

function parsePreTokenizer(r: Reader, v: Json | undefined, path: string): PreTokenizer | null {
  if (v === undefined || v === null) return null;
  const o = r.object(v, path);
  const type = o['type'];
  if (type === 'Sequence') {
    const list = o['pretokenizers'];
    if (Array.isArray(list) && list.length === 1) return parsePreTokenizer(r, list[0], `${path}.pretokenizers[0]`);
    throw r.error(
      path,
      'a Sequence pre-tokenizer of more than one step is not supported (ByteLevel or Metaspace alone)',
    );
  }
  if (type === 'ByteLevel') {
    return new ByteLevelPreTokenizer({
      addPrefixSpace: r.bool(o, 'add_prefix_space', path, true),
      useRegex: r.bool(o, 'use_regex', path, true),
    });
  }
  if (type === 'Metaspace') {
    const replacement = singleChar(r, o, 'replacement', path, '▁');
    return new MetaspacePreTokenizer(
      replacement.codePointAt(0)!,
      parsePrependScheme(r, o, path),
      r.bool(o, 'split', path, true),
    );
  }
  throw r.error(
    `${path}.type`,
    `pre-tokenizer ${describe(type)} is not supported with a BPE or Unigram model (supported: ByteLevel, Metaspace or null)`,
  );
}

function parseDecoder(r: Reader, v: Json | undefined, path: string): DecoderStep[] | null {
  if (v === undefined || v === null) return null;
  const o = r.object(v, path);
  const type = o['type'];
  switch (type) {
    case 'Sequence': {
      const list = o['decoders'];
      if (!Array.isArray(list)) throw r.error(`${path}.decoders`, `expected an array, got ${describe(list)}`);
      return list.flatMap((x, i) => parseDecoder(r, x, `${path}.decoders[${i}]`) ?? []);
    }
    case 'ByteLevel':
      return [{ type: 'ByteLevel' }];
    case 'Metaspace':
      return [
        {
          type: 'Metaspace',
          replacement: singleChar(r, o, 'replacement', path, '▁'),
          prependScheme: parsePrependScheme(r, o, path),
        },
      ];
    case 'Replace': {
      const pattern = r.object(o['pattern'], `${path}.pattern`);
      if (typeof pattern['String'] !== 'string')
        throw r.error(`${path}.pattern`, 'only a {"String": ...} pattern is supported in a Replace decoder');
      return [{ type: 'Replace', pattern: pattern['String'], content: r.string(o, 'content', path) }];
    }
    case 'ByteFallback':
      return [{ type: 'ByteFallback' }];
    case 'Fuse':
      return [{ type: 'Fuse' }];
    case 'Strip':
      return [
        {
          type: 'Strip',
          content: singleChar(r, o, 'content', path, ' '),
          start: r.int(o, 'start', path, 0),
          stop: r.int(o, 'stop', path, 0),
        },
      ];
    default:
      throw r.error(
        `${path}.type`,
        `decoder ${describe(type)} is not supported with a BPE or Unigram model (supported: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence or null)`,
      );
  }
}

/** RobertaProcessing's template: `<s> $A </s>` and `<s> $A </s> </s> $B </s>`, every type id 0. */
function robertaTemplate(cls: [string, number], sep: [string, number]): TemplateSpec {
  const c = { kind: 'special', name: cls[0], typeId: 0 } as const;
  const s = { kind: 'special', name: sep[0], typeId: 0 } as const;
  return {
    single: [c, { kind: 'sequence', sequence: 'A', typeId: 0 }, s],
    pair: [c, { kind: 'sequence', sequence: 'A', typeId: 0 }, s, s, { kind: 'sequence', sequence: 'B', typeId: 0 }, s],
    specialTokens: new Map([
      [cls[0], { ids: [cls[1]], tokens: [cls[0]] }],
      [sep[0], { ids: [sep[1]], tokens: [sep[0]] }],
    ]),
  };
}

/**
 * The post-processor of a BPE / Unigram file: RobertaProcessing, ByteLevel (offset trimming only), or a Sequence
 * of those and TemplateProcessing / BertProcessing (`parseTemplate` reads those two, as for WordPiece files).
 */
export function parsePipelinePostProcessor(
  r: Reader,
  v: Json | undefined,
  parseTemplate: (v: Json) => TemplateSpec | null,
): { template: TemplateSpec | null; trimOffsets: { addPrefixSpace: boolean } | null } {
  if (v === undefined || v === null) return { template: null, trimOffsets: null };
  const o = r.object(v, 'post_processor');
  const one = (p: JsonObject, path: string) => {
    const type = p['type'];
    const entry = (key: string): [string, number] => {
      const x = p[key];
      if (!Array.isArray(x) || x.length !== 2 || typeof x[0] !== 'string' || typeof x[1] !== 'number')
        throw r.error(`${path}.${key}`, `expected ["token", id], got ${describe(x)}`);
      return [x[0], x[1]];
    };
    if (type === 'RobertaProcessing') {
      return {
        template: robertaTemplate(entry('cls'), entry('sep')),
        trimOffsets: r.bool(p, 'trim_offsets', path, true)
          ? { addPrefixSpace: r.bool(p, 'add_prefix_space', path, true) }
          : null,
      };
    }
    if (type === 'ByteLevel') {
      return {
        template: null,
        trimOffsets: r.bool(p, 'trim_offsets', path, true)
          ? { addPrefixSpace: r.bool(p, 'add_prefix_space', path, true) }
          : null,
      };
    }
    if (type === 'TemplateProcessing' || type === 'BertProcessing')
      return { template: parseTemplate(p), trimOffsets: null };
    throw r.error(
      `${path}.type`,
      `post-processor ${describe(type)} is not supported (supported: RobertaProcessing, ByteLevel, TemplateProcessing, BertProcessing, Sequence or null)`,
    );
  };
  if (o['type'] !== 'Sequence') return one(o, 'post_processor');
  const list = o['processors'];
  if (!Array.isArray(list)) throw r.error('post_processor.processors', `expected an array, got ${describe(list)}`);
  let template: TemplateSpec | null = null;
  let trimOffsets: { addPrefixSpace: boolean } | null = null;
  list.forEach((x, i) => {
    const path = `post_processor.processors[${i}]`;
    const p = one(r.object(x, path), path);
    if (p.template) {
      if (template) throw r.error(path, 'a Sequence post-processor with two templates is not supported');
      template = p.template;
    }
    if (p.trimOffsets) trimOffsets = p.trimOffsets;
  });
  return { template, trimOffsets };
}

/** Reads model, normalizer, pre-tokenizer and decoder of a BPE or Unigram tokenizer.json. */
export function parsePipeline(
  r: Reader,
  root: JsonObject,
  model: JsonObject,
  modelType: 'BPE' | 'Unigram',
): PipelineSpec {
  const vocab = new Map<string, number>();
  let unkToken: string | null = null;
  let m: Bpe | Unigram;
  if (modelType === 'BPE') {
    for (const [k, id] of readVocabObject(r, model)) vocab.set(k, id);
    const mergesJson = model['merges'];
    if (!Array.isArray(mergesJson)) throw r.error('model.merges', `expected an array, got ${describe(mergesJson)}`);
    const merges = mergesJson.map((x, i): [string, string] => {
      if (typeof x === 'string') {
        const sp = x.indexOf(' ');
        if (sp <= 0 || x.indexOf(' ', sp + 1) !== -1)
          throw r.error(`model.merges[${i}]`, `expected "a b", got ${describe(x)}`);
        return [x.slice(0, sp), x.slice(sp + 1)];
      }
      if (Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string')
        return [x[0], x[1]];
      throw r.error(`model.merges[${i}]`, `expected "a b" or ["a", "b"], got ${describe(x)}`);
    });
    const dropout = model['dropout'];
    if (dropout !== undefined && dropout !== null && dropout !== 0 && dropout !== 1)
      throw r.error('model.dropout', `BPE dropout ${describe(dropout)} is not supported (random); use null`);
    for (const key of ['continuing_subword_prefix', 'end_of_word_suffix']) {
      const x = model[key];
      if (x !== undefined && x !== null && x !== '')
        throw r.error(`model.${key}`, `${describe(x)} is not supported for BPE (only null)`);
    }
    if (r.bool(model, 'byte_fallback', 'model', false))
      throw r.error('model.byte_fallback', 'BPE byte_fallback is not supported (Unigram byte_fallback is)');
    const unk = model['unk_token'];
    if (unk !== undefined && unk !== null) {
      if (typeof unk !== 'string') throw r.error('model.unk_token', `expected a string or null, got ${describe(unk)}`);
      if (!vocab.has(unk)) throw r.error('model.unk_token', `${JSON.stringify(unk)} is not in model.vocab`);
      unkToken = unk;
    }
    try {
      m = new Bpe(
        {
          vocab,
          merges,
          unkId: unkToken === null ? null : vocab.get(unkToken)!,
          fuseUnk: r.bool(model, 'fuse_unk', 'model', false),
          ignoreMerges: r.bool(model, 'ignore_merges', 'model', false),
        },
        `${r.file}: model.merges`,
      );
    } catch (e) {
      throw new TokenizerError((e as Error).message);
    }
  } else {
    const list = model['vocab'];
    if (!Array.isArray(list))
      throw r.error('model.vocab', `expected an array of [piece, score], got ${describe(list)}`);
    const pieces = list.map((x, i): [string, number] => {
      if (!Array.isArray(x) || x.length !== 2 || typeof x[0] !== 'string' || typeof x[1] !== 'number')
        throw r.error(`model.vocab[${i}]`, `expected [piece, score], got ${describe(x)}`);
      return [x[0], x[1]];
    });
    pieces.forEach(([p], id) => vocab.set(p, id));
    const unkJson = model['unk_id'];
    let unkId: number | null = null;
    if (unkJson !== undefined && unkJson !== null) {
      unkId = r.int(model, 'unk_id', 'model');
      if (unkId >= pieces.length) throw r.error('model.unk_id', `${unkId} is past the ${pieces.length} pieces`);
      unkToken = pieces[unkId]![0];
    }
    m = new Unigram({ pieces, unkId, byteFallback: r.bool(model, 'byte_fallback', 'model', false) });
  }
  return {
    modelType,
    vocab,
    unkToken,
    normalizer: parseNormalizer(r, root['normalizer'], 'normalizer'),
    preTokenizer: parsePreTokenizer(r, root['pre_tokenizer'], 'pre_tokenizer'),
    model: m,
    trimOffsets: null,
    decoder: parseDecoder(r, root['decoder'], 'decoder'),
    document: root,
  };
}

/** Runs normalizer, pre-tokenizer and model over text segments. */
export class Pipeline {
  private readonly buf = new CodePoints();
  private readonly scratch = new CodePoints();
  private readonly part = new CodePoints();

  constructor(readonly spec: PipelineSpec) {}

  /** The normalized text of a string (for added tokens with `normalized: true`). */
  normalizeString(s: string): string {
    const b = new CodePoints();
    b.load(s, 0, s.length);
    this.spec.normalizer?.run(b, new CodePoints());
    return b.toString();
  }

  /** Normalizes text[from, to) into the buffer it returns (valid until the next call). */
  normalize(text: string, from: number, to: number): CodePoints {
    const b = this.buf;
    b.load(text, from, to);
    this.spec.normalizer?.run(b, this.scratch);
    return b;
  }

  /**
   * Pre-tokenizes and tokenizes b[from, to) (normalized; a copy is made when it is a part), appending to `out`;
   * stops after the pre-token that brings `out` to `limit` tokens and returns true then.
   */
  tokenize(b: CodePoints, from: number, to: number, originalStart: number, out: TokenBuffer, limit: number): boolean {
    let w = b;
    if (from !== 0 || to !== b.length) {
      w = this.part;
      w.length = 0;
      w.reserve(to - from);
      w.cps.set(b.cps.subarray(from, to));
      w.starts.set(b.starts.subarray(from, to));
      w.ends.set(b.ends.subarray(from, to));
      w.length = to - from;
    }
    const pre = this.spec.preTokenizer;
    this.out = out;
    this.limit = limit;
    if (!pre) return this.sink(w, 0, w.length);
    return pre.run(w, originalStart, this.sink);
  }

  private out: TokenBuffer | null = null;
  private limit = Infinity;
  private readonly sink = (word: CodePoints, a: number, z: number): boolean => {
    const out = this.out!;
    out.words?.push(out.length);
    this.spec.model.tokenize(word, a, z, out);
    return out.length >= this.limit;
  };
}

/** HF's decoders over token strings, then joined. */
export function decodeTokens(tokens: string[], steps: readonly DecoderStep[] | null): string {
  if (!steps) return tokens.join(' ');
  let t = tokens;
  for (const d of steps) {
    switch (d.type) {
      case 'ByteLevel': {
        const bytes: number[] = [];
        for (const tok of t) {
          for (const ch of tok) {
            const c = ch.codePointAt(0)!;
            const b = c < 512 ? CHAR_TO_BYTE[c]! : -1;
            if (b >= 0) bytes.push(b);
            else for (const x of Buffer.from(ch, 'utf8')) bytes.push(x);
          }
        }
        t = [Buffer.from(bytes).toString('utf8')];
        break;
      }
      case 'Metaspace':
        t = t.map((tok, i) => {
          let s = '';
          for (const ch of tok) {
            if (ch === d.replacement) {
              if (!(i === 0 && d.prependScheme !== 'never')) s += ' ';
            } else s += ch;
          }
          return s;
        });
        break;
      case 'Replace':
        t = t.map((tok) => tok.replaceAll(d.pattern, d.content));
        break;
      case 'ByteFallback': {
        const out: string[] = [];
        let pending: number[] = [];
        const flush = () => {
          if (pending.length === 0) return;
          const s = new TextDecoder('utf-8', { fatal: true });
          try {
            out.push(s.decode(Uint8Array.from(pending)));
          } catch {
            for (let k = 0; k < pending.length; k++) out.push('\uFFFD');
          }
          pending = [];
        };
        for (const tok of t) {
          const m = /^<0x([0-9A-F]{2})>$/.exec(tok);
          if (m) pending.push(parseInt(m[1]!, 16));
          else {
            flush();
            out.push(tok);
          }
        }
        flush();
        t = out;
        break;
      }
      case 'Fuse':
        t = [t.join('')];
        break;
      case 'Strip':
        t = t.map((tok) => {
          const chars = [...tok];
          let a = 0,
            z = chars.length;
          while (a < d.start && a < z && chars[a] === d.content) a++;
          let k = 0;
          while (k < d.stop && z > a && chars[z - 1] === d.content) {
            z--;
            k++;
          }
          return chars.slice(a, z).join('');
        });
        break;
    }
  }
  return t.join('');
}

/** The GPT-2 character of byte b (for callers that build byte-level vocabularies). */
export function byteLevelChar(b: number): string {
  return String.fromCharCode(BYTE_TO_CHAR[b]!);
}

/** A tokenizer.json `normalizer` object as this pipeline runs it (null: none). */
export function parsePipelineNormalizer(r: Reader, v: Json): Normalizer | null {
  return parseNormalizer(r, v, 'normalizer');
}

/** A tokenizer.json `pre_tokenizer` object as this pipeline runs it (null: none). */
export function parsePipelinePreTokenizer(r: Reader, v: Json): PreTokenizer | null {
  return parsePreTokenizer(r, v, 'pre_tokenizer');
}
