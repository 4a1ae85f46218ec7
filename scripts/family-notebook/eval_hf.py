# Issue 16: HF's accuracy of a fine-tuned folder (e.g. one `bert finetune` wrote), to check that both sides score the
# same weights alike: /work/wt/family-venv/bin/python scripts/family-notebook/eval_hf.py MODEL_DIR TEST_JSONL
import json
import re
import sys
import time

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

torch.set_num_threads(2)
tok = AutoTokenizer.from_pretrained(sys.argv[1])
model = AutoModelForSequenceClassification.from_pretrained(sys.argv[1], dtype=torch.float32).eval()
test = [json.loads(line) for line in open(sys.argv[2])]
t0, correct, conf = time.time(), 0, [[0, 0], [0, 0]]
with torch.no_grad():
    for i in range(0, len(test), 64):
        rows = test[i:i + 64]
        x = tok([re.sub(r'<br\s*/?\s*>', '\n', r['text'], flags=re.I) for r in rows],  # as bert-ts' reader
                truncation=True, max_length=128, padding=True, return_tensors='pt')
        x.pop('token_type_ids', None)
        for a, b in zip([r['label'] for r in rows], model(**x).logits.argmax(-1).tolist()):
            conf[a][b] += 1
            correct += a == b
print(json.dumps({'model': sys.argv[1], 'reviews': len(test), 'accuracy': correct / len(test), 'confusion': conf,
                  'seconds': round(time.time() - t0, 1)}))
