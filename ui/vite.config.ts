import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  // Tauri's dev window loads this port (src-tauri/tauri.conf.json, devUrl).
  server: { port: 5173, strictPort: true },
  clearScreen: false,
  build: {
    // WebKitGTK 2.50 on Linux.
    target: 'safari15',
    outDir: 'dist',
    emptyOutDir: true,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
  },
});
