/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The console is served at / beside the API (same origin): `make run` by the gateway
// (CONSOLE_DIST), Kubernetes by its own image behind the same ingress. `npm run dev` proxies
// /api to a running `make run` gateway.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8080",
      "/console/config.json": "http://127.0.0.1:8080",
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test/setup.ts"],
    css: false,
    // antd in jsdom is slow on a shared two-core machine; waits are bounded per query instead
    testTimeout: 60_000,
  },
});
