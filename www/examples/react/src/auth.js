// The app's one coordinator. `authFetch` and the Axios instance `api` share
// it: whichever gets the first 401, every request waits behind the same
// single refresh, then goes again with the rotated cookies. Components read
// the session with `useSession(authFetch)` (see App.jsx).

import axios from 'axios';
import { createAuthFetch } from 'refresh-coordinator';
import { attachAxios } from 'refresh-coordinator/axios';

// dj-rest-auth's cookie endpoints: the defaults, spelled out.
export const authFetch = createAuthFetch({
  refreshUrl: '/api/auth/token/refresh/',
  loginUrl: '/api/auth/login/',
  logoutUrl: '/api/auth/logout/',
});

export const api = axios.create({ baseURL: '/api/' });
attachAxios(api, authFetch);

/** A 2xx from the login URL through the coordinator starts a new session. */
export async function logIn(username, password) {
  const { data } = await api.post('auth/login/', { username, password });
  return data.user;
}

/** Ends the session at once; the server deletes the cookies. */
export function logOut() {
  return authFetch.logout();
}
