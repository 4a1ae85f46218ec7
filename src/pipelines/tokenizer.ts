// Adapter from src/tokenizer's BertTokenizer to the small surface the pipelines use (PipelineTokenizer).
import type { PipelineTokenizer } from './types.js';

export async function loadPipelineTokenizer(dir: string): Promise<PipelineTokenizer> {
  throw new Error(`no tokenizer available yet to load ${dir}`);
}
