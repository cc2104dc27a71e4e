import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import tailwindcss from '@tailwindcss/vite';

// VITE_API_BASE and VITE_SOCKET_URL (read in src/config/env.js) are baked in at
// build time; both default to the page's own origin.
// Tests read and write times in a known zone; a test that needs another sets it.
if (process.env.VITEST) process.env.TZ = 'UTC';

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    // `npm run dev` against a local `vigie run` (VIGIE_DEV_BACKEND overrides).
    proxy: {
      '/api': process.env.VIGIE_DEV_BACKEND || 'http://127.0.0.1:8000',
      '/socket.io': { target: process.env.VIGIE_DEV_BACKEND || 'http://127.0.0.1:8000', ws: true },
    },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test-setup.js'],
    include: ['src/**/*.test.{js,jsx}'],
  },
});
