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
    // images/downloader/Dockerfile: `USER 1000:1000`.
    user: '1000:1000',
  });
  return { [TEST_DOWNLOADER_IMAGE]: mapping };
}

/**
 * The AIM serving images the product puts into InferenceServices (`model.spec.image`: examples and tests use
 * `ghcr.io/silogen/aim-base:<tag>`); prefixes, so every tag maps.
 */
export const AIM_SERVING_IMAGES = ['ghcr.io/silogen/aim-base'] as const;

/**
 * The serving images → `node --import tsx <repoRoot>/images/model-server/main.ts`, a stand-in for vLLM. It is told
 * where the model directory really is (`$AIM_CACHE_PATH/$AIM_MODEL_ID` resolved through the container's mounts: the
 * InferenceService mounts each cache at that path with a subPath), the pod IP to bind (so two pods can both use port
 * 8000) and the host file behind the container's termination log.
 */
export function modelServerImageMapping(
  repoRoot: string,
  images: readonly string[] = AIM_SERVING_IMAGES,
): ImageMappings {
  const mapping: ImageMapping = (c) => {
    const modelId = c.env.AIM_MODEL_ID ?? '';
    const cachePath = c.env.AIM_CACHE_PATH ?? '/workspace/model-cache';
    const port = c.container.ports?.[0]?.containerPort ?? 8000;
    return {
      command: process.execPath,
      args: [
        '--import',
        'tsx',
        join(repoRoot, 'images', 'model-server', 'main.ts'),
        `--model-dir=${c.hostPath(`${cachePath}/${modelId}`)}`,
        `--model-dir-shown-as=${cachePath}/${modelId}`,
        `--host=${c.podIP}`,
        `--port=${port}`,
        `--termination-log=${c.hostPath(c.container.terminationMessagePath ?? '/dev/termination-log')}`,
      ],
      cwd: repoRoot,
    };
  };
  return Object.fromEntries(images.map((image) => [image, mapping]));
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
