/**
 * The token of an `Authorization: Bearer <token>` header, for the API's tokens and the resume
 * route's reply-to tokens alike. null (answered 401) when the header is missing or names another
 * scheme; '' when `Bearer` carries no token, which, as in Fides, is an invalid token (403).
 */
export function bearerToken(header: string | undefined): string | null {
  const m = header === undefined ? null : /^Bearer(?:\s+(.*))?$/i.exec(header.trim());
  return m ? (m[1] ?? '').trim() : null;
}
