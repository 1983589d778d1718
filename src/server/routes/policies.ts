/**
 * Policies: list, read, create-or-update by key (`{key, name, drp_action?, execution_timeframe?}`),
 * and delete.
 */
import type { FastifyInstance } from 'fastify';
import { PHASES, type Policy } from '../../model/types.js';
import { resolveKey } from '../../model/keys.js';
import type { ResourceChange } from '../../model/changes.js';
import { apiError, ITEM_PROBLEMS } from '../../model/errors.js';
import { deletePolicies, policyHasPrivacyRequests, readDsrPolicies, upsertDsrPolicies, type PolicyDsrFields } from '../../state/config-store.js';
import { presentPolicy } from '../present.js';
import { PAGE_QUERY, paginate, type PageQuery } from '../pagination.js';
import { apiActor, writeState } from '../state-writes.js';
import { bodySchema, fidesKeyParams } from '../validation.js';
import type { ServerDeps } from '../deps.js';

interface PolicyPatchItem {
  key?: string;
  name: string;
  drp_action?: string | null;
  execution_timeframe?: number | null;
}

export async function policyRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;
  const keyParams = fidesKeyParams('policy_key');
  app.get<{ Querystring: PageQuery }>('/policy', { config: { auth: 'policy:read' }, schema: { summary: 'List policies', querystring: PAGE_QUERY } }, async (req) => {
    const policies = await readDsrPolicies(db.knex);
    return paginate([...policies.values()], req.query, presentPolicy);
  });

  app.get<{ Params: { policy_key: string } }>(
    '/policy/:policy_key',
    { config: { auth: 'policy:read' }, schema: { summary: 'Get a policy', params: keyParams } },
    async (req) => {
      const policy = (await readDsrPolicies(db.knex, req.params.policy_key)).get(req.params.policy_key);
      if (!policy) throw apiError('policy_not_found', req.params.policy_key);
      return presentPolicy(policy);
    },
  );

  app.patch<{ Body: PolicyPatchItem[] }>(
    '/policy',
    { config: { auth: 'policy:create_or_update' }, schema: { summary: 'Create or update policies', body: bodySchema('policy-patch') } },
    async (req) =>
      writeState(deps, apiActor(req), async ({ trx, now }) => {
        // The DSR fields are not part of the state snapshot (applies ignore them): read them here.
        const stored = await readDsrPolicies(trx);
        const succeeded: ReturnType<typeof presentPolicy>[] = [];
        const failed: { message: string; data: PolicyPatchItem }[] = [];
        const writes: { policy: Policy & PolicyDsrFields; origin: 'api' }[] = [];
        const changes: ResourceChange[] = [];
        const seen = new Set<string>();
        // drp_action is unique across policies: who holds each one once this request is written.
        const drpHolders = new Map([...stored.values()].filter((p) => p.drp_action !== null).map((p) => [p.drp_action!, p.key]));
        for (const item of req.body) {
          const { key, problem } = resolveKey(item);
          if (problem !== undefined) {
            failed.push({ message: ITEM_PROBLEMS.invalidKey(problem), data: item });
            continue;
          }
          if (seen.has(key)) {
            failed.push({ message: ITEM_PROBLEMS.repeatedKey('policy', key), data: item });
            continue;
          }
          const before = stored.get(key);
          // As upstream, an update writes both fields: one the item leaves out is cleared.
          const policy = { key, name: item.name, drp_action: item.drp_action ?? null, execution_timeframe: item.execution_timeframe ?? null };
          const holder = policy.drp_action === null ? undefined : drpHolders.get(policy.drp_action);
          if (holder !== undefined && holder !== key) {
            failed.push({ message: ITEM_PROBLEMS.drpActionTaken(policy.drp_action!, holder), data: item });
            continue;
          }
          seen.add(key);
          if (before?.drp_action && drpHolders.get(before.drp_action) === key) drpHolders.delete(before.drp_action);
          if (policy.drp_action !== null) drpHolders.set(policy.drp_action, key);
          const fields = (['name', 'drp_action', 'execution_timeframe'] as const)
            .filter((field) => !before || before[field] !== policy[field])
            .filter((field) => before || field === 'name' || policy[field] !== null)
            .map((field) => ({ field, ...(before && { before: before[field] }), after: policy[field] }));
          if (fields.length > 0) {
            writes.push({ policy, origin: 'api' });
            changes.push({ kind: 'policy', action: before ? 'update' : 'create', key, fields });
          }
          succeeded.push(presentPolicy(policy));
        }
        await upsertDsrPolicies(trx, writes, now);
        return { result: { succeeded, failed }, changes };
      }),
  );

  app.delete<{ Params: { policy_key: string } }>(
    '/policy/:policy_key',
    { config: { auth: 'policy:delete' }, schema: { summary: 'Delete a policy that has no webhooks and no privacy requests', params: keyParams } },
    async (req, reply) => {
      await writeState(deps, apiActor(req), async ({ trx, state }) => {
        const key = req.params.policy_key;
        if (!state.policies.has(key)) throw apiError('policy_not_found', key);
        // A request's history names its policy, so upstream keeps a policy once any request used it.
        if (await policyHasPrivacyRequests(trx, key)) throw apiError('policy_in_use', key);
        const hooks = PHASES.flatMap((phase) => state.webhooks[phase].get(key) ?? []);
        if (hooks.length > 0) {
          throw apiError('policy_has_webhooks', key, hooks.length);
        }
        await deletePolicies(trx, [key]);
        return { result: undefined, changes: [{ kind: 'policy', action: 'delete', key, fields: [] }] };
      });
      return reply.code(204).send();
    },
  );
}
