// TanStack Query on the app's one coordinator: every query's fetcher is
// `authFetch`, so queries that meet an expired access token wait behind the
// same single refresh as the Axios calls and the plain fetches, and are
// replayed with the rotated cookies. Nothing else is needed for it.

import { QueryClient } from '@tanstack/react-query';
import { isRefreshCoordinatorError } from 'refresh-coordinator';
import { authFetch } from './auth.js';

/** GET `url` through the coordinator; a non-2xx answer is an error for TanStack Query. */
export async function getJson(url, { signal } = {}) {
  const response = await authFetch(url, { signal });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return response.json();
}

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // The coordinator already retried the refresh; a session that ended
      // (or a refresh that stayed unavailable) is not retried per query.
      retry: (failures, error) => !isRefreshCoordinatorError(error) && failures < 3,
    },
  },
});
