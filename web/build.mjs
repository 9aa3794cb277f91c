// Bundles the page into OUT_DIR/app.js and OUT_DIR/app.css (one file each,
// minified, no source maps, nothing loaded from elsewhere at run time).
// usage: node build.mjs OUT_DIR
import * as esbuild from 'esbuild';

const out = process.argv[2];
if (!out) {
  console.error('usage: node build.mjs OUT_DIR');
  process.exit(2);
}
await esbuild.build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outdir: out,
  legalComments: 'none',
  logLevel: 'warning',
});
