// Pod IPs without a network namespace: Linux routes all of 127.0.0.0/8 to the loopback device, so every pod gets its
// own 127.x.y.z and two pods can both listen on port 8000, as on a real node where each pod has its own IP.
//
// The address is derived from the pod UID (so a kubelet restarted on the same node hands a pod the address it had),
// spread over 127.1.0.1 – 127.254.255.254 so that stacks of two test runs on one machine (another engineer's vitest
// next to ours) are unlikely to meet; within this process an address is never handed out twice.
import { createHash } from 'node:crypto';

/** hostNetwork pods and the node itself. */
export const NODE_IP = '127.0.0.1';

const inUse = new Set<string>();

function candidate(seed: string, attempt: number): string {
  const h = createHash('sha256').update(`${seed}/${attempt}`).digest();
  // Second octet 1..254 keeps clear of 127.0.0.x (127.0.0.1 is the node and the servers the harness starts).
  const a = 1 + (h[0]! % 254);
  const b = h[1]!;
  const c = 1 + (h[2]! % 254); // no .0 / .255 host parts: they only confuse readers of the logs
  return `127.${a}.${b}.${c}`;
}

/** Whether `ip` is an address this allocator could have handed out (used to adopt a previous instance's IP). */
export function isPodLoopbackIP(ip: string | undefined): ip is string {
  const m = /^127\.(\d+)\.(\d+)\.(\d+)$/.exec(ip ?? '');
  if (!m) return false;
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return a >= 1 && a <= 254 && b <= 255 && c >= 1 && c <= 254;
}

/**
 * An address for the pod with `uid`: `preferred` (what the pod already reports, after a kubelet restart) when it is
 * free, else one derived from the UID that nobody in this process holds.
 */
export function allocatePodIP(uid: string, preferred?: string): string {
  if (isPodLoopbackIP(preferred) && !inUse.has(preferred)) {
    inUse.add(preferred);
    return preferred;
  }
  for (let attempt = 0; ; attempt++) {
    const ip = candidate(uid, attempt);
    if (!inUse.has(ip)) {
      inUse.add(ip);
      return ip;
    }
  }
}

export function releasePodIP(ip: string | undefined): void {
  if (ip !== undefined && ip !== NODE_IP) inUse.delete(ip);
}
