// The server's public surface: createServer, the dynamic batcher and metrics.
export {
  createServer,
  parseTextInput,
  checkWellFormed,
  InputShapeError,
  type BertServer,
  type ServerOptions,
  type RequestParameters,
} from './server.js';
export { taskParameters, ParameterError, type TaskParameters } from './parameters.js';
export {
  DynamicBatcher,
  QueueFullError,
  InferenceError,
  InvalidInputError,
  BatcherClosedError,
  type BatcherOptions,
  type PredictBatch,
  type CallOptions,
} from './batcher.js';
export { ServerMetrics, Histogram } from './metrics.js';
