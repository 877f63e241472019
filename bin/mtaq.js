#!/usr/bin/env node
// Entry for `npx mtaq` / `npm exec mtaq` in a checkout: runs the compiled CLI (npm run build first).
import('../apps/cli/dist/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('mtaq: not built yet — run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
});
