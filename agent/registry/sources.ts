/**
 * Where blobs were seen: which repositories of which registry hold a digest. A push asks it for
 * cross-repository mount candidates, so a layer pulled from (or pushed to) `a/x` on a registry
 * is mounted into `b/y` on the same registry instead of uploaded again.
 */
import type { RepositoryName } from './client';

export interface BlobSources {
  remember(digest: string, repo: RepositoryName): void | Promise<void>;
  /** Repositories on `domain` known to hold `digest`, most recent first. */
  candidates(digest: string, domain: string): RepositoryName[];
}

const MAX_REPOS_PER_DIGEST = 8;

/** In-memory, bounded per digest; the daemon may persist its own implementation. */
export class MemoryBlobSources implements BlobSources {
  private readonly byDigest = new Map<string, RepositoryName[]>();

  remember(digest: string, repo: RepositoryName): void {
    const list = (this.byDigest.get(digest) ?? []).filter((r) => r.domain !== repo.domain || r.path !== repo.path);
    list.unshift({ domain: repo.domain, path: repo.path });
    this.byDigest.set(digest, list.slice(0, MAX_REPOS_PER_DIGEST));
  }

  candidates(digest: string, domain: string): RepositoryName[] {
    return (this.byDigest.get(digest) ?? []).filter((r) => r.domain === domain);
  }
}

/** The process-wide record pulls and pushes share unless given their own. */
export const processBlobSources: BlobSources = new MemoryBlobSources();
