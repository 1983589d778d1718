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
