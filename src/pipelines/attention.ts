// Attention heatmaps: every layer's and head's attention over the tokens of a text, as a self-contained HTML page of
// SVG heatmaps (no scripts, no external files).
import { BertModel, type ModelOptions } from '../model/bert.js';
import { InputError } from '../model/errors.js';
import { loadPipelineTokenizer } from './tokenizer.js';

/** The tokens of a text (or pair) and the attention probabilities of every layer, [1, heads, T, T] each. */
export interface AttentionMaps {
  tokens: string[];
  attentions: { shape: number[]; data: Float32Array }[];
}

/** Runs the BERT in `dir` on `text` (and `pair`), truncated to maxLength tokens, keeping every attention map. */
export async function attentionMaps(
  dir: string,
  text: string,
  pair: string | null,
  options: { maxLength?: number; tokenizer?: string; kernels?: ModelOptions['kernels'] } = {},
): Promise<AttentionMaps> {
  const tokenizer = await loadPipelineTokenizer(options.tokenizer ?? dir);
  const bert = await BertModel.fromPretrained(dir, { kernels: options.kernels, warn: () => {} });
  const limit = Math.min(options.maxLength ?? 64, bert.config.maxPositionEmbeddings, tokenizer.modelMaxLength);
  const enc = tokenizer.encode(text, pair, limit);
  const T = enc.inputIds.length;
  const out = bert.forward(
    {
      inputIds: { data: Int32Array.from(enc.inputIds), shape: [1, T] },
      tokenTypeIds: { data: Int32Array.from(enc.tokenTypeIds), shape: [1, T] },
    },
    { outputAttentions: true },
  );
  if (!out.attentions || out.attentions.length === 0)
    throw new InputError(dir, 'the model returned no attention probabilities');
  return { tokens: enc.inputIds.map((id) => tokenizer.idToToken(id)), attentions: out.attentions };
}

function escapeXml(s: string): string {
  const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  return s.replace(/[&<>"']/g, (c) => entities[c] ?? c);
}

/** White to deep blue; a square root stretches small weights so that diffuse heads stay visible. */
function color(weight: number): string {
  const w = Math.sqrt(Math.min(1, Math.max(0, weight)));
  const r = Math.round(255 - w * (255 - 8));
  const g = Math.round(255 - w * (255 - 48));
  const b = Math.round(255 - w * (255 - 107));
  return `rgb(${r},${g},${b})`;
}

/** One T x T heatmap with token labels on both axes. */
export function heatmapSvg(
  tokens: string[],
  weights: Float32Array,
  offset: number,
  title: string,
  cell: number,
): string {
  const T = tokens.length;
  // Labels shrink with the cells so that long inputs stay legible (hover titles carry the full detail).
  const font = Math.max(4, Math.min(10, cell - 1));
  const label = Math.min(90, Math.ceil(0.62 * font * Math.max(...tokens.map((t) => t.length))) + 6);
  const size = label + T * cell + 4;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size + 16}" viewBox="0 0 ${size} ${size + 16}" role="img">`,
  );
  parts.push(`<text x="${label}" y="12" class="t">${escapeXml(title)}</text>`);
  const top = 16 + label;
  tokens.forEach((tok, j) => {
    const x = label + j * cell + cell / 2 + font * 0.3;
    parts.push(
      `<text class="l" font-size="${font}" transform="translate(${x},${top - 4}) rotate(-90)">${escapeXml(tok)}</text>`,
    );
  });
  tokens.forEach((tok, i) => {
    parts.push(
      `<text class="l" font-size="${font}" x="${label - 4}" y="${top + i * cell + cell / 2 + font * 0.3}" text-anchor="end">${escapeXml(tok)}</text>`,
    );
  });
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) {
      const w = weights[offset + i * T + j] ?? 0;
      parts.push(
        `<rect x="${label + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="${color(w)}">` +
          `<title>${escapeXml(tokens[i] ?? '')} → ${escapeXml(tokens[j] ?? '')}: ${w.toFixed(3)}</title></rect>`,
      );
    }
  }
  parts.push(`<rect x="${label}" y="${top}" width="${T * cell}" height="${T * cell}" fill="none" stroke="#999"/>`);
  parts.push('</svg>');
  return parts.join('');
}

/** The whole page: one row per layer, one heatmap per head. */
export function attentionHtml(
  text: string,
  tokens: string[],
  attentions: { shape: number[]; data: Float32Array }[],
  model: string,
): string {
  const T = tokens.length;
  const cell = Math.max(4, Math.min(20, Math.floor(320 / T)));
  const rows = attentions.map((att, layer) => {
    const heads = att.shape[1] ?? 0;
    const maps = Array.from({ length: heads }, (_, h) =>
      heatmapSvg(tokens, att.data, h * T * T, `layer ${layer + 1} · head ${h + 1}`, cell),
    );
    return `<section><h2>Layer ${layer + 1}</h2><div class="row">${maps.join('')}</div></section>`;
  });
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Attention: ${escapeXml(text.slice(0, 60))}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 18px; } h2 { font-size: 15px; margin: 12px 0 4px; }
.row { display: flex; flex-wrap: wrap; gap: 12px; }
svg .l { font-family: monospace; fill: #333; } svg .t { font: bold 11px sans-serif; fill: #222; }
p { font-size: 13px; }
</style></head><body>
<h1>Attention of ${escapeXml(model)}</h1>
<p>Text: “${escapeXml(text)}” — ${T} tokens, ${attentions.length} layers × ${attentions[0]?.shape[1] ?? 0} heads.
Row = the attending token (query), column = the token attended to (key); darker = more weight; each row sums to 1.</p>
${rows.join('\n')}
</body></html>
`;
}
