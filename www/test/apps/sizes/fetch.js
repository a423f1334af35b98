// The base app with refresh-coordinator's fetch wrapper.
import { createAuthFetch } from 'refresh-coordinator';
import { app } from './app.js';

app(createAuthFetch());
