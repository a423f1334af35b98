// The app the bundle sizes are measured against (www/bench/sizes.mjs): it
// sends one request with the browser's fetch.
import { app } from './app.js';

app(fetch);
