/**
 * The registry room: image references, credentials, the OCI Distribution client, and the pull
 * and push orchestrations built on it. See README.md for the vocabulary.
 */
export {
  DEFAULT_DOMAIN,
  DEFAULT_TAG,
  DOCKER_HUB_API_HOST,
  DOCKER_HUB_INDEX_SERVER,
  apiHost,
  credentialKey,
  familiarName,
  familiarString,
  fullName,
  isValidTag,
  manifestKey,
  parseReference,
  referenceString,
  withDefaultTag,
  type Reference,
} from './reference';
export {
  DEFAULT_RETRY,
  isInsecureHost,
  withDefaults,
  type CompiledRegistryOptions,
  type RegistryOptions,
  type RetryPolicy,
} from './options';
export {
  Authorizer,
  CredentialStore,
  StaticCredentials,
  login,
  logout,
  parseWwwAuthenticate,
  type Challenge,
  type CredentialLookup,
  type CredentialStoreOptions,
  type Credentials,
  type LoginRequest,
} from './auth';
export {
  MANIFEST_ACCEPT,
  RegistryClient,
  decodeManifest,
  pullScope,
  pushScope,
  type BlobProgress,
  type FetchBlobOptions,
  type FetchedManifest,
  type PushBlobOptions,
  type PushBlobResult,
  type RegistryClientInit,
  type RepositoryName,
  type ResolvedImage,
} from './client';
export { NodeHttpTransport, type HttpRequest, type HttpResponse, type HttpTransport } from './transport';
export { BlobFetchGroup, processBlobFetches } from './inflight';
export { BlobTap } from './tap';
export {
  MemoryCompressedLayers,
  PUSH_GZIP_LEVEL,
  gzipLayerTypeFor,
  isUncompressedLayer,
  processCompressedLayers,
  rememberedForms,
  type CompressedLayers,
} from './compress';
export { MemoryBlobSources, processBlobSources, type BlobSources } from './sources';
export { PullStatus, PushStatus, shortId, type ProgressEvent, type ProgressListener } from './progress';
export { DEFAULT_PULL_CONCURRENCY, pullImage, type PullRequest, type PullResult, type UnpackContext } from './pull';
export { DEFAULT_PUSH_CONCURRENCY, pushImage, type PushRequest, type PushResult } from './push';
