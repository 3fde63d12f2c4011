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

if (watch) {
  const ctx = await context(options);
  await ctx.watch();
} else {
  const result = await build(options);
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    console.log(`${path.relative(here, file)} ${info.bytes} bytes`);
  }
}
