# Issue 16: the seed-notebook fine-tuning protocol in PyTorch + transformers, the reference side of the comparison.
# 1,000 reviews from TRAIN (the file make_checkpoints.py writes, read in file order, shuffled per epoch by a seeded
# generator), 3 epochs, batch 8, Adam lr 5e-5 constant, eps 1e-7, no weight decay, gradient clipping at 1.0 (the
# default on both sides), max length 128, dropout on; then accuracy on all 25,000 IMDb test reviews at length 128.
#   /work/wt/family-venv/bin/python scripts/family-notebook/finetune_hf.py MODEL_DIR TRAIN_JSONL [TEST_JSONL[.gz]] [SEED]
# (TEST: default all 25,000 test reviews; THREADS=n sets torch's threads, default 2.)
import gzip
import json
import re
import os
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
model_dir, train_path = sys.argv[1], sys.argv[2]
test_path = Path(sys.argv[3]) if len(sys.argv) > 3 else ROOT / '../shared/data/imdb/test.jsonl.gz'
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 42
torch.manual_seed(seed)
torch.set_num_threads(int(os.environ.get('THREADS', '2')))

tok = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2, dtype=torch.float32)
train = [json.loads(line) for line in open(train_path)]
with (gzip.open(test_path, 'rt') if test_path.suffix == '.gz' else open(test_path)) as f:
    test = [json.loads(line) for line in f]


def clean(text):
    # bert-ts' text-classification reader turns `<br />` into a newline before tokenizing (src/data/classification.ts).
    return re.sub(r'<br\s*/?\s*>', '\n', text, flags=re.I)


def batch(rows):
    x = tok([clean(r['text']) for r in rows], truncation=True, max_length=128, padding=True, return_tensors='pt')
    x.pop('token_type_ids', None)  # DistilBERT has none; RoBERTa's one type is 0 anyway
    return x, torch.tensor([r['label'] for r in rows])


opt = torch.optim.Adam(model.parameters(), lr=5e-5, eps=1e-7, weight_decay=0)
gen = torch.Generator().manual_seed(seed)
t0 = time.time()
model.train()
for epoch in range(3):
    order = torch.randperm(len(train), generator=gen).tolist()
    total, steps = 0.0, 0
    for i in range(0, len(order), 8):
        x, y = batch([train[j] for j in order[i:i + 8]])
        loss = torch.nn.functional.cross_entropy(model(**x).logits, y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        total, steps = total + loss.item(), steps + 1
        if steps % 25 == 0:
            print(json.dumps({'epoch': epoch + 1, 'step': steps, 'loss': round(loss.item(), 4),
                              'seconds': round(time.time() - t0, 1)}), flush=True)
    print(json.dumps({'epoch': epoch + 1, 'mean_loss': round(total / steps, 4)}), flush=True)
t1 = time.time()
model.eval()
correct = 0
conf = [[0, 0], [0, 0]]
with torch.no_grad():
    for i in range(0, len(test), 64):
        x, y = batch(test[i:i + 64])
        pred = model(**x).logits.argmax(-1)
        for a, b in zip(y.tolist(), pred.tolist()):
            conf[a][b] += 1
        correct += (pred == y).sum().item()
t2 = time.time()
print(json.dumps({'model': model_dir, 'test': str(test_path), 'reviews': len(test), 'seed': seed, 'accuracy': correct / len(test), 'confusion': conf,
                  'train_seconds': round(t1 - t0, 1), 'eval_seconds': round(t2 - t1, 1)}))
