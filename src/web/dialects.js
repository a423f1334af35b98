// The refresh dialects: how a refresh (and a logout) is asked for, and how
// a refresh answer is read, for each family of servers. A dialect only turns
// the wire into the core's terms (a rotation and its lifetime, or an OAuth
// 2.0 error code); what an answer means for the session, the core decides.
//
//   'dj-rest-auth'  cookie mode: the refresh token is an HTTP-only cookie,
//                   the request has no body.
//   'simplejwt'     bearer mode: `{"refresh": ...}` in, `{"access",
//                   "refresh"?}` out (SimpleJWT's TokenRefreshView).
//   'oauth2'        bearer mode: RFC 6749 §6, the refresh grant of Django
//                   OAuth Toolkit, Keycloak, Auth0, Okta, Ory...

/** The dialects each mode speaks; the first is its default. */
export const DIALECTS = { cookie: ['dj-rest-auth'], bearer: ['simplejwt', 'oauth2'] };

/**
 * The longest token taken from a server. An access token goes in a header,
 * and servers refuse request heads past 8–16 KB; one longer than this is a
 * broken answer, not a credential.
 */
const MAX_TOKEN = 16_384;

/**
 * Whether `token` can go in an `Authorization` header as it is: a
 * non-empty string of visible ASCII (no spaces, controls or non-Latin-1
 * characters, which `Headers.set` rejects or a server would split on), of
 * sane length.
 */
export function headerSafe(token) {
  return typeof token === 'string' && token.length > 0 && token.length <= MAX_TOKEN && /^[\x21-\x7e]+$/.test(token);
}

/** `{access, refresh}` with a non-empty access token, or null. */
export function tokensFrom(value) {
  if (!value || typeof value.access !== 'string' || value.access === '') return null;
  const refresh = typeof value.refresh === 'string' && value.refresh !== '' ? value.refresh : null;
  return { access: value.access, refresh };
}

/** The claims of a JWT (its payload, decoded, not verified), or null. */
function jwtClaims(token) {
  const payload = typeof token === 'string' ? token.split('.')[1] : undefined;
  if (!payload) return null;
  try {
    // atob is forgiving about the missing padding of base64url.
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
    return claims !== null && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/**
 * A lifetime of `seconds` as ms the credential lives at least, counted from
 * when the refresh was sent; -1 when not a lifetime. Every source is whole
 * seconds at best (JWT claims, HTTP dates, `expires_in`) and counts from
 * when the server answered, so a second comes off.
 */
const lifetime = (seconds) => (Number.isFinite(seconds) && seconds >= 0 ? Math.max(0, seconds - 1) * 1000 : -1);

/**
 * How long (ms) the credential a refresh answer brought lives at least, or
 * -1 when the answer does not say. Never from absolute times alone, so a
 * browser clock that is off changes nothing: OAuth 2.0's `expires_in` is
 * relative already; an access JWT's `exp − iat` and dj-rest-auth's
 * `access_expiration` against the answer's `Date` are both pairs from the
 * server's clock.
 */
export function lifetimeOf(body, date, access) {
  if (body && typeof body.expires_in === 'number') return lifetime(body.expires_in);
  const claims = jwtClaims(access);
  if (claims && typeof claims.exp === 'number' && typeof claims.iat === 'number') {
    return lifetime(claims.exp - claims.iat);
  }
  if (body && typeof body.access_expiration === 'string' && date) {
    return lifetime((Date.parse(body.access_expiration) - Date.parse(date)) / 1000);
  }
  return -1;
}

/** Whether an OAuth 2.0 `token_type` is one this client can use: Bearer (any case, RFC 6750). */
const bearerType = (type) => type === undefined || (typeof type === 'string' && type.toLowerCase() === 'bearer');

/**
 * What a successful (2xx) refresh answer brought, in bearer mode: `{tokens,
 * lifetime}`, or null for an answer that carries no usable credential (no
 * access token, one that cannot go in a header, a refresh token that is not
 * a string, a token type other than Bearer). `previous` is the refresh
 * token the refresh was sent with: kept when the answer brings none (no
 * rotation).
 */
export function readRotation(dialect, body, date, previous) {
  if (body === null || typeof body !== 'object') return null;
  const oauth = dialect === 'oauth2';
  const access = oauth ? body.access_token : body.access;
  const refresh = oauth ? body.refresh_token : body.refresh;
  if (!headerSafe(access)) return null;
  if (refresh !== undefined && refresh !== null && !headerSafe(refresh)) return null;
  if (oauth && !bearerType(body.token_type)) return null;
  if (oauth && body.expires_in !== undefined && (typeof body.expires_in !== 'number' || !(body.expires_in >= 0))) {
    return null;
  }
  return { tokens: { access, refresh: refresh ?? previous }, lifetime: lifetimeOf(body, date, access) };
}

/**
 * The rotated refresh token of a success that is broken otherwise (an
 * access token that cannot go in a header, say), or null. The server has
 * used up the old refresh token by now: this one is all the session has.
 */
export function rotatedRefresh(dialect, body) {
  const refresh = body !== null && typeof body === 'object' ? body[dialect === 'oauth2' ? 'refresh_token' : 'refresh'] : undefined;
  return headerSafe(refresh) ? refresh : null;
}

/** An OAuth 2.0 error answer's `error` code (RFC 6749 §5.2), or null. */
export function grantError(text) {
  try {
    const body = JSON.parse(text);
    return body !== null && typeof body === 'object' && typeof body.error === 'string' ? body.error : null;
  } catch {
    return null;
  }
}

/**
 * The headers and body that carry the refresh token to the refresh
 * endpoint (`logout` false) or to the logout endpoint (`logout` true), in
 * bearer mode. Cookie mode carries the cookie and no body.
 */
export function credentialBody(o, tokens, logout) {
  if (o.dialect === 'oauth2') {
    // RFC 6749 §6 for a refresh, RFC 7009 (token revocation) for a logout.
    const form = logout
      ? new URLSearchParams({ token: tokens.refresh, token_type_hint: 'refresh_token', client_id: o.clientId })
      : new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh, client_id: o.clientId });
    if (!logout && o.scope !== undefined) form.set('scope', o.scope);
    return {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: form.toString(),
    };
  }
  return { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ refresh: tokens.refresh }) };
}

/**
 * For `expiredWhen`: whether an answer carries RFC 6750's challenge for an
 * expired or revoked access token, `WWW-Authenticate: Bearer
 * error="invalid_token"` (on any status: some APIs send it with a 403).
 */
export function invalidTokenChallenge(answer) {
  const headers = answer && answer.headers;
  const challenge = headers && typeof headers.get === 'function' ? headers.get('WWW-Authenticate') : null;
  return typeof challenge === 'string' && /(?:^|[\s,])bearer\s(?:.*[\s,])?error\s*=\s*"?invalid_token(?:"|[\s,]|$)/i.test(challenge);
}
