// The page's main thread: the controls, the progress bar and loss curve, the prediction and the attention map.
// Everything heavy runs in worker.js. URL parameters preset the controls (e.g. ?trainSamples=16&epochs=4&autostart=1).
const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const params = new URLSearchParams(location.search);
for (const id of ['trainSamples', 'evalSamples', 'epochs', 'maxLength', 'batchSize', 'lr', 'text'])
  if (params.has(id)) $(id).value = params.get(id);

const state = { losses: [], trained: false };
window.bertDemo = state; // read by the browser test

function setStatus(text) {
  $('status').textContent = text;
}

function fail(message) {
  $('error').textContent = message;
  state.error = message;
  $('train').disabled = false;
}

function number(id) {
  return Number($(id).value);
}

function fillSelect(select, count, extra) {
  select.replaceChildren(
    ...(extra ? [new Option(extra, '-1')] : []),
    ...Array.from({ length: count }, (_, i) => new Option(String(i + 1), String(i))),
  );
}

function requestAttention() {
  worker.postMessage({ type: 'attention', layer: Number($('layer').value), head: Number($('head').value) });
}

function classify() {
  $('classify').disabled = true;
  setStatus('classifying…');
  const layer = $('layer').value === '' ? 3 : Number($('layer').value);
  const head = $('head').value === '' ? -1 : Number($('head').value);
  worker.postMessage({ type: 'classify', text: $('text').value, layer, head });
}

function train() {
  $('train').disabled = true;
  $('error').textContent = '';
  state.losses = [];
  state.trained = false;
  const source = document.querySelector('input[name=source]:checked').value;
  if (source === 'csv' && !state.csvReady) return fail('choose a CSV file first');
  setStatus('fine-tuning…');
  worker.postMessage({
    type: 'train',
    source,
    trainSamples: number('trainSamples'),
    evalSamples: number('evalSamples'),
    epochs: number('epochs'),
    maxLength: number('maxLength'),
    batchSize: number('batchSize'),
    lr: Number($('lr').value),
  });
}

worker.onmessage = ({ data }) => {
  switch (data.type) {
    case 'ready':
      setStatus(`ready: default model and IMDb sample loaded; backend ${data.backend}`);
      state.backend = data.backend;
      $('train').disabled = false;
      $('classify').disabled = false;
      if (params.get('autostart') === '1') train();
      break;
    case 'warning':
      $('error').textContent = data.message;
      break;
    case 'csv':
      state.csvReady = true;
      setStatus(`CSV: ${data.rows} rows (${data.train} to train, ${data.eval} to evaluate)`);
      break;
    case 'step': {
      const r = data.record;
      state.losses.push(r.loss);
      $('progress').max = r.totalSteps;
      $('progress').value = r.step;
      $('stepline').textContent =
        `step ${r.step}/${r.totalSteps}, epoch ${r.epoch.toFixed(2)}, loss ${r.loss.toFixed(4)}, ` +
        `${r.examplesPerSecond.toFixed(1)} examples/s, about ${Math.round(r.etaSeconds)} s left`;
      $('curve').innerHTML = data.svg;
      break;
    }
    case 'eval':
      $('evaluation').textContent = `evaluation at step ${data.record.step}: ${Object.entries(data.record.metrics)
        .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
        .join(', ')}`;
      break;
    case 'trained': {
      const s = data.summary;
      state.trained = true;
      state.summary = s;
      const acc = s.eval?.accuracy;
      $('evaluation').textContent =
        `fine-tuned: ${s.steps} steps in ${s.train_seconds} s (${s.train_examples_per_second} examples/s); ` +
        `accuracy on ${s.eval?.examples ?? '?'} held-out texts: ${acc === undefined ? '?' : (100 * acc).toFixed(1) + '%'}`;
      setStatus('fine-tuned: type a text and classify it');
      $('train').disabled = false;
      if (params.get('autostart') === '1') classify();
      break;
    }
    case 'prediction': {
      const top = data.result[0];
      state.prediction = top;
      $('prediction').textContent = `${top.label} (${(100 * top.score).toFixed(1)}%)`;
      if ($('layer').options.length !== data.layers) {
        fillSelect($('layer'), data.layers);
        $('layer').value = String(data.layers - 1);
        fillSelect($('head'), data.heads, 'mean');
        $('head').value = '-1';
      }
      setStatus(`classified with ${data.model === '/out/model' ? 'the fine-tuned model' : 'the pre-trained model (untrained head)'}`);
      $('classify').disabled = false;
      break;
    }
    case 'attention':
      $('attention').innerHTML = data.svg;
      state.attentionShown = true;
      break;
    case 'error':
      fail(data.message);
      setStatus('failed');
      $('classify').disabled = false;
      break;
  }
};

$('train').onclick = train;
$('classify').onclick = classify;
$('layer').onchange = requestAttention;
$('head').onchange = requestAttention;
$('csv').onchange = async () => {
  const file = $('csv').files[0];
  if (!file) return;
  document.querySelector('input[name=source][value=csv]').checked = true;
  const bytes = await file.arrayBuffer();
  worker.postMessage({ type: 'csv', name: file.name, bytes }, [bytes]);
};
worker.postMessage({
  type: 'init',
  wasm: params.get('backend') !== 'js',
  threads: params.has('threads') ? Number(params.get('threads')) : undefined,
});
