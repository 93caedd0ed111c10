import { describe, expect, it } from 'vitest';
import { downloaderMemory, downloadMemoryLimitFromEnv } from '../../domain/downloaderMemory.js';
import { buildDownloaderJob } from '../../domain/jobs.js';
import { SettingError } from '../../domain/timing.js';
import { settingsFromEnv } from '../../activities/context.js';

describe('AIM_DOWNLOADER_MEMORY_LIMIT: the download container memory (spec 6, 7 OOMKilled)', () => {
  it.each<[string | undefined, string]>([
    [undefined, '4Gi'],
    ['', '4Gi'],
    [' 8Gi ', '8Gi'],
    ['512Mi', '512Mi'],
    ['2147483648', '2147483648'],
  ])('%j → %s', (value, limit) => {
    expect(downloadMemoryLimitFromEnv({ AIM_DOWNLOADER_MEMORY_LIMIT: value })).toBe(limit);
  });

  it.each(['0', '-1Gi', '4GB', 'lots'])('refuses %j, naming the variable', (value) => {
    expect(() => downloadMemoryLimitFromEnv({ AIM_DOWNLOADER_MEMORY_LIMIT: value })).toThrow(SettingError);
    expect(() => settingsFromEnv({ AIM_DOWNLOADER_MEMORY_LIMIT: value })).toThrow(/^AIM_DOWNLOADER_MEMORY_LIMIT: /);
  });

  it('never requests more than the limit (the API server refuses a request above the limit)', () => {
    expect(downloaderMemory('4Gi')).toEqual({ request: '256Mi', limit: '4Gi' });
    expect(downloaderMemory('48Mi')).toEqual({ request: '48Mi', limit: '48Mi' });
  });

  it('applies to download Jobs only; probes keep 512Mi', () => {
    const base = {
      name: 'c-dl-1',
      namespace: 'ns',
      owner: { apiVersion: 'v1', kind: 'AIMModelCache', name: 'c', uid: 'u' },
      image: 'img',
      serviceAccountName: 'aim-downloader',
      sources: [{ modelId: 'm', sourceUri: 's3://b/p', env: [] }],
      cache: { name: 'c', pvcName: 'pvc', stallTimeoutSeconds: 30, attempt: 1 },
      downloadMemoryLimit: '64Mi',
    };
    const resources = (mode: 'download' | 'probe') =>
      buildDownloaderJob({ ...base, mode }).spec!.template.spec!.containers[0]!.resources;
    expect(resources('download')).toEqual({ requests: { cpu: '250m', memory: '64Mi' }, limits: { memory: '64Mi' } });
    expect(resources('probe')).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } });
    const { downloadMemoryLimit: _, ...noSetting } = base;
    expect(
      buildDownloaderJob({ ...noSetting, mode: 'download' }).spec!.template.spec!.containers[0]!.resources,
    ).toEqual({
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { memory: '4Gi' },
    });
  });
});
