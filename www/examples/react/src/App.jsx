import { useCallback, useEffect, useState } from 'react';
import { useQueries, useQueryClient } from '@tanstack/react-query';
import { isRefreshCoordinatorError, isSessionExpiredError } from 'refresh-coordinator';
import { useSession } from 'refresh-coordinator/react';
import { api, authFetch, logIn, logOut } from './auth.js';
import { getJson } from './queries.js';

/** A session end shows as the login view; other errors are shown. */
function message(error) {
  const cause = isRefreshCoordinatorError(error) ? error : error?.cause;
  if (isSessionExpiredError(cause)) return null;
  return cause?.message || error?.message || String(error);
}

export function App() {
  const session = useSession(authFetch);
  const [user, setUser] = useState(null);
  // The route follows the session: a refused refresh ('ended') or a logout
  // ('logged-out') leads to the login view, from wherever the app was.
  const over = session.status === 'ended' || session.status === 'logged-out';
  const notice = session.status === 'ended' ? 'Your session expired. Please log in again.' : '';

  return (
    <main style={{ fontFamily: 'system-ui, sans-serif', maxWidth: 560, margin: '2rem auto' }}>
      <h1>refresh-coordinator</h1>
      <p>
        Session: <output data-testid="status">{session.status}</output>, credential generation{' '}
        <output data-testid="generation">{session.generation}</output>
      </p>
      {user && !over ? (
        // A logout the server did not confirm has still ended the session here.
        <Dashboard user={user} onLogOut={() => logOut().catch((error) => console.error(error))} />
      ) : (
        <Login notice={notice} onLogIn={setUser} />
      )}
    </main>
  );
}

function Login({ notice, onLogIn }) {
  const [error, setError] = useState('');
  async function submit(event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    try {
      onLogIn(await logIn(form.get('username'), form.get('password')));
    } catch (failure) {
      setError(failure.response?.data?.non_field_errors?.[0] || message(failure));
    }
  }
  return (
    <form data-testid="login" onSubmit={submit}>
      {notice && <p data-testid="notice">{notice}</p>}
      <label>
        User <input name="username" autoComplete="username" defaultValue="alice" />
      </label>{' '}
      <label>
        Password <input name="password" type="password" autoComplete="current-password" />
      </label>{' '}
      <button type="submit">Log in</button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}

const LIST = [1, 2, 3, 4, 5];
const TEN = Array.from({ length: 10 }, (_, i) => 101 + i);
const QUERIED = Array.from({ length: 10 }, (_, i) => 201 + i);

function Dashboard({ user, onLogOut }) {
  const [items, setItems] = useState(null);
  const [ten, setTen] = useState(null);
  const [error, setError] = useState('');

  // The list comes through Axios.
  const loadList = useCallback(async () => {
    setItems(null);
    try {
      const responses = await Promise.all(LIST.map((n) => api.get(`data/${n}/`)));
      setItems(responses.map((response) => response.data));
    } catch (failure) {
      setError(message(failure) ?? '');
    }
  }, []);
  useEffect(() => {
    loadList();
  }, [loadList]);

  // Ten requests at once through fetch: after the access token expired,
  // they cause one refresh between them.
  async function loadTen() {
    setTen(null);
    try {
      const answers = await Promise.all(
        TEN.map(async (n) => {
          const response = await authFetch(`/api/data/${n}/`);
          if (!response.ok) throw new Error(`GET /api/data/${n}/: ${response.status}`);
          return response.json();
        }),
      );
      setTen(answers);
    } catch (failure) {
      setError(message(failure) ?? '');
    }
  }

  return (
    <section data-testid="dashboard">
      <p>
        Logged in as <strong>{user.username}</strong> <button onClick={onLogOut}>Log out</button>
      </p>
      <h2>
        List (Axios) <button onClick={loadList}>Reload</button>
      </h2>
      {items ? (
        <ul data-testid="list">
          {items.map((item) => (
            <li key={item.n}>Item {item.n}</li>
          ))}
        </ul>
      ) : (
        <p>Loading…</p>
      )}
      <h2>
        Ten at once (fetch) <button onClick={loadTen}>Load ten</button>
      </h2>
      {ten && <p data-testid="ten">{ten.map((answer) => answer.n).join(', ')}</p>}
      <Queries />
      {error && <p role="alert">{error}</p>}
    </section>
  );
}

/** Ten TanStack queries whose fetcher is `authFetch` (see queries.js). */
function Queries() {
  const queryClient = useQueryClient();
  const results = useQueries({
    queries: QUERIED.map((n) => ({
      queryKey: ['data', n],
      queryFn: ({ signal }) => getJson(`/api/data/${n}/`, { signal }),
    })),
  });
  const failure = results.find((result) => result.error)?.error;
  const done = results.every((result) => result.isSuccess && !result.isFetching);
  return (
    <>
      <h2>
        Ten queries (TanStack Query){' '}
        <button onClick={() => queryClient.invalidateQueries({ queryKey: ['data'] })}>Refetch queries</button>
      </h2>
      {done ? (
        <p data-testid="queries">{results.map((result) => result.data.n).join(', ')}</p>
      ) : (
        <p>{failure ? '' : 'Fetching…'}</p>
      )}
      {failure && message(failure) && <p role="alert">{message(failure)}</p>}
    </>
  );
}
