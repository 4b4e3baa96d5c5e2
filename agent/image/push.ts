/**
 * `image push` from this host's stores: the image a tag names is pushed with the manifest we hold
 * for it (`pushImage` uploads what the repository lacks), and the digest the registry stored it
 * under is recorded as a repo digest, as Docker does.
 */
import { invalidArgument, notFound } from '../../common/errors';
import {
  familiarName,
  familiarString,
  fullName,
  parseReference,
  pushImage,
  referenceString,
  withDefaultTag,
  type ProgressListener,
  type Reference,
  type RegistryClient,
} from '../registry';
import { Leases } from './pull';
import type { ImageService } from './service';

export interface PushOptions {
  /** `localhost:5000/app[:tag]`; `:latest` when no tag. */
  reference: string;
  /** Every local tag of the repository (`docker push -a`). */
  allTags?: boolean;
  /** Blobs uploaded at once. */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}

export async function pushFromStore(images: ImageService, client: RegistryClient, opts: PushOptions): Promise<void> {
  const emit: ProgressListener = opts.onProgress ?? (() => undefined);
  const parsed = parseReference(opts.reference);
  if (parsed.digest !== undefined) throw invalidArgument('cannot push a digest reference');
  let refs: Reference[];
  if (opts.allTags) {
    if (parsed.tag !== undefined) throw invalidArgument("tag can't be used with --all-tags/-a");
    const prefix = `${fullName(parsed)}:`;
    refs = Object.keys(images.store.allTags())
      .filter((t) => t.startsWith(prefix))
      .sort()
      .map((t) => parseReference(t));
  } else {
    const ref = withDefaultTag(parsed);
    refs = images.store.allTags()[referenceString(ref)] ? [ref] : [];
  }
  if (refs.length === 0) throw notFound(`An image does not exist locally with the tag: ${familiarName(parsed)}`);

  let announced = false;
  for (const ref of refs) {
    const id = images.store.allTags()[referenceString(ref)];
    const record = id ? images.store.get(id) : undefined;
    if (!record) throw notFound(`An image does not exist locally with the tag: ${familiarString(ref)}`);
    const leases = new Leases(images);
    leases.hold(record.id, record.manifestDigest, ...record.layers.map((l) => l.blobDigest));
    try {
      const { digest } = await pushImage({
        ref,
        manifestDigest: record.manifestDigest,
        store: images.content,
        client,
        // One `The push refers to repository` for the whole repository, as Docker prints it.
        onProgress: (e) => {
          if (e.id === undefined && e.status.startsWith('The push refers to')) {
            if (announced) return;
            announced = true;
          }
          emit(e);
        },
        sources: images.distribution,
        compressed: images.distribution,
        ...(opts.concurrency !== undefined && { concurrency: opts.concurrency }),
        ...(opts.signal !== undefined && { signal: opts.signal }),
      });
      await images.locks.run('images', async () => {
        const current = images.store.get(record.id);
        if (current) await images.store.put({ ...current, repoDigests: [`${fullName(ref)}@${digest}`] });
      });
    } finally {
      leases.release();
    }
    images.events.emit('image', 'push', familiarString(ref), { name: familiarName(ref) });
  }
}
