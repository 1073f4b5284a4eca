import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

// The FastAPI app serves index.html at /, /login, /screen and the assets under /assets/app/.
export default defineConfig({
  base: "/assets/app/",
  plugins: [vue()],
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: {
    outDir: "../src/cityops/web/static/app",
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
  server: { proxy: { "/api": "http://127.0.0.1:8000" } },
});
