/**
 * The downloader (spec section 6): one program for `MODE=probe` and `MODE=download`, configured only by env.
 * Success: exit 0 with a JSON termination message of facts. Failure: one JSON line
 * `{"reason","message","downloadedBytes","attempt"}` (≤ 4 KiB) and exit 1. Bad configuration: exit 2.
 */
import { join } from 'node:path';
import { readConfig, type DownloaderConfig } from './config.js';
import { download } from './download.js';
import { DownloaderFailure, scrub, writeTerminationMessage } from './failures.js';
import { listSource } from './download.js';
import { s3Access, type S3Access } from './s3/credentials.js';
import { describeS3Identity } from './s3/identity.js';
import { bytesOnDisk, cacheStatusSink } from './progress.js';

function log(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ ts: new Date().toISOString(), component: 'aim-downloader', event, ...fields }));
}

async function probe(cfg: DownloaderConfig, access: S3Access): Promise<Record<string, unknown>> {
  const listing = await listSource(cfg, false, access);
  return {
    totalBytes: listing.totalBytes,
    files: listing.files.length,
    ...(listing.revision ? { revision: listing.revision } : {}),
  };
}

async function main(): Promise<number> {
  let cfg: DownloaderConfig;
  try {
    cfg = readConfig();
  } catch (err) {
    const message = scrub(err instanceof Error ? err.message : String(err));
    log('config-error', { message });
    writeTerminationMessage(process.env.TERMINATION_MESSAGE_PATH || '/dev/termination-log', {
      reason: 'InvalidSpec',
      message,
      downloadedBytes: 0,
      attempt: 0,
    });
    return 2;
  }
  // Decided once: the listing and s5cmd sign (or not) alike. The log names the source, never a value.
  const access = s3Access();
  log('start', {
    mode: cfg.mode,
    source: cfg.sourceUri,
    modelId: cfg.modelId,
    attempt: cfg.attempt,
    ...(cfg.source.kind === 's3' && { s3Identity: describeS3Identity(access.decision) }),
  });
  try {
    const facts: Record<string, unknown> =
      cfg.mode === 'probe'
        ? await probe(cfg, access)
        : {
            ...(await download(cfg, cfg.cache ? cacheStatusSink(cfg.cache) : undefined, undefined, undefined, access)),
          };
    log('done', facts);
    // The termination message carries facts only; phase timings and hashing counts stay in the log.
    const { seconds: _timings, hashed: _hashed, ...message } = facts;
    writeTerminationMessage(cfg.terminationMessagePath, message);
    return 0;
  } catch (err) {
    const failure =
      err instanceof DownloaderFailure
        ? err
        : new DownloaderFailure(
            'DownloadFailed',
            `unexpected error: ${err instanceof Error ? err.message : String(err)}`,
          );
    const downloadedBytes = cfg.mode === 'download' ? await bytesOnDisk(join(cfg.mountPath, cfg.modelId)) : 0;
    const line = writeTerminationMessage(cfg.terminationMessagePath, {
      reason: failure.reason,
      message: failure.message,
      downloadedBytes,
      attempt: cfg.attempt,
    });
    log('failed', JSON.parse(line) as Record<string, unknown>);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(scrub(String(err)));
    process.exit(1);
  },
);
