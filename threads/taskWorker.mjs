// The entry of a pool thread (threads/taskPool.ts). A worker thread does not inherit the tsx loader that the launcher
// (bin/kptr-conform.js) or the test runner installed: it registers tsx, resolved from this package wherever the process
// started, then serves the default export of the TypeScript module that workerData.task names.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { default: task } = await import(workerData.task);
export default task;
