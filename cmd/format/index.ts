export { compileTemplate, executeTemplate, titleCase, HEADER_FUNCTIONS } from './gotemplate';
export type { Template, TemplateFunction, TemplateFunctions, ExecuteOptions } from './gotemplate';
export { renderList, resolveListFormat, defaultHeader, quietFormatWarning } from './table';
export type { ListFormatOptions } from './table';
export { tabwrite, displayWidth, DOCKER_TABWRITER } from './tabwriter';
export type { TabwriterOptions } from './tabwriter';
export {
  humanSize,
  bytesSize,
  humanDuration,
  timeAgo,
  goTime,
  rfc3339,
  containerStatus,
  parseBytes,
  parseDuration,
  parseDurationNanos,
  parseTimestamp,
  timestampToDate,
} from './units';
export type { ContainerStatusInput, ContainerStateName, HealthStatus, Timestamp, TimeInput } from './units';
export { formatValue, formatFloat, formatGoDuration, GoDuration, goNil, sprintf, sprint, quoteGo, toGoJson, GO_STRUCT_TYPE } from './gofmt';
