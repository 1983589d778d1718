/**
 * Policy webhook lists: GET/PUT a whole list, GET/PATCH/DELETE one webhook. The list semantics
 * are the model's (shared with `apply`); this file only reads, writes and presents.
 */
import type { FastifyInstance } from 'fastify';
import { PHASES, type Phase, type Webhook } from '../../model/types.js';
import { PHASE_NAMES } from '../../model/phases.js';
import { apiError } from '../../model/errors.js';
import { deleteWebhook, indexOwners, patchWebhook, putWebhookList, type ListContext, type PutItem, type WebhookPatch } from '../../model/webhook-lists.js';
import { diffList } from '../../model/changes.js';
import { readState, saveWebhookLists, type StoredState } from '../../state/config-store.js';
import { presentWebhook, presentWebhooks } from '../present.js';
import { PAGE_QUERY, paginate, type PageQuery } from '../pagination.js';
import { apiActor, writeState, type WriteContext } from '../state-writes.js';
import { bodySchema, fidesKeyParams } from '../validation.js';
import { API_PREFIX, type ServerDeps } from '../deps.js';

interface ListParams {
  policy_key: string;
}
interface OneParams extends ListParams {
  webhook_key: string;
}

export async function webhookRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;
  for (const phase of PHASES) {
    const { pathSegment, word } = PHASE_NAMES[phase];
    const list = `/policy/:policy_key/webhook/${pathSegment}`;
    const one = `${list}/:webhook_key`;

    app.get<{ Params: ListParams; Querystring: PageQuery }>(
      list,
      { config: { auth: 'webhook:read' }, schema: { summary: `List the ${word} webhooks of a policy`, params: fidesKeyParams('policy_key'), querystring: PAGE_QUERY } },
      async (req) => {
        const state = await readState(db.knex, { policy: req.params.policy_key });
        return paginate(policyList(state, phase, req.params.policy_key), req.query, (w) => presentWebhook(w, state.connections));
      },
    );

    app.put<{ Params: ListParams; Body: PutItem[] }>(
      list,
      {
        config: { auth: 'webhook:create_or_update' },
        schema: { summary: `Replace the ${word} webhook list of a policy`, params: fidesKeyParams('policy_key'), body: bodySchema('webhook-put') },
      },
      async (req) =>
        writeState(deps, apiActor(req), async (ctx) => {
          const { policy_key } = req.params;
          const current = policyList(ctx.state, phase, policy_key);
          const next = putWebhookList(listContext(ctx.state, phase, policy_key), current, req.body);
          const saved = await saveList(ctx, phase, policy_key, next);
          return { result: presentWebhooks(saved.list, ctx.state.connections), changes: saved.changes };
        }),
    );

    app.get<{ Params: OneParams }>(
      one,
      { config: { auth: 'webhook:read' }, schema: { summary: `Get a ${word} webhook`, params: fidesKeyParams('policy_key', 'webhook_key') } },
      async (req) => {
        const { policy_key, webhook_key } = req.params;
        const state = await readState(db.knex, { policy: policy_key });
        const hook = policyList(state, phase, policy_key).find((w) => w.key === webhook_key);
        if (!hook) throw apiError('webhook_not_found', phase, webhook_key, policy_key);
        return presentWebhook(hook, state.connections);
      },
    );

    app.patch<{ Params: OneParams; Body: Record<string, unknown> }>(
      one,
      {
        config: { auth: 'webhook:create_or_update' },
        schema: { summary: `Update a ${word} webhook (fields, order)`, params: fidesKeyParams('policy_key', 'webhook_key'), body: bodySchema('webhook-patch') },
      },
      async (req) =>
        writeState(deps, apiActor(req), async (ctx) => {
          const { policy_key, webhook_key } = req.params;
          const current = policyList(ctx.state, phase, policy_key);
          // Upstream drops null fields: null means "leave as is".
          const patch = Object.fromEntries(Object.entries(req.body ?? {}).filter(([, v]) => v !== null)) as WebhookPatch;
          const { list: next, resource, new_order } = patchWebhook(listContext(ctx.state, phase, policy_key), current, webhook_key, patch);
          const { changes } = await saveList(ctx, phase, policy_key, next);
          return { result: { resource: presentWebhook(resource, ctx.state.connections), new_order }, changes };
        }),
    );

    app.delete<{ Params: OneParams }>(
      one,
      { config: { auth: 'webhook:delete' }, schema: { summary: `Delete a ${word} webhook`, params: fidesKeyParams('policy_key', 'webhook_key') } },
      async (req) =>
        writeState(deps, apiActor(req), async (ctx) => {
          const { policy_key, webhook_key } = req.params;
          const current = policyList(ctx.state, phase, policy_key);
          const { list: next, new_order } = deleteWebhook({ phase, policyKey: policy_key }, current, webhook_key);
          const { changes } = await saveList(ctx, phase, policy_key, next);
          return { result: { new_order }, changes };
        }),
    );
  }
}

/** The policy's list of that phase; 404 when the policy does not exist. */
function policyList(state: StoredState, phase: Phase, policyKey: string) {
  if (!state.policies.has(policyKey)) throw apiError('policy_not_found', policyKey);
  return state.webhooks[phase].get(policyKey) ?? [];
}

function listContext(state: StoredState, phase: Phase, policyKey: string): ListContext {
  return {
    phase,
    policyKey,
    owners: indexOwners(state.webhooks[phase]),
    connectionExists: (key) => state.connections.has(key),
    connectionUnusable: (key) =>
      state.connections.get(key)?.secrets_encrypted === null ? `it has no secrets yet; PUT ${API_PREFIX}/connection/${key}/secret first` : undefined,
  };
}

/** Writes the list only when it differs from the stored one. */
async function saveList(ctx: WriteContext, phase: Phase, policyKey: string, next: Webhook[]) {
  const current = policyList(ctx.state, phase, policyKey);
  const changes = diffList(policyKey, phase, current, next);
  if (changes.length === 0) return { list: current, changes };
  const [list] = await saveWebhookLists(ctx.trx, [{ policy_key: policyKey, phase, current, next }], ctx.now);
  return { list: list!, changes };
}
