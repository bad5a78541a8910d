// The portal's build: static files in dist/, served by the hub at / (hub/portal.py), nothing from another host.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // the hub's Content-Security-Policy has no 'unsafe-inline': every script and style is a file
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: true,
    rollupOptions: {
      input: {
        index: 'index.html',
      },
    },
  },
});
