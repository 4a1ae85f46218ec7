# The WordNet retrieval run in sentence-transformers (Python, CPU), on the split scripts/wordnet-retrieval.ts built
# and with its recipe: plain BERT folder + mean pooling, MultipleNegativesRankingLoss (scale 20), AdamW, linear
# schedule with 10% warmup, batch 32, max length 32, 1 epoch, seed 42; nDCG@10 before and after, pairs/s.
#   ../st-train-venv/bin/python scripts/wordnet-retrieval.py --data /tmp/wordnet-split --model DIR --output DIR
import argparse
import json
import math
import os
import time

import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

p = argparse.ArgumentParser()
p.add_argument("--data", required=True)
p.add_argument("--model", required=True)
p.add_argument("--output", required=True)
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--lr", type=float, default=1e-4)
p.add_argument("--warmup-ratio", type=float, default=0.1)
p.add_argument("--max-length", type=int, default=32)
p.add_argument("--seed", type=int, default=42)
a = p.parse_args()

rows = [json.loads(l) for l in open(os.path.join(a.data, "train.jsonl"))]
ir = json.load(open(os.path.join(a.data, "ir.json")))  # written by wordnet-retrieval.ts train (retrievalFromPairs)
cos = lambda x, y: torch.nn.functional.normalize(x) @ torch.nn.functional.normalize(y).T
evaluator = InformationRetrievalEvaluator(
    ir["queries"], ir["corpus"], {q: set(d) for q, d in ir["relevantDocs"].items()},
    score_functions={"cosine": cos}, batch_size=64, write_csv=False,
)


def evaluate(model):
    t0 = time.perf_counter()
    m = evaluator(model)
    return {"ndcg10": m["cosine_ndcg@10"], "mrr10": m["cosine_mrr@10"], "recall10": m["cosine_recall@10"],
            "seconds": time.perf_counter() - t0}


model = SentenceTransformer(a.model, device="cpu", model_kwargs={"dtype": torch.float32})
model.max_seq_length = a.max_length
before = evaluate(model)
steps = math.ceil(len(rows) / a.batch_size) * a.epochs
args = SentenceTransformerTrainingArguments(
    output_dir=a.output, num_train_epochs=a.epochs, per_device_train_batch_size=a.batch_size,
    learning_rate=a.lr, warmup_steps=math.ceil(steps * a.warmup_ratio), lr_scheduler_type="linear",
    weight_decay=0.0, max_grad_norm=1.0, adam_epsilon=1e-8, seed=a.seed, save_strategy="no",
    report_to="none", use_cpu=True, logging_steps=50, dataloader_drop_last=False,
)
trainer = SentenceTransformerTrainer(
    model=model, args=args, train_dataset=Dataset.from_list(rows),
    loss=MultipleNegativesRankingLoss(model, scale=20.0),
)
t0 = time.perf_counter()
out = trainer.train()
seconds = time.perf_counter() - t0
after = evaluate(model)
result = {
    "library": "sentence-transformers", "model": a.model, "torch_threads": torch.get_num_threads(),
    "queries": len(ir["queries"]), "corpus": len(ir["corpus"]), "train_pairs": len(rows), "steps": out.global_step,
    "train_seconds": round(seconds, 1), "pairs_per_second": round(len(rows) * a.epochs / seconds, 2),
    "before": before, "after": after,
}
os.makedirs(a.output, exist_ok=True)
json.dump(result, open(os.path.join(a.output, "wordnet_result.json"), "w"), indent=2)
print(json.dumps(result))
