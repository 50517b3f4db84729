export { Host, DEFAULT_STATE_DIR, describePort, type HostOptions, type Status } from './host.js';
export * from './errors.js';
export { ExecaRunner, defaultRunner, inNetns, type Runner, type RunOptions, type RunResult } from './exec/runner.js';
export { Ip, BatchError } from './ip/ip.js';
export { NftClient, serialize } from './nft/client.js';
export * from './nft/schema.js';
export * as nftExpr from './nft/expr.js';
export { Transaction, type ChainSpec, type MapSpec, type Element } from './nft/transaction.js';
export { renderRuleset, portElements } from './firewall/render.js';
export { Firewall } from './firewall/firewall.js';
export * from './firewall/names.js';
export { operation, rollback, type OperationEvent, type Step } from './ops/operation.js';
export * from './topology/state.js';
export { parsePublishSpec, parseUnpublishSpec, type PortSpec, type UnpublishSpec } from './topology/publish-spec.js';
export {
  planNetwork,
  planEndpoint,
  defaultBridgeName,
  type CreateNetworkInput,
  type ConnectInput,
} from './topology/plan.js';
export { planPublish, planUnpublish } from './topology/port-plan.js';
export { parseCidr, normalizeIp } from './topology/cidr.js';
export { diffTables, shapeOfDocument, shapeOfListing, type Drift } from './reconcile/drift.js';
export { observeDrift, observeAll, type OwnerContext } from './reconcile/observe.js';
export type { HostContext } from './ops/context.js';
export { Controller, topologyEvents, isKind, type ControllerOptions } from './reconcile/controller.js';
export { converge, withoutContainers, type ConvergeResult } from './reconcile/converge.js';
export { resilient, coalesce, resync, convergeLoop, backoffDelay, type Trigger, type BackoffOptions } from './reconcile/pipeline.js';
export { Hooks, type HookEvents, type DriftReport, type PlanReport, type AppliedReport, type ErrorReport } from './hooks/hooks.js';
export * from './monitor/events.js';
export { parseMonitorLine } from './monitor/ip-monitor-parse.js';
export { parseNftMonitorLine } from './monitor/nft-monitor-parse.js';
export { ipMonitor, nftMonitor, netnsEvents, stateFileChanges } from './monitor/sources.js';
export { MonitorExitedError } from './monitor/process-lines.js';
export { FakeRunner, type Call } from './exec/fake-runner.js';
export type { NamespaceProbe } from './ip/netns.js';
export { nftFeatures, featuresOf, type NftFeatures } from './nft/features.js';
