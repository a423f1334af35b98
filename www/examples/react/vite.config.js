// Nothing here is for refresh-coordinator: it needs no plugin. The proxy
// lets `npm run dev` talk to a backend on another port as if it were the
// same origin, which cookie mode needs: BACKEND_URL=http://127.0.0.1:8000.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const backend = process.env.BACKEND_URL;

export default defineConfig({
  plugins: [react()],
  server: backend ? { proxy: { '/api': backend } } : {},
});
