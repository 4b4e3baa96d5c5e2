// Modules that exist only in the built bundle (scripts/build.mjs); see common/generated.ts.
declare module 'tscompose-generated:rpc-codec' {
  export const services: Record<string, unknown>;
}
declare module 'tscompose-generated:compose-validator' {
  const validate: (data: unknown) => boolean;
  export default validate;
}
