// The process kubelet's container runtime parts, without an API server: memory-limit detection and accounting (a
// fake cgroupfs for the layouts this host does not have, real processes for the sampler and the shim), the back-off
// schedule, the entrypoint lookup behind StartError, who a container runs as, and the image view of the tools.
import { mkdtempSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { V1Container, V1Pod, V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay } from '../harness/kubelet/backoff.js';
import { evictionMessage, pressureCondition, rankForEviction } from '../harness/kubelet/eviction.js';
import {
  counter,
  descendants,
  detectMemoryEnforcement,
  memoryLimitBytes,
  parseProcCgroup,
} from '../harness/kubelet/memory.js';
import { exposuresFor, rootfsScript, toolPaths } from '../harness/kubelet/rootfs.js';
import { ContainerProcess, lookPath } from '../harness/kubelet/runtime.js';
import {
  containerUser,
  parseImageUser,
  runAsNonRootError,
  tokenOwnership,
} from '../harness/kubelet/securityContext.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'kubelet-runtime-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('back-off', () => {
  it.each([
    [1, 10_000],
    [2, 20_000],
    [3, 40_000],
    [5, 160_000],
    [6, 300_000],
    [20, 300_000],
  ])('failure %i waits %i ms with the kubelet defaults (10 s doubling to 300 s)', (failures, ms) => {
    expect(backoffDelay(10_000, 300_000, failures)).toBe(ms);
  });
});

describe('memory limits', () => {
  it.each([
    [undefined, undefined],
    [{ cpu: '1' }, undefined],
    [{ memory: '64Mi' }, 64 * 1024 * 1024],
    [{ memory: '1G' }, 1e9],
    [{ memory: '1.5Ki' }, 1536],
  ])('limits %j → %s bytes', (limits, bytes) => {
    expect(memoryLimitBytes(limits as Record<string, string> | undefined)).toBe(bytes);
  });

  it('parses /proc/self/cgroup of a v1, hybrid and v2 host', () => {
    const hybrid = parseProcCgroup('9:name=systemd:/\n4:memory:/a/b\n3:cpu,cpuacct:/\n0::/\n');
    expect(hybrid.get('memory')).toBe('/a/b');
    expect(hybrid.get('cpuacct')).toBe('/');
    expect(hybrid.get('')).toBe('/');
    expect(parseProcCgroup('0::/user.slice/x.scope\n').get('')).toBe('/user.slice/x.scope');
  });

  it('reads the OOM kill counters of memory.events and memory.oom_control', () => {
    expect(counter('low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n', 'oom_kill')).toBe(1);
    expect(counter('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n', 'oom_kill')).toBe(3);
    expect(counter('oom_kill_disable 0\n', 'oom_kill')).toBe(0);
  });

  it('finds a process tree in a (pid, ppid) table', () => {
    const rows: Array<[number, number]> = [
      [1, 0],
      [10, 1],
      [11, 10],
      [12, 11],
      [13, 1],
    ];
    expect(descendants(rows, 10)).toEqual([10, 11, 12]);
    expect(descendants(rows, 99)).toEqual([]);
  });

  it('on a cgroup v2 host with the memory controller: memory.max, no swap, oom.group; OOMKilled from memory.events', () => {
    const root = tmp();
    const own = join(root, 'user.slice', 'test.scope');
    mkdirSync(own, { recursive: true });
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory pids');
    writeFileSync(join(own, 'cgroup.controllers'), 'cpu memory pids');
    writeFileSync(join(own, 'cgroup.subtree_control'), 'memory');
    const m = detectMemoryEnforcement({ fsRoot: root, procSelfCgroup: '0::/user.slice/test.scope\n' });
    expect(m.kind).toBe('cgroup-v2');
    const c = m.forContainer('uid_main_0', 64 << 20);
    const dir = join(own, `aim-process-kubelet-${process.pid}`, 'uid_main_0');
    expect(c.procsFile).toBe(join(dir, 'cgroup.procs'));
    expect(readFileSync(join(dir, 'memory.max'), 'utf8')).toBe(String(64 << 20));
    expect(readFileSync(join(dir, 'memory.swap.max'), 'utf8')).toBe('0');
    expect(readFileSync(join(dir, 'memory.oom.group'), 'utf8')).toBe('1');
    expect(c.oomKilled()).toBe(false);
    writeFileSync(join(dir, 'memory.events'), 'oom 1\noom_kill 1\n');
    expect(c.oomKilled()).toBe(true);
  });

  it('on a cgroup v1 host: memory.limit_in_bytes; OOMKilled from memory.oom_control', () => {
    const root = tmp();
    const own = join(root, 'memory', 'session');
    mkdirSync(own, { recursive: true });
    writeFileSync(join(own, 'memory.limit_in_bytes'), '9223372036854771712');
    const m = detectMemoryEnforcement({ fsRoot: root, procSelfCgroup: '4:memory:/session\n0::/\n' });
    expect(m.kind).toBe('cgroup-v1');
    const c = m.forContainer('uid_main_0', 1 << 20);
    const dir = join(own, `aim-process-kubelet-${process.pid}`, 'uid_main_0');
    expect(readFileSync(join(dir, 'memory.limit_in_bytes'), 'utf8')).toBe(String(1 << 20));
    writeFileSync(join(dir, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
    expect(c.oomKilled()).toBe(true);
  });

  it('without a usable cgroup it samples, and says why', () => {
    const m = detectMemoryEnforcement({ fsRoot: tmp(), procSelfCgroup: '0::/\n' });
    expect(m.kind).toBe('sampling');
    expect(m.why).toMatch(/no writable memory cgroup/);
  });

  it('the sampler kills a process tree above its limit and reports it OOM-killed', async () => {
    const m = detectMemoryEnforcement({ force: 'sampling', sampleIntervalMs: 50 });
    const memory = m.forContainer('sampled', 32 << 20);
    const dir = tmp();
    // The child of the shell allocates, as a model server's worker would: the tree's sum counts.
    const proc = new ContainerProcess({
      command: '/bin/sh',
      args: ['-c', `${process.execPath} -e "const a=[]; setInterval(() => a.push(Buffer.alloc(8 << 20, 1)), 20)"`],
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
      logFile: join(dir, 'log'),
      memory,
    });
    const exit = await proc.exited;
    expect(exit).toMatchObject({ exitCode: 137, signal: 'SIGKILL', oomKilled: true });
  });

  it('a process under its limit is left alone', async () => {
    const m = detectMemoryEnforcement({ force: 'sampling', sampleIntervalMs: 50 });
    const dir = tmp();
    const proc = new ContainerProcess({
      command: '/bin/sh',
      args: ['-c', 'sleep 0.3; exit 3'],
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
      logFile: join(dir, 'log'),
      memory: m.forContainer('small', 256 << 20),
    });
    const exit = await proc.exited;
    expect(exit.exitCode).toBe(3);
    expect(exit.oomKilled).toBeUndefined();
  });
});

describe('entrypoint lookup', () => {
  it('resolves on PATH like runc, and misses what is absent or not executable', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(dir, 'data'), '', { mode: 0o644 });
    expect(lookPath('tool', `/nonexistent:${dir}`, '/')).toBe(join(dir, 'tool'));
    expect(lookPath('data', dir, '/')).toBeUndefined();
    expect(lookPath('./tool', '', dir)).toBe(join(dir, 'tool'));
    expect(lookPath('nope', dir, '/')).toBeUndefined();
  });
});

describe('securityContext', () => {
  const pod = (sc: V1PodSecurityContext = {}, containers: V1Container[] = [{ name: 'main' }]): V1Pod => ({
    metadata: { name: 'p', namespace: 'ns', uid: 'u-1' },
    spec: { securityContext: sc, containers },
  });
  const main = (sc: V1SecurityContext = {}): V1Container => ({ name: 'main', securityContext: sc });

  it.each([
    [undefined, { uid: 0, gid: 0 }],
    ['1000:1000', { uid: 1000, gid: 1000 }],
    ['1000', { uid: 1000 }],
    ['root', { uid: 0, gid: 0 }],
    ['node:1000', { name: 'node', gid: 1000 }],
  ])('image USER %s → %j', (user, parsed) => {
    expect(parseImageUser(user)).toEqual(parsed);
  });

  it('verifies runAsNonRoot with the kubelet messages', () => {
    const where = '(pod: "p_ns(u-1)", container: main)';
    expect(runAsNonRootError(pod(), main(), parseImageUser(undefined))).toBeUndefined();
    expect(runAsNonRootError(pod({ runAsNonRoot: true }), main(), parseImageUser(undefined))).toBe(
      `container has runAsNonRoot and image will run as root ${where}`,
    );
    expect(runAsNonRootError(pod({ runAsNonRoot: true }), main({ runAsUser: 0 }), parseImageUser('1000'))).toBe(
      `container's runAsUser breaks non-root policy ${where}`,
    );
    expect(runAsNonRootError(pod({ runAsNonRoot: true }), main(), parseImageUser('node'))).toBe(
      `container has runAsNonRoot and image has non-numeric user (node), cannot verify user is non-root ${where}`,
    );
    expect(runAsNonRootError(pod({ runAsNonRoot: true, runAsUser: 1000 }), main(), parseImageUser(undefined))).toBe(
      undefined,
    );
    expect(runAsNonRootError(pod({ runAsNonRoot: true }), main(), parseImageUser('1000:1000'))).toBeUndefined();
    // The container's setting wins over the pod's.
    expect(
      runAsNonRootError(pod({ runAsNonRoot: true }), main({ runAsNonRoot: false }), parseImageUser(undefined)),
    ).toBe(undefined);
  });

  it('decides uid, gid and supplementary groups as containerd does', () => {
    expect(containerUser(pod(), main(), parseImageUser(undefined))).toBeUndefined();
    expect(
      containerUser(pod({ runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, supplementalGroups: [4000] }), main(), {
        uid: 0,
        gid: 0,
      }),
    ).toEqual({ uid: 1000, gid: 3000, groups: [3000, 2000, 4000] });
    // runAsUser without runAsGroup: the image's group only when the image's user is the one running, else 0.
    expect(containerUser(pod({ runAsUser: 1000 }), main(), parseImageUser('1000:1000'))).toEqual({
      uid: 1000,
      gid: 1000,
      groups: [1000],
    });
    expect(containerUser(pod({ runAsUser: 1001 }), main(), parseImageUser('1000:1000'))).toEqual({
      uid: 1001,
      gid: 0,
      groups: [0],
    });
    expect(containerUser(pod(), main({ runAsUser: 5 }), parseImageUser(undefined))).toEqual({
      uid: 5,
      gid: 0,
      groups: [0],
    });
  });

  it('gives the service-account token to the one runAsUser, else to fsGroup, else 0644', () => {
    expect(tokenOwnership(pod({ runAsUser: 1000 }))).toEqual({ uid: 1000, mode: 0o600 });
    expect(tokenOwnership(pod({ runAsUser: 1000, fsGroup: 2000 }))).toEqual({ uid: 1000, gid: 2000, mode: 0o640 });
    expect(
      tokenOwnership(
        pod({ fsGroup: 2000 }, [main({ runAsUser: 1 }), { name: 'b', securityContext: { runAsUser: 2 } }]),
      ),
    ).toEqual({
      gid: 2000,
      mode: 0o640,
    });
    expect(tokenOwnership(pod())).toEqual({ mode: 0o644 });
  });
});

describe('image view of the tools for non-root containers', () => {
  it('hides the topmost untraversable directory and mounts back what lies below the deepest one', () => {
    const closed = new Set(['/root', '/root/.cache']);
    const traversable = (d: string) => !closed.has(d);
    expect(
      exposuresFor(
        ['/root/.cache/aim/bin', '/root/.cache/aim/venv/bin', '/root/.pyenv/versions/3.11', '/usr/bin'],
        traversable,
      ),
    ).toEqual([
      { hide: '/root', expose: '/root/.cache/aim' },
      { hide: '/root', expose: '/root/.pyenv' },
    ]);
    expect(exposuresFor(['/usr/local/bin'], traversable)).toEqual([]);
  });

  it('follows the tools to their interpreter installation', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'venv', 'bin'), { recursive: true });
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'venv', 'bin', 'tool'), `#!${process.execPath}\n`, { mode: 0o755 });
    symlinkSync(join(dir, 'venv', 'bin', 'tool'), join(dir, 'bin', 'tool'));
    const paths = toolPaths([join(dir, 'bin')]);
    expect(paths).toContain(join(dir, 'bin'));
    expect(paths).toContain(join(dir, 'venv', 'bin'));
    expect(paths).toContain(dirname(dirname(realpathSync(process.execPath))));
  });

  it('the mount script binds, covers and moves back, then execs the entrypoint', () => {
    const stage = tmp();
    const script = rootfsScript([{ hide: '/root', expose: "/root/it's" }], stage);
    expect(script?.split('\n')).toEqual([
      'set -e',
      `mount --bind '/root/it'\\''s' '${stage}/stage-0'`,
      "mount -t tmpfs -o mode=0755,size=1m aim-image-view '/root'",
      `mkdir -p '/root/it'\\''s'`,
      `mount --move '${stage}/stage-0' '/root/it'\\''s'`,
      'exec "$@"',
    ]);
    expect(rootfsScript([], stage)).toBeUndefined();
  });
});

describe('node-pressure eviction', () => {
  it('words the eviction as the kubelet does', () => {
    expect(
      evictionMessage('memory', '51200Ki', [
        { name: 'main', usageBytes: 3 * 1024 * 1024, request: '0' },
        { name: 'idle', request: '64Mi' },
      ]),
    ).toBe(
      'The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki. ' +
        'Container main was using 3072Ki, request is 0, has larger consumption of memory. ',
    );
    expect(evictionMessage('disk', '4Gi', [])).toBe(
      'The node was low on resource: ephemeral-storage. Threshold quantity: 10%, available: 4Gi. ',
    );
  });

  it('ranks pods above their requests first, then by priority', () => {
    const pod = (name: string, request?: string, priority?: number): V1Pod => ({
      metadata: { name },
      spec: {
        ...(priority !== undefined ? { priority } : {}),
        containers: [{ name: 'c', ...(request ? { resources: { requests: { memory: request } } } : {}) }],
      },
    });
    const ranked = rankForEviction(
      [pod('within', '1Gi'), pod('important-over', undefined, 1000), pod('over', undefined, 0)],
      'memory',
    );
    expect(ranked.map((p) => p.metadata?.name)).toEqual(['over', 'important-over', 'within']);
  });

  it('reports the pressure conditions with the kubelet reasons', () => {
    expect(pressureCondition('memory', true)).toEqual({
      status: 'True',
      reason: 'KubeletHasInsufficientMemory',
      message: 'kubelet has insufficient memory available',
    });
    expect(pressureCondition('disk', false)).toMatchObject({ status: 'False', reason: 'KubeletHasNoDiskPressure' });
  });
});
