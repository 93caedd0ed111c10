// @ts-check
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs', 'fs/promises', 'http',
  'http2', 'https', 'net', 'os', 'path', 'perf_hooks', 'process', 'readline', 'stream', 'timers', 'tls', 'url',
  'util', 'v8', 'vm', 'worker_threads', 'zlib',
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'deploy/**', 'coverage/**', '.aim/**'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code is replayed: it must stay deterministic. No Node built-ins, no I/O libraries, and no runtime
    // imports of schemas/ (zod changes must not change replay); types and plain constants are fine.
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((m) => ({ name: m, message: 'workflow code must not use Node built-ins' })),
          patterns: [
            { group: ['node:*'], message: 'workflow code must not use Node built-ins' },
            {
              group: ['@kubernetes/*', '@aws-sdk/*', 'yaml', 'undici', 'axios', 'node-fetch', '@temporalio/activity', '@temporalio/worker', '@temporalio/client'],
              message: 'workflow code must not do I/O: call an activity',
            },
            { group: ['zod', 'zod/*'], message: 'validation runs in activities, never in workflow code' },
            {
              regex: '(^|/)schemas(/(?!constants\\.js$|types\\.js$).*)?$',
              allowTypeImports: true,
              message: 'workflow code may import only types and constants from schemas/ (zod must not affect replay)',
            },
            {
              group: ['**/activities/*', '**/activities'],
              allowTypeImports: true,
              message: 'workflows reach activities through proxyActivities, importing only their types',
            },
          ],
        },
      ],
    },
  },
);
