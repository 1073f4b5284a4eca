import vue from "@vitejs/plugin-vue";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { defineConfig, type Plugin } from "vite";

const BASE = "/assets/app/";
const SW_SOURCE = new URL("./src/grid/service-worker.js", import.meta.url);

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

// The grid worker's offline app: after the build, write sw.js with the list of every built file
// (the app shell) and a version made from their contents, so a new build replaces the cache.
function serviceWorker(): Plugin {
  let outDir = "";
  return {
    name: "cityops-service-worker",
    apply: "build",
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      const files = filesUnder(outDir)
        .filter((path) => !path.endsWith(`${sep}sw.js`))
        .sort();
      const hash = createHash("sha256");
      for (const path of files) hash.update(relative(outDir, path)).update(readFileSync(path));
      const template = readFileSync(SW_SOURCE, "utf8");
      hash.update(template);
      const urls = files.map((path) => BASE + relative(outDir, path).split(sep).join("/"));
      const header =
        `const VERSION = ${JSON.stringify(hash.digest("hex").slice(0, 16))};\n` +
        `const PRECACHE = ${JSON.stringify(urls, null, 1)};\n`;
      writeFileSync(join(outDir, "sw.js"), header + template);
    },
  };
}

// The FastAPI app serves index.html at the page routes, sw.js at /sw.js and the assets under
// /assets/app/.
export default defineConfig({
  base: BASE,
  publicDir: "src/public",
  plugins: [vue(), serviceWorker()],
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
