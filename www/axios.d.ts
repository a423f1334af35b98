// Types of `refresh-coordinator/axios`.

import type { AxiosInstance } from 'axios';
import type { AuthFetch, AuthFetchOptions } from './index.js';

export type { AuthFetch, AuthFetchOptions } from './index.js';

/** What `attachAxios` returns. */
export interface AxiosAttachment {
  /** The coordinator's `fetch` wrapper: the one passed in, or the one created from the options. */
  readonly authFetch: AuthFetch;
  /** Gives the instance its previous adapter back. Calling it again does nothing. */
  detach(): void;
}

/**
 * Sends `instance`'s requests through a coordinator, by way of Axios's fetch
 * adapter (Axios 1.12 or later). Pass an `authFetch` to share its
 * coordinator with `fetch` calls and other instances (one refresh flight for
 * all), or options to create a new one. Attaching an instance again replaces
 * its previous attachment. A request that names its own `adapter` bypasses
 * the coordinator.
 */
export function attachAxios(
  instance: AxiosInstance,
  authFetchOrOptions?: AuthFetch | AuthFetchOptions,
): AxiosAttachment;

declare module 'axios' {
  interface AxiosRequestConfig {
    /**
     * Send this request without refresh handling: a 401 comes back as an
     * error with the response, as without the coordinator. Defaults to `false`.
     */
    skipAuthRefresh?: boolean;
  }
}
