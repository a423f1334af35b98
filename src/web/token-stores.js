// Token stores for bearer mode. The default (no `tokenStore` option) keeps
// the tokens in the coordinator's memory: one tab's, gone on reload. This
// one keeps them in `localStorage`, shared by every tab of the origin, and
// says so (`shared: true`), so tabs share one refresh flight.

/**
 * A token store over `localStorage[key]`, shared between tabs.
 *
 * Anything that runs on the page can read `localStorage`: use it only where
 * that is acceptable for your tokens (cookie mode keeps them out of reach of
 * scripts altogether).
 *
 * @param {{key?: string}} [options] the storage key. Defaults to
 *   `'refresh-coordinator:tokens'`.
 */
export function localStorageTokenStore({ key = 'refresh-coordinator:tokens' } = {}) {
  if (typeof key !== 'string' || key === '') {
    throw new TypeError('refresh-coordinator: localStorageTokenStore({key}) needs a non-empty string key');
  }
  return {
    shared: true,
    scope: key,
    get() {
      const text = globalThis.localStorage.getItem(key);
      return text === null ? null : JSON.parse(text);
    },
    set(tokens) {
      if (tokens) globalThis.localStorage.setItem(key, JSON.stringify(tokens));
      else globalThis.localStorage.removeItem(key);
    },
  };
}
