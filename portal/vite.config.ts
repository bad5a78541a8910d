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
    // GraphiQL's editor (Monaco) is big and loaded only by GET /graphql in a browser, never by the portal's pages
    chunkSizeWarningLimit: 3000,
    reportCompressedSize: true,
    rollupOptions: {
      // React libraries' "use client" directives mean nothing in a plain browser bundle
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
      input: {
        index: 'index.html',
        graphiql: 'graphiql.html',
      },
    },
  },
});
