// Writes the compose schema as a standalone ajv validator module (run by build.mjs under tsx).
import { writeStandaloneValidator } from '../manager/compose/schema';
await writeStandaloneValidator(process.argv[2]!);
