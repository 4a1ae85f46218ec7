# Makes test/tokenizer/fixtures/*.json: byte-level BPE and SentencePiece Unigram tokenizer.json files trained by
# HF `tokenizers` (Python) on IMDb reviews, the reference files of the differential tests.
#
# Usage (a venv outside the repo):
#   python3 -m venv /tmp/tok-venv && /tmp/tok-venv/bin/pip install tokenizers==0.23.2 sentencepiece
#   /tmp/tok-venv/bin/python scripts/make-tokenizer-fixtures.py
#
# The Unigram files use the Precompiled normalizer as XLM-RoBERTa's tokenizer.json does; its precompiled_charsmap
# is SentencePiece's built-in "nmt_nfkc" rule set (the same bytes for any training text), taken from the model
# file of a small SentencePiece run.
import base64
import gzip
import json
import os
import tempfile

import sentencepiece as spm
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMDB = os.path.join(ROOT, '..', 'shared', 'data', 'imdb', 'train.jsonl.gz')
OUT = os.path.join(ROOT, 'test', 'tokenizer', 'fixtures')
N_TEXTS = 5000  # the first 5,000 reviews (the tests run on all 25,000 and on the test split)

texts = []
with gzip.open(IMDB, 'rt', encoding='utf-8') as f:
    for line in f:
        if line.strip():
            texts.append(json.loads(line)['text'])
        if len(texts) == N_TEXTS:
            break


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def proto_field(buf, wanted):
    """The bytes of length-delimited field `wanted` of a protobuf message (a minimal reader: no protobuf package)."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, i = varint(buf, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = varint(buf, i)
            if field == wanted:
                return buf[i : i + n]
            i += n
        else:
            raise ValueError(f'unexpected wire type {wire}')
    raise KeyError(wanted)


def nmt_nfkc_charsmap():
    with tempfile.TemporaryDirectory() as d:
        corpus = os.path.join(d, 'corpus.txt')
        with open(corpus, 'w', encoding='utf-8') as f:
            f.write('\n'.join(texts[:300]))
        prefix = os.path.join(d, 'sp')
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=prefix, vocab_size=500, normalization_rule_name='nmt_nfkc', minloglevel=2
        )
        with open(prefix + '.model', 'rb') as f:
            model = f.read()
    # ModelProto.normalizer_spec = 3; NormalizerSpec.precompiled_charsmap = 2
    return proto_field(proto_field(model, 3), 2)


def save(tok, name):
    path = os.path.join(OUT, name)
    tok.save(path, pretty=False)
    print(f'{path}: {os.path.getsize(path)} bytes, vocab {tok.get_vocab_size()}')


os.makedirs(OUT, exist_ok=True)

# Byte-level BPE, RoBERTa's components.
ROBERTA_SPECIAL = ['<s>', '<pad>', '</s>', '<unk>']
bpe = Tokenizer(models.BPE())
bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
bpe.decoder = decoders.ByteLevel()
bpe.train_from_iterator(
    texts,
    trainers.BpeTrainer(
        vocab_size=4000,
        min_frequency=2,
        special_tokens=ROBERTA_SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    ),
)
bpe.add_special_tokens([AddedToken('<mask>', lstrip=True, rstrip=False, normalized=False, special=True)])
cls, sep = ('<s>', bpe.token_to_id('<s>')), ('</s>', bpe.token_to_id('</s>'))
# 1. roberta-base as it is: RobertaProcessing trims offsets, no prefix space.
bpe.post_processor = processors.RobertaProcessing(sep, cls, trim_offsets=True, add_prefix_space=False)
save(bpe, 'bpe-roberta.json')
# 2. a prefix space, offsets kept untrimmed, TemplateProcessing with type ids (ModernBERT's post-processor kind).
bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True)
bpe.post_processor = processors.TemplateProcessing(
    single='<s> $A </s>', pair='<s> $A </s> $B:1 </s>:1', special_tokens=[cls, sep]
)
save(bpe, 'bpe-template.json')
# 3. RobertaProcessing with add_prefix_space and trim_offsets; a ByteLevel pre-tokenizer without the regex.
bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=False)
bpe.post_processor = processors.RobertaProcessing(sep, cls, trim_offsets=True, add_prefix_space=True)
save(bpe, 'bpe-noregex.json')

# SentencePiece Unigram, XLM-RoBERTa's components.
charsmap = nmt_nfkc_charsmap()
uni = Tokenizer(models.Unigram())
uni.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap), normalizers.Replace(Regex(' {2,}'), ' ')])
uni.pre_tokenizer = pre_tokenizers.Metaspace(replacement='▁', prepend_scheme='always', split=True)
uni.decoder = decoders.Metaspace(replacement='▁', prepend_scheme='always', split=True)
uni.train_from_iterator(
    texts,
    trainers.UnigramTrainer(
        vocab_size=4000, special_tokens=['<s>', '<pad>', '</s>', '<unk>'], unk_token='<unk>', show_progress=False
    ),
)
uni.add_special_tokens([AddedToken('<mask>', lstrip=True, rstrip=False, normalized=False, special=True)])
s, e = ('<s>', uni.token_to_id('<s>')), ('</s>', uni.token_to_id('</s>'))
uni.post_processor = processors.TemplateProcessing(
    single='<s> $A </s>', pair='<s> $A </s> </s> $B </s>', special_tokens=[s, e]
)
save(uni, 'unigram-xlmr.json')

# The same model with byte fallback (the 256 <0xXX> pieces appended, as Llama-style SentencePiece models have them),
# Metaspace prepending only at the start of the text and not splitting, and the Precompiled step alone.
doc = json.loads(uni.to_str())
vocab = doc['model']['vocab']
lowest = min(score for _, score in vocab)
have = {piece for piece, _ in vocab}
vocab.extend([f'<0x{b:02X}>', lowest - 1.0] for b in range(256) if f'<0x{b:02X}>' not in have)
doc['model']['byte_fallback'] = True
doc['normalizer'] = {'type': 'Precompiled', 'precompiled_charsmap': base64.b64encode(charsmap).decode('ascii')}
doc['pre_tokenizer'] = {'type': 'Metaspace', 'replacement': '▁', 'prepend_scheme': 'first', 'split': False}
doc['decoder'] = {
    'type': 'Sequence',
    'decoders': [
        {'type': 'Replace', 'pattern': {'String': '▁'}, 'content': ' '},
        {'type': 'ByteFallback'},
        {'type': 'Fuse'},
        {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0},
    ],
}
fallback = Tokenizer.from_str(json.dumps(doc))
save(fallback, 'unigram-bytefallback.json')
