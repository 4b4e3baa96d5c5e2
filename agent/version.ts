/** The engine's version, shown by `version` and `info`. */
export const VERSION = '0.1.0';
/** The version of the contracts in proto/; bumped when a message changes incompatibly. */
export const API_VERSION = '1';
