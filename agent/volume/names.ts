import { randomBytes } from 'node:crypto';
import { invalidArgument } from '../../common/errors';

/** Docker's label on volumes made without a name; `volume prune` without `--all` removes only these. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/** Docker's `names.RestrictedNameChars`, shown to the user as is. */
const RESTRICTED_NAME_CHARS = '[a-zA-Z0-9][a-zA-Z0-9_.-]';
const RESTRICTED_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Names the local driver cannot use because its own files live beside the volume directories. */
const RESERVED_NAMES = new Set(['metadata.json']);

/** A local volume name as Docker's local driver accepts it; the message is Docker's without the `create x:` room. */
export function checkVolumeName(name: string): void {
  if (name.length === 1) {
    throw invalidArgument('volume name is too short, names should be at least two alphanumeric characters');
  }
  if (!RESTRICTED_NAME.test(name)) {
    throw invalidArgument(
      `${JSON.stringify(name)} includes invalid characters for a local volume name, only "${RESTRICTED_NAME_CHARS}" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
  if (RESERVED_NAMES.has(name)) throw invalidArgument(`volume name "${name}" is reserved`);
}

/** 64 hex characters, as Docker names anonymous volumes. */
export function randomVolumeName(): string {
  return randomBytes(32).toString('hex');
}
