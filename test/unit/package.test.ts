import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as `npm run build` makes it: aimctl and the kubectl plugin run as compiled JavaScript (no tsx), and a
 * consumer imports the SDK by the package name, with its types, through package.json `exports`. The client entry
 * points are compiled here with the project's tsconfig into a scratch copy of the package.
 */
const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  bin: Record<string, string>;
  types: string;
  exports: Record<string, { types: string; default: string } | string>;
};
const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
let work: string;
let installed: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aim-package-'));
  installed = join(work, 'consumer', 'node_modules', pkg.name);
  mkdirSync(installed, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(installed, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(installed, 'node_modules'));
  const entries = [...new Set([...Object.values(pkg.bin), pkg.types])].map((out) =>
    join(ROOT, out.replace(/^(\.\/)?dist\//, '').replace(/\.d\.ts$|\.js$/, '.ts')),
  );
  // tsconfig.json's options (declarations included), only the entry points and what they import.
  const tsconfig = join(work, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: {
        rootDir: ROOT,
        outDir: join(installed, 'dist'),
        sourceMap: false,
        typeRoots: [join(ROOT, 'node_modules', '@types')],
      },
      include: [],
      files: entries,
    }),
  );
  await exec(process.execPath, [tsc, '-p', tsconfig]).catch((err: { stdout: string }) => {
    throw new Error(`tsc failed:\n${err.stdout}`);
  });
}, 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the built package', () => {
  it.each(Object.entries(pkg.bin))(
    'bin %s runs compiled, without tsx',
    async (bin, path) => {
      const { stdout } = await exec(process.execPath, [join(installed, path), 'get', '--help'], {
        env: { PATH: process.env.PATH },
      });
      expect(stdout).toMatch(bin === 'kubectl-aim' ? /^Usage: kubectl aim get KIND/ : /^Usage: aimctl get KIND/);
      expect(readFileSync(join(installed, path), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    },
    30_000,
  );

  it('exports the SDK by package name, with its types', async () => {
    const root = pkg.exports['.'];
    expect(typeof root === 'object' && root.types).toBe(pkg.types);
    const consumer = join(work, 'consumer');
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ type: 'module' }));
    const { stdout } = await exec(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { AimClient } from '${pkg.name}'; console.log(typeof AimClient.prototype.watch)`,
      ],
      { cwd: consumer },
    );
    expect(stdout.trim()).toBe('function');

    writeFileSync(
      join(consumer, 'use.ts'),
      `import { AimClient, type AimObject, type StatusSnapshot } from '${pkg.name}';
export async function names(client: AimClient): Promise<string[]> {
  const objects: AimObject[] = await client.list('AIMService');
  for await (const snap of client.watch('AIMService', 'x')) { const s: StatusSnapshot = snap; void s; break; }
  return objects.map((o) => o.metadata.name);
}
// @ts-expect-error -- the types are real: an unknown kind does not compile
export const wrong = (client: AimClient) => client.get('Pod', 'x');
`,
    );
    await exec(
      process.execPath,
      [
        tsc,
        '--noEmit',
        '--strict',
        '--module',
        'NodeNext',
        '--moduleResolution',
        'NodeNext',
        '--skipLibCheck',
        'use.ts',
      ],
      { cwd: consumer },
    ).catch((err: { stdout: string }) => {
      throw new Error(`the consumer does not type-check:\n${err.stdout}`);
    });
  }, 60_000);
});
