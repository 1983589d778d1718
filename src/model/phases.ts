/**
 * The names each webhook phase goes by: in manifests and plans (its list field), in API paths,
 * in messages, and in upstream's class names. Every layer takes them from here.
 */
import type { Phase } from './types.js';

export type ListField = 'pre_execution_webhooks' | 'post_execution_webhooks';

interface PhaseNames {
  /** The policy field holding the list, in manifests, exports and plans. */
  listField: ListField;
  /** The API path segment: `/policy/{key}/webhook/pre_execution`. */
  pathSegment: string;
  /** In sentences: "pre-execution webhook 'k'". */
  word: string;
  /** In upstream's not-found messages: "No Pre-Execution Webhook found …". */
  title: string;
  /** Upstream's class name, which its messages quote ("… PolicyPreWebhook(s) …"). */
  className: string;
}

export const PHASE_NAMES: Readonly<Record<Phase, PhaseNames>> = {
  pre: { listField: 'pre_execution_webhooks', pathSegment: 'pre_execution', word: 'pre-execution', title: 'Pre-Execution', className: 'PolicyPreWebhook' },
  post: { listField: 'post_execution_webhooks', pathSegment: 'post_execution', word: 'post-execution', title: 'Post-Execution', className: 'PolicyPostWebhook' },
};

export function listField(phase: Phase): ListField {
  return PHASE_NAMES[phase].listField;
}
