// The server's public surface: createServer, the dynamic batcher and metrics.
export {
  createServer,
  parseTextInput,
  checkWellFormed,
  type BertServer,
  type ServerOptions,
  type RequestParameters,
} from './server.js';
export { taskParameters, type TaskParameters } from './parameters.js';
export { DynamicBatcher, type BatcherOptions, type PredictBatch, type CallOptions } from './batcher.js';
export { ServerMetrics, Histogram } from './metrics.js';
export { ServerError } from './errors.js';
