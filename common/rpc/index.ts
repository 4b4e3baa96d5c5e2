export * from './status';
export * from './proto';
