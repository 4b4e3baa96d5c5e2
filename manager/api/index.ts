export { managerHandlers } from './manager-server';
