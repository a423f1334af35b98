// refresh-coordinator/axios: Axios 1.x requests through the coordinator.
//
// `attachAxios(instance, authFetchOrOptions)` switches the instance to
// Axios's own fetch adapter and hands that adapter the coordinator as its
// `fetch` (the adapter's `env.fetch`, Axios 1.12 and later). So everything
// Axios does happens once per call, before the coordinator sees the request:
// interceptors, `transformRequest`, headers, the body encoding. Waiting
// behind a refresh and the replay with the new credential happen inside the
// coordinator, on the `Request` Axios built, whose body it keeps for the
// replay (JSON, FormData, Blob, strings, URLSearchParams, ArrayBuffers).
// The adapter then reads the final answer, so `validateStatus`,
// `responseType`, `signal` and `timeout` (which covers the wait) keep their
// meaning; a rejection from the coordinator reaches the caller as an
// `AxiosError` whose `cause` is the typed error.

import { AxiosError, VERSION, getAdapter } from 'axios';
import { createAuthFetch, isRefreshCoordinatorError } from './index.js';

// Deliberately exported: `attachAxios` only. The coordinator, the options
// and the errors come from the package's main entry.

const AUTH_FETCH = Symbol.for('refresh-coordinator.authFetch');

/** The attachment of each instance, so attaching again replaces it. */
const attachments = new WeakMap();

/**
 * Sends `instance`'s requests through a coordinator.
 *
 * @param {import('axios').AxiosInstance} instance
 * @param {import('./axios.js').AuthFetch | import('./axios.js').AuthFetchOptions} [authFetchOrOptions]
 *   An `authFetch` to share its coordinator (with `fetch` calls and other
 *   Axios instances), or options for a new one.
 * @returns {import('./axios.js').AxiosAttachment}
 */
export function attachAxios(instance, authFetchOrOptions) {
  if (
    (typeof instance !== 'function' && typeof instance !== 'object') ||
    instance === null ||
    typeof instance.request !== 'function' ||
    typeof instance.defaults !== 'object'
  ) {
    throw new TypeError('refresh-coordinator: attachAxios(instance) needs an Axios instance');
  }
  // Before 1.12 the fetch adapter ignores `env.fetch` and would send past
  // the coordinator without a word.
  const [major, minor] = String(VERSION).split('.').map(Number);
  if (!(major === 1 && minor >= 12)) {
    throw new TypeError(`refresh-coordinator: attachAxios needs Axios 1.12 or later 1.x, not ${VERSION}`);
  }
  let authFetch = authFetchOrOptions;
  if (typeof authFetch === 'function') {
    if (authFetch[AUTH_FETCH] !== true) {
      throw new TypeError(
        'refresh-coordinator: attachAxios(instance, authFetch) takes a function made by ' +
          'createAuthFetch, or the options for a new one',
      );
    }
  } else {
    authFetch = createAuthFetch(authFetchOrOptions);
  }
  attachments.get(instance)?.detach();

  // One function for the whole attachment: Axios keeps one fetch adapter per
  // `env.fetch` it is given, forever. What differs per request travels in
  // the second argument, the request's `fetchOptions`.
  const coordinatedFetch = (request, fetchOptions) => authFetch(request, fetchOptions ?? undefined);

  const adapter = (config) => {
    if (config.skipAuthRefresh === true) {
      config.fetchOptions = { ...config.fetchOptions, skipAuthRefresh: true };
    }
    config.env = { ...config.env, fetch: coordinatedFetch };
    let send;
    try {
      send = getAdapter('fetch', config);
    } catch (error) {
      return Promise.reject(error);
    }
    return send(config).catch((error) => {
      throw asAxiosError(error, config);
    });
  };

  const { defaults } = instance;
  const had = Object.prototype.hasOwnProperty.call(defaults, 'adapter');
  const previous = defaults.adapter;
  defaults.adapter = adapter;

  const attachment = {
    authFetch,
    detach() {
      if (attachments.get(instance) !== attachment) return;
      attachments.delete(instance);
      // Someone who set another adapter since then keeps it.
      if (defaults.adapter !== adapter) return;
      if (had) defaults.adapter = previous;
      else delete defaults.adapter;
    },
  };
  attachments.set(instance, attachment);
  return attachment;
}

/**
 * The fetch adapter already wraps what `fetch` rejects with into an
 * AxiosError with the original as `cause`; this keeps that promise for a
 * coordinator error whatever path it took.
 */
function asAxiosError(error, config) {
  if (isRefreshCoordinatorError(error)) {
    return AxiosError.from(error, error.code, config, error.request);
  }
  return error;
}
