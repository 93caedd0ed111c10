// Every workflow type the worker registers (the bundle entry point).
export { pingCluster } from './pingCluster.js';
export { modelLifecycle } from './modelLifecycle.js';
export { templateLifecycle } from './templateLifecycle.js';
export { cacheLifecycle } from './cacheLifecycle.js';
export { serviceLifecycle } from './serviceLifecycle.js';
export { submit } from './submit.js';
export { sharedCacheSweeper } from './cacheSweeper.js';
