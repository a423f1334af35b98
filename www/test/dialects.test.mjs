// The refresh dialects' wire, field by field (issue 12): what each sends,
// and what it takes from an answer (every field absent, of the wrong type,
// or extra). Plain JS, so these run in Node against src/web/dialects.js.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  credentialBody,
  grantError,
  headerSafe,
  invalidTokenChallenge,
  lifetimeOf,
  readRotation,
} from '../../src/web/dialects.js';

/** A JWT with these claims (unsigned: the client never verifies). */
function jwt(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}.c2ln`;
}

const OAUTH = { dialect: 'oauth2', clientId: 'spa-client', scope: undefined };
const SIMPLEJWT = { dialect: 'simplejwt' };

describe('oauth2: the refresh request (RFC 6749 §6)', () => {
  test('a form-encoded refresh grant with the client id', () => {
    const { headers, body } = credentialBody(OAUTH, { access: 'a', refresh: 'r+/=&1' }, false);
    assert.equal(headers['Content-Type'], 'application/x-www-form-urlencoded');
    assert.equal(headers.Accept, 'application/json');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(body)), {
      grant_type: 'refresh_token',
      refresh_token: 'r+/=&1',
      client_id: 'spa-client',
    });
  });

  test('the scope goes along when given', () => {
    const { body } = credentialBody({ ...OAUTH, scope: 'read write' }, { access: 'a', refresh: 'r' }, false);
    assert.equal(new URLSearchParams(body).get('scope'), 'read write');
  });

  test('the logout is an RFC 7009 revocation of the refresh token', () => {
    const { body } = credentialBody({ ...OAUTH, scope: 'read' }, { access: 'a', refresh: 'r1' }, true);
    assert.deepEqual(Object.fromEntries(new URLSearchParams(body)), {
      token: 'r1',
      token_type_hint: 'refresh_token',
      client_id: 'spa-client',
    });
  });
});

describe('oauth2: the answer', () => {
  const answer = { access_token: 'AT1', token_type: 'Bearer', expires_in: 300, refresh_token: 'RT2', scope: 'read' };

  test('a rotated refresh token replaces the old one; expires_in gives the lifetime', () => {
    assert.deepEqual(readRotation('oauth2', answer, null, 'RT1'), {
      tokens: { access: 'AT1', refresh: 'RT2' },
      lifetime: 299_000,
    });
  });

  test('an absent refresh token keeps the old one', () => {
    const { refresh_token: _, ...rest } = answer;
    assert.equal(readRotation('oauth2', rest, null, 'RT1').tokens.refresh, 'RT1');
    assert.equal(readRotation('oauth2', { ...rest, refresh_token: null }, null, 'RT1').tokens.refresh, 'RT1');
  });

  test('token_type is Bearer in any case, or absent', () => {
    assert.ok(readRotation('oauth2', { ...answer, token_type: 'bearer' }, null, 'RT1'));
    const { token_type: _, ...untyped } = answer;
    assert.ok(readRotation('oauth2', untyped, null, 'RT1'));
    // RFC 6749 §7.1: a client must not use a token type it does not understand.
    assert.equal(readRotation('oauth2', { ...answer, token_type: 'DPoP' }, null, 'RT1'), null);
    assert.equal(readRotation('oauth2', { ...answer, token_type: 7 }, null, 'RT1'), null);
  });

  test('without expires_in the lifetime comes from the JWT, else is unknown', () => {
    const { expires_in: _, ...rest } = answer;
    assert.equal(readRotation('oauth2', rest, null, 'RT1').lifetime, -1);
    const access = jwt({ iat: 1000, exp: 1060 });
    assert.equal(readRotation('oauth2', { ...rest, access_token: access }, null, 'RT1').lifetime, 59_000);
  });

  test('a broken answer is null: no access token, wrong types, unusable tokens', () => {
    const broken = [
      null,
      'AT1',
      [],
      {},
      { ...answer, access_token: undefined },
      { ...answer, access_token: '' },
      { ...answer, access_token: 42 },
      { ...answer, access_token: 'abc\r\nX: 1' },
      { ...answer, access_token: 'with space' },
      { ...answer, access_token: 'n\u00e9e' },
      { ...answer, access_token: 'x'.repeat(5 * 1024 * 1024) },
      { ...answer, refresh_token: 12 },
      { ...answer, refresh_token: '' },
      { ...answer, refresh_token: 'a\u2028b' },
      { ...answer, expires_in: '300' },
      { ...answer, expires_in: -1 },
      { ...answer, expires_in: Number.NaN },
      // SimpleJWT's field names are not OAuth 2.0's.
      { access: 'AT1', refresh: 'RT2' },
    ];
    for (const body of broken) {
      assert.equal(readRotation('oauth2', body, null, 'RT1'), null, JSON.stringify(body)?.slice(0, 80));
    }
  });

  test('extra fields are ignored', () => {
    const rotation = readRotation('oauth2', { ...answer, id_token: 'x', foo: { bar: 1 } }, null, 'RT1');
    assert.deepEqual(rotation.tokens, { access: 'AT1', refresh: 'RT2' });
  });

  test('the error code of an error answer', () => {
    assert.equal(grantError('{"error":"invalid_grant"}'), 'invalid_grant');
    assert.equal(grantError('{"error":"invalid_grant","error_description":"Invalid credentials given."}'), 'invalid_grant');
    assert.equal(grantError('{"error":"temporarily_unavailable"}'), 'temporarily_unavailable');
    for (const text of ['', 'not json', 'null', '[]', '{"error":7}', '{"detail":"x"}', '"invalid_grant"']) {
      assert.equal(grantError(text), null, text);
    }
  });
});

describe('simplejwt: the answer', () => {
  test('access alone (no rotation) keeps the refresh token; access and refresh rotate', () => {
    const access = jwt({ iat: 0, exp: 300 });
    assert.deepEqual(readRotation('simplejwt', { access }, null, 'R1'), { tokens: { access, refresh: 'R1' }, lifetime: 299_000 });
    assert.equal(readRotation('simplejwt', { access, refresh: 'R2' }, null, 'R1').tokens.refresh, 'R2');
  });

  test('a broken answer is null', () => {
    for (const body of [null, {}, { access: '' }, { access: 1 }, { access: 'a\nb' }, { access: 'a', refresh: 5 }, { access_token: 'a' }]) {
      assert.equal(readRotation('simplejwt', body, null, 'R1'), null, JSON.stringify(body));
    }
  });

  test('the refresh body', () => {
    const { headers, body } = credentialBody(SIMPLEJWT, { access: 'a', refresh: 'R1' }, false);
    assert.equal(headers['Content-Type'], 'application/json');
    assert.deepEqual(JSON.parse(body), { refresh: 'R1' });
  });
});

describe('dj-rest-auth: the lifetime', () => {
  test("access_expiration against the answer's Date, whatever the browser's clock", () => {
    const body = { access: '', access_expiration: '2030-01-01T00:05:00Z' };
    assert.equal(lifetimeOf(body, 'Tue, 01 Jan 2030 00:00:00 GMT', ''), 299_000);
    assert.equal(lifetimeOf(body, null, ''), -1);
    assert.equal(lifetimeOf({ access_expiration: 'soon' }, 'Tue, 01 Jan 2030 00:00:00 GMT', ''), -1);
  });
});

test('headerSafe: visible ASCII, 1 to 16384 characters', () => {
  assert.ok(headerSafe('eyJ.abc-_~+/='));
  assert.ok(headerSafe('x'.repeat(16_384)));
  for (const token of ['', 'x'.repeat(16_385), 'a b', 'a\tb', 'a\u0000b', 'caf\u00e9', '\u{1F600}', null, 5, {}]) {
    assert.equal(headerSafe(token), false, String(token).slice(0, 20));
  }
});

describe('invalidTokenChallenge', () => {
  const answer = (challenge) => ({ status: 401, headers: new Headers(challenge === null ? {} : { 'WWW-Authenticate': challenge }), url: '' });

  test("RFC 6750's invalid_token challenge, quoted or not, among parameters or challenges", () => {
    for (const challenge of [
      'Bearer error="invalid_token"',
      'Bearer realm="api", error="invalid_token", error_description="The access token expired"',
      'bearer error=invalid_token',
      'Basic realm="x", Bearer error="invalid_token"',
    ]) {
      assert.equal(invalidTokenChallenge(answer(challenge)), true, challenge);
    }
  });

  test('any other challenge, or none', () => {
    for (const challenge of [
      null,
      'Bearer realm="api"',
      'Bearer error="insufficient_scope"',
      'Bearer error="invalid_tokens"',
      'Bearer error_description="invalid_token"',
      'Basic error="invalid_token"',
    ]) {
      assert.equal(invalidTokenChallenge(answer(challenge)), false, String(challenge));
    }
  });
});
