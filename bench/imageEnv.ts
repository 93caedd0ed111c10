/**
 * The environment the orchestrator image sets (Dockerfile, final stage `ENV`), which the benches give the worker they
 * measure: production mode, and glibc's malloc capped at two arenas (by default it keeps up to 8 per core, one per
 * thread that allocates — the Temporal Core SDK's tokio threads, libuv's, V8's, the workflow thread — and their freed
 * pages stay in the process). test/unit/packaging.test.ts checks that the Dockerfile sets exactly these.
 */
export const IMAGE_ENV = { NODE_ENV: 'production', MALLOC_ARENA_MAX: '2' } as const;
