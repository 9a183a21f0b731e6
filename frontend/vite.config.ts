import { defineConfig } from "vite";

// The build lands in the Python package, which serves it at the root URL.
export default defineConfig({
  root: ".",
  base: "/",
  build: {
    outDir: "../src/dikte/static",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
});
