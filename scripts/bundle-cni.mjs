// Bundles the CNI plugin's Node side into one minified file (dist/cni/plugin.mjs). Engines start
// the plugin for every ADD and DEL, and resolving and loading a few hundred modules one by one
// costs more than the work itself (bench: the "cni" rows); the launcher runs the bundle.
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../dist/cni/main.js', import.meta.url).pathname],
  outfile: new URL('../dist/cni/plugin.mjs', import.meta.url).pathname,
  bundle: true,
  minify: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // fs-ext is a native addon; x11 is an optional require of the D-Bus library that is never taken.
  external: ['fs-ext', 'x11'],
  banner: { js: "import { createRequire as __nftbridgeRequire } from 'node:module'; const require = __nftbridgeRequire(import.meta.url);" },
  logLevel: 'warning',
});
