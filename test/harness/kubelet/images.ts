// "Images": there is no container runtime, so an image name maps to a local command. A missing mapping is what a
// real node reports for an image that cannot be pulled (ErrImagePull), which later tests use for ImagePullFailed.
import { join } from 'node:path';
import type { ImageMapping, ImageMappings } from './types.js';

/** The downloader image name tests put into Jobs (spec section 6); mapped to the repo's entry point. */
export const TEST_DOWNLOADER_IMAGE = 'ghcr.io/silogen/aim-downloader:dev';

/** A tiny "shell image": the container's command and args, joined by spaces, run by `/bin/sh -c`. */
export const TEST_SHELL_IMAGE = 'aim-test/shell:1';

/** `TEST_DOWNLOADER_IMAGE` → `node --import tsx <repoRoot>/downloader/main.ts` (cwd the repo, so `tsx` resolves). */
export function downloaderImageMapping(repoRoot: string, imageEnv: Record<string, string> = {}): ImageMappings {
  const mapping: ImageMapping = () => ({
    command: process.execPath,
    args: ['--import', 'tsx', join(repoRoot, 'downloader', 'main.ts')],
    cwd: repoRoot,
    // As an image's ENV: e.g. AIM_PROGRESS_INTERVAL_MS for a test that compresses time.
    env: imageEnv,
  });
  return { [TEST_DOWNLOADER_IMAGE]: mapping };
}

/** `TEST_SHELL_IMAGE` (or `image`) → `/bin/sh -c "<command and args joined>"`. */
export function shellImageMapping(image = TEST_SHELL_IMAGE): ImageMappings {
  return {
    [image]: (c) => ({ command: '/bin/sh', args: ['-c', [...c.command, ...c.args].join(' ')] }),
  };
}

/** Exact match first, else the longest key that is a prefix of `image`. */
export function resolveImage(images: ImageMappings, image: string): ImageMapping | undefined {
  if (Object.hasOwn(images, image)) return images[image];
  let best: string | undefined;
  for (const key of Object.keys(images)) {
    if (key && image.startsWith(key) && (best === undefined || key.length > best.length)) best = key;
  }
  return best === undefined ? undefined : images[best];
}

/** The fully qualified reference containerd would print (`busybox` → `docker.io/library/busybox:latest`). */
export function qualifiedImage(image: string): string {
  let ref = image;
  const lastSegment = ref.slice(ref.lastIndexOf('/') + 1);
  if (!lastSegment.includes(':') && !ref.includes('@')) ref += ':latest';
  const first = ref.split('/')[0] ?? '';
  const hasRegistry = ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) return ref;
  return ref.includes('/') ? `docker.io/${ref}` : `docker.io/library/${ref}`;
}
