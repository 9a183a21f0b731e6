import { defineConfig } from "vite";

// The widget manager of sandboxed output frames: one classic script (a module script would be
// fetched with CORS from the frame's opaque origin), loaded only by frames that show a widget.
export default defineConfig({
  build: {
    outDir: "../src/dikte/static/assets",
    emptyOutDir: false,
    sourcemap: false,
    lib: {
      entry: "src/widgets/frame.ts",
      formats: ["iife"],
      name: "dikteWidgets",
      fileName: () => "widget-manager.js",
    },
    chunkSizeWarningLimit: 2000,
  },
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
});
