import type { Knex } from 'knex';
import * as m001 from './001_config.js';
import * as m002 from './002_engine.js';
import * as m003 from './003_state_identity.js';
import * as m004 from './004_request_requested_at.js';
import * as m005 from './005_fides_policy_fields_and_clients.js';
import * as m006 from './006_fides_targets.js';

export interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** In order; a migration is never edited once released, only followed by a new one. */
export const migrations: Migration[] = [
  { name: '001_config', ...m001 },
  { name: '002_engine', ...m002 },
  { name: '003_state_identity', ...m003 },
  { name: '004_request_requested_at', ...m004 },
  { name: '005_fides_policy_fields_and_clients', ...m005 },
  { name: '006_fides_targets', ...m006 },
];
