# Issue 16, fine-tuning check: a BERT-mini-sized DistilBERT and RoBERTa made with transformers, initialised as
# DistilBERT's paper initialises its student from its teacher (Sanh et al. 2019, section 3): transformers builds each
# model with its own init (from_config), then the encoder is copied from ../shared/models/bert-mini-imdb-hf (4 layers,
# hidden 256, 4 heads, already pre-trained on IMDb). Same depth, so every layer is taken (the paper takes one in two
# because its student has half the teacher's layers). Both keep bert-mini's WordPiece vocabulary, because the word
# embeddings copied are indexed by it. Also writes the seeded 1,000-review training subset both sides read.
#   /work/wt/family-venv/bin/python scripts/family-notebook/make_checkpoints.py OUT_DIR
import gzip
import json
import random
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DistilBertConfig, DistilBertForMaskedLM,
                          RobertaConfig, RobertaForMaskedLM)

ROOT = Path(__file__).resolve().parents[2]
BERT = ROOT / '../shared/models/bert-mini-imdb-hf'
IMDB = ROOT / '../shared/data/imdb'
out = Path(sys.argv[1] if len(sys.argv) > 1 else '/tmp/family-notebook')
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)

src = {k: v.float() for k, v in load_file(str(BERT / 'model.safetensors')).items()}
src = {k[len('bert.'):] if k.startswith('bert.') else k: v for k, v in src.items()}
bcfg = json.loads((BERT / 'config.json').read_text())
H, L, A, I, V = (bcfg[k] for k in ('hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'vocab_size'))
# bert-mini adds token_type_embeddings[0] to every token of a single review; models without token types get it folded
# into the position table (RoBERTa keeps a one-row token-type table, so it takes the row as is).
tt0 = src['embeddings.token_type_embeddings.weight'][0]


def copy(model, pairs):
    state = model.state_dict()
    for dst, value in pairs.items():
        assert state[dst].shape == value.shape, (dst, state[dst].shape, value.shape)
        state[dst] = value.clone()
    missing = [k for k in state if k not in pairs and not k.endswith('vocab_projector.weight') and k != 'lm_head.decoder.weight']
    model.load_state_dict(state)
    return missing


def layer_pairs(prefix, names):
    pairs = {}
    for i in range(L):
        s = f'encoder.layer.{i}.'
        for bert_name, dst_name in names.items():
            for p in ('weight', 'bias'):
                pairs[f'{prefix}{i}.{dst_name}.{p}'] = src[f'{s}{bert_name}.{p}']
    return pairs


def save(model, name, extra_tokenizer_config):
    d = out / name
    model.save_pretrained(d)
    for f in ('vocab.txt', 'tokenizer.json'):
        shutil.copy(BERT / f, d / f)
    tc = json.loads((BERT / 'tokenizer_config.json').read_text())
    tc.update(extra_tokenizer_config)
    (d / 'tokenizer_config.json').write_text(json.dumps(tc, indent=2))
    print('wrote', d)


# DistilBERT (modeling_distilbert.py names); no token types, learned positions.
dcfg = DistilBertConfig(vocab_size=V, max_position_embeddings=512, sinusoidal_pos_embds=False, n_layers=L, n_heads=A,
                        dim=H, hidden_dim=I, activation='gelu', pad_token_id=0, tie_word_embeddings=True)
distil = DistilBertForMaskedLM._from_config(dcfg, dtype=torch.float32)
pairs = {
    'distilbert.embeddings.word_embeddings.weight': src['embeddings.word_embeddings.weight'],
    'distilbert.embeddings.position_embeddings.weight': src['embeddings.position_embeddings.weight'] + tt0,
    'distilbert.embeddings.LayerNorm.weight': src['embeddings.LayerNorm.weight'],
    'distilbert.embeddings.LayerNorm.bias': src['embeddings.LayerNorm.bias'],
    'vocab_transform.weight': src['cls.predictions.transform.dense.weight'],
    'vocab_transform.bias': src['cls.predictions.transform.dense.bias'],
    'vocab_layer_norm.weight': src['cls.predictions.transform.LayerNorm.weight'],
    'vocab_layer_norm.bias': src['cls.predictions.transform.LayerNorm.bias'],
    'vocab_projector.bias': src['cls.predictions.bias'],
}
pairs |= layer_pairs('distilbert.transformer.layer.', {
    'attention.self.query': 'attention.q_lin', 'attention.self.key': 'attention.k_lin',
    'attention.self.value': 'attention.v_lin', 'attention.output.dense': 'attention.out_lin',
    'attention.output.LayerNorm': 'sa_layer_norm', 'intermediate.dense': 'ffn.lin1', 'output.dense': 'ffn.lin2',
    'output.LayerNorm': 'output_layer_norm'})
print('distilbert: left at transformers init:', copy(distil, pairs))
save(distil, 'distilbert-mini', {'tokenizer_class': 'DistilBertTokenizer'})

# RoBERTa (modeling_roberta.py names): positions counted from padding_idx + 1, so row p of bert-mini's table goes to
# row p + pad + 1; one token type. pad/bos/eos are the WordPiece vocabulary's [PAD]/[CLS]/[SEP].
pad = 0
rcfg = RobertaConfig(vocab_size=V, hidden_size=H, num_hidden_layers=L, num_attention_heads=A, intermediate_size=I,
                     max_position_embeddings=512 + pad + 1, type_vocab_size=1, layer_norm_eps=bcfg['layer_norm_eps'],
                     pad_token_id=pad, bos_token_id=101, eos_token_id=102, tie_word_embeddings=True)
roberta = RobertaForMaskedLM._from_config(rcfg, dtype=torch.float32)
pos = roberta.state_dict()['roberta.embeddings.position_embeddings.weight'].clone()
pos[pad + 1:] = src['embeddings.position_embeddings.weight']
pairs = {
    'roberta.embeddings.word_embeddings.weight': src['embeddings.word_embeddings.weight'],
    'roberta.embeddings.position_embeddings.weight': pos,
    'roberta.embeddings.token_type_embeddings.weight': src['embeddings.token_type_embeddings.weight'][:1],
    'roberta.embeddings.LayerNorm.weight': src['embeddings.LayerNorm.weight'],
    'roberta.embeddings.LayerNorm.bias': src['embeddings.LayerNorm.bias'],
    'lm_head.dense.weight': src['cls.predictions.transform.dense.weight'],
    'lm_head.dense.bias': src['cls.predictions.transform.dense.bias'],
    'lm_head.layer_norm.weight': src['cls.predictions.transform.LayerNorm.weight'],
    'lm_head.layer_norm.bias': src['cls.predictions.transform.LayerNorm.bias'],
    'lm_head.bias': src['cls.predictions.bias'],
}
pairs |= layer_pairs('roberta.encoder.layer.', {n: n for n in (
    'attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense',
    'attention.output.LayerNorm', 'intermediate.dense', 'output.dense', 'output.LayerNorm')})
print('roberta: left at transformers init:', copy(roberta, pairs))
save(roberta, 'roberta-mini', {'tokenizer_class': 'BertTokenizer'})

# Each with a classification head that transformers initialised (torch seed 0) and saved: both sides fine-tune from
# the same head (NAME-cls), so that the comparison is not decided by two head draws (a fresh head moves only ~10% of
# its norm in this protocol's 375 steps at lr 5e-5), and replay_hf.py can follow a bert-ts run step for step.
for name in ('distilbert-mini', 'roberta-mini'):
    torch.manual_seed(0)
    head = AutoModelForSequenceClassification.from_pretrained(out / name, num_labels=2, dtype=torch.float32)
    head.save_pretrained(out / f'{name}-cls')
    AutoTokenizer.from_pretrained(out / name).save_pretrained(out / f'{name}-cls')
    print('wrote', out / f'{name}-cls')

# The seeded 1,000-review training subset (Python's random, seed 42), one JSON line per review as in train.jsonl.gz.
with gzip.open(IMDB / 'train.jsonl.gz', 'rt') as f:
    rows = [json.loads(line) for line in f]
subset = random.Random(42).sample(rows, 1000)
with open(out / 'train-1000.jsonl', 'w') as f:
    for r in subset:
        f.write(json.dumps({'text': r['text'], 'label': r['label']}) + '\n')
print('wrote', out / 'train-1000.jsonl', 'positive:', sum(r['label'] for r in subset))

# A seeded 5,000-review test subset (for a loaded machine: the 25,000 take most of a run's time on both sides).
with gzip.open(IMDB / 'test.jsonl.gz', 'rt') as f:
    test = [json.loads(line) for line in f]
with open(out / 'test-5000.jsonl', 'w') as f:
    for r in random.Random(42).sample(test, 5000):
        f.write(json.dumps({'text': r['text'], 'label': r['label']}) + '\n')
print('wrote', out / 'test-5000.jsonl')
