// Vite build of the HAMi web UI. Output goes to ui/dist/ with fixed names (index.html,
// assets/app.js, assets/app.css) so the committed files and the arrays CMake embeds from them
// (cmake/embed_assets.cmake) only change when the code does. base './' keeps every URL relative:
// the page works under any sub-path a proxy mounts it at.
import { defineConfig } from "vite";
import { mockApi } from "./mock/plugin.ts";

export default defineConfig({
  base: "./",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  plugins: [mockApi()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    modulePreload: false,
    sourcemap: false,
    cssCodeSplit: false,
    target: "es2020",
    rolldownOptions: {
      output: {
        entryFileNames: "assets/app.js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: (info) =>
          info.names.some((n) => n.endsWith(".css")) ? "assets/app.css" : "assets/[name][extname]",
      },
    },
  },
});
