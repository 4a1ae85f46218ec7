# Issue 16: transformers replaying a `bert finetune` run of the seed-notebook protocol step for step. Both sides start
# from MODEL_DIR (a folder that holds the classification head, so no side initialises one); HF takes bert-ts' batch
# order (batch-order.ts) and, with --masks hash (the default), bert-ts' dropout masks (scripts/fixtures/
# bert_ts_dropout.py); per-step losses go to OUT.steps.jsonl, to compare with `bert finetune --log` of the same run:
#   bert finetune --model MODEL_DIR --train DIR/train-1000.jsonl ... --seed 42 --log TS.jsonl   (run.sh's flags)
#   /work/wt/family-venv/bin/python scripts/family-notebook/replay_hf.py MODEL_DIR DIR OUT [--masks M] [--order O]
# --masks torch:S keeps torch's own dropout (seeded S) and numpy:S draws Bernoulli masks from numpy's PCG64 at the same
# sites: only the mask generator changes; --order torch:S takes finetune_hf.py's batch order (torch.randperm) instead
# of bert-ts'. DistilBERT and RoBERTa sequence classification; eager attention, 1 thread. DIR: make_checkpoints.py's.
import argparse, json, re, subprocess, sys, time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'scripts/fixtures'))
from bert_ts_dropout import MaskState, forward_seed, use_bert_ts_masks  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument('model'); ap.add_argument('data'); ap.add_argument('out')
ap.add_argument('--masks', default='hash'); ap.add_argument('--order', default='bert-ts')
ap.add_argument('--seed', type=int, default=42)
ap.add_argument('--epochs', type=int, default=3); ap.add_argument('--batch-size', type=int, default=8)
args = ap.parse_args()
if not re.fullmatch(r'hash|(torch|numpy):\d+', args.masks) or not re.fullmatch(r'bert-ts|torch:\d+', args.order):
    raise SystemExit('replay_hf.py: --masks hash|torch:S|numpy:S, --order bert-ts|torch:S')
torch.set_num_threads(1)

tok = AutoTokenizer.from_pretrained(args.model)
model = AutoModelForSequenceClassification.from_pretrained(args.model, dtype=torch.float32, attn_implementation='eager')
if model.config.model_type not in ('distilbert', 'roberta'):
    raise SystemExit(f'replay_hf.py: model_type {model.config.model_type} is not replayed (distilbert, roberta)')
state = MaskState(np.random.default_rng(int(args.masks[6:])) if args.masks.startswith('numpy:') else None)
if args.masks.startswith('torch:'):
    torch.manual_seed(int(args.masks[6:]))
else:
    use_bert_ts_masks(model, state)

data = Path(args.data)
train = [json.loads(line) for line in open(data / 'train-1000.jsonl')]
test = [json.loads(line) for line in open(data / 'test-5000.jsonl')]
if args.order == 'bert-ts':
    order = json.loads(subprocess.run(
        ['node', '--import', 'tsx', 'scripts/family-notebook/batch-order.ts', str(len(train)), str(args.batch_size),
         str(args.seed), str(args.epochs)], cwd=ROOT, check=True, capture_output=True, text=True).stdout)
else:  # torch:S, finetune_hf.py's order: torch.randperm per epoch from a generator seeded S
    gen = torch.Generator().manual_seed(int(args.order[6:]))
    order = []
    for _ in range(args.epochs):
        perm = torch.randperm(len(train), generator=gen).tolist()
        order.append([perm[i:i + args.batch_size] for i in range(0, len(perm), args.batch_size)])


def batch(rows):
    # bert-ts' text-classification reader turns `<br />` into a newline (src/data/classification.ts).
    x = tok([re.sub(r'<br\s*/?\s*>', '\n', r['text'], flags=re.I) for r in rows], truncation=True, max_length=128,
            padding=True, return_tensors='pt')
    x.pop('token_type_ids', None)
    return x, torch.tensor([r['label'] for r in rows])


opt = torch.optim.Adam(model.parameters(), lr=5e-5, eps=1e-7, weight_decay=0)
model.train()
t0, k = time.time(), 0
with open(args.out + '.steps.jsonl', 'w') as log:
    for epoch in order:
        for indices in epoch:
            k += 1
            state.seed = forward_seed(args.seed, k)
            x, y = batch([train[j] for j in indices])
            loss = torch.nn.functional.cross_entropy(model(**x).logits, y)
            opt.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            log.write(json.dumps({'step': k, 'loss': loss.item(), 'grad_norm': norm.item()}) + '\n')
            log.flush()
model.eval()
correct, negative = 0, 0
with torch.no_grad():
    for i in range(0, len(test), 64):
        x, y = batch(test[i:i + 64])
        pred = model(**x).logits.argmax(-1)
        correct += (pred == y).sum().item()
        negative += (pred == 0).sum().item()
print(json.dumps({'model': args.model, 'masks': args.masks, 'order': args.order, 'seed': args.seed, 'accuracy': correct / len(test),
                  'predicted_negative': negative / len(test), 'seconds': round(time.time() - t0, 1)}))
