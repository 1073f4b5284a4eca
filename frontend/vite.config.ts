import vue from "@vitejs/plugin-vue";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";

const BASE = "/assets/app/";
const SW_SOURCE = new URL("./src/grid/service-worker.js", import.meta.url);
// Served compressed when the browser accepts it (cityops.web.assets): text files over ~1 KB.
const COMPRESSIBLE = /\.(js|mjs|css|svg|json|webmanifest)$/;
const COMPRESSED = /\.(gz|br)$/;
const MIN_COMPRESS_BYTES = 1024;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

// A plugin that works on the build's output folder once the bundle is written.
function afterBuild(name: string, run: (outDir: string) => void): Plugin {
  let outDir = "";
  return {
    name,
    apply: "build",
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      run(outDir);
    },
  };
}

// The grid worker's offline app: after the build, write sw.js with the list of every built file
// (the app shell) and a version made from their contents, so a new build replaces the cache.
function writeServiceWorker(outDir: string): void {
  const files = filesUnder(outDir)
    .filter((path) => !path.endsWith(`${sep}sw.js`) && !COMPRESSED.test(path))
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
}

// Next to each compressible built file, its .gz (level 9) and .br (quality 11), made once here
// rather than on every request. sw.js is left out: /sw.js is served plain and never cached.
function compressAssets(outDir: string): void {
  for (const path of filesUnder(outDir)) {
    if (!COMPRESSIBLE.test(path) || path.endsWith(`${sep}sw.js`)) continue;
    const content = readFileSync(path);
    if (content.length < MIN_COMPRESS_BYTES) continue;
    writeFileSync(`${path}.gz`, gzipSync(content, { level: 9 }));
    const quality = { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY };
    writeFileSync(`${path}.br`, brotliCompressSync(content, { params: quality }));
  }
}

// MapLibre and ECharts (with its renderer, zrender) in chunks of their own, fetched only by the
// pages that draw a map or a chart. MapLibre's style sheet is not in the group: it is global
// (main.ts), and a group holding it would make the entry import MapLibre's code too.
const VENDOR_CHUNKS = [
  { name: "maplibre", test: /[\\/]node_modules[\\/]maplibre-gl[\\/].*\.m?js$/ },
  { name: "echarts", test: /[\\/]node_modules[\\/](echarts|zrender)[\\/]/ },
];

// The FastAPI app serves index.html at the page routes, sw.js at /sw.js and the assets under
// /assets/app/.
export default defineConfig({
  base: BASE,
  publicDir: "src/public",
  plugins: [
    vue(),
    afterBuild("cityops-service-worker", writeServiceWorker),
    afterBuild("cityops-compress-assets", compressAssets),
  ],
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: {
    outDir: "../src/cityops/web/static/app",
    emptyOutDir: true,
    // MapLibre alone is about 1.05 MB minified and cannot be split further.
    chunkSizeWarningLimit: 1100,
    rolldownOptions: { output: { codeSplitting: { groups: VENDOR_CHUNKS } } },
  },
  server: { proxy: { "/api": "http://127.0.0.1:8000" } },
});
