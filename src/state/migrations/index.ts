import type { Knex } from 'knex';
import * as m001 from './001_config.js';

export interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** In order; a migration is never edited once released, only followed by a new one. */
export const migrations: Migration[] = [{ name: '001_config', ...m001 }];
