#!/usr/bin/env bash
# The pre-training run of issue 6: a BERT-mini (4 layers, hidden 256, 4 heads, bert-base-uncased's vocabulary) pre-trained
# with MLM + NSP on IMDb train + unsup text, evaluated on instances made from IMDb test text, beside HF's checkpoint of
# the same size (../shared/models/bert-mini-imdb-hf) scored on the same instances.
#   scripts/pretrain-imdb.sh data        # shards: train + unsup (dupe factor 1, 128 tokens, 20 predictions) and test
#   scripts/pretrain-imdb.sh pretrain    # 6,500 steps of 32, lr 2e-4, stopped by a 130-minute budget; --resume-able
#   scripts/pretrain-imdb.sh evaluate    # held-out MLM / NSP on the first $EVAL_SAMPLES test instances, ours and HF's
# then the fine-tuning comparison (notebook protocol, pre-trained vs random initialisation):
#   MODEL=$OUT/pt-mini scripts/finetune-imdb.sh notebook
#   MODEL=$OUT/pt-mini OUT=/tmp/bert-ts-ft-random scripts/finetune-imdb.sh notebook --random-init
# Run from the repository root after `npm run build`. OUT (default /work/runs) holds the data and the model.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/work/runs}
IMDB=../shared/data/imdb
VOCAB=../shared/vocab/bert-base-uncased
EVAL_SAMPLES=${EVAL_SAMPLES:-10000}
BERT="node dist/cli/main.js"
mkdir -p "$OUT"
case "${1:-}" in
  data)
    $BERT create-pretraining-data --input $IMDB/train.jsonl.gz,$IMDB/unsup.jsonl.gz --vocab $VOCAB --max-seq-length 128 \
      --max-predictions 20 --dupe-factor 1 --seed 12345 --output "$OUT/pt-train"
    $BERT create-pretraining-data --input $IMDB/test.jsonl.gz --vocab $VOCAB --max-seq-length 128 \
      --max-predictions 20 --dupe-factor 1 --seed 999 --output "$OUT/pt-test"
    ;;
  pretrain)
    $BERT pretrain --config mini --data "$OUT/pt-train" --eval-data "$OUT/pt-test" --vocab $VOCAB --batch-size 32 --lr 2e-4 \
      --steps 6500 --time-budget 130m --eval-every 1000 --checkpoint-every 250 --seed 42 --output "$OUT/pt-mini" "${@:2}"
    ;;
  evaluate)
    for model in "$OUT/pt-mini" ../shared/models/bert-mini-imdb-hf; do
      echo "$model:"
      $BERT evaluate --model "$model" --data "$OUT/pt-test" --samples "$EVAL_SAMPLES" --json
    done
    ;;
  *) echo "usage: $0 data|pretrain|evaluate [extra pretrain flags]" >&2; exit 2 ;;
esac
