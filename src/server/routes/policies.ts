/** Policies: list, read, and create-or-update by key (`{key, name}`). */
import type { FastifyInstance } from 'fastify';
import type { Policy } from '../../model/types.js';
import { resolveKey } from '../../model/keys.js';
import type { ResourceChange } from '../../model/changes.js';
import { apiError, ITEM_PROBLEMS } from '../../model/errors.js';
import { readPolicies, upsertPolicies } from '../../state/config-store.js';
import { presentPolicy } from '../present.js';
import { PAGE_QUERY, paginate, type PageQuery } from '../pagination.js';
import { apiActor, writeState } from '../state-writes.js';
import { bodySchema, fidesKeyParams } from '../validation.js';
import type { ServerDeps } from '../deps.js';

interface PolicyPatchItem {
  key?: string;
  name: string;
}

export async function policyRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;
  app.get<{ Querystring: PageQuery }>('/policy', { config: { auth: 'policy:read' }, schema: { summary: 'List policies', querystring: PAGE_QUERY } }, async (req) => {
    const policies = await readPolicies(db.knex);
    return paginate([...policies.values()], req.query, presentPolicy);
  });

  app.get<{ Params: { policy_key: string } }>(
    '/policy/:policy_key',
    { config: { auth: 'policy:read' }, schema: { summary: 'Get a policy', params: fidesKeyParams('policy_key') } },
    async (req) => {
      const policy = (await readPolicies(db.knex, req.params.policy_key)).get(req.params.policy_key);
      if (!policy) throw apiError('policy_not_found', req.params.policy_key);
      return presentPolicy(policy);
    },
  );

  app.patch<{ Body: PolicyPatchItem[] }>(
    '/policy',
    { config: { auth: 'policy:create_or_update' }, schema: { summary: 'Create or update policies', body: bodySchema('policy-patch') } },
    async (req) =>
      writeState(deps, apiActor(req), async ({ trx, state, now }) => {
        const succeeded: Policy[] = [];
        const failed: { message: string; data: PolicyPatchItem }[] = [];
        const writes: { policy: Policy; origin: 'api' }[] = [];
        const changes: ResourceChange[] = [];
        const seen = new Set<string>();
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
          seen.add(key);
          const before = state.policies.get(key);
          const policy = { key, name: item.name };
          if (before?.name !== policy.name) {
            writes.push({ policy, origin: 'api' });
            const fields = [{ field: 'name', ...(before && { before: before.name }), after: policy.name }];
            changes.push({ kind: 'policy', action: before ? 'update' : 'create', key, fields });
          }
          succeeded.push(policy);
        }
        await upsertPolicies(trx, writes, now);
        return { result: { succeeded, failed }, changes };
      }),
  );
}
