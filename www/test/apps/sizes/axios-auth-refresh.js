// The Axios app with axios-auth-refresh, the peer interceptor.
import axios from 'axios';
import createAuthRefreshInterceptor from 'axios-auth-refresh';
import { app } from './app.js';

const client = axios.create();
createAuthRefreshInterceptor(client, () => client.post('/api/auth/token/refresh/', {}, { skipAuthRefresh: true }));
app((url) => client.get(url));
