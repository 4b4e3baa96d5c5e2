/**
 * Loads the gRPC contracts in `proto/`. The built bundle holds the static serializers and method
 * tables that the build generated (`tscompose-generated:rpc-codec`, see scripts/gen-rpc.mjs): no
 * proto-loader or protobufjs at run time. Code run from source (tests) parses the .proto files. All three give messages
 * the same shape: keepCase field names, int64 as Number, defaults filled, oneofs named in `part`.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GrpcObject } from '@grpc/grpc-js';
import type { MethodDefinition } from './h2-client';
import { importGenerated } from '../generated';

const LOADER_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true } as const;

let cached: GrpcObject | undefined;
let definitions: Promise<Record<string, unknown>> | undefined;

/**
 * The services' method tables, by full service name (a grpc-js package definition): without
 * loading grpc-js itself when rpc-codec.mjs is there.
 */
function loadDefinitions(): Promise<Record<string, unknown>> {
  definitions ??= (async () => {
    const codec = await importGenerated<{ services: Record<string, unknown> }>(() => import('tscompose-generated:rpc-codec'));
    if (codec) return codec.services;
    const protoLoader = cjs(await import('@grpc/proto-loader'));
    const protoDir = findProtoDir(dirname(fileURLToPath(import.meta.url)));
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
