// The server's public surface: createServer, the dynamic batcher and metrics.
export { createServer, parseTextInput, checkWellFormed, type BertServer, type ServerOptions } from './server.js';
export { DynamicBatcher, type BatcherOptions, type PredictBatch } from './batcher.js';
export { ServerMetrics, Histogram } from './metrics.js';
export { ServerError } from './errors.js';
