// Bundles what is started as a process into one file each: the CNI plugin's Node side
// (dist/cni/plugin.mjs) and the CLI (dist/cli/main.js, replaced in place). Resolving and loading a
// few hundred modules one by one costs more than most commands' work: the CLI started in about
// twice the time (`nftbridge --version`), and engines start the plugin for every ADD and DEL
// (bench: the "cni" rows). The library (dist/index.js) stays a module tree for importers.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const dist = (path) => new URL(`../dist/${path}`, import.meta.url).pathname;
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // fs-ext is a native addon; x11 is an optional require of the D-Bus library that is never taken.
  external: ['fs-ext', 'x11'],
  banner: { js: "import { createRequire as __nftbridgeRequire } from 'node:module'; const require = __nftbridgeRequire(import.meta.url);" },
  logLevel: 'warning',
};

await build({ ...common, entryPoints: [dist('cni/main.js')], outfile: dist('cni/plugin.mjs'), minify: true });
// Readable, with a source map back to the TypeScript (esbuild follows the modules' own maps).
// Only what tsc just wrote: a second run without tsc would bundle the bundle (and its banner twice).
const cli = dist('cli/main.js');
if (!readFileSync(cli, 'utf8').slice(0, 300).includes('__nftbridgeRequire'))
  await build({ ...common, entryPoints: [cli], outfile: cli, allowOverwrite: true, sourcemap: true });
// The modules only the CLI imported are now inside it; their maps and declarations stay for the library's sake.
rmSync(dist('cli/main.d.ts'), { force: true });
