/**
 * The Compose JSON Schema (`schemas/compose.schema.json`) and its ajv compilation. Compiling takes
 * tens of milliseconds, so the build can precompile it with ajv's standalone code generation
 * (`writeStandaloneValidator`); the loader uses that module when present and compiles at runtime
 * otherwise. Imported lazily by the validate phase only.
 */
import { writeFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import standaloneModule from 'ajv/dist/standalone/index.js';
import composeSchema from '../../schemas/compose.schema.json' with { type: 'json' };

export { composeSchema };

export interface SchemaErrorObject {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message?: string;
}
export type ComposeValidateFunction = ((data: unknown) => boolean) & { errors?: SchemaErrorObject[] | null };

// ajv ships CommonJS with `exports.default`; under ESM interop the function may sit one level down.
const standaloneCode = ((standaloneModule as unknown as { default?: unknown }).default ?? standaloneModule) as (
  ajv: InstanceType<typeof Ajv>,
  fn: unknown,
) => string;

const AJV_OPTIONS = { allErrors: true, strict: false, allowUnionTypes: true } as const;

export function compileValidator(): ComposeValidateFunction {
  const ajv = new Ajv(AJV_OPTIONS);
  return ajv.compile(composeSchema) as unknown as ComposeValidateFunction;
}

/** ES module source of a precompiled validator (default export), for the build. */
export function generateStandaloneValidator(): string {
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: true } });
  const validate = ajv.compile(composeSchema);
  const code = standaloneCode(ajv, validate).replace(
    'require("ajv/dist/runtime/equal").default',
    // uniqueItems needs ajv's deep equality; inlined so the module stands alone wherever it is.
    '(function equal(a, b) { if (a === b) return true; if (a && b && typeof a === "object" && typeof b === "object") { ' +
      'if (Array.isArray(a) !== Array.isArray(b)) return false; const ka = Object.keys(a), kb = Object.keys(b); ' +
      'if (ka.length !== kb.length) return false; return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && equal(a[k], b[k])); } ' +
      'return a !== a && b !== b; })',
  );
  if (code.includes('require(')) throw new Error('compose schema: the standalone validator needs a module it cannot import');
  return code;
}

/** Writes the precompiled validator; call from the build with the bundle's output directory. */
export async function writeStandaloneValidator(outFile: string): Promise<void> {
  await writeFile(outFile, generateStandaloneValidator());
}
