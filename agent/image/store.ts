/**
 * Image metadata: which images exist, the blobs and layers each holds, and which names point at
 * them. Images and tags live in one document (see JsonStateFile), so tagging, loading and
 * removing are each one atomic step.
 *
 * Vocabulary:
 * - **image ID**: the digest of the image config (`sha256:…`), as Docker shows it.
 * - **tag**: a fully qualified name with a tag (`docker.io/library/busybox:latest`) → image ID.
 * - **repo digest**: `name@sha256:<manifest digest>`, known once pulled from or pushed to a registry.
 * - **dangling**: an image without tags.
 */
import * as path from 'node:path';
import { JsonStateFile } from '../../common/statefile';
import { invalidArgument, notFound } from '../../common/errors';
import {
  familiarString,
  parseReference,
  referenceString,
  withDefaultTag,
  type Reference,
} from '../registry/reference';

export interface LayerRef {
  diffId: string;
  /** The blob holding the layer tar as distributed (maybe gzip); equals diffId when plain. */
  blobDigest: string;
  blobSize: number;
  mediaType: string;
}

export interface ImageRecord {
  id: string;
  /** The manifest we hold for the image, which `save` and `push` use. */
  manifestDigest: string;
  manifestMediaType: string;
  /** Fully qualified `name@sha256:…` entries. */
  repoDigests: string[];
  /** From the image config, ms since epoch (0 when the config has none). */
  created: number;
  layers: LayerRef[];
  /** Sum of the uncompressed layer sizes. */
  size: number;
  /** The image this one was built or committed on, as Docker's Parent. */
  parent?: string;
  lastTagTime?: number;
}

interface StoreDocument {
  images: Record<string, ImageRecord>;
  /** Fully qualified tagged name → image ID. */
  tags: Record<string, string>;
}

export class ImageStore {
  private readonly doc: JsonStateFile<StoreDocument>;

  constructor(root: string) {
    this.doc = new JsonStateFile<StoreDocument>(path.join(root, 'images.json'), () => ({ images: {}, tags: {} }));
  }

  async load(): Promise<void> {
    await this.doc.load();
  }

  images(): ImageRecord[] {
    return Object.values(this.doc.state.images);
  }

  get(id: string): ImageRecord | undefined {
    return this.doc.state.images[id];
  }

  /** Tags of an image, fully qualified, sorted. */
  tagsOf(id: string): string[] {
    return Object.entries(this.doc.state.tags)
      .filter(([, v]) => v === id)
      .map(([k]) => k)
      .sort();
  }

  /** Tags in Docker's familiar form (`busybox:latest`). */
  familiarTagsOf(id: string): string[] {
    return this.tagsOf(id).map((t) => familiarString(parseReference(t)));
  }

  allTags(): Record<string, string> {
    return this.doc.state.tags;
  }

  /**
   * Finds an image as Docker does: a tagged name (`:latest` implied), `name@digest`, a full ID
   * (with or without `sha256:`), or a unique ID prefix. Throws Docker's "No such image".
   */
  resolve(name: string): ImageRecord {
    const found = this.tryResolve(name);
    if (!found) throw notFound(`No such image: ${name}`);
    return found;
  }

  tryResolve(name: string): ImageRecord | undefined {
    const state = this.doc.state;
    const hex = name.startsWith('sha256:') ? name.slice(7) : name;
    if (/^[a-f0-9]{64}$/.test(hex)) {
      const img = state.images[`sha256:${hex}`];
      if (img) return img;
    }
    let ref: Reference | undefined;
    try {
      ref = parseReference(name);
    } catch {
      ref = undefined;
    }
    if (ref) {
      if (ref.digest) {
        const full = `${ref.domain}/${ref.path}@${ref.digest}`;
        const img = Object.values(state.images).find((i) => i.repoDigests.includes(full) || i.manifestDigest === ref!.digest);
        if (img) return img;
      } else {
        const id = state.tags[referenceString(withDefaultTag(ref))];
        if (id && state.images[id]) return state.images[id];
      }
    }
    // Docker accepts any unique prefix of the hex ID, also after `sha256:` (which otherwise reads
    // as a name and a tag).
    if (/^[a-f0-9]{1,64}$/.test(hex) && (hex !== name || !(ref && ref.tag))) {
      const matches = Object.keys(state.images).filter((id) => id.startsWith(`sha256:${hex}`));
      if (matches.length === 1) return state.images[matches[0]!];
      if (matches.length > 1) throw invalidArgument(`image ID prefix ${hex} is ambiguous: it matches ${matches.length} images`);
    }
    return undefined;
  }

  /** Adds an image (or updates its record) and points `tags` at it, atomically. */
  put(record: ImageRecord, tags: string[] = []): Promise<{ replaced: Array<{ tag: string; previous: string }> }> {
    return this.doc.update((d) => {
      const existing = d.images[record.id];
      const merged: ImageRecord = existing
        ? { ...existing, ...record, repoDigests: [...new Set([...existing.repoDigests, ...record.repoDigests])] }
        : record;
      d.images[record.id] = merged;
      const replaced: Array<{ tag: string; previous: string }> = [];
      for (const tag of tags) {
        const prev = d.tags[tag];
        if (prev && prev !== record.id) replaced.push({ tag, previous: prev });
        d.tags[tag] = record.id;
      }
      if (tags.length > 0) merged.lastTagTime = Date.now();
      return { replaced };
    });
  }

  tag(id: string, tag: string): Promise<string | undefined> {
    return this.doc.update((d) => {
      if (!d.images[id]) throw notFound(`No such image: ${id}`);
      const prev = d.tags[tag];
      d.tags[tag] = id;
      d.images[id]!.lastTagTime = Date.now();
      return prev !== id ? prev : undefined;
    });
  }

  /**
   * Applies a removal plan in one step: `untag` names go, then `deleteIds` images go (only if no
   * tag points at them any more). The check runs against the committed state, so of two racing
   * removals exactly one succeeds.
   */
  commitRemoval(plan: { untag: string[]; deleteIds: string[] }, check?: (doc: StoreDocument) => void): Promise<void> {
    return this.doc.update((d) => {
      check?.(d);
      for (const t of plan.untag) delete d.tags[t];
      for (const id of plan.deleteIds) {
        if (Object.values(d.tags).includes(id)) continue;
        delete d.images[id];
      }
    });
  }

  snapshot(): StoreDocument {
    return this.doc.state;
  }
}

/** Normalises what the user typed for `tag`/`import` into a fully qualified tagged name. */
export function normalizeTag(input: string): string {
  const ref = withDefaultTag(parseReference(input));
  if (ref.digest) throw invalidArgument(`refusing to create a tag with a digest reference`);
  return referenceString(ref);
}

export { familiarString, parseReference };
