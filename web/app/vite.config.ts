// The app is configured at run time from /config.json (served by gatehouse's web listener), so the build holds
// no URL, id or secret. The edge's CSP allows only 'self' scripts and styles: no inline script or style here.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
});
