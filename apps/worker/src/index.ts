export {
  loadScript,
  startWorker,
  workerQueues,
  inputId,
  RETRY_HEADER,
  TransientError,
  WorkerConfigError,
  type RunningWorker,
  type Script,
  type ScriptContext,
  type WorkerCounts,
  type WorkerQueues,
} from './worker.js';
