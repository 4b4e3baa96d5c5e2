export { Orchestrator, graphFromLabels, type OrchestratorDeps } from './orchestrator';
export { planService, type ActualContainer, type ServicePlan, type SlotAction, type PlanOptions } from './plan';
export { parseModel } from './model';
export type { Emit } from './progress';
