#!/usr/bin/env bash
# Issue 16: the seed-notebook protocol on one family checkpoint, bert-ts and HF from the same folder and files.
#   scripts/family-notebook/run.sh ts|hf MODEL_NAME [TEST_FILE]     (after make_checkpoints.py DIR; DIR=/tmp/family-notebook)
# ts: `bert finetune` + `bert evaluate` (from `npm run build`); hf: finetune_hf.py. Logs and a JSON summary to DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${DIR:-/tmp/family-notebook}
SIDE=$1
NAME=$2
TEST=${3:-../shared/data/imdb/test.jsonl.gz}
start=$(date +%s)
case "$SIDE" in
  ts)
    OUT=$DIR/ft-ts-$NAME
    rm -rf "$OUT"
    node dist/cli/main.js finetune --model "$DIR/$NAME" --train "$DIR/train-1000.jsonl" --labels negative,positive \
      --max-length 128 --epochs 3 --batch-size 8 --lr 5e-5 --optimizer adam --adam-eps 1e-7 --weight-decay 0 \
      --schedule constant --seed 42 --output "$OUT" --log "$OUT.train.jsonl" 2>>"$DIR/ts-$NAME.log"
    mid=$(date +%s)
    node dist/cli/main.js evaluate --model "$OUT" --data "$TEST" --max-length 128 --batch-size 64 --json 2>>"$DIR/ts-$NAME.log"
    ;;
  hf)
    /work/wt/family-venv/bin/python scripts/family-notebook/finetune_hf.py "$DIR/$NAME" "$DIR/train-1000.jsonl" "$TEST" \
      2>>"$DIR/hf-$NAME.log"
    mid=$start
    ;;
  *) echo "usage: $0 ts|hf MODEL_NAME [TEST_FILE]" >&2; exit 2 ;;
esac
end=$(date +%s)
echo "{\"side\":\"$SIDE\",\"model\":\"$NAME\",\"test\":\"$TEST\",\"train_seconds\":$((mid - start)),\"wall_seconds\":$((end - start))}"
