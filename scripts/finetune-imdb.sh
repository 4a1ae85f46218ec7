#!/usr/bin/env bash
# The IMDb fine-tuning runs of issue 5 on ../shared/models/bert-mini-imdb-hf (or MODEL=DIR), timed, logged to /tmp.
#   scripts/finetune-imdb.sh notebook   # seed-notebook protocol: 1,000 seeded reviews, 3 epochs, Adam 5e-5 constant, eps 1e-7, len 128
#   scripts/finetune-imdb.sh full       # 25,000 reviews, len 256, 2 epochs, batch 32, AdamW 1e-4, 10% warmup + linear, eps 1e-6, wd 0.01
#   scripts/finetune-imdb.sh conll      # NER: CoNLL-2003 train -> dev, entity-level F1
# Extra arguments go to `bert finetune`, e.g. `scripts/finetune-imdb.sh notebook --random-init` (no pre-training).
# EVAL_SAMPLES=N (notebook): score a seeded random N of the 25,000 test reviews (`bert evaluate --samples N --seed 42`).
# Run from the repository root after `npm run build`. Each run appends a JSON summary to /tmp/bert-ts-finetune-runs.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-../shared/models/bert-mini-imdb-hf}
DATA=../shared/data/imdb
RUN=${1:-notebook}
OUT=${OUT:-/tmp/bert-ts-ft-$RUN}
LOG=/tmp/bert-ts-ft-$RUN.log
BERT="node dist/cli/main.js"
rm -rf "$OUT"
start=$(date +%s)
case "$RUN" in
  notebook)
    $BERT finetune --model $MODEL --train $DATA/train.jsonl.gz --train-samples 1000 --labels negative,positive \
      --max-length 128 --epochs 3 --batch-size 8 --lr 5e-5 --optimizer adam --adam-eps 1e-7 --weight-decay 0 \
      --schedule constant --seed 42 --output "$OUT" --log "$OUT.train.jsonl" "${@:2}" 2>>"$LOG" | tee -a "$LOG"
    mid=$(date +%s)
    $BERT evaluate --model "$OUT" --data $DATA/test.jsonl.gz --max-length 128 --batch-size 64 ${EVAL_SAMPLES:+--samples $EVAL_SAMPLES} \
      --json 2>>"$LOG" | tee -a "$LOG"
    ;;
  full)
    $BERT finetune --model $MODEL --train $DATA/train.jsonl.gz --labels negative,positive \
      --max-length 256 --epochs 2 --batch-size 32 --lr 1e-4 --optimizer adamw --adam-eps 1e-6 --weight-decay 0.01 \
      --schedule linear --warmup-ratio 0.1 --seed 42 --save-steps 100 --output "$OUT" --log "$OUT.train.jsonl" "${@:2}" 2>>"$LOG" | tee -a "$LOG"
    mid=$(date +%s)
    $BERT evaluate --model "$OUT" --data $DATA/test.jsonl.gz --max-length 256 --batch-size 64 --json 2>>"$LOG" | tee -a "$LOG"
    ;;
  conll)
    $BERT finetune --task token-classification --model $MODEL --train ../shared/data/conll2003/train.jsonl \
      --eval ../shared/data/conll2003/dev.jsonl --max-length 128 --epochs 3 --batch-size 16 --lr 1e-4 --optimizer adamw \
      --weight-decay 0.01 --schedule linear --warmup-ratio 0.1 --seed 42 --output "$OUT" --log "$OUT.train.jsonl" "${@:2}" 2>>"$LOG" | tee -a "$LOG"
    mid=$(date +%s)
    $BERT evaluate --model "$OUT" --data ../shared/data/conll2003/dev.jsonl --max-length 128 --json 2>>"$LOG" | tee -a "$LOG"
    ;;
  *) echo "usage: $0 notebook|full|conll [extra finetune flags]" >&2; exit 2 ;;
esac
end=$(date +%s)
echo "{\"run\":\"$RUN\",\"model\":\"$MODEL\",\"flags\":\"${*:2}\",\"train_seconds\":$((mid - start)),\"eval_seconds\":$((end - mid)),\"wall_seconds\":$((end - start)),\"output\":\"$OUT\"}" | tee -a /tmp/bert-ts-finetune-runs.jsonl
