// The app's one coordinator. `authFetch` and the Axios instance `api` share
// it: whichever gets the first 401, every request waits behind the same
// single refresh, then goes again with the rotated cookies.

import axios from 'axios';
import { createAuthFetch } from 'refresh-coordinator';
import { attachAxios } from 'refresh-coordinator/axios';

const sessionListeners = new Set();
const eventListeners = new Set();

export const authFetch = createAuthFetch({
  // dj-rest-auth's cookie endpoints (the defaults, spelled out).
  refreshUrl: '/api/auth/token/refresh/',
  loginUrl: '/api/auth/login/',
  onSessionExpired: (error) => sessionListeners.forEach((listener) => listener(error)),
  onEvent: (event) => eventListeners.forEach((listener) => listener(event)),
});

export const api = axios.create({ baseURL: '/api/' });
attachAxios(api, authFetch);

/** Calls `listener` when the refresh is refused; returns the unsubscribe. */
export function onSessionExpired(listener) {
  sessionListeners.add(listener);
  return () => sessionListeners.delete(listener);
}

/** Calls `listener` with every coordinator event; returns the unsubscribe. */
export function onAuthEvent(listener) {
  eventListeners.add(listener);
  return () => eventListeners.delete(listener);
}

/** A 2xx from the login URL through the coordinator starts a new session. */
export async function logIn(username, password) {
  const { data } = await api.post('auth/login/', { username, password });
  return data.user;
}

export async function logOut() {
  await api.post('auth/logout/', null, { skipAuthRefresh: true }).catch(() => {});
}
