import { fileURLToPath } from "node:url"
import preact from "@preact/preset-vite"
import { defineConfig } from "vite"

// The server serves dist/ui at /ui/ under `default-src 'self'`: no inline script or style, so no module preload
// polyfill (Vite inlines nothing else) and every asset is a file.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/ui/",
  plugins: [preact()],
  logLevel: "warn",
  // `vite --config ui/vite.config.ts` serves the app with hot reload; the API stays with a running
  // `model-registry serve` (MODEL_REGISTRY_URL, default its own default address), on the page's origin as in production.
  server: {
    proxy: {
      "^/(?!ui/|ui$|@|src/|node_modules/)": {
        target: process.env.MODEL_REGISTRY_URL ?? "http://127.0.0.1:8080",
        changeOrigin: true,
        // The server refuses a write from a foreign origin (the dev server's): to it, this is its own page.
        configure: (proxy) => proxy.on("proxyReq", (request) => request.removeHeader("origin")),
      },
    },
  },
  build: {
    outDir: fileURLToPath(new URL("../dist/ui", import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
  },
})
