/** Orders keyed resources by key (code-point order, the same on every platform and backend). */
export function compareKeys(a: { key: string }, b: { key: string }): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** FidesKey: what a connection, policy or webhook key may contain. */
export const FIDES_KEY_PATTERN = /^[a-zA-Z0-9_.-]+$/;

/** Letters that do not decompose into ASCII plus accents, spelled as unidecode spells them. */
const TRANSLITERATION: Record<string, string> = {
  ß: 'ss', æ: 'ae', ø: 'o', œ: 'oe', þ: 'th', đ: 'd', ł: 'l', Æ: 'AE', Ø: 'O', Œ: 'OE', Þ: 'Th', Đ: 'D', Ł: 'L',
};

/**
 * A webhook key derived from its name, as Fides' `to_snake_case`: transliterate to ASCII,
 * lowercase, strip, drop characters outside [\w\s-], collapse runs of whitespace and hyphens
 * into `_`. "My Pre Execution Webhook" → "my_pre_execution_webhook". May return "" (invalid).
 */
export function keyFromName(name: string): string {
  return name
    .replace(/[ßæøœþđłÆØŒÞĐŁ]/g, (c) => TRANSLITERATION[c] ?? c)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .trim()
    .replace(/[^\w\s-]/g, '')
    .replace(/[\s-]+/g, '_');
}

/** The longest key: the manifest schema's `fidesKey.maxLength` (a test keeps the two equal). */
export const KEY_MAX_LENGTH = 100;

export type KeyResolution = { key: string; problem?: undefined } | { key?: undefined; problem: string };

/**
 * The key of a connection, policy or webhook: the given one, or the one derived from its name,
 * which must then be a valid key too (a given key was checked by the schema already). The
 * problem is worded for the caller to prefix with where and suffix with what to do.
 */
export function resolveKey(item: { key?: string | null; name?: string | null }): KeyResolution {
  if (item.key !== undefined && item.key !== null) return { key: item.key };
  if (!item.name) return { problem: 'needs a name or a key' };
  const derived = keyFromName(item.name);
  if (!FIDES_KEY_PATTERN.test(derived)) return { problem: `no key can be derived from name '${item.name}' (it gives '${derived}')` };
  if (derived.length > KEY_MAX_LENGTH) {
    return { problem: `the key derived from name '${item.name}' has ${derived.length} characters; at most ${KEY_MAX_LENGTH} are allowed` };
  }
  return { key: derived };
}
