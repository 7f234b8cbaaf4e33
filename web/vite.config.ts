import { defineConfig } from "vitest/config";

// Preact's automatic JSX runtime; no plugin needed for a production build.
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    // one small bundle: the console is one page, and every view is needed within seconds
    cssCodeSplit: false,
  },
  server: {
    // `npm run dev` against a running calamari-server
    proxy: { "/api": "http://127.0.0.1:8002" },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
