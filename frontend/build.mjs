// Bundles the browser app's TypeScript and styles into stratus/web/static/web/build/ (not committed).
// `node build.mjs` builds once, minified; `node build.mjs --watch` rebuilds on change.
import { build, context } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, "../stratus/web/static/web/build");
const watch = process.argv.includes("--watch");

const options = {
  absWorkingDir: here,
  entryPoints: { app: "src/app.ts", styles: "src/styles.css" },
  outdir,
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  legalComments: "linked",
  metafile: true,
  logLevel: "info",
};

// The dashboard's charts (Chart.js) are a bundle of their own, which app.js imports only on the
// dashboard page (from the URL the page gives), so other pages load none of it.
const dashboard = { ...options, entryPoints: { dashboard: "src/dashboard.ts" } };

if (watch) {
  for (const config of [options, dashboard]) {
    const ctx = await context(config);
    await ctx.watch();
  }
} else {
  for (const config of [options, dashboard]) {
    const result = await build(config);
    for (const [file, info] of Object.entries(result.metafile.outputs)) {
      console.log(`${path.relative(here, file)} ${info.bytes} bytes`);
    }
  }
}
