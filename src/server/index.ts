// The server's public surface: createServer, its routes, the dynamic batcher and metrics.
export { createServer, type BertServer, type ServerOptions } from './server.js';
export {
  inputsRoute,
  rerankRoute,
  parseTextInput,
  parseTextPairInput,
  checkWellFormed,
  type RequestParameters,
  type ServedRoute,
  type ParsedRequest,
  type InputsRouteOptions,
  type RerankAnswer,
} from './routes.js';
export { taskParameters, type TaskParameters } from './parameters.js';
export { DynamicBatcher, type BatcherOptions, type PredictBatch, type CallOptions } from './batcher.js';
export { ServerMetrics, Histogram } from './metrics.js';
export { ServerError } from './errors.js';
export {
  createModelServer,
  defaultServeTask,
  SERVE_TASKS,
  type ModelServer,
  type ModelServerOptions,
  type ServeTask,
} from './model-server.js';
