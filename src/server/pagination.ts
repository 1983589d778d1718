/** Paginated lists, as fastapi-pagination answers them. */

export interface PageQuery {
  page: number;
  size: number;
}

/** Query schema of paginated lists: `page` ≥ 1 (default 1), `size` 1..100 (default 50). */
export const PAGE_QUERY = {
  type: 'object',
  properties: {
    page: { type: 'integer', minimum: 1, default: 1 },
    size: { type: 'integer', minimum: 1, maximum: 100, default: 50 },
  },
} as const;

/** fastapi-pagination's `Page`: `{items, total, page, size}`. */
export function paginate<T, R>(all: readonly T[], { page, size }: PageQuery, present: (item: T) => R) {
  const start = (page - 1) * size;
  return { items: all.slice(start, start + size).map(present), total: all.length, page, size };
}
