/**
 * Progress of a pull or push, as Docker's JSON message stream reports it: one line per layer
 * (`id` is the layer's short digest) whose `status` moves through the phases below.
 */
export interface ProgressEvent {
  /** Short layer id (12 hex), a tag for whole-image lines, or absent for plain messages. */
  id?: string;
  status: string;
  progress?: { current: number; total: number };
}

export type ProgressListener = (e: ProgressEvent) => void;

export const PullStatus = {
  Waiting: 'Waiting',
  PullingFsLayer: 'Pulling fs layer',
  Downloading: 'Downloading',
  VerifyingChecksum: 'Verifying Checksum',
  DownloadComplete: 'Download complete',
  Extracting: 'Extracting',
  PullComplete: 'Pull complete',
  AlreadyExists: 'Already exists',
} as const;

export const PushStatus = {
  Preparing: 'Preparing',
  Waiting: 'Waiting',
  Pushing: 'Pushing',
  Pushed: 'Pushed',
  LayerAlreadyExists: 'Layer already exists',
  /** Followed by ` <repository>`. */
  MountedFrom: 'Mounted from',
} as const;

/** The 12-hex id Docker shows for a layer. */
export function shortId(digest: string): string {
  return digest.replace(/^[a-z0-9]+:/, '').slice(0, 12);
}

const PROGRESS_INTERVAL_MS = 100;

/** Rate-limits byte progress to one event per interval per id, always letting the last through. */
export function throttledProgress(emit: ProgressListener, id: string, status: string) {
  let lastAt = 0;
  return (current: number, total: number) => {
    const now = Date.now();
    if (current < total && now - lastAt < PROGRESS_INTERVAL_MS) return;
    lastAt = now;
    emit({ id, status, progress: { current, total } });
  };
}
