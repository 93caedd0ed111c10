import http from 'node:http';
import https from 'node:https';
import { describe, expect, it } from 'vitest';
import { keptAgents, keptAlive } from '../../activities/kube/keptAliveAgent.js';

describe('kept-alive agent for API clients', () => {
  const ca = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');

  it('one kept-alive agent for every request with the same TLS options (client-node makes one per request)', () => {
    const a = keptAlive(new https.Agent({ ca, servername: 'api' })) as https.Agent;
    const b = keptAlive(new https.Agent({ ca: Buffer.from(ca), servername: 'api' }));
    expect(b).toBe(a);
    expect((a as https.Agent & { keepAlive: boolean }).keepAlive).toBe(true);
    expect((a as https.Agent & { options: https.AgentOptions }).options.ca).toEqual(ca);
  });

  it('other options (a rotated certificate, another server name) get an agent of their own, a bounded number', () => {
    const a = keptAlive(new https.Agent({ ca, cert: 'one' }));
    const b = keptAlive(new https.Agent({ ca, cert: 'two' }));
    const c = keptAlive(new https.Agent({ ca, cert: 'one', servername: 'other' }));
    expect(new Set([a, b, c]).size).toBe(3);
    for (let i = 0; i < 10; i++) keptAlive(new https.Agent({ ca, cert: `rotated-${i}` }));
    expect(keptAgents()).toBeLessThanOrEqual(4);
  });

  it('leaves plain-HTTP and proxy agents as they are', () => {
    const plain = new http.Agent();
    expect(keptAlive(plain)).toBe(plain);
    class ProxyAgent extends https.Agent {}
    const proxy = new ProxyAgent();
    expect(keptAlive(proxy)).toBe(proxy);
    expect(keptAlive(undefined)).toBeUndefined();
  });
});
