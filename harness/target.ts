import type { Scenario } from './scenario.js';

/** What the harness reads back about a privacy request (a subset of the API's request object). */
export interface RequestView {
  id: string;
  status: string;
  identity: { email: string | null; phone_number: string | null };
  failure_reason: string | null;
  timeline: unknown[];
}

/**
 * The system under simulation: the real engine on a throwaway state, plus a real loopback server
 * for resume callbacks. The harness only drives it through this interface.
 */
export interface SimulationTarget {
  /** Base URL of the real loopback server that serves POST /privacy-request/{id}/resume. */
  callbackBase: string;
  /** Queue a privacy request and start executing it; resolves to the request id. */
  submit(policyKey: string, identity: { email?: string; phone_number?: string }): Promise<string>;
  get(id: string): Promise<RequestView>;
  /** A token for the same request/webhook as `token`, already expired (for then.resume.token: expired). */
  mintExpiredToken(token: string): Promise<string>;
  close(): Promise<void>;
}

/** Applies the scenario's manifests, with the scenario's env, to a throwaway state. */
export type TargetFactory = (scenario: Scenario) => Promise<SimulationTarget>;
