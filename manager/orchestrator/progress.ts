/** Progress events as the orchestrator reports them; the API streams them to the CLI. */
import type { ProgressEvent } from '../../common/rpc/manager-types';

export type Emit = (event: ProgressEvent) => void;

export const working = (resource: string, name: string, status: string): ProgressEvent => ({ resource, name, status, state: 'working', warning: '' });
export const done = (resource: string, name: string, status: string): ProgressEvent => ({ resource, name, status, state: 'done', warning: '' });
export const failed = (resource: string, name: string, status: string): ProgressEvent => ({ resource, name, status, state: 'error', warning: '' });
export const warning = (text: string): ProgressEvent => ({ resource: '', name: '', status: '', state: 'done', warning: text });
