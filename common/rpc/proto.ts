/**
 * Loads the gRPC contracts in `proto/`. A built bundle imports the static serializers and method
 * tables that the build generated next to it (`rpc-codec.mjs`, see scripts/gen-rpc.mjs): no
 * proto-loader or protobufjs at run time. Without it, the JSON descriptor is loaded with
 * proto-loader, and code run from source (tests) parses the .proto files. All three give messages
 * the same shape: keepCase field names, int64 as Number, defaults filled, oneofs named in `part`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { GrpcObject } from '@grpc/grpc-js';
import type { MethodDefinition } from './h2-client';

const LOADER_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true } as const;

let cached: GrpcObject | undefined;
let definitions: Promise<Record<string, unknown>> | undefined;

/**
 * The services' method tables, by full service name (a grpc-js package definition): without
 * loading grpc-js itself when rpc-codec.mjs is there.
 */
function loadDefinitions(): Promise<Record<string, unknown>> {
  definitions ??= (async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const codec = [join(here, 'rpc-codec.mjs'), join(here, '..', 'rpc-codec.mjs')].find((p) => existsSync(p));
    if (codec) return ((await import(pathToFileURL(codec).href)) as { services: Record<string, unknown> }).services;
    const protoLoader = cjs(await import('@grpc/proto-loader'));
    const descriptorCandidates = [join(here, 'proto-descriptor.json'), join(here, '..', 'proto-descriptor.json')];
    const descriptor = descriptorCandidates.find((p) => existsSync(p));
    if (descriptor) return protoLoader.fromJSON(JSON.parse(readFileSync(descriptor, 'utf8')), LOADER_OPTIONS) as Record<string, unknown>;
    const protoDir = findProtoDir(here);
    const files = ['engine.proto', 'manager.proto'].map((f) => join(protoDir, f)).filter((f) => existsSync(f));
    return (await protoLoader.load(files, LOADER_OPTIONS)) as Record<string, unknown>;
  })();
  definitions.catch(() => (definitions = undefined));
  return definitions;
}

/** One service's methods (`tscompose.engine.v1.Engine`), with their paths and codecs. */
export async function loadServiceMethods(fullName: string): Promise<Record<string, MethodDefinition>> {
  const service = (await loadDefinitions())[fullName];
  if (!service || typeof service !== 'object') throw new Error(`rpc: no service ${fullName} in the contracts`);
  return service as Record<string, MethodDefinition>;
}

export async function loadProtos(): Promise<GrpcObject> {
  if (cached) return cached;
  type PackageDefinition = Parameters<typeof import('@grpc/grpc-js').loadPackageDefinition>[0];
  const [grpc, definition] = await Promise.all([loadGrpc(), loadDefinitions()]);
  cached = grpc.loadPackageDefinition(definition as PackageDefinition);
  return cached;
}

function findProtoDir(start: string): string {
  let dir = start;
  for (;;) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'engine.proto'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('rpc: proto/ directory not found');
    dir = parent;
  }
}

/** A CommonJS module imported dynamically from an ESM bundle arrives as `{ default }`. */
function cjs<T>(mod: T): T {
  return ((mod as { default?: T }).default ?? mod) as T;
}

export async function loadGrpc(): Promise<typeof import('@grpc/grpc-js')> {
  return cjs(await import('@grpc/grpc-js'));
}
