# Records what transformers' Auto classes do with the hf-tiny fixture folders (the class loaded, missing / unexpected
# / mismatched weights, the error for a model_type transformers does not know, and the token-classification logits
# of a sequence-classification checkpoint) into test/model/fixtures/auto-classes.json for test/model/auto.test.ts.
# Usage: python3 scripts/gen-auto-fixtures.py [../shared/fixtures/hf-tiny]   (transformers 5, torch)
import json, sys, os
import torch, transformers
from safetensors.torch import load_file
from transformers import (AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoModelForTokenClassification,
                          AutoModelForQuestionAnswering, AutoModelForMaskedLM, AutoModelForMultipleChoice)

tiny = sys.argv[1] if len(sys.argv) > 1 else '../shared/fixtures/hf-tiny'
classes = {c.__name__: c for c in [AutoModel, AutoModelForSequenceClassification, AutoModelForTokenClassification,
                                    AutoModelForQuestionAnswering, AutoModelForMaskedLM, AutoModelForMultipleChoice]}
cases = [('AutoModel', 'seq_cls3'), ('AutoModelForSequenceClassification', 'bert_model'),
         ('AutoModelForTokenClassification', 'seq_cls3'), ('AutoModelForQuestionAnswering', 'seq_cls3'),
         ('AutoModelForMaskedLM', 'pretraining'), ('AutoModelForSequenceClassification', 'token_cls5'),
         ('AutoModelForMultipleChoice', 'seq_cls3')]
ref = load_file(os.path.join(tiny, 'reference.safetensors'))
inputs = {k: ref[f'input.{k}'] for k in ['input_ids', 'attention_mask', 'token_type_ids']}
out = {'transformers': transformers.__version__, 'loads': []}
for name, folder in cases:
    entry = {'auto': name, 'folder': folder}
    try:
        model, info = classes[name].from_pretrained(os.path.join(tiny, folder), output_loading_info=True)
        entry['class'] = type(model).__name__
        entry['missing'] = sorted(info['missing_keys'])
        entry['unexpected'] = sorted(info['unexpected_keys'])
        if name == 'AutoModelForTokenClassification':
            with torch.no_grad():
                entry['logits'] = model.eval()(**inputs).logits.flatten().tolist()
    except Exception as e:  # noqa: BLE001 - the error is the recorded behaviour
        entry['error'] = type(e).__name__
        entry['message'] = str(e).splitlines()[0][:300]
    out['loads'].append(entry)
for bad in ['foo', None]:
    cfg = json.load(open(os.path.join(tiny, 'seq_cls3', 'config.json')))
    if bad is None: del cfg['model_type']
    else: cfg['model_type'] = bad
    d = f'/tmp/auto-fixture-{bad}'
    os.makedirs(d, exist_ok=True)
    json.dump(cfg, open(os.path.join(d, 'config.json'), 'w'))
    try:
        AutoConfig.from_pretrained(d)
        out.setdefault('configs', []).append({'model_type': bad, 'error': None})
    except Exception as e:  # noqa: BLE001
        out.setdefault('configs', []).append({'model_type': bad, 'error': type(e).__name__, 'message': str(e).splitlines()[0][:200]})
path = os.path.join(os.path.dirname(__file__), '..', 'test', 'model', 'fixtures', 'auto-classes.json')
json.dump(out, open(path, 'w'), indent=1)
print('wrote', path)
