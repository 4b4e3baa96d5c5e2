export * from './errors';
export * from './fsutil';
export * from './mutex';
export * from './statefile';
export * from './transient';
export * from './gomap';
