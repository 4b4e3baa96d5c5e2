/**
 * What this host knows about its blobs on registries, kept across daemon restarts as Docker's
 * v2 metadata is: which repositories hold a blob (for cross-repository mounts) and which gzip
 * blob an uncompressed layer became when it was pushed (so a push of it again finds it in the
 * registry instead of compressing it again).
 */
import * as path from 'node:path';
import { JsonStateFile } from '../../common/statefile';
import {
  rememberedForms,
  type BlobSources,
  type CompressedLayers,
  type RepositoryName,
} from '../registry';
import type { Descriptor } from './content';

interface DistributionDocument {
  /** Blob digest → `domain/path` of repositories holding it, most recent first. */
  sources: Record<string, string[]>;
  /** Diff ID of an uncompressed layer → the compressed blobs pushed for it, most recent first. */
  compressed: Record<string, Descriptor[]>;
}

const MAX_REPOS_PER_DIGEST = 8;

export class DistributionMetadata implements BlobSources, CompressedLayers {
  private readonly doc: JsonStateFile<DistributionDocument>;

  constructor(root: string) {
    this.doc = new JsonStateFile(path.join(root, 'distribution.json'), () => ({ sources: {}, compressed: {} }));
  }

  async load(): Promise<void> {
    await this.doc.load();
  }

  candidates(digest: string, domain: string): RepositoryName[] {
    return (this.doc.state.sources[digest] ?? []).map(splitRepo).filter((r) => r.domain === domain);
  }

  async remember(digest: string, repo: RepositoryName): Promise<void> {
    const name = `${repo.domain}/${repo.path}`;
    if (this.doc.state.sources[digest]?.[0] === name) return;
    await this.doc.update((d) => {
      d.sources[digest] = [name, ...(d.sources[digest] ?? []).filter((n) => n !== name)].slice(0, MAX_REPOS_PER_DIGEST);
    });
  }

  compressedForms(diffId: string): Descriptor[] {
    return this.doc.state.compressed[diffId] ?? [];
  }

  async rememberCompressed(diffId: string, compressed: Descriptor): Promise<void> {
    await this.doc.update((d) => {
      d.compressed[diffId] = rememberedForms(d.compressed[diffId] ?? [], compressed);
    });
  }

  /** Drops what is known of blobs and layers this host no longer holds. */
  async forget(keep: (digest: string) => boolean): Promise<void> {
    const { sources, compressed } = this.doc.state;
    if (Object.keys(sources).every(keep) && Object.keys(compressed).every(keep)) return;
    await this.doc.update((d) => {
      for (const k of Object.keys(d.sources)) if (!keep(k)) delete d.sources[k];
      for (const k of Object.keys(d.compressed)) if (!keep(k)) delete d.compressed[k];
    });
  }
}

function splitRepo(name: string): RepositoryName {
  const slash = name.indexOf('/');
  return { domain: name.slice(0, slash), path: name.slice(slash + 1) };
}
